"""What the photo timeline adds to the patient's page (signal `record_sections`): a row per view, the latest photos."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from markupsafe import Markup

from practitioner.auth.models import Permission
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.photos import compare, timeline
from practitioner.photos.views_compare import PhotoLinks, record_shown


def patient_photo_timeline(record: object, **_: object) -> Markup | None:
    """On a patient's page, for practitioners: each view's first and latest photos, linking to the comparison."""
    if not isinstance(record, Patient) or not current_user.can(Permission.VIEW_CLINICAL):
        return None
    cards = compare.patient_photos(db.session, record.id, parameters=False)  # the summary prints no depths
    rows = timeline.rows(cards, per_view=timeline.SUMMARY_PER_VIEW)
    named = record_shown(record, "photo.timeline_view", [card for row in rows for card in row.photos]) if cards else frozenset()
    return Markup(render_template("photos/_patient_timeline.html", patient=record, rows=rows, total=len(cards),  # nosec B704  # the output of an autoescaped template, not typed text
                                  links=PhotoLinks(record, named)))
