"""The patient's intake forms: the date of birth that opens a link, one form per topic (screen), the signature.

A topic's form is built from its questions (practitioner/intake/questions.py): each question a set of radio
buttons with no default, its follow-up date as Day (optional), Month and Year, each free-text field a box.
"Next" asks for every question of the screen to be answered; "Back" keeps what was given without asking for
the rest, so nothing typed is lost either way. Dates are checked in both.
"""

from __future__ import annotations

import calendar
from datetime import date
from functools import cache
from typing import Any

from wtforms import BooleanField, HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from practitioner.dates import clinic_today, month_names
from practitioner.forms import Form, MultiCheckboxField, choices, typed_input
from practitioner.intake import questions as q
from practitioner.validators import NoControlCharacters, Phone, email_address_problem, strip_filter

EARLIEST_YEAR = 1900
# The two buttons of a screen; the one pressed decides how much the form asks for.
NEXT, BACK = "next", "back"


def month_choices() -> list[Any]:
    """The months by name, after an empty first option ("Month"), so none is chosen for the patient."""
    return choices([("", "Month"), *((str(number), name) for number, name in enumerate(month_names(), 1))])


class DateOfBirthForm(Form):
    """The date of birth a link asks for before it shows anything: three boxes, day, month and year."""

    day = StringField("Day", filters=[strip_filter], render_kw={**typed_input("numeric", "bday-day"), "maxlength": 2})
    month = StringField("Month", filters=[strip_filter], render_kw={**typed_input("numeric", "bday-month"), "maxlength": 2})
    year = StringField("Year", filters=[strip_filter], render_kw={**typed_input("numeric", "bday-year"), "maxlength": 4})

    def validate(self, extra_validators: Any = None) -> bool:
        """Each box a number in range, then a real day that is not in the future; a message on each box at fault."""
        super().validate(extra_validators)
        day = _number(self.day, 1, 31, "Enter the day you were born, as a number from 1 to 31.")
        month = _number(self.month, 1, 12, "Enter the month you were born, as a number from 1 to 12.")
        year = _number(self.year, EARLIEST_YEAR, clinic_today().year, "Enter the year you were born, with four digits, for example 1985.")
        self.date_of_birth: date | None = None
        if day is None or month is None or year is None:
            return False
        if day > calendar.monthrange(year, month)[1]:
            self.day.errors = [f"That month has {calendar.monthrange(year, month)[1]} days. Check the day."]
            return False
        born = date(year, month, day)
        if born > clinic_today():
            self.year.errors = ["That date is in the future. Check the year."]
            return False
        self.date_of_birth = born
        return True

    def error_items(self) -> list[tuple[str, str]]:
        """The summary's lines, each naming its box."""
        return [(f.id, f"{f.label.text}: {f.errors[0]}") for f in (self.day, self.month, self.year) if f.errors]


def _number(field: Any, low: int, high: int, message: str) -> int | None:
    """The box's whole number within low..high, or None with `message` as its error."""
    text = (field.data or "").strip()
    if text.isdigit() and text.isascii() and low <= int(text) <= high:
        return int(text)
    field.errors = [message]
    return None


class TopicForm(Form):
    """One screen of questions; subclassed per topic by `topic_form`, which adds its fields."""

    topic: q.Topic
    action = HiddenField("This screen")
    return_to = HiddenField()

    def error_items(self) -> list[tuple[str, str]]:
        """The error summary's lines, each naming its question (a date's line names the question it follows)."""
        items: list[tuple[str, str]] = []
        for question in self.topic.questions:
            if self[question.key].errors:
                items.append((question.key, f"{question.wording} {self[question.key].errors[0]}"))
            follow = question.follow_up
            if follow is not None:
                for part in ("day", "month", "year"):
                    for message in self[f"{follow.key}__{part}"].errors:
                        items.append((follow.key, f"{question.wording} {follow.wording} {message}"))
        for field in self.topic.fields:
            if self[field.key].errors:
                items.append((self[field.key].id, f"{field.label}: {self[field.key].errors[0]}"))
        if self.action.errors:
            items.append(("main", self.action.errors[0]))
        return items

    def validate_answers(self, action: str) -> bool:
        """Check the screen: with "next" every question answered; always, every date given a real, past month."""
        self.validate()  # the text boxes' own checks (length, control characters, phone, email)
        ok = not any(f.errors for f in self if f.type != "CSRFTokenField")
        for question in self.topic.questions:
            ok = self._check_question(question, action) and ok
        for field in self.topic.fields:
            if field.key == "email":
                box = self[field.key]
                problem = email_address_problem(box.data) if box.data else None
                if problem:
                    box.errors = [*box.errors, "Enter an email address like name@example.com, or leave it empty."]
                    ok = False
        return ok

    def _check_question(self, question: q.Question, action: str) -> bool:
        answer = self[question.key]
        if answer.data not in (None, "") and answer.data not in question.codes:
            answer.data = None
        if not answer.data:
            if action == NEXT:
                answer.errors = [_choose_message(question)]
                return False
            return True
        follow = question.follow_up
        if follow is None or answer.data not in follow.shown_for:
            return True
        return self._check_when(follow, required=action == NEXT)

    def _check_when(self, follow: q.FollowUp, *, required: bool) -> bool:
        day, month, year = (self[f"{follow.key}__{part}"] for part in ("day", "month", "year"))
        if not (day.data or month.data or year.data) and not required:
            return True
        ok = True
        if not month.data:
            month.errors = ["Choose the month. If you are not sure, choose your best guess."]
            ok = False
        year_text = (year.data or "").strip()
        if not (year_text.isdigit() and year_text.isascii() and len(year_text) == 4 and EARLIEST_YEAR <= int(year_text)):
            year.errors = ["Enter the year with four digits, for example 2026."]
            ok = False
        day_text = (day.data or "").strip()
        if day_text and not (day_text.isdigit() and day_text.isascii() and 1 <= int(day_text) <= 31):
            day.errors = ["Enter the day as a number from 1 to 31, or leave it empty."]
            ok = False
        if not ok:
            return False
        when_year, when_month = int(year_text), int(month.data)
        today = clinic_today()
        if (when_year, when_month) > (today.year, today.month):
            year.errors = ["That month is still to come. Check the month and the year."]
            return False
        if day_text:
            last = calendar.monthrange(when_year, when_month)[1]
            if int(day_text) > last:
                day.errors = [f"That month has {last} days. Check the day, or leave it empty."]
                return False
            if date(when_year, when_month, int(day_text)) > today:
                day.errors = ["That day is still to come. Check the day."]
                return False
        return True

    def answers(self) -> dict[str, Any]:
        """What this screen says, as services.save_topic takes it: a question's key to its answer code, `<key>_when` to
        its follow-up date ("2026-03" when the day was left empty, "2026-03-14" otherwise), a field's key to its text,
        "concerns" to the chosen codes. Unanswered questions are left out; follow-ups of other answers are dropped."""
        result: dict[str, Any] = {}
        for question in self.topic.questions:
            code = self[question.key].data
            if not code or code not in question.codes:
                continue
            result[question.key] = code
            follow = question.follow_up
            if follow is not None and code in follow.shown_for:
                when = self._when(follow)
                if when:
                    result[f"{question.key}_when"] = when
        for field in self.topic.fields:
            result[field.key] = (self[field.key].data or "").strip()
        if self.topic.kind == "hopes":
            result["concerns"] = [c for c in (self["concerns"].data or []) if c in q.CONCERN_CODES]
            result["areas"] = [c for c in (self["areas"].data or []) if c in q.AREA_CODES]
        return result

    def _when(self, follow: q.FollowUp) -> str | None:
        day, month, year = (self[f"{follow.key}__{part}"].data for part in ("day", "month", "year"))
        if not (month and year):
            return None
        if day:
            return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
        return f"{int(year):04d}-{int(month):02d}"

    def show_problems(self, problems: dict[str, str]) -> None:
        """The service's refusals (InvalidAnswers.problems, keyed by question, `<key>_when` or field) on their boxes."""
        for key, message in problems.items():
            if key.endswith("_when") and key[:-5] in q.BY_KEY and q.BY_KEY[key[:-5]].follow_up is not None:
                box = self[f"{q.BY_KEY[key[:-5]].follow_up.key}__year"]
            elif key in self:
                box = self[key]
            else:
                box = self.action
            box.errors = [*box.errors, message]


def _choose_message(question: q.Question) -> str:
    """The per-question message when nothing was chosen, naming the question's own answers."""
    if question.choices == q.YES_NO_NOT_SURE:
        return "Choose Yes, No or Not sure."
    return "Choose one of the answers. If you do not know, choose Not sure."


@cache
def topic_form_class(slug: str) -> type[TopicForm]:
    """The form class of one topic (built once per process from questions.py)."""
    topic = q.topic(slug)
    if topic is None:
        raise KeyError(slug)
    fields: dict[str, Any] = {"topic": topic}
    for question in topic.questions:
        fields[question.key] = RadioField(question.wording, choices=choices((c.code, c.label) for c in question.choices),
                                          validate_choice=False, description=question.hint)
        follow = question.follow_up
        if follow is not None:
            fields[f"{follow.key}__day"] = StringField("Day (if you know it)", filters=[strip_filter],
                                                       render_kw={**typed_input("numeric"), "maxlength": 2})
            fields[f"{follow.key}__month"] = SelectField("Month", choices=month_choices(), validate_choice=False)
            fields[f"{follow.key}__year"] = StringField("Year", filters=[strip_filter],
                                                        render_kw={**typed_input("numeric"), "maxlength": 4})
    if topic.kind == "hopes":
        fields["concerns"] = MultiCheckboxField(q.CONCERNS_WORDING, validate_choice=False,
                                                choices=choices((c.code, c.label) for c in q.CONCERN_CHOICES))
        fields["areas"] = MultiCheckboxField(q.AREAS_WORDING, validate_choice=False,
                                             choices=choices((c.code, c.label) for c in q.AREA_CHOICES))
    for field in topic.fields:
        validators: list[Any] = [Optional(), Length(max=field.max_length, message=f"Keep this to {field.max_length} characters or fewer."),
                                 NoControlCharacters(multiline=field.multiline)]
        if field.key == "phone":
            validators.append(Phone("Enter a phone number using digits and spaces, or leave it empty."))
        render_kw = {"autocomplete": field.autocomplete or "off"}
        if field.key == "phone":
            render_kw["inputmode"] = "tel"
        if field.key == "email":
            render_kw.update(inputmode="email", spellcheck="false")
        if field.multiline:
            render_kw["rows"] = 3
        kind = TextAreaField if field.multiline else StringField
        fields[field.key] = kind(field.label, filters=[strip_filter], validators=validators, description=field.hint, render_kw=render_kw)
    return type(f"TopicForm_{slug}", (TopicForm,), fields)


def topic_form(topic: q.Topic, draft: dict[str, Any], **kwargs: Any) -> TopicForm:
    """The topic's form: on a GET filled from the draft so far, on a POST from what was sent."""
    return topic_form_class(topic.slug)(data=initial_values(topic, draft), **kwargs)


def initial_values(topic: q.Topic, draft: dict[str, Any]) -> dict[str, Any]:
    """The form's values from the draft: each answer chosen again, each date back in its three boxes."""
    values: dict[str, Any] = {}
    given = draft.get("questions") or {}
    for question in topic.questions:
        entry = given.get(question.key) or {}
        values[question.key] = entry.get("answer")
        if question.follow_up is not None and entry.get("when"):
            parts = str(entry["when"]).split("-")
            key = question.follow_up.key
            values[f"{key}__year"] = parts[0]
            values[f"{key}__month"] = str(int(parts[1])) if len(parts) > 1 else ""
            values[f"{key}__day"] = str(int(parts[2])) if len(parts) > 2 else ""
    texts = draft.get("hopes" if topic.kind == "hopes" else "details") or {}
    for field in topic.fields:
        values[field.key] = texts.get(field.key) or ""
    if topic.kind == "hopes":
        values["concerns"] = list(texts.get("concerns") or [])
        values["areas"] = list(texts.get("areas") or [])
    return values


class SignForm(Form):
    """The summary's last step: the declaration ticked and the signature drawn."""

    declaration = BooleanField(q.DECLARATION)
    signature = HiddenField("Signature")

    def validate(self, extra_validators: Any = None) -> bool:
        """Both are needed: the ticked declaration and a drawing in the box."""
        super().validate(extra_validators)
        ok = True
        if not self.declaration.data:
            self.declaration.errors = ["Tick the box to confirm your answers are true, or go back and change them."]
            ok = False
        if not (self.signature.data or "").startswith("data:image/png;base64,"):
            self.signature.errors = ["Sign in the box with your finger, a stylus or the mouse."]
            ok = False
        return ok

    def error_items(self) -> list[tuple[str, str]]:
        """The summary's lines."""
        items = []
        if self.declaration.errors:
            items.append(("declaration", f"Your answers: {self.declaration.errors[0]}"))
        if self.signature.errors:
            items.append(("signature", f"Signature: {self.signature.errors[0]}"))
        return items
