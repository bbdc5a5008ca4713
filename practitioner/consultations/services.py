"""Consultations: record the assessment, run the screening engine, keep the result and overrides."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.screening import Policy, ScreeningResult, parse_intake, screen
from practitioner.consultations.models import (
    SCAR_TYPES,
    Consent,
    Consultation,
    ConsultationArea,
    ConsultationConcern,
    ScarCount,
    ScreeningFlag,
    ScreeningOverride,
    TreatmentPlan,
)
from practitioner.database import assign_changed, utcnow
from practitioner.errors import NotAllowed, StaleRecord
from practitioner.patients.models import Patient

FINDINGS = ("active_infection", "active_cold_sore", "active_inflammatory_acne", "dermatosis_flare", "suspicious_lesion", "tattoo_or_pmu")
HISTORY = (
    "cold_sore_history", "keloid_history", "hypertrophic_scarring", "koebner_condition", "skin_cancer_in_area",
    "radiotherapy_to_area", "immunosuppressed", "autoimmune_collagen_vascular", "bleeding_disorder", "platelet_disorder",
    "bloodborne_infection", "implanted_electronic_device", "metal_implant_in_area", "smoker", "expectations_concern",
)
ALLERGIES = ("allergy_gold", "allergy_stainless_steel", "allergy_nickel", "allergy_topical_anaesthetic")
DATE_ANSWERS = (
    "sunburn_on", "isotretinoin_stopped_on", "nsaid_or_supplement_last_on", "topical_retinoid_or_acid_last_on",
    "neurotoxin_on", "filler_in_area_on", "resurfacing_on",
)
TEXT_FIELDS = frozenset({"skin_notes", "device_name", "notes"})
SCALAR_FIELDS = (
    "consultation_date", "modality", "fitzpatrick", "glogau", "goodman_baron_grade", "skin_notes", "device_name",
    "needle_material", "device_max_depth_mm", "requested_depth_mm", "pregnant", "breastfeeding", "diabetes",
    "isotretinoin", "anticoagulant_prescribed", "notes", *FINDINGS, *HISTORY, *ALLERGIES, *DATE_ANSWERS,
)

# Words in a patient's free-text allergies that suggest a screening allergy, offered for confirmation.
ALLERGY_HINTS = {
    "allergy_gold": r"\bgold\b",
    "allergy_stainless_steel": r"stainless|surgical steel",
    "allergy_nickel": r"\bnickel\b",
    "allergy_topical_anaesthetic": r"lidocaine|lignocaine|prilocaine|tetracaine|benzocaine|emla|anaesthetic|anesthetic|numbing",
}


def get_consultation(session: Session, public_id: uuid.UUID) -> Consultation | None:
    """The consultation with this public id, with its patient and practitioner loaded."""
    return session.scalars(select(Consultation).where(Consultation.public_id == public_id)).first()


def consultations_for_patient(session: Session, patient: Patient) -> list[Consultation]:
    """A patient's consultations, newest first."""
    return list(session.scalars(
        select(Consultation).where(Consultation.patient_id == patient.id)
        .order_by(Consultation.consultation_date.desc(), Consultation.id.desc())
    ))


def prefill_from_patient(patient: Patient, on: date) -> dict[str, Any]:
    """Answers the patient record already gives, for the practitioner to confirm."""
    values: dict[str, Any] = {"consultation_date": on, "fitzpatrick": patient.fitzpatrick}
    text = (patient.allergies or "").lower()
    for field, pattern in ALLERGY_HINTS.items():
        values[field] = bool(re.search(pattern, text))
    return values


def _days_before(day: date | None, on: date) -> int | None:
    return None if day is None else (on - day).days


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def intake_for(consultation: Consultation) -> dict[str, Any]:
    """The screening intake (screening.md JSON) that this consultation's answers amount to."""
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

    An override recorded against a different result no longer applies: it is kept, marked
    superseded, and the practitioner must decide again.
    """
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
    if values.get("isotretinoin") != "stopped":
        values = {**values, "isotretinoin_stopped_on": None}
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
    session: Session, patient: Patient, values: dict[str, Any], *, actor: User, policy: Policy, ip_address: str = ""
) -> Consultation:
    """Record a new consultation for a patient and screen it."""
    consultation = Consultation(patient=patient, practitioner_id=actor.id, created_by_id=actor.id, updated_by_id=actor.id,
                                concerns=[], areas=[], scar_counts=[], flags=[], overrides=[])
    _apply(consultation, values)
    consultation.age_at_consultation = patient.age_on(consultation.consultation_date)
    session.add(consultation)
    result = run_screening(session, consultation, policy, actor=actor, ip_address=ip_address)
    session.flush()
    audit.append(session, "consultation.create", actor=actor, patient=patient, target=f"consultation:{consultation.public_id}",
                 detail={"decision": result.decision, "flags": list(result.codes)}, ip_address=ip_address)
    return consultation


def update_consultation(
    session: Session, consultation: Consultation, values: dict[str, Any], *, expected_version: int | None,
    actor: User, policy: Policy, ip_address: str = "",
) -> set[str]:
    """Change the answers and re-screen; refuse if someone saved it since the form was opened."""
    if expected_version is not None and expected_version != consultation.version:
        raise StaleRecord("Someone else saved this consultation after you opened it.")
    changed = _apply(consultation, values)
    if not changed:
        return changed
    consultation.age_at_consultation = consultation.patient.age_on(consultation.consultation_date)
    consultation.updated_by_id = actor.id
    before = consultation.decision
    result = run_screening(session, consultation, policy, actor=actor, ip_address=ip_address)
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleRecord("Someone else saved this consultation after you opened it.") from exc
    audit.append(session, "consultation.update", actor=actor, patient=consultation.patient,
                 target=f"consultation:{consultation.public_id}",
                 detail={"fields": sorted(changed), "decision": [before, result.decision]}, ip_address=ip_address)
    return changed


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
    data["screening_asked"] = True
    return data


def related_records(session: Session, consultation: Consultation) -> dict[str, list[Any]]:
    """The plans and consents made from this consultation, for its page."""
    plans = list(session.scalars(select(TreatmentPlan).where(TreatmentPlan.consultation_id == consultation.id).order_by(TreatmentPlan.id)))
    consents = list(session.scalars(select(Consent).where(Consent.consultation_id == consultation.id).order_by(Consent.id)))
    return {"plans": plans, "consents": consents}
