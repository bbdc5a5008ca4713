"""Jinja filters and globals for the pages (the PDF environment is separate)."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g

from practitioner.auth.access import has
from practitioner.auth.models import Permission
from practitioner.clinical import screening, vocabulary

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


def clinic_zone() -> ZoneInfo:
    """The clinic's time zone, for showing UTC timestamps as local time."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def local_datetime(value: datetime | None) -> str:
    """'24 Nov 2026, 14:05' in the clinic's time zone."""
    if value is None:
        return ""
    return value.astimezone(clinic_zone()).strftime("%-d %b %Y, %H:%M")


def long_date(value: date | None) -> str:
    """'Tuesday 24 November 2026'."""
    return value.strftime("%A %-d %B %Y") if value else ""


def short_date(value: date | None) -> str:
    """'24 Nov 2026'."""
    return value.strftime("%-d %b %Y") if value else ""


def utc_timestamp(value: datetime | None) -> str:
    """'2026-11-24 14:05:09 UTC', for the audit trail."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def clinic_name() -> str:
    """The clinic's name for the page header, read once per request."""
    if "clinic_name" not in g:
        from practitioner.admin.models import ClinicSettings
        from practitioner.extensions import db

        settings = db.session.get(ClinicSettings, 1)
        g.clinic_name = settings.name if settings else "Practitioner"
    return g.clinic_name


def clinic_today() -> date:
    """Today's date where the clinic is."""
    return datetime.now(clinic_zone()).date()


def init_app(app: Flask) -> None:
    """Register filters and globals."""

    @app.context_processor
    def dates() -> dict[str, date]:
        return {"today": clinic_today()}

    app.jinja_env.filters.update(local_datetime=local_datetime, long_date=long_date, short_date=short_date,
                                 utc_timestamp=utc_timestamp, fromjson=json.loads, fitzpatrick=vocabulary.fitzpatrick_roman)
    app.jinja_env.globals.update(has=has, Permission=Permission, clinic_name=clinic_name, labels=LABELS)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
