"""The photo timeline: a row per view, the photos in date order, each a link to the comparison.

The patient's page shows a summary (the baseline and the latest few of each view, through the
`record_sections` signal); the patient's photos page shows every photo. Both are built from
`compare.patient_photos`, so the number of statements is the same for 3 photos or 300.
"""

from __future__ import annotations

from dataclasses import dataclass

from practitioner.photos.compare import PhotoCard, by_series, series_title

SUMMARY_PER_VIEW = 6  # on the patient's page: the first photo of each view and the latest five


@dataclass(frozen=True)
class TimelineRow:
    """One view's photos in date order (all of them, or the summary's), and how many there are in all."""

    view: str
    zone: str
    photos: tuple[PhotoCard, ...]
    total: int

    @property
    def title(self) -> str:
        """The view as a heading."""
        return series_title(self.view, self.zone)

    @property
    def hidden(self) -> int:
        """Photos of this view left out of a summary."""
        return self.total - len(self.photos)


def rows(cards: list[PhotoCard], per_view: int | None = None) -> list[TimelineRow]:
    """A row per view in the protocol's order; with `per_view`, the first photo and the latest ones only."""
    result = []
    for (view, zone), photos in by_series(cards).items():
        shown = photos
        if per_view is not None and len(photos) > per_view:
            shown = [photos[0], *photos[-(per_view - 1):]]
        result.append(TimelineRow(view=view, zone=zone, photos=tuple(shown), total=len(photos)))
    return result
