"""Signing a consent: check the consultation allows treatment, check the drawn signature, keep it all."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.screening import DECISION_LABELS
from practitioner.consents.content import ConsentContent, sha256
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.dates import day_month_year, to_clinic_time
from practitioner.errors import NotAllowed
# The drawn signature's checks and re-encoding are shared with the intake (practitioner/signatures.py).
from practitioner.signatures import InvalidSignature, decode_signature  # noqa: F401  (InvalidSignature: the views catch it)

def consent_refusal(consultation: Consultation) -> str | None:
    """Why consent cannot be signed for this consultation, with what to do, or None when it can."""
    if consultation.allows_treatment:
        return None
    label = DECISION_LABELS.get(consultation.decision, consultation.decision)
    after = f" (not before {consultation.rebook_from:%-d %B %Y})" if consultation.rebook_from else ""
    override = "record an override with your reason on the consultation page first"
    if consultation.decision == "defer":
        return (f"Consent cannot be signed: the screening result is “{label}”{after}, so treatment should wait. "
                f"Re-book the patient and take consent at that visit, or, if you decide to treat today, {override}.")
    if consultation.decision == "refer":
        return ("Consent cannot be signed: the screening result is “Refer”, so the patient needs medical input or "
                "clearance first. Once you have it, update the screening, or " + override + ".")
    return (f"Consent cannot be signed: the screening result is “{label}” for this treatment. Discuss the "
            f"alternatives with the patient; if you still decide to go ahead, {override}.")


def sign_consent(
    session: Session, consultation: Consultation, content: ConsentContent, *, typed_name: str, signature_data_url: str,
    photo_clinical: bool, photo_marketing: bool, actor: User, ip_address: str = "",
) -> Consent:
    """Record a signed consent: the exact text and its hash, the signature, the photo choices, the witness."""
    refusal = consent_refusal(consultation)
    if refusal:
        raise NotAllowed(refusal)
    if content.modality != consultation.modality:
        raise ValueError(f"consent text for {content.modality} given for a {consultation.modality} consultation")
    signature = decode_signature(signature_data_url)
    text = content.text
    consent = Consent(
        patient_id=consultation.patient_id,
        consultation_id=consultation.id,
        modality=consultation.modality,
        content_version=content.version,
        content_sha256=sha256(text),
        content_text=text,
        photo_clinical=bool(photo_clinical),
        photo_marketing=bool(photo_marketing),
        patient_typed_name=typed_name.strip(),
        signature_png=signature,
        signature_sha256=sha256(signature),
        witnessed_by_id=actor.id,
    )
    session.add(consent)
    session.flush()
    audit.append(session, "consent.sign", actor=actor, patient=consultation.patient, target=f"consent:{consent.public_id}",
                 detail={"version": consent.content_version, "sha256": consent.content_sha256,
                         "photo_clinical": consent.photo_clinical, "photo_marketing": consent.photo_marketing,
                         "record_sha256": consent_record_hash(consent)},
                 ip_address=ip_address)
    return consent


def consent_record_hash(consent: Consent) -> str:
    """SHA-256 of everything a signed consent says: the text's and signature's hashes, the choices, the name, who, when."""
    values = {"patient_id": consent.patient_id, "consultation_id": consent.consultation_id, "modality": consent.modality,
              "content_version": consent.content_version, "content_sha256": consent.content_sha256,
              "signature_sha256": consent.signature_sha256, "photo_clinical": consent.photo_clinical,
              "photo_marketing": consent.photo_marketing, "patient_typed_name": consent.patient_typed_name,
              "signed_at": audit.utc_text(consent.signed_at), "witnessed_by_id": consent.witnessed_by_id}
    return sha256(json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def integrity_problems(session: Session, consent: Consent, sealed: audit.SealedDetails | None = None) -> list[str]:
    """What no longer matches what was signed: the text and the signature against their stored SHA-256, and the
    whole consent against its signing audit row. Empty when everything matches. `sealed`: the audit rows read
    beforehand for many records at once (audit.sealed_details_for)."""
    problems = []
    if sha256(consent.content_text) != consent.content_sha256:
        problems.append("the consent text does not match its stored SHA-256")
    if sha256(consent.signature_png) != consent.signature_sha256:
        problems.append("the signature image does not match its stored SHA-256")
    sealed = audit.sealed_details(session, "consent.sign", f"consent:{consent.public_id}", patient_id=consent.patient_id,
                                  prefetched=sealed)
    if not sealed:
        problems.append("the consent has no intact signing audit row")
    elif not any(d.get("sha256") == consent.content_sha256 and d.get("photo_clinical") == consent.photo_clinical
                 and d.get("photo_marketing") == consent.photo_marketing
                 and d.get("record_sha256", consent_record_hash(consent)) == consent_record_hash(consent) for d in sealed):
        problems.append("the consent does not match what its signing audit row sealed")
    return problems


def tamper_warning(consent: Consent) -> str:
    """The red warning shown on a consent that no longer matches what was signed."""
    return audit.TAMPER_WARNING.format(signed_on=day_month_year(to_clinic_time(consent.signed_at).date()))


def consents_for_consultation(session: Session, consultation: Consultation) -> list[Consent]:
    """The consents signed for a consultation, oldest first."""
    return list(session.scalars(
        select(Consent).where(Consent.consultation_id == consultation.id).order_by(Consent.signed_at, Consent.id)
    ))


