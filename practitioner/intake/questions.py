"""The intake's questions in the patient's own words, one topic per screen, and the words for each answer.

Every screening question a patient can answer about themselves is here (docs/intake.md lists those only
a practitioner can answer, and why they are not asked). A question's key is the consultation answer column
it feeds (practitioner/consultations/models.py); a follow-up's key is the date column asked for after the
answers that need a date. Each question is answered Yes / No / Not sure, or with its own choices plus
Not sure; none has a default. Change any wording here and bump TEXT_VERSION: the version is kept with
each signed intake, so what a patient signed can always be read in the words they saw.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT_VERSION = "2026-12-06.3"

YES, NO, NOT_SURE = "yes", "no", "not_sure"


@dataclass(frozen=True)
class Choice:
    """One answer a patient can give: its stored code and the words shown."""

    code: str
    label: str


YES_CHOICE = Choice(YES, "Yes")
NO_CHOICE = Choice(NO, "No")
NOT_SURE_CHOICE = Choice(NOT_SURE, "Not sure")
YES_NO_NOT_SURE: tuple[Choice, ...] = (YES_CHOICE, NO_CHOICE, NOT_SURE_CHOICE)


@dataclass(frozen=True)
class FollowUp:
    """A date asked only after some answers ("When did you stop?"); a month and year is enough."""

    shown_for: tuple[str, ...]
    key: str
    wording: str
    month_year_ok: bool = True


@dataclass(frozen=True)
class Question:
    """One question: the consultation column it feeds, the patient's words, a hint, the choices, a follow-up.

    `covers_days`, for a question about a recent time ("in the last 4 weeks"), is how far back it asks:
    at least the longest interval the clinic's policy default uses for that answer (tests check it).
    """

    key: str
    wording: str
    hint: str = ""
    choices: tuple[Choice, ...] = YES_NO_NOT_SURE
    follow_up: FollowUp | None = None
    covers_days: int | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """The answer codes this question accepts."""
        return tuple(choice.code for choice in self.choices)

    def label_of(self, code: str) -> str:
        """The words of one of this question's answers (the code itself if unknown)."""
        return next((choice.label for choice in self.choices if choice.code == code), code)


@dataclass(frozen=True)
class Field:
    """A free-text answer (a phone number, other allergies, the patient's own words): never required."""

    key: str
    label: str
    hint: str = ""
    multiline: bool = False
    autocomplete: str = ""
    max_length: int = 500


@dataclass(frozen=True)
class Topic:
    """One screen of the intake: its questions (or, for details and hopes, its fields) in order."""

    slug: str
    title: str
    intro: str
    questions: tuple[Question, ...] = ()
    kind: str = "questions"  # "questions" | "details" | "hopes"
    fields: tuple[Field, ...] = ()


def _when(key: str, wording: str = "When was the most recent time?", shown_for: tuple[str, ...] = (YES,)) -> FollowUp:
    return FollowUp(shown_for=shown_for, key=key, wording=wording)


TODAY_AREA = "where you would like treatment"

ABOUT_TODAY = Topic(
    "today", "About today",
    "These are about how you and your skin are at the moment. “Where you would like treatment” means the "
    "parts of your face, neck or chest you hope to have treated.",
    (
        Question("pregnant", "Are you pregnant, or could you be?"),
        Question("breastfeeding", "Are you breastfeeding?"),
        Question("active_cold_sore", "Do you have a cold sore right now?",
                 "A blister or scab on or around the lips, caused by the cold sore virus."),
        Question("active_inflammatory_acne", f"Do you have red, sore or pus-filled spots (acne) {TODAY_AREA}?"),
        Question("dermatosis_flare", f"Is eczema, psoriasis, dermatitis or rosacea flaring up {TODAY_AREA}?"),
        Question("active_infection", f"Do you have an infection, an open cut or sore, or irritated skin {TODAY_AREA}?"),
        Question("had_sunburn", "Have you been sunburnt or had a strong tan in the last 4 weeks?",
                 "From the sun, a sunbed or a fake tan.", follow_up=_when("sunburn_on"), covers_days=28),
    ),
)

SKIN_HISTORY = Topic(
    "skin", "Your skin's history",
    "These are about your skin in the past, not only today.",
    (
        Question("cold_sore_history", "Have you ever had cold sores?"),
        Question("keloid_history", "Have you ever had a keloid scar?",
                 "A raised, firm scar that grew bigger than the cut or spot that caused it."),
        Question("hypertrophic_scarring", "Do your cuts or spots tend to heal with raised, thick scars?"),
        Question("koebner_condition", "Do you have psoriasis, vitiligo or lichen planus?",
                 "Even if it is calm at the moment."),
        Question("skin_cancer_in_area", f"Have you ever had skin cancer {TODAY_AREA}?"),
        Question("radiotherapy_to_area", f"Have you ever had radiotherapy {TODAY_AREA}?"),
        Question("tattoo_or_pmu", f"Do you have a tattoo or permanent make-up {TODAY_AREA}?",
                 "For example tattooed eyebrows or lip liner."),
    ),
)

DIABETES_CHOICES: tuple[Choice, ...] = (
    Choice("none", "No, I do not have diabetes"),
    Choice("controlled", "Yes, and it is well controlled"),
    Choice("uncontrolled", "Yes, and it is not well controlled"),
    NOT_SURE_CHOICE,
)

YOUR_HEALTH = Topic(
    "health", "Your health",
    "Some health conditions change how skin heals or which treatment is safe for you.",
    (
        Question("diabetes", "Do you have diabetes?",
                 "If you are not sure how well it is controlled, choose Not sure and we will talk about it.",
                 choices=DIABETES_CHOICES),
        Question("immunosuppressed", "Is your immune system weakened by an illness or a treatment?",
                 "For example HIV, chemotherapy, medicines after a transplant, or high-dose steroid tablets."),
        Question("autoimmune_collagen_vascular", "Do you have lupus, scleroderma or a similar connective tissue disease?"),
        Question("bleeding_disorder", "Do you have a bleeding or clotting disorder?",
                 "For example haemophilia, or bleeding for a long time after a small cut."),
        Question("platelet_disorder", "Have you been told you have a problem with your platelets?",
                 "Platelets are the part of the blood that helps it clot."),
        Question("bloodborne_infection", "Do you have an infection carried in the blood, such as HIV or hepatitis B or C?"),
        Question("implanted_electronic_device", "Do you have a pacemaker, defibrillator or another electronic device in your body?",
                 "For example an insulin pump, a glucose sensor or a nerve stimulator."),
        Question("metal_implant_in_area", f"Do you have any metal plates, screws or other metal implants {TODAY_AREA}?"),
        Question("smoker", "Do you smoke?"),
    ),
)

ALLERGIES = Topic(
    "allergies", "Allergies",
    "Tell us about any reaction you have had, even a mild one.",
    (
        Question("allergy_gold", "Are you allergic to gold?"),
        Question("allergy_stainless_steel", "Have you had a reaction to stainless steel?",
                 "For example to a watch strap, surgical steel earrings or a medical instrument."),
        Question("allergy_nickel", "Are you allergic to nickel?",
                 "Often noticed as an itchy rash from cheap jewellery, belt buckles or jeans buttons."),
        Question("allergy_topical_anaesthetic", "Are you allergic to numbing creams or local anaesthetics?",
                 "For example lidocaine, as used by dentists."),
    ),
    fields=(Field("allergies_other", "Any other allergies (medicines, foods, plasters, anything else)",
                  "Leave empty if you have none.", multiline=True),),
)

ISOTRETINOIN_CHOICES: tuple[Choice, ...] = (
    Choice("never", "No, never"),
    Choice("current", "Yes, I take it now"),
    Choice("stopped", "Yes, but I have stopped"),
    NOT_SURE_CHOICE,
)

MEDICINES = Topic(
    "medicines", "Medicines",
    "Please keep taking any medicine you have been prescribed: never stop one because of this treatment "
    "without asking the doctor who prescribed it.",
    (
        Question("isotretinoin", "Have you ever taken isotretinoin tablets for acne?",
                 "Also called Roaccutane, Accutane or Absorica.", choices=ISOTRETINOIN_CHOICES,
                 follow_up=_when("isotretinoin_stopped_on", "When did you stop?", ("stopped",))),
        Question("anticoagulant_prescribed", "Do you take a prescribed medicine to thin your blood or stop clots?",
                 "For example warfarin, apixaban, rivaroxaban, clopidogrel, or aspirin that a doctor told you to take."),
        Question("took_nsaid_or_supplement",
                 "In the last 2 weeks, have you taken ibuprofen, aspirin you bought yourself, or supplements such as "
                 "fish oil, vitamin E, ginkgo or garlic?", follow_up=_when("nsaid_or_supplement_last_on"), covers_days=14),
        Question("used_topical_retinoid_or_acid",
                 "In the last 2 weeks, have you used a retinoid or retinol cream, an acid (AHA or BHA) or benzoyl peroxide "
                 "on your skin?", "Many night creams, acne gels and exfoliating products contain these.",
                 follow_up=_when("topical_retinoid_or_acid_last_on"), covers_days=14),
    ),
    fields=(Field("medicines", "Any medicines or supplements you take now", "Names and how often, if you know.",
                  multiline=True),),
)

RECENT_TREATMENTS = Topic(
    "recent", "Recent treatments",
    "Some skin treatments need time to settle before another one.",
    (
        Question("had_neurotoxin", "In the last 6 months, have you had botulinum toxin injections?",
                 "Often called Botox or anti-wrinkle injections.", follow_up=_when("neurotoxin_on"), covers_days=183),
        Question("had_filler_in_area", f"In the last 12 months, have you had dermal filler {TODAY_AREA}?",
                 "For example lip, cheek or jawline filler.", follow_up=_when("filler_in_area_on"), covers_days=365),
        Question("had_resurfacing", "In the last 3 months, have you had a chemical peel, laser or another resurfacing treatment?",
                 "Including microneedling at another clinic.", follow_up=_when("resurfacing_on"), covers_days=91),
    ),
)

YOUR_DETAILS = Topic(
    "details", "Your details",
    "We use these only to contact you and, if needed, your GP. Leave anything empty that has not changed "
    "or that you would rather give in person.",
    kind="details",
    fields=(
        Field("phone", "Phone number", autocomplete="tel", max_length=40),
        Field("email", "Email address", autocomplete="email", max_length=254),
        Field("address", "Home address", multiline=True, autocomplete="street-address"),
        Field("gp_name", "Your GP's name", max_length=120),
        Field("gp_practice", "Your GP's practice", max_length=200),
    ),
)

# The concerns (clinical/screening.py CONCERNS) in the patient's words.
CONCERN_CHOICES: tuple[Choice, ...] = (
    Choice("fine_lines_wrinkles", "Fine lines and wrinkles"),
    Choice("atrophic_acne_scars", "Dips or pits left by acne"),
    Choice("raised_scars", "Raised or lumpy scars"),
    Choice("enlarged_pores", "Large pores"),
    Choice("texture_dullness", "Uneven or dull-looking skin"),
    Choice("laxity", "Loose or sagging skin"),
    Choice("pigmentation", "Darker patches or uneven colour"),
)

# The consultation's treatment areas (clinical/screening.py TREATMENT_AREAS) in the patient's words.
AREA_CHOICES: tuple[Choice, ...] = (
    Choice("forehead", "Forehead"),
    Choice("periorbital", "Around the eyes"),
    Choice("nose", "Nose"),
    Choice("perioral", "Around the mouth and upper lip"),
    Choice("cheeks", "Cheeks"),
    Choice("chin_jaw", "Chin and jaw"),
    Choice("neck", "Neck"),
    Choice("decolletage", "Upper chest"),
)

HOPES = Topic(
    "hopes", "What you hope for",
    "Choose any that matter to you, and tell us in your own words what you would like to change.",
    kind="hopes",
    fields=(Field("words", "In your own words", multiline=True, max_length=2000),),
)

TOPICS: tuple[Topic, ...] = (ABOUT_TODAY, SKIN_HISTORY, YOUR_HEALTH, ALLERGIES, MEDICINES, RECENT_TREATMENTS,
                             YOUR_DETAILS, HOPES)
BY_SLUG: dict[str, Topic] = {t.slug: t for t in TOPICS}
QUESTIONS: tuple[Question, ...] = tuple(q for t in TOPICS for q in t.questions)
BY_KEY: dict[str, Question] = {q.key: q for q in QUESTIONS}
DETAIL_KEYS: tuple[str, ...] = tuple(f.key for t in TOPICS if t.kind != "hopes" for f in t.fields)
CONCERN_CODES: tuple[str, ...] = tuple(c.code for c in CONCERN_CHOICES)
AREA_CODES: tuple[str, ...] = tuple(c.code for c in AREA_CHOICES)

# The screening answers only a practitioner can give (an examination, a judgement): never asked of the patient.
PRACTITIONER_ONLY: tuple[str, ...] = ("suspicious_lesion", "expectations_concern")

CONCERNS_WORDING = "What would you like to improve?"  # the hopes screen's question over CONCERN_CHOICES
AREAS_WORDING = "Which areas would you like treated?"  # the hopes screen's question over AREA_CHOICES (optional)
SUMMARY_TITLE = "Check your answers"
DECLARATION = "The answers I have given are true to the best of my knowledge."
MONTH_YEAR_HINT = "If you do not know the day, the month and year are enough."


def topic(slug: str) -> Topic | None:
    """The topic (screen) with this slug, or None."""
    return BY_SLUG.get(slug)


def next_topic(slug: str) -> Topic | None:
    """The screen after this one, or None after the last."""
    slugs = [t.slug for t in TOPICS]
    if slug not in slugs:
        return None
    index = slugs.index(slug) + 1
    return TOPICS[index] if index < len(TOPICS) else None


def area_label(code: str) -> str:
    """A treatment area in the patient's words."""
    return next((c.label for c in AREA_CHOICES if c.code == code), code)


def concern_label(code: str) -> str:
    """A concern in the patient's words."""
    return next((c.label for c in CONCERN_CHOICES if c.code == code), code)
