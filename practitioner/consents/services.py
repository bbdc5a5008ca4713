"""Signing a consent: check the consultation allows treatment, check the drawn signature, keep it all."""

from __future__ import annotations

import base64
import json
import binascii
import io
import warnings

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.auth.models import User
from practitioner.clinical.screening import DECISION_LABELS
from practitioner.consents.content import ConsentContent, sha256
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.dates import day_month_year, to_clinic_time
from practitioner.errors import DomainError, NotAllowed

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 500 * 1024
MIN_SIZE = (100, 50)
MAX_SIZE = (4096, 2048)
# A pixel is ink when it is darker than this on white (0-255); a signature needs a few dozen.
INK_LEVEL = 160
MIN_INK_PIXELS = 50

SIGN_AGAIN = "Clear the box and ask the patient to sign again."


class InvalidSignature(DomainError):
    """The drawn signature is missing, not a PNG, too large, or blank."""


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


def decode_signature(data_url: str) -> bytes:
    """A drawn signature sent as a data: URL, decoded, checked and re-encoded as a fresh PNG (InvalidSignature saying why not).

    Only the re-encoded pixels are kept: whatever else the posted file carried (text chunks, a trailer
    after its end, another file appended) is not stored.
    """
    data_url = (data_url or "").strip()
    if not data_url:
        raise InvalidSignature("Ask the patient to sign in the box.")
    if not data_url[: len(DATA_URL_PREFIX)].lower() == DATA_URL_PREFIX:
        raise InvalidSignature(f"The signature was not received as a PNG image. {SIGN_AGAIN}")
    encoded = data_url[len(DATA_URL_PREFIX):]
    if len(encoded) > (MAX_SIGNATURE_BYTES * 4) // 3 + 4:
        raise InvalidSignature(f"The signature image is too large. {SIGN_AGAIN}")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature(f"The signature image could not be read. {SIGN_AGAIN}") from exc
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise InvalidSignature(f"The signature image is too large. {SIGN_AGAIN}")
    return _reencoded_png(raw)


def _reencoded_png(raw: bytes) -> bytes:
    try:
        # Pillow warns (rather than fails) on some malformed or huge images: treat that as unreadable.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with Image.open(io.BytesIO(raw)) as image:
                if image.format != "PNG":
                    raise InvalidSignature(f"The signature was not received as a PNG image. {SIGN_AGAIN}")
                width, height = image.size
                if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
                    raise InvalidSignature(f"The signature image is {width}×{height} pixels, which is not a usable size. {SIGN_AGAIN}")
                image.load()
                rgba = image.convert("RGBA")
    except InvalidSignature:
        raise
    except Exception as exc:  # Pillow raises many types for a damaged file; all mean the same here
        raise InvalidSignature(f"The signature image could not be read. {SIGN_AGAIN}") from exc
    # Transparent pixels count as paper, whatever colour they hold.
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    if sum(flat.histogram()[:INK_LEVEL]) < MIN_INK_PIXELS:
        raise InvalidSignature("The signature box is empty. Ask the patient to sign in the box.")
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue()


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


def integrity_problems(session: Session, consent: Consent) -> list[str]:
    """What no longer matches what was signed: the text and the signature against their stored SHA-256, and the
    whole consent against its signing audit row. Empty when everything matches."""
    problems = []
    if sha256(consent.content_text) != consent.content_sha256:
        problems.append("the consent text does not match its stored SHA-256")
    if sha256(consent.signature_png) != consent.signature_sha256:
        problems.append("the signature image does not match its stored SHA-256")
    sealed = audit.sealed_details(session, "consent.sign", f"consent:{consent.public_id}", patient_id=consent.patient_id)
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


