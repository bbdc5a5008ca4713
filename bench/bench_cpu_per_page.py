"""CPU and SQL statements per request for each page of bench_write_path.py's mix, in process, no load run.

Where a browsing request's time goes, without gunicorn or clients: the real app (create_app, TESTING
off, CSRF on) on a copy of the seeded SQLite database, one practitioner signed in through the form,
then N requests of each page the write-path bench browses:

- the patient list, page 1 and a later page;
- a search by name, by phone and by date of birth;
- a patient's page (which writes an audit row in its own short write transaction).

Each request's CPU is the thread's CPU time (time.thread_time) around the WSGI call and the reading
of its body, so the test client's own work is left out; statements are counted through SQLAlchemy's
`before_cursor_execute` (BEGIN and COMMIT included, as SQLAlchemy runs them). It prints the median and
mean CPU per page, the statements per page, and the mix the load bench uses (30 % list, 35 % search,
35 % patient page): its mean CPU per request, and the requests per second one core could serve at
that cost (an upper bound: gunicorn's HTTP parsing, the new connection per request and the access
log come on top).

--profile FILE runs cProfile over the measured requests and prints the top functions (and keeps
FILE for snakeviz / pstats); --sql prints each page's statements once.

Run: .venv/bin/python bench/bench_cpu_per_page.py [--requests 200] [--patients 5000 --sessions 20000]
     BENCH_APP_ROOT=/path/to/other/checkout .venv/bin/python bench/bench_cpu_per_page.py   (another build)
"""

from __future__ import annotations

import argparse
import cProfile
import operator
import os
import pstats
import random
import shutil
import statistics
import subprocess  # nosec B404  # the bench's own writer process
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

MIX = {"list": 0.30, "search": 0.35, "patient page": 0.35}


def read_calls() -> int:
    """How many read system calls this process has made (/proc/self/io's syscr; 0 where there is none)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("syscr:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ThreadCpu:
    """WSGI middleware: the thread CPU time of each request, the body's reading included, and its read system
    calls (SQLite reads a database page it does not hold in its own cache with one: a count the machine's load
    does not move).

    While `counting` is set the request runs inside `operator.call`, a C function nothing else in the app calls:
    under `--instructions`, callgrind counts the instructions executed inside it and nothing else.
    """

    def __init__(self, app) -> None:
        self.app = app
        self.last = 0.0
        self.last_reads = 0
        self.counting = False

    def _run(self, environ, start_response) -> bytes:
        return b"".join(self.app(environ, start_response))

    def __call__(self, environ, start_response):
        reads = read_calls()
        started = time.thread_time()
        if self.counting:
            body = operator.call(self._run, environ, start_response)
        else:
            body = self._run(environ, start_response)
        self.last = time.thread_time() - started
        self.last_reads = read_calls() - reads
        return [body]


UNDER_CALLGRIND = "BENCH_CPU_PER_PAGE_UNDER_CALLGRIND"


def count_instructions(argv: list[str], total: int) -> int:
    """Run this script again under valgrind's callgrind, counting only the measured requests' instructions
    (the machine's load does not change the count, unlike CPU time); print and return the mix's per request."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("--instructions needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-cpu-callgrind-") as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [valgrind, "--tool=callgrind", "--toggle-collect=_operator_call", f"--callgrind-out-file={out}",
                   sys.executable, str(Path(__file__).resolve()), *argv]
        started = time.perf_counter()
        done = subprocess.run(command, env=dict(os.environ, **{UNDER_CALLGRIND: "1"}), capture_output=True,  # nosec B603  # valgrind and this script, no outside input
                              text=True)
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:], sep="\n", file=sys.stderr)
            return done.returncode
        collected = [line for line in done.stderr.splitlines() if "Collected :" in line]
        instructions = int(collected[-1].rsplit(":", 1)[1])
    print(f"\n== instructions (valgrind callgrind, {time.perf_counter() - started:.0f} s): {total} requests in the mix's "
          f"proportions (30 % list, 35 % search, 35 % patient page)\n  mix: {instructions / total / 1e6:.2f} million "
          f"instructions per request")
    return 0


def mix_counts(table: dict[str, tuple[str, object]], total: int) -> dict[str, int]:
    """How many requests of each page make `total` requests in the mix's proportions (each group's share split
    evenly between its pages)."""
    in_group = {group: sum(1 for g, _ in table.values() if g == group) for group in MIX}
    return {name: max(1, round(total * MIX[group] / in_group[group])) for name, (group, _) in table.items()}


WRITER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
connection.execute("CREATE TABLE IF NOT EXISTS bench_side_writes (id INTEGER PRIMARY KEY, at REAL)")
pause = 1 / float(sys.argv[2])
while True:
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO bench_side_writes (at) VALUES (?)", (time.time(),))
    connection.execute("COMMIT")
    time.sleep(pause)
"""


def start_writer(database: Path, per_second: float) -> subprocess.Popen:
    """A process committing one small row to a side table of `database` per_second times a second."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(database), str(per_second)])  # nosec B603  # our own interpreter and text


def pages(plan: list[tuple[str, str, str, str]], rng: random.Random, per_page: int) -> dict[str, tuple[str, callable]]:
    """Each page of the mix: its group in MIX and a function giving the next URL."""
    last_page = max(2, len(plan) // per_page)

    def pick() -> tuple[str, str, str, str]:
        return rng.choice(plan)

    return {
        "list page 1": ("list", lambda: "/patients/"),
        "list page N": ("list", lambda: f"/patients/?page={rng.randint(2, last_page)}"),
        "search name": ("search", lambda: "/patients/?q=" + quote(pick()[1])),
        "search phone": ("search", lambda: "/patients/?q=" + quote(pick()[2])),
        "search dob": ("search", lambda: "/patients/?q=" + quote(pick()[3])),
        "patient page": ("patient page", lambda: f"/patients/{pick()[0]}"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page (default 200)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests per page first (default 30)")
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--profile", metavar="FILE", type=Path, default=None, help="cProfile the measured requests into FILE")
    parser.add_argument("--top", type=int, default=35, help="functions to print with --profile (default 35)")
    parser.add_argument("--sql", action="store_true", help="print each page's statements (one request's)")
    parser.add_argument("--writes-per-second", type=float, default=0.0,
                        help="another process commits this many small writes per second to the same database while the pages "
                             "are measured, as the server's other workers do under load (each commit makes every other "
                             "connection's SQLite page cache stale)")
    parser.add_argument("--instructions", type=int, metavar="N", default=0,
                        help="count instructions instead of timing: N requests in the mix's proportions, run under valgrind's "
                             "callgrind (slow: a few minutes; the count does not move with the machine's load)")
    parser.add_argument("--pages", default="", help="only these pages, comma-separated (e.g. 'patient page,search dob')")
    args = parser.parse_args()
    if args.instructions and not os.environ.get(UNDER_CALLGRIND):
        return count_instructions(sys.argv[1:], args.instructions)

    from sqlalchemy import select

    common.print_machine()
    seed = common.seeded_database(args.patients, args.sessions)
    path = common.copy_database(seed.path)
    app = common.build_app(path, migrate=False)
    from practitioner.extensions import db
    from practitioner.patients.models import Patient

    with app.app_context():
        common.create_bench_user("cpu.page@bench.example", "CPU Page")
        rows = db.session.execute(select(Patient.public_id, Patient.family_name, Patient.phone, Patient.date_of_birth)
                                  .where(Patient.archived_at.is_(None))).all()
        db.session.remove()
        engine = db.engine
    plan = [(str(r[0]), r[1], r[2], f"{r[3]:%d/%m/%Y}") for r in rows]
    writer = start_writer(path, args.writes_per_second) if args.writes_per_second else None
    meter = ThreadCpu(app.wsgi_app)
    app.wsgi_app = meter
    client = app.test_client()
    common.sign_in(client, "cpu.page@bench.example")
    rng = random.Random(20261206)  # nosec B311  # which patients to browse, repeatable; nothing secret
    table = pages(plan, rng, app.config.get("PATIENTS_PER_PAGE", 25))
    if args.pages:
        wanted = [name.strip() for name in args.pages.split(",")]
        unknown = [name for name in wanted if name not in table]
        if unknown:
            parser.error(f"unknown page {', '.join(unknown)}; the pages are: {', '.join(table)}")
        table = {name: table[name] for name in wanted}
    profiler = cProfile.Profile() if args.profile else None
    counts = mix_counts(table, args.instructions) if args.instructions else {name: args.requests for name in table}
    results: dict[str, tuple[list[float], list[int], list[int]]] = {}
    with common.StatementCounter(engine) as counter:
        for name, (_, next_url) in table.items():
            for _ in range(args.warmup):
                response = client.get(next_url())
                if response.status_code != 200:
                    raise AssertionError(f"{name}: {response.status_code}")
            cpu, statements, reads = [], [], []
            for _ in range(counts[name]):
                url = next_url()
                with counter.counting() as seen:
                    if profiler:
                        profiler.enable()
                    meter.counting = True
                    response = client.get(url)
                    meter.counting = False
                    if profiler:
                        profiler.disable()
                if response.status_code != 200:
                    raise AssertionError(f"{name}: {url} answered {response.status_code}")
                cpu.append(meter.last)
                reads.append(meter.last_reads)
                statements.append(len(seen))
            results[name] = (cpu, statements, reads)
            if args.sql:
                with counter.counting() as seen:
                    client.get(next_url())
                print(f"\n-- {name}: {len(seen)} statements")
                for statement in seen:
                    print("   " + " ".join(statement.split())[:600])
    common.dispose(app)
    if writer is not None:
        writer.terminate()
        writer.wait(10)

    print(f"\n== {args.requests} requests per page ({args.warmup} warm-up), {args.patients:,} patients; thread CPU per request")
    groups: dict[str, list[float]] = {group: [] for group in MIX}
    for name, (cpu, statements, reads) in results.items():
        groups[table[name][0]].append(statistics.mean(cpu))
        print(f"  {name:14s} CPU median {statistics.median(cpu) * 1000:6.2f} ms  mean {statistics.mean(cpu) * 1000:6.2f} ms  "
              f"SQL statements {min(statements)}" + (f"-{max(statements)}" if max(statements) != min(statements) else "")
              + f"  read calls {statistics.mean(reads):.0f}")
    if all(groups.values()):
        mix = sum(share * statistics.mean(groups[group]) for group, share in MIX.items())
        print(f"  mix (30 % list, 35 % search, 35 % patient page): {mix * 1000:.2f} ms CPU per request, "
              f"at most {1 / mix:.0f} requests/s per core before the server's own HTTP work")
    if profiler:
        profiler.dump_stats(str(args.profile))
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
