"""Pages benchmark: the patient list, searches and the patient page on a large database, in process.

Seeds (or reuses, from bench/.cache/) 20,000 patients with 100,000 signed sessions, then times
200 requests of each page through the Flask test client, signed in as a practitioner (who sees
the clinical timeline). Then the same on a 100-patient database: the SQL statements per page
must be the same at both sizes.

Goals: p95 under 50 ms for every page in process; statements per page constant whatever the size.

Run: .venv/bin/python bench/bench_pages.py [--requests 200] [--patients 20000 --sessions 100000] [--explain]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOAL_P95_MS = 50.0
SMALL = (100, 500)
PAGES = ("list page 1", "list page 50", "name search", "phone search", "date-of-birth search", "patient page")


def prepare(patients: int, sessions: int, rebuild: bool):
    """A private copy of the seeded database, the app on it, a signed-in practitioner, and the patients to pick from."""
    from sqlalchemy import select

    from practitioner.extensions import db
    from practitioner.patients.models import Patient

    seed = common.seeded_database(patients, sessions, rebuild=rebuild)
    path = common.copy_database(seed.path)
    app = common.build_app(path, migrate=False)
    with app.app_context():
        common.create_bench_user("pages.practitioner@bench.example", "Dr Pages")
        rows = db.session.execute(select(Patient.public_id, Patient.family_name, Patient.phone, Patient.date_of_birth)).all()
        db.session.remove()
    client = app.test_client()
    common.sign_in(client, "pages.practitioner@bench.example")
    return app, client, rows, path


def urls_for(kind: str, rows, rng: random.Random, last_page: int) -> str:
    row = rng.choice(rows)
    if kind == "list page 1":
        return "/patients/"
    if kind == "list page 50":
        return f"/patients/?page={min(50, last_page)}"
    if kind == "name search":
        return "/patients/?q=" + quote(row.family_name)
    if kind == "phone search":
        return "/patients/?q=" + quote(row.phone)
    if kind == "date-of-birth search":
        return "/patients/?q=" + quote(f"{row.date_of_birth:%d/%m/%Y}")
    if kind == "patient page":
        return f"/patients/{row.public_id}"
    raise ValueError(kind)


def run(app, client, rows, requests: int, seed: int) -> dict[str, dict]:
    from practitioner.extensions import db

    with app.app_context():
        engine = db.engine
    rng = random.Random(seed)
    last_page = max(1, -(-len(rows) // app.config["PATIENTS_PER_PAGE"]))
    results: dict[str, dict] = {}
    with common.StatementCounter(engine) as counter:
        for kind in PAGES:
            for _ in range(10):  # warm-up: templates, statement cache, page cache
                assert client.get(urls_for(kind, rows, rng, last_page)).status_code == 200
            samples, cpu, counts, kinds = [], [], [], {}
            for _ in range(requests):
                url = urls_for(kind, rows, rng, last_page)
                with counter.counting() as statements:
                    start, start_cpu = time.perf_counter(), time.thread_time()
                    response = client.get(url)
                    samples.append(time.perf_counter() - start)
                    cpu.append(time.thread_time() - start_cpu)
                assert response.status_code == 200, (url, response.status_code)
                counts.append(len(statements))
                kinds = common.StatementCounter.kinds(statements)
            mode = Counter(counts).most_common(1)[0][0]
            results[kind] = {"summary": common.summarize(samples), "cpu": common.summarize(cpu), "mode": mode,
                             "statements": (min(counts), max(counts)), "kinds": kinds}
    return results


def explain(app, rows) -> None:
    """SQLite's plan for the list and search statements (for diagnosis)."""
    from practitioner.extensions import db
    from practitioner.patients.services import search_statement

    row = rows[0]
    with app.app_context():
        connection = db.session.connection()
        for label, text in (("list", ""), ("name", row.family_name), ("phone", row.phone), ("dob", f"{row.date_of_birth:%d/%m/%Y}")):
            statement, _ = search_statement(text)
            compiled = statement.limit(25).offset(0).compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
            print(f"  {label}: " + " | ".join(str(p[-1]) for p in plan))
        db.session.rollback()
        db.session.remove()


def report(title: str, results: dict[str, dict]) -> None:
    print(f"\n== {title}")
    for kind in PAGES:
        r = results[kind]
        low, high = r["statements"]
        statements = f"{r['mode']}" if low == high else f"{r['mode']} ({low}-{high})"
        verdict = "MET" if r["summary"].p95 < GOAL_P95_MS else "NOT MET"
        print(f"  {kind:22s} {r['summary'].line()}  SQL/request {statements:>5s}  p95<{GOAL_P95_MS:.0f}: {verdict}")
        if low != high:
            print(f"  {'':22s} (a few requests run 2 more statements: the sign-in session's last-seen time is saved once a minute)")
        print(f"  {'':22s} CPU time: median {r['cpu'].median:8.2f} ms  p95 {r['cpu'].p95:8.2f} ms;  statements by kind: {r['kinds']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached seeded databases")
    parser.add_argument("--explain", action="store_true", help="print SQLite's query plans for the list and searches")
    common.add_common_arguments(parser)
    args = parser.parse_args()

    common.print_machine()
    common.wait_for_quiet(args.wait_quiet)
    sizes = ((args.patients, args.sessions), SMALL)
    all_results = {}
    for patients, sessions in sizes:
        app, client, rows, path = prepare(patients, sessions, args.rebuild)
        if args.explain:
            print(f"\nquery plans on {patients:,} patients:")
            explain(app, rows)
        window = common.CpuWindow()
        results = run(app, client, rows, args.requests, seed=patients)
        report(f"{patients:,} patients / {sessions:,} sessions ({args.requests} requests each, in process, signed in as a practitioner)", results)
        print("  " + common.CpuWindow.line(window.stop()))
        all_results[(patients, sessions)] = results
        common.dispose(app)
        shutil.rmtree(path.parent, ignore_errors=True)

    large, small = (all_results[size] for size in sizes)
    print(f"\n== SQL statements per request (most frequent count; min-max): {args.patients:,} patients vs {SMALL[0]} patients")
    equal = True
    for kind in PAGES:
        a, b = large[kind], small[kind]
        same = a["mode"] == b["mode"]
        equal &= same
        print(f"  {kind:22s} {a['mode']:4d} ({a['statements'][0]}-{a['statements'][1]}) vs {b['mode']:4d} "
              f"({b['statements'][0]}-{b['statements'][1]})  {'equal' if same else 'DIFFERENT'}")
    print(f"  statement counts constant across sizes: {'MET' if equal else 'NOT MET'}")
    worst = max(large[kind]["summary"].p95 for kind in PAGES)
    print(f"  worst p95 at {args.patients:,} patients: {worst:.1f} ms (goal < {GOAL_P95_MS:.0f} ms)  {'MET' if worst < GOAL_P95_MS else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
