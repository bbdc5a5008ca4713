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
import pstats
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

MIX = {"list": 0.30, "search": 0.35, "patient page": 0.35}


class ThreadCpu:
    """WSGI middleware: the thread CPU time of each request, the body's reading included."""

    def __init__(self, app) -> None:
        self.app = app
        self.last = 0.0

    def __call__(self, environ, start_response):
        started = time.thread_time()
        body = b"".join(self.app(environ, start_response))
        self.last = time.thread_time() - started
        return [body]


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
    parser.add_argument("--pages", default="", help="only these pages, comma-separated (e.g. 'patient page,search dob')")
    args = parser.parse_args()

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
    results: dict[str, tuple[list[float], list[int]]] = {}
    with common.StatementCounter(engine) as counter:
        for name, (_, next_url) in table.items():
            for _ in range(args.warmup):
                response = client.get(next_url())
                if response.status_code != 200:
                    raise AssertionError(f"{name}: {response.status_code}")
            cpu, statements = [], []
            for _ in range(args.requests):
                url = next_url()
                with counter.counting() as seen:
                    if profiler:
                        profiler.enable()
                    response = client.get(url)
                    if profiler:
                        profiler.disable()
                if response.status_code != 200:
                    raise AssertionError(f"{name}: {url} answered {response.status_code}")
                cpu.append(meter.last)
                statements.append(len(seen))
            results[name] = (cpu, statements)
            if args.sql:
                with counter.counting() as seen:
                    client.get(next_url())
                print(f"\n-- {name}: {len(seen)} statements")
                for statement in seen:
                    print("   " + " ".join(statement.split())[:600])
    common.dispose(app)

    print(f"\n== {args.requests} requests per page ({args.warmup} warm-up), {args.patients:,} patients; thread CPU per request")
    groups: dict[str, list[float]] = {group: [] for group in MIX}
    for name, (cpu, statements) in results.items():
        groups[table[name][0]].append(statistics.mean(cpu))
        print(f"  {name:14s} CPU median {statistics.median(cpu) * 1000:6.2f} ms  mean {statistics.mean(cpu) * 1000:6.2f} ms  "
              f"SQL statements {min(statements)}" + (f"-{max(statements)}" if max(statements) != min(statements) else ""))
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
