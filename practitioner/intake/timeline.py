"""What the patient intake adds to the patient's timeline: when an intake was signed, and when it was reviewed."""

from __future__ import annotations

import uuid
from functools import cache

from flask import url_for
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from practitioner.auth.models import User
from practitioner.intake.models import PatientIntake
from practitioner.patients.models import Patient
from practitioner.patients.timeline import TimelineEntry

CHANNEL_PHRASES = {"tablet": "Answered on the clinic's tablet", "link": "Answered through a one-time link"}

# The staff page of one signed intake (its answers, signature and SHA-256), where both entries link to.
INTAKE_PAGE = "intake.signed"


def timeline_entries(patient: Patient, *, session: Session, clinical: bool, **_: object) -> list[TimelineEntry]:
    """"Intake submitted" for every signed intake, and "Intake reviewed" once it was (clinical viewers only).

    One statement: the intakes' few columns and the reviewer's name, never the answers or the signature.
    """
    if not clinical:
        return []
    entries: list[TimelineEntry] = []
    for public_id, channel, submitted_at, reviewed_at, reviewer in session.execute(_intakes(), {"patient_id": patient.id}):
        url = url_for(INTAKE_PAGE, public_id=public_id)
        entries.append(TimelineEntry(
            when=submitted_at, kind="intake", title="Intake submitted", url=url,
            badge="Reviewed" if reviewed_at is not None else "Waiting for review",
            badge_class="badge--ok" if reviewed_at is not None else "badge--warning",
            details=(f"{CHANNEL_PHRASES.get(channel, 'Answered by the patient')} and signed by the patient",)))
        if reviewed_at is not None:
            entries.append(TimelineEntry(
                when=reviewed_at, kind="intake", title="Intake reviewed", url=url,
                details=(f"Reviewed by {reviewer}, with the consultation started from it" if reviewer else
                         "Reviewed with the consultation started from it",)))
    return entries


@cache
def _intakes() -> Select[tuple[uuid.UUID, str, object, object, str | None]]:
    # Built once per process: every patient page runs it (bench/bench_pages.py measures that page).
    return (select(PatientIntake.public_id, PatientIntake.channel, PatientIntake.submitted_at, PatientIntake.reviewed_at, User.name)
            .outerjoin(User, User.id == PatientIntake.reviewed_by_id)
            .where(PatientIntake.patient_id == bindparam("patient_id"), PatientIntake.status == "submitted"))
