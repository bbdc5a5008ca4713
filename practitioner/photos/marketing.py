"""Marketing use of photos: marks (only with the patient's marketing consent, checked each time) and the export.

The export is a ZIP of the photos currently marked whose patient's marketing consent still stands at the
moment of export, with identifiers removed: the files are numbered in a shuffled order (no name, date of
birth, record number or date anywhere, not in file names, not in the ZIP's own timestamps), and the images
are the stored ones, already re-encoded without any metadata when they were taken.
"""

from __future__ import annotations

import csv
import io
import secrets
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.database import utcnow
from practitioner.photos.consent import MARKETING, consent_state, marketing_consent_for
from practitioner.photos.models import MOMENT_LABELS, VIEW_LABELS, MarketingMark, Photo, PhotoImage

if TYPE_CHECKING:
    from practitioner.auth.models import User

UNMARKED = "unmarked by a practitioner"
# A fixed date for every entry: a ZIP entry's timestamp would otherwise say when the export was made.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class NotMarked(Exception):
    """Unmarking a photo that is not marked."""


@dataclass(frozen=True)
class MarketingExport:
    """What an export holds: the ZIP's bytes, how many photos went in, how many marks were left out and why."""

    data: bytes
    count: int
    left_out: int


def open_mark(session: Session, photo: Photo) -> MarketingMark | None:
    """The photo's current marketing mark, if it is marked."""
    return session.scalars(select(MarketingMark).where(MarketingMark.photo_id == photo.id, MarketingMark.ended_at.is_(None))
                           .order_by(MarketingMark.id.desc()).limit(1)).first()


def open_marks(session: Session, photo_ids: list[int]) -> set[int]:
    """Which of these photos are marked for marketing now (one query)."""
    if not photo_ids:
        return set()
    return set(session.scalars(select(MarketingMark.photo_id).where(MarketingMark.photo_id.in_(photo_ids),
                                                                   MarketingMark.ended_at.is_(None))))


def mark(session: Session, photo: Photo, *, actor: User, ip_address: str = "") -> MarketingMark:
    """Mark a photo for marketing use: refused (PhotoRefused) unless the patient's marketing consent stands now."""
    marketing_consent_for(session, photo.patient_id)
    existing = open_mark(session, photo)
    if existing is not None:
        return existing
    new = MarketingMark(photo_id=photo.id, marked_at=utcnow(), marked_by_id=actor.id)
    session.add(new)
    session.flush()
    audit.append(session, "photo.marketing_mark", actor=actor, patient=photo.patient_id, target=f"photo:{photo.public_id}",
                 ip_address=ip_address)
    return new


def unmark(session: Session, photo: Photo, *, actor: User, ip_address: str = "") -> MarketingMark:
    """End a photo's marketing mark (the mark's row stays, with who ended it, when and why)."""
    existing = open_mark(session, photo)
    if existing is None:
        raise NotMarked("This photo is not marked for marketing.")
    existing.ended_at = utcnow()
    existing.ended_by_id = actor.id
    existing.ended_reason = UNMARKED
    session.flush()
    audit.append(session, "photo.marketing_unmark", actor=actor, patient=photo.patient_id, target=f"photo:{photo.public_id}",
                 ip_address=ip_address)
    return existing


def marked_photos(session: Session) -> list[Photo]:
    """Every photo marked for marketing now, newest mark first."""
    return list(session.scalars(select(Photo).join(MarketingMark, MarketingMark.photo_id == Photo.id)
                                .where(MarketingMark.ended_at.is_(None)).order_by(MarketingMark.marked_at.desc(), Photo.id)))


def lapsed(session: Session, photos: list[Photo]) -> set[int]:
    """Which of these marked photos' patients no longer give marketing consent (an export leaves them out)."""
    standing = {patient_id: consent_state(session, patient_id, MARKETING).given for patient_id in {p.patient_id for p in photos}}
    return {photo.id for photo in photos if not standing[photo.patient_id]}


def export(session: Session, *, actor: User, ip_address: str = "") -> MarketingExport:
    """The ZIP of the marked photos whose patient's marketing consent stands now; audited with what went in."""
    photos = marked_photos(session)
    left_out = lapsed(session, photos)
    chosen = [photo for photo in photos if photo.id not in left_out]
    secrets.SystemRandom().shuffle(chosen)  # the order of the files says nothing about whose they are
    images = dict(session.execute(select(PhotoImage.photo_id, PhotoImage.image)
                                  .where(PhotoImage.photo_id.in_([p.id for p in chosen]))).all()) if chosen else {}
    buffer = io.BytesIO()
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["file", "view", "moment"])
    written = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for photo in chosen:
            data = images.get(photo.id)
            if data is None:
                continue
            name = f"photo-{len(written) + 1:03d}.jpg"
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), data)
            writer.writerow([name, VIEW_LABELS[photo.view], MOMENT_LABELS[photo.moment]])
            written.append(photo)
        archive.writestr(zipfile.ZipInfo("manifest.csv", date_time=_ZIP_TIME), manifest.getvalue())
    audit.append(session, "photo.marketing_export", actor=actor, detail={
        "photos": len(written), "left_out_consent_lapsed": len(photos) - len(chosen),
        "photo_ids": [str(p.public_id) for p in written]}, ip_address=ip_address)
    return MarketingExport(buffer.getvalue(), len(written), len(photos) - len(chosen))
