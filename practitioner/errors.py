"""Domain errors raised by services, and the friendly error pages views fall back on."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


class DomainError(Exception):
    """A rule refused an action; the message says what to do next."""


class NotAllowed(DomainError):
    """The action is not possible in the record's current state."""


class StaleRecord(DomainError):
    """Someone else saved the record after this form was opened."""


class DuplicateRecord(DomainError):
    """A value that must be unique is already taken."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


ERROR_TEXT = {
    400: ("The request could not be used", "The page may have been open too long, or the form was sent twice. Go back, reload the page and try again."),
    403: ("You do not have access to this page", "Your role does not include this. Ask a clinic administrator if you need it."),
    404: ("Page not found", "The page or record does not exist. It may have been typed wrongly, or the link is out of date."),
    405: ("That action is not available here", "Use the buttons on the page rather than typing the address."),
    409: ("The record changed while you were editing", "Reload the page to see the latest version."),
    413: ("The upload is too large", "Choose a smaller file and try again."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    500: ("Something went wrong on our side", "Nothing you typed was saved by this request. Try again; if it keeps happening, tell your clinic administrator the time it happened."),
}


def _render_error(code: int, description: str | None = None):
    title, advice = ERROR_TEXT.get(code, (f"Error {code}", "Go back and try again."))
    template = f"errors/{code}.html" if code in (403, 404, 500) else "errors/generic.html"
    return render_template(template, code=code, title=title, advice=advice, description=description), code


def register_error_pages(app: Flask) -> None:
    """Friendly pages for every HTTP error; never a stack trace in the browser."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        description = None
        if exc.code == 400 and getattr(exc, "description", "") and "CSRF" in str(exc.description):
            description = "The form's security token was missing or out of date."
        return _render_error(exc.code, description)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        if app.testing and app.config.get("PROPAGATE_EXCEPTIONS") is not False:
            raise exc  # let a test see the real error; tests of the 500 page switch this off
        log.exception("unhandled error on %s %s", request.method, request.path)
        try:
            from practitioner.extensions import db

            db.session.rollback()
        except Exception:  # pragma: no cover - the rollback must never mask the page
            log.exception("rollback after an unhandled error failed")
        return _render_error(InternalServerError.code)
