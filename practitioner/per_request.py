"""Reads shared by the parts of one page: asked once per read-only request, answered from memory after that.

The patient's page is put together by several features (the timeline's receivers, the photo sections,
the Documents box), and some of them need the same rows: the patient's signed consents (the timeline
lists them, the photo consent section reads the latest), their consultations, the documents issued to
them. `remembered` keeps the first answer for the rest of the request, so each is one statement.

Only in a read-only request (GET, HEAD, outside a `write_step`): nothing the page reads can change
under it there except audit rows. In a request that writes, and outside any request, the answer is
worked out each time, so a service never acts on a remembered value.
"""

from __future__ import annotations

from typing import Callable, Hashable, TypeVar

from flask import g, has_app_context

from practitioner.database import reads_only

T = TypeVar("T")


def remembered(key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s answer, kept under `key` for the rest of this read-only request (worked out each time elsewhere)."""
    if not has_app_context() or not reads_only():
        return load()
    memo: dict[Hashable, object] = g.setdefault("_per_request", {})
    if key not in memo:
        memo[key] = load()
    return memo[key]  # type: ignore[return-value]  # stored by this function with load()'s type
