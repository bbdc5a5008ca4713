"""The documents blueprint: its routes and its signal receivers, loaded when create_app asks for `documents.bp`."""

from flask import Blueprint

bp = Blueprint("documents", "practitioner.documents")

from practitioner.documents import receivers, views  # noqa: E402,F401  (routes register on import)

receivers.connect()
bp.before_app_request(receivers.start_rendering_early)
