"""Serving a photo: practitioners only, never cached, nosniff, a safe name, every view and download audited,
the thumbnail read without the image; what is stored and served holds none of the camera's metadata."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import event, select

from practitioner.audit import AuditEvent
from practitioner.extensions import db
from practitioner.photos import services, views_images
from practitioner.photos.models import Photo, PhotoImage
from tests.conftest import csrf_token, make_patient, make_user, sign_in
from tests.factories import make_consultation
from tests.photos import images
from tests.photos.test_imaging import assert_clean, corner_colours, is_red


@pytest.fixture
def consultation_with_consent(app, practitioner):
    patient = make_patient(practitioner)
    consultation = make_consultation(patient, practitioner)
    return patient, consultation, photo_consent(consultation, practitioner)


def photo_consent(consultation, witness):
    """A committed signed consent form that gives clinical photography consent."""
    import hashlib

    from practitioner.consents.models import Consent

    text = "Consent with clinical photography"
    consent = Consent(patient_id=consultation.patient_id, consultation_id=consultation.id, modality=consultation.modality,
                      content_version="test-1", content_sha256=hashlib.sha256(text.encode()).hexdigest(), content_text=text,
                      photo_clinical=True, patient_typed_name="Alex Test", signature_png=b"\x89PNG\r\n",
                      signature_sha256="0" * 64, witnessed_by_id=witness.id)
    db.session.add(consent)
    db.session.commit()
    return consent


@pytest.fixture
def stored(consultation_with_consent, practitioner):
    """One photo stored through the service from a phone JPEG (on its side, full of metadata)."""
    patient, consultation, consent = consultation_with_consent
    photo = services.store_photo(db.session, patient=patient, visit=consultation, view="frontal", zone=None, moment="baseline",
                                 consent=consent, checks={"makeup_removed": True}, data=images.phone_jpeg(1600, 1200, orientation=6),
                                 actor=practitioner, ip_address="192.0.2.1")
    db.session.commit()
    return photo


def _audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_a_phone_jpeg_with_gps_exif_uploaded_none_survives_in_what_is_stored_or_served(app, as_practitioner, consultation_with_consent):
    """The issue's test: a real phone-style JPEG (GPS, serial numbers, original date, maker note, XMP, a comment,
    orientation 6) through the capture page's upload; the stored image, its thumbnail and what the routes serve
    hold none of it, and the pixels are upright."""
    patient, consultation, consent = consultation_with_consent
    original = images.phone_jpeg(4032, 3024, orientation=6)
    with Image.open(io.BytesIO(original)) as camera:
        assert camera.getexif().get_ifd(0x8825)  # the upload does carry GPS coordinates
    page = f"/consultations/{consultation.public_id}/photos"
    html = as_practitioner.get(page).get_data(as_text=True)
    inputs = re.findall(r'type="file"[^>]*name="(photo-[^"]+)"|name="(photo-[^"]+)"[^>]*type="file"', html)
    assert inputs, "the capture page offers no file input"
    field = next(name for pair in inputs for name in pair if name)
    response = as_practitioner.post(page, data={"csrf_token": csrf_token(as_practitioner, page), "moment": "baseline",
                                                field: (io.BytesIO(original), "IMG_0001.JPG", "image/jpeg")},
                                    content_type="multipart/form-data")
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    photo = db.session.scalars(select(Photo).where(Photo.patient_id == patient.id)).one()
    image_row = db.session.get(PhotoImage, photo.id)
    for stored_bytes in (image_row.image, image_row.thumbnail):
        assert_clean(stored_bytes)
        assert original[:64] not in stored_bytes
    served = as_practitioner.get(f"/photos/{photo.public_id}/image")
    thumb = as_practitioner.get(f"/photos/{photo.public_id}/thumbnail")
    downloaded = as_practitioner.get(f"/photos/{photo.public_id}/image?download=1")
    assert served.data == image_row.image == downloaded.data and thumb.data == image_row.thumbnail
    for body in (served.data, thumb.data):
        assert_clean(body)
        assert is_red(corner_colours(body)[0])  # upright: the marker is back in the top-left corner
    assert (photo.width, photo.height) == (2560, 1920)


def test_the_image_is_served_with_no_store_nosniff_and_a_safe_inline_name(as_practitioner, stored):
    response = as_practitioner.get(f"/photos/{stored.public_id}/image")
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r'inline; filename="photo-frontal-\d{4}-\d\d-\d\d-[0-9a-f]{8}\.jpg"', response.headers["Content-Disposition"])
    assert response.data[:3] == b"\xff\xd8\xff"
    thumb = as_practitioner.get(f"/photos/{stored.public_id}/thumbnail")
    assert thumb.mimetype == "image/jpeg" and thumb.headers["Cache-Control"] == "no-store"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r'inline; filename="photo-frontal-[-0-9a-f]+-thumbnail\.jpg"', thumb.headers["Content-Disposition"])
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert max(image.size) == 480


def test_every_view_and_download_is_audited(as_practitioner, stored, practitioner):
    assert as_practitioner.get(f"/photos/{stored.public_id}/image").status_code == 200
    assert as_practitioner.get(f"/photos/{stored.public_id}/thumbnail").status_code == 200
    download = as_practitioner.get(f"/photos/{stored.public_id}/image?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment; filename=")
    views, downloads = _audit_rows("photo.view"), _audit_rows("photo.download")
    assert [row.detail_items["part"] for row in views] == ["image", "thumbnail"]
    assert [row.detail_items["part"] for row in downloads] == ["image"]
    for row in views + downloads:
        assert row.patient_id == stored.patient_id and row.actor_id == practitioner.id
        assert row.target == f"photo:{stored.public_id}"
    taken = _audit_rows("photo.take")
    assert len(taken) == 1 and taken[0].detail_items["sha256"] == stored.sha256


@pytest.mark.parametrize("role", ["reception", "admin"])
def test_reception_and_admin_get_403_and_the_refusal_is_audited(app, client, stored, role):
    from practitioner.auth.models import Role

    user = make_user(Role(role), email=f"{role}-photos@clinic.example")
    assert sign_in(client, user.email).status_code == 303
    for part in ("image", "thumbnail"):
        response = client.get(f"/photos/{stored.public_id}/{part}")
        assert response.status_code == 403
        assert response.mimetype == "text/html" and b"\xff\xd8" not in response.data
    denied = _audit_rows("access.denied")
    assert len(denied) == 2 and all(row.patient_id == stored.patient_id for row in denied)
    assert not _audit_rows("photo.view")


def test_anonymous_visitors_are_sent_to_sign_in(client, stored):
    response = client.get(f"/photos/{stored.public_id}/image")
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]


class StatementLog:
    """Every SQL statement the engine runs while the log is open."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __enter__(self) -> "StatementLog":
        event.listen(db.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(db.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append(" ".join(statement.split()))

    def selecting(self, table: str) -> list[str]:
        return [s for s in self.statements if s.upper().startswith("SELECT") and f"{table}." in s]


def test_the_thumbnail_route_never_reads_the_image_column(as_practitioner, stored):
    with StatementLog() as log:
        response = as_practitioner.get(f"/photos/{stored.public_id}/thumbnail")
    assert response.status_code == 200
    reads = log.selecting("photo_images")
    assert reads, "the thumbnail was not read from photo_images"
    assert all("photo_images.thumbnail" in s and "photo_images.image" not in s for s in reads), reads
    with StatementLog() as log:
        as_practitioner.get(f"/photos/{stored.public_id}/image")
    reads = log.selecting("photo_images")
    assert reads and all("photo_images.image" in s and "photo_images.thumbnail" not in s for s in reads), reads


def test_an_unknown_photo_or_a_missing_image_answers_404(as_practitioner, stored):
    import uuid

    assert as_practitioner.get(f"/photos/{uuid.uuid4()}/image").status_code == 404
    db.session.execute(PhotoImage.__table__.delete().where(PhotoImage.photo_id == stored.id))
    db.session.commit()
    assert as_practitioner.get(f"/photos/{stored.public_id}/image").status_code == 404
    assert as_practitioner.get(f"/photos/{stored.public_id}/thumbnail").status_code == 404


def _capture_post(client, consultation, body: bytes, filename: str = "IMG_0002.JPG"):
    """POST one photo to the consultation's capture page, the multipart body built here in memory (so the test
    client spools nothing to a temporary file)."""
    page = f"/consultations/{consultation.public_id}/photos"
    html = client.get(page).get_data(as_text=True)
    field = re.search(r'name="(photo-[^"]+)"', html).group(1)
    boundary = "----practitioner-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in (("csrf_token", csrf_token(client, page)), ("moment", "baseline"))]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                 f"Content-Type: image/jpeg\r\n\r\n".encode() + body + b"\r\n")
    payload = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return client.post(page, data=payload, content_type=f"multipart/form-data; boundary={boundary}")


def test_photo_routes_take_bodies_over_the_apps_8_mb_limit(app, as_practitioner, consultation_with_consent):
    """A 9 MB camera JPEG is over the app's MAX_CONTENT_LENGTH (8 MB), and a photo route still takes it."""
    patient, consultation, consent = consultation_with_consent
    body = images.phone_jpeg(1600, 1200)
    body += b"\x00" * (9 * 1024 * 1024 - len(body))  # a camera's harmless trailer, dropped with the rest
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]
    assert _capture_post(as_practitioner, consultation, body).status_code == 303
    assert db.session.scalars(select(Photo).where(Photo.patient_id == patient.id)).one()


def test_a_body_over_the_photo_limit_is_refused_before_it_is_read(app, as_practitioner, consultation_with_consent, monkeypatch):
    patient, consultation, consent = consultation_with_consent
    monkeypatch.setattr(views_images, "REQUEST_MAX_BYTES", 200_000)
    body = images.phone_jpeg(1600, 1200) + b"\x00" * 300_000
    response = _capture_post(as_practitioner, consultation, body)
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "The upload is too large" in html and "25 MB" in html
    assert not db.session.scalars(select(Photo).where(Photo.patient_id == patient.id)).all()


def test_other_routes_keep_the_apps_limit(app, as_practitioner):
    token = csrf_token(as_practitioner, "/patients/new")
    response = as_practitioner.post("/patients/new", data={"csrf_token": token, "notes": "x" * (9 * 1024 * 1024)})
    assert response.status_code == 413


def test_store_photo_takes_a_photo_processed_before_the_transaction(app, consultation_with_consent, practitioner):
    """A view may run imaging.process before its first query (outside SQLite's write lock) and pass the result."""
    from practitioner.photos import imaging

    patient, consultation, consent = consultation_with_consent
    processed = imaging.process(images.phone_jpeg(800, 600, orientation=8))
    photo = services.store_photo(db.session, patient=patient, visit=consultation, view="frontal", zone=None, moment="baseline",
                                 consent=consent, checks={}, data=processed, actor=practitioner)
    db.session.commit()
    assert services.image_bytes(db.session, photo) == processed.image_jpeg and photo.sha256 == processed.sha256
    assert services.thumbnail_bytes(db.session, photo) == processed.thumb_jpeg and (photo.width, photo.height) == (800, 600)
