"""Treatment sessions: starting rules, the form, warnings, signing, locking, addenda, conflicts, lot recall."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role, User
from practitioner.extensions import db
from practitioner.treatments.models import SessionZone, TreatmentSession
from practitioner.treatments.services import canonical_record, record_hash
from tests.conftest import csrf_token, make_patient, make_user, post_form
from tests.factories import complete_session_form, make_consent, make_consultation, make_plan, treatable_plan


@pytest.fixture
def plan(practitioner):
    patient = make_patient(actor=practitioner, given_name="Hannah", family_name="Kowalski")
    return treatable_plan(patient, practitioner)


def _start(client, plan) -> TreatmentSession:
    response = post_form(client, f"/plans/{plan.public_id}/sessions/new", {})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    db.session.expire_all()
    return db.session.scalars(select(TreatmentSession).order_by(TreatmentSession.id.desc())).first()


def _save(client, record, data, version=None):
    page = f"/sessions/{record.public_id}/edit"
    html = client.get(page).get_data(as_text=True)
    found = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    return post_form(client, page, {**data, "version": version or (found.group(1) if found else "")}, page=page)


def _fresh(record) -> TreatmentSession:
    db.session.expire_all()
    return db.session.get(TreatmentSession, record.id)


def _sign(client, record):
    page = f"/sessions/{record.public_id}"
    html = client.get(page).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    return post_form(client, f"{page}/sign", {"version": version.group(1) if version else ""}, page=page)


def test_session_starts_as_session_1_of_n(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    assert record.sequence == 1 and record.status == "draft" and record.consent_id is not None
    page = as_practitioner.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert "Session 1 of 4" in page


def test_cannot_start_when_screening_defers_without_override(as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner, decision="defer")
    make_consent(consultation, practitioner)
    plan = make_plan(consultation)
    response = post_form(as_practitioner, f"/plans/{plan.public_id}/sessions/new", {}, page="/patients/")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "no override is recorded" in html and "record an override on the consultation" in html
    assert db.session.scalars(select(TreatmentSession)).all() == []


def test_cannot_start_without_a_consent_for_the_modality(as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner, modality="rf_microneedling")
    make_consent(consultation, practitioner, modality="microneedling")
    plan = make_plan(consultation)
    response = as_practitioner.get(f"/plans/{plan.public_id}/sessions/new")
    assert response.status_code == 409
    assert "No signed consent covers rf microneedling" in response.get_data(as_text=True)


def test_full_session_saves_signs_and_locks(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    response = _save(as_practitioner, record, complete_session_form())
    assert response.status_code == 303
    record = _fresh(record)
    assert record.zones[0].depth_mm == Decimal("1.25") and record.products[0].lot == "HG-778"
    assert record.rescreen_decision == "proceed"
    assert _sign(as_practitioner, record).status_code == 303
    record = _fresh(record)
    assert record.is_signed and record.signed_by_id == record.practitioner_id
    assert record.content_sha256 == record_hash(record)
    assert len(record.content_sha256) == 64
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "session.sign" in actions


def test_signing_lists_every_missing_item(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    response = _sign(as_practitioner, record)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for item in ("History, medicines and allergies were reviewed today", "Device make and model", "Cartridge lot",
                 "Cartridge expiry date", "At least one treated zone", "Endpoint reached", "Adverse events (or tick",
                 "Products applied to needled skin (or tick", "Photo consent"):
        assert item.lower() in html.lower(), item
    assert not _fresh(record).is_signed


def test_none_must_be_explicit_for_products_and_adverse_events(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    data = complete_session_form(no_adverse_events=None)
    data = {k: v for k, v in data.items() if not k.startswith("products-")}
    assert _save(as_practitioner, record, data).status_code == 303
    assert _sign(as_practitioner, record).status_code == 422
    html = as_practitioner.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert "Products applied to needled skin (or tick" in html and "Adverse events (or tick" in html


def test_expired_lot_is_refused(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    expired = (date.today() - timedelta(days=1)).isoformat()
    response = _save(as_practitioner, record, complete_session_form(cartridge_expiry=expired))
    assert response.status_code == 422
    assert "This lot expired before the session date" in response.get_data(as_text=True)
    assert _fresh(record).cartridge_lot == ""


@pytest.mark.parametrize(("depth", "zone", "user_max", "expected"), [
    ("1.75", "cheeks", None, "deeper than the device was evaluated to"),
    ("1.25", "cheeks", "1.00", "deeper than your configured maximum"),
    ("0.75", "periorbital", None, "deeper than the clinical reference allows around the eyes"),
])
def test_depth_warnings_must_be_acknowledged_before_signing(as_practitioner, plan, practitioner, depth, zone, user_max, expected):
    if user_max:
        db.session.get(User, practitioner.id).max_depth_mm = Decimal(user_max)
        db.session.commit()
    record = _start(as_practitioner, plan)
    response = _save(as_practitioner, record, complete_session_form(**{"zones-0-depth_mm": depth, "zones-0-zone": zone}))
    assert response.status_code == 303 and response.headers["Location"].endswith("/edit#warnings")
    assert expected in as_practitioner.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    assert _sign(as_practitioner, record).status_code == 422
    response = _save(as_practitioner, record, complete_session_form(**{"zones-0-depth_mm": depth, "zones-0-zone": zone,
                                                                      "acknowledge_warnings": "y"}))
    assert response.status_code == 303
    assert _sign(as_practitioner, record).status_code == 303
    assert expected in " ".join(json.loads(_fresh(record).warnings_acknowledged))


def test_new_blocking_flag_today_stops_signing_until_override(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    _save(as_practitioner, record, complete_session_form(cold_sore_now="y"))
    record = _fresh(record)
    assert record.rescreen_decision == "defer"
    assert _sign(as_practitioner, record).status_code == 422
    page = f"/sessions/{record.public_id}"
    assert "record an override" in as_practitioner.get(page).get_data(as_text=True)
    response = post_form(as_practitioner, f"{page}/override", {"reason": "Healed crust only, cleared by Dr Raman on examination."}, page=page)
    assert response.status_code == 303
    assert _sign(as_practitioner, record).status_code == 303


def test_signed_session_cannot_be_changed_through_any_route(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    _save(as_practitioner, record, complete_session_form())
    _sign(as_practitioner, record)
    before = canonical_record(_fresh(record))
    token = csrf_token(as_practitioner, f"/sessions/{record.public_id}")
    response = as_practitioner.post(f"/sessions/{record.public_id}/edit",
                                    data={**complete_session_form(cartridge_lot="TAMPERED", clinical_note="changed"), "csrf_token": token})
    assert response.status_code == 409
    assert "signed and locked: nothing was changed" in response.get_data(as_text=True)
    assert canonical_record(_fresh(record)) == before
    assert _sign(as_practitioner, record).status_code in (409, 400)
    assert canonical_record(_fresh(record)) == before


def test_database_refuses_updates_to_signed_rows(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    _save(as_practitioner, record, complete_session_form())
    _sign(as_practitioner, record)
    with pytest.raises(DatabaseError, match="locked"):
        db.session.execute(update(TreatmentSession).where(TreatmentSession.id == record.id).values(cartridge_lot="X"))
    db.session.rollback()
    with pytest.raises(DatabaseError, match="locked"):
        db.session.execute(update(SessionZone).where(SessionZone.session_id == record.id).values(depth_mm=Decimal("2")))
    db.session.rollback()
    with pytest.raises(DatabaseError, match="locked"):
        db.session.execute(text("INSERT INTO session_zones (session_id, position, zone, depth_mm, passes, technique, rf_energy_unit) "
                                "VALUES (:s, 9, 'nose', 0.5, 1, 'glide', '')"), {"s": record.id})
    db.session.rollback()
    with pytest.raises(DatabaseError, match="never deleted"):
        db.session.execute(text("DELETE FROM treatment_sessions WHERE id = :s"), {"s": record.id})
    db.session.rollback()


def test_addenda_sit_beneath_the_unchanged_original(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    page = f"/sessions/{record.public_id}"
    assert post_form(as_practitioner, f"{page}/addenda", {"reason": "x", "text": "y"}, page=page).status_code == 303
    assert _fresh(record).addenda == [], "no addendum on an unsigned record"
    _save(as_practitioner, record, complete_session_form())
    _sign(as_practitioner, record)
    sha = _fresh(record).content_sha256
    assert post_form(as_practitioner, f"{page}/addenda", {"reason": "", "text": ""}, page=page).status_code == 422
    response = post_form(as_practitioner, f"{page}/addenda", {"reason": "Late entry", "text": "Patient phoned: mild redness settled."}, page=page)
    assert response.status_code == 303
    record = _fresh(record)
    assert record.addenda[0].text == "Patient phoned: mild redness settled." and record.content_sha256 == sha
    html = as_practitioner.get(page).get_data(as_text=True)
    assert html.index("Tolerated well.") < html.index("Patient phoned: mild redness settled.")
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(text("UPDATE session_addenda SET text = 'changed'"))
    db.session.rollback()


def test_stale_save_is_409_showing_both_versions_and_keeping_typing(as_practitioner, plan, app):
    record = _start(as_practitioner, plan)
    page = f"/sessions/{record.public_id}/edit"
    html = as_practitioner.get(page).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)
    token = csrf_token(as_practitioner, page)
    # A colleague saves first.
    other = db.session.get(TreatmentSession, record.id)
    other.clinical_note = "Colleague's note"
    other.cartridge_lot = "COLLEAGUE-LOT"
    db.session.commit()
    response = as_practitioner.post(page, data={**complete_session_form(clinical_note="My careful note"), "version": version, "csrf_token": token})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "My careful note" in html and "COLLEAGUE-LOT" in html and "Colleague&#39;s note" in html
    assert _fresh(record).clinical_note == "Colleague's note"


def test_add_and_remove_rows_keep_what_was_typed(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    page = f"/sessions/{record.public_id}/edit"
    data = complete_session_form(clinical_note="Typed before adding a row", **{"add_zones": "1"})
    response = post_form(as_practitioner, page, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Typed before adding a row" in html
    assert 'name="zones-1-depth_mm"' in html and 'value="1.25"' in html
    response = post_form(as_practitioner, page, {**complete_session_form(**{"zones-1-zone": "nose", "zones-1-depth_mm": "0.5",
                                                  "zones-1-passes": "2", "zones-1-technique": "stamp"}), "remove_zones": "0"})
    html = response.get_data(as_text=True)
    assert 'value="0.5"' in html and 'value="1.25"' not in html
    assert _fresh(record).zones == [], "adding or removing rows saves nothing"


def test_lot_recall_finds_sessions_and_patients_and_exports_csv(as_practitioner, plan, practitioner):
    record = _start(as_practitioner, plan)
    _save(as_practitioner, record, complete_session_form(cartridge_lot="RECALL-9"))
    other = treatable_plan(make_patient(actor=practitioner, family_name="Other"), practitioner)
    second = _start(as_practitioner, other)
    _save(as_practitioner, second, complete_session_form(cartridge_lot="OK-1", **{"products-0-lot": "recall-9"}))
    html = as_practitioner.get("/lots", query_string={"lot": "RECALL-9"}).get_data(as_text=True)
    assert "2 uses of lot" in html and "Kowalski, Hannah" in html and "Other, Alex" in html
    response = as_practitioner.get("/lots.csv", query_string={"lot": "RECALL-9"})
    assert response.mimetype == "text/csv" and response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["used_as"] for r in rows} == {"cartridge", "product"} and {r["patient_name"] for r in rows} == {"Hannah Kowalski", "Alex Other"}
    assert "lot.export" in [e.action for e in db.session.scalars(select(AuditEvent))]


def test_csv_neutralises_formulas(as_practitioner, plan, practitioner):
    patient = make_patient(actor=practitioner, given_name="=HYPERLINK(\"http://x\")", family_name="Evil")
    record = _start(as_practitioner, treatable_plan(patient, practitioner))
    _save(as_practitioner, record, complete_session_form(cartridge_lot="F-1"))
    body = as_practitioner.get("/lots.csv", query_string={"lot": "F-1"}).get_data(as_text=True)
    assert "'=HYPERLINK" in body


def test_outstanding_notes_lists_my_unsigned_sessions(as_practitioner, plan, practitioner):
    record = _start(as_practitioner, plan)
    html = as_practitioner.get("/sessions/unsigned").get_data(as_text=True)
    assert "Kowalski, Hannah" in html and f"/sessions/{record.public_id}" in html
    _save(as_practitioner, record, complete_session_form())
    _sign(as_practitioner, record)
    assert "Kowalski, Hannah" not in as_practitioner.get("/sessions/unsigned").get_data(as_text=True)


def test_plan_progress_counts_signed_sessions(as_practitioner, plan):
    from practitioner.consultations.models import TreatmentPlan

    record = _start(as_practitioner, plan)
    _save(as_practitioner, record, complete_session_form())
    _sign(as_practitioner, record)
    db.session.expire_all()
    fresh = db.session.get(TreatmentPlan, plan.id)
    assert (fresh.sessions_done, fresh.sessions_remaining) == (1, 3)


def test_patient_timeline_shows_sessions(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    html = as_practitioner.get(f"/patients/{record.patient.public_id}").get_data(as_text=True)
    assert "Session 1 of 4" in html and "Draft, not signed" in html


def test_reception_cannot_reach_sessions(as_reception, app):
    author = make_user(Role.PRACTITIONER, email="doc@clinic.example")
    plan = treatable_plan(make_patient(actor=author), author)
    for url in (f"/plans/{plan.public_id}/sessions/new", "/sessions/unsigned", "/lots?lot=X"):
        assert as_reception.get(url).status_code == 403, url


def test_only_the_treating_practitioner_signs(as_practitioner, plan, app):
    from tests.conftest import sign_in

    record = _start(as_practitioner, plan)
    _save(as_practitioner, record, complete_session_form())
    colleague = make_user(Role.PRACTITIONER, email="colleague@clinic.example")
    other = app.test_client()
    sign_in(other, colleague.email)
    response = _sign(other, record)
    assert response.status_code == 409 and not _fresh(record).is_signed
