"""Consultations: the assessment, screening, its result and overrides."""

from flask import Blueprint

bp = Blueprint("consultations", __name__)

from practitioner import signals  # noqa: E402
from practitioner.consultations import timeline, views  # noqa: E402,F401  (routes register on import)
from practitioner.consultations import views_from_intake  # noqa: E402,F401  (the consultation started from a patient's intake)

signals.patient_timeline.connect(timeline.timeline_entries, weak=False)
