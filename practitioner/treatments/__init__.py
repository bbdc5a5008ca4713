"""Treatment sessions: the per-visit record, signed and locked, with addenda and lot recall."""

from flask import Blueprint

bp = Blueprint("treatments", __name__)

from practitioner.treatments import views  # noqa: E402,F401  (routes register on import)
