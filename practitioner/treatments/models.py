"""The treatment session record: every field of docs/session-record.md, signed and locked, with addenda."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.clinical.screening import DECISIONS
from practitioner.clinical.vocabulary import TECHNIQUES
from practitioner.plans.models import PLAN_ZONES, TreatmentPlan
from practitioner.database import AuditedMixin, Base, PublicIdMixin, code_enum, utcnow

ENDPOINTS = ("erythema_mild", "erythema_uniform", "pinpoint_bleeding", "petechiae", "other")
# Today's re-screen questions, in the order asked (each explicit Yes or No, none answered by default): the five
# Yes/No ones, then each dated one ("since the last visit?") with the date a Yes asks for.
RESCREEN_YES_NO = ("pregnant_now", "breastfeeding_now", "cold_sore_now", "anticoagulant_now", "isotretinoin_now")
RESCREEN_DATED = {"had_sunburn": "sunburn_on", "had_neurotoxin": "neurotoxin_on", "had_filler": "filler_on",
                  "had_resurfacing": "resurfacing_on"}
# Each re-screen question as the record and the refusal to sign name it.
RESCREEN_QUESTIONS = {
    "pregnant_now": "Pregnant now", "breastfeeding_now": "Breastfeeding now", "cold_sore_now": "Cold sore now",
    "anticoagulant_now": "On a prescribed anticoagulant now", "isotretinoin_now": "Taking isotretinoin now",
    "had_sunburn": "Sunburn or heavy tan since the last visit", "had_neurotoxin": "Botulinum toxin since the last visit",
    "had_filler": "Filler in the area since the last visit", "had_resurfacing": "Peel, laser or resurfacing since the last visit",
}
ADVERSE_EVENTS = ("excessive_bleeding", "bruising", "vasovagal", "severe_pain_stopped", "burn_or_blister", "allergic_reaction", "other")



class SessionStatus(enum.StrEnum):
    """Draft until signed; signed means locked."""

    DRAFT = "draft"
    SIGNED = "signed"


class TreatmentSession(PublicIdMixin, AuditedMixin, Base):
    """One visit's treatment: belongs to a patient and a plan ("session k of n")."""

    __tablename__ = "treatment_sessions"
    __table_args__ = (
        CheckConstraint("pain_score IS NULL OR pain_score BETWEEN 0 AND 10", name="pain_range"),
        Index("ix_treatment_sessions_cartridge_lot", "cartridge_lot"),
        Index("ix_treatment_sessions_prp_kit_lot", "prp_kit_lot"),
        Index("ix_treatment_sessions_practitioner_status", "practitioner_id", "status"),
        Index("ix_treatment_sessions_patient_date", "patient_id", "session_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[SessionStatus] = mapped_column(
        Enum(SessionStatus, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]), default=SessionStatus.DRAFT)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    sequence: Mapped[int]
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    supervisor: Mapped[str] = mapped_column(String(120), default="")
    session_date: Mapped[date]
    start_time: Mapped[time | None] = mapped_column(nullable=True)

    # Re-screen today: each question answered Yes or No (None: not answered yet; on sessions signed before
    # migration 0012 a had_* is None where the old form asked only for a date and none was given).
    history_reviewed: Mapped[bool | None] = mapped_column(nullable=True)
    changes_since_consultation: Mapped[str] = mapped_column(Text, default="")
    pregnant_now: Mapped[bool | None] = mapped_column(nullable=True)
    breastfeeding_now: Mapped[bool | None] = mapped_column(nullable=True)
    cold_sore_now: Mapped[bool | None] = mapped_column(nullable=True)
    had_sunburn: Mapped[bool | None] = mapped_column(nullable=True)
    sunburn_on: Mapped[date | None] = mapped_column(nullable=True)
    new_medicines: Mapped[str] = mapped_column(Text, default="")
    anticoagulant_now: Mapped[bool | None] = mapped_column(nullable=True)
    isotretinoin_now: Mapped[bool | None] = mapped_column(nullable=True)
    had_neurotoxin: Mapped[bool | None] = mapped_column(nullable=True)
    neurotoxin_on: Mapped[date | None] = mapped_column(nullable=True)
    had_filler: Mapped[bool | None] = mapped_column(nullable=True)
    filler_on: Mapped[date | None] = mapped_column(nullable=True)
    had_resurfacing: Mapped[bool | None] = mapped_column(nullable=True)
    resurfacing_on: Mapped[date | None] = mapped_column(nullable=True)
    rescreen_decision: Mapped[str | None] = mapped_column(code_enum("rescreen_decision", DECISIONS), nullable=True)
    override_reason: Mapped[str] = mapped_column(Text, default="")
    override_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    override_at: Mapped[datetime | None] = mapped_column(nullable=True)

    # Consent
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consents.id"), nullable=True)
    photo_consent: Mapped[bool | None] = mapped_column(nullable=True)

    # Device and cartridge
    device_make: Mapped[str] = mapped_column(String(120), default="")
    device_model: Mapped[str] = mapped_column(String(120), default="")
    device_serial: Mapped[str] = mapped_column(String(120), default="")
    device_max_depth_mm: Mapped[Decimal | None] = mapped_column(Numeric(4, 2), nullable=True)
    rf_handpiece: Mapped[str] = mapped_column(String(120), default="")
    rf_tip_insulated: Mapped[bool | None] = mapped_column(nullable=True)
    rf_tip_gold_plated: Mapped[bool | None] = mapped_column(nullable=True)
    cartridge_product: Mapped[str] = mapped_column(String(120), default="")
    needle_count: Mapped[int | None] = mapped_column(nullable=True)
    cartridge_lot: Mapped[str] = mapped_column(String(80), default="")
    cartridge_expiry: Mapped[date | None] = mapped_column(nullable=True)
    sterile_pack_intact: Mapped[bool | None] = mapped_column(nullable=True)

    # Skin preparation and anaesthetic
    cleanser: Mapped[str] = mapped_column(String(120), default="")
    antiseptic: Mapped[str] = mapped_column(String(120), default="")
    anaesthetic_used: Mapped[bool | None] = mapped_column(nullable=True)
    anaesthetic_product: Mapped[str] = mapped_column(String(120), default="")
    anaesthetic_concentration: Mapped[str] = mapped_column(String(60), default="")
    anaesthetic_applied_at: Mapped[time | None] = mapped_column(nullable=True)
    anaesthetic_removed_at: Mapped[time | None] = mapped_column(nullable=True)

    # Products on needled skin ("none" is an explicit answer)
    no_products_applied: Mapped[bool] = mapped_column(default=False)

    # PRP
    prp_kit_lot: Mapped[str] = mapped_column(String(80), default="")
    prp_volume_ml: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), nullable=True)
    prp_spin_protocol: Mapped[str] = mapped_column(String(200), default="")
    prp_tube_labelled: Mapped[bool | None] = mapped_column(nullable=True)

    # Outcome
    endpoint: Mapped[str | None] = mapped_column(code_enum("endpoint", ENDPOINTS), nullable=True)
    endpoint_other: Mapped[str] = mapped_column(String(200), default="")
    pain_score: Mapped[int | None] = mapped_column(nullable=True)
    no_adverse_events: Mapped[bool] = mapped_column(default=False)
    post_care_products: Mapped[str] = mapped_column(Text, default="")
    next_appointment_on: Mapped[date | None] = mapped_column(nullable=True)
    clinical_note: Mapped[str] = mapped_column(Text, default="")

    # Warnings the practitioner acknowledged (depth above device/own maximum, periorbital): the texts are
    # rows of session_acknowledged_warnings (acknowledged_warning_rows); who and when are here.
    warnings_acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    warnings_acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)

    # Signature
    signed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    content_sha256: Mapped[str] = mapped_column(String(64), default="")

    __mapper_args__ = {"version_id_col": version}

    # Loaded by primary key in one extra query each ("selectin"), not joined: a chain of joined
    # eager loads (plan -> consultation -> patient, consent -> consultation ...) made SQLite pick a
    # plan that scanned the whole sessions table (200 ms per query at 100,000 sessions).
    patient = relationship("Patient", lazy="selectin")
    plan = relationship("TreatmentPlan", lazy="selectin")
    practitioner = relationship("User", foreign_keys=[practitioner_id], lazy="selectin")
    signed_by = relationship("User", foreign_keys=[signed_by_id], lazy="selectin")
    override_by = relationship("User", foreign_keys=[override_by_id], lazy="selectin")
    warnings_acknowledged_by = relationship("User", foreign_keys=[warnings_acknowledged_by_id], lazy="selectin")
    consent = relationship("Consent", lazy="selectin")
    zones: Mapped[list[SessionZone]] = relationship(cascade="all, delete-orphan", order_by="SessionZone.position", lazy="selectin")
    products: Mapped[list[SessionProduct]] = relationship(cascade="all, delete-orphan", order_by="SessionProduct.position", lazy="selectin")
    adverse_events: Mapped[list[SessionAdverseEvent]] = relationship(cascade="all, delete-orphan", order_by="SessionAdverseEvent.position", lazy="selectin")
    addenda: Mapped[list[Addendum]] = relationship(order_by="Addendum.id", lazy="selectin")
    # Today's re-screen flags and the acknowledged depth warnings: child rows, so they can be queried and are locked
    # with the session by the same triggers as its zones (they were JSON text before migration 0011).
    rescreen_flag_rows: Mapped[list[SessionRescreenFlag]] = relationship(
        cascade="all, delete-orphan", order_by="SessionRescreenFlag.position", lazy="selectin")
    acknowledged_warning_rows: Mapped[list[SessionAcknowledgedWarning]] = relationship(
        cascade="all, delete-orphan", order_by="SessionAcknowledgedWarning.position", lazy="selectin")

    @property
    def is_signed(self) -> bool:
        """Signed sessions are locked."""
        return self.signed_at is not None

    @property
    def rescreen_flags(self) -> list[dict[str, str]]:
        """Today's re-screen flags in the screening engine's shape (Flag.to_dict), in the order it gave them."""
        return [row.to_dict() for row in self.rescreen_flag_rows]

    @property
    def warnings_acknowledged(self) -> list[str]:
        """The depth warnings the practitioner acknowledged, in the order they were shown."""
        return [row.text for row in self.acknowledged_warning_rows]

    @property
    def rescreen_answers(self) -> list[tuple[str, str, date | None]]:
        """Today's re-screen as (question, answer, date): answer is 'yes', 'no', 'not_answered', or 'not_asked'
        (a dated question on a session signed before it was asked as a Yes/No: the old form asked only for a date)."""
        answers: list[tuple[str, str, date | None]] = []
        for name in RESCREEN_YES_NO:
            value = getattr(self, name)
            answers.append((RESCREEN_QUESTIONS[name], "not_answered" if value is None else ("yes" if value else "no"), None))
        for name, day in RESCREEN_DATED.items():
            value, when = getattr(self, name), getattr(self, day)
            if value is None:
                answer = "not_asked" if self.is_signed and when is None else "not_answered"
            else:
                answer = "yes" if value else "no"
            answers.append((RESCREEN_QUESTIONS[name], answer, when))
        return answers

    @property
    def deepest_mm(self) -> Decimal | None:
        """The deepest zone of the session (it sets the expected downtime)."""
        depths = [z.depth_mm for z in self.zones if z.depth_mm is not None]
        return max(depths) if depths else None


class SessionZone(Base):
    """One treated zone: depth, passes, technique and, for RF, the energy settings."""

    __tablename__ = "session_zones"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    position: Mapped[int]
    zone: Mapped[str] = mapped_column(code_enum("session_zone", PLAN_ZONES, 20))
    depth_mm: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    passes: Mapped[int]
    technique: Mapped[str] = mapped_column(code_enum("technique", TECHNIQUES, 20))
    rf_energy: Mapped[Decimal | None] = mapped_column(Numeric(7, 2), nullable=True)
    rf_energy_unit: Mapped[str] = mapped_column(String(30), default="")
    rf_pulse_ms: Mapped[Decimal | None] = mapped_column(Numeric(7, 2), nullable=True)
    rf_rows: Mapped[int | None] = mapped_column(nullable=True)


class SessionProduct(Base):
    """A product put on needled skin during or right after the session (for traceability)."""

    __tablename__ = "session_products"
    __table_args__ = (Index("ix_session_products_lot", "lot"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(160))
    lot: Mapped[str] = mapped_column(String(80))
    labelled_for_needled_skin: Mapped[bool]


class SessionAdverseEvent(Base):
    """An adverse event recorded during the session, with the action taken."""

    __tablename__ = "session_adverse_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(code_enum("adverse_event", ADVERSE_EVENTS))
    detail: Mapped[str] = mapped_column(Text, default="")
    action_taken: Mapped[str] = mapped_column(Text)


class SessionRescreenFlag(Base):
    """One flag of the re-screen on the day of the session: what the engine found, and how it decided."""

    __tablename__ = "session_rescreen_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(60), index=True)
    decision: Mapped[str] = mapped_column(code_enum("rescreen_flag_decision", DECISIONS))
    reason: Mapped[str] = mapped_column(Text)
    earliest_date: Mapped[date | None] = mapped_column(nullable=True)

    def to_dict(self) -> dict[str, str]:
        """The flag as the screening engine writes it (Flag.to_dict): earliest_date only when there is one."""
        result = {"code": self.code, "decision": self.decision, "reason": self.reason}
        if self.earliest_date is not None:
            result["earliest_date"] = self.earliest_date.isoformat()
        return result


class SessionAcknowledgedWarning(Base):
    """A depth warning the practitioner acknowledged for this session, word for word as it was shown."""

    __tablename__ = "session_acknowledged_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    position: Mapped[int]
    text: Mapped[str] = mapped_column(Text)


class Addendum(Base):
    """A correction or late entry after signing: its own author, time, reason and text."""

    __tablename__ = "session_addenda"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)

    author = relationship("User", lazy="joined")


# Plans sit below sessions in the feature chain, so the plan cannot name the session class;
# the sessions feature adds the link (the plan's `sessions_done` reads it when present).
TreatmentPlan.treatment_sessions = relationship(
    TreatmentSession, primaryjoin=TreatmentPlan.id == TreatmentSession.plan_id, viewonly=True, lazy="selectin",
    order_by=TreatmentSession.sequence,
)
