"""Visits and consent forms for the capture, consent and marketing tests (records inserted directly)."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, timedelta, timezone
from typing import Any

from PIL import Image

from practitioner.auth.models import User
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.extensions import db
from practitioner.photos.models import PhotoConsentWithdrawal
from practitioner.treatments.models import SessionZone, TreatmentSession
from tests.factories import make_consultation, make_plan


def photo_bytes(colour: tuple[int, int, int] = (200, 150, 130), size: tuple[int, int] = (320, 240)) -> bytes:
    """A small real JPEG, as a camera would send (without the metadata: the imaging tests cover that)."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=85)
    return out.getvalue()


def sign_form(consultation: Consultation, witness: User, *, clinical: bool = True, marketing: bool = False,
              signed_at: datetime | None = None) -> Consent:
    """A committed signed consent form with the photography choices given."""
    text = f"Consent {clinical} {marketing} {signed_at}"
    consent = Consent(patient_id=consultation.patient_id, consultation_id=consultation.id, modality=consultation.modality,
                      content_version="test-1", content_sha256=hashlib.sha256(text.encode()).hexdigest(), content_text=text,
                      photo_clinical=clinical, photo_marketing=marketing, patient_typed_name="Alex Test",
                      signature_png=b"\x89PNG\r\n", signature_sha256="0" * 64, witnessed_by_id=witness.id,
                      signed_at=signed_at or datetime.now(timezone.utc))
    db.session.add(consent)
    db.session.commit()
    return consent


def withdraw(patient_id: int, scope: str, author: User, *, at: datetime | None = None) -> PhotoConsentWithdrawal:
    """A committed withdrawal, recorded directly."""
    row = PhotoConsentWithdrawal(patient_id=patient_id, scope=scope, reason="Changed their mind", recorded_by_id=author.id,
                                 withdrawn_at=at or datetime.now(timezone.utc))
    db.session.add(row)
    db.session.commit()
    return row


def consultation_with_consent(patient: Any, author: User, **choices: Any) -> tuple[Consultation, Consent]:
    """A proceed consultation (cheeks) and a consent form with the given photo choices."""
    consultation = make_consultation(patient, author)
    return consultation, sign_form(consultation, author, **choices)


def draft_session(consultation: Consultation, author: User, *, photo_consent: bool | None = True,
                  zones: tuple[str, ...] = ("cheeks",)) -> TreatmentSession:
    """A committed draft session of a new plan on the consultation, with its treated zones."""
    plan = make_plan(consultation)
    consent = db.session.scalars(db.select(Consent).where(Consent.patient_id == consultation.patient_id)).first()
    record = TreatmentSession(patient_id=consultation.patient_id, plan_id=plan.id, sequence=1, practitioner_id=author.id,
                              session_date=date.today(), consent_id=consent.id if consent else None, photo_consent=photo_consent)
    from decimal import Decimal

    record.zones = [SessionZone(position=i, zone=z, depth_mm=Decimal("1.0"), passes=2, technique="glide") for i, z in enumerate(zones)]
    db.session.add(record)
    db.session.commit()
    return record


def a_minute_later(moment: datetime) -> datetime:
    """A moment after another (for ordering withdrawals and forms)."""
    return moment + timedelta(minutes=1)
