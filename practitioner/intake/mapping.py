"""The patient's intake answers in the consultation's terms: what each would set on its screening column.

Nothing is decided here: the practitioner confirms or corrects each answer on the consultation form.
A "Not sure", like an unanswered question, sets nothing (None) and needs attention. A month-and-year
date ("about March 2026") is read as the LAST day of that month (or the day the patient answered, if
that month is the one they answered in): the most recent day it could be, so the interval counted from
it is the shortest one the answer allows, which is the cautious reading (docs/intake.md).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping

from practitioner.dates import clinic_today, day_month_year, month_year
from practitioner.intake.questions import NO, NOT_SURE, QUESTIONS, YES, Question

NOT_ANSWERED = "Not answered"
# The answers that raise nothing, so need no one's attention (a Yes, Not sure or any other answer does).
CALM = {"never", "none", NO}

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


class WhenProblem(ValueError):
    """A date the patient gave that cannot be used: not a date, or in the future. The message is for the patient."""


@dataclass(frozen=True)
class PatientAnswer:
    """One patient answer as it would set one consultation column (value None: Not sure, or not answered)."""

    key: str
    answer_code: str  # "yes" | "no" | "not_sure" | a question's own choice | "" when not answered
    label: str  # the answer in the patient's words ("Yes", "Yes, but I have stopped", "Not sure", "Not answered")
    value: Any  # True / False / a choice code / a date / None
    when_text: str = ""  # "about March 2026", "14 March 2026", or ""
    estimate: bool = False
    needs_attention: bool = True
    date: date | None = None  # for a question with a follow-up: the date asked for, as read (see module doc)


def parse_when(text: str | None, as_of: date) -> tuple[date, bool]:
    """A date the patient gave ("2026-03" or "2026-03-14") as (the day it is read as, whether it is an estimate).

    A month and year is an estimate read as the month's last day, or `as_of` (the day the patient answered)
    when that is earlier. A date after `as_of`, or a month after its month, is refused (WhenProblem).
    """
    text = (text or "").strip()
    month = _MONTH.match(text)
    day = _DAY.match(text)
    try:
        if month:
            year, number = int(month.group(1)), int(month.group(2))
            last = date(year, number, calendar.monthrange(year, number)[1]) if 1 <= number <= 12 else None
            if last is None:
                raise ValueError(text)
            if (year, number) > (as_of.year, as_of.month):
                raise WhenProblem("That month is still to come: give the month it happened.")
            return min(last, as_of), True
        if day:
            given = date(int(day.group(1)), int(day.group(2)), int(day.group(3)))
            if given > as_of:
                raise WhenProblem("That date is still to come: give the date it happened.")
            return given, False
    except WhenProblem:
        raise
    except ValueError as exc:
        raise WhenProblem("Give the month and year, for example March 2026.") from exc
    raise WhenProblem("Give the month and year, for example March 2026.")


def when_words(text: str | None, as_of: date) -> str:
    """The date as the patient gave it, in words: "about March 2026" or "14 March 2026" ("" if none or unusable)."""
    try:
        day, estimate = parse_when(text, as_of)
    except WhenProblem:
        return ""
    if estimate:
        year, number = (int(part) for part in str(text).strip().split("-"))
        return f"about {month_year(date(year, number, 1))}"
    return day_month_year(day)


def _as_of(answers: Mapping[str, Any]) -> date:
    """The day the answers were given (kept in the answers as "as_of"); today for answers without one."""
    value = answers.get("as_of")
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return clinic_today()


def _value(question: Question, code: str) -> Any:
    if question.choices[0].code == YES:
        return {YES: True, NO: False}.get(code)
    return None if code == NOT_SURE else code


def _one(question: Question, given: Any, as_of: date) -> tuple[PatientAnswer, PatientAnswer | None]:
    entry = given if isinstance(given, Mapping) else {}
    code = entry.get("answer") if isinstance(entry.get("answer"), str) else ""
    if code not in question.codes:
        code = ""
    value = _value(question, code) if code else None
    follow = question.follow_up
    day: date | None = None
    when_text, estimate = "", False
    if follow is not None and code in follow.shown_for:
        try:
            day, estimate = parse_when(entry.get("when"), as_of)
            when_text = when_words(entry.get("when"), as_of)
        except WhenProblem:
            day = None
    attention = code not in CALM
    label = question.label_of(code) if code else NOT_ANSWERED
    answer = PatientAnswer(question.key, code, label, value, when_text, estimate, attention, day)
    dated = None
    if follow is not None:
        asked = code in follow.shown_for
        dated = PatientAnswer(follow.key, code, (when_text or NOT_ANSWERED) if asked else "", day, when_text,
                              estimate, attention and asked, day)
    return answer, dated


def consultation_answers(answers: Mapping[str, Any] | None) -> dict[str, PatientAnswer]:
    """Every screening column a patient answers, keyed by the column, with what the patient's answer would set.

    Each question's column is present (value None when Not sure or not answered), and so is the date
    column of each question with a follow-up (its value the date as read, or None).
    """
    answers = answers or {}
    given = answers.get("questions") if isinstance(answers.get("questions"), Mapping) else {}
    as_of = _as_of(answers)
    mapped: dict[str, PatientAnswer] = {}
    for question in QUESTIONS:
        answer, dated = _one(question, given.get(question.key), as_of)
        mapped[question.key] = answer
        if dated is not None:
            mapped[dated.key] = dated
    return mapped


def attention_first(answers: Mapping[str, Any] | None) -> list[PatientAnswer]:
    """The answers to the questions (not their dates), Yes and Not sure (and anything else to resolve) first, each group in order."""
    mapped = consultation_answers(answers)
    ordered = [mapped[q.key] for q in QUESTIONS]
    return [a for a in ordered if a.needs_attention] + [a for a in ordered if not a.needs_attention]
