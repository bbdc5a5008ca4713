"""Consultations: record the assessment, run the screening engine, keep the result and overrides."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.questions import ANSWER_NAMES, BY_DATE, BY_NAME, DATE_NAMES, QUESTIONS, answer_text, label_of
from practitioner.clinical.screening import Policy, ScreeningResult, parse_intake, screen
from practitioner.consultations.models import (
    SCAR_TYPES,
    Consultation,
    ConsultationAnswerChange,
    ConsultationArea,
    ConsultationConcern,
    ScarCount,
    ScreeningFlag,
    ScreeningOverride,
)
from practitioner.database import assign_changed, utcnow
from practitioner.errors import DomainError, NotAllowed, StaleRecord
from practitioner.patients.models import Patient

FINDINGS = ("active_infection", "active_cold_sore", "active_inflammatory_acne", "dermatosis_flare", "suspicious_lesion", "tattoo_or_pmu")
HISTORY = (
    "cold_sore_history", "keloid_history", "hypertrophic_scarring", "koebner_condition", "skin_cancer_in_area",
    "radiotherapy_to_area", "immunosuppressed", "autoimmune_collagen_vascular", "bleeding_disorder", "platelet_disorder",
    "bloodborne_infection", "implanted_electronic_device", "metal_implant_in_area", "smoker", "expectations_concern",
)
ALLERGIES = ("allergy_gold", "allergy_stainless_steel", "allergy_nickel", "allergy_topical_anaesthetic")
DATE_ANSWERS = DATE_NAMES
TEXT_FIELDS = frozenset({"skin_notes", "device_name", "notes"})
ASSESSMENT_FIELDS = (
    "consultation_date", "modality", "fitzpatrick", "glogau", "goodman_baron_grade", "skin_notes", "device_name",
    "needle_material", "device_max_depth_mm", "requested_depth_mm", "notes",
)
# The screening answers and the dates asked after a Yes: every change to one of these is kept.
SCREENING_FIELDS = (*ANSWER_NAMES, *DATE_NAMES)
SCALAR_FIELDS = (*ASSESSMENT_FIELDS, *SCREENING_FIELDS)


class UnansweredQuestions(DomainError):
    """A screening question has no answer (or a Yes has no date): there is no result to compute yet."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__("Answer every screening question before screening. Not answered yet: " + "; ".join(labels) + ".")
        self.labels = labels


class ConsultationLocked(NotAllowed):
    """A signed treatment session relied on this consultation: its answers can no longer change."""

# Words in a patient's free-text allergies that suggest a screening allergy, offered for confirmation.
ALLERGY_HINTS = {
    "allergy_gold": r"\bgold\b",
    "allergy_stainless_steel": r"stainless|surgical steel",
    "allergy_nickel": r"\bnickel\b",
    "allergy_topical_anaesthetic": r"lidocaine|lignocaine|prilocaine|tetracaine|benzocaine|emla|anaesthetic|anesthetic|numbing",
}


def consultations_for_patient(session: Session, patient: Patient) -> list[Consultation]:
    """A patient's consultations, newest first."""
    return list(session.scalars(
        select(Consultation).where(Consultation.patient_id == patient.id)
        .order_by(Consultation.consultation_date.desc(), Consultation.id.desc())
    ))


def allergy_hints(patient: Patient) -> set[str]:
    """The screening allergies the patient's free-text allergies mention, to be confirmed with the patient."""
    text = (patient.allergies or "").lower()
    return {field for field, pattern in ALLERGY_HINTS.items() if re.search(pattern, text)}


def prefill_from_patient(patient: Patient, on: date) -> dict[str, Any]:
    """What the patient record already suggests, for the practitioner to confirm.

    An allergy the record mentions is pre-selected Yes; nothing is ever pre-answered No (a record
    that does not mention an allergy does not show the patient was asked).
    """
    values: dict[str, Any] = {"consultation_date": on, "fitzpatrick": patient.fitzpatrick}
    values.update(dict.fromkeys(allergy_hints(patient), True))
    return values


def rescreen_prefill(original: Consultation, on: date) -> dict[str, Any]:
    """A new consultation's form started from a locked one: the assessment copied, every screening answer blank."""
    data = {name: value for name, value in form_data(original).items() if name not in SCREENING_FIELDS and name != "version"}
    data["consultation_date"] = on
    return data


def _days_before(day: date | None, on: date) -> int | None:
    return None if day is None else (on - day).days


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def intake_for(consultation: Consultation) -> dict[str, Any]:
    """The screening intake (docs/screening.md JSON) that this consultation's answers amount to."""
    on = consultation.consultation_date
    return {
        "modality": consultation.modality,
        "age": consultation.age_at_consultation,
        "fitzpatrick": consultation.fitzpatrick,
        "treatment_areas": consultation.area_codes,
        "concerns": consultation.concern_codes,
        "device": {"needle_material": consultation.needle_material, "max_evaluated_depth_mm": _float(consultation.device_max_depth_mm)},
        "requested_depth_mm": _float(consultation.requested_depth_mm),
        "pregnant": consultation.pregnant,
        "breastfeeding": consultation.breastfeeding,
        "findings": {**{name: getattr(consultation, name) for name in FINDINGS},
                     "sunburn_days_ago": _days_before(consultation.sunburn_on, on)},
        "history": {**{name: getattr(consultation, name) for name in HISTORY}, "diabetes": consultation.diabetes},
        "allergies": {name.removeprefix("allergy_"): getattr(consultation, name) for name in ALLERGIES},
        "medications": {
            "isotretinoin": consultation.isotretinoin,
            "isotretinoin_stopped_days_ago": _days_before(consultation.isotretinoin_stopped_on, on) if consultation.isotretinoin == "stopped" else None,
            "anticoagulant_prescribed": consultation.anticoagulant_prescribed,
            "nsaid_or_supplement_days_ago": _days_before(consultation.nsaid_or_supplement_last_on, on),
            "topical_retinoid_or_acid_days_ago": _days_before(consultation.topical_retinoid_or_acid_last_on, on),
        },
        "recent_procedures": {
            "neurotoxin_days_ago": _days_before(consultation.neurotoxin_on, on),
            "filler_in_area_days_ago": _days_before(consultation.filler_in_area_on, on),
            "resurfacing_days_ago": _days_before(consultation.resurfacing_on, on),
        },
    }


def run_screening(session: Session, consultation: Consultation, policy: Policy, *, actor: User, ip_address: str = "") -> ScreeningResult:
    """Re-compute the result from the answers and store it with the policy in force.

    Refused while any screening question is unanswered (nothing is read as "no"), and once the
    consultation is locked. An override recorded against a different result no longer applies:
    it is kept, marked superseded, and the practitioner must decide again.
    """
    if consultation.is_locked:
        raise ConsultationLocked(LOCKED_MESSAGE)
    missing = consultation.unanswered_questions
    if missing:
        raise UnansweredQuestions(missing)
    result = screen(parse_intake(intake_for(consultation)), policy, on=consultation.consultation_date)
    before = (consultation.decision, tuple(f.code for f in consultation.flags))
    consultation.decision = result.decision
    consultation.rebook_from = result.rebook_from
    consultation.policy_snapshot = json.dumps(policy.as_dict(), sort_keys=True)
    consultation.screened_at = utcnow()
    consultation.flags = [
        ScreeningFlag(position=i, code=f.code, decision=f.decision, reason=f.reason, earliest_date=f.earliest_date)
        for i, f in enumerate(result.flags)
    ]
    override = consultation.active_override
    if override is not None and before != (result.decision, result.codes):
        override.superseded_at = utcnow()
        audit.append(session, "consultation.override_superseded", actor=actor, patient=consultation.patient,
                     target=f"consultation:{consultation.public_id}",
                     detail={"was": before[0], "now": result.decision}, ip_address=ip_address)
    return result


def _apply(consultation: Consultation, values: dict[str, Any]) -> set[str]:
    # A date is kept only beside the answer that asks for it (Yes, or "Stopped").
    values = {**values, **{day: None for day, question in BY_DATE.items()
                           if question.name in values and values[question.name] != question.date_when}}
    changed = assign_changed(consultation, values, SCALAR_FIELDS, TEXT_FIELDS)
    concerns = sorted(set(values.get("concerns") or []))
    if concerns != consultation.concern_codes:
        consultation.concerns = [ConsultationConcern(code=c) for c in concerns]
        changed.add("concerns")
    areas = sorted(set(values.get("treatment_areas") or []))
    if areas != consultation.area_codes:
        consultation.areas = [ConsultationArea(code=a) for a in areas]
        changed.add("treatment_areas")
    counts = {t: int(values[f"scars_{t}"]) for t in SCAR_TYPES if values.get(f"scars_{t}")}
    if counts != {s.scar_type: s.count for s in consultation.scar_counts}:
        consultation.scar_counts = [ScarCount(scar_type=t, count=n) for t, n in sorted(counts.items())]
        changed.add("scar_counts")
    return changed


def record_consultation(
    session: Session, patient: Patient, values: dict[str, Any], *, actor: User, policy: Policy, ip_address: str = "",
    supersedes: Consultation | None = None,
) -> Consultation:
    """Record a new consultation for a patient and screen it; a re-screen names the locked one it supersedes."""
    if supersedes is not None and (supersedes.patient_id != patient.id or not supersedes.is_locked):
        raise NotAllowed("Only a locked consultation of the same patient can be re-screened: edit the answers instead.")
    consultation = Consultation(patient=patient, practitioner_id=actor.id, created_by_id=actor.id, updated_by_id=actor.id,
                                concerns=[], areas=[], scar_counts=[], flags=[], overrides=[],
                                supersedes_id=supersedes.id if supersedes is not None else None)
    _apply(consultation, values)
    consultation.age_at_consultation = patient.age_on(consultation.consultation_date)
    session.add(consultation)
    result = run_screening(session, consultation, policy, actor=actor, ip_address=ip_address)
    session.flush()
    detail: dict[str, Any] = {"decision": result.decision, "flags": list(result.codes)}
    if supersedes is not None:
        detail["supersedes"] = str(supersedes.public_id)
    audit.append(session, "consultation.create", actor=actor, patient=patient, target=f"consultation:{consultation.public_id}",
                 detail=detail, ip_address=ip_address)
    return consultation


def update_consultation(
    session: Session, consultation: Consultation, values: dict[str, Any], *, expected_version: int | None,
    actor: User, policy: Policy, ip_address: str = "",
) -> set[str]:
    """Change the answers and re-screen, keeping each changed screening answer's old and new value.

    Refused once a signed session relied on the consultation, and if someone saved it since the
    form was opened.
    """
    if consultation.is_locked:
        raise ConsultationLocked(LOCKED_MESSAGE)
    if expected_version is not None and expected_version != consultation.version:
        raise StaleRecord("Someone else saved this consultation after you opened it.")
    before = {name: getattr(consultation, name) for name in SCREENING_FIELDS}
    changed = _apply(consultation, values)
    if not changed:
        return changed
    now = utcnow()
    for name in SCREENING_FIELDS:
        if name in changed:
            session.add(ConsultationAnswerChange(consultation_id=consultation.id, question=name, old_value=_code(before[name]),
                                                 new_value=_code(getattr(consultation, name)), changed_by_id=actor.id, changed_at=now))
    consultation.age_at_consultation = consultation.patient.age_on(consultation.consultation_date)
    consultation.updated_by_id = actor.id
    decision_before = consultation.decision
    result = run_screening(session, consultation, policy, actor=actor, ip_address=ip_address)
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleRecord("Someone else saved this consultation after you opened it.") from exc
    audit.append(session, "consultation.update", actor=actor, patient=consultation.patient,
                 target=f"consultation:{consultation.public_id}",
                 detail={"fields": sorted(changed), "decision": [decision_before, result.decision]}, ip_address=ip_address)
    return changed


LOCKED_MESSAGE = ("A treatment session was signed under this consultation, so its answers are locked. "
                  "If anything has changed, record a new consultation (re-screen) from its page.")


def _code(value: Any) -> str | None:
    """An answer as stored in the change history: yes, no, a choice's code, an ISO date, or None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def lock_consultation(session: Session, consultation: Consultation, *, at: datetime, actor: User, ip_address: str = "") -> None:
    """Lock the answers a signed session relied on (the first signature locks; later ones change nothing)."""
    if consultation.locked_at is not None:
        return
    consultation.locked_at = at
    audit.append(session, "consultation.lock", actor=actor, patient=consultation.patient,
                 target=f"consultation:{consultation.public_id}", ip_address=ip_address)


def answer_changes(session: Session, consultation: Consultation) -> list[dict[str, Any]]:
    """The changes to the screening answers in words (question, old and new answer, who, when): newest save
    first, and within one save in the order the form asks."""
    rows = session.scalars(select(ConsultationAnswerChange).where(ConsultationAnswerChange.consultation_id == consultation.id)
                           .order_by(ConsultationAnswerChange.changed_at.desc(), ConsultationAnswerChange.id))
    return [{"question": label_of(row.question), "is_date": row.question in BY_DATE,
             "old": _words(row.question, row.old_value), "new": _words(row.question, row.new_value),
             "by": row.changed_by.name, "at": row.changed_at} for row in rows]


def _words(name: str, code: str | None) -> Any:
    if code is None or name in BY_DATE:
        return date.fromisoformat(code) if code else None
    question = BY_NAME[name]
    return answer_text(name, (code == "yes") if question.choices is None else code)


def answer_summary(consultation: Consultation) -> dict[str, Any]:
    """The screening answers in words for the consultation page: each Yes (with its date), how many
    were No (or "No diabetes", "Never taken"), and any left unanswered (consultations from before
    every question needed an answer)."""
    yes: list[dict[str, Any]] = []
    unanswered: list[str] = []
    no_count = 0
    for question in QUESTIONS:
        value = getattr(consultation, question.name)
        if value is None:
            unanswered.append(question.label)
        elif value == question.no_answer:
            no_count += 1
        else:
            on = getattr(consultation, question.date_name) if question.date_name and value == question.date_when else None
            yes.append({"question": question.label, "answer": answer_text(question.name, value), "on": on})
    return {"yes": yes, "no_count": no_count, "unanswered": unanswered}


def rescreens_of(session: Session, consultation: Consultation) -> list[Consultation]:
    """The consultations recorded to supersede this one, oldest first."""
    return list(session.scalars(select(Consultation).where(Consultation.supersedes_id == consultation.id)
                                .order_by(Consultation.consultation_date, Consultation.id)))


def record_override(session: Session, consultation: Consultation, reason: str, *, actor: User, ip_address: str = "") -> ScreeningOverride:
    """Document a decision to treat despite the computed result; kept beside it, never in its place."""
    if consultation.decision in ("proceed", "proceed_with_caution"):
        raise NotAllowed("The screening already allows treatment: there is nothing to override.")
    if consultation.active_override is not None:
        raise NotAllowed("An override is already recorded for this result.")
    override = ScreeningOverride(consultation_id=consultation.id, computed_decision=consultation.decision,
                                 reason=reason.strip(), recorded_by_id=actor.id, recorded_at=utcnow())
    session.add(override)
    consultation.overrides.append(override)
    session.flush()
    audit.append(session, "consultation.override", actor=actor, patient=consultation.patient,
                 target=f"consultation:{consultation.public_id}",
                 detail={"computed_decision": consultation.decision, "reason": override.reason}, ip_address=ip_address)
    return override


def record_view(session: Session, consultation: Consultation, *, actor: User, ip_address: str = "") -> None:
    """Note in the audit trail that someone opened this consultation."""
    audit.append(session, "consultation.view", actor=actor, patient=consultation.patient,
                 target=f"consultation:{consultation.public_id}", ip_address=ip_address)


def form_data(consultation: Consultation) -> dict[str, Any]:
    """The stored answers in the shape the form takes them."""
    data: dict[str, Any] = {name: getattr(consultation, name) for name in SCALAR_FIELDS}
    data["concerns"] = consultation.concern_codes
    data["treatment_areas"] = consultation.area_codes
    for count in consultation.scar_counts:
        data[f"scars_{count.scar_type}"] = count.count
    data["version"] = str(consultation.version)
    return data


def related_records(session: Session, consultation: Consultation) -> dict[str, list[Any]]:
    """The plans and consents made from this consultation, for its page."""
    # The plans and consents features add these links to the consultation (a lower feature never
    # imports a higher one); without them the page simply lists none.
    return {"plans": list(getattr(consultation, "plans", ())), "consents": list(getattr(consultation, "consents", ()))}
