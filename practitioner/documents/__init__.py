"""Patient documents: context builders, rendering to PDF, issuing and the archive."""

from flask import Blueprint

bp = Blueprint("documents", __name__)

from practitioner.documents import views  # noqa: E402,F401  (routes register on import)
