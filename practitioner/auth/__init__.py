"""Sign-in, sign-out and the sign-in session."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from practitioner.auth import views  # noqa: E402,F401  (routes register on import)
