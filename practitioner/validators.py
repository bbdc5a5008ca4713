"""Field validators shared by every feature's forms."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

from wtforms import Field, Form
from wtforms import validators as wtforms_validators
from wtforms.validators import ValidationError

_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,30}$")


class Phone:
    """A telephone number: digits with the usual separators, at least six digits."""

    def __init__(self, message: str = "Enter a phone number using digits, spaces and an optional leading +.") -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        value = (field.data or "").strip()
        if value and (not _PHONE.match(value) or len(re.sub(r"\D", "", value)) < 6):
            raise ValidationError(self.message)


class NoControlCharacters:
    """Refuse control characters (null bytes and the like); keep newlines and tabs in long text."""

    def __init__(self, multiline: bool = False) -> None:
        self.allowed = {"\n", "\r", "\t"} if multiline else set()

    def __call__(self, form: Form, field: Field) -> None:
        value = field.data
        if isinstance(value, str) and any(
            unicodedata.category(ch) == "Cc" and ch not in self.allowed for ch in value
        ):
            raise ValidationError("Remove the invisible control characters from this field.")


class NumberRange(wtforms_validators.NumberRange):
    """WTForms' NumberRange that also refuses NaN and infinity (as out of range) without crashing.

    A DecimalField turns a typed "sNaN" into Decimal('sNaN'), on which WTForms' own check
    (math.isnan) raises ValueError: the page would answer 500 instead of showing the message.
    """

    def __call__(self, form: Form, field: Field) -> None:
        if isinstance(field.data, Decimal) and not field.data.is_finite():
            raise ValidationError(self.message or field.gettext("Not a valid decimal value."))
        super().__call__(form, field)


class PastDate:
    """A date not in the future and not absurdly old."""

    def __init__(self, earliest_year: int = 1900, message: str | None = None) -> None:
        self.earliest_year = earliest_year
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        value: Any = field.data
        if value is None:
            return
        if value > date.today():
            raise ValidationError(self.message or "This date is in the future.")
        if value.year < self.earliest_year:
            raise ValidationError(f"Enter a date after {self.earliest_year}.")


def strip_filter(value: Any) -> Any:
    """Trim surrounding spaces from text input."""
    return value.strip() if isinstance(value, str) else value
