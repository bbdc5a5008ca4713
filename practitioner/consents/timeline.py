"""What consents add to the patient's timeline."""

from __future__ import annotations

from functools import cache

from flask import url_for
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, lazyload

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.consents.models import Consent
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.per_request import remembered


def timeline_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Signed consents with their version and photo choices (clinical viewers only)."""
    if not clinical:
        return []
    entries: list[TimelineEntry] = []
    for consent in patient_consents(session, patient.id):
        entries.append(TimelineEntry(
            when=consent.signed_at, kind="consent", title=f"Consent signed: {MODALITY_LABELS[consent.modality].lower()}",
            url=url_for("consents.detail", public_id=consent.public_id),
            badge=f"Version {consent.content_version}",
            details=(f"Photos: clinical {'yes' if consent.photo_clinical else 'no'}, marketing {'yes' if consent.photo_marketing else 'no'}",),
        ))
    return entries


def patient_consents(session: Session, patient_id: int) -> list[Consent]:
    """The patient's signed consents (their columns only), read once per page: the timeline lists them, photos read the latest."""
    return remembered(("patient_consents", patient_id), lambda: list(session.scalars(_consents(), {"patient_id": patient_id})))


@cache
def _consents() -> Select[tuple[Consent]]:
    # Built once per process: every patient page runs it.
    return select(Consent).where(Consent.patient_id == bindparam("patient_id")).options(lazyload("*"))
