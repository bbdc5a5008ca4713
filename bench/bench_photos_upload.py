"""Photo upload benchmark: a 12-megapixel phone JPEG (4032x3024, EXIF orientation 6, GPS, serials, XMP) through
the capture page's upload route, stripped, turned upright, re-encoded at 2560 px with its thumbnail, stored.

Goals (issue 12, bench/README.md):
- a 12 MP JPEG through the upload route: median under 1 s on this machine;
- the web process's memory flat over 200 uploads: within 20 MB (RSS at the start, the end and the highest).

The route is called over HTTP on a server running in this process (Werkzeug's, one request at a time, as a web
worker; the real app on a SQLite file, CSRF on, signed in as a practitioner): what is timed is the POST of one
photo, from the request to the redirect after the commit, and the memory is this process's, server and all. The
image work alone (imaging.process) is timed too, and how long each upload held SQLite's write lock.

Run: .venv/bin/python bench/bench_photos_upload.py [--n 30] [--uploads 200]
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

GOAL_MEDIAN_MS = 1000.0
GOAL_GROWTH_MB = 20.0
FILE_INPUT = re.compile(r'name="(photo-[^"]+)"')


def phone_photo() -> bytes:
    """A 12 MP phone-style JPEG with grain (so it compresses like a real photo) and a phone's metadata."""
    from tests.photos.images import phone_jpeg

    return phone_jpeg(4032, 3024, orientation=6, quality=90, noise=True)


def setup(directory: Path):
    """The app on a fresh database, a practitioner, and a patient whose consent form gives clinical photography consent."""
    import hashlib

    from practitioner.consents.models import Consent
    from practitioner.extensions import db
    from tests.conftest import make_patient
    from tests.factories import make_consultation

    # No background document runner: nothing here issues a document, and its thread would outlive the database.
    app = common.build_app(directory / "practitioner.sqlite3", migrate=False, DOCUMENT_JOBS="inline")
    with app.app_context():
        import logging

        from flask_migrate import upgrade

        logging.disable(logging.INFO)
        upgrade()
        logging.disable(logging.NOTSET)
        user = common.create_bench_user("photo.practitioner@bench.example", "Dr Priya Raman")
        patient = make_patient(user)
        first = make_consultation(patient, user)
        db.session.add(Consent(patient_id=patient.id, consultation_id=first.id, modality=first.modality, content_version="bench",
                               content_sha256=hashlib.sha256(b"bench").hexdigest(), content_text="bench", photo_clinical=True,
                               patient_typed_name="Bench Patient", signature_png=b"\x89PNG", signature_sha256="0" * 64,
                               witnessed_by_id=user.id))
        db.session.commit()
        return app, user.email, patient.id, user.id


class Slots:
    """Open file inputs on consultations' capture pages: a new consultation when the last one's set is full."""

    def __init__(self, app, client, patient_id: int, user_id: int) -> None:
        self.app, self.client, self.patient_id, self.user_id = app, client, patient_id, user_id
        self.queue: list[tuple[str, str, str]] = []

    def _new_consultation(self) -> None:
        from practitioner.auth.models import User
        from practitioner.extensions import db
        from practitioner.patients.models import Patient
        from tests.factories import make_consultation

        with self.app.app_context():
            consultation = make_consultation(db.session.get(Patient, self.patient_id), db.session.get(User, self.user_id))
            page = f"/consultations/{consultation.public_id}/photos"
            db.session.remove()
        html = self.client.get(page).get_data(as_text=True)
        token = common.csrf_from(html)
        fields = FILE_INPUT.findall(html)
        if not fields:
            raise SystemExit(f"the capture page {page} offers no file input")
        self.queue.extend((page, token, field) for field in fields)

    def next(self) -> tuple[str, str, str]:
        if not self.queue:
            self._new_consultation()
        return self.queue.pop(0)


class Answer:
    """What HttpClient returns: the status and the body, read like a Flask test response."""

    def __init__(self, status_code: int, body: bytes) -> None:
        self.status_code, self.body = status_code, body

    def get_data(self, as_text: bool = False):
        return self.body.decode("utf-8", "replace") if as_text else self.body


class HttpClient:
    """A browser in miniature over real HTTP: keeps the session cookie, never follows redirects."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port, self.cookies = host, port, {}

    def _send(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> Answer:
        import http.client
        from http.cookies import SimpleCookie

        connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            for header in response.msg.get_all("Set-Cookie") or ():
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
            return Answer(response.status, data)
        finally:
            connection.close()

    def get(self, path: str) -> Answer:
        return self._send("GET", path)

    def post(self, path: str, data: bytes | dict, content_type: str | None = None) -> Answer:
        if isinstance(data, dict):
            from urllib.parse import urlencode

            return self._send("POST", path, urlencode(data).encode(), "application/x-www-form-urlencoded")
        return self._send("POST", path, data, content_type)


def serve(app):
    """The app on 127.0.0.1 in a thread of this process (Werkzeug's server, one request at a time), as a web worker."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=False)
    threading.Thread(target=server.serve_forever, name="bench-server", daemon=True).start()
    return server


def multipart(token: str, field: str, photo: bytes) -> tuple[bytes, str]:
    """The capture form's body with one photo, built in memory as a browser sends it."""
    boundary = "----bench-photo-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="moment"\r\n\r\nbaseline\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="IMG_4032.JPG"\r\n'
            "Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class WriteLockTimer:
    """How long each upload's transaction was open: SQLite's BEGIN IMMEDIATE holds the write lock until COMMIT.

    Only transactions that inserted a photo's image count (not the page reads, the sign-in touch or the audit of a GET).
    """

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.began: float | None = None
        self.stored = False
        self.held: list[float] = []
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, conn) -> None:
        self.began, self.stored = time.perf_counter(), False

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PHOTO_IMAGES"):
            self.stored = True

    def _end(self, conn) -> None:
        if self.began is not None and self.stored:
            self.held.append(time.perf_counter() - self.began)
        self.began, self.stored = None, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="timed uploads for the median (default 30)")
    parser.add_argument("--uploads", type=int, default=200, help="uploads for the memory check (default 200)")
    common.add_common_arguments(parser)
    args = parser.parse_args()
    if args.wait_quiet:
        common.wait_for_quiet(args.wait_quiet)
    common.print_machine()

    from practitioner.extensions import db
    from practitioner.photos import imaging
    from practitioner.photos.models import Photo

    photo = phone_photo()
    print(f"photo: 4032x3024 JPEG, {len(photo) / 1_048_576:.1f} MB, EXIF orientation 6, GPS, serial numbers, XMP", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-photos-", ignore_cleanup_errors=True) as tmp:
        app, email, patient_id, user_id = setup(Path(tmp))
        server = serve(app)
        client = HttpClient("127.0.0.1", server.server_port)
        common.sign_in(client, email)
        slots = Slots(app, client, patient_id, user_id)

        def upload() -> None:
            page, token, field = slots.next()
            body, content_type = multipart(token, field, photo)
            response = client.post(page, data=body, content_type=content_type)
            if response.status_code != 303:
                raise SystemExit(f"upload answered {response.status_code}: {response.get_data(as_text=True)[:500]}")

        # The image work alone, then the whole route.
        process_times = common.time_calls(lambda: imaging.process(photo), max(5, args.n // 3))
        for _ in range(3):  # warm-up: imports, caches, the first consultation
            upload()
        with app.app_context():
            lock = WriteLockTimer(db.engine)
        route_times, route_cpu = [], []
        for _ in range(args.n):
            cpu_before = time.process_time()
            route_times.append(common.time_calls(upload, 1)[0])
            route_cpu.append(time.process_time() - cpu_before)
        process_summary, route_summary = common.summarize(process_times), common.summarize(route_times)
        held = lock.held
        print(f"imaging.process alone : {process_summary.line()}")
        print(f"upload route (POST)   : {route_summary.line()}")
        print(f"  its CPU (this process): {common.summarize(route_cpu).line()}  (wall minus CPU: waiting for a core)")
        print(f"load average after the timed uploads: {common.load_average()}")
        if held:
            print(f"write lock held/upload: {common.summarize(held).line()}")

        # Memory over many uploads.
        gc.collect()
        start = common.rss_mb()
        highest = start
        for number in range(args.uploads):
            upload()
            if number % 10 == 9:
                highest = max(highest, common.rss_mb())
            if number % 50 == 49:
                print(f"  after {number + 1} uploads: RSS {common.rss_mb():.1f} MB", flush=True)
        gc.collect()
        end = common.rss_mb()
        highest = max(highest, end)
        with app.app_context():
            stored = db.session.query(Photo).count()
            db.session.remove()
        server.shutdown()
        common.dispose(app)

        growth = end - start
        report(args, route_summary, start, end, highest, growth, stored)


def report(args, route_summary, start: float, end: float, highest: float, growth: float, stored: int) -> None:
    """The memory figures and the goals, met or not."""
    print(f"memory over {args.uploads} uploads: RSS start {start:.1f} MB, end {end:.1f} MB, highest {highest:.1f} MB; "
          f"growth {growth:+.1f} MB (highest {highest - start:+.1f} MB); {stored} photos stored")
    median_ok = route_summary.median < GOAL_MEDIAN_MS
    memory_ok = highest - start <= GOAL_GROWTH_MB
    print(f"goal median < {GOAL_MEDIAN_MS:.0f} ms: {'met' if median_ok else 'NOT met'} ({route_summary.median:.0f} ms); "
          f"goal memory within {GOAL_GROWTH_MB:.0f} MB: {'met' if memory_ok else 'NOT met'} ({highest - start:+.1f} MB)")


if __name__ == "__main__":
    main()
