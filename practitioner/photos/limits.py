"""How many photographs one visit may hold and how many review visits a plan may have, so every document that prints
them renders in time.

The patient record export prints every photograph of a plan's sessions and review visits in that plan's volume, and
its render time grows with them (bench/bench_export_photos.py measures it). With these limits and the session limits
of practitioner/treatments/limits.py, the largest plan volume the record may hold renders in the time
docs/photography.md gives ("How many photographs"), which also says why these numbers. Each limit is told where
the practitioner works (the capture page's "N of M photographs for this visit", the review visit form's choices)
and checked in the service, whatever calls it: an upload that would pass it saves none of its photos.

Review visits outside a plan have no limit: the export packs them, with their photographs, into its record-wide
parts by its cost model, so each volume stays within its budget however many a long-standing patient has, and a
review visit without a plan is the way on when a plan's review visits are used up.
"""

from __future__ import annotations

from typing import Final

#: Photographs one set may hold (a visit at one moment): the five standard views (front, both obliques, both
#: sides) a protocol can ask for, and one more for a close-up or a retake.
PHOTOS_PER_SET: Final = 6

#: The moments of each kind of visit (photos.capture.moments_for): a session has a set before treatment and one
#: immediately after.
SETS_PER_VISIT: Final[dict[str, int]] = {"consultation": 1, "session": 2, "review": 1}

#: Review visits (follow-ups without treatment) of one treatment plan.
REVIEW_VISITS_PER_PLAN: Final = 4


def per_visit(kind: str) -> int:
    """The photographs a visit of this kind ('consultation', 'session', 'review') may hold."""
    return PHOTOS_PER_SET * SETS_PER_VISIT[kind]


def photos_hint(held: int, limit: int) -> str:
    """'4 of 12 photographs for this visit' (or, for a visit that already holds more than a limit set later, that)."""
    if held > limit:
        return f"{held} photographs for this visit, more than the {limit} a visit may now hold"
    return f"{held} of {limit} photograph{'' if limit == 1 else 's'} for this visit"


def too_many_photos(held: int, limit: int, chosen: int) -> str:
    """The refusal of `chosen` more photographs for a visit that holds `held` of `limit`; says what to do next."""
    left = max(0, limit - held)
    if left == 0:
        return (f"This visit already holds {held} photographs, the most one visit may hold (so the record prints in time). "
                "Nothing was saved: take later photos at a review visit.")
    return (f"This visit holds {held} of {limit} photographs, so {left} more can be added and {chosen} were chosen. "
            f"Nothing was saved: choose at most {left} and save again.")


def review_visits_left(held: int, limit: int) -> str:
    """'3 of 4 review visits left' for a choice on the review visit form."""
    left = max(0, limit - held)
    if left == 0:
        return f"no review visit left of {limit}"
    return f"{left} of {limit} review visit{'' if limit == 1 else 's'} left"


def too_many_reviews(limit: int) -> str:
    """The refusal of one more review visit of a plan that has `limit`; says what to do next."""
    return (f"This treatment plan already has {limit} review visits, the most one plan may have (so its record prints "
            "in time). Nothing was saved: take the photos at the plan's next session, or choose another plan or No plan.")
