"""Consent: signed on the screen against a consultation, kept exactly as signed."""

from flask import Blueprint

bp = Blueprint("consents", __name__)

from practitioner import signals  # noqa: E402
from practitioner.consents import sections, timeline, views  # noqa: E402,F401  (routes register on import)

signals.patient_timeline.connect(timeline.timeline_entries, weak=False)
signals.record_sections.connect(sections.consultation_consents, weak=False)
