"""A drawn signature, as posted from a signature pad: decoded, checked and re-encoded as a fresh PNG.

Shared by everything a patient signs (a consent, an intake), so the rules are one: only the re-encoded
pixels are kept; whatever else the posted file carried (text chunks, a trailer after its end, another
file appended) is not stored. Messages are for the person holding the pad; `InvalidSignature.reason`
names the problem in a code, so a page for a different reader can word it its own way.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image

from practitioner.errors import DomainError

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 500 * 1024
MIN_SIZE = (100, 50)
MAX_SIZE = (4096, 2048)
# A pixel is ink when it is darker than this on white (0-255); a signature needs a few dozen.
INK_LEVEL = 160
MIN_INK_PIXELS = 50

SIGN_AGAIN = "Clear the box and ask the patient to sign again."


class InvalidSignature(DomainError):
    """The drawn signature is missing, not a PNG, too large, or blank; `reason` says which."""

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


def decode_signature(data_url: str) -> bytes:
    """A drawn signature sent as a data: URL, decoded, checked and re-encoded as a fresh PNG (InvalidSignature saying why not)."""
    data_url = (data_url or "").strip()
    if not data_url:
        raise InvalidSignature("Ask the patient to sign in the box.", "missing")
    if not data_url[: len(DATA_URL_PREFIX)].lower() == DATA_URL_PREFIX:
        raise InvalidSignature(f"The signature was not received as a PNG image. {SIGN_AGAIN}", "not_png")
    encoded = data_url[len(DATA_URL_PREFIX):]
    if len(encoded) > (MAX_SIGNATURE_BYTES * 4) // 3 + 4:
        raise InvalidSignature(f"The signature image is too large. {SIGN_AGAIN}", "too_large")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature(f"The signature image could not be read. {SIGN_AGAIN}", "unreadable") from exc
    return reencoded_png(raw)


def reencoded_png(raw: bytes) -> bytes:
    """PNG bytes checked (a PNG, a usable size, some ink) and saved again as a fresh PNG (InvalidSignature saying why not)."""
    if not raw:
        raise InvalidSignature("Ask the patient to sign in the box.", "missing")
    if len(raw) > MAX_SIGNATURE_BYTES:
        raise InvalidSignature(f"The signature image is too large. {SIGN_AGAIN}", "too_large")
    try:
        # Pillow warns (rather than fails) on some malformed or huge images: treat that as unreadable.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with Image.open(io.BytesIO(raw)) as image:
                if image.format != "PNG":
                    raise InvalidSignature(f"The signature was not received as a PNG image. {SIGN_AGAIN}", "not_png")
                width, height = image.size
                if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
                    raise InvalidSignature(f"The signature image is {width}×{height} pixels, which is not a usable size. "
                                           f"{SIGN_AGAIN}", "size")
                image.load()
                rgba = image.convert("RGBA")
    except InvalidSignature:
        raise
    except Exception as exc:  # Pillow raises many types for a damaged file; all mean the same here
        raise InvalidSignature(f"The signature image could not be read. {SIGN_AGAIN}", "unreadable") from exc
    # Transparent pixels count as paper, whatever colour they hold.
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    if sum(flat.histogram()[:INK_LEVEL]) < MIN_INK_PIXELS:
        raise InvalidSignature("The signature box is empty. Ask the patient to sign in the box.", "empty")
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue()
