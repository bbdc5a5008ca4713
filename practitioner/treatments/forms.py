"""The session form: re-screen, consent, device, cartridge, anaesthetic, zones, products, PRP, outcome."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms import Form as PlainForm
from wtforms.fields import Field
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from practitioner.clinical.vocabulary import (
    ADVERSE_EVENT_LABELS,
    DEVICE_SETTING_DEPTH,
    ENDPOINT_LABELS,
    TECHNIQUE_LABELS,
    ZONE_LABELS,
)
from practitioner.forms import Form, choices, yes_no
from practitioner.treatments.limits import ADDENDA_PER_SESSION, ADDENDUM_REASON, ADDENDUM_TEXT, SESSION_TEXT, hint, too_long
from practitioner.treatments.limits import length as text_length
from practitioner.treatments.models import RESCREEN_DATED
from practitioner.validators import NoControlCharacters, NumberRange, depth_within, strip_filter

F = [strip_filter]
TEXT = [NoControlCharacters()]
LONG = [NoControlCharacters(multiline=True)]


class AtMost(Length):
    """Length(max=...) that says how long the text is and how long it may be, in words with thousands separated."""

    def __init__(self, characters: int) -> None:
        super().__init__(max=characters)

    def __call__(self, form: object, field: Field) -> None:
        """Refuse a text over the limit with limits.too_long's message; a CRLF line break counts once, as the browser counts it."""
        length = text_length(field.data or "")
        if length > self.max:
            raise ValidationError(too_long(self.max, length))


def _limit(name: str) -> list[Length]:
    return [AtMost(SESSION_TEXT[name])]


def _hint(name: str) -> str:
    return hint(SESSION_TEXT[name])


class ZoneRow(PlainForm):
    """One treated zone."""

    # "1" on a row the form opened with from the plan: left as it came (no passes, no technique), it is not saved.
    suggested = HiddenField()
    zone = SelectField("Zone", choices=choices([("", "Choose a zone"), *ZONE_LABELS.items()]), validators=[DataRequired("Choose the zone.")])
    depth_mm = DecimalField("Depth (mm)", places=2, validators=[InputRequired("Enter the depth."),
                                                                 depth_within(DEVICE_SETTING_DEPTH)])
    passes = IntegerField("Passes", validators=[InputRequired("Enter the passes."), NumberRange(min=1, max=40, message="Enter 1 to 40.")])
    technique = SelectField("Technique", choices=choices([("", "Choose"), *TECHNIQUE_LABELS.items()]), validators=[DataRequired("Choose the technique.")])
    rf_energy = DecimalField("RF energy", places=2, validators=[Optional(), NumberRange(min=0, max=10000, message="Enter a positive number.")])
    rf_energy_unit = StringField("Energy unit", filters=F, validators=[Optional(), Length(max=30), *TEXT], description="As the device shows it, e.g. mJ/pin")
    rf_pulse_ms = DecimalField("Pulse (ms)", places=2, validators=[Optional(), NumberRange(min=0, max=10000, message="Enter a positive number.")])
    rf_rows = IntegerField("Rows", validators=[Optional(), NumberRange(min=1, max=100, message="Enter 1 to 100.")])


class ProductRow(PlainForm):
    """One product put on needled skin."""

    name = StringField("Product", filters=F, validators=[DataRequired("Name the product."), Length(max=160), *TEXT])
    lot = StringField("Lot", filters=F, validators=[DataRequired("Enter the lot (it is how a recall finds this patient)."), Length(max=80), *TEXT])
    labelled_for_needled_skin = yes_no("Labelled for use on needled skin?", "Say whether its label allows needled skin.")


class AdverseEventRow(PlainForm):
    """One adverse event and what was done."""

    kind = SelectField("Event", choices=choices([("", "Choose"), *ADVERSE_EVENT_LABELS.items()]), validators=[DataRequired("Choose the event.")])
    detail = StringField("Details", filters=F, validators=[Optional(), Length(max=500), *TEXT])
    action_taken = StringField("Action taken", filters=F, validators=[DataRequired("Say what was done."), Length(max=1000), *TEXT])


class SessionForm(Form):
    """Everything docs/session-record.md asks for; saving keeps a draft, signing needs it complete."""

    version = HiddenField()
    session_date = DateField("Session date", validators=[InputRequired("Enter the session date.")])
    start_time = TimeField("Start time", validators=[Optional()])
    supervisor = StringField("Supervisor (if any)", filters=F, validators=[Optional(), Length(max=120), *TEXT])

    history_reviewed = yes_no("History, medicines and allergies reviewed today")
    changes_since_consultation = TextAreaField("Changes since the consultation", filters=F, validators=[Optional(), *_limit("changes_since_consultation"), *LONG],
                                               description=_hint("changes_since_consultation"), render_kw={"rows": 2})
    pregnant_now = yes_no("Pregnant now?")
    breastfeeding_now = yes_no("Breastfeeding now?")
    cold_sore_now = yes_no("A cold sore now?")
    anticoagulant_now = yes_no("Now on a prescribed anticoagulant?")
    isotretinoin_now = yes_no("Now taking isotretinoin?")
    had_sunburn = yes_no("Sunburn or heavy tan since the last visit?")
    sunburn_on = DateField("Date of the sunburn or tan", validators=[Optional()])
    had_neurotoxin = yes_no("Botulinum toxin since the last visit?")
    neurotoxin_on = DateField("Date of the toxin", validators=[Optional()])
    had_filler = yes_no("Filler in the area since the last visit?")
    filler_on = DateField("Date of the filler", validators=[Optional()])
    had_resurfacing = yes_no("Peel, laser or resurfacing since the last visit?")
    resurfacing_on = DateField("Date of the peel, laser or resurfacing", validators=[Optional()])
    new_medicines = TextAreaField("New medicines", filters=F, validators=[Optional(), *_limit("new_medicines"), *LONG],
                                  description=_hint("new_medicines"), render_kw={"rows": 2})

    photo_consent = yes_no("Photo consent for today")

    device_make = StringField("Device make", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    device_model = StringField("Device model", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    device_serial = StringField("Serial number", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    device_max_depth_mm = DecimalField("Device evaluated to (mm)", places=2, validators=[Optional(), depth_within(DEVICE_SETTING_DEPTH)])
    rf_handpiece = StringField("RF handpiece", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    rf_tip_insulated = yes_no("RF tip insulated")
    rf_tip_gold_plated = yes_no("RF tip gold-plated")
    cartridge_product = StringField("Cartridge or tip product", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    needle_count = IntegerField("Needles", validators=[Optional(), NumberRange(min=1, max=200, message="Enter 1 to 200.")])
    cartridge_lot = StringField("Cartridge lot", filters=F, validators=[Optional(), Length(max=80), *TEXT])
    cartridge_expiry = DateField("Cartridge expiry", validators=[Optional()])
    sterile_pack_intact = yes_no("Sterile pack intact")

    cleanser = StringField("Cleanser", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    antiseptic = StringField("Antiseptic", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    anaesthetic_used = yes_no("Topical anaesthetic used")
    anaesthetic_product = StringField("Anaesthetic product", filters=F, validators=[Optional(), Length(max=120), *TEXT])
    anaesthetic_concentration = StringField("Concentration", filters=F, validators=[Optional(), Length(max=60), *TEXT])
    anaesthetic_applied_at = TimeField("Applied at", validators=[Optional()])
    anaesthetic_removed_at = TimeField("Removed at", validators=[Optional()])

    zones = FieldList(FormField(ZoneRow), "Zone", min_entries=0, max_entries=12)
    no_products_applied = BooleanField("No product was put on the needled skin")
    products = FieldList(FormField(ProductRow), "Product", min_entries=0, max_entries=12)

    prp_kit_lot = StringField("PRP tube or kit lot", filters=F, validators=[Optional(), Length(max=80), *TEXT])
    prp_volume_ml = DecimalField("Blood drawn (ml)", places=1, validators=[Optional(), NumberRange(min=1, max=200, message="Enter 1 to 200 ml.")])
    prp_spin_protocol = StringField("Spin protocol", filters=F, validators=[Optional(), Length(max=200), *TEXT])
    prp_tube_labelled = yes_no("Tube labelled with the patient")

    endpoint = RadioField("Endpoint reached", choices=choices(ENDPOINT_LABELS.items()), validators=[Optional()])
    endpoint_other = StringField("Other endpoint", filters=F, validators=[Optional(), Length(max=200), *TEXT])
    pain_score = IntegerField("Pain score (0 to 10)", validators=[Optional(), NumberRange(min=0, max=10, message="Enter 0 to 10.")])
    no_adverse_events = BooleanField("No adverse events")
    adverse_events = FieldList(FormField(AdverseEventRow), "Adverse event", min_entries=0, max_entries=10)
    post_care_products = TextAreaField("Post-care products applied", filters=F, validators=[Optional(), *_limit("post_care_products"), *LONG],
                                       description=_hint("post_care_products"), render_kw={"rows": 2})
    next_appointment_on = DateField("Next appointment", validators=[Optional()])
    clinical_note = TextAreaField("Clinical note", filters=F, validators=[Optional(), *_limit("clinical_note"), *LONG],
                                  description=_hint("clinical_note"), render_kw={"rows": 4})
    acknowledge_warnings = BooleanField("I have read the depth warnings above and the depths are intended")

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then the cross-field rules (explicit 'none', in-date lot, no duplicate zones)."""
        valid = super().validate(extra_validators)
        problems: list[tuple[object, str]] = []
        if self.no_products_applied.data and self.products.entries:
            problems.append((self.no_products_applied, "You listed products and ticked 'none': remove one or the other."))
        if self.no_adverse_events.data and self.adverse_events.entries:
            problems.append((self.no_adverse_events, "You listed adverse events and ticked 'none': remove one or the other."))
        if self.cartridge_expiry.data and self.session_date.data and self.cartridge_expiry.data < self.session_date.data:
            problems.append((self.cartridge_expiry, "This lot expired before the session date: it cannot be used. Use an in-date cartridge."))
        for answer, day in RESCREEN_DATED.items():
            had, when = self[answer], self[day]
            if had.data is True and when.data is None and not when.errors:
                problems.append((when, "Enter the date (an estimate is fine), or answer No."))
            elif had.data is not True and when.data is not None:
                problems.append((had, "You gave a date: answer Yes, or clear the date."))
        if self.endpoint.data == "other" and not self.endpoint_other.data:
            problems.append((self.endpoint_other, "Describe the endpoint."))
        seen: set[str] = set()
        for row in self.zones.entries:
            zone = row.form.zone.data
            if zone and zone in seen:
                problems.append((row.form.zone, "This zone is already listed: record each zone once, with all its passes."))
            seen.add(zone)
        for field, message in problems:
            field.errors = [*field.errors, message]
            valid = False
        return valid


class SignForm(Form):
    """Signing carries the version the practitioner saw."""

    version = HiddenField()


class OverrideForm(Form):
    """Why treatment goes ahead despite today's re-screen."""

    reason = TextAreaField("Reason for treating today", filters=F, validators=[
        DataRequired("Give the reason and who cleared treatment."), Length(min=10, max=2000, message="Write at least a sentence."), *LONG],
        render_kw={"rows": 2})


class AddendumForm(Form):
    """A correction or late entry after signing."""

    reason = StringField("Reason for the addendum", filters=F, validators=[
        DataRequired("Say why (correction, late entry, follow-up)."), AtMost(ADDENDUM_REASON), *TEXT],
        description=hint(ADDENDUM_REASON))
    text = TextAreaField("Addendum", filters=[strip_filter], validators=[
        DataRequired("Write the addendum."), AtMost(ADDENDUM_TEXT), *LONG],
        description=f"{hint(ADDENDUM_TEXT)} A session holds up to {ADDENDA_PER_SESSION} addenda.", render_kw={"rows": 4})


class LotSearchForm(Form):
    """The recall question (GET)."""

    class Meta:
        csrf = False

    lot = StringField("Lot number", filters=F, validators=[Optional(), Length(max=80)])
