"""What plans add to a lower feature's page: a consultation's treatment plans (signal `record_sections`)."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from practitioner.consultations.models import Consultation


def consultation_plans(record: object, **_: object) -> Markup | None:
    """On a consultation's page: its treatment plans and the button to make one."""
    if not isinstance(record, Consultation):
        return None
    return Markup(render_template("plans/_for_consultation.html", consultation=record, plans=list(record.plans)))  # nosec B704  # the output of an autoescaped template, not typed text
