"""The "Patient intake" section of the patient's page (signal `record_sections`), for the staff who start intakes.

One SQL statement: the patient's open intakes (not yet expired) and the submitted ones waiting for
review, with nothing loaded later (the patient page is a hot path). Reception sees the buttons, the
open links and that an intake is waiting; practitioners also see its answers, Yes and Not sure first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from flask import render_template
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import Select, and_, bindparam, or_, select
from wtforms.validators import StopValidation, ValidationError

from practitioner.auth.models import Permission
from practitioner.clinical.vocabulary import INTAKE_CHANNEL_LABELS
from practitioner.database import utcnow
from practitioner.extensions import db
from practitioner.intake import mapping
from practitioner.intake.models import PatientIntake
from practitioner.intake.questions import QUESTIONS, TOPICS
from practitioner.patients.forms import PatientForm
from practitioner.patients.models import Patient

#: The details the patient typed that may be offered as changes to the record, with their labels.
DETAIL_FIELDS = {"phone": "Phone", "email": "Email", "address": "Address", "gp_name": "GP or physician", "gp_practice": "GP practice"}
WORDING = {question.key: question.wording for question in QUESTIONS}
TOPIC_OF = {question.key: topic.title for topic in TOPICS for question in topic.questions}


@dataclass(frozen=True)
class DetailChange:
    """One detail the patient typed that differs from the record: offered, never applied silently."""

    field: str
    label: str
    old: str
    new: str
    fits: bool = True  # passes the patient form's own checks for that field (else shown, not offered)


class _Probe:
    """The least of a WTForms field that the patient form's validators read, holding one value."""

    def __init__(self, value: str) -> None:
        self.data = value
        self.raw_data = [value]
        self.errors: list[str] = []

    def gettext(self, text: str) -> str:
        """No translation."""
        return text

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """No translation."""
        return singular if n == 1 else plural


def fits_the_record(name: str, value: str) -> bool:
    """Whether the patient form would take `value` for this field (its own validators: length, phone, email)."""
    probe = _Probe(value)
    for validator in getattr(PatientForm, name).kwargs.get("validators", []):
        try:
            validator(None, probe)
        except StopValidation:
            return True
        except ValidationError:
            return False
    return True


def open_and_waiting(patient_id: int) -> list[PatientIntake]:
    """The patient's open intakes (not expired) and the submitted ones not yet reviewed, oldest first: one statement."""
    return list(db.session.scalars(_open_and_waiting(), {"patient_id": patient_id, "now": utcnow()}))


@cache
def _open_and_waiting() -> Select[tuple[PatientIntake]]:
    # Built once per process (every patient page asks it; building it and its cache key cost more than running it).
    return (select(PatientIntake).where(PatientIntake.patient_id == bindparam("patient_id"), or_(
        and_(PatientIntake.status == "open", PatientIntake.expires_at > bindparam("now")),
        and_(PatientIntake.status == "submitted", PatientIntake.reviewed_at.is_(None))))
        .order_by(PatientIntake.created_at, PatientIntake.id))


def detail_changes(intake: PatientIntake, patient: Patient) -> list[DetailChange]:
    """The contact and GP details the patient typed that differ from the record (blank answers are not changes)."""
    details = intake.answers.get("details") or {}
    changes = []
    for name, label in DETAIL_FIELDS.items():
        new = str(details.get(name) or "").strip()
        old = str(getattr(patient, name) or "")
        if new and new != old.strip():
            changes.append(DetailChange(name, label, old, new, fits_the_record(name, new)))
    return changes


@dataclass(frozen=True)
class AnswerInWords:
    """One question as the patient saw it, with their answer (and its date, "about March 2026")."""

    wording: str
    answer: mapping.PatientAnswer


def answers_in_words(intake: PatientIntake) -> list[AnswerInWords]:
    """The intake's answers as the patient gave them, Yes and Not sure first (mapping.attention_first)."""
    return [AnswerInWords(WORDING.get(answer.key, answer.key), answer) for answer in mapping.attention_first(intake.answers)]


def calm_by_topic(answers: list[AnswerInWords]) -> list[tuple[str, list[AnswerInWords]]]:
    """The answers that raise nothing (the patient's No answers), grouped by the topic the patient saw them under."""
    groups: dict[str, list[AnswerInWords]] = {}
    for item in answers:
        if not item.answer.needs_attention:
            groups.setdefault(TOPIC_OF.get(item.answer.key, ""), []).append(item)
    return list(groups.items())


def patient_intake(record: object, **_: object) -> Markup | None:
    """On a patient's page, for reception and practitioners: start an intake, the open links, and the intakes waiting."""
    if not isinstance(record, Patient) or not current_user.is_authenticated or not current_user.can(Permission.START_INTAKE):
        return None
    intakes = open_and_waiting(record.id)
    now = utcnow()
    clinical = current_user.can(Permission.VIEW_CLINICAL)
    waiting = [{"intake": i, "answers": answers_in_words(i) if clinical else [], "changes": detail_changes(i, record)}
               for i in intakes if i.status == "submitted"]
    for item in waiting:
        item["calm_by_topic"] = calm_by_topic(item["answers"])
    return Markup(render_template("intake/staff/_section.html", patient=record, open=[i for i in intakes if i.is_open(now)],  # nosec B704  # the output of an autoescaped template, not typed text
                                  waiting=waiting, clinical=clinical, channel_labels=INTAKE_CHANNEL_LABELS,
                                  can_consult=current_user.can(Permission.EDIT_CLINICAL),
                                  can_edit_details=current_user.can(Permission.EDIT_DEMOGRAPHICS)))
