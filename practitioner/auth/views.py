"""Sign-in and sign-out pages, the session loader, and what happens when a sign-in expires."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from practitioner.auth import bp, services
from practitioner.auth.access import client_ip
from practitioner.auth.forms import SignInForm
from practitioner.extensions import db, login_manager
from practitioner.unit_of_work import CommitReason, commit_exception, commit_request

DRAFT_MAX_AGE = timedelta(hours=12)


@login_manager.user_loader
def load_user(session_key: str):
    """Flask-Login hook: the session cookie holds a sign-in session key, checked on every request."""
    loaded = services.load_session(db.session, session_key, current_app.config["IDLE_TIMEOUT"], current_app.config["SESSION_MAX_AGE"])
    if loaded.expired_user_id is not None:
        g.expired_user_id = loaded.expired_user_id
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
        user = services.sign_in(
            db.session, form.email.data, form.password.data, ip_address=client_ip(),
            user_agent=request.headers.get("User-Agent", ""),
            limits=sign_in_limits(),
        )
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
    if draft_user_id == user.id and next_path:
        session["restore_draft_for"] = urlsplit(next_path).path
    login_user(user)
    commit_request()
    return redirect(next_path or url_for("patients.list"), 303)


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
