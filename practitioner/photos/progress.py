"""The photo pairs of a treatment plan's progress sheet, and their images reduced for print.

Which photos: only those of the plan (its consultation's baselines, its sessions, its review visits)
taken under a signed consent that agreed to clinical photography. Which pairs, by default: for
each view the photo protocol asks for in the plan's zones, the first photo (the baseline) and the
latest. A withdrawal of photo consent later does not take photos already taken out of the record
or out of this sheet, which goes to the patient only (docs/photography.md).
"""

from __future__ import annotations

import io
import threading
import uuid
import warnings
from collections import OrderedDict, defaultdict
from typing import TYPE_CHECKING

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.photos.compare import PhotoCard, default_pair, patient_photos, series_order
from practitioner.photos.models import Photo, PhotoImage, PhotoProtocolView

if TYPE_CHECKING:
    from practitioner.plans.models import TreatmentPlan

MAX_PAIRS = 6
PRINT_LONG_SIDE = 1000  # pixels: about 290 dpi at the 88 mm a photo takes on the page at most
PRINT_QUALITY = 80

Pair = tuple[PhotoCard, PhotoCard]


def plan_photos(session: Session, plan: TreatmentPlan) -> list[PhotoCard]:
    """The plan's photos the patient consented to, in date order (baselines of its consultation, its sessions and review visits)."""
    return [card for card in patient_photos(session, plan.patient_id)
            if card.clinical_consent and (card.plan_id == plan.id or card.consultation_id == plan.consultation_id)]


def protocol_views(session: Session, plan: TreatmentPlan) -> list[str]:
    """The views the photo protocol asks for in the plan's zones, in the protocol's order."""
    areas = {zone.zone for zone in plan.zones}
    views = set(session.scalars(select(PhotoProtocolView.view).where(PhotoProtocolView.area.in_(areas)))) if areas else set()
    return sorted(views, key=lambda view: series_order((view, "")))


def default_pairs(session: Session, plan: TreatmentPlan) -> list[Pair]:
    """Per view of the protocol (then any other view photographed), the baseline and the latest: at most six pairs."""
    series: dict[tuple[str, str], list[PhotoCard]] = defaultdict(list)
    for card in plan_photos(session, plan):
        series[card.series].append(card)
    wanted = [(view, "") for view in protocol_views(session, plan)]
    keys = wanted + sorted((key for key in series if key not in wanted), key=series_order)
    pairs: list[Pair] = []
    for key in keys:
        first, last = default_pair(series.get(key, []))
        if first is not None and last is not None:
            pairs.append((first, last))
    return pairs[:MAX_PAIRS]


class _ReducedCache:
    """Reduced copies by (image SHA-256, size), kept in this process up to a byte budget, least recently used out first.

    A stored image never changes (its hash is its name here), so a copy reduced once serves every
    later progress sheet and export of it without reading or decoding the full image again.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.size = 0
        self.items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> bytes | None:
        """The copy, if kept (and mark it recently used)."""
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[str, int], data: bytes) -> None:
        """Keep a copy, dropping the least recently used ones over the budget."""
        with self.lock:
            if key in self.items:
                return
            self.items[key] = data
            self.size += len(data)
            while self.size > self.budget and self.items:
                _, dropped = self.items.popitem(last=False)
                self.size -= len(dropped)


REDUCED = _ReducedCache(budget=24 * 1024 * 1024)  # about a hundred print-size copies


def print_images(session: Session, photos: list[tuple[uuid.UUID, str]], long_side: int = PRINT_LONG_SIDE) -> dict[uuid.UUID, bytes]:
    """Each photo's stored image (given as public id and SHA-256) reduced to about `long_side` pixels, by public id.

    Reduced once per process (REDUCED); the images not yet reduced are read in one statement.
    """
    found = {public_id: REDUCED.get((sha256, long_side)) for public_id, sha256 in photos}
    missing = [public_id for public_id, data in found.items() if data is None]
    if missing:
        hashes = dict(photos)
        rows = session.execute(select(Photo.public_id, PhotoImage.image).join(PhotoImage, PhotoImage.photo_id == Photo.id)
                               .where(Photo.public_id.in_(missing)))
        for public_id, data in rows:
            found[public_id] = reduced = reduce(data, long_side)
            REDUCED.put((hashes[public_id], long_side), reduced)
    return {public_id: data for public_id, data in found.items() if data is not None}


def reduce(data: bytes, long_side: int = PRINT_LONG_SIDE) -> bytes:
    """A stored JPEG no larger than `long_side` pixels on its long side, re-encoded as JPEG without metadata.

    The JPEG decoder first scales by 1/2, 1/4 or 1/8 while it decodes (never below the target), which
    costs next to nothing; the rest is resampled. Callers keep the result (REDUCED): it is done once.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            scale = min(1.0, long_side / max(width, height))
            target = (max(1, round(width * scale)), max(1, round(height * scale)))
            image.draft("RGB", target)
            picture = image if image.mode == "RGB" else image.convert("RGB")
            if picture.size != target:
                picture = picture.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=PRINT_QUALITY)
    return out.getvalue()
