"""Optimistic locking for edit forms: the version a form was opened at, read one way everywhere."""

from __future__ import annotations

import re
from typing import Any

from practitioner.errors import StaleRecord

# Only plain ASCII digits, and not absurdly many: str.isdigit() also accepts "²" and "١", which int() refuses.
_VERSION = re.compile(r"[0-9]{1,9}")


class UnknownVersion(StaleRecord):
    """The posted form did not say which version of the record it was opened at."""


def expected_version(form: Any) -> int:
    """The record version the posted form was opened at; a missing or non-numeric one raises UnknownVersion.

    Every edit form carries the version it was opened at in a hidden field. A post without it (or with
    anything but a number) cannot be checked against a newer save, so it is refused rather than saved
    over someone else's work. UnknownVersion is a StaleRecord: each view answers it as it answers a
    newer save, with its conflict page (409), the typed values kept in the form and the saved ones beside them.
    """
    raw = form.version.data
    if not isinstance(raw, str) or not _VERSION.fullmatch(raw.strip()):
        raise UnknownVersion("This form did not say which version of the record it was opened at, so it could "
                             "have saved over a newer change. Nothing was saved.")
    return int(raw.strip())
