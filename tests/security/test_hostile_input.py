"""Hostile input in every text field of every form: stored faithfully and shown escaped, or refused per field; never a 5xx.

Each form is read from its page the way a browser reads it (the standard library's HTML parser
collects every input, textarea and select with its type, value, options and maxlength), a valid
submission is built from what the page holds plus known-valid values, and then each text field
(text, search, email, tel, url and textarea; not hidden, password, date, number or choices) gets
hostile values:

- on the fields that matter most (names, notes, addresses, the clinical note, product names, the
  addendum, the override reason, the typed consent name, the clinic name, a user's name and
  registration, the sign-in email and password): every payload in PAYLOADS;
- on every other text field: one combined hostile value (markup, quotes, template syntax, SQL,
  a spreadsheet formula, a path, bidi and zero-width characters, an emoji ZWJ sequence with a
  skin tone, combining accents; a twenty-character version for short fields, a hostile but valid
  address for email fields) and one with a NUL byte.

Then every date, number, select and radio of the form gets a value it cannot take (markup, and
for numbers "sNaN", "-Infinity" and "1e999999"): 422 with each field marked, nothing stored.

Each answer must be a 303 (stored) or a 422 (refused), never anything else. Stored: the record,
re-read from the database, holds exactly what was sent (surrounding spaces trimmed: the forms'
documented normalisation), and every page that shows it shows it as literal text, escaped, never
as markup. Refused: the field is marked invalid with its message, the other values are kept as
typed, and nothing changed. Which it is, is not left to chance: a control character (NUL, and
CR/LF in a one-line field) and a value beyond the field's maxlength (or under its minlength) must
be refused; anything else must be stored, except in the few fields that check a format (phone
numbers, email addresses).

A record full of hostile values is then shown by every GET route of the URL map (no 5xx, no raw
markup, nothing escaped twice) and printed as every document through /documents/<kind>/<id>.pdf:
each must render and show the values as literal text (a kind whose route is not there yet is skipped).
"""

from __future__ import annotations

import io
import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any, Callable

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from sqlalchemy import select

from practitioner.auth.models import Role, User
from practitioner.clinical.questions import QUESTIONS
from practitioner.extensions import db
from tests.conftest import make_patient, make_user, sign_in

# -- the payloads -------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = "\"'><img src=x onerror=alert(1)>"
PAYLOADS: dict[str, str] = {
    "script": SCRIPT,
    "attribute": ATTRIBUTE,
    "jinja": "{{7*7}}",
    "template-literal": "${7*7}",
    "sql": "' OR 1=1 --",
    "long": "Ab" * 5_000,
    "rtl-override": "Smith \u202eevil\u202c end",
    "zero-width-joiner": "Ze\u200dro\u200bwidth",
    "emoji": "Family 👩🏽\u200d👩🏽\u200d👧🏽 doctor 👨🏿\u200d⚕️ flag 🏳️\u200d🌈",
    "combining": "Zoe\u0308 Ame\u0301lie Z\u0337\u0322a\u0335l\u0336g\u0338o",
    "nul": "before\x00after",
    "crlf": "line one\r\nline two",
    "formula": '=HYPERLINK("http://x")',
    "path": "../../etc/passwd",
}
# Every payload at once, for the fields that get one combined submission.
COMBINED = (SCRIPT + ATTRIBUTE + " {{7*7}} ${7*7} ' OR 1=1 -- \u202eevil\u202c Ze\u200dro 👩🏽\u200d⚕️ Zoe\u0308 "
            '=HYPERLINK("http://x") ../../etc/passwd')
# The same ingredients in twenty characters, for short fields (a postcode, a record number).
SHORT = "<b>\"'&{{7*7}}Zoe\u0308👍🏽"
# Raw markup that must never reach a page: its presence means a value was not escaped.
RAW_MARKUP = ("<script>alert(1)", "<img src=x onerror", "<b>\"'&")

# Fields that check a format, so may refuse a hostile value that has no control character.
FORMAT_CHECKED = {"phone", "emergency_contact_phone", "gp_phone", "email"}


def needs_refusal(value: str, control: "Control") -> bool:
    """Must this value be refused (a control character, or too long or short for the field)?"""
    stripped = value.strip()
    multiline = control.tag == "textarea"
    if any(unicodedata.category(ch) == "Cc" and not (multiline and ch in "\r\n\t") for ch in stripped):
        return True
    if control.maxlength is not None and len(stripped) > control.maxlength:
        return True
    return control.minlength is not None and 0 < len(stripped) < control.minlength


# -- reading forms the way a browser does ---------------------------------------------------------


@dataclass
class Control:
    """One named input, textarea or select of a form."""

    name: str
    tag: str
    type: str
    value: str = ""
    checked: bool = False
    options: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def maxlength(self) -> int | None:
        return int(self.attrs["maxlength"]) if self.attrs.get("maxlength", "").isdigit() else None

    @property
    def minlength(self) -> int | None:
        return int(self.attrs["minlength"]) if self.attrs.get("minlength", "").isdigit() else None

    @property
    def is_text(self) -> bool:
        """A field a person types free text into (what these tests attack)."""
        return self.tag == "textarea" or (self.tag == "input" and self.type in ("text", "search", "email", "tel", "url"))

    @property
    def invalid(self) -> bool:
        """Marked invalid for assistive technology (the field macro sets it with the field's error)."""
        return self.attrs.get("aria-invalid") == "true"


@dataclass
class FormInfo:
    """A <form>: where it posts, and its controls in page order."""

    action: str
    method: str
    controls: list[Control] = field(default_factory=list)

    def named(self, name: str) -> list[Control]:
        return [c for c in self.controls if c.name == name]

    def text_fields(self) -> list[Control]:
        """The controls a person types free text into."""
        return [c for c in self.controls if c.is_text]


class FormParser(HTMLParser):
    """Every form on a page, every error element's id, and the page's text as a reader sees it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[FormInfo] = []
        self.error_ids: set[str] = set()
        self.text: list[str] = []
        self._form: FormInfo | None = None
        self._textarea: Control | None = None
        self._select: Control | None = None
        self._option: tuple[str | None, bool] | None = None
        self._option_text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        # Attribute values reach people too (a value="", an alt, a title): keep them for the "shown as text" check.
        self.text.extend(v for k, v in a.items() if k in ("value", "alt", "title", "aria-label", "placeholder"))
        if "error" in a.get("class", "").split() and a.get("id"):
            self.error_ids.add(a["id"])
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "form":
            self._form = FormInfo(action=a.get("action", ""), method=a.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            if tag == "option" and self._select is not None:
                self._option, self._option_text = (a.get("value"), "selected" in a), []
            return
        elif tag == "input":
            self._form.controls.append(Control(a["name"], "input", a.get("type", "text").lower(), a.get("value", ""),
                                               "checked" in a, attrs=a))
        elif tag == "textarea":
            self._textarea = Control(a["name"], "textarea", "textarea", attrs=a)
            self._form.controls.append(self._textarea)
        elif tag == "select":
            self._select = Control(a["name"], "select", "select-multiple" if "multiple" in a else "select", attrs=a)
            self._form.controls.append(self._select)
        # A <button> sends its name only when it is the one pressed: these tests press none.

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None:
            # A newline straight after <textarea> is not part of the value (HTML parsing rule).
            value = self._textarea.value
            self._textarea.value = value[2:] if value.startswith("\r\n") else value[1:] if value.startswith("\n") else value
            self._textarea = None
        elif tag == "option" and self._select is not None and self._option is not None:
            self._close_option()
        elif tag == "select":
            if self._option is not None:
                self._close_option()
            self._select = None

    def _close_option(self) -> None:
        assert self._select is not None and self._option is not None
        value, selected = self._option
        value = value if value is not None else "".join(self._option_text).strip()
        self._select.options.append(value)
        if selected:
            self._select.selected.append(value)
        self._option = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data
        if self._option is not None:
            self._option_text.append(data)
        if not self._skip:
            self.text.append(data)


@lru_cache(maxsize=16)
def parse(html: str) -> FormParser:
    """The page's forms, error ids and text (cached: several checks read the same page; nothing changes a parser)."""
    parser = FormParser()
    parser.feed(html)
    parser.close()
    return parser


def browser_submission(form: FormInfo) -> dict[str, list[str]]:
    """What a browser sends for the form as shown, with no submit button pressed."""
    data: dict[str, list[str]] = {}
    for c in form.controls:
        if c.tag == "input" and c.type in ("submit", "button", "reset", "image", "file"):
            continue
        if c.tag == "input" and c.type in ("checkbox", "radio"):
            if c.checked:
                data.setdefault(c.name, []).append(c.value or "on")
            continue
        if c.tag == "select":
            chosen = c.selected or ([] if c.type == "select-multiple" else c.options[:1])
            data.setdefault(c.name, []).extend(chosen)
            continue
        data.setdefault(c.name, []).append(c.value)
    return data


def visible_text(parser: FormParser) -> str:
    return "\n".join(parser.text)


def assert_shown_escaped(pages: dict[str, str], value: str, where: str) -> None:
    """Every page shows the value as literal text (each line of it), escaped once; none holds it as raw markup."""
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    for url, html in pages.items():
        for raw in RAW_MARKUP:
            if raw in value:
                assert raw not in html, f"{where}: raw markup {raw!r} on {url}"
        text = visible_text(parse(html))
        # A character reference left in the text a reader sees means something was escaped twice.
        twice = re.search(r"&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);", text, re.I)
        assert twice is None, f"{where}: {twice.group(0)!r} shown as text on {url} (escaped twice)"
        for line in lines:
            assert line in text, f"{where}: {line[:60]!r} is not shown as text on {url}"


# -- running a form -----------------------------------------------------------------------------

ANON = "anonymous"
EMAIL_PAYLOAD = "o'neil&{{7*7}}${x}=+x@example.com"  # hostile, yet a valid address


@dataclass
class Case:
    """One form: who fills it in, where, with what valid values, and how to read back what it stored."""

    role: str
    page: str
    action: str
    valid: dict[str, Any]
    # The record the last accepted submission wrote (None: the form stores nothing, as sign-in).
    read: Callable[[], Any] | None
    # The pages that show that record.
    show: Callable[[Any], list[str]] = lambda record: []
    # Form name -> record attribute, where they differ.
    attr: dict[str, str] = field(default_factory=dict)
    # Fields that get every payload; the others get one combined value and one with a NUL byte.
    key_fields: frozenset[str] = frozenset()
    # Which text fields to attack (None: all).
    only: Callable[[str], bool] | None = None
    # Non-text fields attacked as well (the sign-in password).
    extra_fields: frozenset[str] = frozenset()
    # Before each submission: may make a fresh record to submit against; returns the value to send.
    prepare: Callable[["Case", str, str], str] | None = None
    # Values that must differ between submissions (a new user's email).
    fresh: Callable[[], dict[str, Any]] | None = None
    # Documented normalisation of what is stored, by field (default: surrounding spaces trimmed).
    normalise: dict[str, Callable[[str], str]] = field(default_factory=dict)
    # A form with no text field at all (numbers and choices only).
    no_text: bool = False


def plain_value(control: Control) -> str:
    """A harmless valid value for a text field that no valid-data dictionary names."""
    if control.type == "email":
        return "someone@example.com"
    if "phone" in control.name or control.attrs.get("inputmode") == "tel":
        return "07700 900123"
    return "Plain text"


def is_number_like(control: Control) -> bool:
    return control.type == "number" or control.attrs.get("inputmode") in ("numeric", "decimal")


def attacked_fields(form: FormInfo, case: "Case") -> list[Control]:
    """The form's text fields (a number typed into a text box is not free text), filtered as the case asks."""
    fields = [c for c in form.text_fields() if not is_number_like(c)]
    fields += [c for c in form.controls if c.name in case.extra_fields]
    return [c for c in fields if case.only is None or case.only(c.name)]


class Runner:
    """Submits a case's form the way a browser would, with one field replaced, and checks the outcome."""

    def __init__(self, app: Flask, case: Case) -> None:
        self.case = case
        self.client: FlaskClient = app.test_client()
        if case.role != ANON:
            assert sign_in(self.client, f"{case.role}@clinic.example").status_code == 303
        self.next_html: str | None = None

    # What the page holds

    def form(self) -> FormInfo:
        """The form as the page shows it now (the last answer, when that was the same page: saves a request)."""
        html, self.next_html = self.next_html, None
        if html is None or self.case.prepare is not None:
            response = self.client.get(self.case.page)
            assert response.status_code == 200, f"GET {self.case.page}: {response.status_code}"
            html = response.get_data(as_text=True)
        return pick(parse(html).forms, self.case.action, self.case.page)

    def data(self, form: FormInfo) -> dict[str, list[str]]:
        data = browser_submission(form)
        for name, value in self.case.valid.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = list(value) if isinstance(value, (list, tuple)) else [value]
        for control in attacked_fields(form, self.case):
            if control.name not in self.case.valid and control.is_text:
                data[control.name] = [plain_value(control)]
        if self.case.fresh:
            data.update({k: [v] for k, v in self.case.fresh().items()})
        return data

    def snapshot(self, names: list[str]) -> tuple[Any, dict[str, str]]:
        if self.case.read is None:
            return None, {}
        record = self.case.read()
        if record is None:
            return None, {}
        return (type(record).__name__, record.id), {n: v for n in names if (v := read_value(record, self.case.attr.get(n, n))) is not None}

    # One submission

    def submit(self, name: str, value: str, label: str) -> str:
        """Send the form with `name` set to `value`; check the outcome; return "stored" or "refused"."""
        case = self.case
        if case.prepare:
            value = case.prepare(case, name, value)
        form = self.form()
        controls = {c.name: c for c in form.controls}
        assert name in controls, f"{name} is not on {case.page}"
        control = controls[name]
        data = self.data(form)
        data[name] = [value]
        text_names = [c.name for c in attacked_fields(form, case) if c.is_text]
        before = self.snapshot(text_names)
        where = f"{case.page} {name} <- {label}"
        response = self.client.post(case.action, data=data)
        status = response.status_code
        assert status < 500, f"{where}: {status}"
        html = response.get_data(as_text=True)
        for raw in RAW_MARKUP:
            if any(raw in v for values in data.values() for v in values):
                assert raw not in html, f"{where}: raw markup {raw!r} in the answer"

        if case.read is None:  # nothing is stored: the form answers with itself
            assert status in (422, 429), f"{where}: {status}"
            if control.is_text and not needs_refusal(value, control):
                assert_shown_escaped({case.action: html}, value, where)
            self.next_html = html
            return "refused"

        if needs_refusal(value, control):
            expected = {422}
        elif name in FORMAT_CHECKED or control.type in ("email", "tel"):
            expected = {303, 422}
        else:
            expected = {303}
        assert status in expected, f"{where}: {status}, expected {sorted(expected)}" + error_hint(html)

        if status == 422:
            again = pick(parse(html).forms, case.action, case.page)
            shown = {c.name: c for c in again.controls}
            assert shown[name].invalid, f"{where}: refused, but the field is not marked invalid"
            field_id = shown[name].attrs.get("id", name)
            assert field_id + "-error" in parse(html).error_ids or re.fullmatch(r"\w+-\d+-\w+", name), \
                f"{where}: refused without a message beside the field"
            for other in text_names:
                if other == name or other not in data or shown.get(other) is None:
                    continue
                assert lines(shown[other].value) == lines(data[other][0].strip()), f"{where}: {other} was not kept as typed"
            if control.is_text and not any(unicodedata.category(ch) == "Cc" for ch in value.strip()):
                assert lines(shown[name].value) == lines(value.strip()), f"{where}: the refused value was not kept for correcting"
            assert self.snapshot(text_names) == before, f"{where}: refused, yet something changed"
            self.next_html = html
            return "refused"

        record_key, stored = self.snapshot(text_names)
        assert record_key is not None
        assert name in stored, f"{where}: cannot read {name} back (add it to the case's attr map)"
        expected = case.normalise.get(name, str.strip)(value)
        assert stored[name] == expected, f"{where}: stored {stored[name][:80]!r}, sent {value[:80]!r}"
        for other in text_names:
            sent = data.get(other, [""])[0].strip()
            if other != name and sent and other in stored:
                assert stored[other] == case.normalise.get(other, str.strip)(sent), \
                    f"{where}: {other} stored as {stored[other][:80]!r}, sent {sent[:80]!r}"
        record = case.read()
        pages = {}
        for url in case.show(record):
            page = self.client.get(url)
            assert page.status_code == 200, f"{where}: GET {url} answered {page.status_code}"
            pages[url] = page.get_data(as_text=True)
        # A name is shown as it is stored: without bidi override characters.
        assert_shown_escaped(pages, _without_bidi_controls(value) if case.normalise.get(name) is _without_bidi_controls else value, where)
        self.next_html = pages.get(case.page)
        return "stored"

    # Whole forms

    def run(self) -> dict[str, str]:
        """Every attacked field with its payloads; then every non-text field with a value it cannot take."""
        if self.case.read is not None:
            self.baseline()
        if self.case.prepare:
            self.case.prepare(self.case, "", "")
        form = self.form()
        fields = attacked_fields(form, self.case)
        assert bool(fields) != self.case.no_text, f"text fields on {self.case.page}: {[c.name for c in fields]}"
        outcomes: dict[str, str] = {}
        for control in fields:
            for label, payload in payloads_for(control, self.case):
                outcomes[f"{control.name} <- {label}"] = self.submit(control.name, payload, label)
        if self.case.read is not None:
            self.run_choices(form)
        return outcomes

    def baseline(self) -> None:
        """The valid values alone are accepted (and rows they add, such as a product, are on the page from now on)."""
        case = self.case
        if case.prepare:
            case.prepare(case, "", "")
        response = self.client.post(case.action, data=self.data(self.form()))
        assert response.status_code == 303, f"{case.page}: the valid values were refused" + error_hint(response.get_data(as_text=True))

    def run_choices(self, form: FormInfo) -> None:
        """Dates, numbers, selects and radios refuse hostile values with 422 (never a 500), each marked, storing nothing.

        One submission per hostile value with every such field holding it: WTForms validates every
        field, so any field that would crash still crashes, and the traceback names it.
        """
        names: list[str] = []
        for control in form.controls:
            if control.name in names or control.name == "csrf_token":
                continue
            if control.tag == "input" and control.type in ("hidden", "checkbox", "submit", "button", "file", "password", "reset"):
                continue
            if control.is_text and not is_number_like(control):
                continue
            if self.case.only is not None and not self.case.only(control.name):
                continue
            names.append(control.name)
        numbers = {c.name for c in form.controls if is_number_like(c)}
        assert names or not self.case.no_text, f"no dates, numbers or choices found on {self.case.page}"
        for value in (SHORT, "sNaN", "-Infinity", "1e999999"):
            targets = [n for n in names if value == SHORT or n in numbers]
            if targets:
                self.submit_refused(targets, value)

    def submit_refused(self, names: list[str], value: str) -> None:
        case = self.case
        if case.prepare:
            case.prepare(case, names[0], value)
        form = self.form()
        data = self.data(form)
        data.update({name: [value] for name in names})
        text_names = [c.name for c in attacked_fields(form, case) if c.is_text]
        before = self.snapshot(text_names)
        response = self.client.post(case.action, data=data)
        where = f"{case.page} {names} <- {value!r}"
        html = response.get_data(as_text=True)
        assert response.status_code == 422, f"{where}: {response.status_code}" + error_hint(html)
        assert self.snapshot(text_names) == before, f"{where}: refused, yet something changed"
        shown = pick(parse(html).forms, case.action, case.page)
        unmarked = {n for n in names if not any(c.invalid for c in shown.named(n))}
        assert not unmarked, f"{where}: refused, but not marked invalid: {sorted(unmarked)}"
        self.next_html = html


def pick(forms: list[FormInfo], action: str, page: str) -> FormInfo:
    """The form that posts to `action` (a form without an action posts to its own page)."""
    path = action.split("?")[0]
    for form in forms:
        target = (form.action or page).split("?")[0]
        if form.method == "post" and target == path:
            return form
    raise AssertionError(f"no form posting to {action} on {page}: {[f.action for f in forms]}")


def read_value(record: Any, name: str) -> str | None:
    """A record's value by form name, row fields (products-0-name) included; None if it has none."""
    match = re.fullmatch(r"(\w+?)-(\d+)-(\w+)", name)
    if match:
        rows = sorted(getattr(record, match.group(1), None) or [], key=lambda r: getattr(r, "position", 0))
        index = int(match.group(2))
        value = getattr(rows[index], match.group(3), None) if index < len(rows) else None
    else:
        value = getattr(record, name, None)
    return value if isinstance(value, str) else None


def lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def error_hint(html: str) -> str:
    errors = re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    flashes = re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', html, re.S)
    return f" (errors: {[e.strip()[:120] for e in errors][:5]}, flashes: {[f.strip()[:120] for f in flashes][:3]})"


def payloads_for(control: Control, case: Case) -> list[tuple[str, str]]:
    """Every payload for a key field; otherwise one combined hostile value and one with a NUL byte."""
    if control.name in case.key_fields:
        chosen = list(PAYLOADS.items())
        if control.type == "email":
            chosen.append(("hostile-but-valid-email", EMAIL_PAYLOAD))
        return chosen
    if control.type == "email":
        combined = EMAIL_PAYLOAD
    elif control.maxlength is not None and control.maxlength < len(COMBINED):
        combined = SHORT
    else:
        combined = COMBINED
    return [("combined", combined), ("nul", PAYLOADS["nul"])]


# -- the forms ----------------------------------------------------------------------------------

PATIENT_VALID: dict[str, Any] = {
    "given_name": "Imogen", "family_name": "Blackwood", "preferred_name": "Immy", "date_of_birth": "1987-06-05",
    "sex": "female", "record_number": "", "phone": "+44 7700 900555", "email": "imogen@example.com",
    "address": "1 High Street\r\nBristol", "postcode": "BS1 1AA", "emergency_contact_name": "Ray Blackwood",
    "emergency_contact_relationship": "Father", "emergency_contact_phone": "07700 900556",
    "gp_name": "Dr Who", "gp_practice": "Quay Surgery", "gp_phone": "0117 496 0000",
    "fitzpatrick": "4", "no_known_allergies": None, "allergies": "Penicillin (rash)", "current_medicines": "Isotretinoin 20 mg",
}
CONSULTATION_VALID: dict[str, Any] = {
    "consultation_date": date.today().isoformat(), "modality": "microneedling", "concerns": ["enlarged_pores", "texture_dullness"],
    "treatment_areas": ["cheeks", "nose"], "fitzpatrick": "3", "glogau": "2", "goodman_baron_grade": "",
    "device_name": "SkinPen Precision", "needle_material": "stainless_steel", "device_max_depth_mm": "1.5",
    "requested_depth_mm": "0.75", "skin_notes": "Even tone.", "notes": "Discussed the course.",
    # Every screening question answered explicitly (none has a default).
    **{q.name: "no" if q.choices is None else q.no_answer for q in QUESTIONS},
}
USER_VALID: dict[str, Any] = {"name": "Sam Lee", "role": "practitioner", "registration": "GMC 1234567", "max_depth_mm": "",
                              "active": "y"}
SETTINGS_VALID: dict[str, Any] = {"name": "Quay Skin Clinic", "address": "2 Quay Street\r\nBristol", "phone": "0117 496 0001",
                                  "email": "hello@quay.example", "out_of_hours": "NHS 111", "paper_size": "A4"}


def _staff() -> dict[str, User]:
    return {role.value: make_user(role, email=f"{role.value}@clinic.example", name=f"{role.value.title()} Person") for role in Role}


def _latest(model: Any) -> Any:
    db.session.expire_all()
    return db.session.scalars(select(model).order_by(model.id.desc())).first()


def _again(obj: Any) -> Callable[[], Any]:
    def read() -> Any:
        db.session.expire_all()
        return db.session.get(type(obj), obj.id)
    return read


def _session_values(**extra: Any) -> dict[str, Any]:
    from tests.factories import complete_session_form

    values = complete_session_form(**extra)
    values.update({"no_adverse_events": None, "adverse_events-0-kind": "bruising", "adverse_events-0-detail": "Small bruise",
                   "adverse_events-0-action_taken": "Cold compress", "supervisor": "Dr Raman", "anaesthetic_used": "yes",
                   "anaesthetic_product": "Lidocaine cream", "anaesthetic_concentration": "4%", "endpoint_other": ""})
    return values


def _practitioner() -> User:
    return db.session.scalars(select(User).where(User.email == "practitioner@clinic.example")).one()


def _draft_session(modality: str = "microneedling"):
    """A started (draft) session of a treatable plan; the case's baseline saves it with complete values."""
    from practitioner.treatments.services import start_session
    from tests.factories import treatable_plan

    staff = _practitioner()
    patient = make_patient(actor=staff, given_name="Hannah", family_name="Kowalski")
    plan = treatable_plan(patient, staff, modality=modality)
    record = start_session(db.session, plan, actor=staff, on=date.today())
    db.session.commit()
    return record


def _without_bidi_controls(value: str) -> str:
    from practitioner.validators import name_filter

    return name_filter(value)


# A patient's names are stored without bidi override characters (practitioner/validators.py name_filter).
PATIENT_NAMES = {name: _without_bidi_controls for name in ("given_name", "family_name", "preferred_name")}


def case_patients_new() -> Case:
    from practitioner.patients.models import Patient

    days = iter(range(10_000))
    # A new birthday each time: the same name and birthday again would be asked about as a possible duplicate.
    return Case("practitioner", "/patients/new", "/patients/new", PATIENT_VALID, read=lambda: _latest(Patient),
                show=lambda p: [f"/patients/{p.public_id}", f"/patients/{p.public_id}/edit"],
                key_fields=frozenset({"given_name", "family_name", "address", "allergies"}), normalise=PATIENT_NAMES,
                fresh=lambda: {"date_of_birth": (date(1987, 6, 5) - timedelta(days=next(days))).isoformat()})


def case_patients_edit() -> Case:
    patient = make_patient(given_name="Ola", family_name="Nowak")
    url = f"/patients/{patient.public_id}"
    return Case("practitioner", url + "/edit", url + "/edit", PATIENT_VALID, read=_again(patient), show=lambda p: [url, url + "/edit"],
                key_fields=frozenset({"current_medicines"}), normalise=PATIENT_NAMES)


def case_patients_edit_reception() -> Case:
    """Reception gets the demographics-only form."""
    patient = make_patient(given_name="Ola", family_name="Nowak")
    url = f"/patients/{patient.public_id}"
    valid = {k: v for k, v in PATIENT_VALID.items() if k not in ("fitzpatrick", "no_known_allergies", "allergies", "current_medicines")}
    return Case("reception", url + "/edit", url + "/edit", valid, read=_again(patient), show=lambda p: [url, url + "/edit"],
                only=lambda name: name in ("given_name", "family_name", "address"), normalise=PATIENT_NAMES)


def case_patients_archive() -> Case:
    patient = make_patient(given_name="Ola", family_name="Nowak")
    url = f"/patients/{patient.public_id}"

    def unarchive(case: Case, name: str, value: str) -> str:
        fresh = _again(patient)()
        fresh.archived_at, fresh.archived_by_id = None, None
        db.session.commit()
        return value

    return Case("practitioner", url, url + "/archive", {"reason": "Moved away"}, read=_again(patient), show=lambda p: [url],
                attr={"reason": "archive_reason"}, prepare=unarchive)


def case_consultations_new() -> Case:
    from practitioner.consultations.models import Consultation

    patient = make_patient(given_name="Ola", family_name="Nowak")
    return Case("practitioner", f"/patients/{patient.public_id}/consultations/new", f"/patients/{patient.public_id}/consultations/new",
                CONSULTATION_VALID, read=lambda: _latest(Consultation),
                show=lambda c: [f"/consultations/{c.public_id}", f"/consultations/{c.public_id}/edit"],
                key_fields=frozenset({"notes", "skin_notes"}))


def case_consultations_edit() -> Case:
    from tests.factories import make_consultation

    staff = _practitioner()
    consultation = make_consultation(make_patient(actor=staff), staff)
    url = f"/consultations/{consultation.public_id}"
    return Case("practitioner", url + "/edit", url + "/edit", CONSULTATION_VALID, read=_again(consultation),
                show=lambda c: [url, url + "/edit"], key_fields=frozenset({"device_name"}))


def case_consultations_override() -> Case:
    from practitioner.consultations.models import Consultation, ScreeningOverride
    from tests.factories import make_consultation

    staff = _practitioner()
    patient = make_patient(actor=staff)

    def deferred(case: Case, name: str, value: str) -> str:
        consultation = make_consultation(patient, staff, decision="defer")
        case.page = f"/consultations/{consultation.public_id}"
        case.action = case.page + "/override"
        return value

    case = Case("practitioner", "", "", {"reason": "Cleared by Dr Raman in writing."}, read=lambda: _latest(ScreeningOverride),
                show=lambda o: [f"/consultations/{db.session.get(Consultation, o.consultation_id).public_id}"], key_fields=frozenset({"reason"}), prepare=deferred)
    deferred(case, "", "")
    return case


def case_plans_new() -> Case:
    from practitioner.plans.models import TreatmentPlan
    from tests.factories import make_consultation

    staff = _practitioner()
    consultation = make_consultation(make_patient(actor=staff), staff)
    url = f"/consultations/{consultation.public_id}/plans/new"
    valid = {"sessions_planned": "4", "interval_weeks": "4", "first_session_on": (date.today() + timedelta(days=7)).isoformat(),
             "notes": "Stamp over the rolling scars."}
    return Case("practitioner", url, url, valid, read=lambda: _latest(TreatmentPlan), show=lambda p: [f"/plans/{p.public_id}"],
                key_fields=frozenset({"notes"}))


def case_consents_new() -> Case:
    """The typed name must match the patient's: each submission gets a patient named with the payload."""
    from practitioner.consents.content import load_consent_content
    from practitioner.consents.models import Consent
    from tests.consents.test_consent import data_url, signature_png
    from tests.factories import make_consultation

    staff = _practitioner()
    content = load_consent_content("microneedling")
    valid: dict[str, Any] = {f"risk_{n}": "y" for n in range(len(content.risks))}
    valid.update({f"declaration_{n}": "y" for n in range(len(content.declarations))})
    valid.update(signature=data_url(signature_png()), practitioner_confirms="y", photo_clinical="y", patient_typed_name="Alex Okafor")

    def patient_named(case: Case, name: str, value: str) -> str:
        given = value.strip()
        if not given or needs_refusal(given, Control("given_name", "input", "text", attrs={"maxlength": "100"})):
            given = "Alex"
        patient = make_patient(actor=staff, given_name=given, family_name="Okafor")
        consultation = make_consultation(patient, staff)
        case.page = case.action = f"/consultations/{consultation.public_id}/consents/new"
        return f"{value} Okafor" if name == "patient_typed_name" else value

    case = Case("practitioner", "", "", valid, read=lambda: _latest(Consent), show=lambda c: [f"/consents/{c.public_id}"],
                key_fields=frozenset({"patient_typed_name"}), prepare=patient_named)
    patient_named(case, "", "")
    return case


def _session_case(modality: str, only: Callable[[str], bool] | None, key: frozenset[str]) -> Case:
    record = _draft_session(modality)
    url = f"/sessions/{record.public_id}"
    valid = _session_values()
    if modality == "rf_microneedling":
        valid.update({"rf_handpiece": "Morpheus8 Prime", "zones-0-rf_energy": "15", "zones-0-rf_energy_unit": "mJ/pin"})
    if modality == "prp_microneedling":
        valid.update({"prp_kit_lot": "PRP-KIT-9", "prp_volume_ml": "20", "prp_spin_protocol": "Single spin, 10 min"})
    return Case("practitioner", url + "/edit", url + "/edit", valid, read=_again(record), show=lambda r: [url, url + "/edit"],
                only=only, key_fields=key)


def case_sessions_edit() -> Case:
    return _session_case("microneedling", None, frozenset({"clinical_note", "products-0-name"}))


def case_sessions_edit_rf() -> Case:
    return _session_case("rf_microneedling", lambda name: "rf_" in name, frozenset())


def case_sessions_edit_prp() -> Case:
    return _session_case("prp_microneedling", lambda name: "prp_" in name, frozenset())


def case_sessions_override() -> Case:
    """A session whose re-screen today raised a blocking flag (a cold sore), so it needs an override."""
    record = _draft_session()
    url = f"/sessions/{record.public_id}"
    client_values = _session_values(cold_sore_now="y")

    def blocked(case: Case, name: str, value: str) -> str:
        fresh = _again(record)()
        fresh.override_reason, fresh.override_by_id, fresh.override_at = "", None, None
        db.session.commit()
        return value

    case = Case("practitioner", url, url + "/override", {"reason": "Healed crust only, cleared by Dr Raman."}, read=_again(record),
                show=lambda r: [url], attr={"reason": "override_reason"}, prepare=blocked)
    runner = Runner(current_app._get_current_object(), Case("practitioner", url + "/edit", url + "/edit", client_values, read=_again(record)))
    form = runner.form()
    response = runner.client.post(url + "/edit", data=runner.data(form))
    assert response.status_code == 303, error_hint(response.get_data(as_text=True))
    assert _again(record)().rescreen_decision == "defer"
    return case


def case_sessions_addendum() -> Case:
    """A session holds at most limits.ADDENDA_PER_SESSION addenda (then its page offers no form): a full one is followed by a new signed session."""
    from sqlalchemy import func

    from practitioner.treatments.limits import ADDENDA_PER_SESSION
    from practitioner.treatments.models import Addendum
    from tests.factories import signed_session, treatable_plan

    staff = _practitioner()
    current: dict[str, Any] = {}

    def room_for_one(case: Case, name: str, value: str) -> str:
        record = current.get("record")
        held = db.session.scalar(select(func.count()).select_from(Addendum).where(Addendum.session_id == record.id)) if record else 0
        if record is None or held >= ADDENDA_PER_SESSION:
            current["record"] = signed_session(treatable_plan(make_patient(actor=staff), staff), staff)
            case.page = f"/sessions/{current['record'].public_id}"
            case.action = case.page + "/addenda"
        return value

    case = Case("practitioner", "", "", {"reason": "Late entry", "text": "Patient phoned: settled."},
                read=lambda: _latest(Addendum), show=lambda a: [case.page], key_fields=frozenset({"text"}),
                prepare=room_for_one)
    room_for_one(case, "", "")
    return case


def case_users_new() -> Case:
    from practitioner.auth.services import normalise_email

    counter = iter(range(1, 10_000))
    valid = {**USER_VALID, "new_password": "a long enough password", "confirm_password": "a long enough password"}
    return Case("admin", "/admin/users/new", "/admin/users/new", valid, read=lambda: _latest(User),
                show=lambda u: ["/admin/users", f"/admin/users/{u.public_id}"], key_fields=frozenset({"name"}),
                fresh=lambda: {"email": f"new{next(counter)}@clinic.example"}, normalise={"email": normalise_email})


def case_users_edit() -> Case:
    user = make_user(Role.PRACTITIONER, email="edited@clinic.example")
    url = f"/admin/users/{user.public_id}"
    return Case("admin", url, url, {**USER_VALID, "new_password": ""}, read=_again(user), show=lambda u: ["/admin/users", url],
                key_fields=frozenset({"registration"}))


def case_settings() -> Case:
    from practitioner.admin.models import ClinicSettings

    return Case("admin", "/admin/settings", "/admin/settings", SETTINGS_VALID, read=lambda: _latest(ClinicSettings),
                show=lambda s: ["/admin/settings"], key_fields=frozenset({"name"}))


def case_policy() -> Case:
    from practitioner.admin.models import ClinicalPolicy

    return Case("admin", "/admin/policy", "/admin/policy", {}, read=lambda: _latest(ClinicalPolicy), no_text=True)


def case_aftercare_settings() -> Case:
    from practitioner.admin.models import AftercareSettings

    return Case("admin", "/admin/aftercare", "/admin/aftercare", {}, read=lambda: _latest(AftercareSettings), no_text=True)


def case_sign_in() -> Case:
    return Case(ANON, "/sign-in", "/sign-in", {"email": "nobody@clinic.example", "password": "not the password"}, read=None,
                key_fields=frozenset({"email", "password"}), extra_fields=frozenset({"password"}))


CASES: dict[str, Callable[[], Case]] = {
    "patients.new": case_patients_new,
    "patients.edit": case_patients_edit,
    "patients.edit (reception)": case_patients_edit_reception,
    "patients.archive": case_patients_archive,
    "consultations.new": case_consultations_new,
    "consultations.edit": case_consultations_edit,
    "consultations.override": case_consultations_override,
    "plans.new": case_plans_new,
    "consents.new": case_consents_new,
    "treatments.edit": case_sessions_edit,
    "treatments.edit (RF)": case_sessions_edit_rf,
    "treatments.edit (PRP)": case_sessions_edit_prp,
    "treatments.override": case_sessions_override,
    "treatments.add_addendum": case_sessions_addendum,
    "admin.new_user": case_users_new,
    "admin.edit_user": case_users_edit,
    "admin.settings": case_settings,
    "admin.policy": case_policy,
    "admin.aftercare": case_aftercare_settings,
    "auth.sign_in": case_sign_in,
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_text_is_stored_faithfully_and_shown_escaped_or_refused_per_field(app, name):
    _staff()
    case = CASES[name]()
    outcomes = Runner(app, case).run()
    stored = sum(outcome == "stored" for outcome in outcomes.values())
    assert stored or case.read is None or case.no_text, f"{name}: nothing was ever stored ({len(outcomes)} submissions)"


# -- every page, and every document, of a record full of hostile values --------------------------

# One hostile value per patient-typed field, so a document that shows a field shows which one.
HOSTILE_RECORD = {
    "clinic": "Clinic \"'><img src=x onerror=alert(1)>",
    "given_name": SCRIPT,
    "family_name": "O'Neil {{7*7}} Zoe\u0308",
    "address": "${7*7} Road\r\n=HYPERLINK(\"http://x\")",
    "allergies": "' OR 1=1 -- latex",
    "current_medicines": "../../etc/passwd",
    "notes": "<i>notes</i> \u202eevil\u202c & more",
    "skin_notes": "Dry 👩🏽\u200d⚕️ Ze\u200dro",
    "plan_notes": "<u>plan</u> {% raw %}",
    "clinical_note": "<script>alert(2)</script> note",
    "product": "<b>Serum</b> & \"Gel\"",
    "lot": "LOT-<1>",
    "addendum": "<iframe src=x></iframe> addendum",
}
# The patient's own words in their signed intake: every free text of the questionnaire, each with its own markup.
HOSTILE_INTAKE = {
    "phone": SHORT,
    "email": "\"'><img src=x onerror=alert(3)>@x.example",
    "address": "<script>alert(3)</script> Flat 1\r\n\u202eevil\u202c Road {{7*7}}",
    "gp_name": "Dr <em>Who</em> {{7*7}} Zoe\u0308",
    "gp_practice": "${7*7} Practice ' OR 1=1 -- \u202eevil\u202c",
    "allergies_other": "<mark>latex</mark> Ze\u200dro 👩🏽\u200d⚕️",
    "medicines": "../../etc/passwd <s>aspirin</s> =HYPERLINK(\"http://x\")",
    "words": "<svg onload=alert(3)> " + "Ab" * 900 + " Zoe\u0308 Ame\u0301lie",
}
# Raw markup that must never reach a page (besides RAW_MARKUP): one marker per hostile value above and in HOSTILE_INTAKE.
RAW_ON_PAGES = (SCRIPT, "<script>alert(3)", "<img src=x onerror", "<i>notes</i>", "<u>plan</u>", "<b>Serum</b>", "<iframe src=x>",
                "<entry>", "<em>Who</em>", "<mark>latex</mark>", "<s>aspirin</s>", "<svg onload", "<b>\"'&")
# What each document must show of them, besides the patient's and the clinic's names (the product's document rules).
DOCUMENT_SHOWS = {
    "aftercare": ("product",),
    "treatment-guide": (),
    "consent-form": (),
    "consultation-summary": ("notes", "skin_notes", "plan_notes"),
    "session-record": ("clinical_note", "product", "lot", "addendum"),
    "patient-export": ("address", "allergies", "current_medicines", "notes", "clinical_note", "product", "addendum"),
}
# The documents drop control characters and bidi overrides (documents/pdf/html.py), as printed text cannot show them.
UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def hostile_record(app):
    """A patient whose every typed value is hostile, with a consultation, consent, plan, signed session and addendum."""
    from practitioner.admin.services import get_settings
    from practitioner.consents.models import Consent
    from practitioner.treatments.services import add_addendum
    from tests.conftest import post_form
    from tests.consents.test_consent import consent_data
    from tests.factories import make_consultation, make_plan, signed_session
    from tests.security.test_routes import make_failed_job, make_photo_records

    staff = _staff()
    author = staff["practitioner"]
    h = HOSTILE_RECORD
    get_settings(db.session).name = h["clinic"]
    patient = make_patient(actor=author, given_name=h["given_name"], family_name=h["family_name"], address=h["address"],
                           no_known_allergies=False, allergies=h["allergies"], current_medicines=h["current_medicines"])
    consultation = make_consultation(patient, author, notes=h["notes"], skin_notes=h["skin_notes"])
    client = app.test_client()
    assert sign_in(client, author.email).status_code == 303
    signed = post_form(client, f"/consultations/{consultation.public_id}/consents/new", consent_data(patient))
    assert signed.status_code == 303, error_hint(signed.get_data(as_text=True))
    plan = make_plan(consultation)
    plan.notes = h["plan_notes"]
    plan.zones[0].note = h["plan_notes"]
    db.session.commit()
    record = signed_session(plan, author, products=((h["product"], h["lot"]),), clinical_note=h["clinical_note"])
    add_addendum(db.session, record, "Late <entry>", h["addendum"], actor=author)
    db.session.commit()
    consent = db.session.scalars(select(Consent).where(Consent.patient_id == patient.id)).one()
    photo_ids = make_photo_records(patient, plan, consent, author)  # a review visit and its photo, for the photo routes
    job = make_failed_job(patient, record, author)  # for the document job routes
    intake = make_hostile_intake(db.session.get(type(patient), patient.id), staff["reception"])  # signed, waiting for review
    return {"client": client, "ids": {"patient": patient.public_id, "consultation": consultation.public_id, "plan": plan.public_id,
                                      "consent": consent.public_id, "session": record.public_id, "job": job.public_id,
                                      "intake": intake.public_id, **photo_ids}}


def make_hostile_intake(patient, started_by):
    """A signed patient intake waiting for review, every free text in HOSTILE_INTAKE (a Yes and a Not sure among the answers)."""
    from tests.intake.factories import answer_set, make_intake

    h = HOSTILE_INTAKE
    details = {key: h[key] for key in ("phone", "email", "address", "gp_name", "gp_practice", "allergies_other", "medicines")}
    answers = answer_set(details=details, words=h["words"], areas=("cheeks", "forehead"), smoker="yes", pregnant="not_sure",
                         had_neurotoxin=("yes", "2026-03"))
    return make_intake(patient, started_by, submitted=True, answers=answers)


def _squash(text: str) -> str:
    """Text compared as a reader sees it: composed characters, no whitespace (PDF lines wrap anywhere), and no
    emoji, joiners or variation selectors (the bundled font has no emoji: they print only where a system font has them)."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("So", "Sk", "Cf") and ch != "\ufe0f")
    return re.sub(r"\s+", "", text)


DOCUMENT_SOURCE = {"aftercare": "session", "treatment-guide": "plan", "consent-form": "consent",
                   "consultation-summary": "consultation", "session-record": "session", "patient-export": "patient"}


@pytest.mark.parametrize("kind", list(DOCUMENT_SOURCE))
def test_hostile_values_print_as_literal_text_in_every_document(hostile_record, kind):
    from jinja2 import TemplateNotFound
    from pypdf import PdfReader

    url = f"/documents/{kind}/{hostile_record['ids'][DOCUMENT_SOURCE[kind]]}.pdf"
    try:
        response = hostile_record["client"].get(url)
    except TemplateNotFound as exc:  # the document's template is still being written
        pytest.skip(f"{kind}: report template {exc.name} not available yet")
    if response.status_code == 404:
        pytest.skip(f"{kind}: not available yet ({url} answers 404)")
    assert response.status_code == 200 and response.mimetype == "application/pdf", f"{url}: {response.status_code}"
    text = _squash("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages))
    h = HOSTILE_RECORD
    for key in ("clinic", "given_name", "family_name", *DOCUMENT_SHOWS[kind]):
        for line in h[key].splitlines():
            expected = _squash(UNPRINTABLE.sub("", line))
            assert expected in text, f"{kind}: {key} {line!r} is not printed as literal text"
    assert "49" not in _squash(h["family_name"]) and "{{7*7}}" in text, "typed text must never be evaluated as a template"


@pytest.mark.parametrize("who", ["practitioner", "admin", "reception"])
def test_every_page_shows_a_hostile_record_escaped(app, hostile_record, who):
    """Every GET route of the URL map, for a record full of hostile values: no 5xx, no raw markup, nothing escaped twice."""
    from tests.security.test_routes import _endpoints, _url

    ids = {**{k: str(v) for k, v in hostile_record["ids"].items()},
           "user": str(_user_id("practitioner@clinic.example")), "document": str(_latest_document_id())}
    client = app.test_client()
    assert sign_in(client, f"{who}@clinic.example").status_code == 303
    seen = 0
    for endpoint, rule, methods in _endpoints(app):
        if "GET" not in methods:
            continue
        url = _url(rule, endpoint, {"ids": ids})
        response = client.get(url)
        assert response.status_code < 500, f"{who} {url}: {response.status_code}"
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        seen += 1
        html = response.get_data(as_text=True)
        for raw in RAW_ON_PAGES:
            assert raw not in html, f"{who} {url}: raw markup {raw!r}"
        text = visible_text(parse(html))
        twice = re.search(r"&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);", text, re.I)
        assert twice is None, f"{who} {url}: {twice.group(0)!r} shown as text (escaped twice)"
    assert seen >= 3, f"only {seen} pages rendered for {who}"


def _user_id(email: str) -> uuid.UUID:
    return db.session.scalars(select(User.public_id).where(User.email == email)).one()


def _latest_document_id() -> uuid.UUID:
    from practitioner.documents.models import IssuedDocument

    return db.session.scalars(select(IssuedDocument.public_id).order_by(IssuedDocument.id.desc())).first()


# Which of the intake's hostile values each page shows (the patient page: the waiting intake's answers and the details
# offered as changes; the signed intake's page: everything; the from-intake form: the patient's other allergies and medicines).
INTAKE_PAGES = {
    ("practitioner", "/intakes/{intake}"): tuple(HOSTILE_INTAKE),
    ("practitioner", "/intakes/{intake}/consultation"): ("allergies_other", "medicines"),
    ("practitioner", "/patients/{patient}"): ("phone", "email", "address", "gp_name", "gp_practice"),
    ("reception", "/patients/{patient}"): ("phone", "email", "address", "gp_name", "gp_practice"),
}


@pytest.mark.parametrize("who, path", list(INTAKE_PAGES))
def test_the_hostile_intake_is_shown_as_literal_text(app, hostile_record, who, path):
    """The patient's typed intake answers, on every staff page that shows them: literal text, escaped once."""
    ids = hostile_record["ids"]
    url = path.format(intake=ids["intake"], patient=ids["patient"])
    client = app.test_client()
    assert sign_in(client, f"{who}@clinic.example").status_code == 303
    response = client.get(url)
    assert response.status_code == 200, f"{who} {url}: {response.status_code}"
    html = response.get_data(as_text=True)
    for key in INTAKE_PAGES[(who, path)]:
        assert_shown_escaped({url: html}, HOSTILE_INTAKE[key], f"intake {key}")
        for raw in RAW_ON_PAGES:
            assert raw not in html, f"{who} {url}: raw markup {raw!r}"
