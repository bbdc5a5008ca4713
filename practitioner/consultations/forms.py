"""The consultation form (assessment and screening questions, grouped as the intake is) and the override."""

from __future__ import annotations

from datetime import date

from wtforms import BooleanField, DateField, DecimalField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from practitioner.clinical.screening import (
    CONCERN_LABELS,
    DIABETES_LABELS,
    ISOTRETINOIN_LABELS,
    MODALITY_LABELS,
    NEEDLE_MATERIAL_LABELS,
    TREATMENT_AREA_LABELS,
)
from practitioner.consultations.models import SCAR_TYPES
from practitioner.forms import Form, MultiCheckboxField, choices
from practitioner.clinical.vocabulary import DEVICE_SETTING_DEPTH, FITZPATRICK_LABELS, PLAN_RANGE_DEPTH
from practitioner.validators import NoControlCharacters, NumberRange, depth_within, strip_filter

GLOGAU_LABELS = {1: "I: mild, no wrinkles", 2: "II: moderate, wrinkles in motion", 3: "III: advanced, wrinkles at rest", 4: "IV: severe, only wrinkles"}
GOODMAN_BARON_LABELS = {1: "1: macular (colour, not contour)", 2: "2: mild", 3: "3: moderate (flattens when stretched)", 4: "4: severe (does not flatten)"}
SCAR_LABELS = {"icepick": "Icepick", "rolling": "Rolling", "boxcar": "Boxcar", "hypertrophic": "Hypertrophic", "keloid": "Keloid"}

FINDING_LABELS = {
    "active_infection": "Active infection, open wound or irritated skin in the area",
    "active_cold_sore": "Cold sore (herpes simplex) present now",
    "active_inflammatory_acne": "Active inflammatory acne in the area",
    "dermatosis_flare": "Eczema, psoriasis, dermatitis or rosacea flaring in the area",
    "suspicious_lesion": "Suspicious or changing lesion in the area",
    "tattoo_or_pmu": "Tattoo or permanent make-up in the area",
}
HISTORY_LABELS = {
    "cold_sore_history": "History of cold sores",
    "keloid_history": "Keloid scars",
    "hypertrophic_scarring": "Tendency to raised (hypertrophic) scars",
    "koebner_condition": "Psoriasis, vitiligo or lichen planus (Koebner response)",
    "skin_cancer_in_area": "Skin cancer in the treatment area",
    "radiotherapy_to_area": "Radiotherapy to the treatment area",
    "immunosuppressed": "Weakened immune system (HIV, chemotherapy, transplant drugs, high-dose steroids)",
    "autoimmune_collagen_vascular": "Lupus, scleroderma or other collagen vascular disease",
    "bleeding_disorder": "Bleeding or clotting disorder",
    "platelet_disorder": "Platelet disorder (matters for PRP)",
    "bloodborne_infection": "Blood-borne infection such as HIV or hepatitis (matters for PRP)",
    "implanted_electronic_device": "Pacemaker, defibrillator or other implanted electronic device (matters for RF)",
    "metal_implant_in_area": "Metal implant (plate, screws) in the treatment area (matters for RF)",
    "smoker": "Smokes",
    "expectations_concern": "Concern about expectations or possible body dysmorphic disorder",
}
ALLERGY_LABELS = {
    "allergy_gold": "Gold",
    "allergy_stainless_steel": "Stainless steel (a documented reaction)",
    "allergy_nickel": "Nickel (for example from jewellery)",
    "allergy_topical_anaesthetic": "Topical anaesthetic (lidocaine and similar)",
}
DATE_LABELS = {
    "sunburn_on": ("Sunburn or heavy tan: when", "findings"),
    "nsaid_or_supplement_last_on": ("Last ibuprofen, aspirin (not prescribed) or fish oil, vitamin E, ginkgo, garlic", "medications"),
    "topical_retinoid_or_acid_last_on": ("Last topical retinoid, acid (AHA/BHA) or benzoyl peroxide", "medications"),
    "neurotoxin_on": ("Last botulinum toxin", "recent"),
    "filler_in_area_on": ("Last dermal filler in the area", "recent"),
    "resurfacing_on": ("Last peel, laser or other resurfacing", "recent"),
}

F = [strip_filter]


def _not_after_consultation(form: "ConsultationForm", field) -> None:
    if field.data and form.consultation_date.data and field.data > form.consultation_date.data:
        raise ValidationError("This date is after the consultation date. Leave it blank if it has not happened.")


def _date_field(label: str) -> DateField:
    return DateField(label, validators=[Optional(), _not_after_consultation], description="Leave blank if never or not known.")


class ConsultationForm(Form):
    """Everything a practitioner records at a consultation; the screening answers feed the engine."""

    version = HiddenField()
    consultation_date = DateField("Consultation date", validators=[InputRequired("Enter the consultation date.")])
    modality = RadioField("Treatment", choices=choices(MODALITY_LABELS.items()), validators=[InputRequired("Choose the treatment.")])
    concerns = MultiCheckboxField("Concerns", choices=choices(CONCERN_LABELS.items()), validators=[DataRequired("Tick at least one concern.")])
    treatment_areas = MultiCheckboxField("Treatment areas", choices=choices(TREATMENT_AREA_LABELS.items()),
                                         validators=[DataRequired("Tick at least one area.")])

    fitzpatrick = SelectField("Fitzpatrick skin type", choices=choices([("", "Not assessed"), *FITZPATRICK_LABELS.items()]),
                              validators=[InputRequired("Choose the skin type: it changes the risk of dark patches.")],
                              coerce=lambda v: int(v) if v not in (None, "", "None") else None)
    glogau = SelectField("Glogau photoageing type", choices=choices([("", "Not assessed"), *GLOGAU_LABELS.items()]), validators=[Optional()],
                         coerce=lambda v: int(v) if v not in (None, "", "None") else None)
    goodman_baron_grade = SelectField("Goodman and Baron acne scar grade", choices=choices([("", "Not assessed / no acne scars"), *GOODMAN_BARON_LABELS.items()]),
                                      validators=[Optional()], coerce=lambda v: int(v) if v not in (None, "", "None") else None)
    skin_notes = TextAreaField("Skin assessment notes", filters=F, validators=[Optional(), Length(max=4000), NoControlCharacters(multiline=True)], render_kw={"rows": 3})

    device_name = StringField("Device (make and model)", filters=F, validators=[Optional(), Length(max=120), NoControlCharacters()])
    needle_material = RadioField("Needle material", choices=choices(NEEDLE_MATERIAL_LABELS.items()), validators=[Optional()])
    device_max_depth_mm = DecimalField("Deepest setting the device was evaluated to (mm)", places=2,
                                       validators=[Optional(), depth_within(DEVICE_SETTING_DEPTH)],
                                       description="From the device's instructions for use (SkinPen, for example: 1.5 mm).")
    requested_depth_mm = DecimalField("Deepest depth planned (mm)", places=2,
                                      validators=[Optional(), depth_within(PLAN_RANGE_DEPTH)])

    pregnant = BooleanField("Pregnant")
    breastfeeding = BooleanField("Breastfeeding")
    sunburn_on = _date_field(DATE_LABELS["sunburn_on"][0])
    diabetes = RadioField("Diabetes", choices=choices(DIABETES_LABELS.items()), default="none", validators=[InputRequired("Answer the diabetes question.")])
    isotretinoin = RadioField("Isotretinoin (Roaccutane)", choices=choices(ISOTRETINOIN_LABELS.items()), default="never",
                              validators=[InputRequired("Answer the isotretinoin question.")])
    isotretinoin_stopped_on = DateField("Date isotretinoin was stopped", validators=[Optional(), _not_after_consultation])
    anticoagulant_prescribed = BooleanField("Prescribed anticoagulant or antiplatelet (warfarin, apixaban, clopidogrel, prescribed aspirin)")
    nsaid_or_supplement_last_on = _date_field(DATE_LABELS["nsaid_or_supplement_last_on"][0])
    topical_retinoid_or_acid_last_on = _date_field(DATE_LABELS["topical_retinoid_or_acid_last_on"][0])
    neurotoxin_on = _date_field(DATE_LABELS["neurotoxin_on"][0])
    filler_in_area_on = _date_field(DATE_LABELS["filler_in_area_on"][0])
    resurfacing_on = _date_field(DATE_LABELS["resurfacing_on"][0])
    notes = TextAreaField("Consultation notes", filters=F, validators=[Optional(), Length(max=8000), NoControlCharacters(multiline=True)], render_kw={"rows": 4})
    screening_asked = BooleanField("I asked the patient every screening question on this page",
                                   validators=[DataRequired("Confirm that every screening question was asked.")])

    def validate(self, extra_validators=None) -> bool:
        """Field checks, then: a stopped isotretinoin course needs its stop date (the washout counts from it)."""
        valid = super().validate(extra_validators)
        if self.isotretinoin.data == "stopped" and not self.isotretinoin_stopped_on.data and not self.isotretinoin_stopped_on.errors:
            self.isotretinoin_stopped_on.errors = [
                *self.isotretinoin_stopped_on.errors,
                "Enter the date isotretinoin was stopped (an estimate is fine), so the washout can be counted."]
            valid = False
        return valid

    def validate_consultation_date(self, field) -> None:
        """Not in the future."""
        if field.data and field.data > date.today():
            raise ValidationError("The consultation date cannot be in the future.")


for _name, _label in (*FINDING_LABELS.items(), *HISTORY_LABELS.items(), *ALLERGY_LABELS.items()):
    setattr(ConsultationForm, _name, BooleanField(_label))
for _type in SCAR_TYPES:
    setattr(ConsultationForm, f"scars_{_type}", IntegerField(f"{SCAR_LABELS[_type]} scars (rough count)",
            validators=[Optional(), NumberRange(min=0, max=999, message="Enter a count from 0 to 999.")]))


class OverrideForm(Form):
    """A documented reason to treat despite the screening result."""

    reason = TextAreaField("Reason for going ahead", filters=F, validators=[
        DataRequired("Give the reason: who advised or cleared treatment, and why it is safe."), Length(min=10, max=2000,
        message="Write at least a sentence (10 characters or more)."), NoControlCharacters(multiline=True)], render_kw={"rows": 3})
