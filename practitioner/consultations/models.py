"""A consultation's structured screening answers and result."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.clinical.questions import ANSWER_NAMES, DATE_NAMES, unanswered
from practitioner.clinical.screening import (
    CONCERNS,
    DECISIONS,
    DIABETES_STATES,
    ISOTRETINOIN_STATES,
    MODALITIES,
    NEEDLE_MATERIALS,
    TREATMENT_AREAS,
)
from practitioner.database import AuditedMixin, Base, PublicIdMixin, code_enum, utcnow

SCAR_TYPES = ("icepick", "rolling", "boxcar", "hypertrophic", "keloid")



class Consultation(PublicIdMixin, AuditedMixin, Base):
    """One consultation: assessment, screening answers as columns, and the computed result."""

    __tablename__ = "consultations"
    __table_args__ = (
        CheckConstraint("glogau IS NULL OR glogau BETWEEN 1 AND 4", name="glogau_range"),
        CheckConstraint("goodman_baron_grade IS NULL OR goodman_baron_grade BETWEEN 1 AND 4", name="goodman_baron_range"),
        CheckConstraint("fitzpatrick IS NULL OR fitzpatrick BETWEEN 1 AND 6", name="fitzpatrick_range"),
        Index("ix_consultations_patient_id_date", "patient_id", "consultation_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    practitioner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    consultation_date: Mapped[date]
    modality: Mapped[str] = mapped_column(code_enum("modality", MODALITIES))
    age_at_consultation: Mapped[int | None] = mapped_column(nullable=True)

    # Skin assessment
    fitzpatrick: Mapped[int | None] = mapped_column(nullable=True)
    glogau: Mapped[int | None] = mapped_column(nullable=True)
    goodman_baron_grade: Mapped[int | None] = mapped_column(nullable=True)
    skin_notes: Mapped[str] = mapped_column(Text, default="")

    # Device and depth
    device_name: Mapped[str] = mapped_column(String(120), default="")
    needle_material: Mapped[str | None] = mapped_column(code_enum("needle_material", NEEDLE_MATERIALS, 20), nullable=True)
    device_max_depth_mm: Mapped[Decimal | None] = mapped_column(Numeric(4, 2), nullable=True)
    requested_depth_mm: Mapped[Decimal | None] = mapped_column(Numeric(4, 2), nullable=True)

    # Screening answers: NULL means not answered (nothing is answered by default; see clinical/questions.py).
    # Screening: today
    pregnant: Mapped[bool | None] = mapped_column(nullable=True)
    breastfeeding: Mapped[bool | None] = mapped_column(nullable=True)
    active_infection: Mapped[bool | None] = mapped_column(nullable=True)
    active_cold_sore: Mapped[bool | None] = mapped_column(nullable=True)
    active_inflammatory_acne: Mapped[bool | None] = mapped_column(nullable=True)
    dermatosis_flare: Mapped[bool | None] = mapped_column(nullable=True)
    suspicious_lesion: Mapped[bool | None] = mapped_column(nullable=True)
    tattoo_or_pmu: Mapped[bool | None] = mapped_column(nullable=True)
    had_sunburn: Mapped[bool | None] = mapped_column(nullable=True)
    sunburn_on: Mapped[date | None] = mapped_column(nullable=True)

    # Screening: history
    cold_sore_history: Mapped[bool | None] = mapped_column(nullable=True)
    keloid_history: Mapped[bool | None] = mapped_column(nullable=True)
    hypertrophic_scarring: Mapped[bool | None] = mapped_column(nullable=True)
    koebner_condition: Mapped[bool | None] = mapped_column(nullable=True)
    skin_cancer_in_area: Mapped[bool | None] = mapped_column(nullable=True)
    radiotherapy_to_area: Mapped[bool | None] = mapped_column(nullable=True)
    diabetes: Mapped[str | None] = mapped_column(code_enum("diabetes", DIABETES_STATES, 20), nullable=True)
    immunosuppressed: Mapped[bool | None] = mapped_column(nullable=True)
    autoimmune_collagen_vascular: Mapped[bool | None] = mapped_column(nullable=True)
    bleeding_disorder: Mapped[bool | None] = mapped_column(nullable=True)
    platelet_disorder: Mapped[bool | None] = mapped_column(nullable=True)
    bloodborne_infection: Mapped[bool | None] = mapped_column(nullable=True)
    implanted_electronic_device: Mapped[bool | None] = mapped_column(nullable=True)
    metal_implant_in_area: Mapped[bool | None] = mapped_column(nullable=True)
    smoker: Mapped[bool | None] = mapped_column(nullable=True)
    expectations_concern: Mapped[bool | None] = mapped_column(nullable=True)

    # Screening: allergies
    allergy_gold: Mapped[bool | None] = mapped_column(nullable=True)
    allergy_stainless_steel: Mapped[bool | None] = mapped_column(nullable=True)
    allergy_nickel: Mapped[bool | None] = mapped_column(nullable=True)
    allergy_topical_anaesthetic: Mapped[bool | None] = mapped_column(nullable=True)

    # Screening: medicines (dates, so days-ago is always counted from the consultation date)
    isotretinoin: Mapped[str | None] = mapped_column(code_enum("isotretinoin", ISOTRETINOIN_STATES, 20), nullable=True)
    isotretinoin_stopped_on: Mapped[date | None] = mapped_column(nullable=True)
    anticoagulant_prescribed: Mapped[bool | None] = mapped_column(nullable=True)
    took_nsaid_or_supplement: Mapped[bool | None] = mapped_column(nullable=True)
    nsaid_or_supplement_last_on: Mapped[date | None] = mapped_column(nullable=True)
    used_topical_retinoid_or_acid: Mapped[bool | None] = mapped_column(nullable=True)
    topical_retinoid_or_acid_last_on: Mapped[date | None] = mapped_column(nullable=True)

    # Screening: recent procedures
    had_neurotoxin: Mapped[bool | None] = mapped_column(nullable=True)
    neurotoxin_on: Mapped[date | None] = mapped_column(nullable=True)
    had_filler_in_area: Mapped[bool | None] = mapped_column(nullable=True)
    filler_in_area_on: Mapped[date | None] = mapped_column(nullable=True)
    had_resurfacing: Mapped[bool | None] = mapped_column(nullable=True)
    resurfacing_on: Mapped[date | None] = mapped_column(nullable=True)

    notes: Mapped[str] = mapped_column(Text, default="")

    # The computed result, re-computed whenever the answers change (never edited by hand).
    decision: Mapped[str] = mapped_column(code_enum("decision", DECISIONS), default="proceed")
    rebook_from: Mapped[date | None] = mapped_column(nullable=True)
    policy_snapshot: Mapped[str] = mapped_column(Text, default="{}")
    screened_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Set when a treatment session relying on this consultation is signed: from then on the database
    # refuses any change to it (migration 0007). Changed facts are a new consultation that supersedes it.
    locked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"), nullable=True, index=True)
    # The patient intake this consultation was started from (its answers confirmed or corrected: ConsultationIntakeAnswer).
    intake_id: Mapped[int | None] = mapped_column(ForeignKey("patient_intakes.id"), nullable=True, index=True)

    __mapper_args__ = {"version_id_col": version}

    patient = relationship("Patient", lazy="joined", innerjoin=True)
    practitioner = relationship("User", foreign_keys=[practitioner_id], lazy="joined", innerjoin=True)
    concerns: Mapped[list[ConsultationConcern]] = relationship(cascade="all, delete-orphan", order_by="ConsultationConcern.code", lazy="selectin")
    areas: Mapped[list[ConsultationArea]] = relationship(cascade="all, delete-orphan", order_by="ConsultationArea.code", lazy="selectin")
    scar_counts: Mapped[list[ScarCount]] = relationship(cascade="all, delete-orphan", order_by="ScarCount.scar_type", lazy="selectin")
    flags: Mapped[list[ScreeningFlag]] = relationship(cascade="all, delete-orphan", order_by="ScreeningFlag.position", lazy="selectin")
    overrides: Mapped[list[ScreeningOverride]] = relationship(order_by="ScreeningOverride.id", lazy="selectin")
    supersedes: Mapped[Consultation | None] = relationship(remote_side=[id], foreign_keys=[supersedes_id], lazy="select")

    @property
    def concern_codes(self) -> list[str]:
        """The concerns as codes."""
        return [c.code for c in self.concerns]

    @property
    def area_codes(self) -> list[str]:
        """The treatment areas as codes."""
        return [a.code for a in self.areas]

    @property
    def active_override(self) -> ScreeningOverride | None:
        """The override recorded against the current result, if any."""
        return next((o for o in reversed(self.overrides) if o.superseded_at is None), None)

    @property
    def is_locked(self) -> bool:
        """A signed treatment session relied on these answers: they can no longer change."""
        return self.locked_at is not None

    @property
    def unanswered_questions(self) -> list[str]:
        """The screening questions (by label) still unanswered, or answered Yes without the date asked for."""
        return unanswered({name: getattr(self, name) for name in (*ANSWER_NAMES, *DATE_NAMES)})

    @property
    def allows_treatment(self) -> bool:
        """Proceed (with or without caution), or any other decision with a recorded override."""
        return self.decision in ("proceed", "proceed_with_caution") or self.active_override is not None


class ConsultationAnswerChange(Base):
    """One screening answer changed before the consultation was locked: old and new value, who, when.

    Values are stored as codes ("yes", "no", a choice's code, an ISO date, or NULL for not answered).
    """

    __tablename__ = "consultation_answer_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    question: Mapped[str] = mapped_column(String(60))
    old_value: Mapped[str | None] = mapped_column(String(40), nullable=True)
    new_value: Mapped[str | None] = mapped_column(String(40), nullable=True)
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    changed_by = relationship("User", lazy="joined")


class ConsultationIntakeAnswer(Base):
    """One answer the patient gave in their intake, beside the value the practitioner confirmed (migration 0020).

    `patient_answer` is the patient's code ("yes", "no", "not_sure" or a choice's code) and
    `patient_when` their date as they gave it ("about March 2026"); `confirmed_value` is stored as
    ConsultationAnswerChange stores values. A correction (the confirmed value differs from the
    patient's) carries its reason. Locked with the consultation.
    """

    __tablename__ = "consultation_intake_answers"
    __table_args__ = (UniqueConstraint("consultation_id", "question", name="uq_consultation_intake_answers_consultation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"))
    question: Mapped[str] = mapped_column(String(60))
    patient_answer: Mapped[str] = mapped_column(String(20))
    patient_when: Mapped[str] = mapped_column(String(60), default="")
    patient_date: Mapped[date | None] = mapped_column(nullable=True)
    confirmed_value: Mapped[str] = mapped_column(String(40))
    confirmed_date: Mapped[date | None] = mapped_column(nullable=True)
    corrected: Mapped[bool] = mapped_column(default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    # How it was confirmed (migration 0021): "one_by_one", "all_nos" (all the patient's No answers at once), "" before.
    confirmation: Mapped[str] = mapped_column(String(20), default="", server_default="")
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    changed_by = relationship("User", lazy="joined")


class ConsultationConcern(Base):
    """One concern the patient wants treated."""

    __tablename__ = "consultation_concerns"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), primary_key=True)
    code: Mapped[str] = mapped_column(code_enum("concern", CONCERNS), primary_key=True)


class ConsultationArea(Base):
    """One treatment area discussed."""

    __tablename__ = "consultation_areas"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), primary_key=True)
    code: Mapped[str] = mapped_column(code_enum("treatment_area", TREATMENT_AREAS), primary_key=True)


class ScarCount(Base):
    """A rough count of one acne scar type (stored per type so scores can be recomputed)."""

    __tablename__ = "consultation_scar_counts"

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), primary_key=True)
    scar_type: Mapped[str] = mapped_column(code_enum("scar_type", SCAR_TYPES, 20), primary_key=True)
    count: Mapped[int]


class ScreeningFlag(Base):
    """One flag raised by the screening engine, with its reason, as computed."""

    __tablename__ = "screening_flags"
    __table_args__ = (Index("ix_screening_flags_code", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(60))
    decision: Mapped[str] = mapped_column(code_enum("flag_decision", DECISIONS))
    reason: Mapped[str] = mapped_column(Text)
    earliest_date: Mapped[date | None] = mapped_column(nullable=True)


class ScreeningOverride(Base):
    """A practitioner's documented decision to go ahead despite the computed result."""

    __tablename__ = "screening_overrides"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    computed_decision: Mapped[str] = mapped_column(code_enum("overridden_decision", DECISIONS))
    reason: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(nullable=True)

    recorded_by = relationship("User", lazy="joined")
