"""Limits on photographs (issue 13): photographs per visit and review visits per plan (none outside a plan), at the
boundary, refused with a message that says what to do next (422, values kept, nothing half-saved), and told where the
practitioner works: the capture page's "N of M photographs for this visit", the review visit form's "left"."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from practitioner.extensions import db
from practitioner.photos import capture, limits, services
from practitioner.photos.models import Photo, ReviewVisit
from tests.conftest import csrf_token, make_patient, post_form
from tests.factories import make_plan
from tests.photos.factories import make_photo
from tests.photos.visits import consultation_with_consent, draft_session, photo_bytes

CONSULTATION_LIMIT = limits.per_visit("consultation")
SESSION_LIMIT = limits.per_visit("session")


def _count(**where) -> int:
    query = select(func.count()).select_from(Photo)
    for name, value in where.items():
        query = query.where(getattr(Photo, name) == value)
    return db.session.scalar(query)


def _upload(client, path: str, keys: tuple[str, ...], **data):
    token = csrf_token(client, path)
    files = {f"photo-{key}": (io.BytesIO(photo_bytes()), f"{key}.jpg") for key in keys}
    return client.post(path, data={"csrf_token": token, **data, **files}, content_type="multipart/form-data")


def _held(consultation, consent, practitioner, views: tuple[str, ...]) -> None:
    """Photos already in the record (retakes of a view among them), inserted directly."""
    for view in views:
        make_photo(consultation.patient_id, consent, practitioner, view=view, moment="baseline", consultation=consultation, commit=False)
    db.session.commit()


def test_the_limits_hold_a_complete_set_at_each_moment_and_room_to_retake():
    # The five standard views a protocol can ask for, at each moment of the visit, and at least one more.
    assert limits.PHOTOS_PER_SET >= 6
    assert SESSION_LIMIT == 2 * limits.PHOTOS_PER_SET and CONSULTATION_LIMIT == limits.per_visit("review") == limits.PHOTOS_PER_SET
    assert limits.REVIEW_VISITS_PER_PLAN >= 1
    assert not hasattr(limits, "REVIEW_VISITS_WITHOUT_PLAN"), "review visits outside a plan have no limit"


# --- photographs per visit: the service ----------------------------------------------------------------------------

def _consultation_with(practitioner, held: int):
    patient = make_patient(actor=practitioner)
    consultation, consent = consultation_with_consent(patient, practitioner)
    _held(consultation, consent, practitioner, ("frontal",) * held)
    return consultation


@pytest.mark.parametrize("held, chosen, allowed", [
    (CONSULTATION_LIMIT - 2, 1, True),   # to M - 1
    (CONSULTATION_LIMIT - 1, 1, True),   # to M
    (CONSULTATION_LIMIT, 1, False),      # M + 1
    (CONSULTATION_LIMIT - 1, 2, False),  # one form passing M: none of it saved
])
def test_take_photos_at_the_boundary_of_a_visit(app, practitioner, held, chosen, allowed):
    consultation = _consultation_with(practitioner, held)
    files = [(capture.Slot(view), photo_bytes()) for view in ("oblique_left", "oblique_right")[:chosen]]
    if allowed:
        capture.take_photos(db.session, consultation, moment="baseline", files=files, checks={}, actor=practitioner)
        db.session.commit()
        assert _count(consultation_id=consultation.id) == held + chosen
        return
    with pytest.raises(services.TooManyPhotos) as refused:
        capture.take_photos(db.session, consultation, moment="baseline", files=files, checks={}, actor=practitioner)
    db.session.rollback()
    assert _count(consultation_id=consultation.id) == held, "nothing half-saved"
    message = str(refused.value)
    assert "Nothing was saved" in message
    if held >= CONSULTATION_LIMIT:
        assert f"already holds {CONSULTATION_LIMIT} photographs" in message and "review visit" in message
    else:
        assert f"holds {held} of {CONSULTATION_LIMIT} photographs, so 1 more can be added and 2 were chosen" in message
        assert "choose at most 1" in message


def test_store_photo_refuses_past_the_limit_whoever_calls_it(app, practitioner):
    consultation = _consultation_with(practitioner, CONSULTATION_LIMIT)
    from practitioner.consents.models import Consent

    consent = db.session.scalars(select(Consent)).first()
    with pytest.raises(services.TooManyPhotos):
        services.store_photo(db.session, patient=consultation.patient, visit=consultation, view="frontal", zone=None,
                             moment="baseline", consent=consent, checks={}, data=photo_bytes(), actor=practitioner)
    db.session.rollback()
    assert _count() == CONSULTATION_LIMIT


def test_a_session_holds_a_set_at_each_moment(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, consent = consultation_with_consent(patient, practitioner)
    record = draft_session(consultation, practitioner)
    for number in range(SESSION_LIMIT - 1):
        make_photo(patient.id, consent, practitioner, view="frontal", moment="before" if number % 2 else "immediately_after",
                   session=record, commit=False)
    db.session.commit()
    capture.take_photos(db.session, record, moment="before", files=[(capture.Slot("oblique_left"), photo_bytes())], checks={},
                        actor=practitioner)
    db.session.commit()
    assert _count(session_id=record.id) == SESSION_LIMIT
    with pytest.raises(services.TooManyPhotos):
        capture.take_photos(db.session, record, moment="immediately_after", files=[(capture.Slot("oblique_left"), photo_bytes())],
                            checks={}, actor=practitioner)
    db.session.rollback()
    assert _count(session_id=record.id) == SESSION_LIMIT


# --- photographs per visit: the page --------------------------------------------------------------------------------

def test_the_capture_page_tells_how_many_photographs_the_visit_holds(app, as_practitioner, practitioner):
    consultation = _consultation_with(practitioner, 2)
    body = as_practitioner.get(f"/consultations/{consultation.public_id}/photos").get_data(as_text=True)
    assert f"2 of {CONSULTATION_LIMIT} photographs for this visit" in body
    assert f"up to {CONSULTATION_LIMIT - 2} more can be added" in body
    assert 'type="file"' in body


def test_a_session_page_tells_the_visits_count_and_each_moments(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    record = draft_session(consultation, practitioner)
    body = as_practitioner.get(f"/sessions/{record.public_id}/photos").get_data(as_text=True)
    assert f"0 of {SESSION_LIMIT} photographs for this visit" in body
    assert f"({limits.PHOTOS_PER_SET} at each moment)" in body


def test_a_full_visit_offers_no_input_and_says_what_to_do(app, as_practitioner, practitioner):
    consultation = _consultation_with(practitioner, CONSULTATION_LIMIT)
    patient_id = consultation.patient.public_id
    page = as_practitioner.get(f"/consultations/{consultation.public_id}/photos")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"{CONSULTATION_LIMIT} of {CONSULTATION_LIMIT} photographs for this visit" in body
    assert 'type="file"' not in body
    assert "Take later photos at a review visit." in body
    assert f"/patients/{patient_id}/review-visits/new" in body


def test_an_upload_passing_the_limit_is_422_with_the_message_at_the_input_and_nothing_saved(app, as_practitioner, practitioner):
    consultation = _consultation_with(practitioner, CONSULTATION_LIMIT - 1)
    path = f"/consultations/{consultation.public_id}/photos"
    response = _upload(as_practitioner, path, ("oblique_left", "oblique_right"), makeup_removed="y")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (f"This visit holds {CONSULTATION_LIMIT - 1} of {CONSULTATION_LIMIT} photographs, so 1 more can be added and 2 were "
            "chosen. Nothing was saved: choose at most 1 and save again.") in body
    assert 'id="photo-oblique_left-error"' in body
    assert re.search(r'<input checked[^>]* name="makeup_removed"', body), "the ticks are kept"
    assert "Traceback" not in body and "{'" not in body
    assert _count() == CONSULTATION_LIMIT - 1
    assert _upload(as_practitioner, path, ("oblique_left",)).status_code == 303  # to M exactly
    assert _count() == CONSULTATION_LIMIT


def test_a_post_to_a_full_visit_is_422_and_saves_nothing(app, as_practitioner, practitioner):
    consultation = _consultation_with(practitioner, CONSULTATION_LIMIT)
    path = f"/consultations/{consultation.public_id}/photos"
    # The page was opened before the visit filled up: its form still offers the close-up.
    response = _upload(as_practitioner, path, ("close_up-cheeks",))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"This visit already holds {CONSULTATION_LIMIT} photographs, the most one visit may hold" in body
    assert _count() == CONSULTATION_LIMIT


def test_a_visit_over_a_limit_set_later_is_kept_and_said_so(app, as_practitioner, practitioner):
    consultation = _consultation_with(practitioner, CONSULTATION_LIMIT + 2)
    body = as_practitioner.get(f"/consultations/{consultation.public_id}/photos").get_data(as_text=True)
    assert f"{CONSULTATION_LIMIT + 2} photographs for this visit, more than the {CONSULTATION_LIMIT} a visit may now hold" in body
    assert 'type="file"' not in body
    assert _count() == CONSULTATION_LIMIT + 2


def test_reception_and_admin_still_get_403(app, practitioner, reception, admin):
    from tests.conftest import sign_in

    consultation = _consultation_with(practitioner, 1)
    paths = (f"/consultations/{consultation.public_id}/photos", f"/patients/{consultation.patient.public_id}/review-visits/new")
    for user in (reception, admin):
        client = app.test_client()
        sign_in(client, user.email)
        for path in paths:
            assert client.get(path).status_code == 403
            assert client.post(path, data={}).status_code in (400, 403)


# --- review visits per plan and outside a plan ---------------------------------------------------------------------

def _reviews(patient, practitioner, plan, count: int) -> None:
    for _ in range(count):
        db.session.add(ReviewVisit(patient_id=patient.id, plan_id=plan.id if plan else None, visit_date=date.today(), notes="",
                                   created_by_id=practitioner.id))
    db.session.commit()


def _reviews_of(plan) -> int:
    return db.session.scalar(select(func.count()).select_from(ReviewVisit).where(
        ReviewVisit.plan_id == plan.id if plan is not None else ReviewVisit.plan_id.is_(None)))


@pytest.mark.parametrize("held", ["M-2", "M-1", "M"])
def test_review_visits_at_the_boundary(app, as_practitioner, practitioner, held):
    limit = limits.REVIEW_VISITS_PER_PLAN
    count = {"M-2": limit - 2, "M-1": limit - 1, "M": limit}[held]
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation)
    _reviews(patient, practitioner, plan, count)
    path = f"/patients/{patient.public_id}/review-visits/new"
    form = as_practitioner.get(path + f"?plan={plan.public_id}").get_data(as_text=True)
    left = limits.review_visits_left(count, limit)
    assert left in form, "each choice says how many are left"
    response = post_form(as_practitioner, path, {"visit_date": date.today().isoformat(), "plan": str(plan.public_id),
                                                  "notes": "Kept note"})
    if count < limit:
        assert response.status_code == 303
        assert _reviews_of(plan) == count + 1
        return
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert str(escape(limits.too_many_reviews(limit))) in body
    assert 'id="plan-error"' in body and "Kept note" in body
    assert _reviews_of(plan) == limit, "nothing saved"


@pytest.mark.parametrize("held", [4, 5])
def test_review_visits_outside_a_plan_have_no_limit(app, as_practitioner, practitioner, held):
    # The 5th and 6th review visit without a plan are recorded: the export packs them into its record-wide parts.
    patient = make_patient(actor=practitioner)
    consultation_with_consent(patient, practitioner)
    _reviews(patient, practitioner, None, held)
    path = f"/patients/{patient.public_id}/review-visits/new"
    form = as_practitioner.get(path).get_data(as_text=True)
    assert re.search(r'<option[^>]*value=""[^>]*>No plan</option>', form), "the No plan choice counts nothing down"
    response = post_form(as_practitioner, path, {"visit_date": date.today().isoformat(), "plan": "", "notes": "Kept note"})
    assert response.status_code == 303
    assert _reviews_of(None) == held + 1


def test_the_review_form_names_the_limits(app, as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    body = as_practitioner.get(f"/patients/{patient.public_id}/review-visits/new").get_data(as_text=True)
    assert f"A plan may have up to {limits.REVIEW_VISITS_PER_PLAN} review visits" in body
    assert "Review visits without a plan have no such limit." in body


def test_the_review_visit_service_refuses_whoever_calls_it(app, practitioner):
    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    plan = make_plan(consultation)
    _reviews(patient, practitioner, plan, limits.REVIEW_VISITS_PER_PLAN)
    with pytest.raises(capture.TooManyReviewVisits):
        capture.create_review_visit(db.session, patient, visit_date=date.today(), plan=plan, notes="", actor=practitioner)
    db.session.rollback()
    # Another plan, or none, still has room: the limit is per plan, and there is none outside a plan.
    _reviews(patient, practitioner, None, 6)
    capture.create_review_visit(db.session, patient, visit_date=date.today(), plan=None, notes="", actor=practitioner)
    db.session.commit()
    assert _reviews_of(None) == 7


def test_a_signed_sessions_page_offers_no_more_room(app, as_practitioner, practitioner):
    from tests.factories import signed_session

    patient = make_patient(actor=practitioner)
    consultation, _ = consultation_with_consent(patient, practitioner)
    record = signed_session(make_plan(consultation), practitioner, photo_consent=True)
    body = as_practitioner.get(f"/sessions/{record.public_id}/photos").get_data(as_text=True)
    assert f"0 of {SESSION_LIMIT} photographs for this visit</strong>." in body
    assert "more can be added" not in body and "This session is signed" in body
