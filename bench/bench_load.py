"""Load benchmark: gunicorn as `make run` starts it, a bounded mixed load on loopback.

- The database: a private copy of a seeded one (5,000 patients / 20,000 signed sessions by
  default, smaller than bench_pages' 20,000 / 100,000 to keep the set-up quick), with one user
  per client created through the app's own service, and two aftercare documents issued.
- The server: `gunicorn --workers 3 --threads 4 --bind 127.0.0.1:<free port> --access-logfile -
  --graceful-timeout 20 --timeout 60 wsgi:app`, the flags of `make run`, with
  PRACTITIONER_SECRET_KEY, PRACTITIONER_DATABASE_URL (the copy) and PRACTITIONER_COOKIE_SECURE=0.
- The clients: 12 threads, each with its own keep-alive connection, cookie jar and user, signed
  in through the form before the clock starts: 8 browse and search (patient list, name / phone /
  date-of-birth search, patient page), 2 print (aftercare preview rendered now, reprint of an
  issued document), 2 save forms (edit a patient with its CSRF token and version; register a
  patient). No think time: each client sends its next request when the last one is answered.
- Bounded: the clients stop sending after --seconds (60 by default); gunicorn is always stopped.
  Loopback only.

Goals: 0 errors, p95 under 250 ms over all requests, no "database is locked" in the server's log.

Run: .venv/bin/python bench/bench_load.py [--seconds 60] [--patients 5000 --sessions 20000] [--think-ms 0]
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOAL_P95_MS = 250.0
HOST = "127.0.0.1"


# -- preparing the database ------------------------------------------------------------------------


@dataclass
class Plan:
    """What the clients work on."""

    database: Path
    users: dict[str, list[str]]  # role in the load ("browse", "print", "form") -> emails
    patients: list[tuple]  # (public_id, family_name, phone, date_of_birth)
    sessions: list[str]  # signed session public ids (aftercare previews)
    issued: list[str]  # issued document public ids (reprints)


def prepare(directory: Path, patients: int, sessions: int, clients: dict[str, int]) -> Plan:
    from sqlalchemy import select

    from practitioner.auth.models import User
    from practitioner.documents import services
    from practitioner.documents.models import DocumentKind
    from practitioner.extensions import db
    from practitioner.patients.models import Patient
    from practitioner.treatments.models import TreatmentSession

    seed = common.seeded_database(patients, sessions)
    path = common.copy_database(seed.path, directory)
    app = common.build_app(path, migrate=False)
    users: dict[str, list[str]] = {}
    with app.app_context():
        for role, count in clients.items():
            users[role] = []
            for n in range(1, count + 1):
                email = f"load.{role}{n}@bench.example"
                common.create_bench_user(email, f"Load {role.title()} {n}")
                users[role].append(email)
        rows = db.session.execute(select(Patient.public_id, Patient.family_name, Patient.phone, Patient.date_of_birth)).all()
        session_ids = [str(s) for s in db.session.scalars(select(TreatmentSession.public_id).limit(2000))]
        issuer_email = "load.issuer@bench.example"  # issues the documents the printers reprint
        common.create_bench_user(issuer_email, "Load Issuer")
        issuer = db.session.scalars(select(User).where(User.email == issuer_email)).one()
        issued = []
        with app.test_request_context():
            for public_id in session_ids[:2]:
                document = services.issue_now(db.session, DocumentKind.AFTERCARE, uuid.UUID(public_id), actor=issuer,
                                              issued_on=date.today())
                issued.append(str(document.public_id))
        db.session.remove()
    common.dispose(app)
    common.checkpoint(path)
    return Plan(path, users, [tuple(r) for r in rows], session_ids, issued)


# -- the server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def make_run_flags(root: Path, workers: str, port: int) -> list[str]:
    """gunicorn's options as `make run` in `root`'s Makefile passes them (before the app), so a
    build is served with its own flags; the flags of today's Makefile when it has none."""
    import re
    import shlex

    default = ["--workers", workers, "--threads", "4", "--bind", f"{HOST}:{port}", "--access-logfile", "-",
               "--graceful-timeout", "20", "--timeout", "60"]
    try:
        text = (root / "Makefile").read_text()
    except OSError:
        return default
    match = re.search(r"exec \$\(BIN\)/gunicorn((?:[^\n]*\\\n)*[^\n]*?)\s+wsgi:app", text)
    if not match:
        return default
    flags = match.group(1).replace("\\\n", " ").replace("$(WORKERS)", workers).replace("$(PORT)", str(port))
    return shlex.split(flags)


def start_gunicorn(database: Path, port: int, logs: Path, root: Path | None = None, app: str = "wsgi:app",
                   extra_env: dict[str, str] | None = None,
                   extra_args: list[str] | None = None) -> tuple[subprocess.Popen, Path, Path]:
    """gunicorn with `make run`'s flags (read from root's Makefile); stdout (the access log) and stderr go to files.

    `root` is the checkout whose app is served (common.ROOT by default): bench_write_path.py
    serves a snapshot of an older commit this way, with this venv and PYTHONPATH on the snapshot.
    """
    root = Path(root or common.ROOT)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        gunicorn = Path(shutil.which("gunicorn") or "gunicorn")
    env = dict(os.environ)
    env.update({
        "PRACTITIONER_SECRET_KEY": secrets.token_urlsafe(48),
        "PRACTITIONER_DATABASE_URL": f"sqlite:///{database}",
        "PRACTITIONER_COOKIE_SECURE": "0",
        "FLASK_APP": "wsgi",
        "PYTHONPATH": str(root) + os.pathsep + env.get("PYTHONPATH", ""),
    })
    env.update(extra_env or {})
    workers = os.environ.get("WORKERS", "3")
    command = [str(gunicorn), *make_run_flags(root, workers, port), *(extra_args or []), app]
    out, err = logs / "gunicorn.stdout.log", logs / "gunicorn.stderr.log"
    process = subprocess.Popen(command, cwd=root, env=env, stdout=out.open("wb"), stderr=err.open("wb"),
                               stdin=subprocess.DEVNULL, start_new_session=True)
    print("server: " + " ".join(command[1:]) + f"  (pid {process.pid})", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}: {err.read_text()[-2000:]}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/sign-in")
            if connection.getresponse().status == 200:
                connection.close()
                return process, out, err
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")


def stop_gunicorn(process: subprocess.Popen) -> None:
    """SIGTERM to gunicorn's own process group (its master and workers), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


# -- the clients -----------------------------------------------------------------------------------


class FormParser(HTMLParser):
    """Every <form> of a page: its action and the values a browser would submit."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: str | None = None
        self._select: str | None = None
        self._select_first: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form["fields"][a["name"]] = a.get("value", "on")
            elif kind not in ("submit", "button", "file"):
                self._form["fields"][a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self._form["fields"][self._textarea] = ""
        elif tag == "select" and a.get("name"):
            self._select, self._select_first = a["name"], None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
                self._form["fields"].setdefault(self._select, value)
            if "selected" in a:
                self._form["fields"][self._select] = value

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data


def patient_form(html: str) -> dict[str, str]:
    """The fields of the patient form on a register or edit page (not the header's sign-out form)."""
    parser = FormParser()
    parser.feed(html)
    for form in parser.forms:
        if form["method"] == "post" and "given_name" in form["fields"]:
            fields = dict(form["fields"])
            if "address" in fields:
                fields["address"] = fields["address"].lstrip("\n")
            return fields
    raise AssertionError("no patient form on the page")


@dataclass
class Sample:
    kind: str
    status: int
    seconds: float
    started: float
    error: str = ""


class Browser:
    """One client: a keep-alive connection, a cookie jar, a signed-in user."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.connection is None:
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
        return self.connection

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, bytes]:
        headers = {"Host": f"{HOST}:{self.port}", "User-Agent": "bench_load"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            connection = self._connect()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # gunicorn closed an idle keep-alive connection: reconnect once, as a browser does.
                connection.close()
                self.connection = None
                if attempt == 2:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            pair = value.split(";", 1)[0]
            name, _, cookie = pair.partition("=")
            if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = cookie.strip()
        if response.will_close:
            connection.close()
            self.connection = None
        return response.status, dict(response.headers), data

    def sign_in(self, email: str) -> None:
        status, _, page = self.request("GET", "/sign-in")
        token = common.csrf_from(page.decode())
        status, headers, _ = self.request("POST", "/sign-in", {"email": email, "password": common.PASSWORD, "csrf_token": token})
        if status != 303:
            raise RuntimeError(f"sign-in as {email} answered {status}")


class Client(threading.Thread):
    """A load client: runs its role's loop until the deadline, recording every request."""

    def __init__(self, role: str, index: int, email: str, plan: Plan, port: int, think: float, seed: int) -> None:
        super().__init__(name=f"{role}{index}", daemon=True)
        self.role, self.index, self.email, self.plan, self.think = role, index, email, plan, think
        self.browser = Browser(port)
        self.rng = random.Random(seed)
        self.samples: list[Sample] = []
        self.warm_until = 0.0
        self.deadline = 0.0
        self.ready = threading.Event()
        self.go = threading.Event()
        self.failure: str = ""
        self.created = 0

    def timed(self, kind: str, method: str, path: str, form: dict | None = None, expect: int = 200) -> tuple[int, bytes]:
        started = time.perf_counter()
        try:
            status, headers, body = self.browser.request(method, path, form)
        except Exception as exc:  # a failed request is a result, not a crash
            self.samples.append(Sample(kind, 0, time.perf_counter() - started, started, f"{type(exc).__name__}: {exc}"))
            return 0, b""
        seconds = time.perf_counter() - started
        error = "" if status == expect else f"status {status} (expected {expect}) for {method} {path}"
        if not error and kind.startswith("pdf") and not body.startswith(b"%PDF-"):
            error = "not a PDF"
        self.samples.append(Sample(kind, status, seconds, started, error))
        return status, body

    def run(self) -> None:
        try:
            self.browser.sign_in(self.email)
        except Exception as exc:
            self.failure = f"sign-in failed: {exc}"
            self.ready.set()
            return
        self.ready.set()
        self.go.wait()
        loop = {"browse": self.browse, "print": self.print_, "form": self.forms}[self.role]
        # Warm-up (not recorded): every worker compiles its templates and loads its fonts once.
        while time.perf_counter() < self.warm_until:
            self.step(loop)
        self.samples.clear()
        while time.perf_counter() < self.deadline:
            self.step(loop)
            if self.think:
                time.sleep(self.think)

    def step(self, loop) -> None:
        """One round of the role; a page the client cannot use (no form on it...) is an error, not a dead client."""
        started = time.perf_counter()
        try:
            loop()
        except Exception as exc:
            self.samples.append(Sample("client error", 0, time.perf_counter() - started, started,
                                       f"{type(exc).__name__}: {exc}"))

    # The roles -----------------------------------------------------------------------------------

    def browse(self) -> None:
        p = self.rng.choice(self.plan.patients)
        pick = self.rng.random()
        if pick < 0.30:
            pages = max(1, len(self.plan.patients) // 25)
            page = 1 if self.rng.random() < 0.5 else self.rng.randint(2, pages)
            self.timed("list", "GET", "/patients/" + (f"?page={page}" if page > 1 else ""))
        elif pick < 0.65:
            how = self.rng.choice(("name", "phone", "dob"))
            text = {"name": p[1], "phone": p[2], "dob": f"{p[3]:%d/%m/%Y}"}[how]
            self.timed("search", "GET", "/patients/?q=" + quote(text))
        else:
            self.timed("patient page", "GET", f"/patients/{p[0]}")

    def print_(self) -> None:
        if self.rng.random() < 0.5:
            session_id = self.rng.choice(self.plan.sessions)
            self.timed("pdf preview", "GET", f"/documents/aftercare/{session_id}.pdf")
        else:
            self.timed("pdf reprint", "GET", f"/issued/{self.rng.choice(self.plan.issued)}.pdf")

    def forms(self) -> None:
        if self.rng.random() < 0.5:
            # Each form client edits its own slice of patients, so two never race for one record.
            writers = len(self.plan.users["form"])
            mine = self.plan.patients[self.index - 1::writers]
            public_id = self.rng.choice(mine[:500])[0]
            path = f"/patients/{public_id}/edit"
            status, page = self.timed("form page", "GET", path)
            if status != 200:
                return
            fields = patient_form(page.decode())
            fields["postcode"] = f"BS{self.rng.randint(1, 40)} {self.rng.randint(1, 9)}{self.rng.choice('ABDEFG')}{self.rng.choice('HJLNPQ')}"
            fields["current_medicines"] = self.rng.choice(("", "None", "Levothyroxine 75 micrograms daily", "Adapalene gel at night"))
            self.timed("edit save", "POST", path, fields, expect=303)
        else:
            status, page = self.timed("form page", "GET", "/patients/new")
            if status != 200:
                return
            fields = patient_form(page.decode())
            self.created += 1
            fields.update({
                "given_name": self.rng.choice(common.GIVEN), "family_name": f"Loadtest{self.index}x{self.created}",
                "date_of_birth": f"{self.rng.randint(1950, 2004)}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}",
                "sex": self.rng.choice(("female", "male")), "phone": f"07700 9{self.rng.randint(10000, 99999)}",
                "record_number": "", "no_known_allergies": "y", "fitzpatrick": str(self.rng.randint(1, 6)),
            })
            self.timed("create save", "POST", "/patients/new", fields, expect=303)


# -- the run ---------------------------------------------------------------------------------------


def log_lines(paths: list[Path], needle: str) -> list[str]:
    hits = []
    for path in paths:
        if path.exists():
            hits += [line for line in path.read_text(errors="replace").splitlines() if needle.lower() in line.lower()]
    return hits


def report(samples: list[Sample], elapsed: float, logs: list[Path]) -> dict:
    order = ("list", "search", "patient page", "pdf preview", "pdf reprint", "form page", "edit save", "create save")
    kinds = sorted({s.kind for s in samples}, key=lambda k: (order.index(k) if k in order else len(order), k))
    print(f"\n== {len(samples):,} requests in {elapsed:.1f} s: {len(samples) / elapsed:.1f} requests per second")
    print(f"  {'kind':14s} {'count':>6s} {'rps':>6s} {'p50 ms':>9s} {'p95 ms':>9s} {'p99 ms':>9s} {'max ms':>9s} {'errors':>6s}")
    for kind in kinds + ["all"]:
        chosen = samples if kind == "all" else [s for s in samples if s.kind == kind]
        summary = common.summarize([s.seconds for s in chosen])
        errors = sum(1 for s in chosen if s.error)
        print(f"  {kind:14s} {len(chosen):6d} {len(chosen) / elapsed:6.1f} {summary.median:9.1f} {summary.p95:9.1f} "
              f"{summary.p99:9.1f} {summary.max:9.1f} {errors:6d}")
    errors = [s for s in samples if s.error]
    for sample in errors[:10]:
        print(f"  error: {sample.kind}: {sample.error}")
    locked = log_lines(logs, "database is locked")
    tracebacks = log_lines(logs, "Traceback")
    timeouts = log_lines(logs, "WORKER TIMEOUT")
    print(f"  server log: {len(locked)} 'database is locked', {len(tracebacks)} tracebacks, {len(timeouts)} worker timeouts")
    overall = common.summarize([s.seconds for s in samples])
    verdict_errors = not errors and not tracebacks
    print(f"\n  errors: {len(errors)} (goal 0)  {'MET' if verdict_errors else 'NOT MET'}")
    print(f"  p95 over all requests: {overall.p95:.1f} ms (goal < {GOAL_P95_MS:.0f} ms)  {'MET' if overall.p95 < GOAL_P95_MS else 'NOT MET'}")
    print(f"  'database is locked' in the log: {len(locked)} (goal 0)  {'MET' if not locked else 'NOT MET'}")
    return {"rps": len(samples) / elapsed, "p95": overall.p95, "errors": len(errors), "locked": len(locked)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clients send requests (default 60)")
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--browse", type=int, default=8)
    parser.add_argument("--print", dest="printers", type=int, default=2)
    parser.add_argument("--form", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load before the clock starts (default 5)")
    parser.add_argument("--think-ms", type=float, default=0.0, help="pause between a client's requests (default none)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server's logs and database (path printed)")
    common.add_common_arguments(parser)
    args = parser.parse_args()
    if not 0 < args.seconds <= 600:
        parser.error("--seconds must be between 0 and 600")

    common.print_machine()
    directory = Path(tempfile.mkdtemp(prefix="bench-load-"))
    common.wait_for_quiet(args.wait_quiet)
    clients_by_role = {"browse": args.browse, "print": args.printers, "form": args.form}
    print(f"preparing {args.patients:,} patients / {args.sessions:,} sessions and {sum(clients_by_role.values())} users...", flush=True)
    plan = prepare(directory, args.patients, args.sessions, clients_by_role)
    port = free_port()
    process = None
    try:
        process, out, err = start_gunicorn(plan.database, port, directory)
        clients: list[Client] = []
        seed = 1
        for role, emails in plan.users.items():
            for index, email in enumerate(emails, start=1):
                clients.append(Client(role, index, email, plan, port, args.think_ms / 1000, seed))
                seed += 1
        for client in clients:
            client.start()
        for client in clients:
            client.ready.wait(120)
        failed = [c.failure for c in clients if c.failure]
        if failed:
            raise RuntimeError("; ".join(failed))
        print(f"{len(clients)} clients signed in ({args.browse} browse/search, {args.printers} print, {args.form} forms); "
              f"{args.warmup:.0f} s warm-up, then {args.seconds:.0f} s measured on {HOST}:{port}...", flush=True)
        warm_until = time.perf_counter() + args.warmup
        for client in clients:
            client.warm_until = warm_until
            client.deadline = warm_until + args.seconds
            client.go.set()
        time.sleep(max(0.0, warm_until - time.perf_counter()))
        # The server: gunicorn, its workers and the PDF render processes below them.
        def server_cpu_seconds() -> float:
            return common.process_cpu_seconds(process.pid) + common.cpu_seconds_below(process.pid)

        server_cpu = server_cpu_seconds()
        window = common.CpuWindow()
        for client in clients:
            client.join(args.warmup + args.seconds + 120)
        cpu = window.stop(server_cpu_seconds() - server_cpu)
        # The measured window: from the end of the warm-up to the last answer.
        elapsed = max((s.started + s.seconds for c in clients for s in c.samples), default=warm_until) - warm_until
        samples = [s for c in clients for s in c.samples]
        report(samples, elapsed, [out, err])
        print("  " + common.CpuWindow.line(cpu))
    finally:
        if process is not None:
            stop_gunicorn(process)
        if args.keep_logs:
            print(f"logs and database kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
