"""Factories for clinical records, inserted directly (the pages that make them have their own tests)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from practitioner.auth.models import User
from practitioner.clinical.questions import QUESTIONS
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation, ConsultationArea
from practitioner.plans.models import PlanZone, TreatmentPlan
from practitioner.extensions import db
from practitioner.patients.models import Patient


# Every screening question answered explicitly with the answer that raises nothing (nothing is left
# to a default: an unanswered question is NULL, and the screening refuses it).
HEALTHY_ANSWERS: dict[str, Any] = {q.name: q.no_answer for q in QUESTIONS}


def make_consultation(patient: Patient, author: User, *, modality: str = "microneedling", decision: str = "proceed",
                      **values: Any) -> Consultation:
    """A committed consultation with the given (already computed) decision and every screening question answered."""
    values = {**HEALTHY_ANSWERS, **values}
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
    seal_consent(consent)
    db.session.commit()
    return consent


def seal_consent(consent: Consent) -> Consent:
    """Add a consent built directly as signing does: its text's and signature's SHA-256, and its sealing audit row."""
    from practitioner import audit
    from practitioner.consents.services import consent_record_hash

    consent.content_sha256 = hashlib.sha256(consent.content_text.encode()).hexdigest()
    consent.signature_sha256 = hashlib.sha256(consent.signature_png).hexdigest()
    db.session.add(consent)
    db.session.flush()
    audit.append(db.session, "consent.sign", actor_label="test", patient=consent.patient_id, target=f"consent:{consent.public_id}",
                 detail={"version": consent.content_version, "sha256": consent.content_sha256, "photo_clinical": consent.photo_clinical,
                         "photo_marketing": consent.photo_marketing, "record_sha256": consent_record_hash(consent)})
    return consent


def seal_document(issued: Any) -> Any:
    """Add an issued document built directly as issuing does: its bytes' SHA-256 and its sealing audit row."""
    from practitioner import audit

    issued.pdf_sha256 = hashlib.sha256(issued.pdf).hexdigest()
    issued.json_sha256 = hashlib.sha256(issued.json_data).hexdigest() if issued.json_data else ""
    db.session.add(issued)
    db.session.flush()
    audit.append(db.session, "document.issue", actor_label="test", patient=issued.patient_id, target=f"document:{issued.public_id}",
                 detail={"number": issued.number, "sha256": issued.pdf_sha256,
                         **({"json_sha256": issued.json_sha256} if issued.json_sha256 else {})})
    return issued


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
        # Today's re-screen, every question answered (nothing is answered by default).
        "pregnant_now": "no", "breastfeeding_now": "no", "cold_sore_now": "no", "anticoagulant_now": "no", "isotretinoin_now": "no",
        "had_sunburn": "no", "had_neurotoxin": "no", "had_filler": "no", "had_resurfacing": "no",
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


def signed_session(plan: TreatmentPlan, author: User, **overrides: Any):
    """A complete session for a plan, signed through the real service (so its hash and lock are real)."""
    from practitioner.treatments.models import SessionAdverseEvent, SessionProduct, SessionZone, TreatmentSession
    from practitioner.treatments.services import rescreen, sign_session
    from practitioner.clinical.screening import Policy

    consent = db.session.scalars(db.select(Consent).where(Consent.patient_id == plan.patient_id)).first()
    values: dict[str, Any] = dict(
        patient_id=plan.patient_id, plan_id=plan.id, sequence=overrides.pop("sequence", 1), practitioner_id=author.id,
        session_date=overrides.pop("session_date", date.today()), consent_id=consent.id if consent else None, history_reviewed=True,
        photo_consent=False, device_make="Crown Aesthetics", device_model="SkinPen Precision", device_serial="SP-1",
        device_max_depth_mm=Decimal("1.5"), cartridge_product="SkinPen cartridge", needle_count=14, cartridge_lot="LOT-A1",
        cartridge_expiry=date.today() + timedelta(days=100), sterile_pack_intact=True, anaesthetic_used=False,
        endpoint="erythema_uniform", pain_score=3, no_adverse_events=True, no_products_applied=True, clinical_note="Tolerated well.",
    )
    if plan.modality == "prp_microneedling":
        values.update(prp_kit_lot="PRP-KIT-9", prp_volume_ml=Decimal("20"), prp_spin_protocol="Single spin, 10 min", prp_tube_labelled=True)
    zones = overrides.pop("zones", (("cheeks", "1.25"),))
    products = overrides.pop("products", ())
    events = overrides.pop("adverse_events", ())
    # Today's re-screen answered explicitly, as signing needs: No to each question, Yes where a date is given.
    values.update(pregnant_now=False, breastfeeding_now=False, cold_sore_now=False, anticoagulant_now=False, isotretinoin_now=False)
    values.update(overrides)
    for answer, day in (("had_sunburn", "sunburn_on"), ("had_neurotoxin", "neurotoxin_on"), ("had_filler", "filler_on"),
                        ("had_resurfacing", "resurfacing_on")):
        values.setdefault(answer, values.get(day) is not None)
    if products:
        values["no_products_applied"] = False
    if events:
        values["no_adverse_events"] = False
    record = TreatmentSession(**values)
    rf = {"rf_energy": Decimal("15"), "rf_energy_unit": "mJ/pin"} if plan.modality == "rf_microneedling" else {}
    record.zones = [SessionZone(position=i, zone=z, depth_mm=Decimal(d), passes=3, technique="glide", **rf) for i, (z, d) in enumerate(zones)]
    record.products = [SessionProduct(position=i, name=n, lot=lot, labelled_for_needled_skin=True) for i, (n, lot) in enumerate(products)]
    record.adverse_events = [SessionAdverseEvent(position=i, kind=k, action_taken="Cold compress") for i, k in enumerate(events)]
    db.session.add(record)
    db.session.flush()
    rescreen(record, Policy())
    # Signed as the sign page signs: from the values as stored (a Decimal("1.5") reads back as 1.50), so the
    # record's SHA-256 is re-computable from the database, as every re-check does.
    db.session.flush()
    db.session.expire_all()
    sign_session(db.session, record, actor=author, expected_version=None)
    db.session.commit()
    return record


def draft_ready_to_sign(client: Any, practitioner: User) -> str:
    """A session drafted and saved complete through the pages (new patient, treatable plan); its record page's URL."""
    import re

    from tests.conftest import make_patient, post_form

    patient = make_patient(actor=practitioner, given_name="Ola", family_name="Nowak")
    plan = treatable_plan(patient, practitioner)
    record_url = post_form(client, f"/plans/{plan.public_id}/sessions/new", {}).headers["Location"].removesuffix("/edit")
    page = record_url + "/edit"
    version = re.search(r'name="version" type="hidden" value="(\d+)"', client.get(page).get_data(as_text=True)).group(1)
    assert post_form(client, page, {**complete_session_form(), "version": version}).status_code == 303
    return record_url


def sign_on_the_page(client: Any, record_url: str) -> Any:
    """Sign the session at `record_url` as its page does (with the version the page shows); the response."""
    import re

    from tests.conftest import post_form

    version = re.search(r'name="version" type="hidden" value="(\d+)"', client.get(record_url).get_data(as_text=True)).group(1)
    return post_form(client, record_url + "/sign", {"version": version}, page=record_url)
