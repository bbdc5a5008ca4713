"""The patient record export of a record in volumes (issue 13): a patient with several plans, every one full at every
limit, and each volume's render time against the whole record in one export (as it was before the volumes).

The record: `--plans` treatment plans (3), each with a plan's most sessions (12), every session at every limit of
practitioner/treatments/limits.py (the same session as bench_no_waiting.py's largest record). The export is issued in
volumes (practitioner/documents/kinds/patient_export.py): volume 1 the details, consultations and consents, then one
volume per plan. Each is built and rendered through the render process as issuing does; so is the whole record in
one export (volumes turned off for that one render), which is what a patient with this record got before.

Goal: every volume under 10 s (the limits' goal for any document); the whole record is printed for comparison.

Run: .venv/bin/python bench/bench_export_volumes.py [--plans 3] [--sessions 12]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from bench_no_waiting import GOAL_RENDER_SECONDS, limits, setup, text  # noqa: E402


EVENTS = ("excessive_bleeding", "bruising", "vasovagal", "severe_pain_stopped", "burn_or_blister", "allergic_reaction", "other")


def session_at_every_limit(plan, user, sequence: int, most: dict) -> None:
    """One signed session of `plan` with every free text, product, adverse event and addendum at its limit (not committed)."""
    from practitioner.extensions import db
    from practitioner.treatments.services import add_addendum
    from tests.factories import signed_session

    notes = {name: text(most[name]) for name in ("changes_since_consultation", "new_medicines", "post_care_products", "clinical_note")}
    record = signed_session(plan, user, sequence=sequence, supervisor=text(120), **notes,
                            products=[(text(160), f"LOT-{i}") for i in range(12)], adverse_events=EVENTS,
                            session_date=date.today(),
                            zones=(("cheeks", "1.25"), ("forehead", "0.5"), ("chin_jaw", "1.0"), ("nose", "0.5")))
    for _ in range(most["addenda"]):
        add_addendum(db.session, record, text(most["reason"]), text(most["addendum"]), actor=user)


def full_record(app, plans: int, sessions: int) -> str:
    """A patient with `plans` plans of `sessions` sessions each, every text at its limit; the patient's public id."""
    from practitioner.auth.models import User
    from practitioner.extensions import db
    from tests.conftest import make_patient
    from tests.factories import treatable_plan

    most = limits()
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "nowait@bench.example")).one()
        patient = make_patient(actor=user, given_name="Three", family_name="Plans", no_known_allergies=False, allergies=text(2000),
                               current_medicines=text(2000))
        for _ in range(plans):
            plan = treatable_plan(patient, user)
            plan.sessions_planned, plan.notes = sessions, text(2000)
            plan.consultation.notes, plan.consultation.skin_notes = text(8000), text(4000)
            db.session.commit()
            for number in range(1, sessions + 1):
                session_at_every_limit(plan, user, number, most)
                db.session.commit()
        public_id = str(patient.public_id)
        db.session.remove()
    return public_id


def render(app, source: str) -> tuple[float, int, str]:
    """Build and render one export (as issuing does: build, end the read, render): seconds, pages, title."""
    from pypdf import PdfReader

    from practitioner.documents import services
    from practitioner.documents.models import DocumentKind
    from practitioner.documents.pdf.pool import RenderProcessError
    from practitioner.extensions import db

    with app.test_request_context():
        started = time.perf_counter()
        spec = services.build(db.session, DocumentKind("patient-export"), uuid.UUID(source), date.today())
        db.session.rollback()
        try:
            pages = len(PdfReader(io.BytesIO(services.render(spec))).pages)
        except RenderProcessError:  # stopped at the pool's render timeout
            pages = 0
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds, pages, spec.title


def main() -> None:
    """Build the record, then time each volume and the whole record in one export."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=12, help="sessions per plan (a plan's most is 12)")
    args = parser.parse_args()
    common.print_machine()
    from practitioner.documents.kinds import patient_export

    with tempfile.TemporaryDirectory(prefix="bench-export-volumes-") as directory:
        app, _client = setup(Path(directory))
        started = time.perf_counter()
        patient_id = full_record(app, args.plans, args.sessions)
        print(f"record: {args.plans} plans x {args.sessions} sessions at every limit, built in {time.perf_counter() - started:.0f} s")
        from practitioner.extensions import db
        from practitioner.patients.models import Patient

        with app.app_context():
            patient = db.session.scalars(db.select(Patient).where(Patient.public_id == uuid.UUID(patient_id))).one()
            volumes = patient_export.volumes(db.session, patient)
            sources = [str(volume.plan_id or patient_id) for volume in volumes]
            db.session.remove()
        render(app, sources[0])  # warm: the render process and its fonts
        times = []
        for source in sources:
            seconds, pages, title = render(app, source)
            times.append(seconds)
            print(f"  {title:42} {seconds:6.2f} s, {pages:3} pages")
        worst = max(times)
        verdict = "met" if worst < GOAL_RENDER_SECONDS else "NOT met"
        print(f"worst volume: {worst:.2f} s (goal < {GOAL_RENDER_SECONDS:.0f} s: {verdict})")
        real_volumes = patient_export.volumes
        patient_export.volumes = lambda session, patient: []  # the whole record in one export, as before the volumes
        try:
            seconds, pages, title = render(app, patient_id)
        finally:
            patient_export.volumes = real_volumes
        shown = f"{pages} pages" if pages else "stopped at the render timeout"
        print(f"the whole record in one export (before the volumes): {seconds:.2f} s, {shown}")
        common.dispose(app)


if __name__ == "__main__":
    main()
