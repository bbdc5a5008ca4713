"""Clinical photographs: which view, which visit, which consent, stored re-encoded with their hash.

docs/photography.md is the contract. A photo belongs to one patient and one visit (a consultation,
a treatment session or a review visit), has a view from a fixed list and a moment. The image bytes
live in `photo_images`, apart from the photo's row, so lists and timelines never load them; the
thumbnail sits in the same row before the image, so serving it never reads the full image.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.clinical.vocabulary import (  # noqa: F401  (the labels, as the photos feature has always named them)
    CAPTURE_CHECK_LABELS,
    CONSENT_SCOPE_LABELS,
    MOMENT_LABELS,
    VIEW_LABELS,
)
from practitioner.database import Base, PublicIdMixin, code_enum, utcnow

# The labels of these codes live in the clinic's vocabulary (practitioner/clinical/vocabulary.py), imported here.
# Standard views (docs/photography.md): natural head position; obliques at 45 degrees, laterals at 90.
VIEWS = ("frontal", "oblique_left", "oblique_right", "lateral_left", "lateral_right", "close_up")
# When in the course of care the photo was taken.
MOMENTS = ("baseline", "before", "immediately_after", "review")
# What the practitioner ticks at capture (consistency matters more than resolution).
CAPTURE_CHECKS = ("makeup_removed", "jewellery_off", "hair_back", "same_background", "same_lighting")
CONSENT_SCOPES = ("clinical", "marketing")


class ReviewVisit(PublicIdMixin, Base):
    """A follow-up visit without treatment, where review photos are taken."""

    __tablename__ = "review_visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_plans.id"), nullable=True, index=True)
    visit_date: Mapped[date]
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    patient = relationship("Patient", lazy="selectin")
    plan = relationship("TreatmentPlan", lazy="selectin")
    created_by = relationship("User", lazy="selectin")


class Photo(PublicIdMixin, Base):
    """One clinical photograph's record: patient, visit, view, moment, capture checks, hash, who and when.

    Exactly one of consultation, session and review visit is set. A photo of a signed session is
    locked with it (the database refuses changes); a later photo goes in through a review visit.
    """

    __tablename__ = "photos"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN consultation_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN session_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN review_visit_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_visit"),
        CheckConstraint("\"view\" <> 'close_up' OR zone IS NOT NULL", name="close_up_zone"),
        Index("ix_photos_patient_view", "patient_id", "view", "captured_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultations.id"), nullable=True, index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("treatment_sessions.id"), nullable=True, index=True)
    review_visit_id: Mapped[int | None] = mapped_column(ForeignKey("review_visits.id"), nullable=True, index=True)
    view: Mapped[str] = mapped_column(code_enum("photo_view", VIEWS))
    zone: Mapped[str | None] = mapped_column(String(30), nullable=True)  # the treated zone of a close-up
    moment: Mapped[str] = mapped_column(code_enum("photo_moment", MOMENTS))
    # The signed consent relied on when the photo was taken (clinical photography: yes).
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    makeup_removed: Mapped[bool] = mapped_column(default=False)
    jewellery_off: Mapped[bool] = mapped_column(default=False)
    hair_back: Mapped[bool] = mapped_column(default=False)
    same_background: Mapped[bool] = mapped_column(default=False)
    same_lighting: Mapped[bool] = mapped_column(default=False)
    # The re-encoded image as stored: JPEG, upright, no metadata.
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    thumb_width: Mapped[int]
    thumb_height: Mapped[int]
    thumb_sha256: Mapped[str] = mapped_column(String(64))
    captured_at: Mapped[datetime] = mapped_column(default=utcnow)  # the server's time, never the camera's
    captured_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    captured_by = relationship("User", lazy="joined")


class PhotoImage(Base):
    """The bytes of one photo: thumbnail first (served without reading the image), then the image."""

    __tablename__ = "photo_images"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), primary_key=True)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    image: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class MarketingMark(Base):
    """A photo marked for marketing use, and when that use ended (unmarked, or consent withdrawn)."""

    __tablename__ = "photo_marketing_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), index=True)
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
    marked_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    ended_reason: Mapped[str] = mapped_column(String(200), default="")


class PhotoConsentWithdrawal(Base):
    """A patient's withdrawal of photo consent (clinical or marketing), recorded by staff; never edited.

    A withdrawal ends the consent given by every consent signed before it; a consent signed later
    gives it again. Clinical photos already taken stay in the record.
    """

    __tablename__ = "photo_consent_withdrawals"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scope: Mapped[str] = mapped_column(code_enum("photo_consent_scope", CONSENT_SCOPES, length=20))
    reason: Mapped[str] = mapped_column(Text, default="")
    withdrawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    recorded_by = relationship("User", lazy="selectin")


class PhotoProtocolView(Base):
    """One view a complete photo set holds for one treatment area (the clinic may change the list)."""

    __tablename__ = "photo_protocol_views"

    area: Mapped[str] = mapped_column(String(30), primary_key=True)
    view: Mapped[str] = mapped_column(code_enum("photo_protocol_view", VIEWS), primary_key=True)
