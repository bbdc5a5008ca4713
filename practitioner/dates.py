"""Dates and times as people read them, through Babel: the clinic's zone, the clinic's "today", and the forms
that pages and PDFs print.

One module, so a page, a PDF and a form message never disagree about how a day is written, and a handout in
another language is a `locale=` away. The forms (English, as printed today):

    long_date   'Saturday 2 January 2027'      (with this_year=2027: 'Saturday 2 January')
    short_date  '2 Jan 2027'                    day first, month in letters: unambiguous on A4 and Letter
    day_month_year  '3 March 2026'              a day inside a sentence (a refusal that names the date)
    local_datetime  '24 Nov 2026, 14:05'        a stored UTC moment in the clinic's zone
    clock       '14:05'
    utc_timestamp   '2026-11-24 14:05:09 UTC'   the audit trail's exact moment

Babel's CLDR data, not strftime: the process locale is global, and documents in two languages may be rendered
side by side. The year rule of the patient handouts: a day is printed without its year only when it falls in
the year the document is issued (`this_year`); a patient reading "Saturday 2 January" in December would
otherwise take it for the past January.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_month_names
from flask import current_app, has_app_context

LOCALE = "en"
"""The language of pages and documents today ('en': CLDR's 'Sep', where 'en_GB' would print 'Sept')."""

DEFAULT_ZONE = "UTC"
"""The zone used outside an application (a script, a unit test): the clinic's comes from config TIMEZONE."""

LONG = "EEEE d MMMM y"
LONG_THIS_YEAR = "EEEE d MMMM"
SHORT = "d MMM y"
DAY_MONTH_YEAR = "d MMMM y"
MONTH_YEAR = "MMMM y"
LOCAL_DATETIME = "d MMM y, HH:mm"
CLOCK = "HH:mm"


def clinic_zone() -> ZoneInfo:
    """The clinic's time zone (config TIMEZONE; UTC outside an application)."""
    return ZoneInfo(current_app.config.get("TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE)


def clinic_now() -> datetime:
    """The present moment on the clinic's wall clock."""
    return datetime.now(clinic_zone())


def clinic_today() -> date:
    """Today's date where the clinic is (not where the server is)."""
    return clinic_now().date()


def as_utc(value: datetime) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands back naive UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def to_clinic_time(value: datetime | None) -> datetime | None:
    """A stored UTC timestamp as the clinic's local time, to the second (what documents print and export)."""
    if value is None:
        return None
    return as_utc(value).astimezone(clinic_zone()).replace(microsecond=0)


def at_clinic(day: date, clock_time: time) -> datetime:
    """A day and a wall-clock time at the clinic as an aware datetime (a session's start)."""
    return datetime.combine(day, clock_time, tzinfo=clinic_zone())


def long_date(value: date | None, this_year: int | None = None, locale: str = LOCALE) -> str:
    """'Saturday 2 January 2027'; without the year when it is `this_year` ('' for no date)."""
    if value is None or value == "":
        return ""
    pattern = LONG_THIS_YEAR if this_year is not None and value.year == this_year else LONG
    return _date_in_words(value, pattern, locale)


def short_date(value: date | None, locale: str = LOCALE) -> str:
    """'2 Jan 2027' ('' for no date)."""
    if value is None or value == "":
        return ""
    return _date_in_words(value, SHORT, locale)


def month_year(value: date | None, locale: str = LOCALE) -> str:
    """'March 2026': a date known only to the month, as a patient remembers it ('' for no date)."""
    if value is None or value == "":
        return ""
    return _date_in_words(value, MONTH_YEAR, locale)


def month_names(locale: str = LOCALE) -> list[str]:
    """The twelve months by name, January first: a form's list for a date a patient knows only to the month."""
    names = get_month_names("wide", locale=locale)
    return [names[number] for number in range(1, 13)]


def day_month_year(value: date | None, locale: str = LOCALE) -> str:
    """'3 March 2026': a day in a sentence, where the weekday would be noise ('' for no date)."""
    if value is None or value == "":
        return ""
    return _date_in_words(value, DAY_MONTH_YEAR, locale)


def _date_in_words(value: date, pattern: str, locale: str) -> str:
    # A day's words depend on nothing but the day, the pattern and the language, and Babel parses the
    # locale on every call: a list page prints 25 dates of birth. Only plain dates are remembered (a
    # datetime's day would depend on its zone, and equal datetimes in two zones compare equal).
    if type(value) is date:
        return _remembered_date(value, pattern, locale)
    return format_date(value, pattern, locale=locale)


@lru_cache(maxsize=8192)
def _remembered_date(value: date, pattern: str, locale: str) -> str:
    return format_date(value, pattern, locale=locale)


def local_datetime(value: datetime | None, locale: str = LOCALE) -> str:
    """'24 Nov 2026, 14:05': a stored UTC moment on the clinic's clock ('' for none)."""
    if value is None:
        return ""
    return format_datetime(as_utc(value), LOCAL_DATETIME, tzinfo=clinic_zone(), locale=locale)


def clock(value: time | datetime | None, locale: str = LOCALE) -> str:
    """'14:05': a wall-clock time as it stands (a datetime is not moved to another zone) ('' for none)."""
    if value is None:
        return ""
    return format_time(value.time() if isinstance(value, datetime) else value, CLOCK, locale=locale)


def utc_timestamp(value: datetime | None) -> str:
    """'2026-11-24 14:05:09 UTC', for the audit trail: exact and zone-free, the same in every language."""
    if value is None:
        return ""
    return format_datetime(as_utc(value), "yyyy-MM-dd HH:mm:ss 'UTC'", tzinfo=timezone.utc, locale=LOCALE)
