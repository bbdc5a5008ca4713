"""What plans add to the patient's timeline."""

from __future__ import annotations

from functools import cache

from flask import url_for
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, lazyload, selectinload

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.plans.models import TreatmentPlan


def timeline_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Plans with their progress (clinical viewers only)."""
    if not clinical:
        return []
    entries: list[TimelineEntry] = []
    for plan in session.scalars(_plans(), {"patient_id": patient.id}):
        entries.append(TimelineEntry(
            when=plan.created_at, kind="plan",
            title=f"Treatment plan: {plan.sessions_planned} sessions of {MODALITY_LABELS[plan.modality].lower()}, every {plan.interval_weeks} weeks",
            url=url_for("plans.detail", public_id=plan.public_id),
            badge=f"{plan.sessions_done} of {plan.sessions_planned} done", details=(f"First session {plan.first_session_on:%-d %b %Y}",),
        ))
    return entries


# Only what the entry prints is loaded: the plan's default eager loads (its consultation and that
# consultation's findings) would run again for every plan (see consultations/timeline.py). Built once
# per process, on the first patient page (after every feature has added its links).
@cache
def _plans() -> Select[tuple[TreatmentPlan]]:
    query = select(TreatmentPlan).where(TreatmentPlan.patient_id == bindparam("patient_id")).options(lazyload("*"))
    # `sessions_done` counts the plan's signed sessions, through the link the treatments feature adds.
    sessions = getattr(TreatmentPlan, "treatment_sessions", None)
    return query if sessions is None else query.options(selectinload(sessions).lazyload("*"))
