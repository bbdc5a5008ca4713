"""Tamper evidence (issue 14): each attack someone holding the database file could run, and what finds it.

The attacks: REPLACE over a locked row of every locked or append-only table; a signed session, consent,
addendum or issued document rewritten (with its stored hash recomputed) once the triggers are dropped; an
audit row edited and the chain recomputed; the newest rows deleted and the head moved back; a middle row
deleted. Each is refused by the database or named by `flask audit-verify` (exit 1), the pages and the prints.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import stat
from pathlib import Path
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from practitioner import audit
from practitioner.audit import GENESIS_HASH, canonical_bytes
from practitioner.consents.models import Consent
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from practitioner.treatments import services as treatments
from practitioner.treatments.models import TreatmentSession
from tests.conftest import make_patient, make_user, sign_in
from tests.factories import seal_document, signed_session, treatable_plan
from tests.photos.factories import jpeg, make_photo, make_session, sign

MIGRATION = importlib.import_module("migrations.versions.0016_tamper_evidence")
WARNING = "This record does not match what was signed on"


@pytest.fixture
def world(app, tmp_path):
    """A signed session with a product and an addendum, its consent, an issued document, photos of a signed
    session and a withdrawal: a row in (nearly) every locked table. The head file lives in tmp_path."""
    app.config["AUDIT_HEAD_FILE"] = str(tmp_path / "audit-head.json")
    practitioner = make_user()
    patient = make_patient(actor=practitioner, given_name="Ana", family_name="Silva")
    plan = treatable_plan(patient, practitioner)
    record = signed_session(plan, practitioner, products=(("Hyaluronic serum", "HS-1"),))
    treatments.add_addendum(db.session, record, "Late entry", "Called the patient: healing well.", actor=practitioner)
    issued = seal_document(IssuedDocument(
        patient_id=patient.id, kind=DocumentKind.AFTERCARE, source_id=str(record.public_id), version=1, number="AC-T-1",
        title="Aftercare", filename="aftercare-t-v1.pdf", content_version="t", pdf=b"%PDF-1.7 the issued bytes", pdf_sha256="",
        json_data=b"", json_sha256="", issued_by_id=practitioner.id))
    consent = db.session.scalars(db.select(Consent).where(Consent.patient_id == patient.id)).one()
    photographed = make_session(plan, practitioner, sequence=2, session_date=date.today())
    make_photo(patient.id, consent, practitioner, session=photographed, commit=False, image=jpeg(160, 120, label="p"))
    _seal_session(photographed)
    from practitioner.photos.models import PhotoConsentWithdrawal

    db.session.add(PhotoConsentWithdrawal(patient_id=patient.id, scope="marketing", reason="Changed their mind",
                                          recorded_by_id=practitioner.id, withdrawn_at=datetime.now(timezone.utc)))
    db.session.commit()
    return {"practitioner": practitioner, "patient": patient, "session": record, "consent": consent, "issued": issued}


def _seal_session(record) -> None:
    """Sign a photos' stand-in session with the SHA-256 and sealing audit row the sign service gives."""
    db.session.flush()
    db.session.expire_all()
    record.content_sha256 = treatments.record_hash(record)
    sign(record)
    audit.append(db.session, "session.sign", actor_label="test", patient=record.patient_id, target=f"session:{record.public_id}",
                 detail={"sha256": record.content_sha256})


def _sql(*statements: str, **params) -> None:
    db.session.rollback()  # the test's own read ends, so this connection can take the write lock
    with db.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def _drop_all_triggers() -> None:
    """What someone holding the database file can always do first."""
    db.session.rollback()
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in MIGRATION.LOCKED_WHEN:
                connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            return
        names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars().all()
        for name in names:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')


def _replace(table: str, row_id: int, **changes) -> None:
    """REPLACE the row with a copy of itself, some columns changed: SQLite deletes the old row without delete triggers.

    On PostgreSQL (no REPLACE) the same forgery is an UPDATE once the triggers are disabled."""
    sets = ", ".join(f"{column} = :{column}" for column in changes)
    if db.engine.dialect.name == "postgresql":
        changes = {k: (bool(v) if k.startswith("photo_") else v) for k, v in changes.items()}
        _sql(f"UPDATE {table} SET {sets} WHERE id = :row_id", row_id=row_id, **changes)  # nosec B608  # test names
        return
    _sql(f"CREATE TEMP TABLE IF NOT EXISTS forged AS SELECT * FROM {table} WHERE 0",  # nosec B608  # test names
         "DELETE FROM temp.forged",
         f"INSERT INTO temp.forged SELECT * FROM {table} WHERE rowid = :row_id",  # nosec B608
         *([f"UPDATE temp.forged SET {sets}"] if changes else []),  # nosec B608
         f"REPLACE INTO {table} SELECT * FROM temp.forged", "DROP TABLE temp.forged", row_id=row_id, **changes)  # nosec B608


def _verify(app):
    result = app.test_cli_runner().invoke(args=["audit-verify"])
    return result.exit_code, result.output


# -- 1. REPLACE is refused over every locked or append-only row ------------------------------------------------


@pytest.mark.parametrize("table", sorted(MIGRATION.LOCKED_WHEN))
def test_replace_over_a_locked_row_is_refused(world, table):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("REPLACE is SQLite's; the PostgreSQL test below covers ON CONFLICT DO UPDATE")
    locked = MIGRATION.LOCKED_WHEN[table]
    with db.engine.connect() as connection:
        row_id = connection.execute(text(f"SELECT o.rowid FROM {table} AS o WHERE {locked} LIMIT 1")).scalar()  # nosec B608
    if row_id is None:
        assert db.engine.connect().execute(text(
            f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = '{table}_no_replace'")).scalar() == 1  # nosec B608
        pytest.skip(f"no locked {table} row in this world; its trigger exists")
    with pytest.raises(DatabaseError, match="cannot be replaced"):
        _replace(table, row_id)
    with pytest.raises(DatabaseError, match="cannot be replaced"):
        _sql(f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} WHERE rowid = :row_id", row_id=row_id)  # nosec B608


def test_the_attacked_tables_all_have_a_locked_row_in_the_world(world):
    """The tables the attack rewrote are exercised above, not skipped."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the REPLACE test is SQLite's")
    for table in ("treatment_sessions", "session_zones", "session_products", "session_addenda", "consents", "consultations",
                  "issued_documents", "audit_events", "photos", "photo_images", "photo_consent_withdrawals"):
        with db.engine.connect() as connection:
            assert connection.execute(text(f"SELECT count(*) FROM {table} AS o WHERE {MIGRATION.LOCKED_WHEN[table]}")).scalar(), table  # nosec B608


def test_replace_on_a_draft_still_works(world):
    """Only locked rows are guarded: a draft session's row may be rewritten (the app never does, but nothing refuses it)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    plan = world["session"].plan
    draft = make_session(plan, world["practitioner"], sequence=3, session_date=date.today())
    db.session.commit()
    _replace("session_zones", draft.zones[0].id, passes=2)


def test_postgresql_on_conflict_do_update_is_refused(world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL pass only (PRACTITIONER_TEST_POSTGRES=1)")
    record, consent = world["session"], world["consent"]
    for statement, params in (
        ("INSERT INTO treatment_sessions SELECT * FROM treatment_sessions WHERE id = :id "
         "ON CONFLICT (id) DO UPDATE SET clinical_note = 'forged'", {"id": record.id}),
        ("INSERT INTO consents SELECT * FROM consents WHERE id = :id ON CONFLICT (id) DO UPDATE SET photo_marketing = true",
         {"id": consent.id}),
        ("INSERT INTO session_addenda SELECT * FROM session_addenda WHERE session_id = :id "
         "ON CONFLICT (id) DO UPDATE SET text = 'forged'", {"id": record.id}),
        ("INSERT INTO issued_documents SELECT * FROM issued_documents WHERE id = :id ON CONFLICT (id) DO UPDATE SET pdf = 'x'",
         {"id": world["issued"].id}),
        ("INSERT INTO audit_events SELECT * FROM audit_events WHERE id = 1 ON CONFLICT (id) DO UPDATE SET detail = 'x'", {}),
        ("INSERT INTO session_products SELECT * FROM session_products WHERE session_id = :id "
         "ON CONFLICT (id) DO UPDATE SET lot = 'forged'", {"id": record.id}),
    ):
        with pytest.raises(DatabaseError):
            _sql(statement, **params)


# -- 2. A rewritten signed record is shown as altered, never as signed, and not printed ------------------------


def _forge_session(record_id: int) -> None:
    """Rewrite the signed note and recompute the stored SHA-256 to match, as a careful forger would."""
    db.session.rollback()
    record = db.session.get(TreatmentSession, record_id)
    record.clinical_note = "Forged: patient declined aftercare."
    forged_hash = treatments.record_hash(record)
    db.session.rollback()
    _drop_all_triggers()
    _replace("treatment_sessions", record_id, clinical_note="Forged: patient declined aftercare.", content_sha256=forged_hash)
    db.session.expire_all()


def test_a_rewritten_session_shows_the_warning_is_not_printed_and_is_named(app, client, world):
    record, practitioner = world["session"], world["practitioner"]
    record_id, public_id = record.id, record.public_id
    sign_in(client, practitioner.email)
    page = client.get(f"/sessions/{record.public_id}").get_data(as_text=True)
    assert "Signed and locked" in page and WARNING not in page
    assert _verify(app)[0] == 0
    _forge_session(record_id)
    response = client.get(f"/sessions/{public_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Forged" in page
    assert WARNING in page and "Tell the clinic&#39;s administrator." in page and "Signed and locked" not in page
    printed = client.get(f"/documents/session-record/{public_id}.pdf")
    assert printed.status_code == 303 and printed.mimetype != "application/pdf"
    assert f"Not printed. {WARNING}" in client.get(printed.headers["Location"]).get_data(as_text=True)
    code, output = _verify(app)
    assert code == 1 and f"session {public_id}" in output and "signing audit row" in output


def test_a_rewritten_consent_and_addendum_are_named(app, client, world):
    consent_id, consent_public_id = world["consent"].id, world["consent"].public_id
    session_public_id, addendum_id = world["session"].public_id, world["session"].addenda[0].id
    email = world["practitioner"].email
    _drop_all_triggers()
    _replace("consents", consent_id, photo_marketing=1)
    _replace("session_addenda", addendum_id, text="Forged: no follow-up needed.")
    sign_in(client, email)
    assert WARNING in client.get(f"/consents/{consent_public_id}").get_data(as_text=True)
    assert WARNING in client.get(f"/sessions/{session_public_id}").get_data(as_text=True)
    printed = client.get(f"/documents/consent-form/{consent_public_id}.pdf")
    assert printed.status_code == 303 and "Not printed." in client.get(printed.headers["Location"]).get_data(as_text=True)
    code, output = _verify(app)
    assert code == 1 and f"consent {consent_public_id}" in output and f"addendum {addendum_id}" in output


def test_forged_document_bytes_are_not_reprinted_and_are_named(app, client, world):
    issued_id, public_id = world["issued"].id, world["issued"].public_id
    sign_in(client, world["practitioner"].email)
    assert client.get(f"/issued/{public_id}.pdf").data == b"%PDF-1.7 the issued bytes"
    forged = b"%PDF-1.7 forged bytes"
    _drop_all_triggers()
    _replace("issued_documents", issued_id, pdf=forged, pdf_sha256=hashlib.sha256(forged).hexdigest())
    response = client.get(f"/issued/{public_id}.pdf")
    assert response.status_code == 303 and response.data != forged
    assert "does not match what was issued" in client.get(response.headers["Location"]).get_data(as_text=True)
    code, output = _verify(app)
    assert code == 1 and "document AC-T-1" in output


# -- 3. The audit chain: keyed, numbered without gaps, its head kept outside the database -----------------------


def _recompute_chain_without_the_key(from_id: int = 1) -> None:
    """What someone with only the database can do: re-hash every row with plain SHA-256 and move the head."""
    db.session.rollback()
    with db.engine.begin() as connection:
        rows = connection.execute(text("SELECT * FROM audit_events ORDER BY id")).mappings().all()
        previous = GENESIS_HASH
        for row in rows:
            values = dict(row)
            if values["id"] >= from_id:
                values["prev_hash"] = previous
                values["at"] = datetime.fromisoformat(str(values["at"])).replace(tzinfo=timezone.utc)
                values["hash"] = hashlib.sha256(canonical_bytes(values)).hexdigest()
                connection.execute(text("UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                                   {"p": values["prev_hash"], "h": values["hash"], "id": values["id"]})
            previous = values["hash"]
        connection.execute(text("UPDATE audit_chain_head SET last_event_id = :id, last_hash = :h"),
                           {"id": rows[-1]["id"], "h": previous})


def test_an_edited_row_with_the_chain_recomputed_is_named(app, world):
    _drop_all_triggers()
    _sql("UPDATE audit_events SET actor_label = 'someone else' WHERE id = 3")
    _recompute_chain_without_the_key()
    code, output = _verify(app)
    assert code == 1 and "audit row 1" in output and "keyed hash" in output


def test_moving_the_start_of_keying_is_named(app, world):
    assert _verify(app)[0] == 0  # records the head outside the database
    _drop_all_triggers()
    _sql("UPDATE audit_chain_head SET keyed_from_id = 1000000")
    _sql("UPDATE audit_events SET actor_label = 'someone else' WHERE id = 3")
    _recompute_chain_without_the_key()
    code, output = _verify(app)
    assert code == 1 and "start of keying" in output


def test_deleting_the_newest_rows_and_moving_the_head_back_is_named(app, world):
    code, _ = _verify(app)
    assert code == 0
    recorded = json.loads(Path(app.config["AUDIT_HEAD_FILE"]).read_text())
    last = recorded["last_event_id"]
    _drop_all_triggers()
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id > :keep"), {"keep": last - 2})
        kept = connection.execute(text("SELECT hash FROM audit_events WHERE id = :id"), {"id": last - 2}).scalar()
        connection.execute(text("UPDATE audit_chain_head SET last_event_id = :id, last_hash = :h"), {"id": last - 2, "h": kept})
    code, output = _verify(app)
    assert code == 1 and f"rows {last - 1} to {last} are missing" in output


def test_deleting_a_middle_row_is_named_even_with_the_links_mended(app, world):
    _drop_all_triggers()
    _sql("DELETE FROM audit_events WHERE id = 4")
    _sql("UPDATE audit_events SET prev_hash = (SELECT hash FROM audit_events WHERE id = 3) WHERE id = 5")
    code, output = _verify(app)
    assert code == 1 and "rows 4 to 4 are missing" in output


def test_deleting_a_signed_record_is_named(app, world):
    issued_id, public_id = world["issued"].id, world["issued"].public_id
    _drop_all_triggers()
    _sql("DELETE FROM issued_documents WHERE id = :id", id=issued_id)
    code, output = _verify(app)
    assert code == 1 and f"document {public_id}" in output and "missing" in output


def test_an_intact_database_verifies_and_records_its_head(app, world):
    code, output = _verify(app)
    assert code == 0 and "Audit chain intact" in output and "1 consents" in output
    path = app.config["AUDIT_HEAD_FILE"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(Path(path).read_text())["last_hash"] == db.session.scalar(text("SELECT last_hash FROM audit_chain_head"))


def test_signing_and_issuing_rows_carry_the_content_hashes(world):
    record, issued = world["session"], world["issued"]
    target = f"session:{record.public_id}"
    assert audit.sealed_details(db.session, "session.sign", target)[0]["sha256"] == record.content_sha256
    assert audit.sealed_details(db.session, "session.addendum", target)[0]["sha256"] == treatments.addendum_hash(record.addenda[0])
    assert audit.sealed_details(db.session, "document.issue", f"document:{issued.public_id}")[0]["sha256"] == issued.pdf_sha256


def test_the_audit_key_file_is_made_once_and_private(tmp_path):
    path = tmp_path / "audit.key"
    first = audit._load_key(None, str(path))
    assert len(first) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert audit._load_key(None, str(path)) == first
    assert audit._load_key("from-the-environment", str(path)) == b"from-the-environment"


def test_a_chain_verified_with_another_key_is_broken(app, world):
    assert audit.verify_chain(db.session).intact
    assert not audit.verify_chain(db.session, key=b"another key").intact


# -- 4. The head outside the database moves with every audited write, not only with audit-verify ----------------


def _head_in_database() -> tuple[int, str]:
    db.session.rollback()
    return tuple(db.session.execute(text("SELECT last_event_id, last_hash FROM audit_chain_head")).one())


def _until_recorded(path: Path, event_id: int, seconds: float = 5.0) -> None:
    """Wait (without flushing) until the recorder's timer has written this head: the path production takes."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and json.loads(path.read_text()).get("last_event_id") == event_id:
            return
        time.sleep(0.02)
    raise AssertionError(f"the head outside the database did not reach row {event_id} within {seconds} s")


def test_every_audited_write_moves_the_head_outside_the_database(app, client, world):
    path = Path(app.config["AUDIT_HEAD_FILE"])
    patient = world["patient"]
    sign_in(client, world["practitioner"].email)  # an audited write, through a real request
    last_id, last_hash = _head_in_database()
    _until_recorded(path, last_id)  # by the process's timer, within AUDIT_HEAD_INTERVAL_SECONDS
    assert json.loads(path.read_text()) == {"last_event_id": last_id, "last_hash": last_hash, "keyed_from_id": 1}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for _ in range(3):  # page views: each writes its audit row in its own short transaction
        assert client.get(f"/patients/{patient.public_id}").status_code == 200
    newest, _ = _head_in_database()
    assert newest > last_id
    _until_recorded(path, newest)
    # The attack: the newest rows deleted and the database's head moved back, with no audit-verify run since.
    keep = newest - 2
    _drop_all_triggers()
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE id > :keep"), {"keep": keep})
        kept = connection.execute(text("SELECT hash FROM audit_events WHERE id = :id"), {"id": keep}).scalar()
        connection.execute(text("UPDATE audit_chain_head SET last_event_id = :id, last_hash = :h"), {"id": keep, "h": kept})
    code, output = _verify(app)
    assert code == 1 and f"rows {keep + 1} to {newest} are missing" in output and "recorded outside the database" in output


def test_a_rolled_back_append_is_never_recorded_outside_the_database(app, world):
    from practitioner import audit_head

    path = Path(app.config["AUDIT_HEAD_FILE"])
    audit_head.flush()
    before = path.read_text()
    audit.append(db.session, "test.rolled_back", actor_label="test")
    db.session.flush()
    db.session.rollback()
    audit_head.flush()
    assert path.read_text() == before
    db.session.commit()  # a later commit with nothing appended records nothing either
    audit_head.flush()
    assert path.read_text() == before
    assert _verify(app)[0] == 0


def test_the_head_outside_the_database_only_moves_forward(tmp_path):
    from practitioner import audit_head

    path = tmp_path / "audit-head.json"
    assert audit_head.write_forward(path, 10, "a" * 64, 1)
    assert not audit_head.write_forward(path, 9, "b" * 64, 1), "an older head never replaces a newer one"
    assert not audit_head.write_forward(path, 10, "c" * 64, 1)
    assert json.loads(path.read_text()) == {"last_event_id": 10, "last_hash": "a" * 64, "keyed_from_id": 1}
    assert audit_head.write_forward(path, 11, "d" * 64, 1) and json.loads(path.read_text())["last_event_id"] == 11


def _write_heads(path: str, ids: list[int]) -> None:
    from practitioner import audit_head

    for event_id in ids:
        audit_head.write_forward(Path(path), event_id, f"{event_id:064d}", 1)


def test_worker_processes_writing_at_once_leave_the_newest_head(tmp_path):
    """Four processes record heads interleaved (as gunicorn workers committing in turn): the file ends at the
    highest, and is whole JSON throughout."""
    import multiprocessing

    path = str(tmp_path / "audit-head.json")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_heads, args=(path, list(range(start, 100, 4)))) for start in range(1, 5)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert all(worker.exitcode == 0 for worker in workers)
    assert json.loads(Path(path).read_text())["last_event_id"] == 99
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit-head.json", "audit-head.json.lock"]


# -- 4. Signed patient intakes: rewritten (with or without the hash recomputed) or deleted, each is named --------


def _intake_world(world):
    """The world's patient with a signed intake and an open one (a draft is not checked: nothing was signed)."""
    from tests.intake.factories import make_intake

    signed = make_intake(world["patient"], world["practitioner"], submitted=True)
    make_intake(world["patient"], world["practitioner"])
    return signed


def _unlock_intakes() -> None:
    """Drop every trigger, the intake's lock too (it is not one of migration 0016's tables on PostgreSQL)."""
    _drop_all_triggers()
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ALTER TABLE patient_intakes DISABLE TRIGGER USER")


def _named_intake(intake) -> str:
    from practitioner.dates import day_month_year, to_clinic_time

    return (f"the intake of patient {intake.patient.record_number} submitted on "
            f"{day_month_year(to_clinic_time(intake.submitted_at).date())}")


@pytest.mark.parametrize("recompute_hash", [False, True], ids=["hash-kept", "hash-recomputed"])
def test_a_rewritten_signed_intake_is_named_without_its_answers(app, world, recompute_hash):
    from practitioner.intake import services as intake_services

    intake = _intake_world(world)
    intake_id, named = intake.id, _named_intake(intake)
    code, output = _verify(app)
    assert code == 0 and "1 patient intakes" in output, output
    forged = json.loads(intake.answers_json)
    forged["questions"]["pregnant"]["answer"] = "yes"
    forged["hopes"]["words"] = "Forged words"
    forged_json = intake_services.canonical_json(forged)
    changes = {"answers_json": forged_json}
    if recompute_hash:
        changes["sha256"] = intake_services.content_sha256(intake.text_version, forged_json, intake.submitted_at,
                                                           intake.signature_png)
    _unlock_intakes()
    _sql(f"UPDATE patient_intakes SET {', '.join(f'{c} = :{c}' for c in changes)} WHERE id = :id",  # nosec B608  # test's own names
         id=intake_id, **changes)
    code, output = _verify(app)
    problem = ("does not match what its submission audit row sealed" if recompute_hash
               else "does not match its stored SHA-256")
    assert code == 1 and f"CHANGED {named}: the signed intake {problem}" in output, output
    assert "Forged" not in output and "pregnant" not in output and "yes" not in output.lower().split(), "no answers named"


def test_a_deleted_signed_intake_is_named(app, world):
    intake = _intake_world(world)
    intake_id, public_id = intake.id, intake.public_id
    _unlock_intakes()
    _sql("DELETE FROM patient_intakes WHERE id = :id", id=intake_id)
    code, output = _verify(app)
    assert code == 1 and f"intake {public_id}" in output and "missing" in output, output


def test_the_intakes_are_checked_in_two_statements_however_many(app, world):
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from practitioner import integrity
    from tests.intake.factories import make_intake

    def statements() -> list[str]:
        seen: list[str] = []
        listener = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
        with Session(db.engine) as session:
            session.get(audit.AuditChainHead, 1)  # the key and the head, read by every check alike
            event.listen(db.engine, "before_cursor_execute", listener)
            try:
                summary = integrity.Summary()
                findings = list(integrity._intake_findings(session, summary))
            finally:
                event.remove(db.engine, "before_cursor_execute", listener)
        assert findings == []
        return [s for s in seen if not s.startswith("BEGIN")]

    _intake_world(world)
    one = statements()
    for _ in range(3):
        make_intake(world["patient"], world["practitioner"], submitted=True)
    four = statements()
    assert len(four) == len(one) <= 3, "\n".join(four)
