"""A patient's photos in the patient record export: their metadata and hashes, and small copies for the PDF.

The export's JSON holds each photo's metadata and the SHA-256 of the stored image, not the image
itself: the JSON is attached inside the archived PDF and kept byte for byte, and base64 images
would make every export (and its archived copy) grow by the size of every photo a third over, for
a record with 300 photos some hundreds of megabytes. The PDF prints each photo reduced for reading;
the full-size images are handed over as JPEG files on request, and the hashes in the JSON prove
which photo of the record each file is (docs/photography.md).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session, lazyload

from practitioner.auth.models import User
from practitioner.clinical.vocabulary import zone_label
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.dates import to_clinic_time
from practitioner.photos.compare import patient_photos
from practitioner.photos.models import CAPTURE_CHECK_LABELS, CAPTURE_CHECKS, MOMENT_LABELS, VIEW_LABELS, Photo, PhotoImage, ReviewVisit
from practitioner.photos.progress import print_images
from practitioner.treatments.models import TreatmentSession

EXPORT_LONG_SIDE = 480  # pixels: a readable copy at the 55 mm the export prints it, a few tens of kilobytes


def export_photos(session: Session, patient_id: int) -> list[dict[str, Any]]:
    """Every photo of a patient as plain values for the export (JSON and PDF), in date order."""
    cards = patient_photos(session, patient_id)
    rows = session.execute(
        select(Photo, Consent.public_id, Consultation.public_id, TreatmentSession.public_id, ReviewVisit.public_id, User.name)
        .options(lazyload("*"))
        .join(Consent, Consent.id == Photo.consent_id)
        .join(User, User.id == Photo.captured_by_id)
        .outerjoin(Consultation, Consultation.id == Photo.consultation_id)
        .outerjoin(TreatmentSession, TreatmentSession.id == Photo.session_id)
        .outerjoin(ReviewVisit, ReviewVisit.id == Photo.review_visit_id)
        .where(Photo.patient_id == patient_id)).all()
    by_id = {row[0].public_id: row for row in rows}
    values = []
    for card in cards:
        photo, consent_id, consultation_id, session_id, review_id, taken_by = by_id[card.public_id]
        values.append({
            "public_id": card.key,
            "view": {"code": card.view, "label": VIEW_LABELS.get(card.view, card.view)},
            "zone": None if not card.zone else {"code": card.zone, "label": zone_label(card.zone)},
            "moment": {"code": card.moment, "label": MOMENT_LABELS.get(card.moment, card.moment)},
            "visit": {"kind": card.visit_kind, "label": card.visit, "date": card.day,
                      "public_id": str(consultation_id or session_id or review_id)},
            "parameters": None if card.visit_kind != "session" else {
                "deepest_depth_mm": None if card.depth_mm is None else f"{card.depth_mm.normalize():f}",
                "depth_zones": list(card.depth_zones), "device": card.device},
            "consent": {"public_id": str(consent_id), "clinical_photography": card.clinical_consent},
            "capture_checks": [{"code": code, "label": CAPTURE_CHECK_LABELS[code], "done": bool(getattr(photo, code))}
                               for code in CAPTURE_CHECKS],
            "captured_at": to_clinic_time(photo.captured_at),
            "captured_by": taken_by,
            "image": {"content_type": photo.content_type, "width": photo.width, "height": photo.height,
                      "byte_size": photo.byte_size, "sha256": photo.sha256},
            "alt": card.alt,
        })
    return values


def export_image_sources(session: Session, photos: list[dict[str, Any]]) -> dict[str, str]:
    """The PDF's small copy of each exported photo, as a data: URL by public id (two statements for all).

    A photo whose stored thumbnail is already the size the export prints (every photo taken since thumbnails are
    480 px: imaging.THUMB_LONG_SIDE) prints its thumbnail as it is; the others (older ones) are reduced from the
    kept image as before (print_images).
    """
    ids = [uuid.UUID(p["public_id"]) for p in photos]
    thumb_side = case((Photo.thumb_width >= Photo.thumb_height, Photo.thumb_width), else_=Photo.thumb_height)
    image_side = case((Photo.width >= Photo.height, Photo.width), else_=Photo.height)
    thumbnails = dict(session.execute(
        select(Photo.public_id, PhotoImage.thumbnail).join(PhotoImage, PhotoImage.photo_id == Photo.id)
        .where(Photo.public_id.in_(ids), or_(thumb_side >= EXPORT_LONG_SIDE, thumb_side >= image_side))).all()) if ids else {}
    images = {**print_images(session, [(uuid.UUID(p["public_id"]), p["image"]["sha256"]) for p in photos
                                       if uuid.UUID(p["public_id"]) not in thumbnails], EXPORT_LONG_SIDE), **thumbnails}
    return {str(key): "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") for key, data in images.items()}
