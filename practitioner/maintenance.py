"""Backup and restore of the SQLite database: `flask --app wsgi backup FILE` and `restore FILE`.

backup copies the live database with SQLite's online backup API while the app keeps running,
checks the copy (integrity, foreign keys, the audit chain), and gives it its final name only
once it is complete and on disk, with a FILE.json manifest (checksum, row counts, audit head).

restore checks a backup the same way on a scratch copy, sets the current database aside (never
deleting it), moves the checked copy into place atomically and checks it again. The app must be
stopped first: a running worker keeps writing to the database it already has open.

PostgreSQL has its own tools; for a PostgreSQL URL both commands print the one to use instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, make_url

from practitioner.database import SQLITE_BUSY_TIMEOUT_MS

SIDE_FILES = ("-wal", "-shm", "-journal")
# Printed by the commands; every table is counted in the manifest.
MAIN_TABLES = ("users", "patients", "consultations", "consents", "treatment_plans", "treatment_sessions",
               "session_addenda", "issued_documents", "audit_events")
AUTO_STEP_PAGES = 1024  # pages per step when the source is not in WAL mode (4 MiB with 4 KiB pages)
DEFAULT_STEP_SLEEP = 0.05
MAX_RESTARTS = 25


class MaintenanceError(click.ClickException):
    """A check failed or an action was refused; nothing was changed unless the message says so."""


class NotSQLite(Exception):
    """The configured database is not SQLite (so these commands do not apply)."""

    def __init__(self, url: URL) -> None:
        super().__init__(url.get_backend_name())
        self.url = url


# --- locating the database ------------------------------------------------------------------


def configured_url() -> URL:
    """The app's database URL, parsed (no engine is created, so no driver is needed)."""
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def sqlite_path() -> Path:
    """The configured SQLite file, as an absolute path; NotSQLite for any other database."""
    url = configured_url()
    if url.get_backend_name() != "sqlite":
        raise NotSQLite(url)
    from practitioner.extensions import db

    # Flask-SQLAlchemy resolves a relative SQLite path against the instance folder.
    database = db.engine.url.database
    if not database or database == ":memory:" or url.query.get("mode") == "memory":
        raise MaintenanceError("The configured SQLite database is in memory: there is no file to back up or restore.")
    return Path(os.path.abspath(database))


def _pg_connection_args(url: URL) -> str:
    parts = []
    if url.host:
        parts.append(f"--host {url.host}")
    if url.port:
        parts.append(f"--port {url.port}")
    if url.username:
        parts.append(f"--username {url.username}")
    return " ".join(parts)


def postgres_hint(url: URL, file: Path, action: str) -> str:
    """What to run instead on PostgreSQL (the password is never printed; pg tools ask or read PGPASSWORD)."""
    conn = _pg_connection_args(url)
    dbname = url.database or "DBNAME"
    if action == "backup":
        command = f"pg_dump --format=custom {conn} --file '{file}' {dbname}".replace("  ", " ")
        then = "Check it with: pg_restore --list '{}' > /dev/null".format(file)
    else:
        command = f"pg_restore --clean --if-exists --no-owner {conn} --dbname {dbname} '{file}'".replace("  ", " ")
        then = "Stop the app first; afterwards run: flask --app wsgi audit-verify"
    return (
        f"This command is for SQLite databases; the configured database is {url.get_backend_name()} "
        f"({url.render_as_string(hide_password=True)}).\n"
        f"Use PostgreSQL's own tool instead:\n  {command}\n{then}"
    )


# --- checking a database file -----------------------------------------------------------------


@dataclass
class Inspection:
    """What a database file holds and whether it can be trusted."""

    path: Path
    integrity: list[str] = field(default_factory=list)
    foreign_key_violations: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    alembic_revision: str | None = None
    audit_rows: int = 0
    audit_last_event_id: int | None = None
    audit_last_hash: str | None = None
    chain_intact: bool = False
    chain_problem: str = ""

    @property
    def integrity_ok(self) -> bool:
        """PRAGMA integrity_check said exactly 'ok'."""
        return self.integrity == ["ok"]

    def problems(self, known_revisions: set[str] | None = None) -> list[str]:
        """Every reason not to trust this file; empty when it is sound."""
        found = []
        if not self.integrity_ok:
            shown = "; ".join(self.integrity[:5]) or "no answer"
            found.append(f"integrity check failed: {shown}")
            return found  # the rest was not (or cannot be) checked on a damaged file
        if self.foreign_key_violations:
            found.append(f"{self.foreign_key_violations} rows break a foreign key")
        if not self.chain_intact:
            found.append(f"audit chain broken: {self.chain_problem}")
        if known_revisions is not None:
            if self.alembic_revision is None:
                found.append("no alembic revision recorded (not a migrated Practitioner database)")
            elif self.alembic_revision not in known_revisions:
                found.append(f"alembic revision {self.alembic_revision!r} is not one of this code's migrations "
                             f"(a newer version of Practitioner made it?)")
        return found


def _connect_plain(path: Path) -> sqlite3.Connection:
    """A bare sqlite3 connection that never creates the file."""
    conn = sqlite3.connect(path.as_uri() + "?mode=rw", uri=True, isolation_level=None,
                           timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    return conn


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def inspect_database(path: Path) -> Inspection:
    """Integrity, foreign keys, row counts, alembic revision and the audit chain of one file.

    Opening the file through SQLAlchemy switches it to WAL (the app's connection settings), so
    callers run this on a copy they own, never on a file someone else will checksum.
    """
    result = Inspection(path=path)
    try:
        conn = _connect_plain(path)
    except sqlite3.Error as exc:
        result.integrity = [f"cannot open: {exc}"]
        return result
    try:
        conn.execute("BEGIN")  # one snapshot for every count
        result.integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if not result.integrity_ok:
            return result
        result.foreign_key_violations = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for name in names:
            # An identifier cannot be a bound parameter: the name (from the file's own schema) is quoted by _quote.
            result.tables[name] = conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0]  # nosec B608  # quoted identifier
        if "alembic_version" in result.tables:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            result.alembic_revision = row[0] if row else None
        conn.execute("COMMIT")
    except sqlite3.Error as exc:  # "file is not a database", "database disk image is malformed"
        result.integrity = [str(exc)]
        return result
    finally:
        conn.close()
    if "audit_events" not in result.tables or "audit_chain_head" not in result.tables:
        result.chain_problem = "the audit trail tables are missing (not a Practitioner database?)"
        return result
    _check_chain(path, result)
    return result


def _check_chain(path: Path, result: Inspection) -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import NullPool

    from practitioner.audit import AuditEvent, verify_chain

    engine = create_engine(URL.create("sqlite", database=str(path)), poolclass=NullPool)
    try:
        with Session(engine) as session:
            report = verify_chain(session)
            last = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
        result.audit_rows = report.rows_checked
        result.audit_last_event_id, result.audit_last_hash = (last[0], last[1]) if last else (None, None)
        result.chain_intact = report.intact
        if not report.intact:
            where = f"row {report.broken_event_id}" if report.broken_event_id is not None else "the end of the chain"
            result.chain_problem = f"at {where}: {report.problem}"
    except (SQLAlchemyError, ValueError, TypeError) as exc:
        result.chain_intact = False
        result.chain_problem = f"could not be read: {exc}"
    finally:
        engine.dispose()


def known_revisions() -> tuple[set[str], set[str]]:
    """Every revision in migrations/versions, and the heads."""
    from alembic.script import ScriptDirectory

    directory = getattr(current_app.extensions.get("migrate"), "directory", None)
    if not directory:
        from practitioner.paths import MIGRATIONS_DIR

        directory = str(MIGRATIONS_DIR)
    script = ScriptDirectory(directory)
    return {rev.revision for rev in script.walk_revisions()}, set(script.get_heads())


# --- files ------------------------------------------------------------------------------------


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (None for another database or an in-memory one)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix):] in ("", ":memory:"):
        return None
    return Path(url[len(prefix):].split("?", 1)[0])


def make_private(folder: Path, database: Path | None) -> None:
    """Close the instance folder (0700) and an existing SQLite database with its -wal/-shm (0600) to other local users."""
    candidates = [(folder, 0o700)]
    if database is not None:
        candidates += [(database.with_name(database.name + suffix), 0o600) for suffix in ("", "-wal", "-shm")]
    for path, mode in candidates:
        try:
            if path.exists() and path.stat().st_uid == os.getuid():
                path.chmod(mode)
        except OSError:  # pragma: no cover - a file someone else owns stays as it is; the umask covers new ones
            pass


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every platform can open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _remove_with_side_files(path: Path) -> None:
    for suffix in ("",) + SIDE_FILES:
        try:
            os.remove(str(path) + suffix)
        except FileNotFoundError:
            pass


def _to_rollback_journal(path: Path) -> None:
    """Checkpoint and leave the file self-contained (no -wal beside it), so copies of it are complete."""
    conn = _connect_plain(path)
    try:
        conn.execute("PRAGMA journal_mode = DELETE").fetchone()
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        try:
            os.remove(str(path) + suffix)
        except FileNotFoundError:
            pass


def processes_holding(path: Path) -> list[int] | None:
    """Other processes with the database (or its -wal/-shm) open; None where /proc cannot tell (not Linux)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    real = os.path.realpath(path)
    wanted = {real, real + "-wal", real + "-shm", real + "-journal"}
    me = os.getpid()
    found = []
    with os.scandir(proc) as entries:
        pids = [int(entry.name) for entry in entries if entry.name.isdigit() and int(entry.name) != me]
    for pid in pids:
        try:
            with os.scandir(f"/proc/{pid}/fd") as fds:
                links = []
                for fd in fds:
                    try:
                        links.append(os.readlink(fd.path))
                    except OSError:
                        continue
        except OSError:  # gone, or another user's process we may not look into
            continue
        if wanted.intersection(links):
            found.append(pid)
    return sorted(found)


def _utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


# --- backup -----------------------------------------------------------------------------------


@dataclass
class BackupResult:
    """What a backup produced."""

    source: Path
    target: Path
    manifest_path: Path
    manifest: dict[str, Any]
    inspection: Inspection
    seconds: float
    steps: int
    restarts: int
    pages: int
    journal_mode: str


def backup_database(source: Path, target: Path, *, force: bool = False, step_pages: int = 0,
                    step_sleep: float = DEFAULT_STEP_SLEEP, max_restarts: int = MAX_RESTARTS) -> BackupResult:
    """Copy `source` to `target` online, check the copy, then give it its name and write the manifest.

    In WAL mode (the app's mode) the whole copy is read in one step by default: a WAL reader
    never blocks writers, and one step is one consistent snapshot. Copying in several steps
    only helps in rollback-journal mode, where a reader holds writers off; there SQLite starts
    the copy again whenever another connection writes between steps, so restarts are counted
    and the backup gives up after `max_restarts` instead of looping for ever.
    """
    source = Path(os.path.abspath(source))
    target = Path(os.path.abspath(target))
    manifest_path = target.with_name(target.name + ".json")
    partial = target.with_name(target.name + ".partial")
    if not source.is_file():
        raise MaintenanceError(f"There is no database at {source} (run `flask --app wsgi db upgrade` first?).")
    if target == source or str(target).startswith(str(source) + "-"):
        raise MaintenanceError("The backup must not be written over the live database or its -wal/-shm files.")
    if target.is_dir():
        raise MaintenanceError(f"{target} is a folder; give a file name for the backup.")
    existing = [p for p in (target, manifest_path) if p.exists()]
    if existing and not force:
        raise MaintenanceError(f"{existing[0]} already exists. Choose a new name, or pass --force to replace it.")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _remove_with_side_files(partial)  # left by an interrupted run: never a finished backup

    progress = {"steps": 0, "restarts": 0, "remaining": None, "pages": 0}

    def on_step(status: int, remaining: int, total: int) -> None:
        progress["steps"] += 1
        progress["pages"] = total
        if progress["remaining"] is not None and remaining > progress["remaining"]:
            progress["restarts"] += 1
            if progress["restarts"] > max_restarts:
                raise MaintenanceError(
                    f"The copy was restarted {progress['restarts']} times because the database kept changing "
                    "between steps. Run it again with --step-pages -1 (one step), or at a quieter time.")
        progress["remaining"] = remaining
        if remaining and step_sleep > 0:
            # Python's backup() only sleeps when a step is refused (busy); pause here so that
            # writers get the lock between steps. The step's read lock is already released.
            time.sleep(step_sleep)

    src = _connect_plain(source)
    try:
        journal_mode = src.execute("PRAGMA journal_mode").fetchone()[0].lower()
        pages = step_pages or (-1 if journal_mode == "wal" else AUTO_STEP_PAGES)
        dest = sqlite3.connect(partial, isolation_level=None)
        try:
            started = time.monotonic()
            src.backup(dest, pages=pages, progress=on_step, sleep=step_sleep)
            seconds = time.monotonic() - started
            dest.execute("PRAGMA journal_mode = DELETE").fetchone()
        finally:
            dest.close()
    except BaseException:
        _remove_with_side_files(partial)
        raise
    finally:
        src.close()

    inspection = inspect_database(partial)
    if not inspection.integrity_ok:
        raise MaintenanceError(
            "The copy failed the integrity check, so it was not given the name {}:\n  - {}\nIt is kept at {} for "
            "investigation. The live database is probably damaged too: check it with "
            "`sqlite3 {} 'PRAGMA integrity_check'`.".format(target.name, "\n  - ".join(inspection.problems()),
                                                             partial, source))
    # A broken audit chain or foreign key is kept as found (the copy is faithful, and evidence);
    # the manifest and the command say so, and restore will refuse the file.
    _to_rollback_journal(partial)
    _fsync_file(partial)
    size = partial.stat().st_size
    digest = sha256_of(partial)
    partial.chmod(0o600)  # a backup holds every record: for the account that runs the app only
    os.replace(partial, target)
    _fsync_dir(target.parent)

    manifest = {
        "format": "practitioner-sqlite-backup/1",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "file": target.name,
        "size_bytes": size,
        "sha256": digest,
        "source": str(source),
        "sqlite_version": sqlite3.sqlite_version,
        "alembic_revision": inspection.alembic_revision,
        "integrity_check": "ok",
        "foreign_key_violations": inspection.foreign_key_violations,
        "problems": inspection.problems(),
        "tables": inspection.tables,
        "audit": {
            "rows": inspection.audit_rows,
            "last_event_id": inspection.audit_last_event_id,
            "last_hash": inspection.audit_last_hash,
            "chain_intact": inspection.chain_intact,
            "chain_problem": inspection.chain_problem,
        },
        "copy": {"seconds": round(seconds, 3), "steps": progress["steps"], "restarts": progress["restarts"],
                 "pages": progress["pages"], "source_journal_mode": journal_mode},
    }
    manifest_partial = manifest_path.with_name(manifest_path.name + ".partial")
    manifest_partial.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    manifest_partial.chmod(0o600)
    _fsync_file(manifest_partial)
    os.replace(manifest_partial, manifest_path)
    _fsync_dir(target.parent)
    return BackupResult(source, target, manifest_path, manifest, inspection, seconds, progress["steps"],
                        progress["restarts"], progress["pages"], journal_mode)


# --- restore ----------------------------------------------------------------------------------


@dataclass
class RestorePlan:
    """A backup that passed its checks, copied beside the live database and ready to move in."""

    backup: Path
    target: Path
    staged: Path
    inspection: Inspection
    head: bool
    manifest: dict[str, Any] | None


def check_backup(backup: Path, target: Path) -> RestorePlan:
    """Copy the backup beside `target` and check the copy; MaintenanceError (and no copy left) if unsound."""
    backup = Path(os.path.abspath(backup))
    if not backup.is_file():
        raise MaintenanceError(f"There is no backup file at {backup}.")
    if target.exists() and os.path.samefile(backup, target):
        raise MaintenanceError("That file is the live database itself.")
    for suffix in ("-wal", "-journal"):
        side = Path(str(backup) + suffix)
        if side.exists() and side.stat().st_size > 0:
            raise MaintenanceError(
                f"{side} exists beside the backup: the file is open or was not closed cleanly, so it may be "
                f"incomplete. Open it once with sqlite3 and close it (or make a new backup) first.")
    manifest = None
    manifest_path = backup.with_name(backup.name + ".json")
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise MaintenanceError(f"The manifest {manifest_path} is not valid JSON: {exc}.") from exc
        actual = sha256_of(backup)
        if manifest.get("sha256") != actual:
            raise MaintenanceError(
                f"The backup does not match its manifest {manifest_path.name}: SHA-256 is {actual}, "
                f"the manifest says {manifest.get('sha256')}. The file was changed or damaged after the backup.")

    staged = target.with_name(f"{target.name}.restore-{_utc_stamp()}.partial")
    _remove_with_side_files(staged)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(backup, staged)
        staged.chmod(0o600)
        _fsync_file(staged)
        inspection = inspect_database(staged)
        revisions, heads = known_revisions()
        problems = inspection.problems(revisions)
        if problems:
            raise MaintenanceError("The backup was refused; nothing was changed:\n  - " + "\n  - ".join(problems))
        _to_rollback_journal(staged)
        _fsync_file(staged)
    except BaseException:
        _remove_with_side_files(staged)
        raise
    return RestorePlan(backup, target, staged, inspection, inspection.alembic_revision in heads, manifest)


def install(plan: RestorePlan) -> tuple[Path | None, Inspection]:
    """Set the live database aside (with its -wal/-shm) and move the checked copy into its place."""
    target = plan.target
    stamp = _utc_stamp()
    aside = target.with_name(f"{target.name}.before-restore-{stamp}")
    n = 1
    while any(Path(str(aside) + s).exists() for s in ("",) + SIDE_FILES):
        n += 1
        aside = target.with_name(f"{target.name}.before-restore-{stamp}-{n}")
    kept: Path | None = None
    try:
        if target.exists():
            try:
                os.link(target, aside)  # the old file keeps a name until the new one has taken its place
            except OSError:
                shutil.copy2(target, aside)
            kept = aside
        # Named <aside>-wal so that SQLite finds them if the set-aside copy is opened.
        for suffix in SIDE_FILES:
            side = Path(str(target) + suffix)
            if side.exists():
                os.replace(side, Path(str(aside) + suffix))
        os.replace(plan.staged, target)
        _fsync_dir(target.parent)
    except BaseException:
        _remove_with_side_files(plan.staged)
        raise
    return kept, inspect_database(target)


def _same_content(a: Inspection, b: Inspection) -> bool:
    return a.tables == b.tables and a.audit_last_hash == b.audit_last_hash and a.audit_rows == b.audit_rows


# --- commands ---------------------------------------------------------------------------------


def _echo_inspection(inspection: Inspection, echo: Callable[[str], None] = click.echo, head: bool | None = None) -> None:
    echo(f"Integrity check: {'ok' if inspection.integrity_ok else '; '.join(inspection.integrity[:5])}")
    echo(f"Foreign keys: {'ok' if not inspection.foreign_key_violations else f'{inspection.foreign_key_violations} violations'}")
    if inspection.chain_intact:
        echo(f"Audit chain: intact, {inspection.audit_rows:,} rows, last hash {inspection.audit_last_hash or '(none)'}")
    else:
        echo(f"Audit chain: BROKEN {inspection.chain_problem}")
    suffix = "" if head is None else (" (current)" if head else " (older than this code: run `flask --app wsgi db upgrade`)")
    echo(f"Alembic revision: {inspection.alembic_revision}{suffix}")
    main = [name for name in MAIN_TABLES if name in inspection.tables]
    if main:
        width = max(len(name) for name in main)
        echo("Rows per main table:")
        for name in main:
            echo(f"  {name:<{width}}  {inspection.tables[name]:>9,}")
        others = [name for name in inspection.tables if name not in MAIN_TABLES]
        echo(f"  ... and {len(others)} other tables, {sum(inspection.tables[n] for n in others):,} rows (all in the manifest)")


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE (and FILE.json) if they already exist.")
@click.option("--step-pages", type=int, default=0, show_default="automatic",
              help="Pages copied per step; -1 copies everything in one step. Automatic: one step in WAL mode "
                   "(readers do not block writers), 1024 otherwise.")
@click.option("--step-sleep", type=float, default=DEFAULT_STEP_SLEEP, show_default=True,
              help="Seconds to pause between steps (stepped copies only), so writers get in.")
@with_appcontext
def backup_command(file: Path, force: bool, step_pages: int, step_sleep: float) -> None:
    """Copy the SQLite database to FILE while the app keeps running, check the copy, write FILE.json."""
    try:
        source = sqlite_path()
    except NotSQLite as exc:
        click.echo(postgres_hint(exc.url, file, "backup"), err=True)
        sys.exit(2)
    click.echo(f"Backing up {source} to {file} ...")
    result = backup_database(source, file, force=force, step_pages=step_pages, step_sleep=step_sleep)
    head = result.inspection.alembic_revision in known_revisions()[1]
    click.echo(f"Copied {result.pages:,} pages from a {result.journal_mode.upper()}-mode database in "
               f"{result.steps} step(s), {result.restarts} restart(s), {result.seconds:.2f} s.")
    _echo_inspection(result.inspection, head=head)
    click.echo(f"File: {result.target} ({result.manifest['size_bytes']:,} bytes)")
    click.echo(f"SHA-256: {result.manifest['sha256']}")
    click.echo(f"Manifest: {result.manifest_path}")
    problems = result.inspection.problems()
    if problems:
        click.echo("WARNING: the live database has problems; this backup is a faithful copy of them, and restore "
                   "will refuse it:\n  - " + "\n  - ".join(problems) + "\nRun `flask --app wsgi audit-verify` and "
                   "investigate before relying on new backups.", err=True)
        sys.exit(1)
    click.echo("Keep a copy off this machine (both files).")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Restore even though other processes have the database open (not advised).")
@with_appcontext
def restore_command(file: Path, yes: bool, force: bool) -> None:
    """Replace the SQLite database with a checked backup; the current one is kept beside it. Stop the app first."""
    from practitioner.extensions import db

    try:
        target = sqlite_path()
    except NotSQLite as exc:
        click.echo(postgres_hint(exc.url, file, "restore"), err=True)
        sys.exit(2)
    db.engine.dispose()  # this process's own pooled connections, if any
    click.echo(f"Checking {file} ...")
    plan = check_backup(file, target)
    try:
        _echo_inspection(plan.inspection, head=plan.head)
        if plan.manifest:
            click.echo(f"Matches its manifest (SHA-256 {plan.manifest['sha256']}, taken {plan.manifest.get('created_at')}).")
        holders = processes_holding(target)
        if holders:
            message = (f"Other processes have {target.name} open (pids {', '.join(map(str, holders))}): the app is "
                       "probably running. Stop it first; a running worker would keep writing to the old database.")
            if not force:
                raise MaintenanceError(message + " Nothing was changed.")
            click.echo("WARNING: " + message, err=True)
        elif holders is None:
            click.echo("Make sure the app is stopped (other processes cannot be seen on this system).")
        wal = Path(str(target) + "-wal")
        if not holders and wal.exists() and wal.stat().st_size > 0:
            click.echo(f"Note: {wal.name} is not empty: the app did not stop cleanly, or is still running. "
                       "It will be kept with the set-aside copy.", err=True)
        if not yes:
            click.confirm(f"Replace {target} with {plan.backup}? The current database is kept beside it.", abort=True)
        kept, after = install(plan)
    except BaseException:
        _remove_with_side_files(plan.staged)
        raise
    if kept:
        click.echo(f"The previous database is kept at {kept}.")
    if after.problems() or not _same_content(plan.inspection, after):
        raise MaintenanceError(
            f"The restored database did not check out the same as the backup: {after.problems() or 'different contents'}. "
            f"Put the previous one back with: mv '{kept}' '{target}'")
    click.echo(f"Restored {target}: integrity ok, audit chain intact ({after.audit_rows:,} rows), "
               f"revision {after.alembic_revision}.")
    from practitioner import audit_head  # the audit head outside the database was the replaced database's

    head_aside = audit_head.set_aside(_utc_stamp())
    if head_aside is not None:
        click.echo(f"The audit head recorded outside the database (newer than the backup) is kept at {head_aside}.")
    if not plan.head:
        click.echo("The backup is from an older version: run `flask --app wsgi db upgrade` before starting the app.")
    click.echo("Start the app again.")


def init_app(app: Flask) -> None:
    """Register `backup` and `restore` on `flask --app wsgi ...`."""
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
