"""Two-factor sign-in: a code from an authenticator app (TOTP, RFC 6238), or a one-time recovery code.

Enrolment shows a QR code drawn here as inline SVG (segno: no image is fetched from anywhere); the secret is
kept only in the person's signed cookie until a code from the app confirms it, then stored encrypted
(practitioner/auth/totp_secret.py). Recovery codes are shown once
and stored as SHA-256 hashes (they are long random strings, so a fast hash is enough). Every step is audited.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time

import pyotp
import segno
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.auth import totp_secret
from practitioner.auth.models import RecoveryCode, User
from practitioner.database import utcnow
from practitioner.errors import DomainError

ISSUER = "Practitioner"
RECOVERY_CODES = 10
STEP_SECONDS = 30


class InvalidCode(DomainError):
    """The code is not the app's current one (nor an unused recovery code)."""


def new_secret() -> str:
    """A fresh base32 secret for an authenticator app."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, clinic: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"{ISSUER} ({clinic})"[:60])


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as an inline SVG element (drawn here; nothing is fetched)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=4, dark="#000", light="#fff", omitsize=False)


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _matching_step(secret: str, code: str, after: int | None) -> int | None:
    """The time step (this one or either neighbour, for clock drift) whose code this is, if later than `after`."""
    code = _clean(code)
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // STEP_SECONDS
    for step in (now_step - 1, now_step, now_step + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def confirm_enrolment(session: Session, user: User, secret: str, code: str, *, ip_address: str = "") -> list[str]:
    """Turn two-factor on once a code from the app matches the secret; returns the recovery codes (shown once)."""
    step = _matching_step(secret, code, None)
    if step is None:
        raise InvalidCode("That code does not match. Type the 6 digits your app shows now for Practitioner.")
    user.totp_secret_encrypted, user.totp_enabled_at, user.totp_last_step = totp_secret.seal(secret, user.id), utcnow(), step
    if user.current_session is not None:
        user.current_session.must_enrol_two_factor = False
    codes = issue_recovery_codes(session, user)
    audit.append(session, "auth.two_factor_enrolled", actor=user, target=f"user:{user.public_id}", ip_address=ip_address)
    return codes


def issue_recovery_codes(session: Session, user: User) -> list[str]:
    """Replace a user's recovery codes with new ones; only their hashes are kept."""
    session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)).values(used_at=utcnow()))
    codes = ["-".join(secrets.token_hex(3) for _ in range(3)) for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash(code)) for code in codes)
    return codes


def verify(session: Session, user: User, code: str, *, ip_address: str = "") -> str | None:
    """'totp' or 'recovery' when the code lets this user in (each code once), else None."""
    if user.totp_secret_encrypted is None:
        return None
    try:
        secret = totp_secret.unseal(user.totp_secret_encrypted, user.id)
    except totp_secret.SecretUnreadable:
        # The audit key is not the one the secret was sealed with: a recovery code still works, and the admin can reset.
        logging.getLogger(__name__).error("An authenticator secret does not open with this installation's audit key.")
        secret = None
    step = _matching_step(secret, code, user.totp_last_step) if secret is not None else None
    if step is not None:
        user.totp_last_step = step
        return "totp"
    row = session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash(code), RecoveryCode.used_at.is_(None))).first()
    if row is None:
        return None
    row.used_at = utcnow()
    left = session.scalar(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
                                                        RecoveryCode.id != row.id).limit(1))
    audit.append(session, "auth.recovery_code_used", actor=user, target=f"user:{user.public_id}",
                 detail={"codes_left": "some" if left else "none"}, ip_address=ip_address)
    return "recovery"


def reset(session: Session, user: User, *, actor: User, ip_address: str = "") -> None:
    """An administrator turns a user's two-factor off (a lost phone); the user enrols again."""
    user.totp_secret_encrypted, user.totp_enabled_at, user.totp_last_step = None, None, None
    session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)).values(used_at=utcnow()))
    audit.append(session, "auth.two_factor_reset", actor=actor, target=f"user:{user.public_id}",
                 detail={"email": user.email}, ip_address=ip_address)
