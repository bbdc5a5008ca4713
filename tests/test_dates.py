"""practitioner.dates: every form a page or document prints, as literal strings, and the clinic's zone."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from practitioner import dates
from practitioner.clinical.aftercare import format_day


def test_long_date_with_and_without_the_year():
    assert dates.long_date(date(2027, 1, 2)) == "Saturday 2 January 2027"
    assert dates.long_date(date(2027, 1, 2), this_year=2026) == "Saturday 2 January 2027"
    assert dates.long_date(date(2027, 1, 2), this_year=2027) == "Saturday 2 January"
    assert dates.long_date(None) == "" and dates.long_date("") == ""


def test_short_forms():
    assert dates.short_date(date(2026, 9, 3)) == "3 Sep 2026"  # CLDR 'en', not en_GB's 'Sept'
    assert dates.short_date(date(2026, 11, 24)) == "24 Nov 2026"
    assert dates.day_month_year(date(2026, 3, 3)) == "3 March 2026"
    assert dates.short_date(None) == "" and dates.day_month_year(None) == ""


def test_a_datetime_prints_its_own_day_and_clock_unmoved():
    evening = datetime(2026, 1, 2, 23, 30)
    assert dates.long_date(evening) == "Friday 2 January 2026"
    assert dates.clock(evening) == "23:30"
    assert dates.clock(time(7, 5)) == "07:05"
    assert dates.clock(None) == ""


def test_stored_moments_in_the_clinics_zone(app):
    app.config["TIMEZONE"] = "Europe/London"
    assert dates.local_datetime(datetime(2026, 11, 24, 14, 5, tzinfo=timezone.utc)) == "24 Nov 2026, 14:05"  # GMT
    assert dates.local_datetime(datetime(2026, 7, 1, 13, 5)) == "1 Jul 2026, 14:05"  # naive = UTC; BST
    assert dates.to_clinic_time(datetime(2026, 7, 1, 13, 5, 9, 500)) == datetime(2026, 7, 1, 14, 5, 9, tzinfo=dates.clinic_zone())
    assert dates.utc_timestamp(datetime(2026, 7, 1, 13, 5, 9)) == "2026-07-01 13:05:09 UTC"
    assert dates.local_datetime(None) == "" and dates.utc_timestamp(None) == ""


def test_today_is_the_clinics_today(app):
    app.config["TIMEZONE"] = "Pacific/Kiritimati"  # UTC+14: always a day ahead of UTC+0 for part of the day
    ahead = dates.clinic_today()
    app.config["TIMEZONE"] = "Pacific/Pago_Pago"  # UTC-11
    behind = dates.clinic_today()
    utc_today = datetime.now(timezone.utc).date()
    assert ahead >= utc_today >= behind and ahead - behind >= timedelta(days=1)


def test_outside_an_application_the_zone_is_utc():
    assert dates.clinic_zone().key == "UTC"


@pytest.mark.parametrize("offset", range(0, 400, 7))
def test_the_leaflets_calendar_and_babel_agree(offset):
    # The aftercare leaflet writes days from its language content (clinical/ imports nothing of the app);
    # the pages and other documents write them through Babel. They must read the same.
    day = date(2026, 12, 1) + timedelta(days=offset)
    assert format_day(day, this_year=2026) == dates.long_date(day, this_year=2026)
