"""Rendering patient documents: the report environment, the URL fetcher, the PDF it makes, hostile text."""

from __future__ import annotations

import base64
import io
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import jinja2
import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from practitioner import ROOT
from practitioner.documents.pdf import html as report_html
from practitioner.documents.pdf import pool, worker
from practitioner.documents.pdf.html import ensure_plain, report_environment
from practitioner.documents.pdf.pool import DocumentRenderError, pdf_from_html, render_pdf
from practitioner.documents.pdf.worker import LOGO_URL, REPORTS_DIR, RefusedURL, font_configuration, make_url_fetcher
from practitioner.patients.models import Patient

TITLE = "Aftercare after your microneedling"


# -- test data -------------------------------------------------------------------------------


def make_logo() -> bytes:
    """A small transparent PNG logo, drawn here so the test needs no file."""
    image = Image.new("RGBA", (360, 120), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((4, 4, 116, 116), fill=(13, 95, 104, 255))
    draw.ellipse((34, 34, 86, 86), fill=(255, 255, 255, 255))
    draw.rectangle((140, 40, 350, 80), fill=(13, 95, 104, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def sample_context(*, clinic: dict[str, Any] | None = None, **patient: Any) -> dict[str, Any]:
    """Plain values for reports/templates/sample.html; keyword arguments replace patient fields."""
    return {
        "clinic": {
            "name": "Harbour Skin Clinic",
            "address_lines": ["12 Quay Street", "Bristol BS1 4DJ"],
            "phone": "0117 496 0123",
            "email": "hello@harbourskin.example",
            **(clinic or {}),
        },
        "document": {
            "number": "PD-2026-000042",
            "content_version": "aftercare-mn 2026.11-1",
            "issued_on": date(2026, 11, 25),
            "summary": "Aftercare instructions after microneedling",
        },
        "patient": {
            "name": "Jane Doe",
            "own_words": "I would like the acne scars on my cheeks to be less visible.",
            "allergies": "none known",
            "questions": ["Can I wear make-up to work on Friday?"],
            **patient,
        },
        "treatment": {
            "date": date(2026, 11, 25),
            "practitioner": "Dr Amira Patel",
            "session_number": 1,
            "session_count": 3,
            "areas": ["Cheeks", "Forehead"],
            "products": ["Numbing cream: lidocaine 4%", "Hyaluronic acid serum (Brand X)"],
        },
        "timeline": [
            {"when": "Today", "dates": "Wed 25 Nov", "expect": "Redness and warmth, like a mild sunburn.",
             "do": "Keep your skin clean. Use the calming balm we gave you.", "avoid": "Make-up, exercise, hot showers."},
            {"when": "The next two days", "dates": "26–27 Nov", "expect": "Redness fades; skin may feel tight.",
             "do": "Wash gently with lukewarm water. Moisturise.", "avoid": "Retinoids, acids, scrubs, sun."},
            {"when": "Days 3 to 7", "dates": "28 Nov – 2 Dec", "expect": "Dryness and light flaking.",
             "do": "Moisturise; mineral sunscreen SPF 30+.", "avoid": "Picking flakes; saunas."},
            {"when": "From the second week", "dates": "from 3 Dec", "expect": "Skin looks fresher; results keep building for months.",
             "do": "Go back to your usual routine.", "avoid": "Strong sun without protection."},
        ],
        "dated": [
            {"what": "Make-up", "from_date": date(2026, 11, 26)},
            {"what": "Exercise, sauna and swimming", "from_date": date(2026, 11, 28)},
            {"what": "Retinoids, acids and vitamin C", "from_date": date(2026, 11, 30)},
            {"what": "Sun beds and tanning", "from_date": date(2026, 12, 9)},
        ],
        "warning_signs": [
            "Redness or swelling that gets worse after day 3",
            "Yellow crusts, pus or a fever",
            "Blisters or a spreading rash",
            "Pain that is getting worse, not better",
        ],
        "next_visit": date(2026, 12, 23),
    }


def render_sample(**options: Any) -> bytes:
    """The sample document as PDF bytes, with the logo unless told otherwise."""
    context = options.pop("context", None) or sample_context()
    options.setdefault("logo_png", make_logo())
    return render_pdf("sample.html", context, title=options.pop("title", TITLE), **options)


def page_texts(pdf: bytes) -> list[str]:
    """The extracted text of every page."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def squeeze(text: str) -> str:
    """Text without any whitespace, so line wrapping does not matter when comparing."""
    return "".join(text.split())


def font_sizes(pdf: bytes) -> Counter[float]:
    """Characters drawn per effective font size in points (font size times the text and CTM scale)."""
    sizes: Counter[float] = Counter()

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text.strip():
            return
        a = tm[0] * cm[0] + tm[1] * cm[2]
        b = tm[0] * cm[1] + tm[1] * cm[3]
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        sizes[round(size * math.sqrt(abs(a * d - b * c)), 1)] += len(text.strip())

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return sizes


def embedded_fonts(pdf: bytes) -> set[tuple[str, bool]]:
    """(FontName from the FontDescriptor, whether the font program is embedded) for every page font."""
    found = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"].get("/Font", {}).values():
            font = font.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = described["/FontDescriptor"].get_object()
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            found.add((str(descriptor["/FontName"]), embedded))
    return found


@pytest.fixture(scope="module")
def sample_pdf() -> bytes:
    """The A4 sample with a logo, rendered once for the tests that only read it."""
    return render_sample()


# -- the Jinja environment -------------------------------------------------------------------


def test_report_environment_is_separate_cached_autoescaped_and_strict() -> None:
    environment = report_environment()
    assert environment is report_environment()
    assert Path(environment.loader.searchpath[0]) == REPORTS_DIR / "templates"  # type: ignore[union-attr]
    assert environment.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        environment.from_string("{{ missing }}").render()
    assert environment.from_string("{{ nothing }}|{{ text }}").render(nothing=None, text="a\x00b\u202ec") == "|abc"


def test_date_filters_use_english_names_whatever_the_locale() -> None:
    environment = report_environment()
    day = date(2026, 11, 25)
    assert environment.from_string("{{ d|long_date }}").render(d=day) == "Wednesday 25 November 2026"
    assert environment.from_string("{{ d|short_date }}").render(d=day) == "25 Nov 2026"
    assert environment.from_string("{{ nothing|long_date }}").render(nothing=None) == ""


# -- the PDF ---------------------------------------------------------------------------------


def test_sample_is_a_tagged_archival_pdf_with_title_and_language(sample_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(sample_pdf))
    catalog = reader.trailer["/Root"]
    assert reader.metadata is not None and reader.metadata.title == TITLE
    assert catalog["/Lang"] == "en"
    assert "/StructTreeRoot" in catalog
    assert catalog["/MarkInfo"]["/Marked"] == True  # noqa: E712  (a pypdf BooleanObject)
    assert catalog["/ViewerPreferences"]["/DisplayDocTitle"] == True  # noqa: E712
    assert "/OutputIntents" in catalog
    xmp = catalog["/Metadata"].get_object().get_data()
    assert b'pdfaid:part="3"' in xmp and b'pdfaid:conformance="U"' in xmp
    assert TITLE in page_texts(sample_pdf)[0]


def test_only_the_bundled_atkinson_hyperlegible_is_embedded(sample_pdf: bytes) -> None:
    fonts = embedded_fonts(sample_pdf)
    assert fonts
    for name, embedded in fonts:
        assert "Atkinson-Hyperlegible" in name and embedded, fonts
    assert any(name.endswith("Atkinson-Hyperlegible-Bold") for name, _ in fonts)


@pytest.mark.parametrize(
    ("paper", "size"), [("A4", (595.28, 841.89)), ("Letter", (612.0, 792.0)), ("letter", (612.0, 792.0))]
)
def test_paper_size_follows_the_clinic_setting(paper: str, size: tuple[float, float]) -> None:
    for page in PdfReader(io.BytesIO(render_sample(paper=paper))).pages:
        assert (round(float(page.mediabox.width), 2), round(float(page.mediabox.height), 2)) == size


def test_text_is_at_least_11pt_and_large_print_at_least_16pt(sample_pdf: bytes) -> None:
    normal = font_sizes(sample_pdf)
    large = font_sizes(render_sample(large_print=True))
    assert min(normal) >= 11
    assert min(large) >= 16
    body_normal, body_large = normal.most_common(1)[0][0], large.most_common(1)[0][0]
    assert 11.5 <= body_normal <= 12.5
    assert body_large >= 16 and body_large > body_normal


def test_every_page_says_page_x_of_y_and_carries_the_running_header(sample_pdf: bytes) -> None:
    texts = page_texts(sample_pdf)
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text
        assert "Document PD-2026-000042" in text
    # The content version is printed once, at the end, not on every page (issue 10).
    assert sum(text.count("aftercare-mn 2026.11-1") for text in texts) == 1 and "Content version" not in " ".join(texts)
    for text in texts[1:]:  # the running header: on the first page the letterhead stands instead
        assert "Harbour Skin Clinic" in text and TITLE in text
    assert TITLE not in texts[0].replace(f"{TITLE}\n", "", 1)


def image_count(pdf: bytes) -> int:
    """Image XObjects on the first page."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    objects = page["/Resources"].get("/XObject", {})
    return sum(1 for item in objects.values() if item.get_object()["/Subtype"] == "/Image")


def test_the_logo_is_drawn_only_when_the_clinic_has_one(sample_pdf: bytes) -> None:
    assert image_count(sample_pdf) == 1
    assert image_count(render_sample(logo_png=None)) == 0


@pytest.mark.parametrize(
    "options",
    [{}, {"paper": "Letter"}, {"large_print": True}, {"logo_png": None}, {"paper": "Letter", "large_print": True}],
    ids=["a4", "letter", "large-print", "no-logo", "letter-large-print"],
)
def test_weasyprint_logs_no_warning_or_error(
    options: dict[str, Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new render process, so its FontConfiguration is new and the fonts are fetched and loaded
    # inside this test too. What WeasyPrint logs over there is logged again here (see
    # test_a_weasyprint_warning_in_the_render_process_is_logged_here).
    pool.shutdown_render_process()
    caplog.set_level(logging.WARNING, logger="weasyprint")
    render_sample(**options)
    assert [record.getMessage() for record in caplog.records if record.name.startswith("weasyprint")] == []
    # And in this process, where nothing is relayed, with a fresh FontConfiguration here too.
    monkeypatch.setattr(worker, "_font_config", None)
    logo = options.get("logo_png", make_logo())
    html = report_html.render_html(
        "sample.html", sample_context(), title=TITLE, paper=options.get("paper", "A4"),
        large_print=options.get("large_print", False), with_logo=logo is not None,
    )
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        result = worker.weasyprint_pdf(html, title=TITLE, language="en", logo_png=logo)
    assert result.pid == os.getpid() and result.problems == [] and result.refused == []
    assert [record.getMessage() for record in caplog.records if record.name.startswith("weasyprint")] == []


def test_the_same_input_gives_the_same_bytes(sample_pdf: bytes) -> None:
    assert render_sample() == sample_pdf


def test_one_font_configuration_is_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint

    # weasyprint_pdf, the function the render process runs, called here so the spy sees it.
    used: list[Any] = []
    original = weasyprint.HTML.render

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        used.append(kwargs.get("font_config"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "render", spy)
    html = report_html.render_html("sample.html", sample_context(), title=TITLE)
    large = report_html.render_html("sample.html", sample_context(), title=TITLE, large_print=True)
    worker.weasyprint_pdf(html, title=TITLE, language="en", logo_png=None)
    worker.weasyprint_pdf(large, title=TITLE, language="en", logo_png=None)
    assert len(used) == 2 and used[0] is not None
    assert used[0] is used[1] is font_configuration()


def test_the_render_process_loads_the_fonts_once() -> None:
    # Through the render process: a new one fetches the font files for its first document only.
    pool.shutdown_render_process()
    html = report_html.render_html("sample.html", sample_context(), title=TITLE)
    first = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    second = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    assert first.pid == second.pid != os.getpid()
    assert any(url.endswith(".woff2") for url in first.served)
    assert not any(url.endswith(".woff2") for url in second.served) and second.served


def test_a_forked_worker_builds_its_own_font_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = font_configuration()
    monkeypatch.setattr(os, "getpid", lambda: -1)
    child = font_configuration()
    assert child is not parent and child is font_configuration()


# -- plain values only -----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    label: str
    value: Any


def test_plain_values_pass() -> None:
    ensure_plain({"a": [1, 2.5, None, True, "x", date(2026, 1, 1)], "b": {"c": (Row("l", {"d": {"e"}}),)}})


def test_an_orm_object_in_the_context_is_refused_by_key() -> None:
    with pytest.raises(TypeError, match=r"context\['visit'\]\['patients'\]\[1\] is a SQLAlchemy-mapped object \(Patient\)"):
        ensure_plain({"visit": {"patients": ["plain", Patient()]}})
    with pytest.raises(TypeError, match=r"context\['rows'\]\[0\]\.value is a SQLAlchemy-mapped object"):
        ensure_plain({"rows": [Row("patient", Patient())]})
    with pytest.raises(TypeError, match=r"context\['model'\] is a SQLAlchemy-mapped object"):
        ensure_plain({"model": Patient})
    with pytest.raises(TypeError, match="SQLAlchemy-mapped"):
        render_pdf("sample.html", {**sample_context(), "patient": Patient()}, title=TITLE)


def test_other_objects_are_refused_too() -> None:
    with pytest.raises(TypeError, match=r"context\['thing'\] is a object, not a plain value"):
        ensure_plain({"thing": object()})
    with pytest.raises(TypeError, match="not a plain value"):
        ensure_plain({"raw": b"bytes"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"context": {**sample_context(), "title": "x"}}, "may not set title"),
        ({"paper": "A5"}, "Unknown paper size"),
        ({"language": "en<script>"}, "Unknown language code"),
        ({"logo_png": b"<svg/>"}, "must be PNG bytes"),
    ],
)
def test_bad_arguments_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_sample(**change)


# -- the URL fetcher -------------------------------------------------------------------------


def test_fetcher_serves_files_under_reports() -> None:
    fetcher = make_url_fetcher(REPORTS_DIR, None)
    url = (REPORTS_DIR / "fonts" / "fonts.css").resolve().as_uri()
    result = fetcher(url)
    assert result["mime_type"] == "text/css" and b"Atkinson Hyperlegible" in result["string"]
    font = fetcher((REPORTS_DIR / "fonts/atkinson-hyperlegible/atkinson-hyperlegible-400-normal.woff2").as_uri())
    assert font["mime_type"] == "font/woff2" and font["string"][:4] == b"wOF2"
    assert fetcher.served == [url, font["redirected_url"]] and fetcher.refused == []


def test_fetcher_serves_the_logo_bytes_given_and_nothing_when_none() -> None:
    logo = make_logo()
    assert make_url_fetcher(REPORTS_DIR, logo)(LOGO_URL) == {"string": logo, "mime_type": "image/png", "redirected_url": LOGO_URL}
    fetcher = make_url_fetcher(REPORTS_DIR, None)
    with pytest.raises(RefusedURL, match="without a clinic logo"):
        fetcher(LOGO_URL)
    assert fetcher.refused == [LOGO_URL]


def test_fetcher_allows_base64_raster_data_images_only() -> None:
    png = make_logo()
    fetcher = make_url_fetcher(REPORTS_DIR, None)
    result = fetcher("data:image/png;base64," + base64.b64encode(png).decode())
    assert result["string"] == png and result["mime_type"] == "image/png"
    refused = [
        "data:image/svg+xml;base64," + base64.b64encode(b'<svg><image href="http://127.0.0.1/x"/></svg>').decode(),
        "data:text/css,@import url(http://127.0.0.1/x);",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png,notbase64",
        "data:image/png;base64,!!!",
        "data:,hello",
    ]
    for url in refused:
        with pytest.raises(RefusedURL, match="data:"):
            fetcher(url)
    assert fetcher.refused == refused


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    """A file outside reports/ that a document must never be able to read."""
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    return secret


def refused_urls(outside: Path) -> list[str]:
    """URLs the fetcher must refuse: network, other schemes, other files, escapes."""
    reports = REPORTS_DIR.resolve()
    return [
        "http://127.0.0.1:9/canary.png",
        "https://example.com/font.woff2",
        "ftp://127.0.0.1/file.css",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "file://127.0.0.1" + (reports / "print.css").as_posix(),
        outside.as_uri(),
        (reports / "fonts").as_uri() + "/../../" + outside.relative_to("/").as_posix(),
        (reports / "fonts").as_uri() + "/%2e%2e/print.css",
        (reports / "print.css").as_uri() + "?v=1",
        (reports / "templates" / "_base.html").as_uri(),
        (reports / "content").as_uri(),
        reports.as_uri(),
        (reports / "no-such-file.css").as_uri(),
        "print.css",
        "/etc/passwd",
        "gopher://127.0.0.1/",
        "logo:other",
    ]


def test_fetcher_refuses_everything_else(outside_file: Path) -> None:
    fetcher = make_url_fetcher(REPORTS_DIR, make_logo())
    urls = refused_urls(outside_file)
    for url in urls:
        with pytest.raises(RefusedURL, match="Refused to fetch"):
            fetcher(url)
    assert fetcher.refused == urls
    assert fetcher.served == []


def test_fetcher_refuses_a_symlink_inside_reports_that_points_out(tmp_path: Path, outside_file: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "fonts").mkdir(parents=True)
    (reports / "fonts" / "fonts.css").write_text("/* inside */")
    (reports / "fonts" / "evil.css").symlink_to(outside_file)
    (reports / "fonts" / "alias.css").symlink_to(reports / "fonts" / "fonts.css")
    fetcher = make_url_fetcher(reports, None)
    assert fetcher((reports / "fonts" / "alias.css").as_uri())["string"] == b"/* inside */"
    with pytest.raises(RefusedURL, match="symlink"):
        fetcher((reports / "fonts" / "evil.css").as_uri())
    link_out_to_in = tmp_path / "in.css"
    link_out_to_in.symlink_to(reports / "fonts" / "fonts.css")
    with pytest.raises(RefusedURL, match="outside"):
        fetcher(link_out_to_in.as_uri())


def test_render_pdf_stops_when_a_template_asks_for_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = report_environment().overlay(
        loader=jinja2.ChoiceLoader([
            jinja2.DictLoader({"bad.html": '{% extends "_base.html" %}{% block content %}<img src="file:///etc/passwd" alt="x">{% endblock %}'}),
            report_environment().loader,  # type: ignore[list-item]
        ])
    )
    monkeypatch.setattr(report_html, "report_environment", lambda: environment)
    with pytest.raises(DocumentRenderError, match="file:///etc/passwd") as caught:
        render_pdf("bad.html", sample_context(), title=TITLE)
    assert caught.value.refused == ["file:///etc/passwd"]
    quiet = render_pdf("bad.html", sample_context(), title=TITLE, strict=False)
    assert quiet.startswith(b"%PDF-")


def test_a_weasyprint_warning_in_the_render_process_is_logged_here(rendering_log: pytest.LogCaptureFixture) -> None:
    caplog = rendering_log
    html = report_html.render_html("sample.html", sample_context(), title=TITLE).replace(
        "</body>", '<img src="file:///etc/passwd" alt="x"></body>'
    )
    assert pdf_from_html(html, title=TITLE, language="en", strict=False).startswith(b"%PDF-")
    relayed = [record for record in caplog.records if record.name.startswith("weasyprint")]
    assert relayed and all(record.levelno >= logging.WARNING for record in relayed)
    assert any("file:///etc/passwd" in record.getMessage() for record in relayed)
    summary = [record.getMessage() for record in caplog.records if record.name == pool.__name__]
    assert summary and "refused: ['file:///etc/passwd']" in summary[0]


# -- hostile text ----------------------------------------------------------------------------


class Canary:
    """A real HTTP server on 127.0.0.1 that counts every connection and request it sees."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                canary.requests.append(f"{self.command} {self.path}")
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "/landed")
                    self.end_headers()
                    return
                body = b"body { background: red }" if self.path.endswith(("css", "import")) else b"canary"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request: Any, client_address: Any) -> bool:
                canary.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def hits(self) -> int:
        return max(self.connections, len(self.requests))


@pytest.fixture
def canary() -> Iterator[Canary]:
    """The canary server, running for one test."""
    server = Canary()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=5)


def hostile_payloads(url: str) -> list[str]:
    """Text a patient (or anyone typing into a field) might enter to make the renderer fetch."""
    return [
        f'<img src="{url}/img" alt="x">',
        f'<link rel="stylesheet" href="{url}/css">',
        f'<iframe src="{url}/iframe"></iframe>',
        f'<object data="{url}/object"></object>',
        f'<embed src="{url}/embed">',
        f'<video poster="{url}/poster"></video>',
        f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{url}/svg-image"/></svg>',
        f"<style>@import url({url}/import);</style>",
        f'<div style="background:url({url}/bg)">styled</div>',
        '<img src="file:///etc/passwd">',
        '<a rel="attachment" href="file:///etc/passwd">passwd</a>',
        f'<link rel="attachment" href="{url}/attachment">',
        f'<a href="{url}/redirect">click me</a>',
        f'<base href="{url}/base/"><img src="relative.png">',
        f'<meta http-equiv="refresh" content="0;url={url}/refresh">',
        f'</title><img src="{url}/title">',
        f'"><script src="{url}/script"></script>',
        f"' onerror='fetch(\"{url}/attribute\")",
        f'<img srcset="{url}/srcset 2x">',
        f"url({url}/bare-css-url)",
        "{{ 7*7 }} {% include '_base.html' %}",
        "javascript:alert(1) data:text/html,<script>alert(1)</script>",
        "\u202egnp.exe right-to-left override",
        "null\x00byte",
        "A" * 2000 + f'<img src="{url}/after-long">',
    ]


def printed(payload: str) -> str:
    """What a payload should look like on paper: the same text, minus control and bidi characters."""
    return "".join(ch for ch in payload if ch not in "\x00\u202e")


def test_hostile_text_is_printed_as_text_and_nothing_is_fetched(
    canary: Canary, caplog: pytest.LogCaptureFixture
) -> None:
    payloads = hostile_payloads(canary.url)
    assert len(payloads) >= 15
    pool.shutdown_render_process()  # a new render process: the fonts are fetched in this render too
    caplog.set_level(logging.WARNING, logger="weasyprint")
    context = sample_context(
        clinic={"name": f'Clinic "><img src="{canary.url}/clinic"> \' onerror=\'x'},
        name=payloads[15],
        own_words=payloads[7],
        allergies=payloads[10],
        questions=payloads,
    )
    context["treatment"]["products"] = payloads[:3]
    title = f"Aftercare for {payloads[15]}"
    logo = make_logo()
    html = report_html.render_html("sample.html", context, title=title, large_print=True, with_logo=True)
    result = pool.render_isolated(html, title=title, language="en", logo_png=logo)

    assert canary.hits == 0 and canary.requests == []
    assert result.pid != os.getpid() and result.refused == [] and result.problems == []
    base = REPORTS_DIR.resolve().as_uri() + "/"
    assert any(url.endswith(".woff2") for url in result.served)
    assert result.served and all(url.startswith(base) or url == LOGO_URL for url in result.served)
    # The public path (strict: any WeasyPrint message would raise) gives the same document.
    pdf = render_pdf("sample.html", context, title=title, logo_png=logo, large_print=True)
    assert pdf == result.pdf
    assert [record.getMessage() for record in caplog.records if record.name.startswith("weasyprint")] == []

    text = squeeze("".join(page_texts(pdf)))
    long_one = payloads[-1]
    for payload in payloads[:-1]:
        assert squeeze(printed(payload)) in text, payload[:60]
    # The over-long one wraps over pages, with running headers between its lines.
    assert text.count("A") >= 2000 and squeeze(long_one[2000:]) in text
    assert "<img" in text and "{{7*7}}" in text

    reader = PdfReader(io.BytesIO(pdf))
    catalog = reader.trailer["/Root"]
    assert "/EmbeddedFiles" not in catalog.get("/Names", {}) and "/AF" not in catalog
    assert all("/Annots" not in page for page in reader.pages)
    assert reader.metadata is not None and reader.metadata.title == title
    assert canary.hits == 0


def test_the_canary_counts_and_the_fetcher_keeps_it_from_being_reached(canary: Canary) -> None:
    url = canary.url
    html = (
        '<!DOCTYPE html><html lang="en"><head><title>Canary</title>'
        f'<link rel="stylesheet" href="{url}/css"></head><body><p>canary</p>'
        f'<img src="{url}/img" alt="x"><img src="{url}/redirect" alt="y">'
        f'<a rel="attachment" href="{url}/attachment">a</a></body></html>'
    )
    import weasyprint

    # Positive control: WeasyPrint's own fetcher reaches the canary, redirect included.
    weasyprint.HTML(string=html).write_pdf()
    assert {"GET /css", "GET /img", "GET /redirect", "GET /landed", "GET /attachment"} <= set(canary.requests)

    before = canary.hits
    fetcher = make_url_fetcher(REPORTS_DIR, None)
    weasyprint.HTML(string=html, base_url=REPORTS_DIR.as_uri() + "/", url_fetcher=fetcher).write_pdf(
        font_config=font_configuration()
    )
    assert {f"{url}/css", f"{url}/img", f"{url}/redirect", f"{url}/attachment"} <= set(fetcher.refused)
    assert canary.hits == before

    with pytest.raises(DocumentRenderError) as caught:
        pdf_from_html(html, title="Canary", language="en")
    assert f"{url}/img" in caught.value.refused
    assert canary.hits == before


# -- what the page looks like ----------------------------------------------------------------


@pytest.mark.parametrize("options", [{}, {"large_print": True}, {"paper": "Letter"}], ids=["a4", "large-print", "letter"])
def test_pages_have_ink_inside_the_margins_and_none_at_the_edge(options: dict[str, Any], tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing: install poppler-utils")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    source = tmp_path / "sample.pdf"
    source.write_bytes(render_sample(**options))
    subprocess.run([pdftoppm, "-png", "-r", "60", str(source), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == len(PdfReader(source).pages) >= 2
    edge = math.ceil(3 / 25.4 * 60)  # 3 mm at 60 dpi
    for path in pages:
        with Image.open(path) as opened:
            image = opened.convert("L")
        width, height = image.size
        strips = [(0, 0, width, edge), (0, height - edge, width, height), (0, 0, edge, height), (width - edge, 0, width, height)]
        for box in strips:
            assert image.crop(box).getextrema()[0] >= 250, f"ink within 3 mm of the edge on {path.name}"
        inner = image.crop((edge, edge, width - edge, height - edge))
        assert inner.getextrema()[0] < 128, f"no ink on {path.name}"


def test_extended_latin_names_print_as_typed():
    """Łukasz Żółć, Dvořák and Şahin come out of the PDF as typed (one font file per face)."""
    import io

    from pypdf import PdfReader


    names = "Łukasz Żółć, Antonín Dvořák, Elif Şahin, Zoë Ångström"
    html_context = {"clinic": {"name": "Clinic", "address_lines": [], "phone": "1", "email": ""},
                    "document": {"number": "T-1", "content_version": "t", "issued_on": __import__("datetime").date(2026, 11, 24), "summary": "t"}}
    template = report_html.report_environment().from_string(
        '{% extends "_base.html" %}{% block content %}<p>' + "{{ names }}" + '</p><p><strong>{{ names }}</strong></p>{% endblock %}')
    html = template.render({**html_context, "names": names, "title": "Names", "lang": "en", "paper_class": "page-a4", "large_print": False, "logo_src": None})
    pdf = pool.pdf_from_html(html, title="Names", language="en")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert text.count(names) == 2, text


def test_greek_and_cyrillic_names_print_with_the_bundled_fallback_font():
    """Letters Atkinson Hyperlegible lacks come from the bundled Noto Sans, never from whatever the server has."""
    names = "Ολυμπία Παπαδοπούλου, Анна Ковальчук, Łukasz Dvořák"
    html_context = {"clinic": {"name": "Clinic", "address_lines": [], "phone": "1", "email": ""},
                    "document": {"number": "T-1", "content_version": "t", "issued_on": date(2026, 11, 24), "summary": "t"}}
    template = report_environment().from_string(
        '{% extends "_base.html" %}{% block content %}<p>{{ names }}</p><p><strong>{{ names }}</strong></p>{% endblock %}')
    html = template.render({**html_context, "names": names, "title": "Names", "lang": "en", "paper_class": "page-a4",
                            "large_print": False, "logo_src": None})
    pdf = pdf_from_html(html, title="Names", language="en")
    assert page_texts(pdf)[0].count(names) == 2
    fonts = embedded_fonts(pdf)
    families = {name.split("+", 1)[-1] for name, _ in fonts}
    assert families == {"Atkinson-Hyperlegible", "Atkinson-Hyperlegible-Bold", "Noto-Sans", "Noto-Sans-Bold"}, fonts
    assert all(embedded for _, embedded in fonts)


# -- the render process ----------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _running(pid: int) -> bool:
    """True while pid is a live process (a zombie, exited but not yet reaped, counts as gone)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def _wait_until(condition: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"waited {seconds} s for {what}")


def _render_processes() -> list[int]:
    """This process's render processes: the children of its forkserver."""
    found = []
    for child in _children(os.getpid()):
        command = Path(f"/proc/{child}/cmdline").read_bytes() if _stat(child) else b""
        if b"multiprocessing.forkserver" in command:
            found += [pid for pid in _children(child) if _running(pid)]
    return found


@pytest.fixture
def rendering_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> pytest.LogCaptureFixture:
    """caplog, with this module's logger on: running the migrations (alembic's fileConfig in
    migrations/env.py) disables every logger that existed then, this one included."""
    monkeypatch.setattr(logging.getLogger(pool.__name__), "disabled", False)
    caplog.set_level(logging.WARNING)
    return caplog


@pytest.fixture
def fresh_render_process() -> Iterator[None]:
    """A new render process for the test, and none left behind by it."""
    pool.shutdown_render_process()
    yield
    pool.shutdown_render_process()


def small_html() -> str:
    return report_html.render_html("sample.html", sample_context(), title=TITLE)


def test_weasyprint_runs_in_a_render_process_and_gives_the_same_bytes(
    fresh_render_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    html = small_html()
    result = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    assert result.pid != os.getpid() and result.pid in _render_processes()
    assert result.renders == 1 and result.cpu > 0 and result.problems == [] and result.refused == []
    # The public function goes through it too...
    calls: list[int] = []
    original = pool.render_isolated

    def spy(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        calls.append(out.pid)
        return out

    monkeypatch.setattr(pool, "render_isolated", spy)
    pdf = pdf_from_html(html, title=TITLE, language="en")
    assert calls == [result.pid] and pdf == result.pdf
    # ...unless PRACTITIONER_PDF_IN_PROCESS=1, which renders here: the same bytes.
    monkeypatch.setenv(pool.IN_PROCESS_VARIABLE, "1")
    assert pdf_from_html(html, title=TITLE, language="en") == result.pdf
    assert calls == [result.pid]


def test_the_render_process_is_replaced_after_renders_per_process(
    fresh_render_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "RENDERS_PER_PROCESS", 3)
    html = small_html()
    results = [pool.render_isolated(html, title=TITLE, language="en", logo_png=None) for _ in range(7)]
    pids = [result.pid for result in results]
    # 3 renders in the first; each next one renders a warm-up first, so 2 of ours fit in it.
    assert pids[0] == pids[1] == pids[2] != pids[3] == pids[4] != pids[5] == pids[6] != pids[0]
    assert [result.renders for result in results] == [1, 2, 3, 2, 3, 2, 3]
    assert len({result.pdf for result in results}) == 1
    # The retired ones have exited, and one is left: the next one, already started.
    for pid in set(pids):
        _wait_until(lambda: not _running(pid), 10, f"the retired render process {pid} to exit")
    assert len(_wait_until(_render_processes, 10, "the next render process")) == 1


def test_a_served_app_starts_its_render_process_with_its_first_request(
    fresh_render_process: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from practitioner import create_app
    from tests.conftest import make_config

    monkeypatch.setattr(pool, "_started_early", None)
    served = create_app(make_config(database_url, TESTING=False))
    assert _render_processes() == []
    assert served.test_client().get("/sign-in").status_code == 200
    # The forkserver (started by that request) is there at once, and its render process soon after.
    _wait_until(_render_processes, 20, "the render process to start after the first request")
    # A warm-up render was queued there before any document was asked for: the first PDF is its second render.
    first = pool.render_isolated(small_html(), title=TITLE, language="en", logo_png=None)
    assert first.renders == 2


def test_tests_and_commands_do_not_start_a_render_process_early(
    fresh_render_process: None, app: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "_started_early", None)
    assert client.get("/sign-in").status_code == 200
    time.sleep(0.5)
    assert _render_processes() == [] and pool._started_early is None


def test_a_render_that_overruns_is_stopped_and_the_next_one_works(
    fresh_render_process: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    html = small_html()
    first = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    monkeypatch.setattr(pool, "RENDER_TIMEOUT_SECONDS", 0.001)
    with pytest.raises(pool.RenderProcessError, match="longer than 0.001 seconds"):
        pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    _wait_until(lambda: not _running(first.pid), 10, "the overrunning render process to be stopped")
    monkeypatch.setattr(pool, "RENDER_TIMEOUT_SECONDS", 60)
    again = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    assert again.pid != first.pid and again.pdf == first.pdf


def test_a_killed_render_process_is_replaced(fresh_render_process: None) -> None:
    html = small_html()
    first = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    os.kill(first.pid, signal.SIGKILL)
    _wait_until(lambda: not _running(first.pid), 10, "the killed render process to exit")
    again = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    assert again.pid != first.pid and again.pdf == first.pdf
    assert _render_processes() == [again.pid]


def _kill_when_busy(spared: set[int], killed: list[int]) -> None:
    """SIGKILL the first render process not in `spared` once it is rendering (its CPU time grows)."""
    seen: dict[int, int] = {}

    def busy() -> int | None:
        for pid in _render_processes():
            fields = _stat(pid)
            if pid in spared or fields is None:
                continue
            ticks = int(fields[11]) + int(fields[12])
            if ticks >= seen.setdefault(pid, ticks) + 3:
                return pid
        return None

    pid = _wait_until(busy, 20, "a render process to start rendering")
    os.kill(pid, signal.SIGKILL)
    killed.append(pid)


def big_html() -> str:
    """A document of about thirty pages: a render long enough to be killed in the middle."""
    context = sample_context(questions=[f"Question {n}: " + "Can I wear make-up to work? " * 12 for n in range(300)])
    return report_html.render_html("sample.html", context, title=TITLE)


def test_a_render_process_killed_while_rendering_is_replaced_and_the_render_tried_again(
    fresh_render_process: None, rendering_log: pytest.LogCaptureFixture
) -> None:
    caplog = rendering_log
    html = big_html()
    pool.render_isolated(small_html(), title=TITLE, language="en", logo_png=None)  # started and warm
    before = set(_render_processes())
    killed: list[int] = []
    killer = threading.Thread(target=_kill_when_busy, args=(set(), killed))
    killer.start()
    try:
        result = pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    finally:
        killer.join(timeout=30)
    assert killed and killed[0] in before and result.pid != killed[0]
    assert len(PdfReader(io.BytesIO(result.pdf)).pages) >= 10
    assert any("render process stopped" in record.getMessage() for record in caplog.records)


def test_a_document_that_kills_the_render_process_twice_raises_a_clear_error(fresh_render_process: None) -> None:
    html = big_html()
    pool.render_isolated(small_html(), title=TITLE, language="en", logo_png=None)
    killed: list[int] = []

    def kill_twice() -> None:
        _kill_when_busy(set(), killed)
        _kill_when_busy(set(killed), killed)

    killer = threading.Thread(target=kill_twice)
    killer.start()
    try:
        with pytest.raises(pool.RenderProcessError, match="stopped twice"):
            pool.render_isolated(html, title=TITLE, language="en", logo_png=None)
    finally:
        killer.join(timeout=30)
    assert len(killed) == 2
    # The next document gets a new render process.
    assert pool.render_isolated(small_html(), title=TITLE, language="en", logo_png=None).pid not in killed


SCRIPT = """
import os, sys, time
from practitioner.documents.pdf import pool as rendering
result = rendering.render_isolated("<p>one</p>", title="t", language="en", logo_png=None)
print(result.pid, flush=True)
if sys.argv[1] == "fork":
    child = os.fork()
    if child == 0:
        code = 1
        try:
            print(rendering.render_isolated("<p>two</p>", title="t", language="en", logo_png=None).pid, flush=True)
            rendering.shutdown_render_process()
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, status
    print(rendering.render_isolated("<p>three</p>", title="t", language="en", logo_png=None).pid, flush=True)
elif sys.argv[1] == "sleep":
    time.sleep(120)
"""


def _run_script(mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", SCRIPT, mode], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def test_no_render_process_outlives_a_killed_web_process() -> None:
    web = _run_script("sleep")
    try:
        assert web.stdout is not None
        render_pid = int(web.stdout.readline())
        below = _descendants(web.pid)  # the forkserver, the resource tracker, the render process
        assert render_pid in below and len(below) >= 3
    finally:
        web.kill()  # SIGKILL: no atexit, no exit hooks
        web.wait(timeout=10)
        if web.stdout is not None:
            web.stdout.close()
    for pid in below:
        _wait_until(lambda: not _running(pid), 5, f"process {pid} to exit after its web process was killed")


def test_no_render_process_outlives_a_web_process_that_exits() -> None:
    web = _run_script("exit")
    out, _ = web.communicate(timeout=60)
    assert web.returncode == 0
    render_pid = int(out.split()[0])
    _wait_until(lambda: not _running(render_pid), 5, "the render process to exit with its web process")


def test_a_forked_web_process_starts_its_own_render_process() -> None:
    web = _run_script("fork")
    out, _ = web.communicate(timeout=120)
    assert web.returncode == 0, out
    parent_first, child, parent_again = (int(pid) for pid in out.split())
    assert child != parent_first and parent_again == parent_first
