"""What treatment sessions add to the patient's timeline."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from flask import url_for
from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.dates import clinic_zone
from practitioner.plans.models import TreatmentPlan
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.treatments.models import Addendum, TreatmentSession


def session_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Each session, signed or draft, as "session k of n"."""
    if not clinical:
        return []
    entries = []
    for record, addenda in session.execute(_sessions(), {"patient_id": patient.id}):
        zones = ", ".join(f"{z.zone.replace('_', ' ')} {z.depth_mm} mm" for z in record.zones)
        entries.append(TimelineEntry(
            when=record.session_date, kind="session", at=_started(record),
            title=f"Session {record.sequence} of {record.plan.sessions_planned}: {MODALITY_LABELS[record.plan.modality].lower()}",
            url=url_for("treatments.detail", public_id=record.public_id),
            badge="Signed" if record.is_signed else "Draft, not signed",
            badge_class="badge--ok" if record.is_signed else "badge--warning",
            details=tuple(d for d in (zones, f"{addenda} addend{'um' if addenda == 1 else 'a'}" if addenda else "") if d),
        ))
    return entries


@cache
def _sessions() -> Select[tuple[TreatmentSession, int]]:
    # Only what the entry prints (see consultations.timeline for why), built once per process, as every
    # patient page runs it: the session with its plan in one row, the addenda counted beside it (the
    # entry prints only how many), the zones in one more statement.
    addenda = (select(func.count(Addendum.id)).where(Addendum.session_id == TreatmentSession.id)
               .correlate(TreatmentSession).scalar_subquery().label("addenda"))
    return select(TreatmentSession, addenda).where(TreatmentSession.patient_id == bindparam("patient_id")).options(
        lazyload("*"), selectinload(TreatmentSession.zones),
        joinedload(TreatmentSession.plan, innerjoin=True).options(lazyload(TreatmentPlan.consultation), lazyload(TreatmentPlan.zones)),
    )


def _started(record: TreatmentSession) -> datetime | None:
    """The session's start in the clinic's zone, so it sorts among that day's other entries in the order they happened."""
    if record.start_time is None:
        return None
    return datetime.combine(record.session_date, record.start_time, tzinfo=clinic_zone())
