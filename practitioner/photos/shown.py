"""A thumbnail the page's own audit row already names: its address carries a short-lived proof, and fetching it writes no row.

A page of a patient's photos (the photo timeline on the patient's page, the patient's photos page)
writes one audit row naming every photo it shows (`views_compare.record_shown`). The browser then
fetches each thumbnail; each fetch used to write a row of its own saying the same thing again (up to
a few dozen rows, each taking SQLite's write lock, per page view). So each thumbnail address on such a
page carries `?shown=`: a timestamp and an HMAC (itsdangerous, keyed with the app's secret key) over
the user and the photo. A fetch by the same user, of the same photo, within `VALID_FOR` seconds is
covered by the page's row and writes none. Any other fetch (no proof, another user's, another photo's,
an expired or altered one) is audited as before. Access is checked the same way in every case:
the proof never lets anyone see a photo they could not see without it. See docs/photography.md.
"""

from __future__ import annotations

import hashlib

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner

VALID_FOR = 300  # seconds: the page has loaded its thumbnails long before (lazy ones below the fold included, usually)
_SALT = "photos.thumbnail-shown"


def _signer() -> TimestampSigner:
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app, not its proxy
    signer = app.extensions.get("practitioner.photos.shown")
    if signer is None:
        signer = app.extensions["practitioner.photos.shown"] = TimestampSigner(app.secret_key, salt=_SALT, digest_method=hashlib.sha256)
    return signer


def _value(user_id: int, photo_key: str) -> str:
    return f"{user_id}:{photo_key}"


def proof(user_id: int, photo_key: str) -> str:
    """The `shown` value for one user's thumbnail of one photo: 'timestamp.signature' (the value itself is left out)."""
    signed = _signer().sign(_value(user_id, photo_key)).decode("ascii")
    return signed.split(".", 1)[1]


def covers(token: str | None, user_id: int, photo_key: str) -> bool:
    """Whether `token` was made for this user and this photo less than VALID_FOR seconds ago."""
    if not token or len(token) > 200:
        return False
    try:
        _signer().unsign(f"{_value(user_id, photo_key)}.{token}", max_age=VALID_FOR)
    except BadSignature:  # altered, made for someone or something else, or expired (SignatureExpired)
        return False
    return True
