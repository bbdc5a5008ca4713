"""What treatments add to a lower feature's page: a plan's sessions (signal `record_sections`)."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from practitioner.plans.models import TreatmentPlan


def plan_sessions(record: object, **_: object) -> Markup | None:
    """On a plan's page: its sessions and the button to start the next one."""
    if not isinstance(record, TreatmentPlan):
        return None
    return Markup(render_template("treatments/_plan_sessions.html", plan=record))  # nosec B704  # the output of an autoescaped template, not typed text
