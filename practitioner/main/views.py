"""The front door."""

from flask import redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from practitioner.extensions import db
from practitioner.main import bp


@bp.get("/")
def home():
    """Signed in: the patient list. Otherwise: sign in."""
    if current_user.is_authenticated:
        return redirect(url_for("patients.list"), 303)
    return redirect(url_for("auth.sign_in"), 303)


@bp.get("/healthz")
def health():
    """For a load balancer or monitor: the app answers and the database is reachable."""
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
