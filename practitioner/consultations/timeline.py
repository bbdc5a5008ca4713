"""What consultations add to the patient's timeline."""

from __future__ import annotations

from collections import defaultdict
from functools import cache
from typing import Any

from flask import url_for
from sqlalchemy import Row, Select, bindparam, exists, select
from sqlalchemy.orm import Session

from practitioner.clinical.screening import DECISION_LABELS, MODALITY_LABELS
from practitioner.consultations.models import Consultation, ScreeningFlag, ScreeningOverride
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.per_request import remembered


def timeline_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Consultations with their result (clinical viewers only)."""
    if not clinical:
        return []
    entries: list[TimelineEntry] = []
    consultations = patient_consultations(session, patient.id)
    reasons: dict[int, list[str]] = defaultdict(list)
    for consultation_id, reason in session.execute(_flag_reasons(), {"patient_id": patient.id}):
        reasons[consultation_id].append(reason)
    # A re-screen shows beside the consultation it supersedes, each saying where the other is.
    dates = {c.id: c.consultation_date for c in consultations}
    rescreened = {c.supersedes_id: c.consultation_date for c in consultations if c.supersedes_id in dates}
    for c in consultations:
        override = " (override recorded)" if c.overridden and c.decision not in ("proceed", "proceed_with_caution") else ""
        links = []
        if c.supersedes_id in dates:
            links.append(f"Re-screen of the consultation of {dates[c.supersedes_id]:%-d %b %Y}")
        if c.id in rescreened:
            links.append(f"Re-screened on {rescreened[c.id]:%-d %b %Y}: see the newer consultation")
        entries.append(TimelineEntry(
            when=c.consultation_date, kind="consultation", title=f"Consultation: {MODALITY_LABELS[c.modality]}",
            url=url_for("consultations.detail", public_id=c.public_id), badge=DECISION_LABELS[c.decision] + override,
            badge_class=f"badge--{c.decision}", details=(*links, *reasons.get(c.id, ())[:3]),
        ))
    return entries


def patient_consultations(session: Session, patient_id: int) -> list[Row[Any]]:
    """The patient's consultations as the timeline prints them (id, public_id, consultation_date, modality, decision,
    supersedes_id, and whether an override is active: `overridden`), read once per page (photos ask for the latest)."""
    return remembered(("patient_consultations", patient_id), lambda: list(session.execute(_consultations(), {"patient_id": patient_id})))


# The timeline prints a few facts of each record, so each query loads just the columns those facts
# need, in one statement per kind, and leaves the rest unloaded. The models' default eager loads (a
# plan joins its consultation, which selects its findings; a session selects its patient, plan, users,
# consent, products...) ran again for every kind of record: 66 statements for one patient's page, 40 ms
# at p95 on a slow machine (bench/bench_pages.py); then building a full ORM object per record cost more
# than its statement. Built once per process. Whether a consultation has an active override (its
# `active_override`) is asked beside it, not loaded with every override it ever had.
@cache
def _consultations() -> Select[tuple[Any, ...]]:
    overridden = (exists().where(ScreeningOverride.consultation_id == Consultation.id, ScreeningOverride.superseded_at.is_(None))
                  .correlate(Consultation).label("overridden"))
    return (select(Consultation.id, Consultation.public_id, Consultation.consultation_date, Consultation.modality,
                   Consultation.decision, Consultation.supersedes_id, overridden)
            .where(Consultation.patient_id == bindparam("patient_id")))


@cache
def _flag_reasons() -> Select[tuple[int, str]]:
    # The flags' reasons in their order, for every consultation of the patient (the entry prints the first three).
    return (select(ScreeningFlag.consultation_id, ScreeningFlag.reason)
            .join(Consultation, Consultation.id == ScreeningFlag.consultation_id)
            .where(Consultation.patient_id == bindparam("patient_id"))
            .order_by(ScreeningFlag.consultation_id, ScreeningFlag.position))
