"""Jinja filters and globals for the pages (the PDF environment is separate); dates come from practitioner.dates."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

from flask import Flask, g
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

        name = db.session.scalar(_clinic_name_query())
        g.clinic_name = name if name is not None else "Practitioner"
    return g.clinic_name


def init_app(app: Flask) -> None:
    """Register filters and globals."""

    @app.context_processor
    def dates() -> dict[str, date]:
        return {"today": clinic_today()}

    app.jinja_env.filters.update(local_datetime=local_datetime, long_date=long_date, short_date=short_date, clock=clock,
                                 utc_timestamp=utc_timestamp, fromjson=json.loads, fitzpatrick=vocabulary.fitzpatrick_roman,
                                 no_bidi_controls=strip_bidi_controls)
    app.jinja_env.globals.update(has=has, Permission=Permission, clinic_name=clinic_name, labels=LABELS)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
