"""What plans add to the patient's timeline."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import url_for
from sqlalchemy import Select, bindparam, func, literal, select
from sqlalchemy.orm import Session

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.plans.models import TreatmentPlan


def timeline_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Plans with their progress (clinical viewers only)."""
    if not clinical:
        return []
    entries: list[TimelineEntry] = []
    for plan in session.execute(_plans(), {"patient_id": patient.id}):
        done = plan.done
        entries.append(TimelineEntry(
            when=plan.created_at, kind="plan",
            title=f"Treatment plan: {plan.sessions_planned} sessions of {MODALITY_LABELS[plan.modality].lower()}, every {plan.interval_weeks} weeks",
            url=url_for("plans.detail", public_id=plan.public_id),
            badge=f"{done} of {plan.sessions_planned} done", details=(f"First session {plan.first_session_on:%-d %b %Y}",),
        ))
    return entries


# Only what the entry prints is loaded: the plan's default eager loads (its consultation and that
# consultation's findings) would run again for every plan (see consultations/timeline.py). Built once
# per process, on the first patient page (after every feature has added its links).
@cache
def _plans() -> Select[tuple[Any, ...]]:
    # The printed columns only (no ORM object per plan, with its every column).
    query = (select(TreatmentPlan.public_id, TreatmentPlan.created_at, TreatmentPlan.sessions_planned, TreatmentPlan.modality,
                    TreatmentPlan.interval_weeks, TreatmentPlan.first_session_on)
             .where(TreatmentPlan.patient_id == bindparam("patient_id")))
    # The entry prints the plan's `sessions_done`: its signed sessions, through the link the treatments
    # feature adds. Counted beside the plan (the link's own join condition, correlated) rather than
    # loading every session of every plan to count them in Python.
    link = getattr(TreatmentPlan, "treatment_sessions", None)
    if link is None:
        return query.add_columns(literal(0).label("done"))
    sessions = link.property.mapper.class_
    done = (select(func.count()).select_from(sessions).where(link.property.primaryjoin, sessions.signed_at.is_not(None))
            .correlate(TreatmentPlan).scalar_subquery().label("done"))
    return query.add_columns(done)
