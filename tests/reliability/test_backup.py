"""The backup and restore drill: an online backup while writers keep committing, then a restore of it.

Also: restore refuses a damaged file, a tampered audit trail, an unknown migration and a database
still held open by another process, and in each case leaves the current database untouched.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from practitioner import create_app
from practitioner.audit import verify_chain
from practitioner.auth.models import Role, User
from practitioner.extensions import db
from practitioner.maintenance import MaintenanceError, backup_database
from practitioner.patients.services import register_patient
from tests.conftest import make_config, make_patient, make_user
from tests.reliability.support import NOTHING_HALF_SAVED, half_saved, invoke, patient_values, scalar, sha256

pytestmark = pytest.mark.sqlite_only(reason="SQLite's online backup and file restore; PostgreSQL uses pg_dump/pg_restore")

WRITERS = 8
DRILL_SECONDS = 3.0


def _chain_of_copy(path: Path, scratch: Path):
    """verify_chain on a copy (opening a file through the app's engine settings switches it to WAL)."""
    shutil.copyfile(path, scratch)
    engine = create_engine(f"sqlite:///{scratch}", poolclass=NullPool)
    try:
        with Session(engine) as session:
            return verify_chain(session)
    finally:
        engine.dispose()


def _writer(app, user_id: int, index: int, stop: threading.Event, latencies: list, errors: list) -> None:
    with app.app_context():
        try:
            actor = db.session.get(User, user_id)
            n = 0
            while not stop.is_set():
                started = time.monotonic()
                register_patient(db.session, patient_values(f"{index}x{n}"), actor=actor, clinical=True)
                db.session.commit()
                latencies.append((started, time.monotonic() - started))
                n += 1
        except Exception as exc:  # reported by the test, never swallowed
            errors.append(repr(exc))
        finally:
            db.session.remove()


PHOTO_WRITERS = 2


def _photo_writer(app, user_id: int, consultation_id: int, consent_id: int, stop: threading.Event, taken: list, errors: list) -> None:
    """Upload photos (through store_photo, as the capture page does) until told to stop, each committed on its own.

    Each photo is taken at a review visit of its own (without a plan, which has no limit on their number): a visit
    holds only a few photographs (photos.limits), and the drill uploads as many as it can.
    """
    from practitioner.consents.models import Consent
    from practitioner.consultations.models import Consultation
    from practitioner.dates import clinic_today
    from practitioner.patients.models import Patient
    from practitioner.photos.capture import create_review_visit
    from practitioner.photos.services import store_photo
    from tests.photos.images import phone_jpeg

    data = phone_jpeg(640, 480, orientation=6)
    with app.app_context():
        try:
            actor = db.session.get(User, user_id)
            while not stop.is_set():
                consultation = db.session.get(Consultation, consultation_id)
                patient = db.session.get(Patient, consultation.patient_id)
                visit = create_review_visit(db.session, patient, visit_date=clinic_today(), plan=None, notes="", actor=actor)
                store_photo(db.session, patient=patient, visit=visit,
                            view="frontal", zone=None, moment="review", consent=db.session.get(Consent, consent_id),
                            checks={}, data=data, actor=actor)
                db.session.commit()
                taken.append(time.monotonic())
        except Exception as exc:  # reported by the test, never swallowed
            errors.append(repr(exc))
        finally:
            db.session.remove()


def _photos_whole(path: Path) -> dict[str, int]:
    """In a SQLite file: photos, image rows and 'photo.take' audit rows (equal when no photo is half saved)."""
    return {"photos": scalar(path, "SELECT count(*) FROM photos"),
            "images": scalar(path, "SELECT count(*) FROM photo_images WHERE length(image) > 0 AND length(thumbnail) > 0"),
            "audited": scalar(path, "SELECT count(*) FROM audit_events WHERE action = 'photo.take'")}


def _photo_subject() -> tuple[int, int]:
    """A patient with a consultation and a signed consent form that gives clinical photography consent."""
    import hashlib

    from practitioner.consents.models import Consent
    from tests.factories import make_consultation

    author = make_user(Role.PRACTITIONER, email="photographer@clinic.example")
    consultation = make_consultation(make_patient(author), author)
    consent = Consent(patient_id=consultation.patient_id, consultation_id=consultation.id, modality=consultation.modality,
                      content_version="drill", content_sha256=hashlib.sha256(b"drill").hexdigest(), content_text="drill",
                      photo_clinical=True, patient_typed_name="Drill Photo", signature_png=b"\x89PNG", signature_sha256="0" * 64,
                      witnessed_by_id=author.id)
    db.session.add(consent)
    db.session.commit()
    return consultation.id, consent.id


def _scratch_app(path: Path):
    return create_app(make_config(path))


def test_backup_during_writes_is_a_consistent_snapshot_and_restores(app, database_path, migrated_template, tmp_path):
    users = [make_user(Role.PRACTITIONER, email=f"writer{i}@clinic.example").id for i in range(WRITERS)]
    photo_consultation, photo_consent = _photo_subject()
    db.session.remove()
    backup = tmp_path / "backups" / "drill.sqlite3"
    stop = threading.Event()
    latencies: list = []
    errors: list = []
    photos_taken: list = []
    threads = [threading.Thread(target=_writer, args=(app, uid, i, stop, latencies, errors), daemon=True)
               for i, uid in enumerate(users)]
    # Photos uploaded all through the drill: each photo, its image and its audit row commit together.
    threads += [threading.Thread(target=_photo_writer, args=(app, users[i], photo_consultation, photo_consent, stop, photos_taken, errors),
                                 daemon=True) for i in range(PHOTO_WRITERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(DRILL_SECONDS / 3)
        before = scalar(database_path, "SELECT count(*) FROM patients")
        photos_before = scalar(database_path, "SELECT count(*) FROM photos")
        started = time.monotonic()
        result = app.test_cli_runner().invoke(args=["backup", str(backup)])
        backup_started, backup_seconds = started, time.monotonic() - started
        after = scalar(database_path, "SELECT count(*) FROM patients")
        photos_after = scalar(database_path, "SELECT count(*) FROM photos")
        time.sleep(max(0.3, DRILL_SECONDS - (time.monotonic() - started) - DRILL_SECONDS / 3))
        # On a busy machine the photo writers (each photo about half a second of image work, then the write
        # lock behind eight other writers) may not have finished one yet: the drill lasts until one has.
        deadline = time.monotonic() + 30
        while not photos_taken and not errors and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors
    assert result.exit_code == 0, result.output
    final = scalar(database_path, "SELECT count(*) FROM patients")

    # The backup: complete, checked, and a snapshot of one moment.
    manifest = json.loads((tmp_path / "backups" / "drill.sqlite3.json").read_text())
    assert scalar(backup, "PRAGMA integrity_check") == "ok"
    assert sha256(backup) == manifest["sha256"] and backup.stat().st_size == manifest["size_bytes"]
    assert not list((tmp_path / "backups").glob("*.partial*"))
    in_backup = scalar(backup, "SELECT count(*) FROM patients")
    creates_in_backup = scalar(backup, "SELECT count(*) FROM audit_events WHERE action = 'patient.create'")
    assert in_backup == creates_in_backup, "patients and their audit rows come from different moments"
    assert half_saved(backup) == NOTHING_HALF_SAVED
    assert before <= in_backup <= after < final
    report = _chain_of_copy(backup, tmp_path / "chain-check.sqlite3")
    assert report.intact and report.rows_checked == manifest["audit"]["rows"]
    assert manifest["tables"]["patients"] == in_backup
    # Photos uploaded while the backup ran are wholly in it (row, image, thumbnail, audit row) or wholly not.
    photos = _photos_whole(backup)
    assert photos["photos"] == photos["images"] == photos["audited"], photos
    assert photos_before <= photos["photos"] <= photos_after and photos_taken
    assert manifest["tables"]["photos"] == manifest["tables"]["photo_images"] == photos["photos"]
    assert manifest["alembic_revision"] == scalar(database_path, "SELECT version_num FROM alembic_version")
    assert "Audit chain: intact" in result.output and "SHA-256: " + manifest["sha256"] in result.output

    # The live database is untouched by the backup and still sound after the writers.
    assert half_saved(database_path) == NOTHING_HALF_SAVED
    assert verify_chain(db.session).intact

    # Restore it over a scratch database and compare with the manifest.
    scratch = tmp_path / "restore-here" / "practitioner.sqlite3"
    scratch.parent.mkdir()
    shutil.copyfile(migrated_template, scratch)
    scratch_app = _scratch_app(scratch)
    restored = invoke(scratch_app, "restore", str(backup), "--yes")
    assert restored.exit_code == 0, restored.output
    conn = sqlite3.connect(scratch)
    try:
        tables = {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        last_hash = conn.execute("SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    assert tables == manifest["tables"]
    assert last_hash == manifest["audit"]["last_hash"]
    with scratch_app.app_context():
        assert verify_chain(db.session).intact
        from practitioner.photos.services import verify_images

        checked = list(verify_images(db.session))
        assert len(checked) == photos["photos"] and all(problem is None for _, problem in checked)
        db.session.remove()
    assert invoke(scratch_app, "verify-photos").exit_code == 0
    with scratch_app.app_context():
        db.engine.dispose()
    kept = list(scratch.parent.glob("practitioner.sqlite3.before-restore-*"))
    assert len(kept) == 1 and scalar(kept[0], "SELECT count(*) FROM patients") == 0
    assert not list(scratch.parent.glob("*.partial*"))

    during = [lat for (at, lat) in latencies if backup_started <= at <= backup_started + backup_seconds]
    ordered = sorted(lat for _, lat in latencies)
    print(f"\nbackup drill: {WRITERS} writers, {len(latencies)} patients committed in {DRILL_SECONDS:.0f} s; "
          f"{after - before} committed while the backup ran ({backup_seconds:.2f} s wall, copy "
          f"{manifest['copy']['seconds']:.3f} s, {manifest['copy']['steps']} step(s), {manifest['copy']['restarts']} "
          f"restarts, {manifest['copy']['pages']} pages); backup has {in_backup} patients (before {before}, after "
          f"{after}, final {final}); file {manifest['size_bytes']:,} bytes; writer commit latency p50 "
          f"{ordered[len(ordered) // 2] * 1000:.0f} ms, p95 {ordered[int(len(ordered) * .95)] * 1000:.0f} ms, max "
          f"{ordered[-1] * 1000:.0f} ms overall; max {max(during, default=0) * 1000:.0f} ms during the backup; {len(photos_taken)} photos uploaded by "
          f"{PHOTO_WRITERS} writers, {photos['photos']} in the backup (before {photos_before}, after {photos_after}), all verified")


def test_stepped_copy_restarts_under_writes_and_gives_up_cleanly(app, database_path, tmp_path):
    """Small steps (the rollback-journal way): quiet, the copy completes in many steps; with writers
    committing between steps SQLite restarts it, and after max_restarts it stops with a clear message
    and leaves no file behind, or completes as a consistent snapshot."""
    users = [make_user(Role.PRACTITIONER, email=f"stepper{i}@clinic.example").id for i in range(2)]
    for _ in range(40):
        make_patient()
    db.session.remove()
    quiet = backup_database(database_path, tmp_path / "quiet.sqlite3", step_pages=8, step_sleep=0)
    assert quiet.steps > 1 and quiet.restarts == 0 and quiet.inspection.chain_intact

    stop = threading.Event()
    latencies: list = []
    errors: list = []
    threads = [threading.Thread(target=_writer, args=(app, uid, i, stop, latencies, errors), daemon=True)
               for i, uid in enumerate(users)]
    for thread in threads:
        thread.start()
    busy = tmp_path / "busy.sqlite3"
    try:
        time.sleep(0.2)
        try:
            result = backup_database(database_path, busy, step_pages=8, step_sleep=0.02, max_restarts=3)
        except MaintenanceError as exc:
            outcome = f"gave up: {exc}"
            assert "restarted 4 times" in str(exc)
            assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("busy")) == []
        else:
            outcome = f"completed in {result.steps} steps, {result.restarts} restarts"
            assert scalar(busy, "SELECT count(*) FROM patients") == scalar(
                busy, "SELECT count(*) FROM audit_events WHERE action = 'patient.create'")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors
    print(f"\nstepped copy: quiet {quiet.steps} steps, 0 restarts; under writes {outcome}")


@pytest.fixture
def small_backup(app, tmp_path) -> Path:
    """A backup of a database with a few dozen patients."""
    for _ in range(30):
        make_patient()
    db.session.remove()
    target = tmp_path / "backups" / "small.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    return target


@pytest.fixture
def current(tmp_path, migrated_template):
    """A separate app whose database (with one patient) a refused restore must leave alone."""
    path = tmp_path / "live" / "practitioner.sqlite3"
    path.parent.mkdir()
    shutil.copyfile(migrated_template, path)
    live = _scratch_app(path)
    with live.app_context():
        make_patient()
        db.session.remove()
        db.engine.dispose()
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{path}{suffix}").exists()
    return live, path


def _assert_untouched(path: Path, digest: str) -> None:
    assert sha256(path) == digest
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def _copy_without_manifest(source: Path, name: str) -> Path:
    target = source.with_name(name)
    shutil.copyfile(source, target)
    return target


def _flip_middle_page(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("VACUUM")  # no free pages left: the middle page is certainly in use
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    offset = (len(data) // page_size // 2) * page_size
    for i in range(offset, offset + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_restore_refuses_a_damaged_file(small_backup, current):
    live, path = current
    digest = sha256(path)
    damaged = _copy_without_manifest(small_backup, "damaged.sqlite3")
    _flip_middle_page(damaged)
    result = invoke(live, "restore", str(damaged), "--yes")
    assert result.exit_code == 1, result.output
    assert "integrity check failed" in result.output and "nothing was changed" in result.output
    _assert_untouched(path, digest)


def test_restore_refuses_a_file_that_does_not_match_its_manifest(small_backup, current):
    live, path = current
    digest = sha256(path)
    data = bytearray(small_backup.read_bytes())
    data[len(data) // 2] ^= 0x01
    small_backup.write_bytes(bytes(data))
    result = invoke(live, "restore", str(small_backup), "--yes")
    assert result.exit_code == 1 and "does not match its manifest" in result.output, result.output
    _assert_untouched(path, digest)


def test_restore_refuses_a_tampered_audit_trail(small_backup, current):
    live, path = current
    digest = sha256(path)
    tampered = _copy_without_manifest(small_backup, "tampered.sqlite3")
    conn = sqlite3.connect(tampered)
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("""UPDATE audit_events SET detail = '{"record_number": "P999999"}' WHERE id = 12""")
    conn.commit()
    conn.close()
    result = invoke(live, "restore", str(tampered), "--yes")
    assert result.exit_code == 1, result.output
    assert "audit chain broken: at row 12" in result.output and "nothing was changed" in result.output
    _assert_untouched(path, digest)


def test_restore_refuses_an_unknown_migration(small_backup, current):
    live, path = current
    digest = sha256(path)
    future = _copy_without_manifest(small_backup, "future.sqlite3")
    conn = sqlite3.connect(future)
    conn.execute("UPDATE alembic_version SET version_num = '0099'")
    conn.commit()
    conn.close()
    result = invoke(live, "restore", str(future), "--yes")
    assert result.exit_code == 1 and "'0099' is not one of this code's migrations" in result.output, result.output
    _assert_untouched(path, digest)


def test_restore_refuses_while_another_process_has_the_database_open(small_backup, current):
    live, path = current
    digest = sha256(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
         "c.execute('SELECT count(*) FROM patients').fetchone(); print('ready', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = invoke(live, "restore", str(small_backup), "--yes")
        assert result.exit_code == 1, result.output
        assert f"pids {holder.pid}" in result.output and "Nothing was changed" in result.output
    finally:
        holder.communicate("", timeout=10)
    _assert_untouched(path, digest)


def test_restore_asks_first_and_stops_on_no(small_backup, current):
    live, path = current
    digest = sha256(path)
    result = invoke(live, "restore", str(small_backup), input="n\n")
    assert result.exit_code == 1 and "Replace " in result.output, result.output
    _assert_untouched(path, digest)
    result = invoke(live, "restore", str(small_backup), input="y\n")
    assert result.exit_code == 0, result.output
    assert scalar(path, "SELECT count(*) FROM patients") == 30


def test_restore_sets_the_newer_audit_head_aside(small_backup, current, tmp_path):
    """The head recorded outside the database is the replaced database's: kept beside, so the restored one verifies."""
    live, path = current
    head = tmp_path / "live" / "audit-head.json"
    live.config["AUDIT_HEAD_FILE"] = str(head)
    head.write_text(json.dumps({"last_event_id": 10**6, "last_hash": "f" * 64, "keyed_from_id": 1}))
    result = invoke(live, "restore", str(small_backup), "--yes")
    assert result.exit_code == 0 and "The audit head recorded outside the database" in result.output, result.output
    assert not head.exists() and len(list(head.parent.glob("audit-head.json.before-restore-*"))) == 1
    verified = invoke(live, "audit-verify")
    assert verified.exit_code == 0, verified.output


def test_restore_refuses_a_missing_file(current, tmp_path):
    live, path = current
    digest = sha256(path)
    result = invoke(live, "restore", str(tmp_path / "nope.sqlite3"), "--yes")
    assert result.exit_code == 1 and "no backup file" in result.output
    _assert_untouched(path, digest)


def test_backup_refuses_to_overwrite_without_force(small_backup, app):
    digest = sha256(small_backup)
    again = app.test_cli_runner().invoke(args=["backup", str(small_backup)])
    assert again.exit_code == 1 and "already exists" in again.output
    assert sha256(small_backup) == digest
    forced = app.test_cli_runner().invoke(args=["backup", str(small_backup), "--force"])
    assert forced.exit_code == 0, forced.output
    assert json.loads(Path(f"{small_backup}.json").read_text())["sha256"] == sha256(small_backup)


def test_postgres_gets_the_pg_tools_instead(tmp_path):
    pg = create_app(make_config(tmp_path / "unused.sqlite3",
                                SQLALCHEMY_DATABASE_URI="postgresql+psycopg://clinic:s3cret@db.example:5432/records"))
    backup = invoke(pg, "backup", str(tmp_path / "x.dump"))
    assert backup.exit_code == 2
    assert "for SQLite" in backup.output and "pg_dump --format=custom" in backup.output and "records" in backup.output
    restore = invoke(pg, "restore", str(tmp_path / "x.dump"))
    assert restore.exit_code == 2 and "pg_restore --clean" in restore.output
    assert "s3cret" not in backup.output + restore.output
    assert not list(tmp_path.iterdir())


def test_backup_of_a_tampered_database_is_kept_but_flagged(app, tmp_path, current):
    for _ in range(5):
        make_patient()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_events_no_update")
        conn.exec_driver_sql("UPDATE audit_events SET detail = '' WHERE id = 3")
    db.session.remove()
    target = tmp_path / "evidence.sqlite3"
    result = app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 1 and "audit chain broken: at row 3" in result.output, result.output
    manifest = json.loads(Path(f"{target}.json").read_text())
    assert manifest["audit"]["chain_intact"] is False and manifest["sha256"] == sha256(target)
    live, path = current
    digest = sha256(path)
    refused = invoke(live, "restore", str(target), "--yes")
    assert refused.exit_code == 1 and "audit chain broken" in refused.output
    _assert_untouched(path, digest)
