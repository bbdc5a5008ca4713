"""A photo's image and thumbnail, served only through the app: practitioners only, never cached, every view audited.

Also the upload size: a POST to a photo route may carry a visit's set of photos, up to
REQUEST_MAX_BYTES in all (each photo up to imaging.MAX_BYTES, checked by imaging.process), refused
from the request's length before the body is read; every other route keeps the app's MAX_CONTENT_LENGTH.
"""

from __future__ import annotations

import uuid

from flask import Response, abort, render_template, request
from flask_login import current_user

from practitioner.auth.access import client_ip, require
from practitioner.auth.models import Permission
from practitioner.extensions import db
from practitioner.photos import bp, imaging, services, shown
from practitioner.photos.models import Photo

# A visit's protocol views may come in one form: a set of phone photos (3-6 MB each) fits with room to spare.
REQUEST_MAX_BYTES = 80 * 1024 * 1024


def upload_limit() -> int:
    """The largest request body a photo route reads."""
    return REQUEST_MAX_BYTES


def _photo_request_body_limit() -> None:
    """On a photo route, allow photo-sized bodies; Werkzeug refuses a longer one (413) before reading it."""
    if request.blueprint == bp.name and request.method == "POST":
        request.max_content_length = upload_limit()


@bp.record_once
def _limit_before_csrf(state) -> None:
    # First of the app's before-request functions: the CSRF check reads the form, so the limit must be set before it.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _photo_request_body_limit)


@bp.errorhandler(413)
def upload_too_large(exc):
    """The request body was over the photo routes' limit: say the limit, without reading the body."""
    return render_template("errors/generic.html", code=413, title="The upload is too large",
                           advice="Choose fewer or smaller photos and try again.",
                           description=f"Each photo may be up to {imaging.MAX_BYTES // 1_048_576} MB, and one form up to "
                                       f"{REQUEST_MAX_BYTES // 1_048_576} MB in all. Send fewer photos at a time, or set the "
                                       "camera to a smaller picture size."), 413


def _image_response(body: bytes, photo: Photo, *, part: str, download: bool) -> Response:
    """The JPEG with headers that keep it out of caches, unsniffed, and named safely."""
    name = f"photo-{photo.view}-{photo.captured_at:%Y-%m-%d}-{str(photo.public_id)[:8]}{'-thumbnail' if part == 'thumbnail' else ''}.jpg"
    return Response(body, mimetype="image/jpeg", headers={
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'{"attachment" if download else "inline"}; filename="{name}"',
        "Cross-Origin-Resource-Policy": "same-origin",
    })


def _wants_download() -> bool:
    return request.args.get("download", "") in ("1", "yes", "true")


def _serve(public_id: uuid.UUID, part: str, *, download: bool) -> Response:
    """One photo's image or thumbnail (each read alone from its column), its view or download audited.

    A thumbnail fetched with the proof of the page that showed it (photos/shown.py) is covered by that page's
    audit row, which names the photo: no row of its own. Without a valid proof, every fetch is audited.
    """
    photo = db.one_or_404(Photo.by_public_id(public_id))
    read = services.image_bytes if part == "image" else services.thumbnail_bytes
    body = read(db.session, photo)
    if not body:
        abort(404)
    if not (part == "thumbnail" and shown.covers(request.args.get("shown"), current_user.id, str(photo.public_id))):
        services.record_view(db.session, photo, part=part, download=download, actor=current_user, ip_address=client_ip())
    return _image_response(body, photo, part=part, download=download)


@bp.get("/photos/<uuid:public_id>/image")
@require(Permission.VIEW_CLINICAL)
def image(public_id: uuid.UUID):
    """The re-encoded photo (never the uploaded bytes); `?download=1` to save it, audited as a download."""
    return _serve(public_id, "image", download=_wants_download())


@bp.get("/photos/<uuid:public_id>/thumbnail")
@require(Permission.VIEW_CLINICAL)
def thumbnail(public_id: uuid.UUID):
    """The photo's thumbnail, read without loading the full image."""
    return _serve(public_id, "thumbnail", download=False)
