"""Photo pages benchmark: the photo timeline and the comparison for a patient with 300 photos, and the progress sheet.

Goals (issue 12):
- the patient's photos page (the full timeline), the patient's page (with its photo timeline) and the
  comparison page: p95 under 50 ms in process, for a patient with 300 photos;
- the same number of SQL statements for a patient with 3 photos as for one with 300;
- the progress sheet with 6 pairs renders within 1.5 times the aftercare's render time (same run,
  interleaved; build and render, as issuing does, each in its render process).

The 300 photos are small images (the pages read no image bytes); the progress sheet's twelve are
2560 x 1920 JPEGs, the size the upload route stores.

Run: .venv/bin/python bench/bench_photos_pages.py [--n 200] [--renders 7]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOAL_P95_MS = 50.0
GOAL_SHEET_RATIO = 1.5
FACE_VIEWS = ("frontal", "oblique_left", "oblique_right", "lateral_left", "lateral_right")
CLOSE_UPS = ("cheeks", "forehead")


def camera_jpeg(seed: int, size: tuple[int, int] = (2560, 1920)) -> bytes:
    """A photo-sized JPEG with texture (noise over a gradient), so it compresses like a photo, not like a flat colour."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    small = Image.effect_noise((size[0] // 8, size[1] // 8), 40).convert("RGB")
    image = small.resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] * 0.3, size[1] * 0.1, size[0] * 0.7, size[1] * 0.9),
                 fill=(200 + rng.randint(-20, 20), 150 + rng.randint(-20, 20), 130 + rng.randint(-20, 20)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def patient_with_photos(user, count: int, *, name: str):
    """A patient with a consultation's baselines, two plans of sessions (before and after photos) and review visits."""
    from practitioner.extensions import db
    from practitioner.patients.services import register_patient
    from tests.factories import make_consultation, make_plan
    from tests.photos.factories import make_photo, make_review, make_session, photo_consent, sign

    patient = register_patient(db.session, {"given_name": name, "family_name": "Lambert", "date_of_birth": date(1979, 11, 23),
                                            "sex": "female", "phone": f"07700 90{random.randint(1000, 9999)}", "record_number": "",
                                            "fitzpatrick": 3, "no_known_allergies": True}, actor=user, clinical=True)
    db.session.commit()
    start = date(2025, 1, 7)
    consultation = make_consultation(patient, user, consultation_date=start)
    consent = photo_consent(consultation, user)
    plans = [make_plan(consultation, sessions=10, zones=(("cheeks", "1.0", "1.5"), ("forehead", "0.5", "1.0"), ("neck", "0.5", "1.0")))
             for _ in range(2)]
    shots = [(view, None) for view in FACE_VIEWS] + [("close_up", zone) for zone in CLOSE_UPS]
    made = 0
    moment = datetime.combine(start, clock(10, 0), tzinfo=timezone.utc)

    def take(**visit):
        nonlocal made, moment
        for view, zone in shots:
            if made >= count:
                return
            moment += timedelta(minutes=1)
            make_photo(patient.id, consent, user, view=view, zone=zone, captured_at=moment, commit=False, shade=made, **visit)
            made += 1

    take(moment="baseline", consultation=consultation)
    day = start
    for plan in plans:
        for k in range(1, plan.sessions_planned + 1):
            day += timedelta(weeks=4)
            record = make_session(plan, user, sequence=k, session_date=day, consent=consent,
                                  zones=(("cheeks", "1.25"), ("forehead", "0.5"), ("neck", "0.75")))
            moment = datetime.combine(day, clock(9, 0), tzinfo=timezone.utc)
            take(moment="before", session=record)
            take(moment="immediately_after", session=record)
            sign(record)
        day += timedelta(weeks=8)
        moment = datetime.combine(day, clock(9, 0), tzinfo=timezone.utc)
        take(moment="review", review=make_review(patient.id, user, visit_date=day, plan=plan))
    while made < count:  # more review visits until the count is reached
        day += timedelta(weeks=6)
        moment = datetime.combine(day, clock(9, 0), tzinfo=timezone.utc)
        take(moment="review", review=make_review(patient.id, user, visit_date=day, plan=plans[-1]))
    db.session.commit()
    return patient, made


def sheet_plan(user):
    """A plan with six protocol pairs of camera-sized photos (baseline and session 3), for the progress sheet."""
    from practitioner.extensions import db
    from practitioner.patients.services import register_patient
    from tests.factories import make_consultation, make_plan
    from tests.photos.factories import make_photo, make_session, photo_consent, sign

    patient = register_patient(db.session, {"given_name": "Chloé", "family_name": "Okoro", "date_of_birth": date(1985, 4, 2),
                                            "sex": "female", "phone": "07700 900777", "record_number": "", "fitzpatrick": 4,
                                            "no_known_allergies": True}, actor=user, clinical=True)
    db.session.commit()
    consultation = make_consultation(patient, user, consultation_date=date(2026, 3, 3))
    consent = photo_consent(consultation, user)
    plan = make_plan(consultation, sessions=6, zones=(("cheeks", "1.0", "1.5"), ("neck", "0.5", "1.0")))
    shots = [(view, None) for view in FACE_VIEWS] + [("close_up", "cheeks")]
    size = (2560, 1920)  # camera-sized images, as the upload route stores them
    for number, (view, zone) in enumerate(shots):
        make_photo(patient.id, consent, user, view=view, zone=zone, moment="baseline", consultation=consultation, commit=False,
                   size=size, image=camera_jpeg(number, size))
    for k in range(1, 4):
        record = make_session(plan, user, sequence=k, session_date=date(2026, 3, 3) + timedelta(weeks=4 * k), consent=consent)
        if k == 3:
            for number, (view, zone) in enumerate(shots, 10):
                make_photo(patient.id, consent, user, view=view, zone=zone, moment="before", session=record, commit=False,
                           size=size, image=camera_jpeg(number, size))
        sign(record)
    db.session.commit()
    return plan


def setup(directory: Path):
    """The app on a fresh database: a practitioner, patients with 3 and 300 photos, the progress sheet's plan, a signed session."""
    from practitioner.admin.services import get_settings
    from practitioner.extensions import db
    from practitioner.patients.services import register_patient
    from tests.factories import signed_session, treatable_plan

    app = common.build_app(directory / "practitioner.sqlite3", migrate=False)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        settings = get_settings(db.session)
        settings.name, settings.phone = "Harbour Skin Clinic", "0117 496 0000"
        settings.address = "3 Narrow Quay\nBristol BS1 4QA"
        db.session.commit()
        user = common.create_bench_user("photos.practitioner@bench.example", "Dr Priya Raman")
        few, few_count = patient_with_photos(user, 3, name="Amelia")
        many, many_count = patient_with_photos(user, 300, name="Zoë")
        plan = sheet_plan(user)
        patient = register_patient(db.session, {"given_name": "Mei", "family_name": "Chen", "date_of_birth": date(1990, 6, 1),
                                                "sex": "female", "phone": "07700 900106", "record_number": "", "fitzpatrick": 3,
                                                "no_known_allergies": True}, actor=user, clinical=True)
        db.session.commit()
        aftercare_session = signed_session(treatable_plan(patient, user), user, products=(("Hyaluronic glide gel", "HG-778"),))
        ids = {"few": few.public_id, "many": many.public_id, "plan": plan.public_id, "session": aftercare_session.public_id}
        counts = {"few": few_count, "many": many_count}
        email = user.email
    return app, email, ids, counts


def page_urls(patient_id) -> dict[str, str]:
    """The pages measured, by name."""
    return {"photos page (full timeline)": f"/patients/{patient_id}/photos",
            "patient page (photo timeline)": f"/patients/{patient_id}",
            "compare (baseline and latest)": f"/patients/{patient_id}/photos/compare?view=frontal",
            "compare (close-up)": f"/patients/{patient_id}/photos/compare?view=close_up&zone=cheeks"}


def statements(app, client, url: str) -> int:
    """SQL statements one GET of the page runs."""
    from practitioner.extensions import db

    with app.app_context():
        engine = db.engine
    counts = []
    for _ in range(3):  # the fewest of three: a sign-in session's last-seen write lands on a request now and then
        with common.StatementCounter(engine) as counter, counter.counting() as seen:
            assert client.get(url).status_code == 200, url
        counts.append(len(seen))
    return min(counts)


def render_times(app, ids, renders: int) -> dict[str, list[float]]:
    """Build and render the progress sheet and the aftercare, interleaved, as issuing does (seconds each)."""
    from practitioner.dates import clinic_today
    from practitioner.documents import kinds, services
    from practitioner.documents.models import DocumentKind
    from practitioner.extensions import db

    documents = {"progress sheet (6 pairs)": (DocumentKind("progress-sheet"), ids["plan"]),
             "aftercare": (DocumentKind.AFTERCARE, ids["session"])}
    times: dict[str, list[float]] = {name: [] for name in documents}
    sizes: dict[str, int] = {}
    with app.test_request_context():
        for round_number in range(renders + 1):
            for name, (kind, source) in documents.items():
                start = time.perf_counter()
                # The kind's own build (services.build adds a signed record's integrity check, the same for both).
                spec = kinds.get(kind).make(db.session, source, clinic_today())
                db.session.rollback()
                pdf = services.render(spec)
                elapsed = time.perf_counter() - start
                if round_number:  # the first round warms the render process (and reduces the sheet's images once)
                    times[name].append(elapsed)
                else:
                    times.setdefault("_first", []).append(elapsed)
                sizes[name] = len(pdf)
        db.session.remove()
    times["_sizes"] = [float(sizes[name]) for name in documents]
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="requests per page (default 200)")
    parser.add_argument("--renders", type=int, default=7, help="renders of each document (default 7)")
    common.add_common_arguments(parser)
    args = parser.parse_args()
    common.print_machine()
    if args.wait_quiet:
        common.wait_for_quiet(args.wait_quiet)
    failed = False
    with tempfile.TemporaryDirectory() as directory:
        app, email, ids, counts = setup(Path(directory))
        client = app.test_client()
        common.sign_in(client, email)
        print(f"\nPatients: {counts['few']} photos and {counts['many']} photos.\n")
        print("Statements per page (3 photos / 300 photos):")
        for (name, few_url), many_url in zip(page_urls(ids["few"]).items(), page_urls(ids["many"]).values(), strict=True):
            if "close-up" in name:
                continue  # the patient with 3 photos has no close-up
            few, many = statements(app, client, few_url), statements(app, client, many_url)
            print(f"  {name:32s} {few:3d} / {many:3d}  {'same' if few == many else 'DIFFERENT'}")
            failed |= few != many
        print(f"\nIn process, patient with {counts['many']} photos, {args.n} requests each (goal: p95 under {GOAL_P95_MS:.0f} ms):")
        for name, url in page_urls(ids["many"]).items():
            for _ in range(5):
                client.get(url)
            summary = common.summarize(common.time_calls(lambda url=url: client.get(url), args.n))
            ok = summary.p95 < GOAL_P95_MS
            failed |= not ok
            print(f"  {name:32s} {summary.line()}  {'goal met' if ok else 'GOAL NOT MET'}")
        times = render_times(app, ids, args.renders)
        sizes = times.pop("_sizes")
        first = times.pop("_first")
        print(f"\nDocuments, build and render, median of {args.renders} (interleaved, after one warm-up round each):")
        medians = {}
        for (name, samples), size in zip(times.items(), sizes, strict=True):
            summary = common.summarize(samples)
            medians[name] = summary.median
            print(f"  {name:26s} {summary.line()}  PDF {size / 1024:7.0f} KB")
        print(f"  first build and render (render process starting, images reduced): progress sheet {first[0] * 1000:.0f} ms, "
              f"aftercare {first[1] * 1000:.0f} ms")
        ratio = medians["progress sheet (6 pairs)"] / medians["aftercare"]
        ok = ratio <= GOAL_SHEET_RATIO
        failed |= not ok
        print(f"  ratio progress sheet / aftercare: {ratio:.2f} (goal at most {GOAL_SHEET_RATIO})  {'goal met' if ok else 'GOAL NOT MET'}")
        common.dispose(app)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
