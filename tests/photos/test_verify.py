"""`flask verify-photos` finds a changed or missing image; photos of a signed session are locked with it."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from practitioner.extensions import db
from practitioner.photos import services
from practitioner.photos.models import Photo, PhotoImage
from practitioner.treatments.models import TreatmentSession
from tests.conftest import make_patient
from tests.factories import make_consultation, make_plan
from tests.photos import images
from tests.photos.test_serving import photo_consent


def _store(patient, visit, consent, author, view: str = "frontal") -> Photo:
    photo = services.store_photo(db.session, patient=patient, visit=visit, view=view, zone=None,
                                 moment="baseline" if visit.__tablename__ == "consultations" else "before",
                                 consent=consent, checks={}, data=images.phone_jpeg(800, 600), actor=author)
    db.session.commit()
    return photo


@pytest.fixture
def three_photos(app, practitioner):
    patient = make_patient(practitioner)
    consultation = make_consultation(patient, practitioner)
    consent = photo_consent(consultation, practitioner)
    photos = [_store(patient, consultation, consent, practitioner, view) for view in ("frontal", "oblique_left", "oblique_right")]
    return patient, photos


def _verify(app):
    return app.test_cli_runner().invoke(args=["verify-photos"])


def _output(result) -> str:
    """Everything the command wrote (click 8.2 and later: `output` holds standard output and standard error)."""
    return result.output


def test_verify_photos_passes_an_intact_archive(app, three_photos):
    result = _verify(app)
    assert result.exit_code == 0, _output(result)
    assert "3 photos checked" in _output(result)


def test_verify_photos_names_a_changed_and_a_missing_image(app, three_photos):
    patient, (changed, missing, thumb_changed) = three_photos
    db.session.execute(PhotoImage.__table__.update().where(PhotoImage.photo_id == changed.id)
                       .values(image=images.phone_jpeg(800, 600, quality=70)))
    db.session.execute(PhotoImage.__table__.delete().where(PhotoImage.photo_id == missing.id))
    db.session.execute(PhotoImage.__table__.update().where(PhotoImage.photo_id == thumb_changed.id).values(thumbnail=b"\xff\xd8\xff"))
    db.session.commit()
    result = _verify(app)
    out = _output(result)
    assert result.exit_code == 1, out
    assert f"Photo {changed.public_id} of patient {patient.record_number}: the image has changed" in out
    assert f"Photo {missing.public_id} of patient {patient.record_number}: the image and thumbnail are missing" in out
    assert f"Photo {thumb_changed.public_id} of patient {patient.record_number}: the thumbnail has changed" in out
    assert "3 of 3 photos FAILED" in out


def test_verify_images_reads_a_few_photos_at_a_time(app, three_photos):
    """The generator yields as it goes (a clinic's archive is never read into memory at once)."""
    results = services.verify_images(db.session, batch=1)
    assert next(results) == (1, None)
    assert [checked for checked, _ in results] == [2, 3]


def _signed_session_photo(practitioner):
    patient = make_patient(practitioner)
    consultation = make_consultation(patient, practitioner)
    consent = photo_consent(consultation, practitioner)
    plan = make_plan(consultation)
    record = TreatmentSession(patient_id=patient.id, plan_id=plan.id, sequence=1, practitioner_id=practitioner.id,
                              session_date=date.today(), consent_id=consent.id, created_by_id=practitioner.id)
    db.session.add(record)
    db.session.commit()
    photo = _store(patient, record, consent, practitioner)
    record.signed_at = datetime.now(timezone.utc)
    record.signed_by_id = practitioner.id
    db.session.commit()
    return patient, consent, record, photo


@pytest.mark.parametrize("statement", [
    "UPDATE photos SET view = 'oblique_left' WHERE id = :id",
    "UPDATE photos SET sha256 = 'x' WHERE id = :id",
    "DELETE FROM photos WHERE id = :id",
    "UPDATE photo_images SET image = thumbnail WHERE photo_id = :id",
    "DELETE FROM photo_images WHERE photo_id = :id",
])
def test_a_photo_of_a_signed_session_cannot_be_changed_or_deleted(app, practitioner, statement):
    patient, consent, record, photo = _signed_session_photo(practitioner)
    with pytest.raises(DatabaseError):
        db.session.execute(text(statement), {"id": photo.id})
        db.session.flush()
    db.session.rollback()
    assert list(services.verify_images(db.session)) == [(1, None)]


def test_no_photo_can_be_added_to_a_signed_session(app, practitioner):
    patient, consent, record, photo = _signed_session_photo(practitioner)
    with pytest.raises(services.PhotoOfSignedSession, match="review visit"):
        services.store_photo(db.session, patient=patient, visit=record, view="oblique_left", zone=None, moment="before",
                             consent=consent, checks={}, data=images.phone_jpeg(800, 600), actor=practitioner)
    db.session.rollback()
    # The database refuses it too, whoever asks.
    with pytest.raises(DatabaseError):
        db.session.execute(Photo.__table__.insert().values(
            public_id=photo.public_id.__class__(int=photo.public_id.int ^ 1), patient_id=patient.id, session_id=record.id,
            view="oblique_left", moment="before", consent_id=consent.id, content_type="image/jpeg", width=1, height=1, byte_size=1,
            sha256="0" * 64, thumb_width=1, thumb_height=1, thumb_sha256="0" * 64, captured_by_id=practitioner.id,
            makeup_removed=False, jewellery_off=False, hair_back=False, same_background=False, same_lighting=False,
            captured_at=datetime.now(timezone.utc)))
        db.session.flush()
    db.session.rollback()
