"""What treatment sessions add to the patient's timeline."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry
from practitioner.treatments.models import TreatmentSession


def session_entries(session: Session, patient: Patient, clinical: bool) -> list[TimelineEntry]:
    """Each session, signed or draft, as "session k of n"."""
    if not clinical:
        return []
    entries = []
    for record in session.scalars(select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)):
        zones = ", ".join(f"{z.zone.replace('_', ' ')} {z.depth_mm} mm" for z in record.zones)
        entries.append(TimelineEntry(
            when=record.session_date, kind="session",
            title=f"Session {record.sequence} of {record.plan.sessions_planned}: {MODALITY_LABELS[record.plan.modality].lower()}",
            url=url_for("treatments.detail", public_id=record.public_id),
            badge="Signed" if record.is_signed else "Draft, not signed",
            badge_class="badge--ok" if record.is_signed else "badge--warning",
            details=tuple(d for d in (zones, f"{len(record.addenda)} addend{'um' if len(record.addenda) == 1 else 'a'}" if record.addenda else "") if d),
        ))
    return entries
