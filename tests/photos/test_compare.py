"""The comparison page: baseline and latest by default, any two chosen by a GET form, each labelled with its visit."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import event, select

from practitioner.audit import AuditEvent
from practitioner.extensions import db
from tests.conftest import make_patient
from tests.photos.factories import course_with_photos, make_photo


@pytest.fixture
def course(app, practitioner):
    patient = make_patient(practitioner)
    return patient, course_with_photos(patient, practitioner, sessions=3, planned=6, review=True)


def _url(patient, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/patients/{patient.public_id}/photos/compare" + (f"?{query}" if query else "")


def _figures(html: str) -> list[str]:
    return re.findall(r'<figure class="compare__photo".*?</figure>', html, re.S)


def test_default_pair_is_baseline_and_latest(as_practitioner, course):
    patient, made = course
    photos = [p for p in made["photos"] if p.view == "frontal"]
    html = as_practitioner.get(_url(patient, view="frontal", zone="")).get_data(as_text=True)
    left, right = _figures(html)
    assert str(photos[0].public_id) in left and "Consultation" in left and "Tuesday 3 March 2026" in left
    assert str(photos[-1].public_id) in right and "Review visit" in right
    assert 'alt="Front view, 3 March 2026, at the consultation, before treatment began"' in left


def test_no_view_given_shows_the_first_view(as_practitioner, course):
    patient, made = course
    response = as_practitioner.get(_url(patient))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Compare photos: Front" in html
    assert str(made["photos"][0].public_id) in _figures(html)[0]


def test_chosen_pair_with_session_labels(as_practitioner, course):
    patient, made = course
    s1, s3 = made["sessions"][0], made["sessions"][2]
    a = next(p for p in made["photos"] if p.view == "frontal" and p.session_id == s1.id)
    b = next(p for p in made["photos"] if p.view == "frontal" and p.session_id == s3.id)
    response = as_practitioner.get(_url(patient, view="frontal", zone="", a=a.public_id, b=b.public_id))
    assert response.status_code == 200
    left, right = _figures(response.get_data(as_text=True))
    assert str(a.public_id) in left and "Session 1 of 6" in left and "Crown Aesthetics SkinPen Precision" in left
    assert "1 mm (cheeks)" in left  # session 1: cheeks 1.00, forehead 0.50; the neck (0.75) is not a front view's area
    assert str(b.public_id) in right and "Session 3 of 6" in right and "Dermapen Dermapen 4" in right
    assert "1.5 mm (cheeks)" in right
    assert "Before treatment" in right


def test_side_views_take_their_depth_from_the_neck_and_jaw(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=1, views=("lateral_left",))
    photo = made["photos"][-1]
    html = as_practitioner.get(_url(patient, view="lateral_left", b=photo.public_id)).get_data(as_text=True)
    assert "0.75 mm (neck)" in _figures(html)[1]


def test_the_form_is_a_plain_get_form_with_two_selects(as_practitioner, course):
    patient, made = course
    html = as_practitioner.get(_url(patient, view="frontal")).get_data(as_text=True)
    form = re.search(r'<form class="compare-form" method="get".*?</form>', html, re.S).group(0)
    assert form.count("<select") == 2 and 'name="a"' in form and 'name="b"' in form
    assert 'type="submit"' in form and "csrf_token" not in form
    assert 'name="view" type="hidden" value="frontal"' in form
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    # Each select lists every frontal photo by date, visit and moment.
    assert form.count("· Session 2 of 6 · Before treatment") == 2


def test_a_photo_of_another_view_is_refused_on_its_field(as_practitioner, course):
    patient, made = course
    other = next(p for p in made["photos"] if p.view == "oblique_left")
    response = as_practitioner.get(_url(patient, view="frontal", a=other.public_id))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Left photo: Choose a photo of this view from the list." in html
    assert 'aria-invalid="true"' in html
    assert len(_figures(html)) == 2  # the default pair is still shown


def test_a_view_without_photos_is_said(as_practitioner, course):
    patient, _ = course
    response = as_practitioner.get(_url(patient, view="lateral_left"))
    assert response.status_code == 422
    assert "There are no photos of that view yet" in response.get_data(as_text=True)
    assert as_practitioner.get(_url(patient, view="not-a-view")).status_code == 422


def test_a_patient_without_photos(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    response = as_practitioner.get(_url(patient))
    assert response.status_code == 200
    assert "No photos yet" in response.get_data(as_text=True)


def test_the_view_is_audited_with_the_photos_shown(as_practitioner, course):
    patient, made = course
    as_practitioner.get(_url(patient, view="frontal"))
    row = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "photo.compare_view")).one()
    assert row.patient_id == patient.id
    frontal = [p for p in made["photos"] if p.view == "frontal"]
    assert str(frontal[0].public_id) in row.detail and str(frontal[-1].public_id) in row.detail


@pytest.mark.parametrize("who", ["as_reception", "as_admin"])
def test_reception_and_admin_are_refused(who, request, app, practitioner):
    patient = make_patient(practitioner)
    course_with_photos(patient, practitioner, sessions=1)
    browser = request.getfixturevalue(who)
    assert browser.get(_url(patient)).status_code == 403
    assert browser.get(f"/patients/{patient.public_id}/photos").status_code == 403


def _statements(app, browser, url: str) -> int:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert browser.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_statement_count_is_the_same_for_3_photos_and_30(as_practitioner, app, practitioner):
    small, large = make_patient(practitioner), make_patient(practitioner)
    course_with_photos(small, practitioner, sessions=2, views=("frontal",))  # 3 photos
    course_with_photos(large, practitioner, sessions=9, planned=12, views=("frontal", "oblique_left", "oblique_right"))  # 30
    for path in ("/photos/compare?view=frontal", "/photos"):
        few = _statements(app, as_practitioner, f"/patients/{small.public_id}{path}")
        many = _statements(app, as_practitioner, f"/patients/{large.public_id}{path}")
        assert few == many, path


def test_the_patient_pages_timeline_costs_the_same_for_3_photos_and_30(as_practitioner, app, practitioner):
    # Both patients have the same visits (other features' parts of the page cost per visit); only the photos differ.
    small, large = make_patient(practitioner), make_patient(practitioner)
    few_made = course_with_photos(small, practitioner, sessions=9, planned=12, views=())
    course_with_photos(large, practitioner, sessions=9, planned=12, views=("frontal", "oblique_left", "oblique_right"))
    for number, record in enumerate(few_made["sessions"][:3]):
        make_photo(small.id, few_made["consent"], practitioner, view="frontal", moment="before", session=None,
                   consultation=few_made["consultation"], shade=number)
    few = _statements(app, as_practitioner, f"/patients/{small.public_id}")
    many = _statements(app, as_practitioner, f"/patients/{large.public_id}")
    assert few == many


def test_dates_are_the_visits(as_practitioner, course):
    patient, made = course
    html = as_practitioner.get(_url(patient, view="frontal", a=made["photos"][3].public_id)).get_data(as_text=True)
    assert date(2026, 3, 31).strftime("%-d %B %Y") in _figures(html)[0]
