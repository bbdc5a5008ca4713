"""Patient records: register, find, edit and archive."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

from practitioner.patients import views  # noqa: E402,F401  (routes register on import)
