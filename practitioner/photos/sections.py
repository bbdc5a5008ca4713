"""What photo capture adds to lower features' pages (signal `record_sections`).

On a consultation's, a session's and a plan's page: a "Photos" section with each set's state against the
protocol (complete, or which views are missing) and "Take photos". On a patient's page: the photo
consent (clinical photography, marketing use) as it stands, the withdrawals, dated, and the review
visits with "Record a review visit". The photo timeline on the patient's page is a separate section
(timeline_section.py).
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from markupsafe import Markup

from practitioner.auth.models import Permission
from practitioner.consultations.models import Consultation
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.photos import capture, consent
from practitioner.photos.models import CONSENT_SCOPE_LABELS, MOMENT_LABELS
from practitioner.photos.urls import capture_url, thumbnail_url
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import TreatmentSession


def _clinical() -> bool:
    return bool(current_user.is_authenticated and current_user.can(Permission.VIEW_CLINICAL))


def _visit_rows(visits: list[capture.Visit]) -> list[dict[str, object]]:
    rows = []
    for visit, sets in zip(visits, capture.sets_of(db.session, visits)):
        rows.append({"visit": visit, "kind": capture.visit_kind(visit), "sets": sets, "closed": capture.is_closed(visit),
                     "urls": {s.moment: capture_url(visit, s.moment if len(sets) > 1 else None) for s in sets}})
    return rows


def visit_photos(record: object, **_: object) -> Markup | None:
    """On a consultation's or a session's page: its photo sets, their state, and "Take photos"."""
    if not isinstance(record, (Consultation, TreatmentSession)) or not _clinical():
        return None
    return Markup(render_template("photos/_for_visit.html", rows=_visit_rows([record]), heading="Photos",  # nosec B704  # the output of an autoescaped template, not typed text
                                  thumbnail_url=thumbnail_url, photo_label=capture.photo_label, moment_labels=MOMENT_LABELS))


def plan_photos(record: object, **_: object) -> Markup | None:
    """On a plan's page: each session's photo sets and the plan's review visits."""
    if not isinstance(record, TreatmentPlan) or not _clinical():
        return None
    sessions = sorted(getattr(record, "treatment_sessions", ()), key=lambda s: s.sequence)
    reviews = [v for v in capture.review_visits_of(db.session, record.patient_id) if v.plan_id == record.id]
    return Markup(render_template("photos/_for_plan.html", plan=record, rows=_visit_rows([*sessions, *reversed(reviews)])))  # nosec B704  # the output of an autoescaped template, not typed text


def patient_photo_consent(record: object, **_: object) -> Markup | None:
    """On a patient's page: photo consent as it stands, the withdrawals, the review visits."""
    if not isinstance(record, Patient) or not _clinical():
        return None
    found = consent.overview(db.session, record.id)
    reviews = capture.review_visits_of(db.session, record.id)
    return Markup(render_template("photos/_for_patient.html", patient=record, clinical=found.clinical, marketing=found.marketing,  # nosec B704  # the output of an autoescaped template, not typed text
                                  withdrawals=found.withdrawals, rows=_visit_rows(reviews),
                                  consultation_public_id=found.consultation_public_id, scope_labels=CONSENT_SCOPE_LABELS))
