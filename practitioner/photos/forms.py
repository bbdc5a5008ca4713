"""Photo forms: taking a visit's photos (one file input per view still missing), a review visit, a withdrawal of consent."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from practitioner.clinical.screening import TREATMENT_AREA_LABELS, TREATMENT_AREAS
from practitioner.forms import Form, MultiCheckboxField, choices
from practitioner.photos.limits import REVIEW_VISITS_PER_PLAN
from practitioner.photos.models import CAPTURE_CHECK_LABELS, CAPTURE_CHECKS, CONSENT_SCOPE_LABELS, VIEW_LABELS
from practitioner.validators import NoControlCharacters, PastDate, strip_filter

# What the tablet's browser offers: the camera (the back one) or the photo library; a clinic camera's files too.
ACCEPT = "image/*,.heic,.heif"


class CaptureForm(Form):
    """A visit's capture form; its file inputs are made per set of open slots by `capture_form_class`."""

    slot_fields: tuple[tuple[str, str], ...] = ()  # (field name, slot key), in the page's order
    moment = HiddenField()

    def files(self) -> list[tuple[str, Any]]:
        """(slot key, uploaded file) for each input that holds a file."""
        return [(key, self[name].data) for name, key in self.slot_fields
                if self[name].data is not None and getattr(self[name].data, "filename", "")]

    def validate(self, extra_validators: Any = None) -> bool:
        """At least one photo chosen; the ticks are recorded as they are."""
        valid = super().validate(extra_validators)
        if self.slot_fields and not self.files():
            first = self[self.slot_fields[0][0]]
            first.errors = [*first.errors, "Take or choose at least one photo."]
            return False
        return valid


@lru_cache(maxsize=64)
def capture_form_class(slots: tuple[tuple[str, str, bool], ...]) -> type[CaptureForm]:
    """A CaptureForm with one file input per (slot key, label, required by the protocol), then the capture checks."""
    fields: dict[str, Any] = {"slot_fields": tuple((f"photo-{key}", key) for key, _, _ in slots)}
    for key, label, required in slots:
        fields[f"photo-{key}"] = FileField(label, render_kw={"accept": ACCEPT, "capture": "environment"},
                                           description=None if required else "Optional: not part of the protocol's set.")
    for name in CAPTURE_CHECKS:
        fields[name] = BooleanField(CAPTURE_CHECK_LABELS[name])
    return type("CaptureFormFor", (CaptureForm,), fields)


class ReviewVisitForm(Form):
    """A review visit: its date, the plan it reviews (optional), a note."""

    visit_date = DateField("Date of the visit", validators=[InputRequired("Enter the date of the visit."),
                                                            PastDate(message="A review visit is recorded on the day or after it.")])
    plan = SelectField("Treatment plan it reviews", choices=[], validate_choice=True,
                       description=f"Optional. The plan's areas set which views the photos take. A plan may have up to "
                                   f"{REVIEW_VISITS_PER_PLAN} review visits (so its record prints in time): each plan's choice "
                                   "says how many are left. Review visits without a plan have no such limit.")
    notes = TextAreaField("Note", filters=[strip_filter], validators=[Optional(), Length(max=2000), NoControlCharacters(multiline=True)])

    def set_plans(self, plans: list[tuple[str, str]], no_plan: str = "No plan") -> None:
        """The patient's plans, as (public id, label), after 'No plan' (labelled `no_plan`)."""
        self.plan.choices = choices([("", no_plan), *plans])


class WithdrawalForm(Form):
    """The patient withdraws one scope of photo consent; the practitioner records it with the patient's reason."""

    scope = RadioField("Which consent the patient withdraws", choices=choices(CONSENT_SCOPE_LABELS.items()),
                       validators=[DataRequired("Choose which consent the patient withdraws.")],
                       invalid_choice_message="Choose clinical photography or marketing use.")
    reason = TextAreaField("Reason, as the patient gave it", filters=[strip_filter],
                           validators=[DataRequired("Write the reason the patient gave (or that they gave none)."),
                                       Length(max=1000), NoControlCharacters(multiline=True)])


class ActionForm(Form):
    """A button's form: the CSRF token and nothing else (mark, unmark, export)."""


class ProtocolForm(Form):
    """The clinic's photo protocol: the views a complete set holds, per treatment area; fields made by `protocol_form_class`."""

    area_fields: tuple[tuple[str, str], ...] = ()  # (field name, area code), in the areas' order


@lru_cache(maxsize=1)
def protocol_form_class() -> type[ProtocolForm]:
    """A ProtocolForm with a group of view ticks per treatment area (at least one view each)."""
    fields: dict[str, Any] = {"area_fields": tuple((f"area_{area}", area) for area in TREATMENT_AREAS)}
    for area in TREATMENT_AREAS:
        fields[f"area_{area}"] = MultiCheckboxField(
            TREATMENT_AREA_LABELS[area], choices=choices(VIEW_LABELS.items()),
            validators=[DataRequired(f"Tick at least one view for {TREATMENT_AREA_LABELS[area].lower()}.")])
    return type("ProtocolFormForAreas", (ProtocolForm,), fields)
