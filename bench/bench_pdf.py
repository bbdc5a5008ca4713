"""PDF benchmark: the aftercare endpoint against a bare WeasyPrint render, reprints, memory over many renders.

Goals (see bench/README.md):
- the app's overhead over a bare WeasyPrint render of the same HTML: ratio at most 1.15;
- a reprint from the archive (/issued/<id>.pdf): median under 5 ms;
- memory growth over 500 aftercare renders in one web worker: at most 10 MB.

The app renders in a separate render process, replaced every RENDERS_PER_PROCESS renders
(practitioner/documents/pdf/pool.py). So the app's CPU times add the render process's CPU for
each render to this process's, and the memory check follows this process and the processes below
it. PRACTITIONER_PDF_IN_PROCESS=1 renders in this process instead, as before, for comparison.

Run: .venv/bin/python bench/bench_pdf.py [--n 20] [--reprints 200] [--renders 500]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOAL_RATIO = 1.15
GOAL_REPRINT_MEDIAN_MS = 5.0
GOAL_GROWTH_MB = 10.0


def setup(directory: Path):
    """A fresh migrated database with the demo clinic's settings, a practitioner and one signed session."""
    from practitioner.admin.services import get_settings
    from practitioner.extensions import db
    from practitioner.patients.services import register_patient
    from tests.factories import signed_session, treatable_plan

    app = common.build_app(directory / "practitioner.sqlite3")
    with app.app_context():
        settings = get_settings(db.session)
        settings.name, settings.phone = "Harbour Skin Clinic", "0117 496 0000"
        settings.address = "3 Narrow Quay\nBristol BS1 4QA"
        settings.out_of_hours = "NHS 111, or Dr Priya Raman on 07700 900999"
        db.session.commit()
        user = common.create_bench_user("pdf.practitioner@bench.example", "Dr Priya Raman")
        patient = register_patient(db.session, {
            "given_name": "Zoë", "family_name": "Lambert", "date_of_birth": date(1979, 11, 23), "sex": "female",
            "phone": "07700 900105", "record_number": "", "fitzpatrick": 3, "no_known_allergies": True,
        }, actor=user, clinical=True)
        db.session.commit()
        plan = treatable_plan(patient, user)
        record = signed_session(plan, user, products=(("Hyaluronic glide gel", "HG-778"),))
        return app, user.email, record.public_id


def bare_inputs(app, session_id):
    """The exact HTML the endpoint renders (same builder, same render_html call) and its title and language."""
    from practitioner.documents import services
    from practitioner.documents.models import DocumentKind
    from practitioner.documents.pdf.html import render_html
    from practitioner.extensions import db
    from practitioner.dates import clinic_today

    with app.test_request_context():
        spec = services.build(db.session, DocumentKind.AFTERCARE, session_id, clinic_today())
        db.session.rollback()
        html = render_html(spec.template, spec.context, title=spec.title, paper=spec.paper, large_print=False,
                           with_logo=spec.logo_png is not None)
        db.session.remove()
    return spec, html


class RenderCpu:
    """CPU seconds the render process spent on the app's renders (it reports them with each PDF)."""

    def __init__(self) -> None:
        from practitioner.documents.pdf import pool as rendering

        self.seconds = 0.0
        original = rendering.render_isolated

        def recording(*args, **kwargs):
            result = original(*args, **kwargs)
            self.seconds += result.cpu
            return result

        rendering.render_isolated = recording  # pdf_from_html looks it up at each call


RENDER_CPU: RenderCpu | None = None


def cpu_now() -> float:
    """CPU seconds of this process (all threads: the render pool's queue threads too) plus the render process's."""
    return time.process_time() + (RENDER_CPU.seconds if RENDER_CPU else 0.0)


def _proc_kb(pid: int, field: str, name: str = "status") -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0  # gone, or a zombie


def process_role(pid: int) -> str:
    """forkserver, render (a process the forkserver forked), tracker (multiprocessing's resource tracker) or other."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return "gone"
    if "resource_tracker" in command:
        return "tracker"
    if "forkserver" in command:
        return "forkserver" if parent == os.getpid() else "render"
    return "other"


def memory_snapshot() -> dict:
    """In MB: VmRSS of this (web) process and of each process below it, and the tree's RSS and PSS."""
    web = _proc_kb(os.getpid(), "VmRSS") / 1024
    others = {pid: (process_role(pid), _proc_kb(pid, "VmRSS") / 1024) for pid in common.descendants(os.getpid())}
    children = sum(rss for _, rss in others.values())
    pss = sum(_proc_kb(pid, "Pss", "smaps_rollup") for pid in (os.getpid(), *others)) / 1024
    return {"web": web, "children": children, "tree": web + children, "pss": pss, "processes": others}


def page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def bench_aftercare(app, client, session_id, n: int) -> dict:
    from weasyprint import HTML

    from practitioner.documents import services
    from practitioner.documents.models import DocumentKind
    from practitioner.documents.pdf.html import render_html
    from practitioner.documents.pdf.pool import pdf_from_html
    from practitioner.documents.pdf.worker import REPORTS_DIR, font_configuration
    from practitioner.extensions import db
    from practitioner.dates import clinic_today

    url = f"/documents/aftercare/{session_id}.pdf"
    spec, html = bare_inputs(app, session_id)
    base_url = REPORTS_DIR.resolve().as_uri() + "/"
    # The process's shared FontConfiguration (the app's render process has its own): two font maps
    # used in turn in one process make each render after a switch pay for re-warming Pango's caches
    # (measured: about 50 ms), which would bias whichever variant follows a switch.
    font_config = font_configuration()

    def endpoint() -> bytes:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "application/pdf", response.status_code
        return response.data

    def bare() -> bytes:
        return HTML(string=html, base_url=base_url).write_pdf(font_config=font_config)

    def bare_same_options() -> bytes:
        # What WeasyPrint itself costs for the app's output options: PDF/A-3u with tags.
        document = HTML(string=html, base_url=base_url).render(font_config=font_config)
        return document.write_pdf(pdf_variant="pdf/a-3u", pdf_tags=True)

    def app_pdf_from_html() -> bytes:
        # The app's render function on the same HTML (fetcher, lock, log capture, finisher): no DB, no Flask.
        return pdf_from_html(html, title=spec.title, language="en", logo_png=spec.logo_png, label="aftercare.html")

    def build_only() -> None:
        with app.test_request_context():
            built = services.build(db.session, DocumentKind.AFTERCARE, session_id, clinic_today())
            db.session.commit()
            render_html(built.template, built.context, title=built.title, paper=built.paper, with_logo=built.logo_png is not None)
            db.session.remove()

    # Warm-up: templates, fonts, the FontConfigurations, the connection pool.
    app_pdf = endpoint()
    for fn in (endpoint, bare, bare_same_options, app_pdf_from_html, build_only):
        for _ in range(3):
            fn()
    names = ("endpoint", "bare", "bare_same_options", "app_pdf_from_html", "build_only")
    samples: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    # Interleaved, so drift (CPU frequency, other processes) hits every variant alike. CPU time is
    # kept too: unlike wall time it does not grow when other processes take the CPUs, so its ratio
    # stays meaningful on a busy machine. It is this process's, all threads, plus the render
    # process's for each render (cpu_now).
    for _ in range(n):
        for name, fn in (("endpoint", endpoint), ("bare", bare), ("bare_same_options", bare_same_options),
                         ("app_pdf_from_html", app_pdf_from_html), ("build_only", build_only)):
            gc.collect()  # each variant starts from the same heap: no collection left over from the previous one
            start, start_cpu = time.perf_counter(), cpu_now()
            fn()
            samples[name].append(time.perf_counter() - start)
            cpu[name].append(cpu_now() - start_cpu)
    summaries = {name: common.summarize(values) for name, values in samples.items()}
    summaries.update({f"{name}_cpu": common.summarize(values) for name, values in cpu.items()})
    # The same two again in blocks (all endpoint requests, then all bare renders): interleaving
    # makes the bare render pay for whatever the request before it disturbed, which can flatter
    # the ratio; blocks give the conservative figure.
    for name, fn in (("endpoint", endpoint), ("bare", bare)):
        values = []
        for _ in range(n):
            gc.collect()
            start = time.perf_counter()
            fn()
            values.append(time.perf_counter() - start)
        summaries[f"{name}_block"] = common.summarize(values)
    bare_pdf = bare()
    return {"summaries": summaries, "pages": page_count(app_pdf), "bare_pages": page_count(bare_pdf),
            "bytes": len(app_pdf), "bare_bytes": len(bare_pdf), "html_chars": len(html)}


def bench_aftercare_large(n: int) -> dict:
    """The same comparison on a large database: does building the document grow with the data?"""
    from sqlalchemy import select
    from weasyprint import HTML

    from practitioner.documents.pdf.worker import REPORTS_DIR, font_configuration
    from practitioner.extensions import db
    from practitioner.treatments.models import TreatmentSession

    seed = common.seeded_database(20_000, 100_000)
    path = common.copy_database(seed.path)
    app = common.build_app(path, migrate=False)
    with app.app_context():
        common.create_bench_user("pdf.large@bench.example", "Dr Large")
        ids = list(db.session.scalars(select(TreatmentSession.public_id)))
        db.session.remove()
    client = app.test_client()
    common.sign_in(client, "pdf.large@bench.example")
    rng = random.Random(7)
    chosen = [rng.choice(ids) for _ in range(n)]
    htmls = [bare_inputs(app, session_id)[1] for session_id in chosen]
    base_url = REPORTS_DIR.resolve().as_uri() + "/"
    font_config = font_configuration()  # the app's shared one (see bench_aftercare)
    for session_id, html in zip(chosen[:2], htmls[:2]):  # warm-up
        client.get(f"/documents/aftercare/{session_id}.pdf")
        HTML(string=html, base_url=base_url).write_pdf(font_config=font_config)
    samples: dict[str, list[float]] = {"endpoint": [], "bare": [], "build_only": []}
    cpu: dict[str, list[float]] = {"endpoint": [], "bare": [], "build_only": []}

    def timed(name: str, fn) -> None:
        gc.collect()
        start, start_cpu = time.perf_counter(), cpu_now()
        fn()
        samples[name].append(time.perf_counter() - start)
        cpu[name].append(cpu_now() - start_cpu)

    for session_id, html in zip(chosen, htmls):
        timed("endpoint", lambda: client.get(f"/documents/aftercare/{session_id}.pdf"))
        timed("bare", lambda: HTML(string=html, base_url=base_url).write_pdf(font_config=font_config))
        timed("build_only", lambda: bare_inputs(app, session_id))
    blocks: dict[str, list[float]] = {"endpoint": [], "bare": []}
    for session_id in chosen:
        gc.collect()
        start = time.perf_counter()
        client.get(f"/documents/aftercare/{session_id}.pdf")
        blocks["endpoint"].append(time.perf_counter() - start)
    for html in htmls:
        gc.collect()
        start = time.perf_counter()
        HTML(string=html, base_url=base_url).write_pdf(font_config=font_config)
        blocks["bare"].append(time.perf_counter() - start)
    common.dispose(app)
    shutil.rmtree(path.parent, ignore_errors=True)
    result = {name: common.summarize(values) for name, values in samples.items()}
    result.update({f"{name}_cpu": common.summarize(values) for name, values in cpu.items()})
    result.update({f"{name}_block": common.summarize(values) for name, values in blocks.items()})
    return result


def issue_once(client, session_id) -> str:
    """Issue the aftercare through the real form route; the reprint URL it redirects to."""
    page = client.get("/patients/new")
    token = common.csrf_from(page.get_data(as_text=True))
    response = client.post(f"/documents/aftercare/{session_id}/issue", data={"csrf_token": token})
    assert response.status_code == 303, response.status_code
    return response.headers["Location"]


def bench_reprint(app, client, session_id, count: int) -> dict:
    from practitioner.extensions import db

    location = issue_once(client, session_id)
    path = location.split("://", 1)[-1]
    path = path[path.index("/"):] if not location.startswith("/") else location
    for _ in range(10):
        assert client.get(path).status_code == 200
    samples = []
    with app.app_context():
        engine = db.engine
    with common.StatementCounter(engine) as counter:
        cpu = []
        for _ in range(count):
            start, start_cpu = time.perf_counter(), time.thread_time()
            response = client.get(path)
            samples.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
            assert response.status_code == 200 and response.data[:5] == b"%PDF-"
        with counter.counting() as statements:
            client.get(path)
    return {"summary": common.summarize(samples), "cpu": common.summarize(cpu), "statements": len(statements),
            "kinds": common.StatementCounter.kinds(statements), "path": path}


def bench_memory(client, session_id, renders: int, warmup: int = 20, every: int = 100, peek: int = 10) -> dict:
    """Memory of the web process and of the processes below it over `renders` requests, after `warmup`.

    Sampled every `every` renders after gc.collect(), and every `peek` renders without: the render
    process grows until it is replaced, so the tree's peak matters as well as its end. The run
    starts with a new render process and the first sample is taken while it is still the one
    rendering (after `warmup` renders, fewer if it is replaced sooner), never while its
    successor is starting.
    """
    from practitioner.documents.pdf import pool as rendering

    url = f"/documents/aftercare/{session_id}.pdf"
    rendering.shutdown_render_process()
    if os.environ.get(rendering.IN_PROCESS_VARIABLE) != "1":
        warmup = max(0, min(warmup, rendering.RENDERS_PER_PROCESS - 1))
    for _ in range(warmup):
        assert client.get(url).status_code == 200
    gc.collect()
    before = memory_snapshot()
    samples = [(0, before)]
    peaks = {key: before[key] for key in ("web", "children", "tree", "pss")}
    render_pids = {pid for pid, (role, _) in before["processes"].items() if role == "render"}
    durations = []
    for i in range(1, renders + 1):
        start = time.perf_counter()
        response = client.get(url)
        durations.append(time.perf_counter() - start)
        assert response.status_code == 200
        if i % every == 0 or i == renders:
            gc.collect()
            samples.append((i, memory_snapshot()))
        if i % peek == 0 or samples[-1][0] == i:
            now = samples[-1][1] if samples[-1][0] == i else memory_snapshot()
            render_pids.update(pid for pid, (role, _) in now["processes"].items() if role == "render")
            for key in peaks:
                peaks[key] = max(peaks[key], now[key])
    return {"before": before, "after": samples[-1][1], "samples": samples, "peaks": peaks,
            "render_pids": render_pids, "render": common.summarize(durations)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="timed aftercare requests (and bare renders)")
    parser.add_argument("--reprints", type=int, default=200, help="timed reprints")
    parser.add_argument("--renders", type=int, default=500, help="renders for the memory check")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help="only the memory check")
    parser.add_argument("--renders-per-process", type=int, default=0, metavar="N",
                        help="replace the render process every N renders (default: the app's RENDERS_PER_PROCESS)")
    parser.add_argument("--large-n", type=int, default=10,
                        help="aftercare requests on the seeded 20,000-patient database (0 to skip)")
    common.add_common_arguments(parser)
    args = parser.parse_args()
    from practitioner.documents.pdf import pool as rendering

    global RENDER_CPU
    if args.renders_per_process:
        rendering.RENDERS_PER_PROCESS = args.renders_per_process
    in_process = os.environ.get(rendering.IN_PROCESS_VARIABLE) == "1"
    RENDER_CPU = None if in_process else RenderCpu()

    common.print_machine()
    print("rendering: " + (f"in the web process ({rendering.IN_PROCESS_VARIABLE}=1)" if in_process else
                           f"in a render process, replaced every {rendering.RENDERS_PER_PROCESS} renders"), flush=True)
    common.wait_for_quiet(args.wait_quiet)
    directory = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    app, email, session_id = setup(directory)
    client = app.test_client()
    common.sign_in(client, email)

    if not args.memory_only:
        print(f"\n== aftercare: GET /documents/aftercare/<session>.pdf vs bare WeasyPrint on the same HTML (n={args.n}, interleaved)")
        window, children_cpu = common.CpuWindow(), common.cpu_seconds_below(os.getpid())
        result = bench_aftercare(app, client, session_id, args.n)
        print("  " + common.CpuWindow.line(window.stop(common.cpu_seconds_below(os.getpid()) - children_cpu, "render processes")))
        s = result["summaries"]
        labels = (("endpoint", "endpoint (test client, signed in)"), ("bare", "bare HTML().write_pdf(font_config)"),
                  ("bare_same_options", "bare + pdf/a-3u + pdf_tags"), ("app_pdf_from_html", "app pdf_from_html (no DB/Flask)"),
                  ("build_only", "build spec + render_html (DB, no PDF)"))
        print("  wall time:")
        for name, label in labels:
            print(f"  {label:40s} {s[name].line()}")
        print("  CPU time (this process's, all threads, plus the render process's for each render):")
        for name, label in labels:
            print(f"  {label:40s} {s[name + '_cpu'].line()}")
        ratio = s["endpoint"].median / s["bare"].median
        ratio_cpu = s["endpoint_cpu"].median / s["bare_cpu"].median
        print(f"  ratio endpoint / bare (wall medians):               {ratio:.3f}   (goal <= {GOAL_RATIO})  "
              f"{'MET' if ratio <= GOAL_RATIO else 'NOT MET'}")
        print(f"  ratio endpoint / bare (CPU medians):                {ratio_cpu:.3f}   (goal <= {GOAL_RATIO})  "
              f"{'MET' if ratio_cpu <= GOAL_RATIO else 'NOT MET'}")
        ratio_block = s["endpoint_block"].median / s["bare_block"].median
        print(f"  in blocks: endpoint median {s['endpoint_block'].median:.2f} ms, bare median {s['bare_block'].median:.2f} ms")
        print(f"  ratio endpoint / bare (wall medians, in blocks):    {ratio_block:.3f}   (goal <= {GOAL_RATIO})  "
              f"{'MET' if ratio_block <= GOAL_RATIO else 'NOT MET'}")
        worst = max(ratio, ratio_block)
        print(f"  overhead ratio, the higher of the two:              {worst:.3f}   (goal <= {GOAL_RATIO})  "
              f"{'MET' if worst <= GOAL_RATIO else 'NOT MET'}")
        print(f"  ratio endpoint / bare with the same PDF options:    {s['endpoint'].median / s['bare_same_options'].median:.3f} wall, "
              f"{s['endpoint_cpu'].median / s['bare_same_options_cpu'].median:.3f} CPU")
        print(f"  ratio bare with PDF/A-3u+tags / bare:               {s['bare_same_options'].median / s['bare'].median:.3f} wall, "
              f"{s['bare_same_options_cpu'].median / s['bare_cpu'].median:.3f} CPU")
        print(f"  aftercare PDF: {result['pages']} page(s), {result['bytes']:,} bytes (bare: {result['bare_pages']} page(s), "
              f"{result['bare_bytes']:,} bytes); HTML {result['html_chars']:,} characters")

        print(f"\n== reprint: GET /issued/<id>.pdf from the archive (n={args.reprints})")
        window = common.CpuWindow()
        reprint = bench_reprint(app, client, session_id, args.reprints)
        print("  " + common.CpuWindow.line(window.stop()))
        print(f"  reprint, wall time                       {reprint['summary'].line()}")
        print(f"  reprint, CPU time of the thread          {reprint['cpu'].line()}")
        print(f"  SQL statements per reprint: {reprint['statements']} {reprint['kinds']}")
        met = reprint["summary"].median < GOAL_REPRINT_MEDIAN_MS
        print(f"  median {reprint['summary'].median:.2f} ms (goal < {GOAL_REPRINT_MEDIAN_MS} ms)  {'MET' if met else 'NOT MET'}")

    if not args.skip_memory:
        print(f"\n== memory: {args.renders} aftercare renders in one web process (after up to 20 warm-up renders)")
        window, children_cpu = common.CpuWindow(), common.cpu_seconds_below(os.getpid())
        memory = bench_memory(client, session_id, args.renders)
        print("  " + common.CpuWindow.line(window.stop(common.cpu_seconds_below(os.getpid()) - children_cpu, "render processes")))
        print("  VmRSS in MB of this (web) process and of the processes below it: the forkserver, multiprocessing's")
        print("  resource tracker and the render process; PSS counts the pages they share once.")
        for count, snap in memory["samples"]:
            parts = ", ".join(f"{role} {rss:.1f}" for role, rss in sorted(snap["processes"].values()))
            print(f"  after {count:4d} renders: web {snap['web']:7.1f} | below it {snap['children']:7.1f}"
                  f"{f' ({parts})' if parts else ''} | tree RSS {snap['tree']:7.1f}, PSS {snap['pss']:7.1f}")
        print(f"  render time over the run: {memory['render'].line()}")
        if not in_process:
            print(f"  render processes used over the run: {len(memory['render_pids'])}")
        before, after, peaks = memory["before"], memory["after"], memory["peaks"]
        growth = {key: after[key] - before[key] for key in peaks}
        peak = {key: peaks[key] - before[key] for key in peaks}
        print("  growth from the first sample, at the end and at the highest of the samples taken every 10 renders")
        print("  (without gc.collect()): the render process grows until it is replaced, so its peak matters.")
        for key, label in (("web", "web process"), ("children", "the processes below it"),
                           ("tree", "the tree (web + below), RSS"), ("pss", "the tree, PSS")):
            print(f"  {label + ':':30s} {growth[key]:+6.1f} MB at the end, peak {peak[key]:+6.1f} MB")
        for label, value in (("web process at the end", growth["web"]), ("tree RSS at the end", growth["tree"]),
                             ("tree RSS at its peak", peak["tree"])):
            print(f"  {label + ':':38s} {value:+6.1f} MB (goal <= {GOAL_GROWTH_MB} MB)  "
                  f"{'MET' if value <= GOAL_GROWTH_MB else 'NOT MET'}")

    common.dispose(app)
    shutil.rmtree(directory, ignore_errors=True)

    if args.large_n and not args.memory_only:
        print(f"\n== aftercare on the seeded 20,000-patient / 100,000-session database (n={args.large_n}, interleaved with bare)")
        window, children_cpu = common.CpuWindow(), common.cpu_seconds_below(os.getpid())
        large = bench_aftercare_large(args.large_n)
        print("  " + common.CpuWindow.line(window.stop(common.cpu_seconds_below(os.getpid()) - children_cpu, "render processes")))
        for suffix, title in (("", "wall time:"), ("_cpu", "CPU time (this process's plus the render process's):")):
            print(f"  {title}")
            for name, label in (("endpoint", "endpoint (test client, signed in)"), ("bare", "bare HTML().write_pdf(font_config)"),
                                ("build_only", "build spec + render_html (DB, no PDF)")):
                print(f"  {label:40s} {large[name + suffix].line()}")
        print(f"  ratio endpoint / bare at 20,000 patients: {large['endpoint'].median / large['bare'].median:.3f} wall, "
              f"{large['endpoint_cpu'].median / large['bare_cpu'].median:.3f} CPU   (goal <= {GOAL_RATIO})")
        block = large["endpoint_block"].median / large["bare_block"].median
        print(f"  in blocks: endpoint median {large['endpoint_block'].median:.2f} ms, bare median {large['bare_block'].median:.2f} ms: "
              f"ratio {block:.3f}   (goal <= {GOAL_RATIO})  {'MET' if block <= GOAL_RATIO else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
