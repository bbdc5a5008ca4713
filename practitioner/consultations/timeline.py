"""What consultations add to the patient's timeline."""

from __future__ import annotations

from functools import cache

from flask import url_for
from sqlalchemy import Select, bindparam, exists, select
from sqlalchemy.orm import Session, lazyload, selectinload

from practitioner.clinical.screening import DECISION_LABELS, MODALITY_LABELS
from practitioner.consultations.models import Consultation, ScreeningOverride
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.per_request import remembered


def timeline_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """Consultations with their result (clinical viewers only)."""
    if not clinical:
        return []
    entries: list[TimelineEntry] = []
    rows = patient_consultations(session, patient.id)
    consultations = [c for c, _ in rows]
    overridden = {c.id for c, has_override in rows if has_override}
    # A re-screen shows beside the consultation it supersedes, each saying where the other is.
    dates = {c.id: c.consultation_date for c in consultations}
    rescreened = {c.supersedes_id: c.consultation_date for c in consultations if c.supersedes_id in dates}
    for c in consultations:
        override = " (override recorded)" if c.id in overridden and c.decision not in ("proceed", "proceed_with_caution") else ""
        links = []
        if c.supersedes_id in dates:
            links.append(f"Re-screen of the consultation of {dates[c.supersedes_id]:%-d %b %Y}")
        if c.id in rescreened:
            links.append(f"Re-screened on {rescreened[c.id]:%-d %b %Y}: see the newer consultation")
        entries.append(TimelineEntry(
            when=c.consultation_date, kind="consultation", title=f"Consultation: {MODALITY_LABELS[c.modality]}",
            url=url_for("consultations.detail", public_id=c.public_id), badge=DECISION_LABELS[c.decision] + override,
            badge_class=f"badge--{c.decision}", details=(*links, *(f.reason for f in c.flags[:3])),
        ))
    return entries


def patient_consultations(session: Session, patient_id: int) -> list[tuple[Consultation, bool]]:
    """The patient's consultations, each with whether an override is active, read once per page (photos ask for the latest)."""
    return remembered(("patient_consultations", patient_id),
                      lambda: [(c, bool(overridden)) for c, overridden in session.execute(_consultations(), {"patient_id": patient_id})])


# The timeline prints a few facts of each record, so each query loads just the children those
# facts need, in one statement per kind, and leaves the rest unloaded. The models' default eager
# loads (a plan joins its consultation, which selects its findings; a session selects its patient,
# plan, users, consent, products...) ran again for every kind of record: 66 statements for one
# patient's page, 40 ms at p95 on a slow machine (bench/bench_pages.py). Built once per process.
# Whether a consultation has an active override (its `active_override`) is asked beside it, not
# loaded with every override it ever had.
@cache
def _consultations() -> Select[tuple[Consultation, bool]]:
    overridden = (exists().where(ScreeningOverride.consultation_id == Consultation.id, ScreeningOverride.superseded_at.is_(None))
                  .correlate(Consultation).label("overridden"))
    return (select(Consultation, overridden).where(Consultation.patient_id == bindparam("patient_id"))
            .options(lazyload("*"), selectinload(Consultation.flags)))
