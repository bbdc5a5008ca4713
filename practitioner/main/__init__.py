"""The home redirect and a health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from practitioner.main import views  # noqa: E402,F401  (routes register on import)
