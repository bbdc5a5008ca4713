"""Photos inserted directly (photo and image rows with small JPEGs made by Pillow), so the pages that show
and compare them are tested without the upload route (which has its own tests)."""

from __future__ import annotations

import hashlib
import io
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw

from practitioner.auth.models import User
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.extensions import db
from practitioner.photos.models import Photo, PhotoImage, ReviewVisit
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import SessionZone, TreatmentSession
from tests.factories import seal_consent

_COLOURS = ((210, 160, 140), (190, 140, 120), (170, 120, 100), (150, 110, 95), (130, 95, 80), (200, 150, 130))


def jpeg(width: int = 160, height: int = 120, shade: int = 0, label: str = "") -> bytes:
    """A small JPEG: a face-coloured oval on a grey background, a little different per shade."""
    image = Image.new("RGB", (width, height), (225, 225, 222))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.25, height * 0.1, width * 0.75, height * 0.92), fill=_COLOURS[shade % len(_COLOURS)])
    if label:  # each photo's own pixels (identical images would be stored once in a PDF)
        draw.text((6, 6), label, fill=(40, 40, 40), font_size=max(10, width // 40))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def photo_consent(consultation: Consultation, witness: User, *, clinical: bool = True, marketing: bool = False) -> Consent:
    """A committed signed consent that answers the photography questions (stand-ins for text and signature)."""
    text = f"Consent for {consultation.modality}"
    consent = Consent(patient_id=consultation.patient_id, consultation_id=consultation.id, modality=consultation.modality,
                      content_version="test-1", content_sha256=hashlib.sha256(text.encode()).hexdigest(), content_text=text,
                      patient_typed_name="Alex Test", signature_png=b"\x89PNG\r\n", signature_sha256="0" * 64,
                      witnessed_by_id=witness.id, photo_clinical=clinical, photo_marketing=marketing)
    seal_consent(consent)  # as signing seals it, so the documents that re-check it print it
    db.session.commit()
    return consent


def make_photo(patient_id: int, consent: Consent, author: User, *, view: str = "frontal", moment: str = "before",
               consultation: Consultation | None = None, session: TreatmentSession | None = None,
               review: ReviewVisit | None = None, zone: str | None = None, captured_at: datetime | None = None,
               size: tuple[int, int] = (160, 120), shade: int = 0, commit: bool = True, image: bytes | None = None) -> Photo:
    """One photo of one visit with its image and thumbnail rows (added, flushed; committed unless told not to).

    `image`: the stored JPEG's bytes (of `size`), when a test needs a particular one.
    """
    image = image or jpeg(*size, shade=shade, label=f"{view} {zone or ''} {moment} {(captured_at or datetime.now()).isoformat()}")
    thumb = jpeg(64, 48, shade=shade)
    when = (captured_at or datetime.now(timezone.utc)).replace(tzinfo=timezone.utc)
    photo = Photo(patient_id=patient_id, consultation_id=consultation.id if consultation else None,
                  session_id=session.id if session else None, review_visit_id=review.id if review else None,
                  view=view, zone=zone, moment=moment, consent_id=consent.id, makeup_removed=True, jewellery_off=True,
                  hair_back=True, same_background=True, same_lighting=True, content_type="image/jpeg",
                  width=size[0], height=size[1], byte_size=len(image), sha256=hashlib.sha256(image).hexdigest(),
                  thumb_width=64, thumb_height=48, thumb_sha256=hashlib.sha256(thumb).hexdigest(),
                  captured_at=when, captured_by_id=author.id)
    db.session.add(photo)
    db.session.flush()
    db.session.add(PhotoImage(photo_id=photo.id, thumbnail=thumb, image=image))
    db.session.flush()
    if commit:
        db.session.commit()
    return photo


def make_session(plan: TreatmentPlan, author: User, *, sequence: int, session_date: date,
                 zones: tuple[tuple[str, str], ...] = (("cheeks", "1.25"),), device: tuple[str, str] = ("Crown Aesthetics", "SkinPen Precision"),
                 consent: Consent | None = None) -> TreatmentSession:
    """A session of a plan (draft, so photos may still be added to it; `sign` locks it afterwards)."""
    record = TreatmentSession(patient_id=plan.patient_id, plan_id=plan.id, sequence=sequence, practitioner_id=author.id,
                              session_date=session_date, consent_id=consent.id if consent else None,
                              device_make=device[0], device_model=device[1], created_by_id=author.id, updated_by_id=author.id)
    record.zones = [SessionZone(position=i, zone=z, depth_mm=Decimal(d), passes=3, technique="glide") for i, (z, d) in enumerate(zones)]
    db.session.add(record)
    db.session.flush()
    return record


def sign(record: TreatmentSession) -> None:
    """Mark a session signed (the stand-in for the sign service: what the pages read is signed_at), sealed as the
    service seals it (its SHA-256 and a `session.sign` audit row), so the documents that re-check it print it."""
    from practitioner import audit
    from practitioner.treatments.services import record_hash

    db.session.flush()
    db.session.refresh(record)  # its rows as stored, as the hash reads them back
    record.content_sha256 = record_hash(record)
    record.signed_at = datetime.combine(record.session_date, time(12, 0), tzinfo=timezone.utc)
    record.signed_by_id = record.practitioner_id
    db.session.flush()
    audit.append(db.session, "session.sign", actor_label="test", patient=record.patient_id, target=f"session:{record.public_id}",
                 detail={"sha256": record.content_sha256})
    db.session.flush()


def make_review(patient_id: int, author: User, *, visit_date: date, plan: TreatmentPlan | None = None) -> ReviewVisit:
    """A review visit (no treatment) for review photos."""
    visit = ReviewVisit(patient_id=patient_id, plan_id=plan.id if plan else None, visit_date=visit_date, created_by_id=author.id)
    db.session.add(visit)
    db.session.flush()
    return visit


def course_with_photos(patient: Any, author: User, *, sessions: int = 3, planned: int = 6, start: date = date(2026, 3, 3),
                       views: tuple[str, ...] = ("frontal", "oblique_left", "oblique_right"), review: bool = False,
                       photo_clinical: bool = True, signed: int | None = None, size: tuple[int, int] = (160, 120)) -> dict[str, Any]:
    """A consultation with baseline photos, a plan of `planned` sessions, `sessions` of them held with before photos
    (each a different depth and, from session 2, a different device), and optionally a review visit.

    Returns the records by name: consultation, consent, plan, sessions (list), photos (list, in date order), review.
    """
    from tests.factories import make_consultation, make_plan

    consultation = make_consultation(patient, author, consultation_date=start)
    consent = photo_consent(consultation, author, clinical=photo_clinical)
    plan = make_plan(consultation, sessions=planned, zones=(("cheeks", "1.0", "1.5"), ("forehead", "0.5", "1.0")))
    photos: list[Photo] = []
    base_time = datetime.combine(start, time(10, 0))
    for number, view in enumerate(views):
        photos.append(make_photo(patient.id, consent, author, view=view, moment="baseline", consultation=consultation, size=size,
                                 captured_at=base_time + timedelta(minutes=number), commit=False))
    records = []
    for k in range(1, sessions + 1):
        day = start + timedelta(weeks=4 * k)
        device = ("Crown Aesthetics", "SkinPen Precision") if k == 1 else ("Dermapen", "Dermapen 4")
        record = make_session(plan, author, sequence=k, session_date=day, consent=consent,
                              zones=(("cheeks", f"{1.0 + 0.25 * (k - 1):.2f}"), ("forehead", "0.50"), ("neck", "0.75")), device=device)
        for number, view in enumerate(views):
            photos.append(make_photo(patient.id, consent, author, view=view, moment="before", session=record, shade=k, size=size,
                                     captured_at=datetime.combine(day, time(9, 30)) + timedelta(minutes=number), commit=False))
        records.append(record)
    visit = None
    if review:
        day = start + timedelta(weeks=4 * sessions + 12)
        visit = make_review(patient.id, author, visit_date=day, plan=plan)
        for number, view in enumerate(views):
            photos.append(make_photo(patient.id, consent, author, view=view, moment="review", review=visit, shade=5, size=size,
                                     captured_at=datetime.combine(day, time(11, 0)) + timedelta(minutes=number), commit=False))
    for record in records[: sessions if signed is None else signed]:
        sign(record)
    db.session.commit()
    return {"consultation": consultation, "consent": consent, "plan": plan, "sessions": records, "photos": photos, "review": visit}
