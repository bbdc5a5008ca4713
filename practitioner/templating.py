"""Jinja filters and globals for the pages (the PDF environment is separate); dates come from practitioner.dates."""

from __future__ import annotations

import json
import re
from datetime import date
from functools import cache

from flask import Flask, g, request, url_for
from sqlalchemy import Select, select

from practitioner.auth.access import has
from practitioner.auth.models import Permission
from practitioner.clinical import screening, vocabulary
from practitioner.dates import clinic_today, clock, local_datetime, long_date, short_date, utc_timestamp
from practitioner.validators import strip_bidi_controls

LABELS = {
    "modality": screening.MODALITY_LABELS,
    "concern": screening.CONCERN_LABELS,
    "area": screening.TREATMENT_AREA_LABELS,
    "zone": vocabulary.ZONE_LABELS,
    "decision": screening.DECISION_LABELS,
    "needle": screening.NEEDLE_MATERIAL_LABELS,
    "flag": screening.FLAG_TITLES,
    "technique": vocabulary.TECHNIQUE_LABELS,
    "endpoint": vocabulary.ENDPOINT_LABELS,
    "adverse": vocabulary.ADVERSE_EVENT_LABELS,
}


@cache
def _clinic_name_query() -> Select[tuple[str]]:
    # Built once per process (admin's model is imported late: admin is a feature above this module);
    # one column, so no settings object is built each request.
    from practitioner.admin.models import ClinicSettings

    return select(ClinicSettings.name).where(ClinicSettings.id == 1)


def clinic_name() -> str:
    """The clinic's name for the page header, read once per request."""
    if "clinic_name" not in g:
        from practitioner.extensions import db

        remember_clinic_name(db.session.scalar(_clinic_name_query()))
    return g.clinic_name


def remember_clinic_name(name: str | None) -> None:
    """Keep the clinic's name, read by a statement the request runs anyway (the sign-in session's): `clinic_name` runs none."""
    g.clinic_name = name if name is not None else "Practitioner"


# The bidirectional controls (U+202A-U+202E embeddings and overrides, U+2066-U+2069 isolates).
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_ISOLATES = dict.fromkeys(range(0x2066, 0x206A))


def isolate_bidi(value: object) -> object:
    """Jinja's `finalize` on the pages: a printed text holding bidi controls is set in its own isolate.

    An override typed into one field (U+202E...) would otherwise reorder the page's text after it, so
    a name or a note could display as another. The value is wrapped in FIRST STRONG ISOLATE ... POP
    DIRECTIONAL ISOLATE, and the PDI ends every embedding and override the value opened (Unicode
    bidi algorithm, rule X6a); isolate characters inside the value are dropped so none can close the
    wrapper early. Text is stored as typed; only what the page shows is isolated. Markup (HTML the
    app built) and text without controls pass through untouched.
    """
    if type(value) is str and _BIDI_CONTROLS.search(value):
        return "\u2068" + value.translate(_ISOLATES) + "\u2069"
    return value


def init_app(app: Flask) -> None:
    """Register filters and globals."""

    @app.context_processor
    def dates() -> dict[str, date]:
        return {"today": clinic_today()}

    fixed_urls: dict[tuple[str, str, str | None], str] = {}

    def fixed_url(endpoint: str, filename: str | None = None) -> str:
        """`url_for` for an address with no values in it (the header's links, a static file), built once per app.

        Such an address depends only on the app's routes and the path it is mounted at (the request's script
        root), so it is kept under the latter; the layout prints a dozen on every page, each a route build otherwise.
        """
        key = (request.script_root, endpoint, filename)
        url = fixed_urls.get(key)
        if url is None:
            url = fixed_urls[key] = url_for(endpoint, filename=filename) if filename is not None else url_for(endpoint)
        return url

    app.jinja_env.filters.update(local_datetime=local_datetime, long_date=long_date, short_date=short_date, clock=clock,
                                 utc_timestamp=utc_timestamp, fromjson=json.loads, fitzpatrick=vocabulary.fitzpatrick_roman,
                                 no_bidi_controls=strip_bidi_controls)
    app.jinja_env.globals.update(has=has, Permission=Permission, clinic_name=clinic_name, labels=LABELS, fixed_url=fixed_url)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.finalize = isolate_bidi  # before any template is compiled: the code Jinja makes calls it
