"""A treatment plan made from a consultation: the course, and the zones with their depth ranges."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Numeric, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.clinical.screening import MODALITIES
from practitioner.clinical.vocabulary import TECHNIQUES
from practitioner.consultations.models import Consultation
from practitioner.database import AuditedMixin, Base, PublicIdMixin, code_enum

PLAN_ZONES = ("forehead", "glabella", "periorbital", "nose", "perioral", "cheeks", "chin_jaw", "neck", "decolletage", "scar_area")


class PlanStatus(enum.StrEnum):
    """Where a plan stands."""

    ACTIVE = "active"
    COMPLETED = "completed"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        """As shown to people."""
        return {"active": "Active", "completed": "Completed", "stopped": "Stopped"}[self.value]


class TreatmentPlan(PublicIdMixin, AuditedMixin, Base):
    """How many sessions, how often, which zones at which depths: made from a consultation."""

    __tablename__ = "treatment_plans"
    __table_args__ = (
        CheckConstraint("sessions_planned BETWEEN 1 AND 12", name="sessions_range"),
        CheckConstraint("interval_weeks BETWEEN 1 AND 26", name="interval_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    modality: Mapped[str] = mapped_column(code_enum("plan_modality", MODALITIES))
    sessions_planned: Mapped[int]
    interval_weeks: Mapped[int]
    first_session_on: Mapped[date]
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[PlanStatus] = mapped_column(
        Enum(PlanStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]), default=PlanStatus.ACTIVE
    )

    consultation: Mapped[Consultation] = relationship(lazy="joined", innerjoin=True)
    zones: Mapped[list[PlanZone]] = relationship(cascade="all, delete-orphan", order_by="PlanZone.position", lazy="selectin")

    @property
    def sessions_done(self) -> int:
        """Signed sessions on this plan (the treatments feature adds the `treatment_sessions` link)."""
        return sum(1 for s in getattr(self, "treatment_sessions", ()) if s.signed_at is not None)

    @property
    def sessions_remaining(self) -> int:
        """Planned minus done, never below zero."""
        return max(0, self.sessions_planned - self.sessions_done)


class PlanZone(Base):
    """One zone of a plan with its suggested depth range."""

    __tablename__ = "plan_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    position: Mapped[int]
    zone: Mapped[str] = mapped_column(code_enum("plan_zone", PLAN_ZONES, 20))
    depth_min_mm: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    depth_max_mm: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    note: Mapped[str] = mapped_column(Text, default="")
    # Planned for each session of the course (blank: the practitioner decides at the session); session 1 starts from them.
    passes: Mapped[int | None]
    technique: Mapped[str | None] = mapped_column(code_enum("technique", TECHNIQUES, 20))


# Consultations sit below plans in the feature chain, so the consultation cannot name the plan class;
# the plans feature adds the link its page lists ("the plans made from this consultation").
Consultation.plans = relationship(
    TreatmentPlan, primaryjoin=Consultation.id == TreatmentPlan.consultation_id, viewonly=True, lazy="select",
    order_by=TreatmentPlan.id,
)
