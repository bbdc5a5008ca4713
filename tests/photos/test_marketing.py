"""Marketing use: marks only with marketing consent (checked each time), a withdrawal ends every mark, the export."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timedelta, timezone

from PIL import Image
from sqlalchemy import func, select

from practitioner.audit import AuditEvent
from practitioner.extensions import db
from practitioner.photos import consent, marketing
from practitioner.photos.models import MarketingMark
from tests.conftest import csrf_token, make_patient, post_form
from tests.photos.visits import consultation_with_consent, photo_bytes, sign_form

NOW = datetime.now(timezone.utc)


def _photo(practitioner, *, marketing_consent: bool, family_name: str = "Marketer"):
    from practitioner.photos.services import store_photo

    patient = make_patient(actor=practitioner, family_name=family_name)
    consultation, form = consultation_with_consent(patient, practitioner, clinical=True, marketing=marketing_consent,
                                                   signed_at=NOW - timedelta(days=2))
    photo = store_photo(db.session, patient=patient, visit=consultation, view="frontal", zone=None, moment="baseline", consent=form,
                        checks={}, data=photo_bytes(), actor=practitioner)
    db.session.commit()
    return patient, consultation, photo


def _open_marks() -> int:
    return db.session.scalar(select(func.count()).select_from(MarketingMark).where(MarketingMark.ended_at.is_(None)))


def test_mark_refused_without_marketing_consent(app, as_practitioner, practitioner):
    patient, consultation, photo = _photo(practitioner, marketing_consent=False)
    page = f"/consultations/{consultation.public_id}/photos"
    assert "Mark for marketing" not in as_practitioner.get(page).get_data(as_text=True)
    response = post_form(as_practitioner, f"/photos/{photo.public_id}/marketing", {}, page=f"/patients/{patient.public_id}",
                         follow_redirects=True)
    assert "Not marked for marketing." in response.get_data(as_text=True)
    assert "does not give consent to marketing use of photos" in response.get_data(as_text=True)
    assert _open_marks() == 0


def test_mark_and_unmark_with_consent_audited(app, as_practitioner, practitioner):
    patient, consultation, photo = _photo(practitioner, marketing_consent=True)
    page = f"/consultations/{consultation.public_id}/photos"
    assert "Mark for marketing" in as_practitioner.get(page).get_data(as_text=True)
    response = post_form(as_practitioner, f"/photos/{photo.public_id}/marketing", {}, page=page)
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    assert _open_marks() == 1
    assert "Marked for marketing" in as_practitioner.get(page).get_data(as_text=True)
    assert post_form(as_practitioner, f"/photos/{photo.public_id}/marketing/end", {}, page=page).status_code == 303
    assert _open_marks() == 0
    ended = db.session.scalars(select(MarketingMark)).one()
    assert ended.ended_reason == marketing.UNMARKED
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("photo.marketing%"))).all()
    assert actions == ["photo.marketing_mark", "photo.marketing_unmark"]


def test_consent_is_checked_at_each_mark(app, practitioner):
    patient, consultation, photo = _photo(practitioner, marketing_consent=True)
    marketing.mark(db.session, photo, actor=practitioner)
    marketing.unmark(db.session, photo, actor=practitioner)
    db.session.commit()
    sign_form(consultation, practitioner, clinical=True, marketing=False)  # a later form says No to marketing
    import pytest

    with pytest.raises(consent.PhotoRefused):
        marketing.mark(db.session, photo, actor=practitioner)


def test_withdrawing_marketing_consent_ends_every_mark_at_once(app, as_practitioner, practitioner):
    from practitioner.photos.services import store_photo

    patient, consultation, photo = _photo(practitioner, marketing_consent=True)
    form = consent.latest_consent(db.session, patient.id)
    second = store_photo(db.session, patient=patient, visit=consultation, view="oblique_left", zone=None, moment="baseline",
                         consent=form, checks={}, data=photo_bytes(), actor=practitioner)
    marketing.mark(db.session, photo, actor=practitioner)
    marketing.mark(db.session, second, actor=practitioner)
    db.session.commit()
    assert _open_marks() == 2
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/photo-consent/withdraw",
                         {"scope": "marketing", "reason": "Saw the website and changed their mind"})
    assert response.status_code == 303
    assert _open_marks() == 0
    reasons = set(db.session.scalars(select(MarketingMark.ended_reason)))
    assert reasons == {"marketing consent withdrawn"}
    page = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Saw the website and changed their mind" in page and "No photo of this patient is in marketing use." in page


def test_export_holds_only_consented_marked_photos_without_identifiers(app, as_practitioner, practitioner):
    kept_patient, _, kept = _photo(practitioner, marketing_consent=True, family_name="Keepsake")
    lapsed_patient, lapsed_consultation, lapsed = _photo(practitioner, marketing_consent=True, family_name="Lapsewood")
    _, _, unmarked = _photo(practitioner, marketing_consent=True, family_name="Nevermarked")
    marketing.mark(db.session, kept, actor=practitioner)
    marketing.mark(db.session, lapsed, actor=practitioner)
    db.session.commit()
    # The second patient's consent lapses by a later form, not a withdrawal: the mark is still open, the export re-checks.
    sign_form(lapsed_consultation, practitioner, clinical=True, marketing=False)
    listing = as_practitioner.get("/photos/marketing").get_data(as_text=True)
    assert "Export 1 marked photo<" in listing and listing.count("Consent no longer stands") == 1

    response = post_form(as_practitioner, "/photos/marketing/export", {}, page="/photos/marketing")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["manifest.csv", "photo-001.jpg"]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())
    image = Image.open(io.BytesIO(archive.read("photo-001.jpg")))
    assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for patient in (kept_patient, lapsed_patient):
        for identifier in (patient.family_name, patient.given_name, patient.record_number, patient.date_of_birth.isoformat(),
                           str(kept.public_id), str(patient.public_id)):
            assert identifier.encode() not in everything
    rows = list(csv.reader(io.StringIO(archive.read("manifest.csv").decode())))
    assert rows == [["file", "view", "moment"], ["photo-001.jpg", "Front", "Baseline (consultation)"]]
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "photo.marketing_export")).one()
    assert audit.detail_items["photos"] == 1 and audit.detail_items["left_out_consent_lapsed"] == 1
    del unmarked


def test_export_without_csrf_is_refused(app, as_practitioner, practitioner):
    response = as_practitioner.post("/photos/marketing/export", data={})
    assert response.status_code in (400, 422)
    assert response.mimetype != "application/zip"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "photo.marketing_export")) == 0


def test_reception_and_admin_are_refused_every_marketing_action(app, client, practitioner, reception, admin):
    from tests.conftest import sign_in

    _, _, photo = _photo(practitioner, marketing_consent=True)
    for user in (reception, admin):
        fresh = app.test_client()
        assert sign_in(fresh, user.email).status_code == 303
        token = csrf_token(fresh, "/patients/")
        assert fresh.get("/photos/marketing").status_code == 403
        for path in (f"/photos/{photo.public_id}/marketing", f"/photos/{photo.public_id}/marketing/end", "/photos/marketing/export"):
            assert fresh.post(path, data={"csrf_token": token}).status_code == 403
    assert _open_marks() == 0
    del client
