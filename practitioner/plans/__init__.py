"""Treatment plans: the course made from a consultation, zone by zone."""

from flask import Blueprint

bp = Blueprint("plans", __name__)

from practitioner import signals  # noqa: E402
from practitioner.plans import sections, timeline, views  # noqa: E402,F401  (routes register on import)

signals.patient_timeline.connect(timeline.timeline_entries, weak=False)
signals.record_sections.connect(sections.consultation_plans, weak=False)
