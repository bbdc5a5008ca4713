"""Runs in the web process: report HTML from a template under reports/templates and plain values.

The report Jinja environment (autoescaped, StrictUndefined, apart from the pages' environment),
the check that a context holds plain values only (never an ORM object a template could lazy-load),
and `render_html`. The HTML goes to practitioner.documents.pdf.pool, which has it made into a PDF
in the render process (practitioner.documents.pdf.worker).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from practitioner.dates import clock, long_date, short_date  # the one place dates are written (Babel)
from practitioner.documents.pdf.glyphs import mark_scripts, with_needed_fonts
from practitioner.documents.pdf.worker import LOGO_URL
from practitioner.paths import REPORT_TEMPLATES_DIR
PAPER_CLASSES = {"a4": "page-a4", "letter": "page-letter"}
RESERVED_KEYS = frozenset({"title", "lang", "paper_class", "large_print", "logo_src"})

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# Control characters mean nothing on paper, and bidi overrides could make printed text read
# differently from what was stored: they are dropped from every value a template prints.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_PLAIN_SCALARS = (str, int, float, Decimal, date, datetime, time, timedelta, UUID, Enum, type(None))
_MAX_DEPTH = 32

# -- the Jinja environment -------------------------------------------------------------------


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
        loader=FileSystemLoader(REPORT_TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters.update(long_date=long_date, short_date=short_date, clock=clock, lines=text_lines)
    return environment


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
    html = template.render(
        {
            **context,
            "title": title,
            "lang": language,
            "paper_class": paper_class(paper),
            "large_print": large_print,
            "logo_src": LOGO_URL if with_logo else None,
        }
    )
    html = mark_scripts(html, language)  # text in another script carries its lang and dir
    return with_needed_fonts(html)  # only the fonts its text is set in (each new render process decodes them)
