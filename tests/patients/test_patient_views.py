"""Patient pages: register, validate, view, edit, conflict, archive, search, roles."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import text, event, select

from practitioner.audit import AuditEvent
from practitioner.extensions import db
from practitioner.patients.models import Patient
from tests.conftest import csrf_token, make_patient, post_form

VALID = {
    "given_name": "Imogen", "family_name": "Blackwood", "preferred_name": "Immy", "date_of_birth": "1987-06-05",
    "sex": "female", "record_number": "", "phone": "+44 7700 900555", "email": "imogen@example.com",
    "address": "1 High Street\nBristol", "postcode": "BS1 1AA", "emergency_contact_name": "Ray Blackwood",
    "emergency_contact_relationship": "Father", "emergency_contact_phone": "07700 900556",
    "gp_name": "Dr Who", "gp_practice": "Quay Surgery", "gp_phone": "0117 496 0000",
    "fitzpatrick": "4", "allergies": "Penicillin (rash)", "current_medicines": "Isotretinoin 20 mg",
}


def _audit(action: str) -> list[AuditEvent]:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_register_patient_saves_everything_and_audits(as_practitioner):
    response = post_form(as_practitioner, "/patients/new", VALID)
    assert response.status_code == 303
    patient = db.session.scalars(select(Patient)).one()
    assert response.headers["Location"].endswith(f"/patients/{patient.public_id}")
    assert (patient.given_name, patient.family_name, patient.date_of_birth) == ("Imogen", "Blackwood", date(1987, 6, 5))
    assert patient.fitzpatrick == 4 and patient.allergies == "Penicillin (rash)"
    assert patient.phone_digits == "447700900555"
    assert re.fullmatch(r"P\d{6}", patient.record_number)
    assert _audit("patient.create")[0].patient_id == patient.id


def test_urls_use_uuids_not_integer_ids(as_practitioner):
    patient = make_patient()
    html = as_practitioner.get("/patients/").get_data(as_text=True)
    assert f"/patients/{patient.public_id}" in html
    assert as_practitioner.get(f"/patients/{patient.id}").status_code == 404


def test_unknown_patient_is_a_friendly_404(as_practitioner):
    response = as_practitioner.get(f"/patients/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_bad_form_is_422_with_a_message_per_field_and_values_kept(as_practitioner):
    bad = {**VALID, "given_name": "", "date_of_birth": (date.today() + timedelta(days=3)).isoformat(),
           "email": "not-an-email", "phone": "call me", "no_known_allergies": "y"}
    response = post_form(as_practitioner, "/patients/new", bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter the patient&#39;s given name." in html
    assert "The date of birth cannot be in the future." in html
    assert "Enter a valid email address" in html
    assert "Enter a phone number" in html
    assert "Either list the allergies or tick" in html
    assert 'value="Blackwood"' in html and "Penicillin (rash)" in html and 'value="not-an-email"' in html
    assert html.count('aria-invalid="true"') >= 4
    assert db.session.scalars(select(Patient)).all() == [], "nothing half-saved"


def test_emergency_contact_needs_a_phone(as_practitioner):
    response = post_form(as_practitioner, "/patients/new", {**VALID, "emergency_contact_phone": ""})
    assert response.status_code == 422
    assert "Add a phone number for the emergency contact" in response.get_data(as_text=True)


def test_duplicate_record_number_is_refused_on_its_field(as_practitioner):
    make_patient(record_number="A-100")
    response = post_form(as_practitioner, "/patients/new", {**VALID, "record_number": "A-100"})
    assert response.status_code == 422
    assert "Record number A-100 is already used" in response.get_data(as_text=True)


def test_control_characters_are_refused(as_practitioner):
    response = post_form(as_practitioner, "/patients/new", {**VALID, "given_name": "Imo\x00gen"})
    assert response.status_code == 422
    assert "control characters" in response.get_data(as_text=True)


def test_patient_page_shows_details_and_audits_the_view(as_practitioner):
    patient = make_patient(given_name="Zoë", allergies="Latex", no_known_allergies=False)
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Zoë" in html and "Latex" in html and patient.record_number in html
    views = _audit("patient.view")
    assert len(views) == 1 and views[0].patient_id == patient.id


def test_output_is_escaped(as_practitioner):
    patient = make_patient(given_name="<script>alert(1)</script>", address='"><img src=x onerror=alert(1)>')
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_edit_changes_fields_and_audits_names_of_changed_fields(as_practitioner):
    patient = make_patient()
    page = f"/patients/{patient.public_id}/edit"
    html = as_practitioner.get(page).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    data = {**VALID, "given_name": patient.given_name, "family_name": patient.family_name,
            "record_number": patient.record_number, "phone": "07700 900999", "version": version}
    response = post_form(as_practitioner, page, data)
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).phone == "07700 900999"
    update = _audit("patient.update")[0]
    assert "phone" in update.detail_items["fields"]
    assert "07700 900999" not in update.detail, "the audit names fields, it does not copy clinical values"


def test_stale_edit_is_refused_with_409_and_keeps_typing(as_practitioner):
    patient = make_patient()
    page = f"/patients/{patient.public_id}/edit"
    token = csrf_token(as_practitioner, page)
    # Someone else saves in between (requests detach the test's objects: load it afresh).
    db.session.get(Patient, patient.id).phone = "07700 900111"
    db.session.commit()
    data = {**VALID, "given_name": "Typed", "family_name": patient.family_name,
            "record_number": patient.record_number, "version": "1", "csrf_token": token}
    response = as_practitioner.post(page, data=data)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'value="Typed"' in html, "what the user typed is kept"
    assert "07700 900111" in html, "the saved version is shown"
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).given_name != "Typed"


def test_archive_needs_a_reason_and_is_never_a_delete(as_practitioner):
    patient = make_patient()
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/archive", {"reason": ""}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 422
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/archive", {"reason": "Moved abroad"}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 303
    db.session.expire_all()
    archived = db.session.get(Patient, patient.id)
    assert archived.is_archived and archived.archive_reason == "Moved abroad"
    row = f">{patient.family_name}, "
    assert row not in as_practitioner.get("/patients/").get_data(as_text=True)
    assert row in as_practitioner.get("/patients/?archived=y").get_data(as_text=True)
    assert as_practitioner.get(f"/patients/{patient.public_id}").status_code == 200
    assert _audit("patient.archive")[0].detail_items["reason"] == "Moved abroad"
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/restore", {}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 303
    db.session.expire_all()
    assert not db.session.get(Patient, patient.id).is_archived


@pytest.mark.parametrize(
    ("query", "expected"),
    [("blackw", {"Blackwood"}), ("imo black", {"Blackwood"}), ("zoe", {"Lambert"}), ("1987-06-05", {"Blackwood"}),
     ("05/06/1987", {"Blackwood"}), ("07700 900555", {"Blackwood"}), ("900555", {"Blackwood"}), ("P000555", set()), ("P000777", {"Lambert"}),
     ("nobody", set())],
)
def test_search(as_practitioner, query, expected):
    make_patient(given_name="Imogen", family_name="Blackwood", date_of_birth=date(1987, 6, 5), phone="+44 7700 900555")
    make_patient(given_name="Zoë", family_name="Lambert", record_number="P000777", phone="0117 496 0101")
    make_patient(given_name="Sam", family_name="Other")
    html = as_practitioner.get("/patients/", query_string={"q": query}).get_data(as_text=True)
    found = {name for name in ("Blackwood", "Lambert", "Other") if f">{name}, " in html}
    assert found == expected


@pytest.mark.sqlite_only(reason="SQLite's query plans")
def test_phone_searches_use_indexes_not_a_scan_of_every_patient(app):
    from sqlalchemy.dialects import sqlite

    from practitioner.patients.services import search_statement

    for query in ("900555", "07700 900555", "+44 7700 900555"):
        statement, understood = search_statement(query)
        assert understood.kind == "number"
        compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
        plan = " | ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "SCAN patients" not in plan, plan
        assert "ix_patients_phone_reversed" in plan, plan


def test_list_is_paginated(as_practitioner, app):
    app.config["PATIENTS_PER_PAGE"] = 5
    for i in range(12):
        make_patient(family_name=f"Pager{i:02d}")
    page1 = as_practitioner.get("/patients/").get_data(as_text=True)
    page3 = as_practitioner.get("/patients/?page=3").get_data(as_text=True)
    assert "Page 1 of 3" in page1 and "Pager00" in page1 and "Pager05" not in page1
    assert "Pager10" in page3 and "Pager11" in page3


def _count_queries(client, url: str) -> int:
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_list_and_search_use_a_fixed_number_of_queries(as_practitioner):
    for _ in range(3):
        make_patient()
    few = (_count_queries(as_practitioner, "/patients/"), _count_queries(as_practitioner, "/patients/?q=test"))
    for _ in range(40):
        make_patient()
    many = (_count_queries(as_practitioner, "/patients/"), _count_queries(as_practitioner, "/patients/?q=test"))
    assert few == many


def test_reception_edits_demographics_but_sees_no_clinical_record(as_reception):
    patient = make_patient(allergies="Latex", no_known_allergies=False, current_medicines="Warfarin")
    html = as_reception.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "Warfarin" not in html and "Latex" not in html and "Clinical basics" not in html
    form = as_reception.get(f"/patients/{patient.public_id}/edit").get_data(as_text=True)
    assert "Fitzpatrick" not in form and "Allergies" not in form
    # Even if reception posts clinical fields, they are ignored.
    data = {**VALID, "given_name": patient.given_name, "family_name": patient.family_name, "record_number": patient.record_number,
            "allergies": "", "current_medicines": "None", "version": "1"}
    assert post_form(as_reception, f"/patients/{patient.public_id}/edit", data).status_code == 303
    db.session.expire_all()
    saved = db.session.get(Patient, patient.id)
    assert saved.current_medicines == "Warfarin" and saved.allergies == "Latex"
    assert saved.phone == VALID["phone"]


def test_patient_pages_are_not_cached(as_practitioner):
    patient = make_patient()
    for url in ("/patients/", f"/patients/{patient.public_id}", f"/patients/{patient.public_id}/edit"):
        assert as_practitioner.get(url).headers["Cache-Control"] == "no-store"


def test_patient_page_statements_do_not_grow_with_the_patients_records(as_practitioner, practitioner):
    """The timeline loads each kind of record with what it prints in one statement, not again per record."""
    from tests.factories import signed_session, treatable_plan

    author = practitioner
    patient = make_patient(actor=author)
    plan = treatable_plan(patient, author)
    signed_session(plan, author)
    url = f"/patients/{patient.public_id}"
    _count_queries(as_practitioner, url)  # first-use rows (settings) out of the way
    one = _count_queries(as_practitioner, url)
    for _ in range(2):
        signed_session(treatable_plan(patient, author), author)
    three = _count_queries(as_practitioner, url)
    assert one == three, f"{one} statements with one plan and session, {three} with three"
    assert three <= 25, f"{three} statements for one patient page"


# Possible duplicates: the same name (accents, case and spaces folded) and the same date of birth.

def _existing_garcia(**values):
    return make_patient(given_name="José", family_name="García", date_of_birth=date(1987, 6, 5), **values)


def _count_patients() -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(Patient.id)).all())


def test_a_possible_duplicate_is_shown_with_a_link_and_needs_confirmation(as_practitioner):
    existing = _existing_garcia(record_number="CL-1001")
    typed = {**VALID, "given_name": "jose", "family_name": "  GARCIA ", "phone": "07700 900777"}
    response = post_form(as_practitioner, "/patients/new", typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'href="/patients/{existing.public_id}"' in html
    assert "CL-1001" in html and "José García" in html and "5 Jun 1987" in html
    assert "This is a different person" in html and 'id="different_person"' in html
    assert "Tick this box if this is not the same person" in html
    assert 'value="07700 900777"' in html and 'value="jose"' in html, "what was typed is kept"
    assert _count_patients() == 1, "nothing saved"
    assert "(archived)" not in html


def test_without_the_tick_it_is_asked_again_and_with_it_the_patient_is_saved_and_audited(as_practitioner):
    existing = _existing_garcia(record_number="CL-1001")
    typed = {**VALID, "given_name": "José", "family_name": "Garcia"}
    first = post_form(as_practitioner, "/patients/new", typed)
    checked = re.search(r'name="checked_against" type="hidden" value="([^"]*)"', first.get_data(as_text=True)).group(1)
    assert checked == str(existing.public_id)
    again = post_form(as_practitioner, "/patients/new", {**typed, "checked_against": checked}, page="/patients/new")
    assert again.status_code == 422 and _count_patients() == 1
    saved = post_form(as_practitioner, "/patients/new", {**typed, "checked_against": checked, "different_person": "y"})
    assert saved.status_code == 303
    assert _count_patients() == 2
    create = _audit("patient.create")[-1]
    assert create.detail_items["override"] == "registered despite possible duplicate of CL-1001"
    assert "override" not in _audit("patient.create")[0].detail_items


def test_a_tick_given_for_other_patients_does_not_cover_a_new_match(as_practitioner):
    _existing_garcia()
    response = post_form(as_practitioner, "/patients/new",
                         {**VALID, "given_name": "Jose", "family_name": "Garcia", "different_person": "y", "checked_against": str(uuid.uuid4())})
    assert response.status_code == 422 and _count_patients() == 1
    assert 'id="different_person"' in response.get_data(as_text=True)
    assert 'checked' not in re.search(r'<input[^>]*id="different_person"[^>]*>', response.get_data(as_text=True)).group(0)


def test_an_archived_patient_counts_and_is_said_to_be_archived(as_practitioner):
    existing = _existing_garcia()
    post_form(as_practitioner, f"/patients/{existing.public_id}/archive", {"reason": "Moved abroad"}, page=f"/patients/{existing.public_id}")
    response = post_form(as_practitioner, "/patients/new", {**VALID, "given_name": "JOSÉ", "family_name": "garcía"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'href="/patients/{existing.public_id}"' in html and "(archived)" in html


def test_same_name_other_birthday_or_other_name_same_birthday_is_no_duplicate(as_practitioner):
    _existing_garcia()
    assert post_form(as_practitioner, "/patients/new", {**VALID, "given_name": "José", "family_name": "García",
                                                         "date_of_birth": "1987-06-06"}).status_code == 303
    assert post_form(as_practitioner, "/patients/new", {**VALID, "given_name": "Josef", "family_name": "García"}).status_code == 303


def test_reception_sees_the_match_and_may_open_it(as_reception):
    existing = _existing_garcia(allergies="Latex", no_known_allergies=False)
    response = post_form(as_reception, "/patients/new", {**VALID, "given_name": "Jose", "family_name": "Garcia"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'href="/patients/{existing.public_id}"' in html and "Latex" not in html
    assert as_reception.get(f"/patients/{existing.public_id}").status_code == 200


def test_an_edit_that_makes_a_duplicate_needs_the_same_confirmation(as_practitioner):
    existing = _existing_garcia(record_number="CL-1001")
    other = make_patient(given_name="Josephine", family_name="Garcia", date_of_birth=date(1987, 6, 5), record_number="CL-2002")
    page = f"/patients/{other.public_id}/edit"
    data = {**VALID, "given_name": "Jose", "family_name": "Garcia", "record_number": "CL-2002", "version": "1"}
    response = post_form(as_practitioner, page, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    matches = re.search(r'<ul class="duplicates">(.*?)</ul>', html, re.S).group(1)
    assert f'href="/patients/{existing.public_id}"' in matches and f'href="/patients/{other.public_id}"' not in matches
    db.session.expire_all()
    assert db.session.get(Patient, other.id).given_name == "Josephine", "nothing saved"
    saved = post_form(as_practitioner, page, {**data, "different_person": "y", "checked_against": str(existing.public_id)})
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, other.id).given_name == "Jose"
    assert _audit("patient.update")[-1].detail_items["override"] == "changed despite possible duplicate of CL-1001"
    # Later edits that leave the name and birthday alone are not asked again.
    phone_only = post_form(as_practitioner, page, {**data, "phone": "07700 900888", "version": "2"})
    assert phone_only.status_code == 303
