"""What consents add to a lower feature's page: a consultation's signed consents (signal `record_sections`)."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from practitioner.consultations.models import Consultation


def consultation_consents(record: object, **_: object) -> Markup | None:
    """On a consultation's page: its signed consents and the button to record one."""
    if not isinstance(record, Consultation):
        return None
    return Markup(render_template("consents/_for_consultation.html", consultation=record, consents=list(record.consents)))  # nosec B704  # the output of an autoescaped template, not typed text
