"""Shared helpers for the benchmark scripts (bench/bench_*.py).

Not a benchmark itself: `make bench` runs every bench/*.py, so running this file only prints
the machine description. What is here:

- `machine_info()`: nproc, memory, CPU model, Python, SQLite and WeasyPrint versions;
- `build_app(path)`: the real app on a SQLite file, migrated with flask_migrate.upgrade;
- `sign_in(client, email)`: GET /sign-in, read the csrf_token, POST it, as a browser does;
- `summarize(samples)`: median / p95 / min / max in milliseconds;
- `StatementCounter`: counts SQL statements through SQLAlchemy's `before_cursor_execute`;
- `seeded_database(patients, sessions)`: a bulk-seeded database file (Core executemany in
  chunks), cached under bench/.cache/ keyed by the schema revision and the seed's shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
# The checkout whose app is measured: this one, or another (BENCH_APP_ROOT=/path/to/checkout)
# to compare a candidate fix against the same cached data.
ROOT = Path(os.environ.get("BENCH_APP_ROOT") or BENCH_DIR.parent).resolve()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
SECRET = "bench-secret-key-that-is-long-enough-0123456789-abcdef"
PASSWORD = "bench password long enough 2026"
SEED_VERSION = 3  # bump when the seeder's output changes, so cached files are rebuilt
SEED_RANDOM = 20260124

# -- the machine ---------------------------------------------------------------------------------


def machine_info() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    try:
        import weasyprint

        weasy = weasyprint.__version__
    except Exception:  # pragma: no cover - only for the description
        weasy = "not installed"
    try:
        import sqlalchemy

        sqla = sqlalchemy.__version__
    except Exception:  # pragma: no cover
        sqla = "not installed"
    return {
        "nproc": str(os.cpu_count()),
        "memory": memory,
        "cpu": cpu,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "weasyprint": weasy,
        "sqlalchemy": sqla,
        "kernel": platform.release(),
    }


def app_version() -> str:
    """Which app is measured: the checkout's path and commit (with '+changes' when the tree is dirty)."""
    import subprocess

    marker = ROOT / ".commit"  # a `git archive` snapshot made for benchmarking carries its commit here
    if marker.exists():
        return f"{ROOT} at {marker.read_text().strip()[:12]} (snapshot)"
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--", "practitioner",
                                "templates", "reports", "migrations"], capture_output=True, text=True).stdout.strip()
        return f"{ROOT} at {commit}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return str(ROOT)


def cpu_speed_ms(rounds: int = 7) -> tuple[float, float]:
    """Median and min of a fixed pure-Python loop (1,000,000 additions), in ms: how fast one core runs
    Python here, so runs on different machines can be compared (the goals are in absolute ms)."""
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for number in range(1_000_000):
            total += number
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), min(samples)


def print_machine() -> None:
    """What is measured and on what, printed at the top of every benchmark."""
    print(f"app: {app_version()}", flush=True)
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()) + f"; load average {load_average()}", flush=True)
    median, fastest = cpu_speed_ms()
    print(f"cpu speed: a 1,000,000-addition Python loop takes {median:.1f} ms (median of 7, min {fastest:.1f} ms); "
          "compare it before comparing runs from different machines", flush=True)


# -- what else the machine was doing -------------------------------------------------------------

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


def _machine_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle, sum(fields[:8])


def process_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (gunicorn's workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below pid: gunicorn's workers, and below a web process its PDF forkserver,
    multiprocessing's resource tracker and the render process (practitioner/documents/pdf/pool.py)."""
    found = []
    for child in child_pids(pid):
        found += [child, *descendants(child)]
    return found


def cpu_seconds_below(pid: int) -> float:
    """user + system CPU of the processes below pid, with what they reaped (the forkserver reaps
    each retired render process, so its CPU stays counted)."""
    ticks = 0
    for child in descendants(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / _CLOCK_TICKS


class CpuWindow:
    """How busy the whole machine was during a measurement, and how much of it was ours.

    The machine is shared (other people's test suites may run beside a benchmark): 'others'
    is the machine's busy CPU minus this process and any pids handed to `stop` (the server).
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.busy0, self.total0 = _machine_jiffies()
        self.own0 = sum(os.times()[:2])
        self.load0 = load_average()

    def stop(self, extra_cpu_seconds: float = 0.0, extra_name: str = "server") -> dict[str, float | str]:
        wall = time.perf_counter() - self.started
        busy1, total1 = _machine_jiffies()
        cores = os.cpu_count() or 1
        total = max(1, total1 - self.total0)
        machine_busy = (busy1 - self.busy0) / total * cores  # cores' worth of busy CPU
        own = (sum(os.times()[:2]) - self.own0) / wall
        server = extra_cpu_seconds / wall
        return {"wall": wall, "machine_busy_cores": machine_busy, "own_cores": own, "server_cores": server, "server_name": extra_name,
                "others_cores": max(0.0, machine_busy - own - server), "load_before": self.load0, "load_after": load_average()}

    @staticmethod
    def line(result: dict[str, float | str]) -> str:
        text = (f"CPU during the run ({result['wall']:.0f} s): machine busy {result['machine_busy_cores']:.2f} of "
                f"{os.cpu_count()} cores, this benchmark {result['own_cores']:.2f}")
        if result["server_cores"]:
            text += f", {result.get('server_name', 'server')} {result['server_cores']:.2f}"
        return text + (f", other processes {result['others_cores']:.2f}; load average {result['load_before']} -> "
                       f"{result['load_after']}")


def wait_for_quiet(max_seconds: float, threshold: float = 0.5) -> None:
    """Wait (up to max_seconds) until other processes use less than `threshold` cores, so numbers are cleaner."""
    if max_seconds <= 0:
        return
    deadline = time.monotonic() + max_seconds
    while True:
        window = CpuWindow()
        time.sleep(2)
        busy = window.stop()["others_cores"]
        if busy < threshold:
            print(f"machine quiet: other processes use {busy:.2f} cores", flush=True)
            return
        if time.monotonic() > deadline:
            print(f"machine still busy after {max_seconds:.0f} s: other processes use {busy:.2f} cores; measuring anyway", flush=True)
            return


def add_common_arguments(parser) -> None:
    """--wait-quiet, shared by every benchmark."""
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS for other processes to leave the CPUs idle (default: do not wait)")


# -- timing ---------------------------------------------------------------------------------------


def percentile(samples: list[float], fraction: float) -> float:
    """Linear-interpolated percentile (fraction 0..1) of a non-empty list."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    """Milliseconds: median, p95, p99, min, max over n samples."""

    n: int
    median: float
    p95: float
    p99: float
    min: float
    max: float

    def line(self) -> str:
        return (f"n={self.n:4d}  median {self.median:8.2f} ms  p95 {self.p95:8.2f} ms  "
                f"min {self.min:8.2f} ms  max {self.max:8.2f} ms")


def summarize(samples_seconds: list[float]) -> Summary:
    """Median / p95 / p99 / min / max in milliseconds of durations given in seconds."""
    if not samples_seconds:
        return Summary(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    ms = [s * 1000.0 for s in samples_seconds]
    return Summary(len(ms), statistics.median(ms), percentile(ms, 0.95), percentile(ms, 0.99), min(ms), max(ms))


def time_calls(fn: Callable[[], Any], n: int) -> list[float]:
    """Call fn n times; the duration of each call in seconds."""
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def rss_mb() -> float:
    """This process's resident set size (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- the app ---------------------------------------------------------------------------------------


def make_config(database_path: Path, **extra: Any) -> dict[str, Any]:
    """Production-like settings (TESTING off, CSRF on) on a SQLite file, cookies over plain HTTP."""
    return {
        "TESTING": False,
        "SECRET_KEY": SECRET,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database_path}",
        "SESSION_COOKIE_SECURE": False,
        **extra,
    }


def _quiet_logging() -> None:
    import logging

    # create_app sets INFO on the root logger; alembic's and the app's INFO lines would drown the numbers.
    for name in ("alembic", "alembic.runtime.migration", "practitioner"):
        logging.getLogger(name).setLevel(logging.WARNING)


def build_app(database_path: Path, *, migrate: bool = True, **extra: Any):
    """The real app (create_app) on a SQLite file, migrated to head with flask_migrate.upgrade."""
    from practitioner import create_app

    app = create_app(make_config(database_path, **extra))
    _quiet_logging()
    app.test_client_class = isolated_client_class()
    if migrate:
        from flask_migrate import upgrade

        import logging

        logging.disable(logging.INFO)  # alembic's "Running upgrade" lines
        try:
            with app.app_context():
                upgrade()
        finally:
            logging.disable(logging.NOTSET)
    _quiet_logging()
    return app


def isolated_client_class():
    """A test client whose requests get their own app context, as real requests do (see tests/conftest.py)."""
    from flask.globals import _cv_app
    from flask.testing import FlaskClient

    class IsolatedClient(FlaskClient):
        def open(self, *args: Any, **kwargs: Any):  # type: ignore[override]
            ctx = _cv_app.get(None)
            if ctx is not None:
                ctx.pop()
            try:
                return super().open(*args, **kwargs)
            finally:
                if ctx is not None:
                    ctx.push()

    return IsolatedClient


def dispose(app) -> None:
    """Close the app's pooled connections (before copying or deleting its database file)."""
    from practitioner.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token in a page's HTML."""
    match = CSRF_RE.search(html)
    if not match:
        raise AssertionError("no csrf_token on the page")
    return match.group(1) or match.group(2)


def sign_in(client, email: str, password: str = PASSWORD) -> None:
    """Sign a Flask test client in through the real form: GET /sign-in, read csrf_token, POST."""
    page = client.get("/sign-in")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})
    if response.status_code != 303:
        raise AssertionError(f"sign-in as {email} answered {response.status_code}")


def create_bench_user(email: str, name: str, role: str = "practitioner") -> Any:
    """A committed user (inside an app context) through the app's own service, with PASSWORD."""
    from practitioner.auth.models import Role
    from practitioner.auth.services import create_user, find_user_by_email
    from practitioner.extensions import db

    existing = find_user_by_email(db.session, email)
    if existing is not None:
        return existing
    user = create_user(db.session, email=email, name=name, role=Role(role), password=PASSWORD, actor=None,
                       registration="GMC 7000000" if role == "practitioner" else None,
                       max_depth_mm=Decimal("2.00") if role == "practitioner" else None)
    db.session.commit()
    return user


# -- counting SQL statements ----------------------------------------------------------------------


class StatementCounter:
    """Count (and keep) the SQL statements an engine runs, via `before_cursor_execute`."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self.active = False

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.active:
            self.statements.append(statement)

    def __enter__(self) -> "StatementCounter":
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: Any) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._on_execute)

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[str]]:
        """Collect the statements run inside the block (into the yielded list)."""
        self.statements = []
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False

    @staticmethod
    def kinds(statements: list[str]) -> dict[str, int]:
        """How many statements of each leading keyword (SELECT, INSERT, UPDATE, BEGIN...)."""
        counts: dict[str, int] = {}
        for statement in statements:
            word = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "?"
            counts[word] = counts.get(word, 0) + 1
        return counts


# -- the bulk seeder --------------------------------------------------------------------------------

GIVEN = ("Amelia", "Olivia", "Zoë", "Chloé", "Noah", "Oliver", "Aisha", "Mei", "Luis", "José", "Siobhán", "Kwame",
         "Hannah", "Priya", "Daniel", "Sophie", "Margaret", "Björn", "Ana", "Tomás", "Ines", "Yusuf", "Freya", "Leo",
         "Grace", "Ravi", "Fatima", "Jack", "Emily", "Mateo", "Lucía", "Éamon", "Nadia", "Omar", "Isla", "Ewan")
FAMILY = ("Hart", "Okoro", "Lambert", "Shah", "O'Brien", "Mensah", "Turner", "Kowalski", "Fernández", "Rahman",
          "Bennett", "Chen", "Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Thomas", "Johnson",
          "Roberts", "Walker", "Wright", "Müller", "García", "Nowak", "Nguyen", "Patel", "Khan", "Ó Ceallaigh",
          "Lefèvre", "Andersson", "Rossi", "Silva", "Murphy", "Kelly", "Hughes", "Edwards", "Green", "Hall", "Wood")


@dataclass(frozen=True)
class SeedInfo:
    """What a seeded database holds."""

    path: Path
    patients: int
    sessions: int
    seconds: float  # time to build (0 when taken from the cache)
    cached: bool


def schema_revision() -> str:
    """Alembic's head revision plus a digest of the migration files (a schema edit misses the cache)."""
    from alembic.script import ScriptDirectory

    heads = "+".join(sorted(ScriptDirectory(str(ROOT / "migrations")).get_heads()))
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{heads}-{digest.hexdigest()[:10]}"


def _ensure_cache_dir() -> None:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)


def checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so the .sqlite3 file alone is the whole database."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(str(path) + suffix)


def seeded_database(patients: int, sessions: int, *, rebuild: bool = False, verbose: bool = True) -> SeedInfo:
    """A migrated database with `patients` patients and `sessions` signed sessions (cached).

    Each patient has one consultation (proceed), one signed consent, one plan with one zone and
    sessions // patients signed sessions with one zone each; `sessions` must be a multiple of
    `patients` so every patient has the same shape (statement counts then compare across sizes).
    The cached file is read-only by convention: use `copy_database` to get one to write to.
    """
    if sessions % patients:
        raise ValueError("sessions must be a multiple of patients")
    _ensure_cache_dir()
    target = CACHE_DIR / f"seed-{schema_revision()}-v{SEED_VERSION}-p{patients}-s{sessions}.sqlite3"
    if target.exists() and not rebuild:
        return SeedInfo(target, patients, sessions, 0.0, True)
    for stale in CACHE_DIR.glob(f"seed-*-p{patients}-s{sessions}.sqlite3"):
        stale.unlink()
    if verbose:
        print(f"seeding {patients:,} patients and {sessions:,} sessions into {target.name} (cached for next time)...", flush=True)
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="seed-", dir=CACHE_DIR)) / "seed.sqlite3"
    try:
        app = build_app(work)
        with app.app_context():
            _bulk_seed(patients, sessions // patients)
        dispose(app)
        checkpoint(work)
        os.replace(work, target)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    seconds = time.perf_counter() - start
    if verbose:
        print(f"seeded in {seconds:.1f} s ({target.stat().st_size / 1e6:.1f} MB)", flush=True)
    return SeedInfo(target, patients, sessions, seconds, False)


def copy_database(source: Path, directory: Path | None = None) -> Path:
    """A private, writable copy of a database file in a temporary directory."""
    directory = directory or Path(tempfile.mkdtemp(prefix="bench-db-"))
    target = directory / "practitioner.sqlite3"
    shutil.copyfile(source, target)
    return target


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _insert(connection, table, rows: list[dict[str, Any]]) -> None:
    # executemany: every dict has the same keys; Python-side column defaults (created_at,
    # public_id, booleans) are filled in by Core for the keys left out.
    for chunk in _chunks(rows):
        connection.execute(table.insert(), chunk)


def _bulk_seed(patient_count: int, sessions_per_patient: int) -> None:
    """Insert the rows with Core bulk inserts (inside an app context on a fresh migrated database)."""
    from sqlalchemy import update

    from practitioner.admin.services import get_settings
    from practitioner.clinical.questions import QUESTIONS
    from practitioner.consultations.models import Consultation, ConsultationArea
    # Plans and consents have their own packages; an older checkout (bench_write_path --base) has
    # them in consultations (checked by file: the editable install would import this checkout's).
    if (ROOT / "practitioner" / "consents" / "models.py").exists():
        from practitioner.consents.models import Consent
        from practitioner.plans.models import PlanZone, TreatmentPlan
    else:
        from practitioner.consultations.models import Consent, PlanZone, TreatmentPlan  # type: ignore[no-redef]
    from practitioner.extensions import db
    from practitioner.patients.models import Patient
    from practitioner.patients.services import digits, fold
    from practitioner.treatments.models import SessionZone, TreatmentSession

    rng = random.Random(SEED_RANDOM)
    settings = get_settings(db.session)
    settings.name = "Harbour Skin Clinic"
    settings.address = "3 Narrow Quay\nBristol BS1 4QA"
    settings.phone = "0117 496 0000"
    settings.email = "hello@harbourskin.example"
    settings.out_of_hours = "NHS 111, or Dr Priya Raman on 07700 900999"
    author = create_bench_user("seed.practitioner@bench.example", "Dr Seed Practitioner")
    author_id = author.id
    db.session.commit()

    now = datetime.now(timezone.utc)
    today = date.today()
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    consent_text = "I consent to microneedling of the areas discussed. (bench seed)"
    consent_sha = hashlib.sha256(consent_text.encode()).hexdigest()

    patients, consultations, areas, consents, plans, plan_zones, sessions, zones = [], [], [], [], [], [], [], []
    healthy_answers = {question.name: question.no_answer for question in QUESTIONS}
    session_id = 0
    for i in range(1, patient_count + 1):
        given = rng.choice(GIVEN)
        family = rng.choice(FAMILY)
        born = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 55 * 365))
        phone = f"07{rng.randrange(100, 999)} {rng.randrange(100000, 999999)}"
        fitz = rng.randint(1, 6)
        patients.append(dict(
            id=i, public_id=uuid.UUID(int=rng.getrandbits(128), version=4), version=1, record_number=f"P{i:06d}",
            given_name=given, family_name=family, preferred_name="", given_name_search=fold(given)[:100],
            family_name_search=fold(family)[:100], date_of_birth=born, sex=rng.choice(("female", "female", "male", "other")),
            phone=phone, phone_digits=digits(phone)[:40], phone_reversed=digits(phone)[:40][::-1], email=f"patient{i}@example.com", address=f"{i} Quay Street\nBristol",
            postcode="BS1 4DJ", fitzpatrick=fitz, no_known_allergies=True, allergies="", current_medicines="",
            created_by_id=author_id, updated_by_id=author_id, created_at=now, updated_at=now,
        ))
        first = today - timedelta(weeks=4 * sessions_per_patient + rng.randrange(1, 400))
        consultations.append(dict(
            id=i, public_id=uuid.UUID(int=rng.getrandbits(128), version=4), version=1, patient_id=i,
            practitioner_id=author_id, consultation_date=first - timedelta(days=7), modality="microneedling",
            age_at_consultation=max(18, (first - born).days // 365), fitzpatrick=fitz, device_name="SkinPen Precision",
            needle_material="stainless_steel", device_max_depth_mm=Decimal("1.5"), decision="proceed",
            created_by_id=author_id, updated_by_id=author_id, created_at=now, updated_at=now, screened_at=now,
            **healthy_answers,  # every screening question answered explicitly: none has a default
        ))
        areas.append(dict(consultation_id=i, code="cheeks"))
        consents.append(dict(
            id=i, public_id=uuid.UUID(int=rng.getrandbits(128), version=4), patient_id=i, consultation_id=i,
            modality="microneedling", content_version="bench-1", content_sha256=consent_sha, content_text=consent_text,
            patient_typed_name=f"{given} {family}", signature_png=png, signature_sha256="0" * 64,
            witnessed_by_id=author_id, signed_at=now,
        ))
        plans.append(dict(
            id=i, public_id=uuid.UUID(int=rng.getrandbits(128), version=4), patient_id=i, consultation_id=i,
            modality="microneedling", sessions_planned=min(12, sessions_per_patient + 1), interval_weeks=4,
            first_session_on=first, status="active", created_by_id=author_id, updated_by_id=author_id,
            created_at=now, updated_at=now,
        ))
        plan_zones.append(dict(id=i, plan_id=i, position=0, zone="cheeks", depth_min_mm=Decimal("1.00"), depth_max_mm=Decimal("1.50")))
        for k in range(1, sessions_per_patient + 1):
            session_id += 1
            session_date = first + timedelta(weeks=4 * (k - 1))
            sessions.append(dict(
                id=session_id, public_id=uuid.UUID(int=rng.getrandbits(128), version=4), version=1, status="draft",
                patient_id=i, plan_id=i, sequence=k, practitioner_id=author_id, session_date=session_date,
                consent_id=i, history_reviewed=True, photo_consent=False, device_make="Crown Aesthetics",
                device_model="SkinPen Precision", device_serial="SP-00123", device_max_depth_mm=Decimal("1.5"),
                cartridge_product="SkinPen cartridge", needle_count=14, cartridge_lot=f"LOT-{session_id % 97:02d}",
                cartridge_expiry=session_date + timedelta(days=200), sterile_pack_intact=True, cleanser="Gentle cleanser",
                antiseptic="Chlorhexidine 0.05%", anaesthetic_used=False, no_products_applied=True,
                endpoint="erythema_uniform", pain_score=rng.randint(1, 5), no_adverse_events=True,
                next_appointment_on=session_date + timedelta(weeks=4), clinical_note="Tolerated well.",
                rescreen_decision="proceed", created_by_id=author_id, updated_by_id=author_id, created_at=now, updated_at=now,
            ))
            zones.append(dict(id=session_id, session_id=session_id, position=0, zone="cheeks",
                              depth_mm=Decimal(rng.choice(("0.75", "1.00", "1.25", "1.50"))), passes=3, technique="glide"))

    connection = db.session.connection()
    _insert(connection, Patient.__table__, patients)
    _insert(connection, Consultation.__table__, consultations)
    _insert(connection, ConsultationArea.__table__, areas)
    _insert(connection, Consent.__table__, consents)
    _insert(connection, TreatmentPlan.__table__, plans)
    _insert(connection, PlanZone.__table__, plan_zones)
    _insert(connection, TreatmentSession.__table__, sessions)
    # Zones go in before signing: a database trigger refuses changes to a signed session's zones.
    _insert(connection, SessionZone.__table__, zones)
    table = TreatmentSession.__table__
    connection.execute(update(table).values(status="signed", signed_at=now, signed_by_id=table.c.practitioner_id,
                                            content_sha256="0" * 64))
    db.session.commit()


if __name__ == "__main__":
    print("bench/common.py holds the helpers of the bench_*.py scripts; nothing to measure here.")
    print_machine()
    print(f"schema revision key: {schema_revision()}")
