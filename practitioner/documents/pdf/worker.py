"""Runs in the PDF render process: WeasyPrint, the bundled fonts, and the URL fetcher that serves only reports/.

practitioner.documents.pdf.pool (in the web process) hands report HTML to a separate render
process and that process runs `weasyprint_pdf` from this module. This module, and the packages
above it (practitioner, practitioner.documents, practitioner.documents.pdf), import neither Flask
nor the app, so the render process (and the forkserver it is forked from) holds WeasyPrint and
this module only: about 70 MB less in each (tests/documents/test_pdf_package.py checks it).
What the renderer may read is described in practitioner.documents.pdf and enforced here by
`ReportURLFetcher`.
"""

from __future__ import annotations

import base64
import binascii
import gc
import logging
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname

from practitioner.paths import FONTS_DIR, REPORTS_DIR
LOGO_URL = "logo:clinic"
# PDF/A-3u is the archival variant (embedded fonts, sRGB output intent, Unicode text, XMP
# identification); tags are added on top for accessibility (structure tree, /Lang, /MarkInfo,
# DisplayDocTitle), and `_finish` (practitioner.documents.pdf.tagging) makes the file PDF/UA-1 as well.
# PDF/A-3 rather than -2 so a machine-readable copy (JSON) can be attached later.
PDF_VARIANT = "pdf/a-3u"

_FILE_TYPES = {
    ".css": "text/css",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
}
_DATA_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
# fontconfig's configuration for the renders: no host font folder, no host rules (see the file).
FONTS_CONFIG = FONTS_DIR / "fonts.conf"
_DATA_MAX_BYTES = 2 * 1024 * 1024


# -- the URL fetcher ---------------------------------------------------------------------------


class RefusedURL(ValueError):
    """The renderer asked for something outside `reports/`, the logo and raster `data:` images."""


class ReportURLFetcher:
    """A WeasyPrint url_fetcher serving only reports/ files, the logo and raster data: images."""

    def __init__(self, reports_dir: Path, logo_png: bytes | None) -> None:
        self.reports_dir = Path(os.path.realpath(reports_dir))
        self.logo_png = logo_png
        self.refused: list[str] = []
        self.served: list[str] = []

    def __call__(self, url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Return WeasyPrint's result dict for an allowed URL; raise RefusedURL for any other."""
        try:
            result = self._fetch(url)
        except RefusedURL:
            self.refused.append(url)
            raise
        self.served.append(url)
        return result

    def _fetch(self, url: str) -> dict[str, Any]:
        if url == LOGO_URL:
            if self.logo_png is None:
                raise self._refuse(url, "this document was rendered without a clinic logo")
            return {"string": self.logo_png, "mime_type": "image/png", "redirected_url": url}
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "file":
            return self._file(url)
        if scheme == "data":
            return self._data(url)
        raise self._refuse(url, "only files under reports/, the clinic logo and data: images may be used")

    def _file(self, url: str) -> dict[str, Any]:
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or parts.query:
            raise self._refuse(url, "file URLs must name a local file under reports/, without a host or query")
        raw = url2pathname(parts.path)
        if "\x00" in raw:
            raise self._refuse(url, "the path holds a null byte")
        path = Path(raw)
        if not path.is_absolute() or ".." in path.parts:
            raise self._refuse(url, "the path must be absolute and may not contain '..'")
        if not path.is_relative_to(self.reports_dir):
            raise self._refuse(url, f"the file is outside {self.reports_dir}")
        real = Path(os.path.realpath(path))
        # realpath follows symlinks: a link inside reports/ that points out of it ends up here.
        if not real.is_relative_to(self.reports_dir) or real == self.reports_dir:
            raise self._refuse(url, "the file resolves (through a symlink) to a place outside reports/")
        mime_type = _FILE_TYPES.get(real.suffix.lower())
        if mime_type is None:
            raise self._refuse(url, f"files of type {real.suffix or '(none)'!r} are not document assets")
        if not real.is_file():
            raise self._refuse(url, "there is no such file under reports/")
        return {"string": real.read_bytes(), "mime_type": mime_type, "redirected_url": url, "path": str(real)}

    def _data(self, url: str) -> dict[str, Any]:
        header, comma, payload = url[len("data:"):].partition(",")
        media_type, *parameters = [part.strip().lower() for part in header.split(";")]
        if not comma or media_type not in _DATA_IMAGE_TYPES or parameters != ["base64"]:
            raise self._refuse(url, "data: URLs may only hold base64 PNG, JPEG or GIF images")
        try:
            data = base64.b64decode(unquote_to_bytes(payload), validate=True)
        except (binascii.Error, ValueError):
            raise self._refuse(url, "the data: URL is not valid base64") from None
        if len(data) > _DATA_MAX_BYTES:
            raise self._refuse(url, "the data: image is larger than 2 MB")
        return {"string": data, "mime_type": media_type, "redirected_url": url}

    def _refuse(self, url: str, reason: str) -> RefusedURL:
        shown = url if len(url) <= 120 else url[:117] + "..."
        return RefusedURL(
            f"Refused to fetch {shown!r}: {reason}. Patient documents may only use files under "
            f"reports/, the clinic logo ({LOGO_URL}) and data: URLs of PNG, JPEG or GIF images."
        )


def make_url_fetcher(reports_dir: Path, logo_png: bytes | None) -> ReportURLFetcher:
    """A url_fetcher for WeasyPrint that serves reports_dir files and the logo, refusing the rest."""
    return ReportURLFetcher(reports_dir, logo_png)


# -- rendering ---------------------------------------------------------------------------------

# One FontConfiguration per process: each one builds a fontconfig configuration, loads the
# @font-face fonts again and keeps them in a temporary folder, so one per render holds memory
# and pays the font loading every time (about 330 ms a render instead of 115 ms here). Keyed
# by pid so a worker forked from a parent that already rendered builds its own.
_font_config: tuple[int, Any] | None = None
_font_config_lock = threading.Lock()
# WeasyPrint, Pango and fontconfig make no thread-safety promise for a shared FontConfiguration:
# renders in one process take turns.
_render_lock = threading.Lock()


def use_bundled_fonts_only() -> None:
    """Make fontconfig read reports/fonts/fonts.conf instead of the host's: the bundled fonts, never a host font.

    fontconfig reads FONTCONFIG_FILE each time a configuration is loaded (WeasyPrint loads one
    when it is imported and one for each FontConfiguration), so this runs when this module is
    imported (the forkserver imports it before WeasyPrint: pool._PRELOAD) and again before each
    FontConfiguration is built.
    """
    os.environ["FONTCONFIG_FILE"] = str(FONTS_CONFIG)


use_bundled_fonts_only()


def font_configuration() -> Any:
    """This process's WeasyPrint FontConfiguration, created on first use and then reused."""
    global _font_config
    with _font_config_lock:
        if _font_config is None or _font_config[0] != os.getpid():
            from weasyprint.text.fonts import FontConfiguration

            from practitioner.documents.pdf.languages import tag_languages
            from practitioner.documents.pdf.text_layer import actual_text

            use_bundled_fonts_only()
            tag_languages()
            actual_text()

            _font_config = (os.getpid(), FontConfiguration())
        return _font_config[1]


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)


@contextmanager
def weasyprint_problems() -> Iterator[list[logging.LogRecord]]:
    """Collect what WeasyPrint logs at WARNING or above while the block runs."""
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    logger = logging.getLogger("weasyprint")
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _stable_header_ids(document: Any, pdf: Any) -> None:
    """Number the tagged table headers in document order (a WeasyPrint `finisher`).

    WeasyPrint names each header cell's structure element by the id() of a layout box, a memory
    address that changes from run to run; renumbering keeps the same input giving the same bytes.
    """
    import pydyf

    names: dict[str, str] = {}
    for item in pdf.objects:
        if isinstance(item, dict) and item.get("Type") == "/StructElem" and "ID" in item:
            address = str(item["ID"].string)
            names[address] = f"th{len(names) + 1}"
            item["ID"] = pydyf.String(names[address])
    for item in pdf.objects:
        attributes = item.get("A") if isinstance(item, dict) else None
        if isinstance(attributes, dict) and "Headers" in attributes:
            attributes["Headers"] = pydyf.Array(
                pydyf.String(names.get(str(header.string), str(header.string))) for header in attributes["Headers"]
            )


def _finish(document: Any, pdf: Any) -> None:
    """WeasyPrint's finisher: the PDF/UA-1 pieces it leaves out (practitioner.documents.pdf.tagging), then stable header ids."""
    from practitioner.documents.pdf import tagging  # loaded with WeasyPrint, at the first render

    tagging.header_scopes(document, pdf)  # reads WeasyPrint's header ids: before they are renumbered
    tagging.margin_artifacts(document, pdf)
    _stable_header_ids(document, pdf)


# -- in the render process ---------------------------------------------------------------------

# The warm-up loads the two families every document loads (glyphs.ALWAYS_LOADED, put in place
# of {fonts} by warm_up), not all of fonts.css: a face of another script is decoded by the first
# document that needs it (practitioner.documents.pdf.glyphs.with_needed_fonts).
_WARM_UP_HTML = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>warm-up</title>'
    '<style>{fonts}</style><link rel="stylesheet" href="print.css"></head>'
    "<body><h1>Warm-up</h1><p>Aa <strong>Bb</strong> <em>Cc</em> Łż Şă</p>"
    "<table><tr><th>a</th><td>b</td></tr></table></body></html>"
)
_renders_here = 0  # renders WeasyPrint has done in this process, warm-ups included


class AttachedFile(NamedTuple):
    """A file embedded in the PDF as a PDF/A-3 associated file (catalog /AF, EmbeddedFiles, /AFRelationship).

    The MIME type is read from the name's extension (".json": application/json). `modified` is
    written as the file's /ModDate and /CreationDate, so the same input gives the same bytes.
    """

    name: str
    data: bytes
    description: str
    modified: datetime
    relationship: str = "Data"  # ISO 32000-2 7.11.3: the file holds the data the pages show


class RenderResult(NamedTuple):
    """What one WeasyPrint render gives back from the render process."""

    pdf: bytes
    problems: list[tuple[int, str]]  # (logging level, message) of what WeasyPrint logged at WARNING or above
    refused: list[str]  # URLs the fetcher refused
    served: list[str]  # URLs the fetcher served
    pid: int  # the process that ran WeasyPrint
    renders: int  # renders that process has done, this one included
    cpu: float  # CPU seconds that process spent on this render

    @property
    def messages(self) -> list[str]:
        """What WeasyPrint logged, without the levels."""
        return [message for _, message in self.problems]


def weasyprint_pdf(html: str, *, title: str, language: str, logo_png: bytes | None,
                   attachments: tuple[AttachedFile, ...] = ()) -> RenderResult:
    """HTML to PDF with WeasyPrint in this process: reports/ as base URL, the report fetcher, PDF/A-3u with tags.

    Runs in the render process (practitioner.documents.pdf.pool.render_isolated), or in the
    web process itself with PRACTITIONER_PDF_IN_PROCESS=1.
    """
    global _renders_here
    from weasyprint import HTML, Attachment

    from practitioner.documents.pdf.tagging import rdf_metadata

    fetcher = make_url_fetcher(REPORTS_DIR, logo_png)
    base_url = fetcher.reports_dir.as_uri() + "/"
    with _render_lock, weasyprint_problems() as problems:
        cpu_start = time.process_time()
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
            font_config=font_configuration()
        )
        document.metadata.title = title
        document.metadata.lang = language
        document.metadata.generate_rdf_metadata = rdf_metadata  # PDF/A-3u's XMP plus pdfuaid:part 1
        files = [Attachment(string=f.data, name=f.name, description=f.description, created=f.modified, modified=f.modified,
                            relationship=f.relationship) for f in attachments]
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, pdf_tags=True, finisher=_finish, attachments=files)
        _renders_here += 1
        renders, cpu = _renders_here, time.process_time() - cpu_start
    return RenderResult(
        pdf, [(record.levelno, record.getMessage()) for record in problems], list(fetcher.refused),
        list(fetcher.served), os.getpid(), renders, cpu,
    )


def warm_up() -> RenderResult:
    """A small render that builds this process's FontConfiguration and loads the fonts every document uses."""
    from practitioner.documents.pdf.glyphs import ALWAYS_LOADED, font_faces_css  # plain text work, no fontTools

    html = _WARM_UP_HTML.replace("{fonts}", font_faces_css(ALWAYS_LOADED))
    return weasyprint_pdf(html, title="warm-up", language="en", logo_png=None)


def started(parent_pid: int) -> None:
    """The render process's initializer: exit as soon as the web process is gone; leave Ctrl+C to it.

    Without this a render process whose web process was SIGKILLed waits for work forever: it
    holds both ends of its task pipe, so it never sees end-of-file (checked: it, the forkserver
    and the resource tracker all outlived a killed parent).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # What the forkserver imported is never garbage: keeping it out of collections makes them
    # cheaper and leaves its pages shared with the forkserver instead of copied on write.
    gc.freeze()
    try:
        watched: int | None = os.pidfd_open(parent_pid)
    except ProcessLookupError:
        os._exit(0)  # already gone
    except (AttributeError, OSError):  # no pidfd (not Linux, or Linux before 5.3): ask every second
        watched = None

    def watch() -> None:
        """Wait for the web process to end, then end this process."""
        if watched is not None:
            poller = select.poll()
            poller.register(watched, select.POLLIN)  # readable once the process has exited
            poller.poll()
        else:
            while True:
                time.sleep(1)
                try:
                    os.kill(parent_pid, 0)
                except ProcessLookupError:
                    break
        os._exit(0)

    threading.Thread(target=watch, name="watch-web-process", daemon=True).start()


def _after_fork_in_child() -> None:
    # A lock another thread held at a fork stays held in the child: start with fresh ones.
    global _font_config_lock, _render_lock
    _font_config_lock, _render_lock = threading.Lock(), threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
