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

from practitioner.clinical.vocabulary import DepthLimit

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


def depth_within(limit: DepthLimit) -> NumberRange:
    """The range check for a needle depth in one context, with that context's one message."""
    return NumberRange(min=limit.low, max=limit.high, message=limit.message)


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


def name_filter(value: Any) -> Any:
    """A typed name without bidi override characters (which can make it display as another name), spaces trimmed."""
    return strip_bidi_controls(value).strip() if isinstance(value, str) else value


# The one rule for the addresses people sign in with: `flask create-user`, the admin's user
# form and the sign-in form all use it, so an address one accepts the others accept. It checks
# the form of an address and nothing about the world: a clinic that runs offline may use an
# internal or reserved domain (clinic.local, clinic.test, clinic.internal), which
# email_validator refuses as not deliverable on the internet.
EMAIL_MAX_LENGTH = 254
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _local_part_ok(local: str) -> bool:
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    # ASCII atext (RFC 5322) plus, for internationalised addresses (RFC 6531), letters, marks and digits.
    return all(ch == "." or ch in _ATEXT or (ord(ch) > 127 and unicodedata.category(ch)[0] in "LMN") for ch in local)


def _domain_ok(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()  # 'bücher.de' -> 'xn--bcher-kva.de'
    except UnicodeError:
        return False
    labels = ascii_domain.split(".")
    return (len(labels) >= 2 and len(ascii_domain) <= 253 and all(_DOMAIN_LABEL.match(label) for label in labels)
            and not labels[-1].isdigit())  # a number last is an IP address, not a domain


def email_address_problem(address: str) -> str | None:
    """What is wrong with a sign-in email address, in words a person can act on; None when it is fine."""
    address = (address or "").strip()
    example = "like name@clinic.example"
    if not address:
        return f"Enter an email address, {example}."
    if len(address) > EMAIL_MAX_LENGTH:
        return f"An email address can be at most {EMAIL_MAX_LENGTH} characters long."
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in address):
        return "Remove the spaces (or invisible characters) from the email address."
    if address.count("@") != 1:
        return f"An email address has exactly one @ sign, {example}."
    local, domain = address.split("@")
    if not local or not domain:
        return f"Enter the whole email address, {example}."
    if len(local.encode()) > 64:
        return "The part before the @ can be at most 64 characters long."
    if not _local_part_ok(local):
        return ("The part before the @ may hold letters, digits, dots (not two together, not first or last) "
                "and the signs ! # $ % & ' * + / = ? ^ _ ` { | } ~ -.")
    if not _domain_ok(domain):
        return "The part after the @ should be a domain name like clinic.example: letters, digits and hyphens, with dots between."
    return None


class EmailAddress:
    """A sign-in email address, by the same rule as `flask create-user` (email_address_problem)."""

    def __call__(self, form: Form, field: Field) -> None:
        problem = email_address_problem(field.data or "")
        if problem:
            raise ValidationError(problem)


# The years any date of a record may fall in. A date is a birth, a visit, a plan's start, a
# cartridge's expiry or a filter of the audit trail: nothing before 1900, nothing more than
# FUTURE_YEARS ahead. Far dates such as 9999-12-31 are refused on the field, so nothing computed
# from them (a plan's schedule, a filter's end of day) runs past the calendar's end.
EARLIEST_DATE = date(1900, 1, 1)
FUTURE_YEARS = 10


def latest_date() -> date:
    """The last date a record may hold: FUTURE_YEARS from the clinic's today."""
    from practitioner.dates import clinic_today

    today = clinic_today()
    return date(today.year + FUTURE_YEARS, 12, 31)


def _all_fields(form: Any) -> Any:
    for field in form:
        if field.type == "FieldList":
            for entry in field.entries:
                yield from _all_fields([entry])
        elif field.type == "FormField":
            yield from _all_fields(field.form)
        else:
            yield field


def dates_within_bounds(form: Any) -> bool:
    """Refuse, on its field, every date before 1900 or more than FUTURE_YEARS ahead; True when none is."""
    latest, fine = latest_date(), True
    for field in _all_fields(form):
        value = field.data
        if isinstance(value, date) and not EARLIEST_DATE <= value <= latest:
            message = f"Enter a date between {EARLIEST_DATE.year} and {latest.year}."
            if message not in field.errors:
                field.errors = [*field.errors, message]
            fine = False
    return fine


def blank_missing_text(form: Any) -> None:
    """A text field the submitted form left out reads as empty ("") rather than None, as a browser sends an empty box."""
    from wtforms import StringField

    for field in _all_fields(form):
        if isinstance(field, StringField) and field.data is None and field.type != "CSRFTokenField":
            field.data = ""


# The most pages a list may be asked for; a number past it (or past the end) shows an empty last page.
MAX_PAGE = 100_000


def page_number(args: Any) -> int:
    """The ?page= of a list's address as a number from 1 to MAX_PAGE; anything else reads as page 1."""
    raw = str(args.get("page", "1")).strip()
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        return 1
    return min(max(int(raw), 1), MAX_PAGE)


# Explicit direction marks that reorder the text after them (LRE, RLE, PDF, LRO, RLO and the isolates
# LRI, RLI, FSI, PDI): in a name they can make "Anna" display as another. Pages isolate each value too.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def strip_bidi_controls(value: Any) -> Any:
    """Text without the bidirectional override and isolate characters (U+202A-U+202E, U+2066-U+2069)."""
    return value.translate(BIDI_CONTROLS) if isinstance(value, str) else value
