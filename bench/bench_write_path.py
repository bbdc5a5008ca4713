"""The write path under load: requests/s per busy core, base commit against this checkout, interleaved.

Issue 11: with 10 browsing clients and no PDFs the server used 1.17 of 2 cores while requests
waited. This script serves the same seeded database with two builds in turn, in one run, so both
see the same machine:

- base: a `git archive` snapshot of --base COMMIT (extracted under /tmp, nothing in this work
  tree or its index is touched), served with this venv and PYTHONPATH on the snapshot;
- new: this checkout (or --new COMMIT, also as a snapshot).

Each build gets its own copy of a seeded database (built by that build's own migrations and
models, cached in bench/.cache/) and one practitioner per client. gunicorn is started with the
flags of that build's `make run` (read from its Makefile), then 10 clients browse with no think time and no
PDFs: 30 % the patient list, 35 % a search (name, phone or date of birth), 35 % a patient's page
(which writes an audit row). Rounds alternate base, new, new, base, base, new...; each run has a
warm-up and a measured window. Per run it reads, from /proc/<pid>/stat, the CPU time of gunicorn's
master, workers and everything below them over the window, and prints:

- requests/s, p50 / p95;
- cores busy: the server's CPU seconds / wall seconds (goal: at least 1.8 of 2 for the new build),
  and each worker's share (one worker can use one core at most: Python's GIL);
- requests/s per busy core;
- how busy the machine was (others' CPU makes a run less comparable; load average printed).

Then medians per build and the goal lines: new cores busy >= 1.8, new / base requests/s >= 1.5.

Run: .venv/bin/python bench/bench_write_path.py --base <commit> [--rounds 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
CHECKOUT = BENCH_DIR.parent
GOAL_CORES = 1.8
GOAL_RATIO = 1.5


# -- the builds --------------------------------------------------------------------------------------


def snapshot(commit: str, parent: Path) -> tuple[Path, str]:
    """Extract COMMIT's files (git archive) into a directory; the full commit id is written to .commit."""
    full = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "--verify", f"{commit}^{{commit}}"], capture_output=True,
                          text=True, check=True).stdout.strip()
    target = parent / f"build-{full[:12]}"
    if not (target / ".commit").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(["git", "-C", str(CHECKOUT), "archive", full], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(target)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise RuntimeError(f"git archive {full} failed")
        (target / ".commit").write_text(full + "\n")
    return target, full[:12]


def describe(root: Path) -> str:
    """The commit a build is at (and whether this checkout has uncommitted changes)."""
    marker = root / ".commit"
    if marker.exists():
        return marker.read_text().strip()[:12]
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--", "practitioner", "templates",
                            "migrations", "wsgi.py"], capture_output=True, text=True).stdout.strip()
    return commit + (" + uncommitted changes" if dirty else "")


def prepare_in(root: Path, directory: Path, patients: int, sessions: int, clients: int) -> dict:
    """Run this script's --prepare step in a subprocess on `root`'s code (its models and migrations)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "plan.json"
    env = dict(os.environ, BENCH_APP_ROOT=str(root), PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--prepare", str(directory), "--patients", str(patients),
                    "--sessions", str(sessions), "--clients", str(clients)], cwd=root, env=env, check=True)
    return json.loads(out.read_text())


def prepare(directory: Path, patients: int, sessions: int, clients: int) -> None:
    """(In the subprocess.) A private copy of the seeded database, one user per client, the patients to browse."""
    from sqlalchemy import select

    import practitioner
    from practitioner.extensions import db
    from practitioner.patients.models import Patient

    if not str(Path(practitioner.__file__).resolve()).startswith(str(common.ROOT)):
        raise RuntimeError(f"practitioner imported from {practitioner.__file__}, not from {common.ROOT}")
    seed = common.seeded_database(patients, sessions)
    path = common.copy_database(seed.path, directory)
    app = common.build_app(path, migrate=False)
    with app.app_context():
        emails = []
        for n in range(1, clients + 1):
            email = f"write.browse{n}@bench.example"
            common.create_bench_user(email, f"Write Browse {n}")
            emails.append(email)
        rows = db.session.execute(select(Patient.public_id, Patient.family_name, Patient.phone, Patient.date_of_birth)).all()
        db.session.remove()
    common.dispose(app)
    common.checkpoint(path)
    (directory / "plan.json").write_text(json.dumps({
        "database": str(path), "emails": emails,
        "patients": [[str(r[0]), r[1], r[2], r[3].isoformat()] for r in rows],
    }))


# -- one run -----------------------------------------------------------------------------------------


def thread_times(pid: int) -> dict[int, tuple[str, int, int, int]]:
    """Each thread of a process: its name, its user and system CPU ticks and its context switches (/proc/<pid>/task)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            switches = sum(int(line.split()[1]) for line in (task / "status").read_text().splitlines()
                           if line.endswith("ctxt_switches") or "ctxt_switches:" in line)
            found[int(task.name)] = ((task / "comm").read_text().strip(), int(fields[11]), int(fields[12]), switches)
        except (OSError, IndexError, ValueError):  # a thread that ended between the listing and the read
            continue
    return found


def split_of(before: dict[int, dict], after: dict[int, dict], wall: float, requests: int) -> str:
    """Where the server's CPU went over the window: user and system time of gunicorn's master, of each worker's
    main thread (accepting, polling, closing sockets) and of its request threads, in ms per request, and the
    context switches of each per request."""
    parts = {"master": [0, 0, 0], "worker main": [0, 0, 0], "request threads": [0, 0, 0], "below workers": [0, 0, 0]}
    for pid, threads in after.items():
        role = before.get(pid, {}).get("role") or threads.get("role")
        for tid, times in threads.items():
            if tid == "role":
                continue
            name, user, system, switches = times
            old = before.get(pid, {}).get(tid, (name, 0, 0, 0))
            key = role if role != "worker" else ("worker main" if tid == pid else "request threads")
            parts[key][0] += user - old[1]
            parts[key][1] += system - old[2]
            parts[key][2] += switches - old[3]
    ms = 1000 / common._CLOCK_TICKS / max(requests, 1)
    return "; ".join(f"{name} {u * ms:.2f} user + {s * ms:.2f} sys, {c / max(requests, 1):.1f} switches"
                     for name, (u, s, c) in parts.items() if u or s or c) + " (per request)"


def server_threads(master: int, workers: list[int]) -> dict[int, dict]:
    """thread_times of gunicorn's master, its workers and the processes below them, each marked with its role."""
    found = {master: {"role": "master", **thread_times(master)}}
    for worker in workers:
        found[worker] = {"role": "worker", **thread_times(worker)}
        for below in common.descendants(worker):
            found[below] = {"role": "below workers", **thread_times(below)}
    return found


def one_run(label: str, root: Path, plan: dict, scratch: Path, seconds: float, warmup: float, profile: Path | None = None,
            probe: Path | None = None, server_args: list[str] | None = None, nice: int = 0, split: bool = False) -> dict:
    """Serve `root` on a fresh copy of its database, browse with the clients, measure."""
    from datetime import date

    import bench_load

    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=scratch))
    database = run_dir / "practitioner.sqlite3"
    shutil.copyfile(plan["database"], database)
    patients = [(p[0], p[1], p[2], date.fromisoformat(p[3])) for p in plan["patients"]]
    load_plan = bench_load.Plan(database, {"browse": plan["emails"]}, patients, [], [])
    port = bench_load.free_port()
    process = None
    try:
        extra = {}
        if probe is not None:  # serve bench/probe_wsgi.py's wrapped app: per-request wall, CPU and SQL times
            probe.mkdir(parents=True, exist_ok=True)
            extra = {"PROBE_OUT": str(probe / label), "PYTHONPATH": f"{root}{os.pathsep}{BENCH_DIR}"}
        process, out, err = bench_load.start_gunicorn(database, port, run_dir, root=root,
                                                      app="probe_wsgi:app" if probe is not None else "wsgi:app", extra_env=extra,
                                                      extra_args=server_args)
        if nice:
            renice(process.pid, nice)  # its session's group, and each worker already forked
            for child in common.descendants(process.pid):
                try:
                    os.setpriority(os.PRIO_PROCESS, child, nice)
                except ProcessLookupError:  # a short-lived child (a worker's helper) already gone
                    pass
        clients = [bench_load.Client("browse", i, email, load_plan, port, 0.0, 1000 + i)
                   for i, email in enumerate(plan["emails"], start=1)]
        for client in clients:
            client.start()
        for client in clients:
            client.ready.wait(120)
        failed = [c.failure for c in clients if c.failure]
        if failed:
            raise RuntimeError("; ".join(failed))
        warm_until = time.perf_counter() + warmup
        for client in clients:
            client.warm_until = warm_until
            client.deadline = warm_until + seconds
            client.go.set()
        time.sleep(max(0.0, warm_until - time.perf_counter()))

        def server_cpu() -> float:
            # gunicorn's master, its workers, and anything below them (with what they reaped).
            return common.process_cpu_seconds(process.pid) + common.cpu_seconds_below(process.pid)

        spies = []
        if profile is not None:  # where each worker's threads spend their CPU during the window
            profile.mkdir(parents=True, exist_ok=True)
            py_spy = Path(sys.executable).parent / "py-spy"
            for worker in common.child_pids(process.pid):
                target = profile / f"{label}-{len(list(profile.glob(label + '-*')))}-{worker}.txt"
                spies.append(subprocess.Popen([str(py_spy), "record", "--threads", "--format", "raw", "--rate", "50",
                                               "--duration", str(int(seconds)), "--pid", str(worker), "--output", str(target)],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        workers = common.child_pids(process.pid)

        def worker_cpu() -> list[float]:
            # Each worker with the processes below it (a PDF render process, if one started).
            return [common.process_cpu_seconds(w) + common.cpu_seconds_below(w) for w in workers]

        threads0 = server_threads(process.pid, workers) if split else {}
        cpu0, wall0, per_worker0 = server_cpu(), time.perf_counter(), worker_cpu()
        window = common.CpuWindow()
        time.sleep(seconds)
        cpu1, wall1, per_worker1 = server_cpu(), time.perf_counter(), worker_cpu()
        threads1 = server_threads(process.pid, workers) if split else {}
        machine = window.stop(cpu1 - cpu0)
        for client in clients:
            client.join(120)
        for spy in spies:
            spy.wait(60)
        samples = [s for c in clients for s in c.samples if s.started + s.seconds <= warm_until + seconds]
        errors = [s for c in clients for s in c.samples if s.error]
        logs = [out, err]
        locked = len(bench_load.log_lines(logs, "database is locked"))
        tracebacks = len(bench_load.log_lines(logs, "Traceback"))
    finally:
        if process is not None:
            bench_load.stop_gunicorn(process)
    wall = wall1 - wall0
    summary = common.summarize([s.seconds for s in samples])
    cores = (cpu1 - cpu0) / wall
    rps = len(samples) / wall
    per_worker = sorted(((b - a) / wall for a, b in zip(per_worker0, per_worker1)), reverse=True)
    result = {"workers": per_worker, "label": label, "rps": rps, "cores": cores, "rps_per_core": rps / cores if cores else float("nan"),
              "p50": summary.median, "p95": summary.p95, "requests": len(samples), "errors": len(errors), "locked": locked,
              "tracebacks": tracebacks, "machine": machine["machine_busy_cores"], "others": machine["others_cores"], "clients": machine["own_cores"],
              "load": machine["load_after"]}
    print(f"  {label:4s} {rps:7.1f} req/s  server {cores:4.2f} cores busy  {result['rps_per_core']:6.1f} req/s per busy core  "
          f"(workers {' + '.join(f'{w:.2f}' for w in per_worker)})  "
          f"p50 {summary.median:6.1f} ms  p95 {summary.p95:6.1f} ms  errors {len(errors)}  locked {locked}  tracebacks {tracebacks}  "
          f"| machine {machine['machine_busy_cores']:.2f}, clients {machine['own_cores']:.2f}, others {machine['others_cores']:.2f}, "
          f"load {machine['load_after']}",
          flush=True)
    if split:
        print(f"       split: {split_of(threads0, threads1, wall, len(samples))}", flush=True)
    for sample in errors[:3]:
        print(f"       error: {sample.kind}: {sample.error}")
    shutil.rmtree(run_dir, ignore_errors=True)
    return result


# -- the whole comparison ----------------------------------------------------------------------------


def summarize_probe(directory: Path, label: str) -> None:
    """Where the server's request time went (bench/probe_wsgi.py's records), summed over every request."""
    rows = []
    for path in directory.glob(f"{label}.*"):
        rows += [json.loads(line) for line in path.read_text().splitlines() if line]
    if not rows:
        return
    wall = sum(r["wall"] for r in rows)
    cpu = sum(r["cpu"] for r in rows)
    begin = sum(r["begin_immediate"] for r in rows)
    sql = sum(r["sql"] for r in rows)
    pids = sorted({r["pid"] for r in rows})
    per_pid = ", ".join(str(sum(1 for r in rows if r["pid"] == pid)) for pid in pids)
    print(f"  probe {label}: {len(rows)} requests over {len(pids)} workers ({per_pid}); of their summed wall time "
          f"{wall:.1f} s: thread CPU {cpu / wall:.0%}, waiting for the write lock {begin / wall:.0%}, "
          f"other SQL wall (CPU included) {sql / wall:.0%}, the rest (GIL, sockets) {(wall - cpu - begin) / wall:.0%}; "
          f"median request {statistics.median(r['wall'] for r in rows) * 1000:.1f} ms, CPU {statistics.median(r['cpu'] for r in rows) * 1000:.1f} ms")


def renice(pid: int, value: int) -> None:
    """Give a process's scheduling group (its session, under Linux's autogroups) a nice value.

    With autogroups (/proc/sys/kernel/sched_autogroup_enabled) each session shares the CPU as one,
    whatever its processes' own nice values: gunicorn runs in a session of its own, so it is the
    group that is reniced. Negative values need root.
    """
    os.setpriority(os.PRIO_PROCESS, pid, value)
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(value))
    except OSError:
        pass


def median_of(results: list[dict], key: str) -> float:
    """The median of one figure over a build's runs."""
    return statistics.median(r[key] for r in results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="the commit to compare against (the code before the fix), or a checkout's directory")
    parser.add_argument("--new", default=None, help="a commit or a checkout's directory for the new side (default: this checkout as it is)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per build, alternating (default 3)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--warmup", type=float, default=4.0, help="seconds of load before each measurement (default 4)")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--py-spy", metavar="DIR", type=Path, default=None,
                        help="record each worker with py-spy (--idle, raw stacks) into DIR during each run (py-spy not included)")
    parser.add_argument("--probe", metavar="DIR", type=Path, default=None,
                        help="serve bench/probe_wsgi.py's wrapper and write per-request timings into DIR (diagnosis)")
    parser.add_argument("--split", action="store_true",
                        help="print where the server's CPU went: user and system time of the master, each worker's main thread "
                             "and its request threads, in ms per request (diagnosis)")
    parser.add_argument("--server-args", default="", help="more gunicorn options for both builds (diagnosis), e.g. '--keep-alive 0'")
    parser.add_argument("--nice", type=int, default=0,
                        help="run the clients and servers at this nice value (negative needs root): on a shared machine, "
                             "lets them take the CPU they ask for before other people's processes do")
    parser.add_argument("--only-new", action="store_true", help="measure this checkout alone (no --base)")
    parser.add_argument("--prepare", metavar="DIR", help=argparse.SUPPRESS)  # the per-build set-up, in a subprocess
    common.add_common_arguments(parser)
    args = parser.parse_args()
    if args.prepare:
        prepare(Path(args.prepare), args.patients, args.sessions, args.clients)
        return 0
    if not args.base and not args.only_new:
        parser.error("--base COMMIT is required (or --only-new)")

    if args.nice:
        renice(os.getpid(), args.nice)
    common.print_machine()
    scratch = Path(tempfile.mkdtemp(prefix="bench-write-path-"))
    try:
        builds: dict[str, Path] = {}
        if args.base and Path(args.base).is_dir():
            builds["base"] = Path(args.base).resolve()  # a directory holding a checkout (a variant of its flags, say)
        elif args.base:
            builds["base"], _ = snapshot(args.base, Path(tempfile.gettempdir()) / "bench-write-path-builds")
        if args.new and Path(args.new).is_dir():
            builds["new"] = Path(args.new).resolve()  # a directory holding a checkout, as it is
        else:
            builds["new"] = snapshot(args.new, Path(tempfile.gettempdir()) / "bench-write-path-builds")[0] if args.new else CHECKOUT
        for label, root in builds.items():
            print(f"{label}: {root} at {describe(root)}", flush=True)
        common.wait_for_quiet(args.wait_quiet)
        plans = {}
        for label, root in builds.items():
            print(f"preparing the {label} build's database ({args.patients:,} patients / {args.sessions:,} sessions, "
                  f"{args.clients} users)...", flush=True)
            plans[label] = prepare_in(root, scratch / f"plan-{label}", args.patients, args.sessions, args.clients)
        order: list[str] = []
        labels = list(builds)
        for round_ in range(args.rounds):
            order += labels if round_ % 2 == 0 else labels[::-1]
        print(f"\n== {args.clients} clients browsing (list, search, patient page; no PDFs), gunicorn with each build's `make run` flags; "
              f"{args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured per run; order {' '.join(order)}", flush=True)
        results: dict[str, list[dict]] = {label: [] for label in builds}
        for label in order:
            results[label].append(one_run(label, builds[label], plans[label], scratch, args.seconds, args.warmup,
                                          args.py_spy, args.probe, shlex.split(args.server_args),
                                          args.nice, args.split))

        if args.probe is not None:
            for label in results:
                summarize_probe(args.probe, label)
        print("\n== medians per build")
        for label, runs in results.items():
            print(f"  {label:4s} {median_of(runs, 'rps'):7.1f} req/s  server {median_of(runs, 'cores'):4.2f} cores busy  "
                  f"{median_of(runs, 'rps_per_core'):6.1f} req/s per busy core  p50 {median_of(runs, 'p50'):6.1f} ms  "
                  f"p95 {median_of(runs, 'p95'):6.1f} ms  ({len(runs)} runs; others used {median_of(runs, 'others'):.2f} cores)")
        errors = sum(r["errors"] + r["locked"] + r["tracebacks"] for r in results["new"])
        cores = median_of(results["new"], "cores")
        print(f"\n  cores busy, new build: {cores:.2f} of {os.cpu_count()} (goal >= {GOAL_CORES})  "
              f"{'MET' if cores >= GOAL_CORES else 'NOT MET'}")
        if "base" in results:
            ratio = median_of(results["new"], "rps") / median_of(results["base"], "rps")
            print(f"  requests/s ratio new / base: {ratio:.2f} (goal >= {GOAL_RATIO})  {'MET' if ratio >= GOAL_RATIO else 'NOT MET'}")
        print(f"  errors, 'database is locked' and tracebacks, new build: {errors} (goal 0)  {'MET' if not errors else 'NOT MET'}")
        print(f"  load average at the end: {common.load_average()}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
