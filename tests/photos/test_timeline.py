"""The photo timeline: on the patient's page (a summary) and on the patient's photos page (every photo), a row per view."""

from __future__ import annotations

import re

from sqlalchemy import select

from practitioner.audit import AuditEvent
from practitioner.extensions import db
from practitioner.photos.timeline import SUMMARY_PER_VIEW
from tests.conftest import make_patient
from tests.photos.factories import course_with_photos, make_photo


def _rows(html: str) -> dict[str, str]:
    return {title.strip(): body for title, body in re.findall(
        r'<h3 class="photo-row__title"[^>]*>([^<]+)<.*?<ol class="photo-strip">(.*?)</ol>', html, re.S)}


def test_patient_page_shows_a_row_per_view_in_date_order(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=2, review=True)
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Photo timeline" in html
    rows = _rows(html)
    assert list(rows) == ["Front", "Left oblique (45°)", "Right oblique (45°)"]
    frontal = [p for p in made["photos"] if p.view == "frontal"]
    positions = [rows["Front"].index(str(p.public_id)) for p in frontal]
    assert positions == sorted(positions)
    assert "3 Mar 2026" in rows["Front"] and "Session 2 of 6" in rows["Front"] and "Review visit" in rows["Front"]


def test_thumbnails_are_lazy_sized_and_link_to_the_comparison(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=1, views=("frontal",))
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    # Each thumbnail carries the proof that the page's audit row names it (photos/shown.py).
    images = re.findall(r'<img src="/photos/[^"]+/thumbnail\?shown=[\w-]+\.[\w-]+"[^>]*>', html)
    assert len(images) == 2
    for tag in images:
        assert 'loading="lazy"' in tag and 'width="64"' in tag and 'height="48"' in tag and 'alt="Front view, ' in tag
    baseline, latest = made["photos"]
    link = f'/patients/{patient.public_id}/photos/compare?view=frontal&amp;zone=&amp;b={latest.public_id}&amp;a={baseline.public_id}'
    assert link in html
    followed = as_practitioner.get(link.replace("&amp;", "&"))
    assert followed.status_code == 200 and "Session 1 of 6" in followed.get_data(as_text=True)


def test_the_summary_keeps_the_first_and_the_latest_and_the_photos_page_has_every_one(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=8, planned=10, views=("frontal",))
    photos = made["photos"]
    assert len(photos) == 9 > SUMMARY_PER_VIEW
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    row = _rows(html)["Front"]
    shown = [p for p in photos if str(p.public_id) in row]
    assert shown == [photos[0], *photos[-(SUMMARY_PER_VIEW - 1):]]
    assert "3 not shown here" in html and "All 9 photos" in html
    full = as_practitioner.get(f"/patients/{patient.public_id}/photos").get_data(as_text=True)
    assert all(str(p.public_id) in _rows(full)["Front"] for p in photos)


def test_close_ups_have_a_row_per_zone(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=0, views=("frontal",))
    make_photo(patient.id, made["consent"], practitioner, view="close_up", zone="cheeks", moment="baseline", consultation=made["consultation"])
    html = as_practitioner.get(f"/patients/{patient.public_id}/photos").get_data(as_text=True)
    assert list(_rows(html)) == ["Front", "Close-up: Cheeks"]


def test_no_photos_yet(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    assert "No photos yet" in as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "No photos yet" in as_practitioner.get(f"/patients/{patient.public_id}/photos").get_data(as_text=True)


def test_reception_sees_no_photo_timeline(as_reception, app, practitioner):
    patient = make_patient(practitioner)
    course_with_photos(patient, practitioner, sessions=1)
    html = as_reception.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Photo timeline" not in html and "/thumbnail" not in html


def test_pages_showing_photos_are_audited(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=1, views=("frontal",))
    as_practitioner.get(f"/patients/{patient.public_id}/photos")
    as_practitioner.get(f"/patients/{patient.public_id}")
    rows = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "photo.timeline_view")).all()
    assert len(rows) == 2 and all(r.patient_id == patient.id for r in rows)
    assert all(str(made["photos"][0].public_id) in r.detail for r in rows)
