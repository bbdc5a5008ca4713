"""The patient's timeline: entries contributed by the features built on top of patients.

Patients sit at the bottom of the feature chain, so they cannot import consultations or
sessions; the patient page sends practitioner.signals.patient_timeline and each feature's
receiver (connected in its own package) answers with its entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy.orm import Session

from practitioner import signals
from practitioner.dates import clinic_zone
from practitioner.patients.models import Patient


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline."""

    when: date | datetime
    kind: str
    title: str
    url: str | None = None
    badge: str = ""
    badge_class: str = ""
    details: tuple[str, ...] = field(default_factory=tuple)
    at: datetime | None = None  # when `when` is a date: the moment it happened, if known (a session's start)

    @property
    def sort_key(self) -> tuple[date, float]:
        """By the clinic's day, then by the moment it happened; a date with no known moment is the start of its day."""
        moment = self.when if isinstance(self.when, datetime) else self.at
        if moment is None:
            return (self.when, float("-inf"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        local = moment.astimezone(clinic_zone())
        day = local.date() if isinstance(self.when, datetime) else self.when
        return (day, moment.timestamp())


def entries_for(session: Session, patient: Patient, clinical: bool) -> list[TimelineEntry]:
    """Every feature's entries for a patient (the patient_timeline signal), newest first; `clinical` says whether the viewer may see clinical ones."""
    answers = signals.answers(signals.patient_timeline, patient, session=session, clinical=clinical)
    return sorted((entry for entries in answers for entry in entries), key=lambda entry: entry.sort_key, reverse=True)
