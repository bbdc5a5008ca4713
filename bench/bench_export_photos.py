"""Photographs in the documents that print them (issue 13): a plan's volume of the patient record export and the
progress sheet, for the largest record the limits allow, against the number of photographs per visit and of review visits.

The record: a plan of a plan's most sessions (12), every session at every limit of practitioner/treatments/limits.py
(bench_no_waiting.py's largest session), each with `--per-visit` photographs (before treatment and immediately
after: the protocol's five views for its four zones, then a close-up of each zone, then retakes of the views), and
`--reviews` review visits of the plan, each with the photographs a review visit may hold; a second plan of one
session, so the record comes in volumes and the first plan has its own. Every photograph is its own camera-sized
JPEG (4032x3024, grain at three scales, about 2.4 MB), made once and kept under bench/.cache/, taken through the
real capture service (capture.take_photos with imaging.process's result), so the stored image (about 1 MB) and the
small copies the documents print are the real ones.

Each figure is built and rendered through the render process as issuing does (build, end the read, render), with the
web process's cache of reduced copies emptied first (a first issue: every photo is read and reduced). The plan's
volume is rendered with 0, 1, 3, ... photographs of each visit kept (the rest left out of the export for that render:
one record serves every row) and with and without its review visits; the progress sheet with the most pairs it
prints (six); the whole record as one export (volumes turned off), what a patient with this one plan gets.

Goal: every figure under 10 s (the limits' goal for any document); aim: the worst plan volume at every limit at most
about 7 s on the 2-core machine.

Run: .venv/bin/python bench/bench_export_photos.py [--per-visit N] [--reviews R] [--steps 0,1,3]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from bench_no_waiting import GOAL_RENDER_SECONDS, limits, setup, text  # noqa: E402

AIM_SECONDS = 7.0
CAMERA = (4032, 3024)
ZONES = (("cheeks", "1.25"), ("forehead", "0.5"), ("chin_jaw", "1.0"), ("nose", "0.5"))


def photo_limits() -> tuple[int | None, int | None, int | None]:
    """(photographs per session, per review visit, review visits per plan) of practitioner/photos/limits.py, or Nones before it."""
    try:
        from practitioner.photos import limits as lim
    except ImportError:
        return None, None, None
    return lim.per_visit("session"), lim.per_visit("review"), lim.REVIEW_VISITS_PER_PLAN


class CameraPhotos:
    """Distinct camera-sized JPEGs, each processed once by imaging.process and kept under bench/.cache/ for later runs."""

    def __init__(self) -> None:
        self.folder = common.CACHE_DIR / "export-photos-v2"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.canvas = None
        self.next = 0

    def _camera_jpeg(self, number: int) -> bytes:
        from PIL import Image, ImageDraw

        if self.canvas is None:  # skin tones with grain at three scales, so every reduced copy compresses like a photo
            width, height = CAMERA[0] + 400, CAMERA[1] + 400
            low = Image.effect_noise((width // 32, height // 32), 60).resize((width, height), Image.Resampling.BICUBIC)
            mid = Image.effect_noise((width // 4, height // 4), 50).resize((width, height), Image.Resampling.BILINEAR)
            fine = Image.effect_noise((width, height), 30)
            self.canvas = Image.blend(Image.new("RGB", (width, height), (205, 160, 140)), Image.merge("RGB", (low, mid, fine)), 0.35)
        x, y = (number * 37) % 400, (number * 53) % 400
        picture = self.canvas.crop((x, y, x + CAMERA[0], y + CAMERA[1]))
        draw = ImageDraw.Draw(picture)
        draw.ellipse((1100 + number % 50, 300, 2900, 2800), outline=(120, 80, 70), width=30)
        draw.text((100, 100), f"photo {number}", fill=(30, 30, 30), font_size=160)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=90)
        return out.getvalue()

    def take(self):
        """The next distinct photo, as imaging.process makes it (from the cache when an earlier run made it)."""
        import hashlib

        from practitioner.photos import imaging

        number, self.next = self.next, self.next + 1
        image, thumb = self.folder / f"{number:04}.jpg", self.folder / f"{number:04}.thumb.jpg"
        if not (image.exists() and thumb.exists()):
            made = imaging.process(self._camera_jpeg(number))
            image.write_bytes(made.image_jpeg)
            thumb.write_bytes(made.thumb_jpeg)
            return made
        data, small = image.read_bytes(), thumb.read_bytes()
        from PIL import Image

        with Image.open(io.BytesIO(data)) as opened, Image.open(io.BytesIO(small)) as opened_thumb:
            return imaging.Processed(data, small, *opened.size, *opened_thumb.size, hashlib.sha256(data).hexdigest(),
                                     hashlib.sha256(small).hexdigest())


def slots_in_order(visit, moments: tuple[str, ...], count: int):
    """`count` (moment, slot) pairs for a visit: each moment's protocol views, then its close-ups, then retakes of the views."""
    from practitioner.extensions import db
    from practitioner.photos import capture

    sets = capture.photo_sets(db.session, visit)
    order = [[(s.moment, slot) for slot in s.slots] for s in sets if s.moment in moments]
    views = [[(s.moment, slot) for slot in s.required] for s in sets if s.moment in moments]
    chosen = [pair for group in order for pair in group]
    retakes = [pair for group in views for pair in group] or chosen
    while len(chosen) < count:
        chosen += retakes
    return chosen[:count]


def take(visit, count: int, camera: CameraPhotos, user) -> None:
    """Store `count` photographs of a visit through the capture service, a moment at a time."""
    from practitioner.extensions import db
    from practitioner.photos import capture

    moments = capture.moments_for(visit)
    by_moment: dict[str, list] = {}
    for moment, slot in slots_in_order(visit, moments, count):
        by_moment.setdefault(moment, []).append((slot, camera.take()))
    checks = {name: True for name in ("makeup_removed", "jewellery_off", "hair_back", "same_background", "same_lighting")}
    for moment, files in by_moment.items():
        capture.take_photos(db.session, visit, moment=moment, files=files, checks=checks, actor=user)
    db.session.flush()


def build_record(app, per_visit: int, reviews: int, per_review: int) -> dict[str, str]:
    """The record (see the module's docstring); the public ids of the patient, its full plan and its second plan."""
    from practitioner.auth.models import User
    from practitioner.extensions import db
    from practitioner.photos import capture
    from practitioner.treatments import services as treatment_services
    from practitioner.treatments.services import add_addendum
    from tests.conftest import make_patient
    from tests.factories import signed_session, treatable_plan
    from tests.photos.factories import photo_consent

    most = limits()
    events = ("excessive_bleeding", "bruising", "vasovagal", "severe_pain_stopped", "burn_or_blister", "allergic_reaction", "other")
    camera = CameraPhotos()
    real_sign = treatment_services.sign_session
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.email == "nowait@bench.example")).one()
        patient = make_patient(actor=user, given_name="Many", family_name="Photos", no_known_allergies=False, allergies=text(2000),
                               current_medicines=text(2000))
        plans = []
        for sessions in (12, 1):
            plan = treatable_plan(patient, user)
            plan.sessions_planned, plan.notes = sessions, text(2000)
            plan.consultation.notes, plan.consultation.skin_notes = text(8000), text(4000)
            photo_consent(plan.consultation, user)
            db.session.commit()
            plans.append(plan)

        def sign_after_photos(session, record, **kwargs):  # the photos go in while the session is a draft, as in the clinic
            take(record, per_visit if record.plan_id == plans[0].id else 3, camera, user)
            return real_sign(session, record, **kwargs)

        treatment_services.sign_session = sign_after_photos
        try:
            for plan in plans:
                for number in range(1, plan.sessions_planned + 1):
                    notes = {name: text(most[name]) for name in ("changes_since_consultation", "new_medicines", "post_care_products", "clinical_note")}
                    record = signed_session(plan, user, sequence=number, supervisor=text(120), **notes, photo_consent=True,
                                            products=[(text(160), f"LOT-{i}") for i in range(12)], adverse_events=events,
                                            session_date=date.today(), zones=ZONES)
                    for _ in range(most["addenda"]):
                        add_addendum(db.session, record, text(most["reason"]), text(most["addendum"]), actor=user)
                    db.session.commit()
        finally:
            treatment_services.sign_session = real_sign
        for number in range(reviews):
            visit = capture.create_review_visit(db.session, patient, visit_date=date.today(),
                                                plan=plans[0], notes=text(2000), actor=user)
            take(visit, per_review, camera, user)
            db.session.commit()
        ids = {"patient": str(patient.public_id), "plan": str(plans[0].public_id), "other plan": str(plans[1].public_id)}
        db.session.remove()
    return ids


def cold(app, source: str, kind: str = "patient-export") -> tuple[float, int, str]:
    """One render as a first issue does: the web process's reduced copies emptied first."""
    from practitioner.photos import progress

    with progress.REDUCED.lock:
        progress.REDUCED.items.clear()
        progress.REDUCED.size = 0
    return render(app, source, kind)


LAST_PDF: dict[str, bytes] = {}
LAST_CPU: list[float] = [0.0]


def _record_render_cpu() -> None:
    """Add the render process's CPU seconds (it reports them with each PDF) to LAST_CPU."""
    from practitioner.documents.pdf import pool as rendering

    original = rendering.render_isolated

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        LAST_CPU[0] += result.cpu
        return result

    rendering.render_isolated = recording  # pdf_from_html looks it up at each call


def render(app, source: str, kind: str = "patient-export") -> tuple[float, int, str]:
    """Build and render one document (as issuing does: build, end the read, render): seconds, pages, title.

    LAST_CPU[0] is then the CPU seconds it took: the build in this thread and the render in the render process (on
    a busy shared machine the wall time is the CPU time stretched by the wait for a core; on a quiet one they agree).
    """
    from pypdf import PdfReader

    from practitioner.documents import services
    from practitioner.documents.models import DocumentKind
    from practitioner.documents.pdf.pool import RenderProcessError
    from practitioner.extensions import db

    with app.test_request_context():
        started, cpu = time.perf_counter(), time.thread_time()
        LAST_CPU[0] = 0.0
        spec = services.build(db.session, DocumentKind(kind), uuid.UUID(source), date.today())
        db.session.rollback()
        LAST_CPU[0] += time.thread_time() - cpu
        try:
            LAST_PDF[kind] = pdf = services.render(spec)
            pages = len(PdfReader(io.BytesIO(pdf)).pages)
        except RenderProcessError:  # stopped at the pool's render timeout
            pages = 0
        seconds = time.perf_counter() - started
        db.session.remove()
    return seconds, pages, spec.title


def keeping(real, per_visit: int | None, reviews: bool):
    """Wrap the export's photo list (`real`): at most `per_visit` photographs of each visit, review visits' photos or none."""

    def kept(session, patient_id):
        seen: dict[str, int] = {}
        out = []
        for photo in real(session, patient_id):
            if photo["visit"]["kind"] == "review" and not reviews:
                continue
            key = photo["visit"]["public_id"]
            seen[key] = seen.get(key, 0) + 1
            if per_visit is None or seen[key] <= per_visit:
                out.append(photo)
        return out

    return kept


def main() -> None:
    """Build the record, then time the plan's volume at each step, the progress sheet and the one-plan export."""
    session_limit, review_limit, reviews_limit = photo_limits()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-visit", type=int, default=session_limit or 30,
                        help="photographs per session (default: the limit; 30 before it, the capture form's most for every zone)")
    parser.add_argument("--per-review", type=int, default=review_limit or 15, help="photographs per review visit")
    parser.add_argument("--reviews", type=int, default=reviews_limit or 12, help="review visits of the plan")
    parser.add_argument("--steps", default="0,1,3", help="photographs per visit kept for the volume's other rows")
    parser.add_argument("--pdf", type=Path, help="a folder to keep the last plan volume and the progress sheet in")
    args = parser.parse_args()
    common.print_machine()
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    from practitioner.documents.kinds import patient_export

    with tempfile.TemporaryDirectory(prefix="bench-export-photos-") as directory:
        app, _client = setup(Path(directory))
        _record_render_cpu()
        started = time.perf_counter()
        ids = build_record(app, args.per_visit, args.reviews, args.per_review)
        total = 12 * args.per_visit + args.reviews * args.per_review
        print(f"record: 12 sessions at every limit, {args.per_visit} photographs each; {args.reviews} review visits of "
              f"{args.per_review}; {total} photographs in the plan; built in {time.perf_counter() - started:.0f} s")
        render(app, ids["other plan"])  # warm: the render process and its fonts
        rows = []
        steps = [int(s) for s in args.steps.split(",") if s.strip()] + [args.per_visit]
        real = patient_export.export_photos
        try:
            for step in steps:
                for reviews in ((False, True) if step == args.per_visit and args.reviews else (False,)):
                    patient_export.export_photos = keeping(real, step, reviews)
                    seconds, pages, _ = cold(app, ids["plan"])
                    photos = 12 * min(step, args.per_visit) + (args.reviews * min(step, args.per_review) if reviews else 0)
                    label = f"{step} per session" + (f", {args.reviews} review visits of {min(step, args.per_review)}" if reviews else "")
                    rows.append((label, photos, pages, LAST_CPU[0], seconds))
                    print(f"  plan volume, {label:44} {photos:4} photos {pages:4} pages  CPU {LAST_CPU[0]:6.2f} s  wall {seconds:6.2f} s",
                          flush=True)
        finally:
            patient_export.export_photos = real
        patient_export.export_photos = real
        seconds, pages, _ = render(app, ids["plan"])  # warm: every reduced copy already in this process
        print(f"  plan volume, every photo, its reduced copies kept in the web process (warm) {pages:4} pages  CPU {LAST_CPU[0]:6.2f} s  "
              f"wall {seconds:6.2f} s")
        if len(rows) > 1 and rows[-2][1] > rows[0][1]:
            per_photo = (rows[-2][3] - rows[0][3]) / (rows[-2][1] - rows[0][1])
            print(f"CPU per photograph in the plan volume (first issue): {per_photo * 1000:.0f} ms ({rows[0][3]:.2f} s with none)")
        seconds, pages, _ = cold(app, ids["plan"], "progress-sheet")
        print(f"  progress sheet (six pairs at print size)                     {pages:4} pages  CPU {LAST_CPU[0]:6.2f} s  wall {seconds:6.2f} s")
        if args.pdf:
            args.pdf.mkdir(parents=True, exist_ok=True)
            for kind, pdf in LAST_PDF.items():
                (args.pdf / f"{kind}.pdf").write_bytes(pdf)
        rows.append(("progress sheet", 12, pages, LAST_CPU[0], seconds))
        real_volumes = patient_export.volumes
        patient_export.volumes = lambda session, patient: []  # one export: what a patient with one such plan gets
        try:
            seconds, pages, _ = cold(app, ids["patient"])
        finally:
            patient_export.volumes = real_volumes
        print(f"  the whole record as one export (both plans, every photo)     {pages:4} pages  CPU {LAST_CPU[0]:6.2f} s  wall {seconds:6.2f} s")
        worst = max(row[3] for row in rows)
        print(f"worst CPU: {worst:.2f} s, worst wall {max(row[4] for row in rows):.2f} s (goal < {GOAL_RENDER_SECONDS:.0f} s: {'met' if worst < GOAL_RENDER_SECONDS else 'NOT met'}; "
              f"aim <= {AIM_SECONDS:.0f} s: {'met' if worst <= AIM_SECONDS else 'NOT met'})")
        print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        common.dispose(app)


if __name__ == "__main__":
    main()
