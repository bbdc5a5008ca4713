"""Taking a visit's photos: the protocol's views, the set's state, the checklist, refusals, the lock, review visits, sections."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from practitioner.extensions import db
from practitioner.photos import capture
from practitioner.photos.models import Photo, PhotoProtocolView, ReviewVisit
from practitioner.treatments.models import TreatmentSession
from tests.conftest import csrf_token, make_patient, post_form
from tests.factories import make_consultation, make_plan, signed_session
from tests.photos.visits import consultation_with_consent, draft_session, photo_bytes, sign_form, withdraw


def _files(*keys: str) -> dict[str, tuple[io.BytesIO, str]]:
    return {f"photo-{key}": (io.BytesIO(photo_bytes()), f"{key}.jpg") for key in keys}


def _upload(client, path: str, keys: tuple[str, ...], **data):
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, **data, **_files(*keys)}, content_type="multipart/form-data")


def _count(**where) -> int:
    query = select(func.count()).select_from(Photo)
    for name, value in where.items():
        query = query.where(getattr(Photo, name) == value)
    return db.session.scalar(query)


# --- the protocol ---------------------------------------------------------------------------------------------------

def test_missing_views_come_from_the_protocol_for_the_visits_areas(app, practitioner):
    rules = capture.protocol(db.session)
    assert rules["cheeks"] == ("frontal", "oblique_left", "oblique_right")
    assert rules["neck"] == ("lateral_left", "lateral_right")
    assert rules["decolletage"] == ("frontal",)
    slots = capture.slots_for(["cheeks", "neck"], rules)
    assert [s.key for s in slots if s.required] == ["frontal", "oblique_left", "oblique_right", "lateral_left", "lateral_right"]
    assert [s.key for s in slots if not s.required] == ["close_up-cheeks", "close_up-neck"]
    # The glabella and scar areas are face zones: they take the face's views.
    assert [s.key for s in capture.slots_for(["glabella"], rules) if s.required] == ["frontal", "oblique_left", "oblique_right"]


def test_a_clinic_protocol_change_changes_what_is_missing(app, practitioner):
    db.session.add(PhotoProtocolView(area="cheeks", view="close_up"))
    db.session.commit()
    slots = capture.slots_for(["cheeks"], capture.protocol(db.session))
    assert [s.key for s in slots if s.required] == ["frontal", "oblique_left", "oblique_right", "close_up-cheeks"]


def test_the_set_summary_names_what_is_missing(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, form = consultation_with_consent(patient, practitioner)
    from tests.photos.factories import make_photo

    make_photo(patient.id, form, practitioner, view="frontal", moment="baseline", consultation=consultation)
    make_photo(patient.id, form, practitioner, view="oblique_left", moment="baseline", consultation=consultation)
    (baseline,) = capture.photo_sets(db.session, consultation)
    assert baseline.summary == "2 of 3 views: Right oblique (45°) missing"
    assert not baseline.complete
    make_photo(patient.id, form, practitioner, view="oblique_right", moment="baseline", consultation=consultation)
    (baseline,) = capture.photo_sets(db.session, consultation)
    assert baseline.complete and baseline.summary == "3 of 3 views: complete"


def test_a_sessions_areas_are_its_zones_and_a_review_visits_its_plans(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    record = draft_session(consultation, practitioner, zones=("neck",))
    assert capture.visit_zones(db.session, record) == ["neck"]
    plan = make_plan(consultation, zones=(("decolletage", "0.5", "1.0"),))
    review = ReviewVisit(patient_id=patient.id, plan_id=plan.id, visit_date=date.today(), notes="", created_by_id=practitioner.id)
    db.session.add(review)
    db.session.commit()
    (review_set,) = capture.photo_sets(db.session, review)
    assert [s.key for s in review_set.required] == ["frontal"]


# --- the page and the upload ----------------------------------------------------------------------------------------

def test_capture_page_has_a_labelled_camera_input_per_missing_view(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    page = as_practitioner.get(f"/consultations/{consultation.public_id}/photos")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in body
    for key, label in (("frontal", "Front"), ("oblique_left", "Left oblique (45°)"), ("oblique_right", "Right oblique (45°)")):
        assert f'<label for="photo-{key}">{label}</label>' in body
        assert f'id="photo-{key}"' in body
    assert body.count('accept="image/*,.heic,.heif"') == 4  # three views and the close-up of the cheeks
    assert body.count('capture="environment"') == 4
    assert "0 of 3 views: Front, Left oblique (45°), Right oblique (45°) missing" in body
    for label in ("Make-up removed", "Jewellery and glasses off", "Hair back from the face", "Same background as before"):
        assert label in body


def test_upload_stores_each_photo_with_its_view_moment_and_ticks_then_redirects(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, form = consultation_with_consent(patient, practitioner)
    path = f"/consultations/{consultation.public_id}/photos"
    response = _upload(as_practitioner, path, ("frontal", "oblique_left"), makeup_removed="y", hair_back="y")
    assert response.status_code == 303 and response.headers["Location"].endswith(path)
    photos = db.session.scalars(select(Photo).order_by(Photo.view)).all()
    assert [(p.view, p.moment) for p in photos] == [("frontal", "baseline"), ("oblique_left", "baseline")]
    assert all(p.makeup_removed and p.hair_back and not p.jewellery_off and not p.same_lighting for p in photos)
    assert all(p.consent_id == form.id and p.consultation_id == consultation.id for p in photos)
    page = as_practitioner.get(path).get_data(as_text=True)
    assert "2 of 3 views: Right oblique (45°) missing" in page
    assert 'id="photo-frontal"' not in page and 'id="photo-oblique_right"' in page  # only the views still missing
    assert "Incomplete" in as_practitioner.get(f"/consultations/{consultation.public_id}").get_data(as_text=True)

    _upload(as_practitioner, path, ("oblique_right",))
    consultation_page = as_practitioner.get(f"/consultations/{consultation.public_id}").get_data(as_text=True)
    assert "3 of 3 views: complete" in consultation_page


def test_session_photos_before_and_immediately_after(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    record = draft_session(consultation, practitioner)
    plan_public_id = record.plan.public_id
    path = f"/sessions/{record.public_id}/photos"
    assert _upload(as_practitioner, path, ("frontal",), moment="before").status_code == 303
    assert _upload(as_practitioner, f"{path}?moment=immediately_after", ("frontal", "close_up-cheeks"),
                   moment="immediately_after").status_code == 303
    assert _count(moment="before") == 1 and _count(moment="immediately_after") == 2
    assert db.session.scalar(select(Photo.zone).where(Photo.view == "close_up")) == "cheeks"
    session_page = as_practitioner.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert "Before treatment:" in session_page and "Immediately after treatment:" in session_page
    assert "1 of 3 views: Left oblique (45°), Right oblique (45°) missing" in session_page
    assert "Take photos" in session_page
    plan_page = as_practitioner.get(f"/plans/{plan_public_id}").get_data(as_text=True)
    assert "Session 1," in plan_page and "1 of 3 views" in plan_page


@pytest.mark.parametrize("data, files, message", [
    ({}, (), "Take or choose at least one photo."),
])
def test_nothing_chosen_is_422_with_the_ticks_kept(app, as_practitioner, practitioner, data, files, message):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    path = f"/consultations/{consultation.public_id}/photos"
    response = _upload(as_practitioner, path, files, makeup_removed="y", **data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body
    assert re.search(r'<input checked[^>]* name="makeup_removed"', body), "the ticks are kept"
    assert not re.search(r'<input checked[^>]* name="hair_back"', body)
    assert _count() == 0


def test_a_file_that_is_no_photo_is_422_at_its_input_and_nothing_is_stored(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    path = f"/consultations/{consultation.public_id}/photos"
    token = csrf_token(as_practitioner, path)
    response = as_practitioner.post(path, content_type="multipart/form-data", data={
        "csrf_token": token, "photo-frontal": (io.BytesIO(photo_bytes()), "front.jpg"),
        "photo-oblique_left": (io.BytesIO(b"%PDF-1.7 not a photo"), "left.jpg")})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Nothing was saved: choose the photos again." in body
    assert 'id="photo-oblique_left-error"' in body
    assert _count() == 0, "all or nothing"


def test_no_consent_refuses_and_links_the_consent_form(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner)
    path = f"/consultations/{consultation.public_id}/photos"
    page = as_practitioner.get(path)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "No consent to clinical photography" in body
    assert f"/consultations/{consultation.public_id}/consents/new" in body
    assert 'type="file"' not in body
    response = as_practitioner.post(path, content_type="multipart/form-data",
                                    data={"csrf_token": csrf_token(as_practitioner, f"/patients/{patient.public_id}"), **_files("frontal")})
    assert response.status_code == 409
    assert _count() == 0


def test_withdrawn_clinical_consent_stops_new_photos_and_keeps_the_old(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    path = f"/consultations/{consultation.public_id}/photos"
    _upload(as_practitioner, path, ("frontal",))
    withdraw(patient.id, "clinical", practitioner)
    response = _upload(as_practitioner, path, ("oblique_left",))
    body = response.get_data(as_text=True)
    assert response.status_code in (200, 409)
    assert "withdrew consent to clinical photos" in body
    assert "Photos already taken stay in the record, because they are part of the clinical record." in body
    assert _count() == 1
    # A new form, signed later, gives consent again.
    sign_form(consultation, practitioner, clinical=True)
    assert _upload(as_practitioner, path, ("oblique_left",)).status_code == 303
    assert _count() == 2


def test_todays_answer_no_refuses_the_upload(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    record = draft_session(consultation, practitioner, photo_consent=False)
    response = _upload(as_practitioner, f"/sessions/{record.public_id}/photos", ("frontal",), moment="before")
    assert response.status_code in (200, 409)
    assert _count() == 0


# --- the lock -------------------------------------------------------------------------------------------------------

def test_a_signed_sessions_set_is_closed_and_offers_a_review_visit(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation)
    record = signed_session(plan, practitioner, photo_consent=True)
    path = f"/sessions/{record.public_id}/photos"
    page = as_practitioner.get(path).get_data(as_text=True)
    assert "This session is signed" in page and "Record a review visit" in page
    assert f"/patients/{patient.public_id}/review-visits/new?plan={plan.public_id}" in page
    assert 'type="file"' not in page
    response = as_practitioner.post(path, content_type="multipart/form-data",
                                    data={"csrf_token": csrf_token(as_practitioner, f"/patients/{patient.public_id}"), "moment": "before", **_files("frontal")})
    assert response.status_code == 409 and "This session is signed" in response.get_data(as_text=True)
    assert _count() == 0


def test_the_databases_refusal_is_caught_not_a_500(app, as_practitioner, practitioner, monkeypatch):
    """Signed between the page's check and the insert: the lock trigger refuses, and the page says so."""
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation)
    record = signed_session(plan, practitioner, photo_consent=True)
    # Both checks before the insert (the capture page's and the photo core's) are made to miss the signature.
    monkeypatch.setattr(capture, "is_closed", lambda visit: False)
    monkeypatch.setattr(TreatmentSession, "is_signed", property(lambda self: False))
    response = _upload(as_practitioner, f"/sessions/{record.public_id}/photos", ("frontal",), moment="before")
    assert response.status_code == 409
    assert "This session is signed" in response.get_data(as_text=True)
    assert _count() == 0


# --- review visits --------------------------------------------------------------------------------------------------

def test_review_visit_created_from_the_patient_page_then_photographed(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation, zones=(("neck", "0.5", "1.0"),))
    patient_page = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Record a review visit" in patient_page
    path = f"/patients/{patient.public_id}/review-visits/new"
    response = post_form(as_practitioner, path, {"visit_date": date.today().isoformat(), "plan": str(plan.public_id),
                                                  "notes": "Six weeks after the last session"})
    assert response.status_code == 303
    visit = db.session.scalars(select(ReviewVisit)).one()
    assert visit.plan_id == plan.id and visit.notes == "Six weeks after the last session"
    assert response.headers["Location"].endswith(f"/review-visits/{visit.public_id}/photos")
    capture_page = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert "0 of 2 views: Left side (90°), Right side (90°) missing" in capture_page
    assert _upload(as_practitioner, f"/review-visits/{visit.public_id}/photos", ("lateral_left",)).status_code == 303
    assert _count(moment="review", review_visit_id=visit.id) == 1
    visit_page = as_practitioner.get(f"/review-visits/{visit.public_id}").get_data(as_text=True)
    assert "1 of 2 views: Right side (90°) missing" in visit_page and "Take photos" in visit_page
    assert "Six weeks after the last session" in visit_page
    assert "Review visit, " in as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)


@pytest.mark.parametrize("data, message", [
    ({"visit_date": ""}, "Enter the date of the visit."),
    ({"visit_date": (date.today() + timedelta(days=3)).isoformat()}, "A review visit is recorded on the day or after it."),
    ({"visit_date": date.today().isoformat(), "plan": "not-a-plan"}, "Not a valid choice"),
])
def test_review_visit_bad_input_is_422(app, as_practitioner, practitioner, data, message):
    patient = make_patient(actor=practitioner)
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/review-visits/new", {"notes": "Kept note", **data})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in body and "Kept note" in body
    assert db.session.scalar(select(func.count()).select_from(ReviewVisit)) == 0


def test_review_visit_of_another_patients_plan_is_not_offered(app, as_practitioner, practitioner):
    other = make_patient(actor=practitioner, family_name="Other")
    other_consultation, _ = consultation_with_consent(other, practitioner)
    plan = make_plan(other_consultation)
    patient = make_patient(actor=practitioner)
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/review-visits/new",
                         {"visit_date": date.today().isoformat(), "plan": str(plan.public_id)})
    assert response.status_code == 422


# --- who ------------------------------------------------------------------------------------------------------------

def test_reception_and_admin_see_no_photo_section_on_the_patient_page(app, client, practitioner, reception):
    from tests.conftest import sign_in

    patient = make_patient(actor=practitioner)
    consultation_with_consent(patient, practitioner)
    assert sign_in(client, reception.email).status_code == 303
    page = client.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Photo consent" not in page and "review visit" not in page.lower()


def test_the_demo_patient_has_a_photo_set_at_each_visit(app):
    from practitioner.demo import seed_clinical_story, seed_demo

    seed_demo(db.session)
    seed_clinical_story(db.session, issue_documents=False)
    db.session.commit()
    counts = dict(db.session.execute(select(Photo.moment, func.count()).group_by(Photo.moment)).all())
    assert counts == {"baseline": 3, "before": 3, "immediately_after": 3}


# --- the clinic's protocol (an administrator's setting) --------------------------------------------------------------

def _protocol_form(**overrides):
    from practitioner.clinical.screening import TREATMENT_AREAS

    data = {f"area_{area}": list(views) for area, views in capture.protocol(db.session).items() if area in TREATMENT_AREAS}
    data.update(overrides)
    return data


def test_admin_changes_the_protocol_and_the_sets_follow(app, client, practitioner, admin):
    from practitioner.audit import AuditEvent
    from tests.conftest import sign_in

    assert sign_in(client, admin.email).status_code == 303
    page = client.get("/admin/photo-protocol").get_data(as_text=True)
    assert "Photo protocol" in page and 'value="oblique_left"' in page
    assert "/admin/photo-protocol" in client.get("/admin/settings").get_data(as_text=True)
    response = post_form(client, "/admin/photo-protocol", _protocol_form(area_cheeks=["frontal", "close_up"]))
    assert response.status_code == 303
    assert capture.protocol(db.session)["cheeks"] == ("frontal", "close_up")
    assert capture.protocol(db.session)["forehead"] == ("frontal", "oblique_left", "oblique_right")  # untouched
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "photo_protocol.change")).one()
    assert event.detail_items == {"cheeks": "frontal, close_up"}
    slots = capture.slots_for(["cheeks"], capture.protocol(db.session))
    assert [s.key for s in slots if s.required] == ["frontal", "close_up-cheeks"]


def test_protocol_needs_a_view_per_area_422_with_the_ticks_kept(app, client, admin):
    from tests.conftest import sign_in

    assert sign_in(client, admin.email).status_code == 303
    data = _protocol_form(area_cheeks=[], area_neck=["lateral_left"])
    response = post_form(client, "/admin/photo-protocol", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Tick at least one view for cheeks." in body
    assert re.search(r'<input checked[^>]*id="area_neck-\d"[^>]*value="lateral_left"', body), "the ticks are kept"
    assert capture.protocol(db.session)["cheeks"] == ("frontal", "oblique_left", "oblique_right")
    bad = post_form(client, "/admin/photo-protocol", _protocol_form(area_cheeks=["sideways"]))
    assert bad.status_code == 422 and "['" not in bad.get_data(as_text=True)


def test_practitioners_cannot_change_the_protocol(app, as_practitioner):
    assert as_practitioner.get("/admin/photo-protocol").status_code == 403


def _statements(client, url: str) -> int:
    from sqlalchemy import event

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_patient_and_plan_pages_statements_do_not_grow_with_review_visits_and_photos(app, as_practitioner, practitioner):
    from tests.photos.factories import make_photo

    patient = make_patient(actor=practitioner)
    consultation, form = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation)
    urls = (f"/patients/{patient.public_id}", f"/plans/{plan.public_id}")

    def review(with_plan: bool) -> None:
        visit = ReviewVisit(patient_id=patient.id, plan_id=plan.id if with_plan else None, visit_date=date.today(), notes="",
                            created_by_id=practitioner.id)
        db.session.add(visit)
        db.session.flush()
        make_photo(patient.id, form, practitioner, view="frontal", moment="review", review=visit)

    review(True)
    review(False)
    for url in urls:
        _statements(as_practitioner, url)
    before = [_statements(as_practitioner, url) for url in urls]
    for _ in range(3):
        review(True)
        review(False)
    assert [_statements(as_practitioner, url) for url in urls] == before


def test_a_signed_sessions_section_says_closed_and_links_a_review_visit(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation)
    record = signed_session(plan, practitioner, photo_consent=True)
    page = as_practitioner.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert "its photo set is closed" in page
    assert f"/patients/{patient.public_id}/review-visits/new?plan={plan.public_id}" in page
    assert "Take photos" not in page
