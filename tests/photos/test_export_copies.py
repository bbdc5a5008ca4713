"""The record export's small copy of each photo: the stored thumbnail when it is already the size the export prints
(every photo taken since thumbnails are 480 px), otherwise reduced from the kept image as before (older photos)."""

from __future__ import annotations

import base64
import io

from PIL import Image

from practitioner.extensions import db
from practitioner.photos import export, imaging, progress, services
from practitioner.photos.models import PhotoImage
from tests.conftest import make_patient
from tests.photos import images
from tests.photos.factories import jpeg, make_photo
from tests.photos.visits import consultation_with_consent


def _decoded(source: str) -> bytes:
    assert source.startswith("data:image/jpeg;base64,")
    return base64.b64decode(source.split(",", 1)[1])


def test_a_new_photos_thumbnail_is_the_export_copy(app, practitioner):
    assert imaging.THUMB_LONG_SIDE == export.EXPORT_LONG_SIDE
    patient = make_patient(actor=practitioner)
    consultation, consent = consultation_with_consent(patient, practitioner)
    photo = services.store_photo(db.session, patient=patient, visit=consultation, view="frontal", zone=None, moment="baseline",
                                 consent=consent, checks={}, data=images.phone_jpeg(1600, 1200), actor=practitioner)
    db.session.commit()
    thumbnail = db.session.get(PhotoImage, photo.id).thumbnail
    progress.REDUCED.items.clear()
    progress.REDUCED.size = 0
    sources = export.export_image_sources(db.session, export.export_photos(db.session, patient.id))
    assert _decoded(sources[str(photo.public_id)]) == thumbnail, "embedded as stored: no decode, no reduction"
    assert not progress.REDUCED.items, "nothing was reduced"
    with Image.open(io.BytesIO(thumbnail)) as image:
        assert max(image.size) == export.EXPORT_LONG_SIDE


def test_an_older_photo_with_a_small_thumbnail_is_reduced_from_its_image(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, consent = consultation_with_consent(patient, practitioner)
    photo = make_photo(patient.id, consent, practitioner, view="frontal", moment="baseline", consultation=consultation,
                       size=(1600, 1200), image=jpeg(1600, 1200))  # its thumbnail is 64 x 48, as a 320 px one is too small
    sources = export.export_image_sources(db.session, export.export_photos(db.session, patient.id))
    with Image.open(io.BytesIO(_decoded(sources[str(photo.public_id)]))) as image:
        assert image.size == (480, 360)
