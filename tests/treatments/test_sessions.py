"""Treatment sessions: starting rules, the form, warnings, signing, locking, addenda, conflicts, lot recall."""

from __future__ import annotations

import csv
import io
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
    # Someone who is not shown the sign form (a colleague) posts the version the record has.
    return post_form(client, f"{page}/sign", {"version": version.group(1) if version else str(_fresh(record).version)}, page=page)


def _version(client, record) -> str:
    html = client.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    return re.search(r'name="version" type="hidden" value="(\d+)"', html).group(1)


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
    assert expected in " ".join(_fresh(record).warnings_acknowledged)


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
    data = complete_session_form(clinical_note="Typed before adding a row", version=_version(as_practitioner, record), **{"add_zones": "1"})
    response = post_form(as_practitioner, page, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Typed before adding a row" in html
    assert 'name="zones-1-depth_mm"' in html and 'value="1.25"' in html
    response = post_form(as_practitioner, page, {**complete_session_form(**{"zones-1-zone": "nose", "zones-1-depth_mm": "0.5",
                                                  "zones-1-passes": "2", "zones-1-technique": "stamp"}), "remove_zones": "0",
                                                  "version": _version(as_practitioner, record)})
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
    from practitioner.plans.models import TreatmentPlan

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


# Session dates ---------------------------------------------------------------------------------------------------


def _day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def test_a_session_date_in_the_future_is_refused_on_the_field(as_practitioner, plan):
    from practitioner.dates import clinic_today

    record = _start(as_practitioner, plan)
    tomorrow = clinic_today() + timedelta(days=1)
    response = _save(as_practitioner, record, complete_session_form(session_date=tomorrow.isoformat(), clinical_note="Not saved"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"The session cannot be in the future: enter today ({_day(clinic_today())}) or an earlier date." in html
    assert 'id="session_date-error"' in html and f'value="{tomorrow.isoformat()}"' in html, "the message sits on the field, the value kept"
    assert _fresh(record).clinical_note == ""


def test_a_session_before_the_consultation_or_the_consent_is_refused(as_practitioner, practitioner):
    from practitioner.dates import clinic_today

    today = clinic_today()
    consultation = make_consultation(make_patient(actor=practitioner), practitioner, consultation_date=today - timedelta(days=10))
    make_consent(consultation, practitioner)  # signed now, so today
    record = _start(as_practitioner, make_plan(consultation))
    response = _save(as_practitioner, record, complete_session_form(session_date=(today - timedelta(days=11)).isoformat()))
    assert response.status_code == 422
    assert f"The session cannot be before the consultation on {_day(today - timedelta(days=10))}" in response.get_data(as_text=True)
    response = _save(as_practitioner, record, complete_session_form(session_date=(today - timedelta(days=3)).isoformat()))
    assert response.status_code == 422
    assert f"The session cannot be before the consent signed on {_day(today)}" in response.get_data(as_text=True)
    assert _save(as_practitioner, record, complete_session_form(session_date=today.isoformat())).status_code == 303


def test_signing_refuses_a_session_dated_in_the_future(as_practitioner, plan, practitioner):
    from practitioner.treatments.services import SessionDateRefused, sign_session

    record = _start(as_practitioner, plan)
    assert _save(as_practitioner, record, complete_session_form()).status_code == 303
    # The clinic's today moves back a day (a draft saved just before midnight, signed from a clinic in another zone).
    record = _fresh(record)
    with pytest.raises(SessionDateRefused, match="cannot be in the future"):
        sign_session(db.session, record, actor=db.session.get(User, practitioner.id), expected_version=record.version,
                     today=record.session_date - timedelta(days=1))
    db.session.rollback()
    db.session.execute(update(TreatmentSession).where(TreatmentSession.id == record.id)
                       .values(session_date=record.session_date + timedelta(days=2), version=TreatmentSession.version + 1))
    db.session.commit()
    response = _sign(as_practitioner, record)
    assert response.status_code == 409
    assert "The session cannot be in the future" in response.get_data(as_text=True)
    assert not _fresh(record).is_signed


# Depth beyond the plan's range ---------------------------------------------------------------------------------


def test_depth_beyond_the_plans_range_must_be_acknowledged_and_records_who_and_when(as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    consultation = make_consultation(patient, practitioner)
    make_consent(consultation, practitioner)
    plan = make_plan(consultation, zones=(("cheeks", "0.5", "1.0"),))
    record = _start(as_practitioner, plan)
    response = _save(as_practitioner, record, complete_session_form(**{"zones-0-depth_mm": "1.25"}))
    assert response.status_code == 303 and response.headers["Location"].endswith("/edit#warnings")
    warning = "Cheeks: 1.25 mm is deeper than the plan&#39;s range for this zone (0.5 to 1.0 mm)."
    assert warning in as_practitioner.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    assert _sign(as_practitioner, record).status_code == 422
    assert _fresh(record).warnings_acknowledged_by_id is None
    response = _save(as_practitioner, record, complete_session_form(**{"zones-0-depth_mm": "1.25", "acknowledge_warnings": "y"}))
    assert response.status_code == 303
    record = _fresh(record)
    assert record.warnings_acknowledged_by_id == practitioner.id and record.warnings_acknowledged_at is not None
    assert "deeper than the plan's range" in " ".join(record.warnings_acknowledged)
    assert _sign(as_practitioner, record).status_code == 303
    html = as_practitioner.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert f"Acknowledged by {practitioner.name}" in html and warning in html


def test_depth_within_the_plans_range_needs_no_acknowledgement(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    response = _save(as_practitioner, record, complete_session_form(**{"zones-0-depth_mm": "1.5"}))
    assert response.status_code == 303 and not response.headers["Location"].endswith("#warnings")
    assert _sign(as_practitioner, record).status_code == 303
    record = _fresh(record)
    assert record.warnings_acknowledged == [] and record.warnings_acknowledged_by_id is None


# Session 1 from the plan, session 2 from session 1 -------------------------------------------------------------


def _checked(html: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*checked[^>]*name="{name}"|<input[^>]*name="{name}"[^>]*checked', html)


def _two_zone_plan(practitioner, patient=None):
    consultation = make_consultation(patient or make_patient(actor=practitioner), practitioner)
    make_consent(consultation, practitioner)
    return make_plan(consultation, zones=(("cheeks", "1.0", "1.5"), ("forehead", "0.25", "0.5")))


def test_session_1_opens_with_the_plans_zones_at_their_lower_depth_and_asks_every_safety_question(as_practitioner, practitioner):
    record = _start(as_practitioner, _two_zone_plan(practitioner))
    html = as_practitioner.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    assert re.search(r'<option selected value="cheeks">|<option value="cheeks" selected>', html)
    assert re.search(r'<option selected value="forehead">|<option value="forehead" selected>', html)
    assert html.index('name="zones-0-zone"') < html.index('name="zones-1-zone"') and 'name="zones-2-zone"' not in html
    assert re.search(r'name="zones-0-depth_mm"[^>]*value="1.00"', html) and re.search(r'name="zones-1-depth_mm"[^>]*value="0.25"', html)
    assert "Plan: 1.0 to 1.5 mm" in html and "Plan: 0.25 to 0.5 mm" in html
    assert 'aria-describedby="zones-0-depth_mm-hint"' in html
    assert not re.search(r'name="zones-0-passes"[^>]*value="\d', html), "passes are the practitioner's to enter"
    assert re.search(r'name="device_make"[^>]*value="SkinPen Precision"', html), "the device the consultation named"
    for question in ("history_reviewed", "photo_consent", "sterile_pack_intact", "anaesthetic_used", "no_products_applied",
                     "no_adverse_events", "pregnant_now", "cold_sore_now"):
        assert not _checked(html, question), f"{question} must stay an explicit answer"
    assert _fresh(record).zones == [], "nothing is stored until the practitioner saves"


def test_session_2_starts_from_session_1_and_from_the_plan_for_zones_not_treated(as_practitioner, practitioner):
    plan = _two_zone_plan(practitioner)
    first = _start(as_practitioner, plan)
    assert _save(as_practitioner, first, complete_session_form(device_serial="SP-777")).status_code == 303  # cheeks only
    assert _sign(as_practitioner, first).status_code == 303
    second = _start(as_practitioner, plan)
    html = as_practitioner.get(f"/sessions/{second.public_id}/edit").get_data(as_text=True)
    assert re.search(r'name="zones-0-depth_mm"[^>]*value="1.25"', html) and re.search(r'name="zones-0-passes"[^>]*value="3"', html)
    assert re.search(r'<option selected value="cross_hatch">|<option value="cross_hatch" selected>', html)
    assert re.search(r'name="zones-1-depth_mm"[^>]*value="0.25"', html), "forehead was not treated at session 1: the plan's lower bound"
    assert re.search(r'name="device_serial"[^>]*value="SP-777"', html) and re.search(r'name="cartridge_product"[^>]*value="SkinPen cartridge"', html)
    assert not re.search(r'name="cartridge_lot"[^>]*value="LOT', html) and not _checked(html, "sterile_pack_intact")


def test_a_first_session_takes_the_practitioners_equipment_from_their_last_session_on_that_device(as_practitioner, practitioner):
    earlier = _start(as_practitioner, _two_zone_plan(practitioner))
    _save(as_practitioner, earlier, complete_session_form(device_serial="SP-555", antiseptic="Chlorhexidine 0.05%"))
    record = _start(as_practitioner, _two_zone_plan(practitioner, make_patient(actor=practitioner, family_name="Second")))
    html = as_practitioner.get(f"/sessions/{record.public_id}/edit").get_data(as_text=True)
    assert re.search(r'name="device_serial"[^>]*value="SP-555"', html) and re.search(r'name="antiseptic"[^>]*value="Chlorhexidine 0.05%"', html)
    assert not re.search(r'name="cartridge_lot"[^>]*value="LOT', html) and not re.search(r'name="cartridge_expiry"[^>]*value="2', html)


# Conflicts, error messages, rows --------------------------------------------------------------------------------


def test_the_conflict_page_lists_every_differing_field_with_both_values(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    version = _version(as_practitioner, record)
    token = csrf_token(as_practitioner, f"/sessions/{record.public_id}/edit")
    colleague = db.session.get(TreatmentSession, record.id)
    changes = {"cartridge_lot": "COLLEAGUE-LOT", "clinical_note": "Colleague's note", "device_serial": "SER-9", "pain_score": 7,
               "cleanser": "Micellar water", "antiseptic": "Alcohol 70%", "supervisor": "Dr Raman", "endpoint": "petechiae",
               "history_reviewed": False}
    for name, value in changes.items():
        setattr(colleague, name, value)
    db.session.commit()
    response = as_practitioner.post(f"/sessions/{record.public_id}/edit",
                                    data={**complete_session_form(clinical_note="My careful note"), "version": version, "csrf_token": token})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    section = html[html.index('id="conflict-title"'):html.index("</section>", html.index('id="conflict-title"'))]
    for label, saved, yours in (("Cartridge lot", "COLLEAGUE-LOT", "LOT-A1"), ("Clinical note", "Colleague&#39;s note", "My careful note"),
                                ("Serial number", "SER-9", "SP-00123"), ("Pain score (0 to 10)", "7", "3"),
                                ("Cleanser", "Micellar water", "Gentle cleanser"), ("Supervisor (if any)", "Dr Raman", "—"),
                                ("Endpoint reached", "Petechiae", "Even redness"),
                                ("History, medicines and allergies reviewed today", "No", "Yes"),
                                ("Zones treated", "—", "Cheeks 1.25 mm × 3, Cross-hatch"),
                                ("Products on needled skin", "—", "Hyaluronic glide gel, lot HG-778, labelled for needled skin")):
        assert re.search(rf"<dt>{re.escape(label)}</dt><dd><span class=\"pre\">Saved: {re.escape(saved)}</span><br>"
                         rf"<span class=\"pre\">Yours: {re.escape(yours)}</span>", section), label
    assert section.count("<dt>") >= 10 and "Session date" not in section, "same value on both sides: not listed"


def test_row_errors_read_as_sentences_never_as_program_text(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    data = complete_session_form(**{"zones-1-zone": "nose", "zones-1-depth_mm": "9", "zones-1-passes": "", "zones-1-technique": "glide",
                                    "products-0-lot": ""})
    response = _save(as_practitioner, record, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    summary = html[html.index('class="error-summary"'):html.index("</div>", html.index('class="error-summary"'))]
    assert re.search(r'<a href="#zones-1-depth_mm">Zone 2, depth \(mm\): Enter [^<>{}\[\]]*5 mm\.</a>', summary)
    assert '<a href="#zones-1-passes">Zone 2, passes: Enter the passes.</a>' in summary
    assert '<a href="#products-0-lot">Product 1, lot: Enter the lot' in summary
    for program_text in ("{", "[", "'depth_mm'", "depth_mm:"):
        assert program_text not in summary, program_text
    assert "{&#39;" not in html and "[&#39;" not in html


def test_adding_a_row_comes_back_to_that_row_with_its_first_field_focused(as_practitioner, plan):
    record = _start(as_practitioner, plan)
    page = f"/sessions/{record.public_id}/edit"
    html = as_practitioner.get(page).get_data(as_text=True)
    assert "autofocus" not in html, "a page opened normally keeps the browser's own focus"
    for name, first in (("zones", "zone"), ("products", "name"), ("adverse_events", "kind")):
        response = post_form(as_practitioner, page, {**complete_session_form(), f"add_{name}": "1", "version": _version(as_practitioner, record)})
        html = response.get_data(as_text=True)
        rows = 2 if name != "adverse_events" else 1
        assert f'<tr id="{name}-row-{rows - 1}">' in html
        assert re.search(rf'<(select|input)[^>]*autofocus[^>]*id="{name}-{rows - 1}-{first}"|'
                         rf'<(select|input)[^>]*id="{name}-{rows - 1}-{first}"[^>]*autofocus', html), name
        assert html.count("autofocus") == 1
    two_rows = complete_session_form(**{"zones-1-zone": "nose", "zones-1-depth_mm": "0.5", "zones-1-passes": "2", "zones-1-technique": "stamp"})
    response = post_form(as_practitioner, page, {**two_rows, "remove_zones": "0", "version": _version(as_practitioner, record)})
    assert f'formaction="{page}#zones-add"' in response.get_data(as_text=True) and "autofocus" not in response.get_data(as_text=True)


def test_a_draft_saves_before_the_zones_are_filled_in_and_keeps_offering_the_plans_zones(as_practitioner, practitioner):
    """The re-screen is saved before treating: the plan's rows, left as offered, are neither an error nor saved."""
    record = _start(as_practitioner, _two_zone_plan(practitioner))
    page = f"/sessions/{record.public_id}/edit"
    offered = _submission(as_practitioner, page)
    assert offered["zones-0-suggested"] == ["1"] and offered["zones-1-suggested"] == ["1"]
    response = post_form(as_practitioner, page, {**offered, "history_reviewed": "yes", "photo_consent": "no"})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    record = _fresh(record)
    assert record.history_reviewed is True and record.zones == []
    offered = _submission(as_practitioner, page)
    assert offered["zones-0-zone"] == ["cheeks"] and offered["zones-1-zone"] == ["forehead"], "offered again while no zone is recorded"
    # Cheeks treated, forehead not: the untouched forehead row is left out, the cheeks row saved.
    response = post_form(as_practitioner, page, {**offered, "zones-0-passes": "3", "zones-0-technique": "glide"})
    assert response.status_code == 303
    assert [(z.zone, z.depth_mm, z.passes) for z in _fresh(record).zones] == [("cheeks", Decimal("1.00"), 3)]
    assert 'name="zones-1-zone"' not in as_practitioner.get(page).get_data(as_text=True)


def test_a_plan_row_that_was_changed_but_not_finished_is_an_error_not_dropped(as_practitioner, practitioner):
    record = _start(as_practitioner, _two_zone_plan(practitioner))
    page = f"/sessions/{record.public_id}/edit"
    response = post_form(as_practitioner, page, {**_submission(as_practitioner, page), "zones-1-depth_mm": "0.4"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Zone 2, passes: Enter the passes." in html and 'value="0.4' in html and 'name="zones-0-zone"' in html


def _submission(client, page: str) -> dict[str, list[str]]:
    from tests.security.test_hostile_input import browser_submission, parse, pick

    return browser_submission(pick(parse(client.get(page).get_data(as_text=True)).forms, page, page))
