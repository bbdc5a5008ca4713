"""The treatment plan form: the course, and a list of zones with depth ranges that grows without JavaScript."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Iterable

import wtforms
from wtforms import (
    DateField, DecimalField, FieldList, FormField, IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, StopValidation, ValidationError
from wtforms.widgets import TextInput

from practitioner.clinical.depth import (
    TYPICAL_INTERVAL_WEEKS, TYPICAL_SESSIONS, ZONE_LABELS, area_to_zones, ceiling_refusal, mm, suggest_depth,
)
from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.clinical.vocabulary import PLAN_RANGE_DEPTH, TECHNIQUE_LABELS
from practitioner.dates import short_date
from practitioner.forms import Form, choices, typed_input
from practitioner.validators import NoControlCharacters, strip_filter

# Input bounds, not clinical limits: they catch a slipped decimal point (5 for 0.5) before it is saved.
DEPTH_INPUT_MIN = PLAN_RANGE_DEPTH.low
DEPTH_INPUT_MAX = PLAN_RANGE_DEPTH.high
F = [strip_filter]


class Between:
    """A number within bounds; a value that did not parse is left to the field's own message."""

    def __init__(self, low: Any, high: Any, message: str, places: int | None = None) -> None:
        self.low, self.high, self.message, self.places = low, high, message, places

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        value = field.data
        if value is None:
            return
        if isinstance(value, Decimal) and not value.is_finite():
            raise StopValidation(field.invalid_value_message)
        if not self.low <= value <= self.high:
            raise ValidationError(self.message)
        if self.places is not None and isinstance(value, Decimal) and value != value.quantize(Decimal(1).scaleb(-self.places)):
            raise ValidationError(f"Use at most {self.places} decimal places, like 0.25.")


class NotBefore:
    """A date on or after the form's `today`."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: wtforms.Form, field: wtforms.Field) -> None:
        if field.data is not None and field.data < form.today:
            raise ValidationError(self.message.format(today=short_date(form.today)))


def _depth_field(label: str, which: str) -> DecimalField:
    return DecimalField(
        label, places=None, widget=TextInput(),
        invalid_value_message="Enter the depth in millimetres as a number, like 0.5.",
        validators=[InputRequired(f"Enter the {which} depth in millimetres."),
                    Between(DEPTH_INPUT_MIN, DEPTH_INPUT_MAX, PLAN_RANGE_DEPTH.message, places=2)],
        render_kw=typed_input("decimal"),
    )


class ZoneRowForm(wtforms.Form):
    """One zone of the plan and its depth range (inside PlanForm, so no CSRF token of its own)."""

    zone = SelectField("Zone", choices=choices([("", "Choose a zone"), *ZONE_LABELS.items()]),
                       validators=[InputRequired("Choose the zone.")])
    depth_min_mm = _depth_field("Shallowest (mm)", "shallowest")
    depth_max_mm = _depth_field("Deepest (mm)", "deepest")
    # No default: sources disagree on passes (clinical reference section 3.3), so only the practitioner sets them.
    passes = IntegerField(
        "Passes (optional)", widget=TextInput(), invalid_value_message="Enter the passes as a whole number, or leave it blank.",
        validators=[Optional(), Between(1, 40, "Enter between 1 and 40 passes, or leave it blank.")],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    technique = SelectField("Technique (optional)", choices=choices([("", "Decide at the session"), *TECHNIQUE_LABELS.items()]),
                            validators=[Optional()])
    note = StringField("Note (optional)", filters=F, validators=[Optional(), Length(max=300), NoControlCharacters()])
    remove = SubmitField("Remove")

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then: the range must not be upside down, nor deeper than the zone's hard limit."""
        valid = super().validate(extra_validators)
        if not valid:
            return False
        low, high = self.depth_min_mm.data, self.depth_max_mm.data
        if low > high:
            self.depth_max_mm.errors = [*self.depth_max_mm.errors, f"The deepest depth must be at least the shallowest ({mm(low)} mm)."]
            return False
        refusal = ceiling_refusal(self.zone.data, high)
        if refusal:
            self.depth_max_mm.errors = [*self.depth_max_mm.errors, refusal]
            return False
        return True


class PlanForm(Form):
    """A course of sessions made from a consultation: how many, how often, from when, which zones how deep."""

    modality = RadioField("Modality", choices=choices(MODALITY_LABELS.items()), validators=[InputRequired("Choose the modality.")])
    sessions_planned = IntegerField(
        "Number of sessions", widget=TextInput(), invalid_value_message="Enter a whole number of sessions, like 4.",
        validators=[InputRequired("Enter the number of sessions."), Between(1, 12, "Plan between 1 and 12 sessions.")],
        description=f"Typical course: {TYPICAL_SESSIONS[0]}–{TYPICAL_SESSIONS[1]} sessions (clinical reference §3.2).",
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    interval_weeks = IntegerField(
        "Weeks between sessions", widget=TextInput(), invalid_value_message="Enter a whole number of weeks, like 4.",
        validators=[InputRequired("Enter the number of weeks between sessions."),
                    Between(1, 26, "Enter an interval between 1 and 26 weeks.")],
        description=f"Typical: {TYPICAL_INTERVAL_WEEKS[0]}–{TYPICAL_INTERVAL_WEEKS[1]} weeks (clinical reference §3.2).",
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    first_session_on = DateField(
        "First session date",
        validators=[InputRequired("Enter the date of the first session."),
                    NotBefore("The first session cannot be before today ({today}). Choose today or a later date.")],
        description="Later sessions are projected from this date.", render_kw={"autocomplete": "off"},
    )
    notes = TextAreaField("Plan notes (optional)", filters=F, render_kw={"rows": 3},
                          validators=[Optional(), Length(max=2000), NoControlCharacters(multiline=True)])
    zones = FieldList(FormField(ZoneRowForm), label="Zones and depths", max_entries=len(ZONE_LABELS))
    add_zone = SubmitField("Add a zone")

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        self.today = today
        self.zone_errors: list[str] = []
        super().__init__(*args, **kwargs)

    def apply_row_buttons(self) -> bool:
        """Add or remove a zone row if one of those buttons was pressed; the rest of the form is kept as typed."""
        if not self.is_submitted():
            return False
        if self.add_zone.data:
            if len(self.zones) < len(ZONE_LABELS):
                self.zones.append_entry()
            else:
                self.zone_errors.append("Every zone already has a row: change a row's zone instead.")
            return True
        for index, entry in enumerate(self.zones):
            if entry.form.remove.data:
                self.zones.pop_entry(index)
                return True
        return False

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then: at least one zone, and each zone only once."""
        valid = super().validate(extra_validators)
        if not self.zones.entries:
            self.zone_errors.append("Add at least one zone.")
            valid = False
        first_row: dict[str, int] = {}
        for number, entry in enumerate(self.zones, start=1):
            code = entry.form.zone.data
            if not code:
                continue
            if code in first_row:
                entry.form.zone.errors = [*entry.form.zone.errors, f"{ZONE_LABELS[code]} is already zone {first_row[code]}: "
                                          "give each zone one row, or remove this one."]
                valid = False
            else:
                first_row[code] = number
        return valid

    def add_zone_error(self, position: int | None, field: str, message: str) -> None:
        """Show a refusal from the service on the row and field it names (None: on the list of zones)."""
        if position is None:
            self.zone_errors.append(message)
        else:
            self.zones[position].form[field].errors.append(message)

    def values(self) -> dict[str, Any]:
        """What the service needs, as plain values."""
        return {
            "modality": self.modality.data,
            "sessions_planned": self.sessions_planned.data,
            "interval_weeks": self.interval_weeks.data,
            "first_session_on": self.first_session_on.data,
            "notes": self.notes.data or "",
            "zones": [{name: entry.form[name].data for name in ("zone", "depth_min_mm", "depth_max_mm", "passes", "technique", "note")}
                      for entry in self.zones],
        }

    def error_list(self) -> list[tuple[str, str]]:
        """Every message on the form as (field id, text), zone rows named by their number, for the summary."""
        found: list[tuple[str, str]] = []
        for name in ("modality", "sessions_planned", "interval_weeks", "first_session_on", "notes"):
            field = self[name]
            if field.errors:
                # A radio group has no element of its own id: point at its first option.
                target = f"{field.id}-0" if field.type == "RadioField" else field.id
                found.append((target, f"{field.label.text}: {field.errors[0]}"))
        found += [("zones", message) for message in self.zone_errors]
        for number, entry in enumerate(self.zones, start=1):
            for name in ("zone", "depth_min_mm", "depth_max_mm", "passes", "technique", "note"):
                field = entry.form[name]
                if field.errors:
                    found.append((field.id, f"Zone {number}, {field.label.text.lower()}: {field.errors[0]}"))
        return found


def suggested_values(*, modality: str, fitzpatrick: int | None, areas: Iterable[str]) -> dict[str, Any]:
    """A new plan's starting values: the consultation's modality, and a row per area at the suggested depths."""
    rows = []
    for zone in area_to_zones(areas):
        suggestion = suggest_depth(zone, fitzpatrick, modality)
        rows.append({"zone": zone, "depth_min_mm": suggestion.min_mm, "depth_max_mm": suggestion.max_mm, "note": ""})
    return {"modality": modality, "zones": rows}
