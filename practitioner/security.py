"""Response headers and the request hooks that every page goes through."""

from __future__ import annotations

from flask import Flask, abort, request
from flask.wrappers import Response
from werkzeug.middleware.proxy_fix import ProxyFix

from practitioner.database import set_reads_only

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def init_app(app: Flask) -> None:
    """Security headers on every response; no caching of anything but static files."""
    if app.config.get("TRUST_PROXY"):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    def mark_reads_only() -> None:
        # First of all the hooks, before anything touches the database: a GET's transactions
        # begin DEFERRED so they do not queue for SQLite's write lock (see practitioner.database).
        set_reads_only(request.method in READ_ONLY_METHODS)

    app.before_request_funcs.setdefault(None, []).insert(0, mark_reads_only)

    @app.teardown_request
    def end_reads_only(exc: BaseException | None) -> None:
        set_reads_only(False)

    @app.before_request
    def refuse_nul_in_address() -> None:
        # No link or form of ours puts a NUL character in an address, and PostgreSQL text cannot
        # hold one: a search for it would fail there (a 500) where SQLite finds nothing. Nor do we
        # send bytes that are not UTF-8 (a raw 0xFF): reading such an address's values would fail.
        try:
            request.query_string.decode("utf-8")
        except UnicodeDecodeError:
            abort(400)
        if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
            abort(400)

    @app.before_request
    def restore_kept_form() -> None:
        from practitioner.auth.views import restore_form_draft

        restore_form_draft()

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if request.endpoint != "static" and "Cache-Control" not in headers:
            # Pages carry patient data: never keep them in a shared or back-button cache.
            headers["Cache-Control"] = "no-store"
        elif request.endpoint == "static":
            headers["Cache-Control"] = "public, max-age=3600"
        if not app.config.get("TESTING") and request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
