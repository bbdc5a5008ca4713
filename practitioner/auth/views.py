"""Sign-in and sign-out pages, the session loader, and what happens when a sign-in expires."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import time
import uuid

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from markupsafe import Markup
from sqlalchemy import select

from practitioner.auth import bp, services
from practitioner.auth import two_factor as totp
from practitioner.auth.access import client_ip
from practitioner.auth.forms import CodeForm, EnrolForm, SignInForm
from practitioner.auth.models import User
from practitioner.database import Base
from practitioner.extensions import db, login_manager
from practitioner.unit_of_work import CommitReason, commit_exception, commit_request

DRAFT_MAX_AGE = timedelta(hours=12)


@login_manager.user_loader
def load_user(session_key: str):
    """Flask-Login hook: the session cookie holds a sign-in session key, checked on every request."""
    loaded = services.load_session(db.session, session_key, current_app.config["IDLE_TIMEOUT"], current_app.config["SESSION_MAX_AGE"])
    if loaded.expired_user_id is not None:
        g.expired_user_id = loaded.expired_user_id
    if loaded.ended_reason == "max_age":
        # Said once: only the request that ends the session learns why; the ended session says nothing after.
        hours = round(current_app.config["SESSION_MAX_AGE"].total_seconds() / 3600)
        flash(f"You were signed out after {hours} hour{'' if hours == 1 else 's'}; please sign in again.", "warning")
    if loaded.user is not None:
        from practitioner.templating import remember_clinic_name  # templating imports auth: here, not at the top

        remember_clinic_name(loaded.clinic_name)
    if loaded.changed:
        commit_exception(CommitReason.SIGN_IN_SESSION)
    return loaded.user


def sign_in_limits() -> services.SignInLimits:
    """The sign-in limits from the app's config."""
    config = current_app.config
    return services.SignInLimits(
        max_failures=config["SIGN_IN_MAX_FAILURES"], window=config["SIGN_IN_WINDOW"],
        address_max_failures=config["SIGN_IN_ADDRESS_MAX_FAILURES"], delay_cap=float(config["SIGN_IN_DELAY_CAP_SECONDS"]),
    )


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@login_manager.unauthorized_handler
def unauthorized():
    """Send the person to sign in; keep what they were submitting if their sign-in had expired."""
    expired_user_id = g.get("expired_user_id")
    if expired_user_id is not None:
        if request.method == "POST":
            services.save_form_draft(db.session, expired_user_id, request.path, request.form.to_dict(flat=False))
            commit_request()
            session["draft_user_id"] = expired_user_id
            flash("You were signed out after 30 minutes without activity. Sign in again: what you typed has been kept, "
                  "so you can check it and save.", "warning")
        else:
            flash("You were signed out after 30 minutes without activity. Sign in again to carry on.", "warning")
    next_path = request.full_path.rstrip("?") if request.method == "GET" else request.path
    return redirect(url_for("auth.sign_in", next=next_path), 303)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(url_for("patients.list"), 303)
    form = SignInForm()
    next_path = _safe_next(request.args.get("next"))
    if not form.validate_on_submit():
        return render_template("auth/sign_in.html", form=form), 422 if form.is_submitted() else 200
    try:
        user, failures = services.check_credentials(db.session, form.email.data, form.password.data, ip_address=client_ip(),
                                                    limits=sign_in_limits())
    except services.SignInThrottled as exc:
        commit_exception(CommitReason.SIGN_IN_REFUSED)
        minutes = max(1, int((exc.retry_at - services.utcnow()).total_seconds() // 60) + 1)
        where = "for this account from this device" if exc.scope == "pair" else "from this network address"
        form.email.errors = list(form.email.errors) + [
            f"Too many failed sign-ins {where}. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
            "or ask a clinic administrator to set a new password."]
        return render_template("auth/sign_in.html", form=form), 429
    except services.SignInFailed as exc:
        commit_exception(CommitReason.SIGN_IN_REFUSED)
        form.password.errors = list(form.password.errors) + [str(exc) + " Check both and try again."]
        return render_template("auth/sign_in.html", form=form), 422
    draft_user_id = session.get("draft_user_id")
    # A new cookie session at sign-in: nothing from before survives (no session fixation).
    session.clear()
    if user.totp_enabled_at is not None:
        # The password was right; the code comes next (the failures so far stay counted until it does).
        commit_exception(CommitReason.SIGN_IN_REFUSED)
        session["two_factor"] = {"user": str(user.public_id), "at": time.time(), "next": next_path,
                                 "draft": draft_user_id == user.id, "failures": failures}
        return redirect(url_for("auth.two_factor_code"), 303)
    return _finish_sign_in(user, next_path, draft=draft_user_id == user.id, failures=failures)


def _finish_sign_in(user, next_path: str | None, *, draft: bool, failures: int, second_factor: str | None = None):
    """Open the sign-in session and go on (to enrol first, when the clinic requires two-factor and they have none)."""
    services.open_session(db.session, user, ip_address=client_ip(), user_agent=request.headers.get("User-Agent", ""),
                          failures_before=failures, second_factor=second_factor)
    if draft and next_path:
        session["restore_draft_for"] = urlsplit(next_path).path
    login_user(user)
    commit_request()
    if user.totp_enabled_at is None and two_factor_required():
        # Remembered in the cookie, so the pages after it ask nothing more of the database.
        session["must_enrol_two_factor"] = True
        flash(ENROL_FIRST, "info")
        return redirect(url_for("auth.two_factor"), 303)
    return redirect(next_path or url_for("patients.list"), 303)


TWO_FACTOR_PENDING_SECONDS = 300


def two_factor_required() -> bool:
    """The clinic setting 'require two-factor for everyone' (read by table, as auth sits below admin)."""
    table = Base.metadata.tables["clinic_settings"]
    return bool(db.session.scalar(select(table.c.require_two_factor).where(table.c.id == 1)))


@bp.route("/sign-in/code", methods=["GET", "POST"])
def two_factor_code():
    """After a right password: the code from the authenticator app (or a recovery code), throttled like passwords."""
    pending = session.get("two_factor")
    if current_user.is_authenticated:
        return redirect(url_for("patients.list"), 303)
    if not pending or time.time() - float(pending.get("at", 0)) > TWO_FACTOR_PENDING_SECONDS:
        session.pop("two_factor", None)
        if pending:
            flash("That took longer than 5 minutes. Sign in again.", "warning")
        return redirect(url_for("auth.sign_in"), 303)
    user = db.session.scalars(select(User).where(User.public_id == uuid.UUID(pending["user"]))).first()
    if user is None or not user.is_active_account or user.totp_enabled_at is None:
        session.pop("two_factor", None)
        return redirect(url_for("auth.sign_in"), 303)
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("auth/two_factor_code.html", form=form), 422 if form.is_submitted() else 200
    limits = sign_in_limits()
    try:
        services.check_throttle(db.session, user.email, client_ip(), limits)
    except services.SignInThrottled:
        commit_exception(CommitReason.SIGN_IN_REFUSED)
        session.pop("two_factor", None)
        flash("Too many wrong codes. Sign in again in a few minutes.", "warning")
        return redirect(url_for("auth.sign_in"), 303)
    used = totp.verify(db.session, user, form.code.data or "", ip_address=client_ip())
    if used is None:
        services.record_failure(db.session, user.email, client_ip(), limits, user=user, reason="wrong code")
        commit_exception(CommitReason.SIGN_IN_REFUSED)
        form.code.errors = [*form.code.errors, "That code is not right, or was used already. Type the code your app shows now, "
                                               "or an unused recovery code."]
        return render_template("auth/two_factor_code.html", form=form), 422
    session.clear()
    return _finish_sign_in(user, pending.get("next"), draft=bool(pending.get("draft")), failures=int(pending.get("failures", 0)),
                           second_factor=used)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    """Set up sign-in with an authenticator app: scan the QR code, confirm with a code, keep the recovery codes."""
    user = current_user
    if user.totp_enabled_at is not None:
        return render_template("auth/two_factor.html", enabled=True, codes=None, form=None, svg=None, secret=None)
    secret = session.get("totp_pending") or totp.new_secret()
    session["totp_pending"] = secret
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = totp.confirm_enrolment(db.session, user, secret, form.code.data or "", ip_address=client_ip())
        except totp.InvalidCode as exc:
            form.code.errors = [*form.code.errors, str(exc)]
        else:
            commit_request()
            session.pop("totp_pending", None)
            session.pop("must_enrol_two_factor", None)
            return render_template("auth/two_factor.html", enabled=True, codes=codes, form=None, svg=None, secret=None)
    uri = totp.provisioning_uri(secret, user.email, clinic_name_text())
    # segno draws the URI as squares (a path); none of its text is in the SVG, so it is safe to insert as markup.
    svg = Markup(totp.qr_svg(uri))  # nosec B704  # segno's SVG holds only drawn modules, no text from the URI
    return render_template("auth/two_factor.html", enabled=False, codes=None, form=form, svg=svg,
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4))), 422 if form.is_submitted() else 200


def clinic_name_text() -> str:
    """The clinic's name for the authenticator app's label."""
    table = Base.metadata.tables["clinic_settings"]
    return db.session.scalar(select(table.c.name).where(table.c.id == 1)) or "clinic"


ENROL_FIRST = "Your clinic asks everyone to sign in with a code from an authenticator app too. Set it up now."


@bp.before_app_request
def enforce_two_factor():
    """When the clinic requires two-factor, a person signed in without it can only set it up or sign out.

    Asked at sign-in (remembered in the cookie), or at once for someone already signed in when the clinic
    turned the requirement on (their sign-in session is marked: auth.services.apply_two_factor_requirement).
    """
    if request.endpoint in ("auth.two_factor", "auth.sign_out", "static", "main.health"):
        return None
    if not session.get("must_enrol_two_factor"):
        if not (current_user.is_authenticated and current_user.current_session is not None
                and current_user.current_session.must_enrol_two_factor and current_user.totp_enabled_at is None):
            return None
        session["must_enrol_two_factor"] = True
        flash(ENROL_FIRST, "info")
    if not current_user.is_authenticated or current_user.totp_enabled_at is not None:
        session.pop("must_enrol_two_factor", None)
        return None
    return redirect(url_for("auth.two_factor"), 303)


@bp.post("/sign-out")
def sign_out():
    """End the sign-in session on the server, then forget the cookie."""
    if current_user.is_authenticated and current_user.current_session is not None:
        services.end_session(db.session, current_user.current_session, "signed_out", ip_address=client_ip())
        commit_request()
    logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("auth.sign_in"), 303)


def restore_form_draft() -> None:
    """Before a form page loads after signing in again, hand it the kept draft."""
    path = session.get("restore_draft_for")
    if not path or request.method != "GET" or request.path != path or not current_user.is_authenticated:
        return
    session.pop("restore_draft_for", None)
    draft = services.take_form_draft(db.session, current_user.id, path, DRAFT_MAX_AGE)
    if draft is not None:
        g.restored_form_draft = draft
        flash("What you typed before you were signed out is back in the form. Check it and save.", "info")
