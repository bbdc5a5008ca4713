"""Clinic-wide settings: the clinic's identity on every page and document."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from practitioner.database import Base, utcnow


class PaperSize(enum.StrEnum):
    """Paper for printed documents."""

    A4 = "A4"
    LETTER = "Letter"


class ClinicSettings(Base):
    """The clinic's name, contacts, logo and paper size; a single row (id 1)."""

    __tablename__ = "clinic_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="My clinic")
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    out_of_hours: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    paper_size: Mapped[PaperSize] = mapped_column(
        Enum(PaperSize, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]),
        default=PaperSize.A4,
    )
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    logo_sha256: Mapped[str] = mapped_column(String(64), default="")
    logo_width: Mapped[int | None] = mapped_column(nullable=True)
    logo_height: Mapped[int | None] = mapped_column(nullable=True)
    # Everyone must sign in with an authenticator app's code too (docs/security.md, Sign-in).
    require_two_factor: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class ClinicalPolicy(Base):
    """The clinic's screening windows and thresholds (docs/screening.md 'Policy'); a single row (id 1)."""

    __tablename__ = "clinical_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    min_age: Mapped[int] = mapped_column(default=18)
    isotretinoin_washout_days: Mapped[int] = mapped_column(default=180)
    neurotoxin_interval_days: Mapped[int] = mapped_column(default=14)
    filler_interval_days: Mapped[int] = mapped_column(default=14)
    retinoid_window_days: Mapped[int] = mapped_column(default=5)
    resurfacing_interval_days: Mapped[int] = mapped_column(default=28)
    sunburn_window_days: Mapped[int] = mapped_column(default=14)
    prp_nsaid_window_days: Mapped[int] = mapped_column(default=7)
    pih_risk_min_fitzpatrick: Mapped[int] = mapped_column(default=4)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class AftercareSettings(Base):
    """The clinic's aftercare numbers (docs/aftercare.md policy): make-up, actives, exercise, PRP no-wash, sunscreen."""

    __tablename__ = "aftercare_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    makeup_hours: Mapped[int] = mapped_column(default=24)
    makeup_hours_rf: Mapped[int] = mapped_column(default=48)
    actives_days: Mapped[int] = mapped_column(default=5)
    actives_days_rf: Mapped[int] = mapped_column(default=7)
    actives_days_prp: Mapped[int] = mapped_column(default=7)
    exercise_hours: Mapped[int] = mapped_column(default=72)
    prp_no_wash_hours: Mapped[int] = mapped_column(default=6)
    sun_strict_days: Mapped[int] = mapped_column(default=14)
    sunscreen_day0: Mapped[str] = mapped_column(String(20), default="mineral_spf30")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
