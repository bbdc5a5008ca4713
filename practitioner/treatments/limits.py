"""What one session record may hold: the longest notes and the most addenda, so every document made from it renders in time.

Every document is rendered to PDF, and the render time grows with the text it prints (about 0.2 s a page
here). Without limits one session with 60 long addenda took 40 s to render, and the patient's record
export prints every session. These limits keep the largest legal record's every document under 10 s
(bench/bench_no_waiting.py builds it: a plan's twelve sessions, each with every field full and the
most addenda, and times each kind); docs/session-record.md says them in words. Each limit is told to
the practitioner where they type (the field's hint and its maxlength), checked by the form (422, a
message on the field) and again by the service, whatever calls it.
"""

from __future__ import annotations

from typing import Final

#: The session form's free-text fields that print on the documents, and the characters each may hold.
SESSION_TEXT: Final[dict[str, int]] = {
    "changes_since_consultation": 1000,
    "new_medicines": 1000,
    "post_care_products": 500,
    "clinical_note": 2000,
}
CLINICAL_NOTE: Final = SESSION_TEXT["clinical_note"]

#: Addenda beneath one signed session, and the characters of each one's reason and text.
ADDENDA_PER_SESSION: Final = 5
ADDENDUM_REASON: Final = 200
ADDENDUM_TEXT: Final = 1000


def length(text: str) -> int:
    """The characters of a text as a browser counts them against maxlength: a textarea's CRLF line break is one.

    The text itself is stored as sent, CRLF and all; only its length is counted this way.
    """
    return len(text) - text.count("\r\n")


def hint(characters: int) -> str:
    """The hint under a limited field."""
    return f"Up to {characters:,} characters."


def too_long(characters: int, length: int) -> str:
    """The refusal of a text of `length` characters where `characters` are allowed."""
    return f"This is {length:,} characters long: shorten it to {characters:,} characters or fewer."
