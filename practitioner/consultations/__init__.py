"""Consultations: the assessment, screening, its result and overrides."""

from flask import Blueprint

bp = Blueprint("consultations", __name__)

from practitioner.consultations import views  # noqa: E402,F401  (routes register on import)
