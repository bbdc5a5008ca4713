"""The staff side of the intake: the patient page's section, the tablet and the link, withdrawing, the signed intake, details."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from practitioner.audit import AuditEvent
from practitioner.extensions import db
from practitioner.intake.models import PatientIntake
from practitioner.intake.services import token_hash
from practitioner.patients.models import Patient
from tests.conftest import csrf_token, make_patient, post_form
from tests.intake.factories import answer_set, make_intake
from tests.security.test_hostile_input import browser_submission, parse, pick


def _page(client, patient) -> str:
    return client.get(f"/patients/{patient.public_id}").get_data(as_text=True)


def _actions(*names: str) -> list[str]:
    return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)) if e.action in names]


def test_section_offers_both_ways_in_to_reception_and_practitioner(as_reception):
    patient = make_patient()
    html = _page(as_reception, patient)
    assert 'id="intake-title">Patient intake<' in html
    assert "Start intake on this tablet" in html and "Create a link for the patient" in html


def test_admin_sees_no_intake_section_and_may_not_start_one(as_admin):
    patient = make_patient()
    assert "Patient intake" not in _page(as_admin, patient)
    token = csrf_token(as_admin, "/patients/")
    assert as_admin.post(f"/patients/{patient.public_id}/intake/link", data={"csrf_token": token}).status_code == 403
    assert as_admin.post(f"/patients/{patient.public_id}/intake/tablet", data={"csrf_token": token}).status_code == 403
    assert db.session.scalars(select(PatientIntake)).all() == []


def test_link_is_shown_once_with_qr_and_expiry_and_stored_only_as_a_hash(as_reception):
    patient = make_patient()
    response = post_form(as_reception, f"/patients/{patient.public_id}/intake/link", {}, page=f"/patients/{patient.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    link = re.search(r'id="intake-link" type="text" readonly value="([^"]+)"', html).group(1)
    assert link.startswith("http://localhost/intake/")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43
    assert re.search(r'aria-label="QR code of the patient&#39;s intake link"><svg|aria-label="QR code of the patient\'s intake link"><svg', html)
    assert "&lt;svg" not in html and "Works once, until" in html
    intake = db.session.scalars(select(PatientIntake)).one()
    assert intake.channel == "link" and intake.token_hash == token_hash(token) and token not in (intake.draft or "")
    # Not shown again: the patient page lists the open link with its expiry and a withdraw button, never the token.
    page = _page(as_reception, patient)
    assert token not in page and "By link" in page and "Withdraw link" in page
    assert _actions("intake_link_created") == ["intake_link_created"]


def test_start_on_tablet_signs_staff_out_and_locks_the_tablet_to_the_intake(as_reception):
    patient = make_patient()
    response = post_form(as_reception, f"/patients/{patient.public_id}/intake/tablet", {}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 303 and response.headers["Location"].endswith("/intake/welcome")
    intake = db.session.scalars(select(PatientIntake)).one()
    assert intake.channel == "tablet" and intake.status == "open"
    # Signed out: the patient list is no longer reachable from this browser.
    assert as_reception.get("/patients/").status_code in (302, 303)


def test_withdraw_closes_an_open_link(as_reception, reception):
    patient = make_patient()
    intake = make_intake(patient, reception, channel="link")
    response = post_form(as_reception, f"/intakes/{intake.public_id}/withdraw", {}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(PatientIntake, intake.id).status == "abandoned"
    assert "Withdraw link" not in _page(as_reception, patient)


def test_review_shows_yes_and_not_sure_first_with_the_patients_dates(as_practitioner, reception):
    patient = make_patient()
    make_intake(patient, reception, submitted=True,
                answers=answer_set(pregnant="not_sure", had_neurotoxin=("yes", "2026-03")))
    html = _page(as_practitioner, patient)
    assert "Intake waiting for review" in html and "Start consultation from intake" in html
    items = re.findall(r'intake-answers__item[^"]*">\s*<span class="intake-answers__question">([^<]+)</span>\s*<strong class="intake-answers__answer">([^<]+)</strong>', html)
    assert items[0][1] == "Not sure" and "pregnant" in items[0][0]
    assert items[1][1] == "Yes" and "botulinum" in items[1][0]
    assert "about March 2026" in html
    assert all(answer in ("No", "No diabetes", "No, never") or not answer.startswith("Yes") for _, answer in items[2:])


def test_reception_sees_only_that_an_intake_is_waiting(as_reception, reception):
    patient = make_patient()
    intake = make_intake(patient, reception, submitted=True, answers=answer_set(pregnant="yes"))
    html = _page(as_reception, patient)
    assert "waiting for a practitioner to review it" in html
    assert "intake-answers" not in html and "pregnant" not in html.lower()
    assert as_reception.get(f"/intakes/{intake.public_id}").status_code == 403
    assert as_reception.get(f"/intakes/{intake.public_id}/consultation").status_code == 403


def test_signed_intake_page_shows_answers_time_signature_and_hash(as_practitioner, reception):
    patient = make_patient()
    intake = make_intake(patient, reception, submitted=True, answers=answer_set(smoker="yes"))
    response = as_practitioner.get(f"/intakes/{intake.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert intake.sha256 in html and 'src="data:image/png;base64,' in html and "Do you smoke?" in html
    assert _actions("intake_viewed") == ["intake_viewed"]


def test_open_intake_has_no_signed_page(as_practitioner, reception):
    intake = make_intake(make_patient(), reception)
    assert as_practitioner.get(f"/intakes/{intake.public_id}").status_code == 303


def test_details_offered_and_copied_only_when_ticked(as_reception, reception):
    patient = make_patient(phone="01234 567890", email="old@example.org")
    intake = make_intake(patient, reception, submitted=True,
                         answers=answer_set(details={"phone": "07700 900123", "email": "new@example.org", "gp_name": ""}))
    html = _page(as_reception, patient)
    assert "Details the patient typed that differ from the record" in html
    assert "07700 900123" in html and "on record: 01234 567890" in html and "new@example.org" in html
    # Untick everything: nothing changes.
    response = post_form(as_reception, f"/intakes/{intake.public_id}/details", {}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).phone == "01234 567890"
    # Tick only the phone: the phone changes, the email stays; audited by the patients' service and the intake.
    post_form(as_reception, f"/intakes/{intake.public_id}/details", {"accept": ["phone"], "seen-phone": "01234 567890"},
              page=f"/patients/{patient.public_id}")
    db.session.expire_all()
    saved = db.session.get(Patient, patient.id)
    assert saved.phone == "07700 900123" and saved.email == "old@example.org"
    assert _actions("patient.update", "intake_details_accepted") == ["patient.update", "intake_details_accepted"]


def test_details_never_overwrite_a_record_changed_after_the_page_was_opened(as_reception, reception):
    """No silent overwrite: the ticked phone replaces only the phone the page showed as on record."""
    patient = make_patient(phone="01234 567890")
    intake = make_intake(patient, reception, submitted=True, answers=answer_set(details={"phone": "07700 900123"}))
    page = f"/patients/{patient.public_id}"
    form = pick(parse(as_reception.get(page).get_data(as_text=True)).forms, f"/intakes/{intake.public_id}/details", page)
    data = browser_submission(form)
    assert data["seen-phone"] == ["01234 567890"], "the page carries the value it showed"
    data["accept"] = ["phone"]
    db.session.get(Patient, patient.id).phone = "01234 000111"  # a colleague's edit, saved after the page was opened
    db.session.commit()
    response = as_reception.post(f"/intakes/{intake.public_id}/details", data=data)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).phone == "01234 000111"
    html = as_reception.get(page).get_data(as_text=True)
    assert "Nothing was copied: the record" in html and "changed after this page was opened" in html
    assert _actions("patient.update", "intake_details_accepted") == []
    data.pop("seen-phone")  # a post that does not say what it replaces copies nothing either
    as_reception.post(f"/intakes/{intake.public_id}/details", data=data)
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).phone == "01234 000111"


def test_details_refuses_a_field_not_offered(as_reception, reception):
    patient = make_patient(phone="01234 567890")
    intake = make_intake(patient, reception, submitted=True, answers=answer_set(details={"phone": "01234 567890"}))
    post_form(as_reception, f"/intakes/{intake.public_id}/details", {"accept": ["given_name"]}, page=f"/patients/{patient.public_id}")
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).given_name == patient.given_name


@pytest.mark.parametrize("who", ["as_reception", "as_practitioner"])
def test_patient_page_section_is_one_statement(request, who, reception):
    client = request.getfixturevalue(who)
    patient = make_patient()
    make_intake(patient, reception, submitted=True)
    make_intake(patient, reception, channel="link")
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        # Whole intakes (the timeline's entry, another receiver, reads a few columns of its own).
        if "patient_intakes.draft" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        html = _page(client, patient)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert "Intake waiting for review" in html and "Withdraw link" in html
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements


def test_a_detail_the_record_would_refuse_is_shown_but_not_offered(as_reception, reception):
    patient = make_patient(phone="01234 567890")
    intake = make_intake(patient, reception, submitted=True, answers=answer_set(details={"phone": "call me maybe", "email": "not-an-address"}))
    html = _page(as_reception, patient)
    assert "call me maybe" in html and "not in a form the record takes" in html
    assert 'value="phone"' not in html and 'value="email"' not in html
    post_form(as_reception, f"/intakes/{intake.public_id}/details", {"accept": ["phone", "email"]}, page=f"/patients/{patient.public_id}")
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).phone == "01234 567890"
