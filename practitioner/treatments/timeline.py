"""What treatment sessions add to the patient's timeline."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

from flask import url_for
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.dates import clinic_zone
from practitioner.plans.models import TreatmentPlan
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.treatments.models import Addendum, SessionZone, TreatmentSession


def session_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Each session, signed or draft, as "session k of n"."""
    if not clinical:
        return []
    zones: dict[int, list[str]] = defaultdict(list)
    for session_id, zone, depth_mm in session.execute(_zones(), {"patient_id": patient.id}):
        zones[session_id].append(f"{zone.replace('_', ' ')} {depth_mm} mm")
    entries = []
    for row in session.execute(_sessions(), {"patient_id": patient.id}):
        signed = row.signed_at is not None
        entries.append(TimelineEntry(
            when=row.session_date, kind="session", at=_started(row.session_date, row.start_time),
            title=f"Session {row.sequence} of {row.sessions_planned}: {MODALITY_LABELS[row.modality].lower()}",
            url=url_for("treatments.detail", public_id=row.public_id),
            badge="Signed" if signed else "Draft, not signed",
            badge_class="badge--ok" if signed else "badge--warning",
            details=tuple(d for d in (", ".join(zones.get(row.id, ())),
                                      f"{row.addenda} addend{'um' if row.addenda == 1 else 'a'}" if row.addenda else "") if d),
        ))
    return entries


@cache
def _sessions() -> Select[tuple[Any, ...]]:
    # Only what the entry prints (see consultations.timeline for why), built once per process, as every
    # patient page runs it: the session's printed columns with its plan's in one row (no ORM object: building
    # one per session, with every column, cost more than the statement), the addenda counted beside it (the
    # entry prints only how many), the zones in one more statement (_zones).
    addenda = (select(func.count(Addendum.id)).where(Addendum.session_id == TreatmentSession.id)
               .correlate(TreatmentSession).scalar_subquery().label("addenda"))
    return (select(TreatmentSession.id, TreatmentSession.public_id, TreatmentSession.sequence, TreatmentSession.session_date,
                   TreatmentSession.start_time, TreatmentSession.signed_at, TreatmentPlan.sessions_planned, TreatmentPlan.modality,
                   addenda)
            .join(TreatmentPlan, TreatmentPlan.id == TreatmentSession.plan_id)
            .where(TreatmentSession.patient_id == bindparam("patient_id")))


@cache
def _zones() -> Select[tuple[int, str, Decimal]]:
    return (select(SessionZone.session_id, SessionZone.zone, SessionZone.depth_mm)
            .join(TreatmentSession, TreatmentSession.id == SessionZone.session_id)
            .where(TreatmentSession.patient_id == bindparam("patient_id"))
            .order_by(SessionZone.session_id, SessionZone.position))


def _started(day: date, start: time | None) -> datetime | None:
    """The session's start in the clinic's zone, so it sorts among that day's other entries in the order they happened."""
    if start is None:
        return None
    return datetime.combine(day, start, tzinfo=clinic_zone())
