"""The base form: restores what a person typed before their sign-in expired."""

from __future__ import annotations

from typing import Any

from typing import Iterable

from flask import g
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import RadioField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from practitioner.validators import blank_missing_text, dates_within_bounds


class Form(FlaskForm):
    """Every form of the app. On a GET right after signing in again, it holds the kept draft."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        draft = g.pop("restored_form_draft", None) if "formdata" not in kwargs else None
        if draft is not None:
            kwargs["formdata"] = MultiDict([(key, value) for key, values in draft.items() for value in values])
        super().__init__(*args, **kwargs)
        self.restored_from_draft = draft is not None

    def process(self, *args: Any, **kwargs: Any) -> None:
        """Read the fields; a text field a submitted form left out reads as empty, as a browser sends an empty box."""
        super().process(*args, **kwargs)
        if self.is_submitted():
            blank_missing_text(self)

    def validate(self, extra_validators: Any = None) -> bool:
        """Every field's own checks, and every date within the years a record can hold (dates_within_bounds)."""
        valid = super().validate(extra_validators)
        return dates_within_bounds(self) and valid

    def error_items(self) -> list[tuple[str, str]]:
        """Every error as (field id, sentence), rows of a list spelled out ("Zone 2, depth (mm): Enter 0.1 to 5 mm.")."""
        return [item for field in self if field.type != "CSRFTokenField" and field.errors for item in _errors(field, field.label.text)]


def _lower_first(label: str) -> str:
    """'Depth (mm)' reads 'depth (mm)' after a comma; 'RF energy' keeps its capitals."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _errors(field: Any, label: str) -> Iterable[tuple[str, str]]:
    """A field's errors as sentences; a FieldList's rows and a FormField's fields one by one, never a dict or list repr."""
    if field.type == "FieldList":
        for number, entry in enumerate(field.entries, 1):
            if entry.errors:
                yield from _errors(entry, f"{label} {number}")
    elif field.type == "FormField":
        for sub in field.form:
            if sub.errors:
                yield from _errors(sub, f"{label}, {_lower_first(sub.label.text)}")
        return
    first = next((message for message in field.errors if isinstance(message, str)), None)
    if first is not None:
        yield field.id, f"{label}: {first}"


def typed_input(inputmode: str, autocomplete: str = "off") -> dict[str, str]:
    """The render_kw of a field typed rather than written (a code, a depth): its keyboard, no autofill guess, no spellcheck."""
    return {"inputmode": inputmode, "autocomplete": autocomplete, "spellcheck": "false"}


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select or radio options from (value, label) pairs, in the form WTForms 3.3+ expects."""
    return [SelectChoice(str(value), label) for value, label in pairs]


YES_NO = choices([("yes", "Yes"), ("no", "No")])


def _yes_no(value: object) -> bool | None:
    if value in (True, "yes", "True", "y"):
        return True
    if value in (False, "no", "False", "n"):
        return False
    return None


def yes_no(label: str, required: str | None = None, description: str | None = None) -> RadioField:
    """A yes/no question with no default: it stays unanswered (None) until Yes or No is chosen."""
    validators = [InputRequired(required)] if required else [Optional()]
    return RadioField(label, choices=YES_NO, coerce=_yes_no, validators=validators, description=description,
                      invalid_choice_message="Choose Yes or No.")


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes for a multi-select, each with its own label."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
