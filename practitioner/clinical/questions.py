"""The consultation's screening questions: names, wording and sections, in the order they are asked.

Every question is answered explicitly (Yes or No, or one of its own choices); none has a default.
A question with a date (when did it last happen?) asks for the date only when the answer is Yes,
so a blank date is never read as "never". The names are the consultation's answer columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Mapping

from practitioner.clinical.screening import DIABETES_LABELS, ISOTRETINOIN_LABELS

SECTIONS = {
    "today": "Today",
    "history": "Medical history",
    "allergies": "Allergies",
    "medicines": "Medicines",
    "recent": "Recent procedures",
}

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
# The date asked when a dated question is answered Yes: (label, group of the screening intake).
DATE_LABELS = {
    "sunburn_on": ("Sunburn or heavy tan: when", "findings"),
    "nsaid_or_supplement_last_on": ("Last ibuprofen, aspirin (not prescribed) or fish oil, vitamin E, ginkgo, garlic", "medications"),
    "topical_retinoid_or_acid_last_on": ("Last topical retinoid, acid (AHA/BHA) or benzoyl peroxide", "medications"),
    "neurotoxin_on": ("Last botulinum toxin", "recent"),
    "filler_in_area_on": ("Last dermal filler in the area", "recent"),
    "resurfacing_on": ("Last peel, laser or other resurfacing", "recent"),
}
ISOTRETINOIN_STOPPED_LABEL = "Date isotretinoin was stopped"
YES_NO_LABELS = {True: "Yes", False: "No"}
NOT_ANSWERED = "Not answered"


@dataclass(frozen=True)
class Question:
    """One screening question: its answer column, wording, section, and what a Yes asks next."""

    name: str
    label: str
    section: str
    choices: Mapping[str, str] | None = None  # None: a Yes/No question
    date_name: str | None = None  # the date column asked for when the answer is `date_when`
    date_when: object = True

    @property
    def no_answer(self) -> object:
        """The answer that raises nothing: No, or the question's own 'none' choice (its first)."""
        return False if self.choices is None else next(iter(self.choices))

    @property
    def date_label(self) -> str:
        """The label of the date asked for after a Yes."""
        if self.date_name is None:
            return ""
        return ISOTRETINOIN_STOPPED_LABEL if self.date_name == "isotretinoin_stopped_on" else DATE_LABELS[self.date_name][0]


def _yes_no(names: Mapping[str, str], section: str) -> list[Question]:
    return [Question(name, label, section) for name, label in names.items()]


QUESTIONS: tuple[Question, ...] = (
    Question("pregnant", "Pregnant", "today"),
    Question("breastfeeding", "Breastfeeding", "today"),
    *_yes_no(FINDING_LABELS, "today"),
    Question("had_sunburn", "Recent sunburn or heavy tan (including sunbeds or self-tan)", "today", date_name="sunburn_on"),
    *_yes_no(HISTORY_LABELS, "history"),
    Question("diabetes", "Diabetes", "history", choices=DIABETES_LABELS),
    *_yes_no(ALLERGY_LABELS, "allergies"),
    Question("isotretinoin", "Isotretinoin (Roaccutane)", "medicines", choices=ISOTRETINOIN_LABELS,
             date_name="isotretinoin_stopped_on", date_when="stopped"),
    Question("anticoagulant_prescribed",
             "Prescribed anticoagulant or antiplatelet (warfarin, apixaban, clopidogrel, prescribed aspirin)", "medicines"),
    Question("took_nsaid_or_supplement",
             "Recent ibuprofen, aspirin (not prescribed) or a supplement such as fish oil, vitamin E, ginkgo or garlic",
             "medicines", date_name="nsaid_or_supplement_last_on"),
    Question("used_topical_retinoid_or_acid", "Recent topical retinoid, acid (AHA/BHA) or benzoyl peroxide", "medicines",
             date_name="topical_retinoid_or_acid_last_on"),
    Question("had_neurotoxin", "Recent botulinum toxin", "recent", date_name="neurotoxin_on"),
    Question("had_filler_in_area", "Recent dermal filler in the area", "recent", date_name="filler_in_area_on"),
    Question("had_resurfacing", "Recent peel, laser or other resurfacing", "recent", date_name="resurfacing_on"),
)
BY_NAME: dict[str, Question] = {q.name: q for q in QUESTIONS}
BY_DATE: dict[str, Question] = {q.date_name: q for q in QUESTIONS if q.date_name}
ANSWER_NAMES: tuple[str, ...] = tuple(q.name for q in QUESTIONS)
DATE_NAMES: tuple[str, ...] = tuple(BY_DATE)


def in_section(section: str) -> tuple[Question, ...]:
    """The questions of one section, in order."""
    return tuple(q for q in QUESTIONS if q.section == section)


def unanswered(answers: Mapping[str, object]) -> list[str]:
    """Labels of the questions with no answer, or with a Yes whose date is missing; in order."""
    missing = []
    for q in QUESTIONS:
        value = answers.get(q.name)
        if value is None:
            missing.append(q.label)
        elif q.date_name and value == q.date_when and answers.get(q.date_name) is None:
            missing.append(q.date_label)
    return missing


def answer_text(name: str, value: object) -> str:
    """An answer (or the date after a Yes) in words: Yes, No, a choice's label, or Not answered."""
    if value is None:
        return NOT_ANSWERED
    question = BY_NAME.get(name)
    if question is None or isinstance(value, date):
        return str(value)
    if question.choices is not None:
        return question.choices.get(str(value), str(value))
    return YES_NO_LABELS.get(bool(value), str(value))


def label_of(name: str) -> str:
    """The words for an answer column or one of the dates asked after a Yes."""
    if name in BY_NAME:
        return BY_NAME[name].label
    if name in BY_DATE:
        return BY_DATE[name].date_label
    return name.replace("_", " ").capitalize()
