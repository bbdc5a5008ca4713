"""Patient intake: the patient answers the health questions on the clinic's tablet or by a one-time link (docs/intake.md)."""

from flask import Blueprint

bp = Blueprint("intake", __name__)

from practitioner import signals  # noqa: E402
from practitioner.intake import sections, views_staff  # noqa: E402,F401  (the staff side: start, link, withdraw, the signed intake)

signals.record_sections.connect(sections.patient_intake, weak=False)

from practitioner.intake import timeline  # noqa: E402  (Intake submitted / reviewed on the patient's timeline)

signals.patient_timeline.connect(timeline.timeline_entries, weak=False)

from practitioner.intake import tablet, views_patient  # noqa: E402,F401  (the patient's pages and the tablet lock)
