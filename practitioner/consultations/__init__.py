"""Consultations: screening, the treatment plan and consent."""

from flask import Blueprint

bp = Blueprint("consultations", __name__)

from practitioner.consultations import consent_views, plan_views, views  # noqa: E402,F401  (routes register on import)
