"""The record-wide part of the patient export against its size (issue 13, "No waiting"): is volume 1 bounded?

Volume 1 of an export in volumes (and the whole export of a record with no plan) holds the patient's
details, consultations, signed consents and signed intakes (practitioner/documents/kinds/patient_export.py).
None of these is capped per patient. This bench builds a patient with `n` consultations, each with every free
text at its limit (notes 8,000, skin notes 4,000, device 120 characters, an override reason of 2,000), each
with a consent signed through the real service (the clinic's full consent text), and `n` signed intakes with
every answer asking for more and every free text at its limit (the validity corpus's hostile intake), then
renders the patient's export through the render process as issuing does, for each `n` given.

Goal: every document under 10 s (the limits' goal for any document).

Run: .venv/bin/python bench/bench_export_record_wide.py [--counts 5 20 50] [--without-intakes]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from bench_export_volumes import render  # noqa: E402
from bench_no_waiting import GOAL_RENDER_SECONDS, setup, text  # noqa: E402


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
    """For each size: build the record, then time its export (volume 1 when it comes in volumes)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[5, 20, 50],
                        help="consultations (each with a consent) and signed intakes per patient")
    parser.add_argument("--without-intakes", action="store_true", help="consultations and consents only")
    args = parser.parse_args()
    common.print_machine()
    with tempfile.TemporaryDirectory(prefix="bench-export-record-wide-") as directory:
        app, _client = setup(Path(directory))
        warmed = False
        worst, stopped = 0.0, False
        for count in args.counts:
            started = time.perf_counter()
            patient_id = record_wide(app, count, intakes=not args.without_intakes)
            built = time.perf_counter() - started
            if not warmed:
                render(app, patient_id)  # warm: the render process and its fonts
                warmed = True
            seconds, pages, title = render(app, patient_id)
            worst = max(worst, seconds)
            stopped = stopped or not pages
            shown = f"{pages:4} pages" if pages else "stopped at the render timeout"
            intakes = 0 if args.without_intakes else count
            print(f"  {count:3} consultations + consents, {intakes:3} signed intakes (built in {built:4.0f} s): "
                  f"{seconds:6.2f} s, {shown}  [{title}]", flush=True)
        verdict = "met" if worst < GOAL_RENDER_SECONDS and not stopped else "NOT met"
        print(f"worst: {worst:.2f} s{' (stopped)' if stopped else ''} (goal < {GOAL_RENDER_SECONDS:.0f} s: {verdict})")
        common.dispose(app)


if __name__ == "__main__":
    main()
