"""The busiest path, kept lean: what every signed-in page, the patient list and an audit append cost in statements.

bench/bench_cpu_per_page.py measures the CPU; these tests hold the shapes that made it cheaper (issue 11).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from practitioner import audit
from practitioner.audit import AuditChainHead, verify_chain
from practitioner.extensions import db
from tests.conftest import make_patient, make_user


def _statements(client, url: str) -> list[str]:
    """The SQL a GET of `url` runs, each on one line, PostgreSQL's parameters (`%(name)s::TYPE`) written as SQLite's `?`."""
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(re.sub(r"%\(\w+\)s(::\w+)?", "?", " ".join(statement.split())))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, url
    return seen


# -- the signed-in user ------------------------------------------------------------------------------


def test_a_page_loads_the_sign_in_session_and_its_user_in_one_statement(as_practitioner):
    seen = _statements(as_practitioner, "/patients/")
    touching = [s for s in seen if "user_sessions" in s or re.search(r"\bFROM users\b", s)]
    assert len(touching) == 1, touching
    assert "JOIN users" in touching[0]


def test_an_ended_sign_in_session_still_signs_nobody_in(app, client, practitioner):
    from tests.conftest import sign_in

    assert sign_in(client, practitioner.email).status_code == 303
    assert client.get("/patients/").status_code == 200
    assert client.post("/sign-out", data={"csrf_token": _token(client)}).status_code == 303
    assert client.get("/patients/").status_code == 303


def _token(client) -> str:
    html = client.get("/patients/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


# -- the patient list --------------------------------------------------------------------------------


def _patient_statements(seen: list[str]) -> list[str]:
    return [s for s in seen if re.search(r"\bFROM patients\b", s)]


@pytest.mark.parametrize("url", ["/patients/", "/patients/?q=Pager", "/patients/?page=2", "/patients/?q=01/02/1980"])
def test_the_list_reads_its_page_and_total_in_one_statement(as_practitioner, app, url):
    app.config["PATIENTS_PER_PAGE"] = 5
    for i in range(7):
        make_patient(family_name=f"Pager{i:02d}")
    reading = _patient_statements(_statements(as_practitioner, url))
    assert len(reading) == 1, reading
    assert "count(*)" in reading[0]


def test_the_list_loads_only_the_columns_it_prints(as_practitioner):
    make_patient(allergies="Latex", current_medicines="Warfarin")
    (reading,) = _patient_statements(_statements(as_practitioner, "/patients/"))
    printed = reading.split(" FROM ")[0]
    for column in ("allergies", "current_medicines", "address", "gp_name", "emergency_contact_name"):
        assert f"patients.{column}" not in printed


@pytest.mark.parametrize(("page", "shown", "total"), [(1, 5, 12), (2, 5, 12), (3, 2, 12), (4, 0, 12), (9, 0, 12)])
def test_the_total_is_right_on_every_page_even_past_the_end(as_practitioner, app, page, shown, total):
    app.config["PATIENTS_PER_PAGE"] = 5
    for i in range(total):
        make_patient(family_name=f"Count{i:02d}")
    make_patient(family_name="Archived").archived_at = audit.utcnow()
    db.session.commit()
    html = as_practitioner.get(f"/patients/?page={page}").get_data(as_text=True)
    assert f"{total} patients" in html
    assert html.count(">Count") == shown


def test_a_search_with_no_match_says_none(as_practitioner):
    make_patient(family_name="Somebody")
    html = as_practitioner.get("/patients/?q=Nobodyatall").get_data(as_text=True)
    assert "0 matches" in html and "No patients found." in html


@pytest.mark.parametrize("query", [{}, {"q": "Hughes"}, {"q": "\"><b>&amp; \u202eevil"}, {"q": "a", "archived": "y"},
                                   {"archived": "other"}, {"q": "x " * 60}])
def test_the_search_inputs_are_drawn_as_wtforms_draws_them(as_practitioner, app, query):
    # The list writes its search inputs out (templates/patients/list.html): byte for byte WTForms' own drawing.
    from werkzeug.datastructures import MultiDict

    from practitioner.patients.forms import SearchForm

    html = as_practitioner.get("/patients/", query_string=query).get_data(as_text=True)
    with app.test_request_context():
        form = SearchForm(MultiDict(query))
        form.validate()
        drawn = [str(form.q.label()), str(form.q(type="search", autocomplete="off", **{"aria-describedby": "q-hint"})),
                 f"{form.archived()} {form.archived.label()}"]
    for part in drawn:
        assert part in html, part


# -- the page header ---------------------------------------------------------------------------------


def test_the_header_reads_only_the_clinics_name(as_practitioner):
    # Only the name, and in the statement that loads the sign-in session: no statement of its own.
    seen = [s for s in _statements(as_practitioner, "/patients/") if "clinic_settings" in s]
    assert len(seen) == 1 and "user_sessions" in seen[0], seen
    assert "(SELECT clinic_settings.name FROM clinic_settings WHERE clinic_settings.id = ?)" in seen[0]
    assert seen[0].count("clinic_settings.") == 2  # the name and the id: no other column of the settings row


def test_the_header_shows_a_renamed_clinic_on_the_next_page(as_practitioner, app):
    from practitioner.admin.models import ClinicSettings

    assert "Harbour Test Clinic" not in as_practitioner.get("/patients/").get_data(as_text=True)
    with app.app_context():
        db.session.get(ClinicSettings, 1).name = "Harbour Test Clinic"
        db.session.commit()
    html = as_practitioner.get("/patients/").get_data(as_text=True)
    assert "<title>Patients · Harbour Test Clinic</title>" in html and "<span>Harbour Test Clinic</span>" in html


def test_the_layouts_fixed_addresses_follow_the_path_the_app_is_mounted_at(as_practitioner):
    # The header's links and static files are built once per app and kept per script root (templating.fixed_url):
    # an app mounted under /clinic gets its own, and the root's come back unchanged after it.
    for base, prefix in (("http://localhost/", ""), ("http://localhost/clinic/", "/clinic"), ("http://localhost/", "")):
        html = as_practitioner.get("/patients/", base_url=base).get_data(as_text=True)
        for address in ("/static/css/app.css", "/static/js/app.js", "/patients/", "/patients/new", "/sign-out"):
            assert f'"{prefix}{address}"' in html, (base, address)
        assert prefix or "/clinic/" not in html


def test_a_page_signed_out_reads_the_clinics_name_itself(client):
    seen = [s for s in _statements(client, "/sign-in") if "clinic_settings" in s]
    assert seen == ["SELECT clinic_settings.name FROM clinic_settings WHERE clinic_settings.id = ?"]


# -- the audit append --------------------------------------------------------------------------------


def test_an_audit_append_is_three_statements_and_no_orm_flush(app):
    user = make_user()
    audit.append(db.session, "test.first", actor=user)  # the head exists from here on
    db.session.commit()
    flushes: list[int] = []
    seen: list[str] = []

    def on_flush(*args):
        flushes.append(1)

    def on_statement(conn, cursor, statement, *args):
        seen.append(statement.split()[0])

    sql_session = db.session()
    event.listen(sql_session, "before_flush", on_flush)
    event.listen(db.engine, "before_cursor_execute", on_statement)
    try:
        appended = audit.append(db.session, "test.second", actor=user, detail={"n": 2})
    finally:
        event.remove(sql_session, "before_flush", on_flush)
        event.remove(db.engine, "before_cursor_execute", on_statement)
    assert seen[-3:] == ["SELECT", "INSERT", "UPDATE"], seen
    assert flushes == []
    db.session.commit()
    stored = db.session.get(audit.AuditEvent, appended.id)
    assert stored.hash == appended.hash == stored.compute_hash()


def test_the_chain_verifies_between_appends_in_one_session(app):
    # A head the session holds (verify_chain reads it with session.get) must not go stale when an append
    # moves it with a Core UPDATE: expire_on_commit is off, so nothing else would refresh it.
    user = make_user()
    audit.append(db.session, "test.start", actor=user)
    db.session.commit()
    held = db.session.get(AuditChainHead, 1)
    for n in range(3):
        audit.append(db.session, "test.step", actor=user, detail={"n": n})
        db.session.commit()
        assert verify_chain(db.session).intact
        newest = db.session.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.id.desc())).first()
        assert (held.last_event_id, held.last_hash) == (newest.id, newest.hash)


def test_an_append_names_a_patient_added_in_the_same_transaction(app):
    user = make_user()
    patient = make_patient(family_name="Pending")
    db.session.commit()
    from practitioner.patients.models import Patient

    late = Patient(record_number="P900001", given_name="Late", family_name="Added", given_name_search="late",
                   family_name_search="added", date_of_birth=patient.date_of_birth, sex=patient.sex)
    db.session.add(late)  # pending, not flushed: the append must flush it first to know its id
    audit.append(db.session, "test.pending", actor=user, patient=late)
    db.session.commit()
    row = db.session.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == "test.pending")).one()
    assert row.patient_id == late.id is not None


# -- the patient page's timeline ---------------------------------------------------------------------


def test_the_timeline_statements_are_built_once_not_on_every_page(as_practitioner, practitioner):
    # Building a statement with its loader options, and its cache key, cost more than running it; the
    # receivers build theirs once per process and bind the patient at execution.
    from practitioner.consents import timeline as consents_timeline
    from practitioner.consultations import timeline as consultations_timeline
    from practitioner.plans import timeline as plans_timeline
    from practitioner.treatments import timeline as treatments_timeline
    from tests.factories import signed_session, treatable_plan

    def executed(url: str) -> set[int]:
        found: set[int] = set()

        def record(conn, clauseelement, multiparams, params, execution_options):
            found.add(id(clauseelement))

        event.listen(db.engine, "before_execute", record)
        try:
            assert as_practitioner.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_execute", record)
        return found

    for _ in range(2):
        patient = make_patient(actor=practitioner)
        signed_session(treatable_plan(patient, practitioner), practitioner)
        seen = executed(f"/patients/{patient.public_id}")
        for built_once in (consultations_timeline._consultations(), plans_timeline._plans(), treatments_timeline._sessions(),
                           consents_timeline._consents()):
            assert id(built_once) in seen


# -- dates in words ----------------------------------------------------------------------------------


def test_a_days_words_are_worked_out_once(monkeypatch):
    from datetime import date

    from practitioner import dates

    calls: list[object] = []
    real = dates.format_date

    def counting(value, *args, **kwargs):
        calls.append(value)
        return real(value, *args, **kwargs)

    monkeypatch.setattr(dates, "format_date", counting)
    dates._remembered_date.cache_clear()
    day = date(1987, 6, 5)
    assert [dates.short_date(day) for _ in range(25)] == ["5 Jun 1987"] * 25
    assert dates.long_date(day) == dates.long_date(date(1987, 6, 5)) == "Friday 5 June 1987"
    assert len(calls) == 2


def test_equal_moments_in_two_zones_keep_their_own_day():
    from datetime import datetime, timedelta, timezone

    from practitioner.dates import short_date

    late = datetime(2026, 1, 1, 23, 30, tzinfo=timezone.utc)
    ahead = late.astimezone(timezone(timedelta(hours=2)))
    assert late == ahead
    assert (short_date(late), short_date(ahead)) == ("1 Jan 2026", "2 Jan 2026")


@pytest.mark.parametrize("first, second", [("", ""), ("Smith", "Jones"), ("01/02/1980", "1975-03-04"), ("07700 900123", "07700 900456")])
def test_a_search_reuses_the_statement_of_its_shape(as_practitioner, first, second):
    make_patient(family_name="Smith")

    def patients_statement(query: str) -> int:
        found: list[int] = []

        def record(conn, clauseelement, multiparams, params, execution_options):
            text = " ".join(str(clauseelement).split())
            if text.startswith("SELECT patients.") and " AS total " in text:
                found.append(id(clauseelement))

        event.listen(db.engine, "before_execute", record)
        try:
            assert as_practitioner.get("/patients/", query_string={"q": query}).status_code == 200
        finally:
            event.remove(db.engine, "before_execute", record)
        (statement,) = found
        return statement

    assert patients_statement(first) == patients_statement(second)


def test_the_timeline_counts_a_sessions_addenda_without_loading_them(as_practitioner, practitioner):
    from tests.conftest import post_form
    from tests.factories import signed_session, treatable_plan

    patient = make_patient(actor=practitioner)
    record = signed_session(treatable_plan(patient, practitioner), practitioner)
    page = f"/sessions/{record.public_id}"
    url = f"/patients/{patient.public_id}"
    assert " addend" not in as_practitioner.get(url).get_data(as_text=True)
    for n in range(2):
        assert post_form(as_practitioner, f"{page}/addenda", {"reason": "Late entry", "text": f"Note {n}"}, page=page).status_code == 303
        assert ("1 addendum" if n == 0 else "2 addenda") in as_practitioner.get(url).get_data(as_text=True)
    seen = _statements(as_practitioner, url)
    assert not [s for s in seen if s.startswith("SELECT session_addenda.")]
    assert not [s for s in seen if s.startswith("SELECT treatment_plans.") and "treatment_plans.id IN" in s]


def test_the_timeline_counts_a_plans_signed_sessions_without_loading_them(as_practitioner, practitioner):
    from tests.factories import signed_session, treatable_plan

    patient = make_patient(actor=practitioner)
    plan = treatable_plan(patient, practitioner)
    url = f"/patients/{patient.public_id}"
    assert f"0 of {plan.sessions_planned} done" in as_practitioner.get(url).get_data(as_text=True)
    for n in (1, 2):
        signed_session(plan, practitioner, sequence=n)
        assert f"{n} of {plan.sessions_planned} done" in as_practitioner.get(url).get_data(as_text=True)
    seen = _statements(as_practitioner, url)
    assert not [s for s in seen if s.startswith("SELECT treatment_sessions.plan_id")]


def test_sqlite_connections_are_not_pinged_before_each_use(app):
    from tests.conftest import POSTGRES

    assert db.engine.pool._pre_ping is POSTGRES


def test_the_timeline_says_an_override_is_recorded_without_loading_the_overrides(as_practitioner):
    from datetime import timedelta

    from tests.consultations.test_consultations import HEALTHY, TODAY, _new, _only_consultation
    from tests.conftest import post_form

    patient = make_patient()
    deferred = {**HEALTHY, "had_neurotoxin": "yes", "neurotoxin_on": (TODAY - timedelta(days=3)).isoformat()}
    _new(as_practitioner, patient, deferred)
    consultation = _only_consultation()
    page, url = f"/consultations/{consultation.public_id}", f"/patients/{patient.public_id}"
    assert "(override recorded)" not in as_practitioner.get(url).get_data(as_text=True)
    reason = {"reason": "Toxin was to the forehead only; treating cheeks. Cleared by Dr Raman."}
    assert post_form(as_practitioner, f"{page}/override", reason, page=page).status_code == 303
    assert "(override recorded)" in as_practitioner.get(url).get_data(as_text=True)
    seen = _statements(as_practitioner, url)
    assert not [s for s in seen if s.startswith("SELECT screening_overrides.")]
    # Another answer changes the result: the old override no longer applies, and the timeline says so.
    edit = as_practitioner.get(f"{page}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', edit).group(1)
    assert post_form(as_practitioner, f"{page}/edit", {**deferred, "pregnant": "y", "version": version}).status_code == 303
    assert "(override recorded)" not in as_practitioner.get(url).get_data(as_text=True)


# -- the patient's page with photos ------------------------------------------------------------------

# The patient's page of a patient with consent, photos of a consultation, sessions and a review visit: 49
# statements before issue 11's last round (the review visits loaded their plans' every eager load, the photo
# consent read the consents and consultations the timeline had just read, the photo timeline wrote its own
# audit row in a second write transaction, the documents were read twice). Counted: BEGIN, COMMIT not seen
# (sqlite3 commits without a statement); the intake section, its timeline entry and the export volumes are one statement each.
PATIENT_PAGE_WITH_PHOTOS = 24


def test_the_patient_page_with_photos_stays_lean(as_practitioner, practitioner):
    from tests.photos.factories import course_with_photos

    patient = make_patient(actor=practitioner)
    course_with_photos(patient, practitioner, sessions=3, review=True, signed=2)
    url = f"/patients/{patient.public_id}"
    _statements(as_practitioner, url)  # first-use rows (settings, the chain's head) out of the way
    seen = _statements(as_practitioner, url)
    assert len(seen) <= PATIENT_PAGE_WITH_PHOTOS, "\n".join(s[:120] for s in seen)
    # One write for the page: the view of the record and the row naming the photos shown, in one INSERT.
    if db.engine.dialect.name == "sqlite":  # (PostgreSQL's transactions begin without a statement of their own)
        assert [s for s in seen if s.startswith("BEGIN IMMEDIATE")] == ["BEGIN IMMEDIATE"]
    assert len([s for s in seen if s.startswith("SELECT audit_chain_head.")]) == 1
    assert len([s for s in seen if s.startswith("INSERT INTO audit_events")]) == 1
    # Each of these is read once: the page's parts share what they both need (practitioner/per_request.py).
    for table in ("consents", "consultations", "issued_documents", "photo_protocol_views", "review_visits"):
        assert len([s for s in seen if s.startswith(f"SELECT {table}.")]) <= 1, table
    # The review visits' plans come with their zones, not with their sessions, consultations and findings.
    assert not [s for s in seen if s.startswith(("SELECT session_products.", "SELECT consultation_concerns."))]
    rows = list(db.session.scalars(select(audit.AuditEvent).order_by(audit.AuditEvent.id.desc()).limit(2)))
    assert [r.action for r in reversed(rows)] == ["patient.view", "photo.timeline_view"]
    assert rows[0].at == rows[1].at and verify_chain(db.session).intact


def test_a_page_that_fails_still_audits_what_it_read(app, as_practitioner, practitioner, monkeypatch):
    # The rows kept for the page's one write are written even when the page fails after reading the record.
    from practitioner.patients import timeline

    patient = make_patient(actor=practitioner)

    def broken(*args, **kwargs):
        raise RuntimeError("a receiver failed")

    monkeypatch.setattr(timeline, "entries_for", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert as_practitioner.get(f"/patients/{patient.public_id}").status_code == 500
    viewed = list(db.session.scalars(select(audit.AuditEvent).where(audit.AuditEvent.action == "patient.view")))
    assert [r.patient_id for r in viewed] == [patient.id]
    assert verify_chain(db.session).intact
