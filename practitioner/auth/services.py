"""Sign-in, sign-out, sign-in sessions, throttling and user management."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session, contains_eager

from practitioner import audit
from practitioner.auth.models import FormDraft, Role, SignInFailureCount, User, UserSession
from practitioner.auth.passwords import password_problem
from practitioner.database import Base, utcnow, write_step
from practitioner.errors import DomainError, DuplicateRecord
from practitioner.validators import email_address_problem

# argon2-cffi's PasswordHasher is Argon2id with RFC 9106 low-memory parameters.
_hasher = PasswordHasher()

# A hash to verify against when the email is unknown, so a wrong email and a wrong
# password take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))



class SignInThrottled(DomainError):
    """Too many recent failures for this account."""

    def __init__(self, retry_at: datetime, scope: str = "pair") -> None:
        super().__init__("Too many failed sign-ins for this account.")
        self.retry_at = retry_at
        self.scope = scope


class SignInFailed(DomainError):
    """Wrong email or password, or the account is deactivated."""


class WeakPassword(DomainError):
    """The password breaks the password rule (practitioner/auth/passwords.py); the message says what to do."""


class InvalidEmail(DomainError):
    """The address breaks the rule the sign-in form applies, so its owner could never sign in."""


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def password_matches(user: User | None, password: str) -> bool:
    """Check a password in constant-ish time, whether or not the user exists."""
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding spaces."""
    return email.strip().lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email, if any."""
    return session.scalars(select(User).where(User.email == normalise_email(email))).first()


@dataclass(frozen=True)
class SignInLimits:
    """How failed sign-ins are limited (the config's SIGN_IN_* settings).

    `max_failures` wrong passwords for one account from one address in `window` refuse that address for that
    account; `address_max_failures` over any accounts refuse the address; an account's failures from anywhere
    only slow its sign-in (`delay_base` seconds, doubling per failure past `max_failures`, at most `delay_cap`),
    so whoever guesses from elsewhere cannot lock the owner out.
    """

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    address_max_failures: int = 20
    delay_base: float = 0.5
    delay_cap: float = 5.0


@dataclass(frozen=True)
class ThrottleState:
    """Whether an attempt is refused (and until when, and why) or only slowed down (seconds to wait)."""

    failures: int
    retry_at: datetime | None
    delay: float = 0.0
    scope: str = "pair"


def _pair_key(label: str, ip_address: str) -> str:
    return f"{ip_address[:45]} {label}"[:320]


def _counts(session: Session, keys: dict[str, str], since: datetime) -> dict[str, SignInFailureCount]:
    rows = session.scalars(select(SignInFailureCount).where(
        or_(*(and_(SignInFailureCount.scope == scope, SignInFailureCount.key == key) for scope, key in keys.items())),
        SignInFailureCount.last_at > since,
    )).all()
    return {row.scope: row for row in rows}


def throttle_state(session: Session, email: str, ip_address: str, limits: SignInLimits) -> ThrottleState:
    """The recent failures for this account, this address and the two together, and what they mean for this attempt."""
    label = normalise_email(email)
    now = utcnow()
    counts = _counts(session, {"pair": _pair_key(label, ip_address), "address": ip_address[:45], "account": label},
                     now - limits.window)
    pair, address, account = counts.get("pair"), counts.get("address"), counts.get("account")
    if pair is not None and pair.failures >= limits.max_failures:
        return ThrottleState(pair.failures, pair.last_at + limits.window, scope="pair")
    if address is not None and address.failures >= limits.address_max_failures:
        return ThrottleState(address.failures, address.last_at + limits.window, scope="address")
    failures = account.failures if account is not None else 0
    delay = 0.0
    if failures >= limits.max_failures:
        delay = min(limits.delay_cap, limits.delay_base * 2 ** (failures - limits.max_failures))
    return ThrottleState(failures, None, delay=delay, scope="account")


def _count_failure(session: Session, scope: str, key: str, now: datetime, window: timedelta) -> SignInFailureCount:
    """Add one failure to a counter (a new burst once its last failure has left the window)."""
    row = session.scalars(select(SignInFailureCount).where(SignInFailureCount.scope == scope, SignInFailureCount.key == key)).first()
    if row is None:
        row = SignInFailureCount(scope=scope, key=key, failures=0, first_at=now, last_at=now, denied_audited=False)
        session.add(row)
    elif row.last_at <= now - window:
        row.failures, row.first_at, row.denied_audited = 0, now, False
    row.failures += 1
    row.last_at = now
    return row


def _record_failure(session: Session, label: str, ip_address: str, window: timedelta) -> bool:
    """Count a failed sign-in under its three keys; True when it starts a burst for this account from this address."""
    now = utcnow()
    # Counters whose last failure left the window count nothing: pruned, so the table stays bounded.
    session.execute(delete(SignInFailureCount).where(SignInFailureCount.last_at <= now - window))
    pair = _count_failure(session, "pair", _pair_key(label, ip_address), now, window)
    _count_failure(session, "address", ip_address[:45], now, window)
    _count_failure(session, "account", label, now, window)
    session.flush()
    return pair.failures == 1


def _denied_once(session: Session, state: ThrottleState, label: str, ip_address: str) -> bool:
    """True the first time a burst is refused (its one 'throttled' audit row); later refusals are only counted."""
    key = _pair_key(label, ip_address) if state.scope == "pair" else ip_address[:45]
    row = session.scalars(select(SignInFailureCount).where(SignInFailureCount.scope == state.scope, SignInFailureCount.key == key)).first()
    if row is None or row.denied_audited:
        return False
    row.denied_audited = True
    return True


# The pause before an account's sign-in while it has many recent failures; tests replace it.
pause = time.sleep


def check_credentials(session: Session, email: str, password: str, *, ip_address: str, limits: SignInLimits) -> tuple[User, int]:
    """The user whose email and password these are (and how many failures came before), or SignInThrottled/SignInFailed.

    Throttled and counted as described on `SignInLimits`; one audit row per burst of failures.
    """
    label = normalise_email(email)
    check_throttle(session, label, ip_address, limits)
    user = find_user_by_email(session, label)
    matched = password_matches(user, password)
    if user is None or not matched or not user.is_active_account:
        reason = "deactivated" if matched else "bad credentials"
        record_failure(session, label, ip_address, limits, user=user, reason=reason)
        raise SignInFailed("The email or password is not right.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user, _failures_before(session, label, ip_address, limits)


def check_throttle(session: Session, label: str, ip_address: str, limits: SignInLimits) -> None:
    """Refuse (SignInThrottled, audited once per burst) or slow down this attempt as the recent failures say."""
    state = throttle_state(session, label, ip_address, limits)
    if state.retry_at is not None:
        if _denied_once(session, state, label, ip_address):
            audit.append(session, "auth.sign_in", actor_label=label, outcome=audit.OUTCOME_DENIED,
                         detail={"reason": "throttled", "limit": state.scope, "failures": state.failures}, ip_address=ip_address)
        raise SignInThrottled(state.retry_at, state.scope)
    if state.delay:
        pause(state.delay)


def record_failure(session: Session, label: str, ip_address: str, limits: SignInLimits, *, user: User | None, reason: str) -> None:
    """Count a failed attempt (a wrong password or second-factor code); the first of a burst is audited."""
    if _record_failure(session, label, ip_address, limits.window):
        audit.append(session, "auth.sign_in", actor=user, actor_label=label, outcome=audit.OUTCOME_FAILURE,
                     detail={"reason": reason}, ip_address=ip_address)


def _failures_before(session: Session, label: str, ip_address: str, limits: SignInLimits) -> int:
    return throttle_state(session, label, ip_address, limits).failures


def open_session(session: Session, user: User, *, ip_address: str, user_agent: str, failures_before: int = 0,
                 second_factor: str | None = None) -> User:
    """Open a new sign-in session for a user whose credentials were checked, and audit the sign-in."""
    label = user.email
    now = utcnow()
    user_session = UserSession(
        session_key=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        ip_address=ip_address[:45],
        user_agent=user_agent[:255],
    )
    session.add(user_session)
    user.last_sign_in_at = now
    user.current_session = user_session
    # The owner is in: this account's counters start again (the address's does not: it may be guessing others).
    session.execute(delete(SignInFailureCount).where(or_(
        and_(SignInFailureCount.scope == "account", SignInFailureCount.key == label),
        and_(SignInFailureCount.scope == "pair", SignInFailureCount.key == _pair_key(label, ip_address)))))
    detail: dict[str, object] = {"failures_before": failures_before} if failures_before else {}
    if second_factor:
        detail["second_factor"] = second_factor
    audit.append(session, "auth.sign_in", actor=user, actor_label=label, detail=detail or None, ip_address=ip_address)
    session.flush()
    return user


def sign_in(
    session: Session,
    email: str,
    password: str,
    *,
    ip_address: str,
    user_agent: str,
    limits: SignInLimits,
) -> User:
    """Check the credentials, open a new sign-in session and audit the attempt (one audit row per burst of failures)."""
    user, failures = check_credentials(session, email, password, ip_address=ip_address, limits=limits)
    return open_session(session, user, ip_address=ip_address, user_agent=user_agent, failures_before=failures)


def confirm_own_password(session: Session, actor: User, password: str, *, purpose: str, ip_address: str = "") -> bool:
    """Whether the signed-in admin typed their own password right to confirm a sensitive change; a wrong one is audited."""
    if password_matches(actor, password or ""):
        return True
    audit.append(session, "user.confirm_password", actor=actor, outcome=audit.OUTCOME_FAILURE,
                 detail={"purpose": purpose}, ip_address=ip_address)
    return False


def end_session(session: Session, user_session: UserSession, reason: str, *, ip_address: str = "") -> None:
    """Close a sign-in session for good: its cookie no longer signs anyone in."""
    if user_session.ended_at is None:
        user_session.ended_at = utcnow()
        user_session.end_reason = reason
        action = "auth.sign_out" if reason == "signed_out" else "auth.session_ended"
        audit.append(session, action, actor=user_session.user, detail={"reason": reason}, ip_address=ip_address)


@dataclass(frozen=True)
class LoadedSession:
    """The outcome of looking up a session cookie."""

    user: User | None
    expired_user_id: int | None = None
    changed: bool = False
    ended_reason: str | None = None  # set on the request that ended the sign-in session just now (idle, max_age, ...)
    clinic_name: str | None = None  # the clinic's name (for the page header), read by the same statement


@cache
def _session_and_user() -> Select[tuple[UserSession, str | None]]:
    # Every request loads its sign-in session and the user in one statement, built once per process on
    # first use (after every model is mapped): SQLAlchemy then reuses its compiled form and cache key.
    # The clinic's name rides along as a scalar subquery, so the page header needs no statement of its own
    # (read by table: auth sits below admin, whose model it is).
    settings = Base.metadata.tables["clinic_settings"]
    clinic_name = select(settings.c.name).where(settings.c.id == 1).scalar_subquery().label("clinic_name")
    return (
        select(UserSession, clinic_name)
        .join(UserSession.user)
        .options(contains_eager(UserSession.user))
        .where(UserSession.session_key == bindparam("session_key"))
    )


def load_session(session: Session, session_key: str, idle_timeout: timedelta, max_age: timedelta | None = None) -> LoadedSession:
    """Resolve a session key to its user, ending it if it idled too long, outlived `max_age`, or the account is off."""
    row = session.execute(_session_and_user(), {"session_key": session_key}).first()
    if row is None:
        return LoadedSession(None)
    user_session, clinic_name = row
    if user_session.ended_at is not None:
        # An idle-expired session still tells whose typing may be kept for them.
        return LoadedSession(None, expired_user_id=user_session.user_id if user_session.end_reason == "idle" else None)
    now = utcnow()
    user = user_session.user
    ending = "deactivated" if not user.is_active_account else "idle" if now - user_session.last_seen_at > idle_timeout else None
    if ending is None and max_age is not None and now - user_session.created_at > max_age:
        ending = "max_age"
    if ending is not None:
        with write_step(session):
            # Read again under the write lock: a request beside this one may have ended it already.
            session.refresh(user_session)
            end_session(session, user_session, ending)
        return LoadedSession(None, expired_user_id=user.id if ending == "idle" else None, changed=True, ended_reason=ending)
    user.current_session = user_session
    # Writing on every request would serialise reads; a minute's precision is enough.
    if now - user_session.last_seen_at > timedelta(seconds=60):
        with write_step(session):
            user_session.last_seen_at = now
        return LoadedSession(user, changed=True, clinic_name=clinic_name)
    return LoadedSession(user, clinic_name=clinic_name)


def apply_two_factor_requirement(session: Session, required: bool) -> None:
    """The clinic turned "require two-factor for everyone" on or off: applied to the sign-ins open now.

    On: every open sign-in of someone without two-factor goes to enrolment at its next request (and reaches
    nothing else until they have enrolled). Off: nobody is held at enrolment any more.
    """
    query = update(UserSession).where(UserSession.ended_at.is_(None))
    if required:
        query = query.where(UserSession.user_id.in_(select(User.id).where(User.totp_enabled_at.is_(None))))
    session.execute(query.values(must_enrol_two_factor=required).execution_options(synchronize_session="fetch"))


def save_form_draft(session: Session, user_id: int, path: str, form: dict[str, list[str]]) -> None:
    """Keep what was typed into a form whose sign-in had expired (never the CSRF token)."""
    payload = {key: values for key, values in form.items() if key != "csrf_token"}
    session.add(FormDraft(user_id=user_id, path=path[:500], payload=json.dumps(payload)))


def take_form_draft(session: Session, user_id: int, path: str, max_age: timedelta) -> dict[str, list[str]] | None:
    """The newest draft this user left on this page, removed as it is handed back."""
    with write_step(session):
        return _take_form_draft(session, user_id, path, max_age)


def _take_form_draft(session: Session, user_id: int, path: str, max_age: timedelta) -> dict[str, list[str]] | None:
    drafts = session.scalars(
        select(FormDraft).where(FormDraft.user_id == user_id, FormDraft.path == path).order_by(FormDraft.id.desc())
    ).all()
    if not drafts:
        return None
    newest = drafts[0]
    for draft in drafts:
        session.delete(draft)
    if utcnow() - newest.created_at > max_age:
        return None
    return json.loads(newest.payload)


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    actor: User | None,
    registration: str | None = None,
    max_depth_mm: Decimal | None = None,
    ip_address: str = "",
) -> User:
    """Add a user with a hashed password; the email must be new and pass the sign-in email rule."""
    problem = email_address_problem(email)
    if problem:
        raise InvalidEmail(problem)
    email = normalise_email(email)
    if find_user_by_email(session, email) is not None:
        raise DuplicateRecord("email", "A user with this email already exists.")
    weak = password_problem(password, name=name, email=email)
    if weak:
        raise WeakPassword(weak)
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password),
        registration=registration or None,
        max_depth_mm=max_depth_mm,
    )
    session.add(user)
    session.flush()
    audit.append(session, "user.create", actor=actor, actor_label=actor.email if actor else "command line",
                 target=f"user:{user.public_id}", detail={"email": email, "role": role.value}, ip_address=ip_address)
    return user


def update_user(
    session: Session,
    user: User,
    *,
    name: str,
    role: Role,
    active: bool,
    registration: str | None,
    max_depth_mm: Decimal | None,
    new_password: str | None,
    actor: User,
    ip_address: str = "",
) -> dict[str, list[str]]:
    """Change a user's details, role or status; an admin cannot lock themselves out."""
    if user.id == actor.id and (role != Role.ADMIN or not active):
        raise DomainError("You cannot remove your own administrator role or deactivate yourself. Ask another administrator.")
    before = {
        "name": user.name,
        "role": user.role.value,
        "active": user.is_active_account,
        "registration": user.registration or "",
        "max_depth_mm": str(user.max_depth_mm) if user.max_depth_mm is not None else "",
    }
    user.name = name.strip()
    user.role = role
    user.is_active_account = active
    user.registration = registration or None
    user.max_depth_mm = max_depth_mm
    after = {
        "name": user.name,
        "role": user.role.value,
        "active": user.is_active_account,
        "registration": user.registration or "",
        "max_depth_mm": str(user.max_depth_mm) if user.max_depth_mm is not None else "",
    }
    changes = {key: [str(before[key]), str(after[key])] for key in before if before[key] != after[key]}
    if new_password:
        weak = password_problem(new_password, name=user.name, email=user.email)
        if weak:
            raise WeakPassword(weak)
        user.password_hash = hash_password(new_password)
        changes["password"] = ["(set)", "(changed)"]
    if not active or "password" in changes:
        for open_session in session.scalars(
            select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        ):
            end_session(session, open_session, "deactivated" if not active else "password_changed", ip_address=ip_address)
    audit.append(session, "user.update", actor=actor, target=f"user:{user.public_id}",
                 detail={"email": user.email, "changes": changes}, ip_address=ip_address)
    return changes
