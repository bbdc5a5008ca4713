"""Optimistic locking for edit forms: the version a form was opened at, read one way everywhere."""

from __future__ import annotations

import re
from typing import Any

from flask import abort

# Only plain ASCII digits, and not absurdly many: str.isdigit() also accepts "²" and "١", which int() refuses.
_VERSION = re.compile(r"[0-9]{1,9}")


def expected_version(form: Any) -> int:
    """The record version the posted form was opened at; a missing or non-numeric one is refused with 400.

    Every edit form carries the version it was opened at in a hidden field. A post without it (or with
    anything but a number) cannot be checked against a newer save, so it is refused rather than saved
    over someone else's work; the 400 page tells the person to reload the page and try again.
    """
    raw = form.version.data
    if not isinstance(raw, str) or not _VERSION.fullmatch(raw.strip()):
        abort(400, description="The form did not say which version of the record it was opened at.")
    return int(raw.strip())
