"""A consultation started from a patient's intake: the form shows each patient answer; the practitioner confirms or corrects it.

Nothing is answered for the practitioner. Every screening radio starts empty, as on the ordinary
form, with the patient's answer written beside it ("Patient answered: Yes (about March 2026)"):

- a patient's "Not sure" is never turned into an answer: the practitioner chooses;
- a patient's Yes (or any answer that raises something) is confirmed question by question;
- the patient's No answers may be confirmed together, explicitly: with the form's one checkbox ("I have
  gone through all the patient's No answers with them"), or with the patient page's button "Confirm the
  patient's No answers and start the consultation" (which opens this form with that box ticked and each
  No chosen, every one still changeable), or one by one; the row keeps how each was confirmed;
- the questions not asked of the patient (intake/questions.py PRACTITIONER_ONLY) form their own group,
  with the ordinary form's explicit "No to the rest" button for that group alone;
- an answer not confirmed is unanswered, so the form's own rule blocks the result and names it;
- a confirmed value that differs from the patient's is a correction: it needs a short reason, and it
  is kept beside the patient's answer with who changed it and when (ConsultationIntakeAnswer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.questions import QUESTIONS, Question, answer_text
from practitioner.clinical.screening import CONCERN_LABELS, TREATMENT_AREA_LABELS, Policy
from practitioner.consultations import services
from practitioner.consultations.models import Consultation, ConsultationIntakeAnswer
from practitioner.database import utcnow
from practitioner.errors import NotAllowed, StaleRecord
from practitioner.intake import mapping
from practitioner.intake import services as intake_services
from practitioner.intake.models import PatientIntake
from practitioner.patients.models import Patient

NOT_SURE = "not_sure"
TICKED = ("y", "yes", "on", "true", "1")
ALL_NOS = "all_nos"  # ConsultationIntakeAnswer.confirmation: a No confirmed with all the patient's No answers
ONE_BY_ONE = "one_by_one"  # answered by the practitioner on the question itself
REASON_NEEDED = "The patient answered {answer}: say in a few words why yours differs (it is kept beside theirs)."


class IntakeNotReviewable(NotAllowed):
    """The intake is not a submitted one waiting for review (still open, withdrawn, or already reviewed)."""


class ReviewTaken(IntakeNotReviewable, StaleRecord):
    """A consultation was saved from this intake after the form was opened: the form's save would be a second review."""


REVIEW_TAKEN = "Another practitioner saved a consultation from this intake after you opened this form. Nothing was saved."
# The form's version (the hidden field every edit form carries): the intake's review, the one change a signed intake
# may still take. 1 while it waits for review; 2 once a consultation was saved from it.
WAITING, REVIEWED = 1, 2


def review_version(intake: PatientIntake) -> int:
    """The intake's review as a version number for the from-intake form: 1 while waiting, 2 once reviewed."""
    return WAITING if intake.reviewed_at is None else REVIEWED


def saved_from(session: Session, intake: PatientIntake) -> Consultation | None:
    """The consultation saved from this intake (its review), if any."""
    return session.scalars(select(Consultation).where(Consultation.intake_id == intake.id).order_by(Consultation.id)).first()


@dataclass(frozen=True)
class PatientSaid:
    """One screening question as the patient answered it, in the consultation's terms."""

    question: Question
    code: str  # the patient's answer code: "yes", "no", "not_sure" or a choice's code
    value: Any  # what it sets on the consultation column (None for "Not sure")
    day: date | None  # the date the patient gave (a month estimate read as its last day), for a dated answer
    when_text: str  # the date as the patient gave it: "about March 2026", or ""
    words: str  # the answer in the consultation's words: "Yes", "No diabetes", "Not sure"
    attention: bool  # Yes, Not sure, or any answer that raises something

    @property
    def is_no(self) -> bool:
        """The answer that raises nothing ("No", "No diabetes", "Never taken"): confirmable with its section."""
        return self.value is not None and self.value == self.question.no_answer

    @property
    def form_value(self) -> str:
        """The patient's answer as the form's radio value ("yes", "no", a choice's code; "" for Not sure)."""
        if self.value is None:
            return ""
        if isinstance(self.value, bool):
            return "yes" if self.value else "no"
        return str(self.value)

    @property
    def marker(self) -> str:
        """What the form shows beside the question: "Patient answered: Yes (about March 2026)"."""
        return f"Patient answered: {self.words}" + (f" ({self.when_text})" if self.when_text else "")


def patient_said(intake: PatientIntake) -> dict[str, PatientSaid]:
    """The patient's answer to each screening question they were asked, keyed by the consultation column."""
    mapped = mapping.consultation_answers(intake.answers)
    said: dict[str, PatientSaid] = {}
    for question in QUESTIONS:
        answer = mapped.get(question.name)
        if answer is None or not answer.answer_code:
            continue
        dated = mapped.get(question.date_name) if question.date_name else None
        day = _as_date(dated.value) if dated is not None else _as_date(getattr(answer, "date", None))
        when_text = answer.when_text or (dated.when_text if dated is not None else "")
        value = None if answer.answer_code == NOT_SURE else answer.value
        words = "Not sure" if value is None else answer_text(question.name, value)
        said[question.name] = PatientSaid(question, answer.answer_code, value, day if value == question.date_when else None,
                                          when_text if value == question.date_when or value is None else "", words,
                                          bool(answer.needs_attention) or value is None)
    return said


def _as_date(value: Any) -> date | None:
    return value if isinstance(value, date) else None


def attention_first(said: Mapping[str, PatientSaid]) -> list[PatientSaid]:
    """Yes and Not sure first, then the rest, each group in the order the form asks."""
    ordered = [said[q.name] for q in QUESTIONS if q.name in said]
    return [s for s in ordered if s.attention] + [s for s in ordered if not s.attention]


def prefill(intake: PatientIntake, on: date) -> dict[str, Any]:
    """The new form's starting values: the date, the skin type on record, the concerns and areas the patient chose.

    Concerns and areas are the patient's wishes, not screening answers: ticked, marked as the patient's
    choice, and changed freely by the practitioner.

    No screening answer is set: the patient's answers are shown beside the questions, to confirm. A
    date the patient gave goes into its date box (shown only once the practitioner confirms the Yes).
    """
    patient: Patient = intake.patient
    hopes = intake.answers.get("hopes") or {}
    values: dict[str, Any] = {"consultation_date": on, "fitzpatrick": patient.fitzpatrick,
                              "concerns": [code for code in hopes.get("concerns") or [] if isinstance(code, str)],
                              "treatment_areas": [code for code in hopes.get("areas") or [] if isinstance(code, str)]}
    for name, said in patient_said(intake).items():
        if said.day is not None and said.question.date_name:
            values[said.question.date_name] = said.day
    return values


def patient_wishes(intake: PatientIntake) -> dict[str, list[str]]:
    """The concerns and treatment areas the patient chose in their intake (labels), for the form's "the patient's choice"."""
    hopes = intake.answers.get("hopes") or {}
    return {"concerns": [CONCERN_LABELS[c] for c in hopes.get("concerns") or [] if c in CONCERN_LABELS],
            "treatment_areas": [TREATMENT_AREA_LABELS[c] for c in hopes.get("areas") or [] if c in TREATMENT_AREA_LABELS]}


def confirmed_formdata(formdata: MultiDict, said: Mapping[str, PatientSaid]) -> MultiDict:
    """The posted form with the patient's No answers confirmed (its one box ticked), where the practitioner left them blank.

    Only answers that raise nothing are confirmed this way: a Yes, a "Not sure" and a question the
    patient was not asked stay as the practitioner left them. A date the form was filled with from the
    patient's answer is dropped when the confirmed answer no longer asks for it.
    """
    data = MultiDict(formdata)
    if all_nos_ticked(data):
        for given in said.values():
            if given.is_no and not data.get(given.question.name):
                data[given.question.name] = given.form_value
    for given in said.values():
        question = given.question
        if question.date_name and given.day is not None and not data.get(question.name) and not data.get(question.date_name):
            # Still unanswered (so the form comes back, and nothing is saved): the box keeps the patient's date to confirm.
            data[question.date_name] = given.day.isoformat()
        elif question.date_name and given.day is not None and data.get(question.date_name) == given.day.isoformat():
            answer = data.get(question.name)
            if answer and answer != ("yes" if question.choices is None else str(question.date_when)):
                data.pop(question.date_name)
    return data


def all_nos_ticked(formdata: Mapping[str, Any]) -> bool:
    """Whether the form's one "I have gone through all the patient's No answers" box is ticked."""
    return str(formdata.get("confirm_all", "")).lower() in TICKED


def all_nos_confirmed(intake: PatientIntake, on: date) -> dict[str, Any]:
    """The form as the patient page's "Confirm the patient's No answers" button opens it: the box ticked, each No chosen.

    Only the answers that raise nothing; a Yes, a "Not sure" and a question not asked of the patient stay
    empty for the practitioner. Every one stays changeable on the form (a change needs its reason).
    """
    values = prefill(intake, on)
    values["confirm_all"] = True
    for name, given in patient_said(intake).items():
        if given.is_no:
            values[name] = given.value
    return values


def corrections(values: Mapping[str, Any], said: Mapping[str, PatientSaid]) -> dict[str, PatientSaid]:
    """The questions whose confirmed answer (or date) differs from the patient's; a "Not sure" resolved is not one."""
    changed = {}
    for name, given in said.items():
        if given.value is None:
            continue
        question = given.question
        day = values.get(question.date_name) if question.date_name and values.get(name) == question.date_when else None
        if values.get(name) != given.value or day != given.day:
            changed[name] = given
    return changed


def missing_reasons(values: Mapping[str, Any], said: Mapping[str, PatientSaid], reasons: Mapping[str, str]) -> dict[str, str]:
    """For each correction without a reason: the message its reason box shows."""
    return {name: REASON_NEEDED.format(answer=given.marker.removeprefix("Patient answered: "))
            for name, given in corrections(values, said).items() if not (reasons.get(name) or "").strip()}


def record_from_intake(session: Session, intake: PatientIntake, values: dict[str, Any], reasons: Mapping[str, str], *,
                       actor: User, policy: Policy, ip_address: str = "", all_nos: bool = False,
                       expected_version: int | None = None) -> Consultation:
    """Record the consultation from the confirmed answers, keep each patient answer beside it, mark the intake reviewed.

    `all_nos`: the practitioner confirmed all the patient's No answers at once (the form's box, or the patient
    page's button); each No kept unchanged is recorded as confirmed that way, with who and when.
    `expected_version`: the review_version the form was opened at; a review saved since raises ReviewTaken (a
    StaleRecord), as does losing the claim below to a save at the same moment.
    """
    if intake.status != "submitted":
        raise IntakeNotReviewable("This intake is not waiting for review: it was never submitted, or was withdrawn.")
    if intake.reviewed_at is not None:
        raise ReviewTaken(REVIEW_TAKEN)
    if expected_version is not None and expected_version != review_version(intake):
        raise StaleRecord("This form was not opened at the intake as it is now. Nothing was saved.")
    now = utcnow()
    # Claim the review first, in one conditional statement: of two practitioners saving at once, the second
    # finds it taken (PostgreSQL re-reads the row after the first commits; SQLite writes one at a time).
    claimed = session.execute(update(PatientIntake).where(PatientIntake.id == intake.id, PatientIntake.reviewed_at.is_(None))
                              .values(reviewed_at=now, reviewed_by_id=actor.id).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        raise ReviewTaken(REVIEW_TAKEN)
    session.expire(intake, ["reviewed_at", "reviewed_by_id", "updated_at"])
    said = patient_said(intake)
    corrected = corrections(values, said)
    consultation = services.record_consultation(session, intake.patient, values, actor=actor, policy=policy, ip_address=ip_address)
    consultation.intake_id = intake.id
    for name, given in said.items():
        question = given.question
        confirmed = getattr(consultation, name)
        session.add(ConsultationIntakeAnswer(
            consultation_id=consultation.id, question=name, patient_answer=given.code, patient_when=given.when_text,
            patient_date=given.day, confirmed_value=services._code(confirmed) or "",
            confirmed_date=getattr(consultation, question.date_name) if question.date_name else None,
            corrected=name in corrected, reason=(reasons.get(name) or "").strip() if name in corrected or given.value is None else "",
            confirmation=ALL_NOS if all_nos and given.is_no and name not in corrected else ONE_BY_ONE,
            changed_by_id=actor.id, changed_at=now))
    session.flush()
    audit.append(session, intake_services.ACTION_REVIEWED, actor=actor, patient=intake.patient, target=f"intake:{intake.public_id}",
                 detail={"consultation": str(consultation.public_id), "corrected": sorted(corrected), "all_nos_confirmed": all_nos}, ip_address=ip_address)
    return consultation


def intake_answers(session: Session, consultation: Consultation) -> list[dict[str, Any]]:
    """For the consultation's page: each corrected or resolved patient answer beside the confirmed one, who and why."""
    if consultation.intake_id is None:
        return []
    rows = session.scalars(select(ConsultationIntakeAnswer).where(ConsultationIntakeAnswer.consultation_id == consultation.id))
    order = {q.name: i for i, q in enumerate(QUESTIONS)}
    shown = []
    for row in sorted(rows, key=lambda r: order.get(r.question, len(order))):
        if not row.corrected and row.patient_answer != NOT_SURE:
            continue
        question = next(q for q in QUESTIONS if q.name == row.question)
        patient_words = "Not sure" if row.patient_answer == NOT_SURE else services._words(row.question, row.patient_answer)
        confirmed = services._words(row.question, row.confirmed_value or None)
        shown.append({"question": question.label, "patient": patient_words, "patient_when": row.patient_when,
                      "confirmed": confirmed, "confirmed_on": row.confirmed_date, "corrected": row.corrected,
                      "reason": row.reason, "by": row.changed_by.name, "at": row.changed_at})
    return shown
