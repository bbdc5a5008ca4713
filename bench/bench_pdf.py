"""PDF benchmark: the aftercare endpoint against a bare WeasyPrint render, reprints, memory over many renders.

Goals (see bench/README.md):
- the app's overhead over a bare WeasyPrint render of the same HTML: ratio at most 1.15;
- a reprint from the archive (/issued/<id>.pdf): median under 5 ms;
- memory growth over 500 aftercare renders in one process: at most 10 MB.

Run: .venv/bin/python bench/bench_pdf.py [--n 20] [--reprints 200] [--renders 500]
"""

from __future__ import annotations

import argparse
import gc
import io
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
    from practitioner.documents.rendering import render_html
    from practitioner.extensions import db
    from practitioner.templating import clinic_today

    with app.test_request_context():
        spec = services.build(db.session, DocumentKind.AFTERCARE, session_id, clinic_today())
        db.session.rollback()
        html = render_html(spec.template, spec.context, title=spec.title, paper=spec.paper, large_print=False,
                           with_logo=spec.logo_png is not None)
        db.session.remove()
    return spec, html


def page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def bench_aftercare(app, client, session_id, n: int) -> dict:
    from weasyprint import HTML

    from practitioner.documents import services
    from practitioner.documents.models import DocumentKind
    from practitioner.documents.rendering import REPORTS_DIR, font_configuration, pdf_from_html, render_html
    from practitioner.extensions import db
    from practitioner.templating import clinic_today

    url = f"/documents/aftercare/{session_id}.pdf"
    spec, html = bare_inputs(app, session_id)
    base_url = REPORTS_DIR.resolve().as_uri() + "/"
    # The process's shared FontConfiguration, the one the app renders with: two font maps used in
    # turn make each render after a switch pay for re-warming Pango's caches (measured: about 50 ms),
    # which would bias whichever variant follows a switch.
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
    # Interleaved, so drift (CPU frequency, other processes) hits every variant alike. The
    # thread's CPU time is kept too: unlike wall time it does not grow when other processes
    # take the CPUs, so its ratio stays meaningful on a busy machine.
    for _ in range(n):
        for name, fn in (("endpoint", endpoint), ("bare", bare), ("bare_same_options", bare_same_options),
                         ("app_pdf_from_html", app_pdf_from_html), ("build_only", build_only)):
            gc.collect()  # each variant starts from the same heap: no collection left over from the previous one
            start, start_cpu = time.perf_counter(), time.thread_time()
            fn()
            samples[name].append(time.perf_counter() - start)
            cpu[name].append(time.thread_time() - start_cpu)
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

    from practitioner.documents.rendering import REPORTS_DIR, font_configuration
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
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        samples[name].append(time.perf_counter() - start)
        cpu[name].append(time.thread_time() - start_cpu)

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


def bench_memory(client, session_id, renders: int, warmup: int = 20, every: int = 100) -> dict:
    url = f"/documents/aftercare/{session_id}.pdf"
    for _ in range(warmup):
        assert client.get(url).status_code == 200
    gc.collect()
    before = common.rss_mb()
    samples = [(0, before)]
    durations = []
    for i in range(1, renders + 1):
        start = time.perf_counter()
        response = client.get(url)
        durations.append(time.perf_counter() - start)
        assert response.status_code == 200
        if i % every == 0 or i == renders:
            gc.collect()
            samples.append((i, common.rss_mb()))
    after = samples[-1][1]
    return {"before": before, "after": after, "growth": after - before, "samples": samples,
            "render": common.summarize(durations)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20, help="timed aftercare requests (and bare renders)")
    parser.add_argument("--reprints", type=int, default=200, help="timed reprints")
    parser.add_argument("--renders", type=int, default=500, help="renders for the memory check")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--large-n", type=int, default=10,
                        help="aftercare requests on the seeded 20,000-patient database (0 to skip)")
    common.add_common_arguments(parser)
    args = parser.parse_args()

    common.print_machine()
    common.wait_for_quiet(args.wait_quiet)
    directory = Path(tempfile.mkdtemp(prefix="bench-pdf-"))
    app, email, session_id = setup(directory)
    client = app.test_client()
    common.sign_in(client, email)

    print(f"\n== aftercare: GET /documents/aftercare/<session>.pdf vs bare WeasyPrint on the same HTML (n={args.n}, interleaved)")
    window = common.CpuWindow()
    result = bench_aftercare(app, client, session_id, args.n)
    print("  " + common.CpuWindow.line(window.stop()))
    s = result["summaries"]
    labels = (("endpoint", "endpoint (test client, signed in)"), ("bare", "bare HTML().write_pdf(font_config)"),
              ("bare_same_options", "bare + pdf/a-3u + pdf_tags"), ("app_pdf_from_html", "app pdf_from_html (no DB/Flask)"),
              ("build_only", "build spec + render_html (DB, no PDF)"))
    print("  wall time:")
    for name, label in labels:
        print(f"  {label:40s} {s[name].line()}")
    print("  CPU time of the thread:")
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
        print(f"\n== memory: VmRSS over {args.renders} aftercare renders in one process (after 20 warm-up renders)")
        window = common.CpuWindow()
        memory = bench_memory(client, session_id, args.renders)
        print("  " + common.CpuWindow.line(window.stop()))
        for count, value in memory["samples"]:
            print(f"  after {count:4d} renders: {value:8.1f} MB")
        print(f"  render time over the run: {memory['render'].line()}")
        met = memory["growth"] <= GOAL_GROWTH_MB
        print(f"  growth {memory['growth']:+.1f} MB (goal <= {GOAL_GROWTH_MB} MB)  {'MET' if met else 'NOT MET'}")

    common.dispose(app)
    shutil.rmtree(directory, ignore_errors=True)

    if args.large_n:
        print(f"\n== aftercare on the seeded 20,000-patient / 100,000-session database (n={args.large_n}, interleaved with bare)")
        window = common.CpuWindow()
        large = bench_aftercare_large(args.large_n)
        print("  " + common.CpuWindow.line(window.stop()))
        for suffix, title in (("", "wall time:"), ("_cpu", "CPU time of the thread:")):
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
