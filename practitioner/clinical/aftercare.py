"""Aftercare instructions assembled from versioned content blocks, chosen by what the session recorded.

This module is the aftercare contract written in ``docs/aftercare.md`` ("How the leaflet is
assembled", depth bands, dates). The words live in ``<content_dir>/<language>/aftercare/*.toml`` (written
from sections 3.1, 4 and 5 of the clinical reference); this module decides which blocks apply, turns
the clinic's policy numbers into calendar dates, fills the placeholders, and says exactly which block
versions were used so an issued document can record them. Pure: standard library only, no Flask, no
database, no Jinja. Nothing here is medical advice; the clinic's medical lead owns the content.
"""

from __future__ import annotations

import hashlib
import math
import re
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from practitioner.clinical.depth import ZONES
from practitioner.clinical.screening import MODALITIES, Modality

SunscreenDay0 = Literal["mineral_spf30", "none_24h"]
AdverseEventKind = Literal[
    "excessive_bleeding", "bruising", "vasovagal", "severe_pain_stopped", "burn_or_blister", "allergic_reaction", "other"
]
DepthBand = Literal["shallow", "medium", "deep"]
BlockKind = Literal[
    "header",
    "summary",
    "products",
    "adverse_event",
    "downtime",
    "modality",
    "key_date",
    "timeline",
    "sunscreen",
    "skin_type",
    "cold_sore",
    "warning_signs",
    "emergency",
    "next_visit",
]

SUNSCREEN_DAY0_OPTIONS: Final[tuple[SunscreenDay0, ...]] = get_args(SunscreenDay0)
ADVERSE_EVENT_KINDS: Final[tuple[AdverseEventKind, ...]] = get_args(AdverseEventKind)
DEPTH_BANDS: Final[tuple[DepthBand, ...]] = get_args(DepthBand)

# Types IV-VI carry the higher risk of dark patches (clinical reference 1 row 32, 2.1).
PIH_RISK_MIN_FITZPATRICK: Final = 4
# Depth band limits in mm, inclusive (clinical reference 3.1 [S54]; docs/aftercare.md). The reference has no
# figure between 1.5 and 2.0 mm: those depths take the longer downtime, so nobody plans too little time.
SHALLOW_MAX_MM: Final = 0.5
MEDIUM_MAX_MM: Final = 1.5

# Every content block the software knows, in the order the leaflet shows them: the assembler walks this
# tuple, so the order of the output never depends on the order of the input or of the content files.
_BLOCK_KINDS: Final[dict[str, BlockKind]] = {
    "header": "header",
    "what_we_did": "summary",
    "products.applied": "products",
    "products.none": "products",
    **{f"adverse.{kind}": "adverse_event" for kind in ADVERSE_EVENT_KINDS},
    **{f"downtime.{band}": "downtime" for band in DEPTH_BANDS},
    **{f"modality.{modality}": "modality" for modality in MODALITIES},
    "date.makeup": "key_date",
    "date.actives": "key_date",
    "date.exercise": "key_date",
    "date.sun_strict": "key_date",
    "timeline.today": "timeline",
    **{f"sunscreen.{option}": "sunscreen" for option in SUNSCREEN_DAY0_OPTIONS},
    "timeline.days_1_2": "timeline",
    "timeline.days_3_7": "timeline",
    "timeline.week_2": "timeline",
    "skin.pih_risk": "skin_type",
    "cold_sore.history": "cold_sore",
    "warning_signs": "warning_signs",
    "warning_signs.rf": "warning_signs",
    "emergency": "emergency",
    "next.appointment": "next_visit",
    "next.book_from": "next_visit",
    "next.ask": "next_visit",
}
BLOCK_IDS: Final[tuple[str, ...]] = tuple(_BLOCK_KINDS)

# Timeline periods as day offsets from the treatment day; None means "and after".
_PERIODS: Final[dict[str, tuple[int, int | None]]] = {
    "timeline.today": (0, 0),
    "timeline.days_1_2": (1, 2),
    "timeline.days_3_7": (3, 7),
    "timeline.week_2": (8, None),
}

# The dates a timeline line may be conditioned on ("before" / "on"): all are fields of KeyDates.
DATE_NAMES: Final[tuple[str, ...]] = ("makeup_from", "actives_from", "exercise_from", "sun_strict_until", "sunscreen_from")

PLACEHOLDERS: Final[frozenset[str]] = frozenset({
    "patient_name", "practitioner_name", "clinic_name", "clinic_phone", "clinic_out_of_hours",
    "modality_name", "session_number", "sessions_planned",
    "today", "day_1", "day_2", "day_3", "day_7", "day_8",
    "deepest_mm", "makeup_hours", "actives_days", "exercise_hours", "prp_no_wash_hours",
    *DATE_NAMES,
    "next_appointment", "book_from",
})

_LANGUAGE_CODE: Final = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
_RELEASE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_LANGUAGE_FILE: Final = "language.toml"
_FORMATTER: Final = string.Formatter()


class ContentError(RuntimeError):
    """The aftercare content of a language is missing or malformed; the message names the file and the fix."""


# --- policy -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AftercarePolicy:
    """The clinic's editable aftercare numbers; the defaults are those of docs/aftercare.md."""

    makeup_hours: int = 24
    makeup_hours_rf: int = 48
    actives_days: int = 5
    actives_days_rf: int = 7
    # Not in the product's first list of document rules: clinical reference 4.4 says retinoids are avoided for 7 days after PRP
    # [S75], so PRP has its own setting rather than inheriting the 5 days of plain microneedling.
    actives_days_prp: int = 7
    exercise_hours: int = 72
    prp_no_wash_hours: int = 6
    # Not in that first list either (docs/aftercare.md gives both): "strict sun protection until" needs a number. 4.2 says "some say
    # be strict for 2 weeks", 4.3 (RF) "avoid sun for 2 weeks after" [S63].
    sun_strict_days: int = 14
    sunscreen_day0: SunscreenDay0 = "mineral_spf30"

    def __post_init__(self) -> None:
        """Refuse values that would print a meaningless date or an unknown sunscreen variant."""
        for setting in fields(self):
            _check_policy_value(setting.name, getattr(self, setting.name))

    def as_dict(self) -> dict[str, int | str]:
        """Return the settings as a plain mapping, in declaration order."""
        return {setting.name: getattr(self, setting.name) for setting in fields(self)}

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> AftercarePolicy:
        """Build a policy from stored settings; missing keys keep their defaults."""
        known = {setting.name for setting in fields(cls)}
        for key in mapping:
            if key not in known:
                raise ValueError(f"unknown aftercare policy setting {key!r}")
        values: dict[str, Any] = {key: _check_policy_value(key, value) for key, value in mapping.items()}
        return cls(**values)

    def makeup_hours_for(self, modality: str) -> int:
        """Hours without make-up for this treatment (RF has its own setting)."""
        return self.makeup_hours_rf if modality == "rf_microneedling" else self.makeup_hours

    def actives_days_for(self, modality: str) -> int:
        """Days without retinoids, acids and vitamin C for this treatment (RF and PRP have their own)."""
        if modality == "rf_microneedling":
            return self.actives_days_rf
        if modality == "prp_microneedling":
            return self.actives_days_prp
        return self.actives_days


def _check_policy_value(name: str, value: object) -> object:
    if name == "sunscreen_day0":
        if value not in SUNSCREEN_DAY0_OPTIONS:
            raise ValueError(f"policy setting 'sunscreen_day0' must be one of {', '.join(SUNSCREEN_DAY0_OPTIONS)} (got {value!r})")
        return value
    # bool is an int subclass, and True silently meaning "1 hour" would be a nasty surprise.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"policy setting {name!r} must be a whole number, 0 or more (got {value!r})")
    return value


AFTERCARE_POLICY_SETTINGS: Final[tuple[str, ...]] = tuple(setting.name for setting in fields(AftercarePolicy))

AFTERCARE_POLICY_LABELS: Final[dict[str, str]] = {
    "makeup_hours": "No make-up after treatment (hours)",
    "makeup_hours_rf": "RF: no make-up after treatment (hours)",
    "actives_days": "No retinoids, acids or vitamin C after treatment (days)",
    "actives_days_rf": "RF: no retinoids, acids or vitamin C after treatment (days)",
    "actives_days_prp": "PRP: no retinoids, acids or vitamin C after treatment (days)",
    "exercise_hours": "No exercise, sauna or swimming after treatment (hours)",
    "prp_no_wash_hours": "PRP: do not wash the treated skin for (hours)",
    "sun_strict_days": "Strict sun protection after treatment (days)",
    "sunscreen_day0": "Sunscreen on the day of treatment",
}

AFTERCARE_POLICY_SOURCE_RANGES: Final[dict[str, str]] = {
    "makeup_hours": "24-48 hours (most sources 24 h; some 24-48 h)",
    "makeup_hours_rf": "next day to 48 hours (48 h in one RF source, next day in another)",
    "actives_days": "5-7 days (from about day 5 if the skin is calm; some say 5-7)",
    "actives_days_rf": "7-10 days",
    "actives_days_prp": "7 days (retinoids)",
    "exercise_hours": "24-72 hours (SkinPen 72 h; one RF source 24 h; PRP 2-3 days)",
    "prp_no_wash_hours": "4-8 hours (4, 5 or 8 h in low-tier sources; suggested 6-8 h)",
    "sun_strict_days": "7-14 days (prolonged sun the first week; some say strict for 2 weeks; RF 7-10 days or 2 weeks)",
    "sunscreen_day0": "sources disagree: none and no sun for 24 h, or mineral SPF 30+ straight away",
}

# The two choices a clinic has for the day of treatment, as its settings page offers them.
SUNSCREEN_DAY0_LABELS: Final[dict[str, str]] = {
    "mineral_spf30": "Mineral SPF 30+ straight away",
    "none_24h": "No sunscreen or cosmetics for 24 hours; avoid sun strictly",
}


# --- the facts of one session -------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionFacts:
    """What a signed session recorded that the aftercare depends on: plain values only."""

    modality: Modality
    session_date: date
    zones: tuple[tuple[str, float], ...]
    products_applied: tuple[str, ...]
    fitzpatrick: int | None
    cold_sore_history: bool
    adverse_events: tuple[AdverseEventKind, ...]
    patient_name: str
    practitioner_name: str
    session_number: int
    sessions_planned: int
    next_appointment: date | None
    interval_weeks: int | None
    clinic_name: str
    clinic_phone: str
    clinic_out_of_hours: str
    # The clinic's date when the leaflet is made (its issue date); days in another year print their
    # year. None: the session date's year.
    issued_on: date | None = None

    def __post_init__(self) -> None:
        """Refuse facts that would print a wrong or incomplete leaflet; each message says what to fix."""
        if self.modality not in MODALITIES:
            raise ValueError(f"unknown modality {self.modality!r}; expected one of {', '.join(MODALITIES)}")
        _check_day("session_date", self.session_date)
        if not isinstance(self.zones, tuple) or not self.zones:
            raise ValueError("zones must be a non-empty tuple of (zone, depth in mm): record at least one treated zone")
        for entry in self.zones:
            if not isinstance(entry, tuple) or len(entry) != 2:
                raise ValueError(f"each zone must be a (zone, depth in mm) pair, not {entry!r}")
            zone, depth = entry
            if zone not in ZONES:
                raise ValueError(f"unknown zone {zone!r}; expected one of {', '.join(ZONES)}")
            if isinstance(depth, bool) or not isinstance(depth, int | float) or not math.isfinite(depth) or depth <= 0:
                raise ValueError(f"the depth for {zone} must be a number of mm above 0 (got {depth!r})")
        if not isinstance(self.products_applied, tuple):
            raise ValueError("products_applied must be a tuple of product names (an empty tuple means none)")
        for name in self.products_applied:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"product names must be non-empty text (got {name!r})")
        if self.fitzpatrick is not None and (
            isinstance(self.fitzpatrick, bool) or not isinstance(self.fitzpatrick, int) or not 1 <= self.fitzpatrick <= 6
        ):
            raise ValueError(f"the Fitzpatrick type must be 1 to 6 or None (got {self.fitzpatrick!r})")
        if not isinstance(self.cold_sore_history, bool):
            raise ValueError(f"cold_sore_history must be True or False (got {self.cold_sore_history!r})")
        if not isinstance(self.adverse_events, tuple):
            raise ValueError("adverse_events must be a tuple of kinds (an empty tuple means none)")
        for kind in self.adverse_events:
            if kind not in ADVERSE_EVENT_KINDS:
                raise ValueError(f"unknown adverse event {kind!r}; expected one of {', '.join(ADVERSE_EVENT_KINDS)}")
        for name in ("patient_name", "practitioner_name", "clinic_name", "clinic_phone", "clinic_out_of_hours"):
            value = getattr(self, name)
            # Every aftercare leaflet must carry a number to call and an out-of-hours route (reference 4.5).
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be filled in: it is printed on the aftercare leaflet")
        for name in ("session_number", "sessions_planned"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number, 1 or more (got {value!r})")
        if self.next_appointment is not None:
            _check_day("next_appointment", self.next_appointment)
            if self.next_appointment <= self.session_date:
                raise ValueError("the next appointment must be after the session date")
        if self.issued_on is not None:
            _check_day("issued_on", self.issued_on)
        if self.interval_weeks is not None and (
            isinstance(self.interval_weeks, bool) or not isinstance(self.interval_weeks, int) or self.interval_weeks < 1
        ):
            raise ValueError(f"interval_weeks must be a whole number of weeks, 1 or more, or None (got {self.interval_weeks!r})")

    @property
    def deepest_mm(self) -> float:
        """The deepest needle depth of the session: it decides the expected downtime."""
        return max(depth for _, depth in self.zones)


def _check_day(name: str, value: object) -> None:
    # A datetime is a date too, but mixing the two breaks day arithmetic and comparisons.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} must be a date (got {value!r})")


def depth_band(depth_mm: float) -> DepthBand:
    """The downtime band of a depth: up to 0.5 mm shallow, up to 1.5 mm medium, deeper is deep."""
    if isinstance(depth_mm, bool) or not isinstance(depth_mm, int | float) or not math.isfinite(depth_mm) or depth_mm <= 0:
        raise ValueError(f"a depth must be a number of mm above 0 (got {depth_mm!r})")
    # Recorded depths have at most two decimals; rounding keeps float noise (0.1 * 5) off a boundary.
    depth = round(depth_mm, 3)
    if depth <= SHALLOW_MAX_MM:
        return "shallow"
    if depth <= MEDIUM_MAX_MM:
        return "medium"
    return "deep"


# --- calendar -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """How one language writes a calendar day: names of weekdays and months, and the pattern."""

    weekdays: tuple[str, ...]
    months: tuple[str, ...]
    pattern: str = "{weekday} {day} {month}"
    # For a day in another year than the leaflet's: a patient reading "Saturday 2 January" in
    # December would otherwise take it for the past January.
    year_pattern: str = "{weekday} {day} {month} {year}"


# Explicit names rather than strftime("%A"): the process locale is global, and documents in two languages
# may be rendered side by side.
ENGLISH: Final = Calendar(
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    months=("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December"),
)


def format_day(day: date, calendar: Calendar = ENGLISH, this_year: int | None = None) -> str:
    """A calendar day as a patient reads it: 'Wednesday 25 November', with the year when it is not `this_year`."""
    pattern = calendar.pattern if this_year is None or day.year == this_year else calendar.year_pattern
    return pattern.format(weekday=calendar.weekdays[day.weekday()], day=day.day, month=calendar.months[day.month - 1], year=day.year)


def _days_for_hours(hours: int) -> int:
    # Rounded up, so a "from" date is never earlier than the hour count allows.
    return -(-hours // 24)


@dataclass(frozen=True)
class KeyDates:
    """The calendar dates of one leaflet, counted from the treatment day and the clinic's policy."""

    today: date
    makeup_from: date
    actives_from: date
    exercise_from: date
    sun_strict_until: date
    sunscreen_from: date
    book_from: date | None


def key_dates(facts: SessionFacts, policy: AftercarePolicy) -> KeyDates:
    """The dates printed on the leaflet; make-up and actives use the setting of the session's treatment."""
    today = facts.session_date
    return KeyDates(
        today=today,
        makeup_from=today + timedelta(days=_days_for_hours(policy.makeup_hours_for(facts.modality))),
        actives_from=today + timedelta(days=policy.actives_days_for(facts.modality)),
        exercise_from=today + timedelta(days=_days_for_hours(policy.exercise_hours)),
        sun_strict_until=today + timedelta(days=policy.sun_strict_days),
        # "None for 24 h" starts sunscreen the next day (clinical reference 4.2, option A).
        sunscreen_from=today + timedelta(days=1 if policy.sunscreen_day0 == "none_24h" else 0),
        book_from=today + timedelta(weeks=facts.interval_weeks) if facts.interval_weeks is not None else None,
    )


# --- content ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of content, with the conditions under which it is shown."""

    text: str
    modalities: frozenset[str] | None = None
    before: str | None = None
    on: str | None = None


@dataclass(frozen=True)
class ContentBlock:
    """One versioned block as written in a content file, before its placeholders are filled."""

    id: str
    version: int
    title: str
    paragraphs: tuple[Line, ...] = ()
    items: tuple[Line, ...] = ()
    expect: tuple[Line, ...] = ()
    do: tuple[Line, ...] = ()
    avoid: tuple[Line, ...] = ()
    source: str = ""
    # Set in the content file (`awaiting_medical_review = "..."`) on advice that no sourced line of
    # docs/aftercare.md backs: what still needs the clinic's medical lead. Shown to administrators.
    awaiting_review: str = ""

    @property
    def ref(self) -> str:
        """'id@version', as recorded on an issued document."""
        return f"{self.id}@{self.version}"


@dataclass(frozen=True)
class ReviewNote:
    """A content block awaiting the clinic's medical review, as the admin pages list it."""

    block_id: str
    title: str
    source: str
    note: str


@dataclass(frozen=True)
class AftercareContent:
    """All aftercare content of one language, checked block by block when it was read."""

    language: str
    release: str
    version: int
    calendar: Calendar
    decimal_mark: str
    modality_names: Mapping[str, str]
    zone_labels: Mapping[str, str]
    blocks: Mapping[str, ContentBlock]


_LINE_FIELDS: Final = ("paragraphs", "items", "expect", "do", "avoid")
_TIMELINE_FIELDS: Final = frozenset({"paragraphs", "expect", "do", "avoid"})
_OTHER_FIELDS: Final = frozenset({"paragraphs", "items"})
_LANGUAGE_KEYS: Final = frozenset({"version", "release", "decimal_mark", "day_pattern", "day_year_pattern", "weekdays", "months",
                                    "modalities", "zones"})


def _one_line(text: str) -> str:
    # TOML strings are wrapped for the editor; the wrapping must never change the printed text.
    return " ".join(text.split())


def _placeholder_problems(text: str, allowed: Iterable[str]) -> list[str]:
    allowed = frozenset(allowed)
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        return [f"unbalanced braces ({exc}) in {text!r}"]
    problems = []
    for literal, field, spec, conversion in parts:
        # Braces are only for placeholders, so a filled text can never contain one.
        if "{" in literal or "}" in literal:
            problems.append(f"braces are only for placeholders, in {text!r}")
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            problems.append(f"unknown placeholder {{{field}}} in {text!r}; known: {', '.join(sorted(allowed))}")
    return problems


def _fill(text: str, values: Mapping[str, str], where: str) -> str:
    out = []
    for literal, field, _spec, _conversion in _FORMATTER.parse(text):
        out.append(literal)
        if field is not None:
            if field not in values:
                raise ContentError(f"{where}: {{{field}}} has no value for this session; use it only in a block that applies")
            out.append(values[field])
    return "".join(out)


def _parse_line(raw: object, where: str, timeline: bool, problems: list[str]) -> Line | None:
    text: object
    modalities: object
    before: object
    on: object
    if isinstance(raw, str):
        text, modalities, before, on = raw, None, None, None
    elif isinstance(raw, dict):
        allowed = {"text", "modalities", "before", "on"} if timeline else {"text", "modalities"}
        if extra := sorted(set(raw) - allowed):
            problems.append(f"{where}: unknown line keys {', '.join(extra)} (allowed here: {', '.join(sorted(allowed))})")
            return None
        text = raw.get("text")
        modalities = raw.get("modalities")
        before = raw.get("before")
        on = raw.get("on")
        if modalities is not None and (
            not isinstance(modalities, list) or not modalities or any(m not in MODALITIES for m in modalities)
        ):
            problems.append(f"{where}: 'modalities' must be a non-empty list of {', '.join(MODALITIES)}")
            return None
        for key, value in (("before", before), ("on", on)):
            if value is not None and value not in DATE_NAMES:
                problems.append(f"{where}: {key!r} must name one of {', '.join(DATE_NAMES)} (got {value!r})")
                return None
        if before is not None and on is not None:
            problems.append(f"{where}: a line takes 'before' or 'on', not both")
            return None
    else:
        problems.append(f"{where}: a line must be a string or a table with 'text'")
        return None
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: a line needs non-empty 'text'")
        return None
    text = _one_line(text)
    found = _placeholder_problems(text, PLACEHOLDERS)
    problems.extend(f"{where}: {problem}" for problem in found)
    if found:
        return None
    return Line(
        text,
        frozenset(modalities) if isinstance(modalities, list) else None,
        before if isinstance(before, str) else None,
        on if isinstance(on, str) else None,
    )


def _parse_block(raw: object, source: str, index: int, problems: list[str]) -> ContentBlock | None:
    where = f"{source}, block {index + 1}"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a [[block]] table")
        return None
    block_id = raw.get("id")
    if not isinstance(block_id, str) or block_id not in _BLOCK_KINDS:
        problems.append(f"{where}: unknown block id {block_id!r}; the software knows {', '.join(BLOCK_IDS)}")
        return None
    where = f"{source}, block {block_id!r}"
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"{where}: 'version' must be a whole number, 1 or more")
        return None
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(f"{where}: 'title' must be non-empty text")
        return None
    title = _one_line(title)
    if found := _placeholder_problems(title, PLACEHOLDERS):
        problems.extend(f"{where}: {problem}" for problem in found)
        return None
    timeline = _BLOCK_KINDS[block_id] == "timeline"
    allowed = _TIMELINE_FIELDS if timeline else _OTHER_FIELDS
    # A misspelt key would silently drop advice from a leaflet, so anything unexpected is refused.
    if extra := sorted(set(raw) - {"id", "version", "title", "awaiting_medical_review"} - allowed):
        problems.append(f"{where}: unknown keys {', '.join(extra)} "
                        f"(allowed: id, version, title, awaiting_medical_review, {', '.join(sorted(allowed))})")
        return None
    review = raw.get("awaiting_medical_review", "")
    if not isinstance(review, str) or ("awaiting_medical_review" in raw and not review.strip()):
        problems.append(f"{where}: 'awaiting_medical_review' must say, in a sentence, what the clinic's medical lead has to review")
        return None
    lists: dict[str, tuple[Line, ...]] = {}
    for name in _LINE_FIELDS:
        if name not in raw:
            continue
        value = raw[name]
        if not isinstance(value, list):
            problems.append(f"{where}: {name!r} must be a list")
            return None
        lines = [_parse_line(item, f"{where}, {name}", timeline, problems) for item in value]
        lists[name] = tuple(line for line in lines if line is not None)
    return ContentBlock(id=block_id, version=version, title=title, source=source, awaiting_review=_one_line(review), **lists)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ContentError(f"The aftercare content file {path} is not valid TOML: {exc}.") from exc


@dataclass(frozen=True)
class _LanguageSettings:
    """What language.toml says, once checked."""

    version: int
    release: str
    calendar: Calendar
    decimal_mark: str
    modality_names: dict[str, str]
    zone_labels: dict[str, str]


def _names(value: object, count: int) -> tuple[str, ...] | None:
    if not isinstance(value, list) or len(value) != count or not all(isinstance(v, str) and v.strip() for v in value):
        return None
    return tuple(_one_line(v) for v in value)


def _labels(value: object, codes: tuple[str, ...]) -> dict[str, str] | None:
    if not isinstance(value, dict) or set(value) != set(codes) or not all(isinstance(v, str) and v.strip() for v in value.values()):
        return None
    return {code: _one_line(text) for code, text in value.items()}


def _parse_language(data: dict[str, Any], problems: list[str]) -> _LanguageSettings | None:
    where = _LANGUAGE_FILE
    start = len(problems)
    if extra := sorted(set(data) - _LANGUAGE_KEYS):
        problems.append(f"{where}: unknown keys {', '.join(extra)}")
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"{where}: 'version' must be a whole number, 1 or more")
    release = data.get("release")
    if not isinstance(release, str) or not _RELEASE.match(release):
        problems.append(f"{where}: 'release' must be a short label such as \"2026.11\"")
    mark = data.get("decimal_mark")
    if not isinstance(mark, str) or len(mark) != 1:
        problems.append(f"{where}: 'decimal_mark' must be one character, such as \".\" or \",\"")
    pattern = data.get("day_pattern")
    if not isinstance(pattern, str) or _placeholder_problems(pattern, ("weekday", "day", "month")):
        problems.append(f"{where}: 'day_pattern' may use only {{weekday}}, {{day}} and {{month}}")
    year_pattern = data.get("day_year_pattern", f"{pattern} {{year}}")
    if not isinstance(year_pattern, str) or _placeholder_problems(year_pattern, ("weekday", "day", "month", "year")):
        problems.append(f"{where}: 'day_year_pattern' may use only {{weekday}}, {{day}}, {{month}} and {{year}}")
    weekdays, months = _names(data.get("weekdays"), 7), _names(data.get("months"), 12)
    if weekdays is None:
        problems.append(f"{where}: 'weekdays' must list 7 names, Monday first")
    if months is None:
        problems.append(f"{where}: 'months' must list 12 names, January first")
    modality_names, zone_labels = _labels(data.get("modalities"), MODALITIES), _labels(data.get("zones"), ZONES)
    if modality_names is None:
        problems.append(f"{where}: [modalities] must name each of {', '.join(MODALITIES)}, and nothing else")
    if zone_labels is None:
        problems.append(f"{where}: [zones] must name each of {', '.join(ZONES)}, and nothing else")
    if (len(problems) > start or not isinstance(version, int) or not isinstance(release, str) or not isinstance(mark, str)
            or not isinstance(pattern, str) or weekdays is None or months is None or modality_names is None
            or zone_labels is None):
        return None
    return _LanguageSettings(version, release, Calendar(weekdays, months, pattern, str(year_pattern)), mark, modality_names, zone_labels)


def content_folder(content_dir: Path | str, language: str) -> Path:
    """Where a language's aftercare content lives: <content_dir>/<language>/aftercare."""
    # The code becomes part of a path, so only a plain language code is accepted ("en", "pt-BR").
    if not isinstance(language, str) or not _LANGUAGE_CODE.match(language):
        raise ValueError(f"unknown language code {language!r}; use a code such as 'en' or 'pt-BR'")
    return Path(content_dir) / language / "aftercare"


def load_content(content_dir: Path | str, language: str = "en") -> AftercareContent:
    """All aftercare content of one language, read and checked once per (folder, language) per process."""
    folder = content_folder(content_dir, language)
    return _load(str(folder.resolve()), language)


@lru_cache(maxsize=16)
def _load(folder_name: str, language: str) -> AftercareContent:
    folder = Path(folder_name)
    language_path = folder / _LANGUAGE_FILE
    if not language_path.is_file():
        raise ContentError(
            f"There is no aftercare content for language {language!r}: add {folder} with a {_LANGUAGE_FILE} "
            f"(copy the English folder and translate it)."
        )
    problems: list[str] = []
    settings = _parse_language(_read_toml(language_path), problems)
    blocks: dict[str, ContentBlock] = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name == _LANGUAGE_FILE:
            continue
        data = _read_toml(path)
        if extra := sorted(set(data) - {"block"}):
            problems.append(f"{path.name}: unknown keys {', '.join(extra)} (a content file holds only [[block]] tables)")
        raw_blocks = data.get("block", [])
        if not isinstance(raw_blocks, list):
            problems.append(f"{path.name}: 'block' must be written as [[block]] tables")
            continue
        for index, raw in enumerate(raw_blocks):
            block = _parse_block(raw, path.name, index, problems)
            if block is None:
                continue
            if block.id in blocks:
                problems.append(f"{path.name}: block {block.id!r} is also in {blocks[block.id].source}; keep one")
                continue
            blocks[block.id] = block
    if missing := [block_id for block_id in BLOCK_IDS if block_id not in blocks]:
        problems.append(f"missing blocks: {', '.join(missing)}")
    if problems or settings is None:
        raise ContentError(f"The aftercare content in {folder} is not usable: {'; '.join(problems)}.")
    return AftercareContent(
        language=language,
        release=settings.release,
        version=settings.version,
        calendar=settings.calendar,
        decimal_mark=settings.decimal_mark,
        modality_names=MappingProxyType(settings.modality_names),
        zone_labels=MappingProxyType(settings.zone_labels),
        blocks=MappingProxyType({block_id: blocks[block_id] for block_id in BLOCK_IDS}),
    )


def awaiting_review(content_dir: Path | str, language: str = "en") -> tuple[ReviewNote, ...]:
    """The blocks of a language's aftercare marked as awaiting the clinic's medical review, in leaflet order."""
    content = load_content(content_dir, language)
    return tuple(ReviewNote(block.id, block.title, block.source, block.awaiting_review)
                 for block in content.blocks.values() if block.awaiting_review)


# --- assembly -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One block of an assembled leaflet: filled text, and its dates as date objects for the template."""

    id: str
    version: int
    kind: BlockKind
    title: str
    paragraphs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    when: date | None = None
    until: date | None = None
    expect: tuple[str, ...] = ()
    do: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """'id@version', as recorded on an issued document."""
        return f"{self.id}@{self.version}"

    @property
    def lines(self) -> tuple[str, ...]:
        """Every text of the block, title first, in reading order."""
        return (self.title, *self.paragraphs, *self.items, *self.expect, *self.do, *self.avoid)


@dataclass(frozen=True)
class Aftercare:
    """An assembled aftercare leaflet and exactly which content it was made from."""

    language: str
    blocks: tuple[Block, ...]
    content_label: str
    content_version: str
    content_blocks: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        """The block ids in leaflet order."""
        return tuple(block.id for block in self.blocks)

    def block(self, block_id: str) -> Block | None:
        """The block with this id, or None when it does not apply to this session."""
        return next((block for block in self.blocks if block.id == block_id), None)

    @property
    def text(self) -> str:
        """The whole leaflet as plain text, one line per title, paragraph or item."""
        return "\n".join(line for block in self.blocks for line in block.lines)


def _format_mm(depth: float, mark: str) -> str:
    text = f"{depth:.2f}".rstrip("0")
    return (text + "0" if text.endswith(".") else text).replace(".", mark)


def _chosen(facts: SessionFacts, policy: AftercarePolicy) -> set[str]:
    chosen = {
        "header",
        "what_we_did",
        "products.applied" if facts.products_applied else "products.none",
        f"downtime.{depth_band(facts.deepest_mm)}",
        f"modality.{facts.modality}",
        "date.makeup",
        "date.actives",
        "date.exercise",
        "date.sun_strict",
        *_PERIODS,
        f"sunscreen.{policy.sunscreen_day0}",
        "warning_signs",
        "emergency",
    }
    chosen.update(f"adverse.{kind}" for kind in facts.adverse_events)
    if facts.fitzpatrick is not None and facts.fitzpatrick >= PIH_RISK_MIN_FITZPATRICK:
        chosen.add("skin.pih_risk")
    if facts.cold_sore_history:
        chosen.add("cold_sore.history")
    if facts.modality == "rf_microneedling":
        chosen.add("warning_signs.rf")
    if facts.next_appointment is not None:
        chosen.add("next.appointment")
    elif facts.interval_weeks is not None:
        chosen.add("next.book_from")
    else:
        chosen.add("next.ask")
    return chosen


def _values(facts: SessionFacts, policy: AftercarePolicy, content: AftercareContent, dates: KeyDates) -> dict[str, str]:
    this_year = (facts.issued_on or facts.session_date).year

    def day(offset: int) -> str:
        return format_day(facts.session_date + timedelta(days=offset), content.calendar, this_year)

    values = {
        "patient_name": facts.patient_name.strip(),
        "practitioner_name": facts.practitioner_name.strip(),
        "clinic_name": facts.clinic_name.strip(),
        "clinic_phone": facts.clinic_phone.strip(),
        "clinic_out_of_hours": facts.clinic_out_of_hours.strip(),
        "modality_name": content.modality_names[facts.modality],
        "session_number": str(facts.session_number),
        "sessions_planned": str(facts.sessions_planned),
        "today": day(0),
        "day_1": day(1),
        "day_2": day(2),
        "day_3": day(3),
        "day_7": day(7),
        "day_8": day(8),
        "deepest_mm": _format_mm(facts.deepest_mm, content.decimal_mark),
        "makeup_hours": str(policy.makeup_hours_for(facts.modality)),
        "actives_days": str(policy.actives_days_for(facts.modality)),
        "exercise_hours": str(policy.exercise_hours),
        "prp_no_wash_hours": str(policy.prp_no_wash_hours),
    }
    for name in DATE_NAMES:
        values[name] = format_day(_named_date(dates, name), content.calendar, this_year)
    if facts.next_appointment is not None:
        values["next_appointment"] = format_day(facts.next_appointment, content.calendar, this_year)
    if dates.book_from is not None:
        values["book_from"] = format_day(dates.book_from, content.calendar, this_year)
    return values


def _named_date(dates: KeyDates, name: str) -> date:
    value = getattr(dates, name)
    if not isinstance(value, date):
        raise ContentError(f"{name!r} is not a date of the leaflet")
    return value


def _shown(line: Line, modality: str, period: tuple[date, date | None] | None, dates: KeyDates) -> bool:
    if line.modalities is not None and modality not in line.modalities:
        return False
    if period is None:
        return True
    start, end = period
    if line.before is not None:
        return start < _named_date(dates, line.before)
    if line.on is not None:
        when = _named_date(dates, line.on)
        # A policy of 0 puts a date on the treatment day itself, which "today" shows; the last period has no end.
        return (start <= when or start == dates.today) and (end is None or when <= end)
    return True


def _when(block_id: str, facts: SessionFacts, dates: KeyDates) -> tuple[date | None, date | None]:
    if block_id in _PERIODS:
        first, last = _PERIODS[block_id]
        return (facts.session_date + timedelta(days=first),
                facts.session_date + timedelta(days=last) if last is not None else None)
    by_id: dict[str, date | None] = {
        "header": dates.today,
        "what_we_did": dates.today,
        "date.makeup": dates.makeup_from,
        "date.actives": dates.actives_from,
        "date.exercise": dates.exercise_from,
        "date.sun_strict": dates.sun_strict_until,  # an "until" date: see below
        "next.appointment": facts.next_appointment,
        "next.book_from": dates.book_from,
    }
    # Sun protection runs until its date; every other key date is when something may start again.
    return by_id.get(block_id), dates.sun_strict_until if block_id == "date.sun_strict" else None


def _extra_items(block_id: str, facts: SessionFacts, content: AftercareContent) -> tuple[str, ...]:
    if block_id == "what_we_did":
        zones = dict.fromkeys(zone for zone, _ in facts.zones)  # each zone once, in recorded order
        return tuple(content.zone_labels[zone] for zone in zones)
    if block_id == "products.applied":
        # Names exactly as recorded, so an allergy can be traced to the product later.
        return tuple(name.strip() for name in facts.products_applied)
    return ()


def _render(source: ContentBlock, facts: SessionFacts, content: AftercareContent, dates: KeyDates,
            values: Mapping[str, str]) -> Block:
    when, until = _when(source.id, facts, dates)
    period = (when, until) if source.id in _PERIODS and when is not None else None
    where = f"{content.language}/aftercare {source.source}, block {source.id!r}"

    def lines(raw: tuple[Line, ...]) -> tuple[str, ...]:
        return tuple(_fill(line.text, values, where) for line in raw if _shown(line, facts.modality, period, dates))

    return Block(
        id=source.id,
        version=source.version,
        kind=_BLOCK_KINDS[source.id],
        title=_fill(source.title, values, where),
        paragraphs=lines(source.paragraphs),
        items=lines(source.items) + _extra_items(source.id, facts, content),
        when=when,
        until=until,
        expect=lines(source.expect),
        do=lines(source.do),
        avoid=lines(source.avoid),
    )


def content_version(language: str, release: str, refs: Iterable[str]) -> str:
    """'en-2026.11+<12 hex>': the release label and a short SHA-256 of the id@version list used."""
    digest = hashlib.sha256("\n".join([f"language={language}", *sorted(refs)]).encode("utf-8")).hexdigest()
    return f"{language}-{release}+{digest[:12]}"


def assemble_aftercare(facts: SessionFacts, policy: AftercarePolicy, content_dir: Path | str,
                       language: str = "en") -> Aftercare:
    """The aftercare leaflet for one session: the blocks that apply, filled, in leaflet order."""
    content = load_content(content_dir, language)
    dates = key_dates(facts, policy)
    values = _values(facts, policy, content, dates)
    chosen = _chosen(facts, policy)
    blocks = tuple(_render(content.blocks[block_id], facts, content, dates, values) for block_id in BLOCK_IDS if block_id in chosen)
    refs = tuple(sorted([*(block.ref for block in blocks), f"language@{content.version}"]))
    return Aftercare(
        language=language,
        blocks=blocks,
        content_label=f"{language}-{content.release}",
        content_version=content_version(language, content.release, refs),
        content_blocks=refs,
    )
