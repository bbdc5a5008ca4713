"""A patient intake: the health questions the patient answers on the clinic's tablet or by a one-time link.

Open, the intake holds a draft of the answers so far. Submitted, it holds the signed answers exactly as
given (text version, canonical answers JSON, time, re-encoded signature, SHA-256), and the database
refuses any change to them (migration 0019); only the review (who, when) may still be set, once.
Expiry is computed from `expires_at`, never stored. See docs/intake.md.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.database import AuditedMixin, Base, PublicIdMixin, code_enum

CHANNELS = ("tablet", "link")
STATUSES = ("open", "submitted", "abandoned")


class PatientIntake(PublicIdMixin, AuditedMixin, Base):
    """One intake questionnaire for one patient, started by a staff member, answered by the patient."""

    __tablename__ = "patient_intakes"
    __table_args__ = (
        CheckConstraint("(status = 'submitted') = (submitted_at IS NOT NULL)", name="submitted_when_status"),
        CheckConstraint("dob_failures >= 0", name="dob_failures_not_negative"),
        # pending_for_patient: a patient's submitted intakes not yet reviewed.
        Index("ix_patient_intakes_patient_id_status", "patient_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    channel: Mapped[str] = mapped_column(code_enum("intake_channel", CHANNELS, 10))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    # SHA-256 (hex) of the link's token; the token itself is never stored. NULL for a tablet intake.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    dob_failures: Mapped[int] = mapped_column(default=0)
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    draft: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(code_enum("intake_status", STATUSES, 20), default="open")
    abandoned_at: Mapped[datetime | None] = mapped_column(nullable=True)

    # The signed intake: set once by submit, locked by the database from then on.
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    text_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    answers_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    signature_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)

    # The review: set once, when a consultation started from this intake is saved.
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)

    patient = relationship("Patient", lazy="joined", innerjoin=True)
    started_by = relationship("User", foreign_keys=[started_by_id], lazy="select")
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], lazy="select")

    def is_expired(self, now: datetime) -> bool:
        """The link or tablet time has run out (computed, never stored)."""
        return now >= self.expires_at

    def is_open(self, now: datetime) -> bool:
        """Still answerable: open (not submitted nor abandoned) and not expired."""
        return self.status == "open" and not self.is_expired(now)

    @property
    def is_submitted(self) -> bool:
        """Signed and kept: the answers can no longer change."""
        return self.status == "submitted"

    @property
    def answers(self) -> dict[str, Any]:
        """The signed answers (the shape in docs/intake.md); empty until submitted."""
        return _loads(self.answers_json)

    @property
    def draft_answers(self) -> dict[str, Any]:
        """The answers so far while open (the same shape as the signed answers)."""
        return _loads(self.draft)


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
