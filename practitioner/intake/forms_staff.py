"""The staff side's forms: the details a patient typed, accepted into the record field by field."""

from __future__ import annotations

from practitioner.forms import Form, MultiCheckboxField


class AcceptDetailsForm(Form):
    """Tick each detail the patient typed that should replace the one on record; nothing unticked is written."""

    accept = MultiCheckboxField("Details to copy into the record", choices=[], validate_choice=True)
