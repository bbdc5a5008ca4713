"""Issued documents: the exact PDF bytes a patient was given, with their hash, content version, who and when."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.database import Base, PublicIdMixin, utcnow


class DocumentKind(enum.StrEnum):
    """The codes of the document kinds, as the archive stores them (issued_documents.kind).

    Everything else about a kind (label, number prefix, source, template, readiness, who it is
    for, how it is built) is declared once, in its module under practitioner/documents/kinds/.
    """

    TREATMENT_GUIDE = "treatment-guide"
    AFTERCARE = "aftercare"
    CONSENT_FORM = "consent-form"
    CONSULTATION_SUMMARY = "consultation-summary"
    SESSION_RECORD = "session-record"
    PATIENT_EXPORT = "patient-export"

    @property
    def document_type(self) -> Any:
        """This kind's DocumentType, from the catalogue (practitioner.documents.kinds)."""
        # Imported here: the catalogue's modules import the models, the models never need the catalogue to load.
        from practitioner.documents.kinds import get

        return get(self)

    @property
    def label(self) -> str:
        """As shown to people."""
        return self.document_type.label

    @property
    def for_patient(self) -> bool:
        """Given to the patient (guide, aftercare, consent, export); the others are for the clinic's file."""
        return self.document_type.for_patient

    @property
    def issue_label(self) -> str:
        """The button that issues it: given to the patient, or saved to the clinic's file."""
        return self.document_type.issue_label

    @property
    def issued_phrase(self) -> str:
        """How the timeline and the Documents list say what happened to an issued copy."""
        return self.document_type.issued_phrase


class IssuedDocument(PublicIdMixin, Base):
    """One issued version of a document. Never changed: a re-issue is a new row with the next version."""

    __tablename__ = "issued_documents"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", "version", name="kind_source_version"),
        Index("ix_issued_documents_patient_id_issued_at", "patient_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[DocumentKind] = mapped_column(Enum(DocumentKind, native_enum=False, length=30, values_callable=lambda e: [m.value for m in e]))
    source_id: Mapped[str] = mapped_column(String(36))
    version: Mapped[int]
    number: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(120))
    content_version: Mapped[str] = mapped_column(String(80))
    large_print: Mapped[bool] = mapped_column(default=False)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    json_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    json_sha256: Mapped[str] = mapped_column(String(64), default="")
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

    issued_by = relationship("User", lazy="joined")
