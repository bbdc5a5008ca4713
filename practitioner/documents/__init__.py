"""Patient documents: context builders, rendering to PDF, issuing and the archive."""

from flask import Blueprint

bp = Blueprint("documents", __name__)

from practitioner.documents import receivers, views  # noqa: E402,F401  (routes register on import)

receivers.connect()
bp.before_app_request(receivers.start_rendering_early)
