"""A signed consent: the exact text shown, its hash, the drawn signature, the witness."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.clinical.screening import MODALITIES
from practitioner.consultations.models import Consultation
from practitioner.database import Base, PublicIdMixin, code_enum, utcnow


class Consent(PublicIdMixin, Base):
    """A signed consent: the exact text shown, its hash, the drawn signature, who witnessed, when.

    Never edited: the database refuses updates and deletes. A new version is a new consent.
    """

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    modality: Mapped[str] = mapped_column(code_enum("consent_modality", MODALITIES))
    content_version: Mapped[str] = mapped_column(String(40))
    content_sha256: Mapped[str] = mapped_column(String(64))
    content_text: Mapped[str] = mapped_column(Text)
    photo_clinical: Mapped[bool] = mapped_column(default=False)
    photo_marketing: Mapped[bool] = mapped_column(default=False)
    patient_typed_name: Mapped[str] = mapped_column(String(200))
    signature_png: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    signature_sha256: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    witnessed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    witnessed_by = relationship("User", lazy="joined")
    consultation: Mapped[Consultation] = relationship(lazy="joined", innerjoin=True)


# Consultations sit below consents in the feature chain, so the consultation cannot name the consent
# class; the consents feature adds the link the consultation's page lists.
Consultation.consents = relationship(
    Consent, primaryjoin=Consultation.id == Consent.consultation_id, viewonly=True, lazy="select", order_by=Consent.id,
)
