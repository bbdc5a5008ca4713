"""Factories for clinical records, inserted directly (the pages that make them have their own tests)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from practitioner.auth.models import User
from practitioner.consultations.models import Consent, Consultation, ConsultationArea, PlanZone, TreatmentPlan
from practitioner.extensions import db
from practitioner.patients.models import Patient


def make_consultation(patient: Patient, author: User, *, modality: str = "microneedling", decision: str = "proceed",
                      **values: Any) -> Consultation:
    """A committed consultation with the given (already computed) decision."""
    consultation = Consultation(patient_id=patient.id, practitioner_id=author.id, consultation_date=values.pop("consultation_date", date.today()),
                                modality=modality, decision=decision, device_name="SkinPen Precision", needle_material="stainless_steel",
                                device_max_depth_mm=Decimal("1.5"), fitzpatrick=values.pop("fitzpatrick", 3),
                                areas=[ConsultationArea(code="cheeks")], **values)
    db.session.add(consultation)
    db.session.commit()
    return consultation


def make_plan(consultation: Consultation, *, sessions: int = 4, zones: tuple[tuple[str, str, str], ...] = (("cheeks", "1.0", "1.5"),)) -> TreatmentPlan:
    """A committed plan for a consultation."""
    plan = TreatmentPlan(patient_id=consultation.patient_id, consultation_id=consultation.id, modality=consultation.modality,
                         sessions_planned=sessions, interval_weeks=4, first_session_on=date.today(),
                         zones=[PlanZone(position=i, zone=z, depth_min_mm=Decimal(lo), depth_max_mm=Decimal(hi)) for i, (z, lo, hi) in enumerate(zones)])
    db.session.add(plan)
    db.session.commit()
    return plan


def make_consent(consultation: Consultation, witness: User, *, modality: str | None = None) -> Consent:
    """A committed signed consent (text and signature stand-ins)."""
    text = f"Consent for {modality or consultation.modality}"
    consent = Consent(patient_id=consultation.patient_id, consultation_id=consultation.id, modality=modality or consultation.modality,
                      content_version="test-1", content_sha256=hashlib.sha256(text.encode()).hexdigest(), content_text=text,
                      patient_typed_name="Alex Test", signature_png=b"\x89PNG\r\n", signature_sha256="0" * 64, witnessed_by_id=witness.id)
    db.session.add(consent)
    db.session.commit()
    return consent


def treatable_plan(patient: Patient, author: User, modality: str = "microneedling") -> TreatmentPlan:
    """A proceed consultation with a plan and a signed consent: ready for sessions."""
    consultation = make_consultation(patient, author, modality=modality)
    make_consent(consultation, author)
    return make_plan(consultation)


def complete_session_form(**overrides: Any) -> dict[str, Any]:
    """Form data for a complete, signable microneedling session."""
    today = date.today()
    data = {
        "session_date": today.isoformat(), "start_time": "10:30", "history_reviewed": "yes", "photo_consent": "no",
        "device_make": "Crown Aesthetics", "device_model": "SkinPen Precision", "device_serial": "SP-00123",
        "device_max_depth_mm": "1.5", "cartridge_product": "SkinPen cartridge", "needle_count": "14",
        "cartridge_lot": "LOT-A1", "cartridge_expiry": (today + timedelta(days=200)).isoformat(), "sterile_pack_intact": "yes",
        "cleanser": "Gentle cleanser", "antiseptic": "Chlorhexidine 0.05%", "anaesthetic_used": "no",
        "zones-0-zone": "cheeks", "zones-0-depth_mm": "1.25", "zones-0-passes": "3", "zones-0-technique": "cross_hatch",
        "products-0-name": "Hyaluronic glide gel", "products-0-lot": "HG-778", "products-0-labelled_for_needled_skin": "yes",
        "endpoint": "erythema_uniform", "pain_score": "3", "no_adverse_events": "y",
        "next_appointment_on": (today + timedelta(days=28)).isoformat(), "clinical_note": "Tolerated well.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}
