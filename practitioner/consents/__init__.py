"""Consent: signed on the screen against a consultation, kept exactly as signed."""

from flask import Blueprint

bp = Blueprint("consents", __name__)

from practitioner.consents import views  # noqa: E402,F401  (routes register on import)
