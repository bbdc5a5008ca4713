"""Treatment sessions: the per-visit record, signed and locked, with addenda and lot recall."""

from flask import Blueprint

bp = Blueprint("treatments", __name__)

from practitioner import signals  # noqa: E402
from practitioner.treatments import sections, timeline, views  # noqa: E402,F401  (routes register on import)

signals.patient_timeline.connect(timeline.session_entries, weak=False)
signals.record_sections.connect(sections.plan_sessions, weak=False)
