"""The record-wide part of the patient export against its size (issue 13, "No waiting"): every volume of it.

The record-wide part of an export (the patient's details, consultations, signed consents, signed intakes, photographs
outside a plan and the documents issued) is not capped per patient (a regular patient has years of visits), so it is
cut into record-wide volumes in date order, packed to a render budget (practitioner/documents/kinds/patient_export.py).
This bench builds a patient with `n` consultations, each with every free text at its limit (notes 8,000, skin notes
4,000, device 120 characters, an override reason of 2,000), each with a consent signed through the real service (the
clinic's full consent text), and `n` signed intakes with every answer asking for more and every free text at its limit
(the validity corpus's hostile intake); with `--plan`, also one treatment plan of 12 sessions at every limit (the
largest plan). Then it renders every volume of the patient's export (or the one export, when it fits) through the
render process as issuing does, for each `n` given, and prints each and the worst.

Goal: every volume under 10 s (the limits' goal for any document), the worst at every limit about 7 s at most.

Run: .venv/bin/python bench/bench_export_record_wide.py [--counts 3 8 20 50] [--without-intakes] [--plan]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from bench_export_volumes import render, session_at_every_limit  # noqa: E402
from bench_no_waiting import GOAL_RENDER_SECONDS, limits, setup, text  # noqa: E402


def full_plan(app, patient_id: str) -> None:
    """Add one plan of 12 sessions, every session at every limit (as bench_export_volumes.py builds them), to the patient."""
    import uuid

    from practitioner.auth.models import User
    from practitioner.extensions import db
    from practitioner.patients.models import Patient
    from tests.factories import treatable_plan

    most = limits()
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "nowait@bench.example")).one()
        patient = db.session.scalars(db.select(Patient).where(Patient.public_id == uuid.UUID(patient_id))).one()
        plan = treatable_plan(patient, user)
        plan.sessions_planned, plan.notes = 12, text(2000)
        db.session.commit()
        for number in range(1, 13):
            session_at_every_limit(plan, user, number, most)
            db.session.commit()
        db.session.remove()


def sources(app, patient_id: str) -> list[tuple[str, float]]:
    """The source id of each volume of the patient's export (the patient's own when it fits one export), with the
    volume's estimated cost (patient_export.COST_MS; 0 for one export)."""
    import uuid

    from practitioner.documents.kinds import patient_export
    from practitioner.extensions import db
    from practitioner.patients.models import Patient

    with app.app_context():
        patient = db.session.scalars(db.select(Patient).where(Patient.public_id == uuid.UUID(patient_id))).one()
        found = [(str(volume.source_id or patient_id), volume.weight_ms)
                 for volume in patient_export.volumes(db.session, patient)] or [(patient_id, 0.0)]
        db.session.remove()
    return found


def record_wide(app, count: int, intakes: bool = True) -> str:
    """A patient with `count` consultations (each with a signed consent) and `count` signed intakes (or none), texts at their limits."""
    import base64

    from practitioner.auth.models import User
    from practitioner.consents.content import load_consent_content
    from practitioner.consents.services import sign_consent
    from practitioner.consultations.models import ScreeningOverride
    from practitioner.extensions import db
    from tests.conftest import make_patient
    from tests.documents.pdf_corpus import drawn_signature, signed_intake
    from tests.factories import make_consultation

    signature = "data:image/png;base64," + base64.b64encode(drawn_signature()).decode()
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "nowait@bench.example")).one()
        patient = make_patient(actor=user, given_name="Many", family_name=f"Visits {count}", no_known_allergies=False,
                               allergies=text(2000), current_medicines=text(2000))
        for _ in range(count):
            consultation = make_consultation(patient, user, notes=text(8000), skin_notes=text(4000))
            consultation.device_name = text(120)
            db.session.add(ScreeningOverride(consultation_id=consultation.id, computed_decision="defer", reason=text(2000),
                                             recorded_by_id=user.id))
            sign_consent(db.session, consultation, load_consent_content("microneedling"), typed_name=patient.full_name,
                         signature_data_url=signature, photo_clinical=True, photo_marketing=False, actor=user)
            db.session.commit()
            if intakes:
                signed_intake("hostile", patient, user)
        public_id = str(patient.public_id)
        db.session.remove()
    return public_id


def main() -> None:
    """For each size: build the record, then time every volume of its export (the one export when it fits)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[3, 8, 20, 50],
                        help="consultations (each with a consent) and signed intakes per patient")
    parser.add_argument("--without-intakes", action="store_true", help="consultations and consents only")
    parser.add_argument("--plan", action="store_true", help="and one plan of 12 sessions at every limit")
    args = parser.parse_args()
    common.print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-export-record-wide-") as directory:
        app, _client = setup(Path(directory))
        warmed = False
        worst, stopped = 0.0, False
        for count in args.counts:
            started = time.perf_counter()
            patient_id = record_wide(app, count, intakes=not args.without_intakes)
            if args.plan:
                full_plan(app, patient_id)
            built = time.perf_counter() - started
            if not warmed:
                render(app, patient_id)  # warm: the render process and its fonts
                warmed = True
            intakes = 0 if args.without_intakes else count
            plan = " + a plan of 12 sessions at every limit" if args.plan else ""
            print(f"{count:3} consultations + consents, {intakes:3} signed intakes{plan} (built in {built:4.0f} s):", flush=True)
            times, cpus = [], []
            for source, weight in sources(app, patient_id):
                # The render process's CPU (and this process's: the build) besides the wall time: on a shared machine the
                # wall time grows with everyone else's load, the CPU a render needs does not.
                cpu_before = common.cpu_seconds_below(os.getpid()) + sum(os.times()[:2])
                seconds, pages, title = render(app, source)
                cpu = common.cpu_seconds_below(os.getpid()) + sum(os.times()[:2]) - cpu_before
                times.append(seconds)
                cpus.append(cpu)
                stopped = stopped or not pages
                shown = f"{pages:4} pages" if pages else "stopped at the render timeout"
                print(f"    {title:44} {seconds:6.2f} s, CPU {cpu:5.2f} s, {shown}  (estimated {weight / 1000:4.1f} s)  "
                      f"[load {common.load_average().split()[0]}]", flush=True)
            worst = max(worst, *times)
            print(f"  worst of {len(times)}: {max(times):.2f} s wall, {max(cpus):.2f} s CPU  (load average {common.load_average()})",
                  flush=True)
        verdict = "met" if worst < GOAL_RENDER_SECONDS and not stopped else "NOT met"
        print(f"worst: {worst:.2f} s{' (stopped)' if stopped else ''} (goal < {GOAL_RENDER_SECONDS:.0f} s: {verdict})")
        common.dispose(app)


if __name__ == "__main__":
    main()
