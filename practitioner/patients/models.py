"""The patient record: demographics, contacts and the clinical basics every visit relies on."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from practitioner.clinical import vocabulary
from practitioner.database import AuditedMixin, Base, PublicIdMixin


class Sex(enum.StrEnum):
    """Administrative sex, as FHIR names it."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        """As shown to people."""
        return {"female": "Female", "male": "Male", "other": "Other", "unknown": "Not stated"}[self.value]


class Patient(PublicIdMixin, AuditedMixin, Base):
    """A person the clinic sees. Never deleted: archived, with who, when and why."""

    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("fitzpatrick IS NULL OR (fitzpatrick BETWEEN 1 AND 6)", name="fitzpatrick_range"),
        Index("ix_patients_name_search", "family_name_search", "given_name_search"),
        Index("ix_patients_given_name_search", "given_name_search"),
        Index("ix_patients_phone_digits", "phone_digits"),
        Index("ix_patients_phone_reversed", "phone_reversed"),
        Index("ix_patients_date_of_birth", "date_of_birth"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=1)
    record_number: Mapped[str] = mapped_column(String(30), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str] = mapped_column(String(100), default="")
    given_name_search: Mapped[str] = mapped_column(String(100))
    family_name_search: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date]
    sex: Mapped[Sex] = mapped_column(Enum(Sex, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e]))
    phone: Mapped[str] = mapped_column(String(40), default="")
    phone_digits: Mapped[str] = mapped_column(String(40), default="")
    # The digits backwards: a search by the last digits becomes an indexed prefix search.
    phone_reversed: Mapped[str] = mapped_column(String(40), default="", server_default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    emergency_contact_name: Mapped[str] = mapped_column(String(120), default="")
    emergency_contact_relationship: Mapped[str] = mapped_column(String(60), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(String(40), default="")
    gp_name: Mapped[str] = mapped_column(String(120), default="")
    gp_practice: Mapped[str] = mapped_column(String(200), default="")
    gp_phone: Mapped[str] = mapped_column(String(40), default="")
    fitzpatrick: Mapped[int | None] = mapped_column(nullable=True)
    no_known_allergies: Mapped[bool] = mapped_column(default=False)
    allergies: Mapped[str] = mapped_column(Text, default="")
    current_medicines: Mapped[str] = mapped_column(Text, default="")
    archived_at: Mapped[datetime | None] = mapped_column(nullable=True)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    archive_reason: Mapped[str] = mapped_column(String(500), default="")

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        """Given then family name."""
        return f"{self.given_name} {self.family_name}"

    @property
    def sort_name(self) -> str:
        """Family name first, as lists and labels show it."""
        return f"{self.family_name}, {self.given_name}"

    @property
    def is_archived(self) -> bool:
        """Archived patients stay readable but are left out of the list by default."""
        return self.archived_at is not None

    def age_on(self, day: date) -> int:
        """Age in whole years on a given day."""
        years = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years

    @property
    def fitzpatrick_label(self) -> str:
        """The skin type in words, or 'not recorded'."""
        return vocabulary.FITZPATRICK_LABELS.get(self.fitzpatrick or 0, "Not recorded")

    @property
    def allergies_summary(self) -> str:
        """Allergies, distinguishing 'none known' from 'not asked'."""
        if self.no_known_allergies:
            return "No known allergies"
        return self.allergies or "Not recorded"
