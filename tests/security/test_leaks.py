"""Issue 14, leaks and errors: what the audit trail shows an administrator, far dates and huge page numbers,
a raw 0xFF in an address, missing fields, the access log's format, file permissions, the stored signature,
and bidi override characters in names. Each test here failed on the code before its fix."""

from __future__ import annotations

import base64
import io
import logging
import os
import re
import stat
from datetime import date
from types import SimpleNamespace

import pytest
from PIL import Image
from sqlalchemy import select, update

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role
from practitioner.extensions import db
from practitioner.patients.models import Patient
from tests.conftest import make_patient, make_user, post_form, sign_in
from tests.patients.test_patient_views import VALID

SECRET_OVERRIDE = "Cleared in writing by the medical lead after the cardiology letter"
SECRET_ADDENDUM = "Late entry: the patient mentioned a keloid history afterwards"


# --- the audit trail shows an administrator what happened and to whom, never clinical details ---------------

def _clinical_history(practitioner):
    """A consultation overridden, a signed session with an override and an addendum: all through the services."""
    from practitioner.consultations.services import record_override
    from practitioner.treatments.services import add_addendum
    from tests.factories import make_consent, make_consultation, make_plan, signed_session

    patient = make_patient(actor=practitioner, given_name="Audra", family_name="Trailwood")
    refer = make_consultation(patient, practitioner, decision="refer")
    record_override(db.session, refer, SECRET_OVERRIDE, actor=practitioner)
    db.session.commit()
    consultation = make_consultation(patient, practitioner)
    plan = make_plan(consultation)
    make_consent(consultation, practitioner)
    record = signed_session(plan, practitioner)
    add_addendum(db.session, record, SECRET_ADDENDUM, "Noted.", actor=practitioner)
    db.session.commit()
    return patient


def test_the_admin_audit_trail_shows_no_clinical_detail(client, practitioner, admin):
    from practitioner.admin.services import NON_CLINICAL_DETAIL

    _clinical_history(practitioner)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.patient_id.is_not(None))).all()
    clinical_keys = {key for event in events for key in event.detail_items if key not in NON_CLINICAL_DETAIL}
    assert {"reason"} <= clinical_keys, clinical_keys  # the history really holds clinical details
    assert sign_in(client, admin.email).status_code == 303
    html = client.get("/admin/audit").get_data(as_text=True)
    assert "Trailwood" in html and "consultation.override" in html  # what happened, and to whom
    assert SECRET_OVERRIDE not in html and SECRET_ADDENDUM not in html
    for key in sorted(clinical_keys):
        assert f"<strong>{key}</strong>" not in html, f"the administrator sees the clinical detail {key!r}"
    assert "clinical, shown to practitioners only" in html


def test_a_role_with_clinical_access_sees_the_details():
    from practitioner.admin.services import audit_detail

    event = AuditEvent(action="consultation.override", patient_id=1, detail='{"reason": "x", "computed_decision": "refer"}')
    assert audit_detail(event, clinical=True) == {"reason": "x", "computed_decision": "refer"}
    assert audit_detail(event, clinical=False) == {"details": "clinical, shown to practitioners only"}
    unrelated = AuditEvent(action="user.create", patient_id=None, detail='{"email": "a@b.example", "role": "admin"}')
    assert audit_detail(unrelated, clinical=False) == {"email": "a@b.example", "role": "admin"}


# --- the nine inputs that gave a 500 ---------------------------------------------------------------------------

def test_a_raw_0xff_byte_in_an_address_is_a_400(client, as_practitioner):
    from flask import current_app

    anonymous = current_app.test_client()
    assert anonymous.get("/sign-in", environ_overrides={"QUERY_STRING": "q=\xff"}).status_code == 400
    assert as_practitioner.get("/patients/", environ_overrides={"QUERY_STRING": "q=\xff"}).status_code == 400


@pytest.mark.parametrize("page", ["99999999999999999999", "-5", "1e9", "abc", ""])
def test_a_huge_page_number_is_an_empty_page_not_a_500(as_admin, page):
    for url in ("/patients/", "/admin/audit"):
        assert as_admin.get(url, query_string={"page": page}).status_code == 200, url


def test_a_far_date_on_the_audit_trail_is_a_message_on_the_field(as_admin):
    response = as_admin.get("/admin/audit", query_string={"date_to": "9999-12-31", "date_from": "0001-01-01"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a date between 1900 and" in html and 'value="9999-12-31"' in html


def test_a_new_patient_without_a_phone_field_is_saved_with_no_phone(as_practitioner):
    data = {key: value for key, value in VALID.items() if key != "phone"}
    assert post_form(as_practitioner, "/patients/new", data).status_code == 303
    patient = db.session.scalars(select(Patient).where(Patient.family_name == "Blackwood")).one()
    assert patient.phone == ""


def test_a_patient_edit_without_a_version_saves_nothing(as_practitioner, practitioner):
    patient = make_patient(actor=practitioner)
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/edit", {**VALID, "given_name": "Changed"})
    assert response.status_code == 409 and 'value="Changed"' in response.get_data(as_text=True)  # the typing is kept
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).given_name != "Changed"


def test_a_session_dated_9999_is_refused_on_its_field(as_practitioner, practitioner):
    from practitioner.treatments.services import start_session
    from tests.factories import complete_session_form, treatable_plan

    plan = treatable_plan(make_patient(actor=practitioner), practitioner)
    record = start_session(db.session, plan, actor=practitioner, on=plan.first_session_on)
    db.session.commit()
    response = post_form(as_practitioner, f"/sessions/{record.public_id}/edit",
                         complete_session_form(session_date="9999-12-31", version=str(record.version)))
    assert response.status_code == 422 and 'value="9999-12-31"' in response.get_data(as_text=True)


def test_a_plan_starting_9999_is_refused_and_a_stored_one_still_shows(as_practitioner, practitioner):
    from practitioner.plans.models import TreatmentPlan
    from tests.plans.test_plans import make_consultation, new_url, valid_form

    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(first_session_on="9999-12-01"))
    assert response.status_code == 422
    assert "Enter a date between 1900 and" in response.get_data(as_text=True)
    assert not db.session.scalars(select(TreatmentPlan)).all()
    # One stored before dates were bounded: its page still answers, the dates past the calendar's end said so.
    assert post_form(as_practitioner, new_url(consultation), valid_form()).status_code == 303
    plan = db.session.scalars(select(TreatmentPlan)).one()
    db.session.execute(update(TreatmentPlan).where(TreatmentPlan.id == plan.id).values(first_session_on=date(9999, 12, 1)))
    db.session.commit()
    patient = db.session.get(Patient, plan.patient_id)
    for url in (f"/plans/{plan.public_id}", f"/patients/{patient.public_id}"):
        assert as_practitioner.get(url).status_code == 200, url
    assert "past the calendar" in as_practitioner.get(f"/plans/{plan.public_id}").get_data(as_text=True)


# --- the access log names paths, never query strings -------------------------------------------------------------

def test_the_access_log_format_leaves_out_the_query_string():
    from gunicorn.glogging import Logger

    from tests.test_make_run import make_run_options

    options = make_run_options()
    assert options.access_log_format and "%(r)s" not in options.access_log_format and "%(q)s" not in options.access_log_format
    config = SimpleNamespace(access_log_format=options.access_log_format, errorlog="-", loglevel="info", capture_output=False,
                             logconfig=None, logconfig_dict={}, logconfig_json=None, syslog=False, accesslog="-",
                             disable_redirect_access_to_syslog=False, user=os.getuid(), group=os.getgid(),
                             statsd_host=None, dogstatsd_tags="", statsd_prefix="")
    logger = Logger.__new__(Logger)
    logger.cfg = config
    query = "q=Imogen+Blackwood+1987-06-05&phone=07700900555"
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/patients/?{query}", "PATH_INFO": "/patients/", "QUERY_STRING": query,
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    request = SimpleNamespace(headers=[], method="GET", path="/patients/", query=query, uri=f"/patients/?{query}", version=(1, 1))
    response = SimpleNamespace(status="200 OK", headers=[], sent=123, response_length=123)
    from datetime import timedelta

    line = options.access_log_format % logger.atoms(response, request, environ, timedelta(seconds=0.01))
    assert "/patients/" in line and "Blackwood" not in line and "07700" not in line and "?" not in line, line


def test_the_app_logs_no_query_string_or_form_value(app, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/__boom")
    def boom():
        raise RuntimeError("boom")

    with caplog.at_level(logging.DEBUG):
        app.test_client().get("/__boom?q=Imogen+Blackwood&dob=1987-06-05")
    assert caplog.records and "Blackwood" not in caplog.text and "1987" not in caplog.text


SEARCHED = "Imogen Blackwood 07700900555"  # apart from the statement, so a traceback's source line does not show it


def test_a_failed_statement_is_logged_without_its_values(app, caplog):
    from sqlalchemy import text

    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/__bad_select")
    def bad_select():
        db.session.execute(text("SELECT no_such_column FROM patients WHERE given_name = :name"), {"name": SEARCHED})
        return "unreachable"

    with caplog.at_level(logging.DEBUG):
        assert app.test_client().get("/__bad_select").status_code == 500
    assert "no_such_column" in caplog.text  # the statement's error is logged, without its values
    assert "Blackwood" not in caplog.text and "07700" not in caplog.text


# --- files for the account that runs the app only ------------------------------------------------------------------

@pytest.mark.sqlite_only(reason="the database file's permissions")
def test_the_database_instance_and_backups_are_private(tmp_path, monkeypatch):
    from flask_migrate import upgrade

    from practitioner import create_app
    from practitioner.maintenance import backup_database
    from tests.conftest import make_config

    os.umask(0o022)  # as a shell leaves it: the app must not rely on it
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    database = instance / "practitioner.sqlite3"
    app = create_app(make_config(database))
    with app.app_context():
        upgrade()
        make_user(Role.ADMIN)
        db.engine.dispose()
    again = create_app(make_config(database))
    backup = tmp_path / "backups" / "copy.sqlite3"
    with again.app_context():
        backup_database(database, backup)
    made = [database, backup, backup.with_name(backup.name + ".json"), *database.parent.glob("*-wal"), *database.parent.glob("*-shm")]
    for path in made:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path, oct(path.stat().st_mode))
    for folder in (backup.parent,):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_create_app_closes_an_existing_instance_folder_and_database(tmp_path):
    from practitioner.maintenance import make_private

    folder = tmp_path / "instance"
    folder.mkdir(mode=0o755)
    database = folder / "practitioner.sqlite3"
    database.write_bytes(b"")
    database.chmod(0o644)
    make_private(folder, database)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(database.stat().st_mode) == 0o600


# --- the stored signature is re-encoded ----------------------------------------------------------------------------

def test_a_signature_with_a_300_kb_trailer_is_stored_without_it(as_practitioner, practitioner):
    from practitioner.consents.models import Consent
    from tests.consents.test_consent import consent_data, signature_png
    from tests.factories import make_consultation

    patient = make_patient(actor=practitioner, given_name="Zoë", family_name="Okafor-Hale")
    consultation = make_consultation(patient, practitioner)
    trailer = b"TRAILER" + os.urandom(300 * 1024)
    posted = signature_png() + trailer
    data = consent_data(patient, signature="data:image/png;base64," + base64.b64encode(posted).decode())
    assert post_form(as_practitioner, f"/consultations/{consultation.public_id}/consents/new", data).status_code == 303
    stored = db.session.scalars(select(Consent)).one()
    assert b"TRAILER" not in stored.signature_png and len(stored.signature_png) < len(signature_png()) + 1024
    assert stored.signature_png.endswith(b"IEND\xaeB`\x82")
    with Image.open(io.BytesIO(stored.signature_png)) as image:
        assert image.format == "PNG" and image.size == (600, 200)
        image.verify()
    import hashlib

    assert stored.signature_sha256 == hashlib.sha256(stored.signature_png).hexdigest()


# --- bidi override characters in names -----------------------------------------------------------------------------

def test_bidi_overrides_are_stripped_from_a_typed_name_and_isolated_on_pages(as_practitioner, practitioner):
    spoof = "Ann\u202ea\u2066x\u2069"
    assert post_form(as_practitioner, "/patients/new", {**VALID, "given_name": spoof, "family_name": "Rtl\u202dWood"}).status_code == 303
    patient = db.session.scalars(select(Patient).where(Patient.family_name.like("Rtl%"))).one()
    assert patient.given_name == "Annax" and patient.family_name == "RtlWood"
    # One stored before the filter: shown without its override characters, inside <bdi>.
    stored = make_patient(actor=practitioner, given_name="Eve\u202e", family_name="Stored\u202eOld")
    for url in ("/patients/", f"/patients/{stored.public_id}"):
        html = as_practitioner.get(url).get_data(as_text=True)
        assert not re.search("[\u202a-\u202e\u2066-\u2069]", html), url
        assert "<bdi>" in html, url


def test_the_audit_trail_shows_a_stored_name_without_bidi_overrides(as_admin, admin):
    make_patient(actor=admin, given_name="Eve\u202e", family_name="Stored\u202eOld")
    html = as_admin.get("/admin/audit").get_data(as_text=True)
    assert "StoredOld" in html and not re.search("[\u202a-\u202e\u2066-\u2069]", html)


def test_the_migration_takes_bidi_overrides_out_of_stored_names(app, practitioner):
    import importlib.util

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    from practitioner.paths import MIGRATIONS_DIR

    spoofed = make_patient(actor=practitioner, given_name="Ann\u202ea", family_name="Wo\u2066od", preferred_name="\u202dAn")
    plain = make_patient(actor=practitioner, given_name="Plain", family_name="Person")
    spec = importlib.util.spec_from_file_location("m0015", MIGRATIONS_DIR / "versions" / "0015_names_without_bidi_controls.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    db.session.remove()
    with db.engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        module.upgrade()
    fixed, same = db.session.get(Patient, spoofed.id), db.session.get(Patient, plain.id)
    assert (fixed.given_name, fixed.family_name, fixed.preferred_name) == ("Anna", "Wood", "An")
    assert fixed.family_name_search == "wood" and (same.given_name, same.family_name) == ("Plain", "Person")


def test_any_text_holding_bidi_controls_is_shown_in_its_own_isolate(as_practitioner, practitioner):
    """Not only names: an override in an address (kept as typed) cannot reorder the page after it."""
    patient = make_patient(actor=practitioner, address="12 \u202eHigh Street\u2069 end", postcode="AB1 2CD")
    assert patient.address == "12 \u202eHigh Street\u2069 end"  # stored exactly as typed
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    # Shown inside FIRST STRONG ISOLATE ... POP DIRECTIONAL ISOLATE, the value's own isolate character dropped,
    # so the one PDI that follows ends the override where the value ends.
    assert "\u206812 \u202eHigh Street end\u2069" in html
    assert html.count("\u2069") == html.count("\u2068")


def test_isolating_leaves_markup_and_plain_text_alone():
    from markupsafe import Markup

    from practitioner.templating import isolate_bidi

    assert isolate_bidi("plain text") == "plain text"
    assert isolate_bidi(Markup("<b>\u202e</b>")) == Markup("<b>\u202e</b>")
    assert isolate_bidi(3) == 3
    assert isolate_bidi("a\u202eb") == "\u2068a\u202eb\u2069"
