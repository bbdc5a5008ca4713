"""What each record-wide item adds to the patient export's render (issue 13, "No waiting"): the cost model behind the
record-wide volumes (practitioner/documents/kinds/patient_export.py, `COST`).

Builds one patient per line below, each with `--count` items of one kind and nothing else (no plan), and renders each
patient's whole export through the render process as issuing does. A line's cost per item is its time less the
details-only patient's (a session's: the patient with a plan and no session), divided by the count; its characters are what the volumes' statement counts for that item.

Run: .venv/bin/python bench/bench_export_item_costs.py [--count 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from bench_export_volumes import render, session_at_every_limit  # noqa: E402
from bench_no_waiting import limits, setup, text  # noqa: E402

LINES = ("details only", "consultation at every limit", "consultation, short", "consent (with a short consultation)",
         "intake at every limit", "intake, realistic", "photograph (at a short consultation)", "review visit, no plan",
         "document issued", "plan, no session", "session at every limit", "session, short")
DOCUMENTS_PER_COUNT = 25  # documents issued are small rows: 25 for each count, the cost given per row


def build(app, line: str, count: int) -> str:
    """A patient whose record holds `count` items of `line` (texts of the details at their limits); its public id."""
    import base64
    import hashlib
    from datetime import date, timedelta

    from practitioner.auth.models import User
    from practitioner.consents.content import load_consent_content
    from practitioner.consents.services import sign_consent
    from practitioner.consultations.models import ScreeningOverride
    from practitioner.documents.models import DocumentKind, IssuedDocument
    from practitioner.extensions import db
    from tests.conftest import make_patient
    from tests.documents.pdf_corpus import drawn_signature, signed_intake
    from tests.factories import make_consultation, signed_session, treatable_plan
    from tests.photos.factories import make_photo, make_review, photo_consent

    signature = "data:image/png;base64," + base64.b64encode(drawn_signature()).decode()
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "nowait@bench.example")).one()
        patient = make_patient(actor=user, given_name="Cost", family_name=line.split()[0].title(), no_known_allergies=False,
                               allergies=text(2000), current_medicines=text(2000))
        if line.startswith("photograph") or line.startswith("review"):
            consultation = make_consultation(patient, user, consultation_date=date.today() - timedelta(days=30))
            consent = photo_consent(consultation, user)
            visit = {"consultation": consultation} if line.startswith("photograph") else {}
            for number in range(count):
                if line.startswith("review"):
                    visit = {"review": make_review(patient.id, user, visit_date=date.today() - timedelta(days=number))}
                make_photo(patient.id, consent, user, size=(1600, 1200), shade=number, moment="baseline" if "consultation" in visit
                           else "review", **visit)
            # Less the short consultation and its stand-in consent: its cost is in "consultation, short" (about).
        plan = treatable_plan(patient, user) if line.startswith("plan") or line.startswith("session") else None
        if plan is not None:
            plan.sessions_planned = 12
            db.session.commit()
        most = limits()
        for number in range(count * (DOCUMENTS_PER_COUNT if line == "document issued" else 1)):
            if line == "consultation at every limit":
                consultation = make_consultation(patient, user, notes=text(8000), skin_notes=text(4000))
                consultation.device_name = text(120)
                db.session.add(ScreeningOverride(consultation_id=consultation.id, computed_decision="defer",
                                                 reason=text(2000), recorded_by_id=user.id))
            elif line == "consultation, short":
                make_consultation(patient, user)
            elif line.startswith("consent"):
                sign_consent(db.session, make_consultation(patient, user), load_consent_content("microneedling"),
                             typed_name=patient.full_name, signature_data_url=signature, photo_clinical=True,
                             photo_marketing=False, actor=user)
            elif line == "intake at every limit":
                signed_intake("hostile", patient, user)
            elif line == "intake, realistic":
                signed_intake("realistic", patient, user)
            elif line == "document issued":
                pdf = b"%PDF-1.7 bench " + str(number).encode()
                db.session.add(IssuedDocument(
                    patient_id=patient.id, kind=DocumentKind("aftercare"), source_id=f"bench-{number}", version=1,
                    number=f"AC-20261206-BENCH-{number}", title="Aftercare for your microneedling session",
                    filename="aftercare.pdf", content_version="bench", large_print=False, pdf=pdf,
                    pdf_sha256=hashlib.sha256(pdf).hexdigest(), json_data=None, json_sha256="", issued_by_id=user.id))
            elif line == "session, short":
                signed_session(plan, user, sequence=number + 1)
            elif line == "session at every limit":
                session_at_every_limit(plan, user, number + 1, most)
            db.session.commit()
        public_id = str(patient.public_id)
        db.session.remove()
    return public_id


def main() -> None:
    """Build each line's patient, render its export, print seconds, pages and the cost per item."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4, help="items of each kind")
    parser.add_argument("--repeat", type=int, default=1, help="renders per line (the fastest is kept)")
    parser.add_argument("--lines", nargs="+", default=list(LINES), choices=LINES)
    args = parser.parse_args()
    common.print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-export-item-costs-") as directory:
        app, _client = setup(Path(directory))
        lines = [line for line in LINES if line in args.lines or line == "details only"]
        patients = {line: build(app, line, args.count if line != "details only" else 0) for line in lines}
        render(app, patients["details only"])  # warm: the render process and its fonts
        base = plan_base = None
        for line in lines:
            runs = [render(app, patients[line]) for _ in range(args.repeat)]
            seconds, pages, _title = min(runs)
            base = seconds if base is None else base
            plan_base = plan_base or base
            if line == "plan, no session":
                plan_base = seconds
            below = plan_base if line.startswith("session") else base
            per = (seconds - below) / (args.count * (DOCUMENTS_PER_COUNT if line == "document issued" else 1))
            print(f"  {line:40} {seconds:6.2f} s, {pages:3} pages, per item {per * 1000:6.0f} ms", flush=True)
        print(f"load average after: {common.load_average()}")
        common.dispose(app)


if __name__ == "__main__":
    main()
