"""veraPDF over every patient document: each kind x normal/large print x A4/Letter x data set, PDF/UA-1 and PDF/A-3u.

The records come from tests/documents/pdf_corpus.py (realistic, hostile and sparse patients); each
PDF is written to a folder and the folder's PDFs are validated with veraPDF in one call per flavour.
Prints one row per file with the rules that failed in each flavour ("-" when none) and a total.

Run: .venv/bin/python bench/verapdf_all.py --verapdf PATH [--out /tmp/verapdf] [--kind CODE ...] [--render-only | --validate-only]
Every kind of the catalogue is rendered (the health questionnaire from each patient's signed intake); --kind keeps
only the kinds named (for example --kind intake-record).
veraPDF needs Java 17; give its launcher with --verapdf or the VERAPDF environment variable (without
one the PDFs are rendered and nothing is validated, so `make bench` goes on).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess  # nosec B404  # runs the veraPDF launcher the caller names, on files this script wrote
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import common  # noqa: E402


def render_all(out: Path, kinds: list[str] | None = None) -> list[Path]:
    """Write every kind (or the kinds named) x data set x paper x print PDF into `out`; return the files."""
    from practitioner.admin.services import get_settings
    from practitioner.extensions import db
    from tests.documents import pdf_corpus

    from flask_migrate import upgrade

    (out / "practitioner.sqlite3").unlink(missing_ok=True)  # a fresh clinic: the hostile records rewrite its letterhead
    app = common.build_app(out / "practitioner.sqlite3", migrate=False)
    logging.disable(logging.INFO)  # alembic's "Running upgrade" lines
    try:
        with app.app_context():
            upgrade()
    finally:
        logging.disable(logging.NOTSET)
    written: list[Path] = []
    with app.test_request_context():
        get_settings(db.session).phone = "0117 496 0123"
        db.session.commit()
        author = common.create_bench_user("verapdf.practitioner@bench.example", "Dr Priya Raman")
        made = {key: spec for key, spec in pdf_corpus.specs(author).items() if not kinds or key[0] in kinds}
        for name, pdf in pdf_corpus.renders(made):
            path = out / name
            path.write_bytes(pdf)
            written.append(path)
    return written


def failed_rules(verapdf: Path, flavour: str, files: list[Path]) -> dict[str, list[str]]:
    """{file name: sorted failed rule ids ('7.2-8'), with counts} from one veraPDF run over the files."""
    run = subprocess.run([str(verapdf), "--flavour", flavour, "--format", "json", *map(str, files)],
                         capture_output=True, text=True, timeout=3600, check=False)  # nosec B603  # no shell; the launcher and files are the caller's
    report = json.loads(run.stdout)
    jobs = report.get("report", report).get("jobs", report.get("jobs", []))
    found: dict[str, list[str]] = {}
    for job in jobs:
        name = Path(job["itemDetails"]["name"]).name
        result = job.get("validationResult") or {}
        if isinstance(result, list):
            result = result[0] if result else {}
        details = result.get("details", {})
        rules = [f"{r['clause']}-{r['testNumber']}" + (f"x{r['failedChecks']}" if r.get("failedChecks", 1) > 1 else "")
                 for r in details.get("ruleSummaries", []) if r.get("status", "failed") == "failed"]
        if not result:
            rules = [job.get("taskException", {}).get("exceptionMessage", "no result")]
        found[name] = sorted(rules)
    return found


def main() -> int:
    """Render, validate, print the table; exit 1 if any file fails a rule."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="folder for the PDFs (default: a new temporary folder)")
    parser.add_argument("--verapdf", type=Path, default=os.environ.get("VERAPDF"), help="the veraPDF launcher (or VERAPDF)")
    parser.add_argument("--kind", action="append", default=None, help="only this kind's code (repeat for more); default every kind")
    parser.add_argument("--render-only", action="store_true", help="write the PDFs, do not validate")
    parser.add_argument("--validate-only", action="store_true", help="validate the PDFs already in --out, render nothing")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="verapdf-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.validate_only:
        files = sorted(out.glob("*.pdf"))
    else:
        for old in out.glob("*.pdf"):
            old.unlink()
        started = time.perf_counter()
        files = render_all(out, args.kind)
        print(f"{len(files)} PDFs in {out} ({time.perf_counter() - started:.0f} s)")
    if args.render_only:
        return 0
    if args.verapdf is None:  # `make bench` runs every script without arguments
        print("veraPDF not given (--verapdf PATH or VERAPDF=PATH): rendered only, nothing validated")
        return 0
    ua = failed_rules(args.verapdf, "ua1", files)
    pdfa = failed_rules(args.verapdf, "3u", files)
    width = max(len(f.name) for f in files)
    print(f"{'file':<{width}}  {'UA-1 failed rules':<40}  A-3u failed rules")
    failing = 0
    for path in files:
        u, a = ua.get(path.name, ["not validated"]), pdfa.get(path.name, ["not validated"])
        failing += bool(u or a)
        print(f"{path.name:<{width}}  {' '.join(u) or '-':<40}  {' '.join(a) or '-'}")
    print(f"{len(files) - failing} of {len(files)} files pass both PDF/UA-1 and PDF/A-3u")
    print(f"goal: every file passes both: {'NOT MET' if failing else 'MET'}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
