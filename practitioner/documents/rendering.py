"""Patient documents as PDF: the report Jinja environment, the locked-down URL fetcher, one render function.

What the renderer may read, and nothing else (see `ReportURLFetcher`):

- files strictly inside `reports/` (fonts, print CSS, images), by `file:` URL: templates link
  them by relative URL and the HTML is rendered with `reports/` as its base URL;
- the clinic logo, as the special URL `logo:clinic` (`LOGO_URL`): the PNG bytes handed to
  `render_pdf`, never a file or a network address;
- `data:` URLs of raster images only (PNG, JPEG, GIF, base64, at most 2 MB), for images a
  context builder already holds, such as a signature.

Everything else (http, https, ftp, `file:` outside `reports/`, symlinks out of it, `..`, SVG or
CSS `data:` URLs, any other scheme) is refused with an exception and recorded in
`fetcher.refused`. The fetcher never opens a network connection, so there is no redirect to follow.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit
from urllib.request import url2pathname
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from practitioner import ROOT

REPORTS_DIR = ROOT / "reports"
TEMPLATES_DIR = REPORTS_DIR / "templates"
LOGO_URL = "logo:clinic"
# PDF/A-3u is the archival variant (embedded fonts, sRGB output intent, Unicode text, XMP
# identification); tags are added on top for accessibility (structure tree, /Lang, /MarkInfo,
# DisplayDocTitle). PDF/A-3 rather than -2 so a machine-readable copy (JSON) can be attached later.
PDF_VARIANT = "pdf/a-3u"
PAPER_CLASSES = {"a4": "page-a4", "letter": "page-letter"}
RESERVED_KEYS = frozenset({"title", "lang", "paper_class", "large_print", "logo_src"})

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Control characters mean nothing on paper, and bidi overrides could make printed text read
# differently from what was stored: they are dropped from every value a template prints.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
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
_DATA_MAX_BYTES = 2 * 1024 * 1024
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
_PLAIN_SCALARS = (str, int, float, Decimal, date, datetime, time, timedelta, UUID, Enum, type(None))
_MAX_DEPTH = 32

log = logging.getLogger(__name__)


class RefusedURL(ValueError):
    """The renderer asked for something outside `reports/`, the logo and raster `data:` images."""


class DocumentRenderError(RuntimeError):
    """WeasyPrint reported a problem (a refused or missing resource, bad CSS) while rendering."""

    def __init__(self, template: str, messages: list[str], refused: list[str]) -> None:
        self.messages = messages
        self.refused = refused
        details = "; ".join(messages) or "no log message"
        super().__init__(
            f"Rendering {template} was stopped because WeasyPrint reported: {details}. "
            "Fix the template or stylesheet so it only uses files under reports/ and the clinic logo."
        )


# -- the Jinja environment -------------------------------------------------------------------


def long_date(value: date | None) -> str:
    """'Wednesday 25 November 2026' (English names, whatever the server's locale)."""
    if value is None:
        return ""
    return f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def short_date(value: date | None) -> str:
    """'25 Nov 2026': day first and the month in letters, unambiguous on A4 and Letter alike."""
    if value is None:
        return ""
    return f"{value.day} {_MONTHS[value.month - 1][:3]} {value.year}"


def text_lines(value: str | None) -> list[str]:
    """The non-blank lines of a typed multi-line value (an address), stripped."""
    return [line.strip() for line in (value or "").splitlines() if line.strip()]


def _finalize(value: Any) -> Any:
    # Runs on every {{ ... }} before autoescaping: None prints as nothing, not "None".
    if value is None:
        return ""
    if isinstance(value, Markup):
        cleaned = _UNPRINTABLE.sub("", str(value))
        return Markup(cleaned)  # nosec B704  # it was Markup already: deleting characters adds no tag or entity
    if isinstance(value, str):
        return _UNPRINTABLE.sub("", value)
    return value


@cache
def report_environment() -> Environment:
    """The Jinja environment for reports/templates: autoescaped, strict, apart from the pages'."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters.update(long_date=long_date, short_date=short_date, lines=text_lines)
    return environment


# -- the URL fetcher ---------------------------------------------------------------------------


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


# -- plain values only --------------------------------------------------------------------------


def _is_mapped(value: Any) -> bool:
    from sqlalchemy import inspect as sqlalchemy_inspect
    from sqlalchemy.orm import InstanceState, Mapper

    return isinstance(sqlalchemy_inspect(value, raiseerr=False), (InstanceState, Mapper))


def ensure_plain(context: Mapping[str, Any]) -> None:
    """Raise TypeError naming the key if the context holds anything but plain values.

    Plain: str, numbers, dates and times, UUIDs, enums, None, and dicts, lists, tuples, sets and
    dataclasses of those. Never a SQLAlchemy-mapped object: a report template must not lazy-load.
    """
    for key, value in context.items():
        _check_plain(value, f"context[{key!r}]", 0)


def _check_plain(value: Any, where: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise TypeError(f"{where} is nested more than {_MAX_DEPTH} levels deep; is there a cycle?")
    if isinstance(value, _PLAIN_SCALARS):
        return
    if _is_mapped(value):
        raise TypeError(
            f"{where} is a SQLAlchemy-mapped object ({type(value).__name__}); report templates take "
            "plain values only: copy the fields the document needs in its context builder."
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key {key!r} that is not a string")
            _check_plain(item, f"{where}[{key!r}]", depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]", depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            _check_plain(getattr(value, field.name), f"{where}.{field.name}", depth + 1)
    else:
        raise TypeError(
            f"{where} is a {type(value).__qualname__}, not a plain value; report templates take str, "
            "numbers, dates, enums and dicts, lists or dataclasses of those."
        )


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


def font_configuration() -> Any:
    """This process's WeasyPrint FontConfiguration, created on first use and then reused."""
    global _font_config
    with _font_config_lock:
        if _font_config is None or _font_config[0] != os.getpid():
            from weasyprint.text.fonts import FontConfiguration

            _font_config = (os.getpid(), FontConfiguration())
        return _font_config[1]


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.WARNING)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
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


def paper_class(paper: str) -> str:
    """The <html> class for a paper size setting: 'A4' -> 'page-a4', 'Letter' -> 'page-letter'."""
    try:
        return PAPER_CLASSES[str(paper).strip().lower()]
    except KeyError:
        raise ValueError(f"Unknown paper size {paper!r}; use 'A4' or 'Letter'.") from None


def render_html(
    template_name: str,
    context: Mapping[str, Any],
    *,
    title: str,
    language: str = "en",
    paper: str = "A4",
    large_print: bool = False,
    with_logo: bool = False,
) -> str:
    """The document's HTML, from a template under reports/templates and plain values."""
    ensure_plain(context)
    clashes = RESERVED_KEYS & set(context)
    if clashes:
        raise ValueError(f"The context may not set {', '.join(sorted(clashes))}: pass them as arguments to render_pdf.")
    if not _LANGUAGE.match(language):
        raise ValueError(f"Unknown language code {language!r}; use a code such as 'en' or 'pt-BR'.")
    template = report_environment().get_template(template_name)
    return template.render(
        {
            **context,
            "title": title,
            "lang": language,
            "paper_class": paper_class(paper),
            "large_print": large_print,
            "logo_src": LOGO_URL if with_logo else None,
        }
    )


def render_pdf(
    template_name: str,
    context: Mapping[str, Any],
    *,
    title: str,
    language: str = "en",
    paper: str = "A4",
    large_print: bool = False,
    logo_png: bytes | None = None,
    strict: bool = True,
) -> bytes:
    """Render a report template to a tagged PDF/A-3u with the bundled font and locked-down fetching.

    With `strict` (the default) any warning or error WeasyPrint logs, a refused URL included,
    raises DocumentRenderError instead of returning a document with something missing.
    """
    if logo_png is not None and not logo_png.startswith(_PNG_SIGNATURE):
        raise ValueError("The clinic logo must be PNG bytes (as stored by the clinic settings).")
    html = render_html(
        template_name, context, title=title, language=language, paper=paper,
        large_print=large_print, with_logo=logo_png is not None,
    )
    return pdf_from_html(html, title=title, language=language, logo_png=logo_png, label=template_name, strict=strict)


def pdf_from_html(
    html: str,
    *,
    title: str,
    language: str,
    logo_png: bytes | None = None,
    label: str = "document",
    strict: bool = True,
) -> bytes:
    """WeasyPrint on report HTML from render_html: reports/ as base URL, the report fetcher, PDF/A-3u with tags."""
    from weasyprint import HTML

    fetcher = make_url_fetcher(REPORTS_DIR, logo_png)
    base_url = fetcher.reports_dir.as_uri() + "/"
    with _render_lock, weasyprint_problems() as problems:
        document = HTML(string=html, base_url=base_url, url_fetcher=fetcher).render(
            font_config=font_configuration()
        )
        document.metadata.title = title
        document.metadata.lang = language
        pdf = document.write_pdf(pdf_variant=PDF_VARIANT, pdf_tags=True, finisher=_stable_header_ids)
    messages = [record.getMessage() for record in problems]
    if messages or fetcher.refused:
        log.warning("WeasyPrint problems rendering %s: %s (refused: %s)", label, messages, fetcher.refused)
        if strict:
            raise DocumentRenderError(label, messages, list(fetcher.refused))
    return pdf
