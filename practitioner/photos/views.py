"""Pages and image routes of clinical photography (practitioners only; reception and admin see none)."""

from __future__ import annotations

from practitioner.photos import bp  # noqa: F401
