"""The base form: restores what a person typed before their sign-in expired."""

from __future__ import annotations

from typing import Any

from typing import Iterable

from flask import g
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget


class Form(FlaskForm):
    """Every form of the app. On a GET right after signing in again, it holds the kept draft."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        draft = g.pop("restored_form_draft", None) if "formdata" not in kwargs else None
        if draft is not None:
            kwargs["formdata"] = MultiDict([(key, value) for key, values in draft.items() for value in values])
        super().__init__(*args, **kwargs)
        self.restored_from_draft = draft is not None


def choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """Select or radio options from (value, label) pairs, in the form WTForms 3.3+ expects."""
    return [SelectChoice(str(value), label) for value, label in pairs]


class MultiCheckboxField(SelectMultipleField):
    """A group of checkboxes for a multi-select, each with its own label."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
