"""Treatment plans: the course made from a consultation, zone by zone."""

from flask import Blueprint

bp = Blueprint("plans", __name__)

from practitioner.plans import views  # noqa: E402,F401  (routes register on import)
