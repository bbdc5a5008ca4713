"""Users, their roles, and server-side sign-in sessions."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Numeric, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from practitioner.database import Base, PublicIdMixin, utcnow


class Role(enum.StrEnum):
    """What a user may do: reception (demographics), practitioner (clinical), admin (the clinic)."""

    ADMIN = "admin"
    PRACTITIONER = "practitioner"
    RECEPTION = "reception"

    @property
    def label(self) -> str:
        """The role as shown to people."""
        return {"admin": "Administrator", "practitioner": "Practitioner", "reception": "Reception"}[self.value]


class Permission(enum.StrEnum):
    """A single right; roles are sets of these, checked on every route."""

    VIEW_DEMOGRAPHICS = "view_demographics"
    EDIT_DEMOGRAPHICS = "edit_demographics"
    VIEW_CLINICAL = "view_clinical"
    EDIT_CLINICAL = "edit_clinical"
    MANAGE_USERS = "manage_users"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_AUDIT = "view_audit"
    # Hand the tablet to a patient or make them a one-time intake link: the people who see patients, not the admin.
    START_INTAKE = "start_intake"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.RECEPTION: frozenset({Permission.VIEW_DEMOGRAPHICS, Permission.EDIT_DEMOGRAPHICS, Permission.START_INTAKE}),
    Role.PRACTITIONER: frozenset(
        {
            Permission.VIEW_DEMOGRAPHICS,
            Permission.EDIT_DEMOGRAPHICS,
            Permission.VIEW_CLINICAL,
            Permission.EDIT_CLINICAL,
            Permission.START_INTAKE,
        }
    ),
    # Least privilege: running the clinic does not open clinical notes. A medical lead who
    # also treats has a practitioner account for that.
    Role.ADMIN: frozenset(
        {
            Permission.VIEW_DEMOGRAPHICS,
            Permission.EDIT_DEMOGRAPHICS,
            Permission.MANAGE_USERS,
            Permission.MANAGE_SETTINGS,
            Permission.VIEW_AUDIT,
        }
    ),
}


class User(PublicIdMixin, Base):
    """A person who signs in. Never deleted: deactivated, so records keep their author."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active_account: Mapped[bool] = mapped_column(default=True)
    registration: Mapped[str | None] = mapped_column(String(120), nullable=True)
    max_depth_mm: Mapped[Decimal | None] = mapped_column(Numeric(4, 2), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Two-factor sign-in (docs/security.md): the authenticator app's shared secret, set once a code from the app
    # has confirmed it, stored encrypted (auth/totp_secret.py: never the base32 text itself); the last time step
    # used, so a code is never accepted twice.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(nullable=True)

    # Set by the user loader to the sign-in session this request belongs to.
    current_session = None  # type: UserSession | None

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        """A loaded user is always signed in."""
        return True

    @property
    def is_active(self) -> bool:
        """Deactivated accounts cannot sign in."""
        return self.is_active_account

    @property
    def is_anonymous(self) -> bool:
        """Never anonymous."""
        return False

    def get_id(self) -> str:
        """The sign-in session id, not the user id, so that ending a session ends it for good."""
        if self.current_session is None:
            raise RuntimeError("get_id called without a sign-in session")
        return self.current_session.session_key

    def can(self, permission: Permission) -> bool:
        """Whether this user's role grants the permission."""
        return permission in ROLE_PERMISSIONS[self.role]


class UserSession(Base):
    """One sign-in: ended at sign-out, after idling, or when the account is deactivated."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Set on every open sign-in of a person without two-factor when the clinic starts to require it: their next
    # request goes to enrolment (auth/views.py enforce_two_factor), read with the session at no extra statement.
    must_enrol_two_factor: Mapped[bool] = mapped_column(default=False, server_default=false())

    user: Mapped[User] = relationship()


class FormDraft(Base):
    """What a person had typed when their sign-in expired, kept until they sign in again."""

    __tablename__ = "form_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SignInFailureCount(Base):
    """Recent failed sign-ins, counted per account, per address and per account-and-address pair.

    One row per key, reset when its last failure leaves the window and pruned after it, so a flood of
    failures grows neither this table nor the audit trail (which keeps one row per burst).
    """

    __tablename__ = "sign_in_failure_counts"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_sign_in_failure_counts_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(320))
    failures: Mapped[int] = mapped_column(default=0)
    first_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    denied_audited: Mapped[bool] = mapped_column(default=False)


class RecoveryCode(Base):
    """A one-time code to sign in without the authenticator app; shown once at enrolment, stored only hashed."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
