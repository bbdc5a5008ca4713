"""Issued documents: the exact PDF bytes a patient was given, with their hash, content version, who and when."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.database import Base, PublicIdMixin, utcnow


def __getattr__(name: str) -> Any:
    """`DocumentKind`: built by the catalogue (practitioner.documents.kinds) from its kind modules, and read from there."""
    if name == "DocumentKind":
        from practitioner.documents.kinds import DocumentKind

        return DocumentKind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class KindColumn(TypeDecorator[str]):
    """issued_documents.kind: the kind's code as text (VARCHAR(30), as migration 0004 made it), read back as a DocumentKind.

    An unknown code is refused on the way in and on the way out (ValueError), as the Enum column it replaces did.
    """

    impl = String(30)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        """The code to store."""
        from practitioner.documents.kinds import DocumentKind

        return None if value is None else DocumentKind(value).value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        """The DocumentKind of a stored code."""
        from practitioner.documents.kinds import DocumentKind

        return None if value is None else DocumentKind(value)


class IssuedDocument(PublicIdMixin, Base):
    """One issued version of a document. Never changed: a re-issue is a new row with the next version."""

    __tablename__ = "issued_documents"
    __table_args__ = (
        UniqueConstraint("kind", "source_id", "version", name="kind_source_version"),
        Index("ix_issued_documents_patient_id_issued_at", "patient_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(KindColumn())  # a DocumentKind once loaded
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


class JobState(enum.StrEnum):
    """Where a document job stands: waiting (or waiting to retry), being rendered, archived, or given up."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DocumentJob(PublicIdMixin, Base):
    """A document to issue off the request path (the aftercare at signing): any web process may claim and render it.

    Claimed by one UPDATE ... WHERE state is still claimable (practitioner.documents.jobs.claim), so two
    workers never render the same job; a failed attempt waits `run_after` and is tried again up to
    jobs.MAX_ATTEMPTS times, then the job is FAILED with `error` in words and can be tried again from the page.
    """

    __tablename__ = "document_jobs"
    __table_args__ = (
        Index("ix_document_jobs_state_run_after", "state", "run_after"),
        Index("ix_document_jobs_kind_source_id", "kind", "source_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(KindColumn())  # a DocumentKind once loaded
    source_id: Mapped[str] = mapped_column(String(36))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    issued_on: Mapped[date]
    large_print: Mapped[bool] = mapped_column(default=False)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    state: Mapped[JobState] = mapped_column(
        Enum(JobState, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]), default=JobState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(80), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    error: Mapped[str] = mapped_column(String(500), default="")
    issued_document_id: Mapped[int | None] = mapped_column(ForeignKey("issued_documents.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)

    issued_document = relationship("IssuedDocument", lazy="joined")
