"""The audit trail pages: refusals name the URL and the patient, filters by name, local times, date order checked."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from sqlalchemy import select

from practitioner import audit
from practitioner.audit import AuditEvent
from practitioner.auth.models import Role
from practitioner.extensions import db
from tests.conftest import make_patient, make_user, sign_in
from tests.factories import make_consultation


def _refusals() -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied").order_by(AuditEvent.id)))


def test_a_refusal_records_the_url_tried_and_the_patient_it_names(app, practitioner):
    patient = make_patient(actor=practitioner, family_name="Refused")
    consultation = make_consultation(patient, practitioner)
    reception = app.test_client()
    assert sign_in(reception, make_user(Role.RECEPTION).email).status_code == 303

    assert reception.get(f"/consultations/{consultation.public_id}?tab=flags").status_code == 403
    assert reception.get("/admin/users?sort=name").status_code == 403
    first, second = _refusals()
    assert first.patient_id == patient.id and first.target == f"/consultations/{consultation.public_id}"
    assert json.loads(first.detail)["url"] == f"/consultations/{consultation.public_id}?tab=flags"
    assert json.loads(first.detail)["method"] == "GET"
    assert second.patient_id is None and json.loads(second.detail)["url"] == "/admin/users?sort=name"
    assert audit.verify_chain(db.session).broken_event_id is None


def test_a_refused_post_keeps_the_url_but_never_the_form_body(app, practitioner):
    from tests.conftest import csrf_token

    patient = make_patient(actor=practitioner)
    reception = app.test_client()
    assert sign_in(reception, make_user(Role.RECEPTION).email).status_code == 303
    token = csrf_token(reception, "/patients/")
    answer = reception.post(f"/patients/{patient.public_id}/consultations/new",
                            data={"csrf_token": token, "notes": "secret clinical words"})
    assert answer.status_code == 403
    (refusal,) = _refusals()
    assert refusal.patient_id == patient.id
    assert json.loads(refusal.detail)["url"] == f"/patients/{patient.public_id}/consultations/new"
    assert "secret clinical words" not in refusal.detail and "csrf" not in refusal.detail


def test_the_trail_shows_a_refusal_against_its_patient(app, as_admin, practitioner):
    patient = make_patient(actor=practitioner, given_name="Rowan", family_name="Denied")
    reception = app.test_client()
    assert sign_in(reception, make_user(Role.RECEPTION).email).status_code == 303
    assert reception.get(f"/patients/{patient.public_id}/consultations/new").status_code == 403
    html = as_admin.get("/admin/audit", query_string={"action": "access.denied"}).get_data(as_text=True)
    assert "Denied, Rowan" in html and f"/patients/{patient.public_id}/consultations/new" in html


def test_filter_by_patient_name_as_well_as_record_number(app, as_admin, practitioner):
    zoe = make_patient(actor=practitioner, given_name="Zoë", family_name="Marchetti")
    other = make_patient(actor=practitioner, given_name="Alex", family_name="Okafor")
    viewer = app.test_client()
    sign_in(viewer, practitioner.email)
    viewer.get(f"/patients/{zoe.public_id}")
    viewer.get(f"/patients/{other.public_id}")

    for text in ("zoe marchetti", "Marchetti", "marchetti, zo", zoe.record_number):
        answer = as_admin.get("/admin/audit", query_string={"patient": text})
        html = answer.get_data(as_text=True)
        assert answer.status_code == 200, text
        assert "Marchetti, Zoë" in html and "Okafor, Alex" not in html and "patient.view" in html, text
        assert "<h1>Audit trail: Zoë Marchetti</h1>" in html, text
    assert 'value="zoe marchetti"' in as_admin.get("/admin/audit", query_string={"patient": "zoe marchetti"}).get_data(as_text=True)

    html = as_admin.get("/admin/audit", query_string={"patient": "Nobody"}).get_data(as_text=True)
    assert "No patient has this name or record number." in html and "0 rows" in html


def test_a_name_shared_by_two_patients_shows_both(app, as_admin, practitioner):
    first = make_patient(actor=practitioner, given_name="Sam", family_name="Twin")
    second = make_patient(actor=practitioner, given_name="Sasha", family_name="Twin")
    viewer = app.test_client()
    sign_in(viewer, practitioner.email)
    viewer.get(f"/patients/{first.public_id}")
    viewer.get(f"/patients/{second.public_id}")
    html = as_admin.get("/admin/audit", query_string={"patient": "twin", "action": "patient.view"}).get_data(as_text=True)
    assert "Twin, Sam" in html and "Twin, Sasha" in html and "2 rows for 2 patients" in html


def test_times_are_in_the_clinics_zone(app, as_admin, admin):
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (summer time): the page says the clinic's day and hour.
    with db.session.begin_nested():
        event = audit.append(db.session, "settings.update", actor=admin, target="clinic_settings")
    db.session.commit()
    moved = datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc)
    _set_time(event.id, moved)
    html = as_admin.get("/admin/audit", query_string={"action": "settings.update"}).get_data(as_text=True)
    assert "1 Jul 2026, 00:30" in html and "30 Jun 2026" not in html.split("<tbody>")[1]
    assert "Times are UTC" not in html and "When (UTC)" not in html
    # And the date filter is the clinic's day too: 1 July finds it, 30 June does not.
    assert "1 row" in as_admin.get("/admin/audit", query_string={"action": "settings.update", "date_from": "2026-07-01",
                                                                    "date_to": "2026-07-01"}).get_data(as_text=True)
    assert "0 rows" in as_admin.get("/admin/audit", query_string={"action": "settings.update", "date_from": "2026-06-30",
                                                                     "date_to": "2026-06-30"}).get_data(as_text=True)


def _set_time(event_id: int, at: datetime) -> None:
    """Move one audit row in time, as only someone with database access could (the chain then no longer verifies)."""
    from tests.conftest import drop_append_only_triggers

    drop_append_only_triggers()
    with db.engine.begin() as connection:
        connection.execute(AuditEvent.__table__.update().where(AuditEvent.__table__.c.id == event_id).values(at=at))


def test_from_after_to_is_a_field_error_with_the_values_kept(as_admin):
    answer = as_admin.get("/admin/audit", query_string={"patient": "Marchetti", "date_from": "2026-11-20", "date_to": "2026-11-02"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert re.search(r'id="date_from-error"[^>]*>[^<]*The &#39;From&#39; date is after the &#39;To&#39; date', html) or \
        "The &#39;From&#39; date is after the &#39;To&#39; date" in html
    assert 'value="2026-11-20"' in html and 'value="2026-11-02"' in html and 'value="Marchetti"' in html
    assert "No rows are shown until the filters above are corrected." in html and "0 rows" not in html
    assert 'aria-invalid="true"' in html
    # The same day on both sides is a valid one-day range.
    assert as_admin.get("/admin/audit", query_string={"date_from": "2026-11-02", "date_to": "2026-11-02"}).status_code == 200


def test_the_trail_shows_details_in_words_never_a_python_repr(app, as_admin, practitioner):
    """A refusal's missing permissions are a list in the stored detail; the page prints them as words."""
    reception = app.test_client()
    assert sign_in(reception, make_user(Role.RECEPTION).email).status_code == 303
    assert reception.get("/admin/users").status_code == 403
    audit.append(db.session, "test.detail", actor=practitioner, detail={"flags": ["a_flag", "b_flag"], "ok": True, "none": None})
    db.session.commit()
    html = as_admin.get("/admin/audit").get_data(as_text=True)
    table_text = re.sub(r"<[^>]+>", "", html.split("<table", 1)[1].split("</table>", 1)[0])
    assert "[" not in table_text and "]" not in table_text
    assert "<strong>needs</strong>: manage_users" in html
    assert "<strong>flags</strong>: a_flag, b_flag" in html and "<strong>ok</strong>: yes" in html and "<strong>none</strong>: —" in html
