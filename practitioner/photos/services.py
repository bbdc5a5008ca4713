"""Clinical photography's services: storing a photo, reading its bytes, auditing each view, verifying the hashes.

Services add and flush; the view commits (practitioner/unit_of_work.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.auth.models import User
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.errors import DomainError, NotAllowed
from practitioner.patients.models import Patient
from practitioner.photos import imaging, limits
from practitioner.photos.models import CAPTURE_CHECKS, MOMENTS, VIEWS, Photo, PhotoImage, ReviewVisit
from practitioner.treatments.models import TreatmentSession

# ---------------------------------------------------------------------------------------------------------------
# Photo core (storing, serving reads, verification). Consent and visit functions follow below this block.
# ---------------------------------------------------------------------------------------------------------------

Visit = Consultation | TreatmentSession | ReviewVisit


class PhotoOfSignedSession(NotAllowed):
    """A signed session is locked: a later photo goes in through a review visit."""


class TooManyPhotos(NotAllowed):
    """The visit would hold more photographs than photos.limits allows; the message says how many may still be added."""

    def __init__(self, held: int, limit: int, chosen: int) -> None:
        super().__init__(limits.too_many_photos(held, limit, chosen))
        self.held, self.limit, self.chosen = held, limit, chosen


def visit_kind(visit: Visit) -> str:
    """'consultation', 'session' or 'review'."""
    if isinstance(visit, Consultation):
        return "consultation"
    if isinstance(visit, TreatmentSession):
        return "session"
    return "review"


def photos_held(session: Session, visit: Visit) -> int:
    """How many photographs the visit holds (one COUNT)."""
    (column, visit_id), = _visit_columns(visit).items()
    return session.scalar(select(func.count()).select_from(Photo).where(getattr(Photo, column) == visit_id)) or 0


def check_room(session: Session, visit: Visit, chosen: int) -> None:
    """Refuse (TooManyPhotos) `chosen` more photographs when the visit would pass its limit (photos.limits.per_visit).

    On PostgreSQL the visit's row is locked first (SELECT ... FOR UPDATE), so two uploads at once cannot both pass
    the count; SQLite's write transaction already holds the database's write lock.
    """
    model = type(visit)
    session.execute(select(model.id).where(model.id == visit.id).with_for_update())
    held, limit = photos_held(session, visit), limits.per_visit(visit_kind(visit))
    if held + chosen > limit:
        raise TooManyPhotos(held, limit, chosen)


def _visit_columns(visit: Visit) -> dict[str, int]:
    """The one visit column a photo of this visit sets."""
    if isinstance(visit, Consultation):
        return {"consultation_id": visit.id}
    if isinstance(visit, TreatmentSession):
        return {"session_id": visit.id}
    if isinstance(visit, ReviewVisit):
        return {"review_visit_id": visit.id}
    raise TypeError(f"A photo belongs to a consultation, a treatment session or a review visit, not {type(visit).__name__}.")


def store_photo(
    session: Session, *, patient: Patient, visit: Visit, view: str, zone: str | None, moment: str, consent: Consent,
    checks: dict[str, bool], data: bytes | imaging.Processed, actor: User, ip_address: str = "",
) -> Photo:
    """Check and re-encode the uploaded bytes (imaging.process), then add the photo, its image and the audit row; flush.

    `data` may also be what imaging.process already made of the bytes: on SQLite a POST's transaction holds the
    write lock from its first statement, so a view that processes the photos before it first reads the database
    keeps the half second of image work out of the lock.

    Raises imaging.InvalidPhoto (the message is for the practitioner), PhotoOfSignedSession, TooManyPhotos when the
    visit already holds the photographs photos.limits allows, or DomainError when the visit or consent is another patient's. The consent rules themselves are checked by the caller before this.
    """
    if view not in VIEWS or moment not in MOMENTS:
        raise DomainError("Choose the view and the moment of the photo from the lists.")
    if view == "close_up" and not zone:
        raise DomainError("Choose the treated zone the close-up shows.")
    if visit.patient_id != patient.id or consent.patient_id != patient.id:
        raise DomainError("The visit and the consent must be this patient's.")
    if isinstance(visit, TreatmentSession) and visit.is_signed:
        raise PhotoOfSignedSession("This session is signed and locked, so no photo can be added to it. "
                                   "Add later photos through a review visit.")
    unknown = set(checks) - set(CAPTURE_CHECKS)
    if unknown:
        raise DomainError("Only the capture checks on the form can be ticked.")
    check_room(session, visit, 1)
    processed = data if isinstance(data, imaging.Processed) else imaging.process(data)
    photo = Photo(
        patient_id=patient.id, **_visit_columns(visit), view=view, zone=zone or None, moment=moment, consent_id=consent.id,
        **{name: bool(checks.get(name)) for name in CAPTURE_CHECKS},
        content_type="image/jpeg", width=processed.width, height=processed.height, byte_size=len(processed.image_jpeg),
        sha256=processed.sha256, thumb_width=processed.thumb_width, thumb_height=processed.thumb_height,
        thumb_sha256=processed.thumb_sha256, captured_by_id=actor.id,
    )
    session.add(photo)
    session.flush()
    session.add(PhotoImage(photo_id=photo.id, thumbnail=processed.thumb_jpeg, image=processed.image_jpeg))
    audit.append(session, "photo.take", actor=actor, patient=patient, target=f"photo:{photo.public_id}",
                 detail={"view": view, "zone": zone or "", "moment": moment, "width": processed.width,
                         "height": processed.height, "bytes": len(processed.image_jpeg), "sha256": processed.sha256},
                 ip_address=ip_address)
    session.flush()
    return photo


def image_bytes(session: Session, photo: Photo) -> bytes | None:
    """The stored full image (one SELECT of the image column only), or None when it is missing."""
    return session.scalars(select(PhotoImage.image).where(PhotoImage.photo_id == photo.id)).first()


def thumbnail_bytes(session: Session, photo: Photo) -> bytes | None:
    """The stored thumbnail (one SELECT of the thumbnail column only: the full image is never read)."""
    return session.scalars(select(PhotoImage.thumbnail).where(PhotoImage.photo_id == photo.id)).first()


def record_view(session: Session, photo: Photo, *, part: str, download: bool, actor: User, ip_address: str = "") -> None:
    """Note in the audit trail that someone saw (or downloaded) a photo's image or thumbnail."""
    audit.append(session, "photo.download" if download else "photo.view", actor=actor, patient=photo.patient_id,
                 target=f"photo:{photo.public_id}", detail={"part": part, "view": photo.view, "moment": photo.moment},
                 ip_address=ip_address)


@dataclass(frozen=True)
class PhotoProblem:
    """One stored photo whose bytes do not match what was recorded when it was taken."""

    photo_public_id: str
    record_number: str
    problem: str


def verify_images(session: Session, *, batch: int = 20) -> Iterator[tuple[int, PhotoProblem | None]]:
    """Recompute every stored image's and thumbnail's SHA-256; yield (photos checked so far, a problem or None).

    Reads the bytes a few photos at a time, so a clinic's whole archive never sits in memory.
    """
    statement = (
        select(Photo.public_id, Patient.record_number, Photo.sha256, Photo.thumb_sha256, Photo.byte_size,
               PhotoImage.photo_id, PhotoImage.image, PhotoImage.thumbnail)
        .join(Patient, Patient.id == Photo.patient_id)
        .outerjoin(PhotoImage, PhotoImage.photo_id == Photo.id)
        .order_by(Photo.id)
        .execution_options(yield_per=batch)
    )
    checked = 0
    for public_id, record_number, sha256, thumb_sha256, byte_size, image_row, image, thumbnail in session.execute(statement):
        checked += 1
        problems = []
        if image_row is None:
            problems.append("the image and thumbnail are missing")
        else:
            if not image:
                problems.append("the image is missing")
            elif hashlib.sha256(image).hexdigest() != sha256:
                problems.append("the image has changed (its SHA-256 differs from the one recorded)")
            elif len(image) != byte_size:
                problems.append("the image's size differs from the one recorded")
            if not thumbnail:
                problems.append("the thumbnail is missing")
            elif hashlib.sha256(thumbnail).hexdigest() != thumb_sha256:
                problems.append("the thumbnail has changed (its SHA-256 differs from the one recorded)")
        if problems:
            yield checked, PhotoProblem(str(public_id), record_number, "; ".join(problems))
        else:
            yield checked, None
