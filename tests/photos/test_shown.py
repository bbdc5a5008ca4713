"""A thumbnail the page's audit row already names is fetched without a row of its own; every other fetch is audited.

The patient's page writes one row naming the photos its timeline shows (photo.timeline_view); each
thumbnail address on it carries a proof (photos/shown.py) bound to the user, the photo and a few minutes.
"""

from __future__ import annotations

import html as html_lib
import re
import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from practitioner.audit import AuditEvent, verify_chain
from practitioner.auth.models import Role
from practitioner.extensions import db
from practitioner.photos import shown
from tests.conftest import make_patient, make_user, sign_in
from tests.photos.factories import course_with_photos


def _rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _thumbnails(page: str) -> list[str]:
    return [html_lib.unescape(url) for url in re.findall(r'<img src="(/photos/[^"]+/thumbnail[^"]*)"', page)]


@pytest.fixture
def course(app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=2, views=("frontal", "oblique_left"), review=True)
    return patient, made


def _patient_page(client, patient) -> list[str]:
    response = client.get(f"/patients/{patient.public_id}")
    assert response.status_code == 200
    return _thumbnails(response.get_data(as_text=True))


def test_the_thumbnails_a_page_names_are_fetched_without_a_row_each(as_practitioner, course, practitioner):
    patient, made = course
    urls = _patient_page(as_practitioner, patient)
    assert len(urls) == len(made["photos"]) == 8 and all("?shown=" in url for url in urls)
    (page_row,) = _rows("photo.timeline_view")
    named = set(page_row.detail_items["photos"])
    for url in urls:
        response = as_practitioner.get(url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"] == "no-store"
    assert _rows("photo.view") == []
    # What the page's one row says covers every thumbnail fetched: each photo is named in it.
    assert {url.split("/")[2] for url in urls} == named == {str(p.public_id) for p in made["photos"]}
    assert page_row.actor_id == practitioner.id and page_row.patient_id == patient.id
    assert verify_chain(db.session).intact


def test_a_thumbnail_fetched_without_the_proof_is_audited_as_before(as_practitioner, course, practitioner):
    patient, made = course
    url = _patient_page(as_practitioner, patient)[0]
    bare = url.split("?")[0]
    assert as_practitioner.get(bare).status_code == 200
    (row,) = _rows("photo.view")
    assert row.detail_items["part"] == "thumbnail" and row.actor_id == practitioner.id
    assert row.target == f"photo:{bare.split('/')[2]}"


def test_another_users_proof_is_audited_under_the_user_who_fetches(app, as_practitioner, course):
    patient, _ = course
    url = _patient_page(as_practitioner, patient)[0]
    colleague = make_user(Role.PRACTITIONER, email="colleague@clinic.example")
    other = app.test_client()
    assert sign_in(other, colleague.email).status_code == 303
    assert other.get(url).status_code == 200
    (row,) = _rows("photo.view")
    assert row.actor_id == colleague.id


def test_a_proof_made_for_another_photo_or_altered_is_audited(as_practitioner, course):
    patient, _ = course
    first, second = _patient_page(as_practitioner, patient)[:2]
    swapped = second.split("?")[0] + "?" + first.split("?")[1]  # the first photo's proof on the second photo
    token = first.split("shown=")[1]
    altered = first.split("?")[0] + "?shown=" + token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for url in (swapped, altered):
        assert as_practitioner.get(url).status_code == 200
    assert len(_rows("photo.view")) == 2


def test_an_expired_proof_is_audited(as_practitioner, course, monkeypatch):
    patient, _ = course
    url = _patient_page(as_practitioner, patient)[0]
    later = int(time.time()) + shown.VALID_FOR + 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
    assert as_practitioner.get(url).status_code == 200
    assert len(_rows("photo.view")) == 1


def test_the_proof_lets_no_one_in_who_may_not_see_photos(app, as_practitioner, course):
    patient, _ = course
    url = _patient_page(as_practitioner, patient)[0]
    reception = make_user(Role.RECEPTION, email="front-desk@clinic.example")
    desk = app.test_client()
    assert sign_in(desk, reception.email).status_code == 303
    response = desk.get(url)
    assert response.status_code == 403 and b"\xff\xd8" not in response.data
    assert len(_rows("access.denied")) == 1 and _rows("photo.view") == []
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 303 and "/sign-in" in anonymous.headers["Location"]


def test_the_full_image_is_audited_even_with_a_proof(as_practitioner, course):
    patient, _ = course
    url = _patient_page(as_practitioner, patient)[0]
    assert as_practitioner.get(url.replace("/thumbnail?", "/image?")).status_code == 200
    (row,) = _rows("photo.view")
    assert row.detail_items["part"] == "image"


def test_the_patients_photos_page_links_its_thumbnails_with_the_proof(as_practitioner, course):
    patient, made = course
    page = as_practitioner.get(f"/patients/{patient.public_id}/photos").get_data(as_text=True)
    urls = _thumbnails(page)
    assert len(urls) == len(made["photos"]) and all("?shown=" in url for url in urls)
    for url in urls:
        assert as_practitioner.get(url).status_code == 200
    assert _rows("photo.view") == []
    assert len(_rows("photo.timeline_view")) == 1
