"""Clinical photography: standard views per visit, consent-scoped, compared side by side (docs/photography.md)."""

from flask import Blueprint

bp = Blueprint("photos", __name__)

from practitioner.photos import views  # noqa: E402,F401  (routes register on import)
from practitioner.photos import views_images  # noqa: E402,F401  (the image and thumbnail routes, the upload limit)
from practitioner import signals  # noqa: E402
from practitioner.photos import timeline_section, views_compare  # noqa: E402,F401  (comparison and timeline routes)

signals.record_sections.connect(timeline_section.patient_photo_timeline, weak=False)

from practitioner.photos import sections, views_capture, views_marketing  # noqa: E402,F401  (capture, review visits, consent, marketing)

signals.record_sections.connect(sections.visit_photos, weak=False)
signals.record_sections.connect(sections.plan_photos, weak=False)
signals.record_sections.connect(sections.patient_photo_consent, weak=False)
