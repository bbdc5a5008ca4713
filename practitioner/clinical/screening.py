"""Pre-treatment screening: turn the consultation answers into a decision and reasoned flags.

This module is the contract written in ``docs/screening.md``. Every window and threshold is a clinic
policy default (see :class:`Policy`); the source ranges quoted in the reasons come from sections 1 and 6
of the clinical reference (docs/screening.md lists them by flag). Nothing here is medical advice, and no reason ever suggests stopping a
prescribed medicine.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal, get_args

from practitioner.clinical.vocabulary import FITZPATRICK_ROMAN, ZONE_LABELS

Modality = Literal["microneedling", "rf_microneedling", "prp_microneedling"]
Decision = Literal["proceed", "proceed_with_caution", "defer", "refer", "decline"]
TreatmentArea = Literal[
    "forehead", "periorbital", "nose", "perioral", "cheeks", "chin_jaw", "neck", "decolletage"
]
Concern = Literal[
    "fine_lines_wrinkles",
    "atrophic_acne_scars",
    "raised_scars",
    "enlarged_pores",
    "texture_dullness",
    "laxity",
    "pigmentation",
]
NeedleMaterial = Literal["stainless_steel", "gold_plated", "other"]
DiabetesState = Literal["none", "controlled", "uncontrolled"]
IsotretinoinState = Literal["never", "current", "stopped"]
FlagCode = Literal[
    "under_age",
    "pregnancy",
    "breastfeeding",
    "active_infection_area",
    "active_hsv_lesion",
    "active_inflammatory_acne",
    "inflammatory_dermatosis_flare",
    "sunburn_recent",
    "isotretinoin_current",
    "isotretinoin_recent",
    "neurotoxin_recent",
    "filler_recent",
    "topical_retinoid_recent",
    "recent_resurfacing",
    "nsaid_or_supplement_recent",
    "anticoagulant_prescribed",
    "immunosuppression",
    "diabetes_uncontrolled",
    "keloid_history",
    "hypertrophic_scar_tendency",
    "raised_scar_target",
    "radiation_recent_area",
    "skin_cancer_history_area",
    "autoimmune_collagen_vascular",
    "bloodborne_infection",
    "bdd_concern",
    "bleeding_disorder",
    "prp_platelet_disorder",
    "implanted_electronic_device",
    "metal_implant_in_area",
    "gold_allergy",
    "stainless_steel_allergy",
    "metal_allergy_nickel",
    "topical_anaesthetic_allergy",
    "fitzpatrick_high_pih_risk",
    "hsv_history_prophylaxis",
    "diabetes_controlled",
    "koebner_prone_condition",
    "tattoo_pmu_in_area",
    "depth_exceeds_device_evaluated",
    "smoker",
]

MODALITIES: Final[tuple[Modality, ...]] = get_args(Modality)
# Least restrictive first: the index of a decision is its rank.
DECISIONS: Final[tuple[Decision, ...]] = get_args(Decision)
TREATMENT_AREAS: Final[tuple[TreatmentArea, ...]] = get_args(TreatmentArea)
CONCERNS: Final[tuple[Concern, ...]] = get_args(Concern)
NEEDLE_MATERIALS: Final[tuple[NeedleMaterial, ...]] = get_args(NeedleMaterial)
DIABETES_STATES: Final[tuple[DiabetesState, ...]] = get_args(DiabetesState)
ISOTRETINOIN_STATES: Final[tuple[IsotretinoinState, ...]] = get_args(IsotretinoinState)
FLAG_CODES: Final[tuple[FlagCode, ...]] = get_args(FlagCode)

DECISION_LABELS: Final[dict[str, str]] = {
    "proceed": "Proceed",
    "proceed_with_caution": "Proceed with caution",
    "defer": "Defer",
    "refer": "Refer",
    "decline": "Decline",
}

MODALITY_LABELS: Final[dict[str, str]] = {
    "microneedling": "Microneedling",
    "rf_microneedling": "Radiofrequency microneedling",
    "prp_microneedling": "Microneedling with PRP",
}
# Each treatment area is a zone of the same name, with the zone's one label (clinical/vocabulary.py).
TREATMENT_AREA_LABELS: Final[dict[str, str]] = {area: ZONE_LABELS[area] for area in TREATMENT_AREAS}
CONCERN_LABELS: Final[dict[str, str]] = {
    "fine_lines_wrinkles": "Fine lines and wrinkles",
    "atrophic_acne_scars": "Atrophic (pitted) acne scars",
    "raised_scars": "Raised (hypertrophic or keloid) scars",
    "enlarged_pores": "Enlarged pores",
    "texture_dullness": "Texture and dullness",
    "laxity": "Laxity",
    "pigmentation": "Pigmentation",
}
NEEDLE_MATERIAL_LABELS: Final[dict[str, str]] = {
    "stainless_steel": "Stainless steel",
    "gold_plated": "Gold-plated",
    "other": "Other",
}
DIABETES_LABELS: Final[dict[str, str]] = {
    "none": "No diabetes",
    "controlled": "Controlled",
    "uncontrolled": "Uncontrolled",
}
ISOTRETINOIN_LABELS: Final[dict[str, str]] = {
    "never": "Never taken",
    "current": "Taking it now",
    "stopped": "Stopped",
}

FLAG_TITLES: Final[dict[str, str]] = {
    "under_age": "Under the minimum age",
    "pregnancy": "Pregnant",
    "breastfeeding": "Breastfeeding",
    "active_infection_area": "Active infection in the area",
    "active_hsv_lesion": "Active cold sore",
    "active_inflammatory_acne": "Active inflammatory acne",
    "inflammatory_dermatosis_flare": "Eczema, psoriasis or rosacea flare",
    "sunburn_recent": "Recent sunburn or tan",
    "isotretinoin_current": "Taking isotretinoin",
    "isotretinoin_recent": "Isotretinoin stopped recently",
    "neurotoxin_recent": "Recent neurotoxin",
    "filler_recent": "Recent filler in the area",
    "topical_retinoid_recent": "Recent retinoid or acid",
    "recent_resurfacing": "Recent peel, laser or resurfacing",
    "nsaid_or_supplement_recent": "Recent NSAID or blood-thinning supplement",
    "anticoagulant_prescribed": "Prescribed anticoagulant",
    "immunosuppression": "Immunosuppression",
    "diabetes_uncontrolled": "Uncontrolled diabetes",
    "keloid_history": "History of keloids",
    "hypertrophic_scar_tendency": "Hypertrophic scarring tendency",
    "raised_scar_target": "Raised scars as the target",
    "radiation_recent_area": "Radiotherapy to the area",
    "skin_cancer_history_area": "Skin cancer or suspicious lesion in the area",
    "autoimmune_collagen_vascular": "Autoimmune or collagen vascular disease",
    "bloodborne_infection": "Blood-borne infection (PRP)",
    "bdd_concern": "Expectations or body-image concern",
    "bleeding_disorder": "Bleeding or clotting disorder",
    "prp_platelet_disorder": "Platelet disorder (PRP)",
    "implanted_electronic_device": "Implanted electronic device (RF)",
    "metal_implant_in_area": "Metal implant in the area (RF)",
    "gold_allergy": "Gold allergy with gold-plated tips",
    "stainless_steel_allergy": "Stainless-steel allergy",
    "metal_allergy_nickel": "Nickel allergy",
    "topical_anaesthetic_allergy": "Topical anaesthetic allergy",
    "fitzpatrick_high_pih_risk": "Higher pigmentation risk (Fitzpatrick)",
    "hsv_history_prophylaxis": "Cold-sore history: antiviral cover",
    "diabetes_controlled": "Controlled diabetes",
    "koebner_prone_condition": "Koebner-prone skin condition",
    "tattoo_pmu_in_area": "Tattoo or permanent make-up in the area",
    "depth_exceeds_device_evaluated": "Depth beyond the device's evaluated range",
    "smoker": "Smoker",
}

_RANK: Final[dict[str, int]] = {decision: rank for rank, decision in enumerate(DECISIONS)}


def most_restrictive(decisions: Iterable[str]) -> Decision:
    """Return the most restrictive of the given decisions, or ``proceed`` when there are none."""
    result: Decision = "proceed"
    for decision in decisions:
        if decision not in _RANK:
            raise ValueError(f"unknown decision {decision!r}; expected one of {', '.join(DECISIONS)}")
        if _RANK[decision] > _RANK[result]:
            result = DECISIONS[_RANK[decision]]
    return result


@dataclass(frozen=True)
class Policy:
    """The clinic's editable screening settings; the defaults are those of docs/screening.md."""

    min_age: int = 18
    isotretinoin_washout_days: int = 180
    neurotoxin_interval_days: int = 14
    filler_interval_days: int = 14
    retinoid_window_days: int = 5
    resurfacing_interval_days: int = 28
    sunburn_window_days: int = 14
    prp_nsaid_window_days: int = 7
    pih_risk_min_fitzpatrick: int = 4

    def __post_init__(self) -> None:
        """Refuse values that would make a window or threshold meaningless."""
        for setting in fields(self):
            _check_policy_value(setting.name, getattr(self, setting.name))

    def as_dict(self) -> dict[str, int]:
        """Return the settings as a plain mapping, in the order of the spec's table."""
        return {setting.name: getattr(self, setting.name) for setting in fields(self)}

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> Policy:
        """Build a policy from stored settings; missing keys keep their defaults."""
        known = {setting.name for setting in fields(cls)}
        for key in mapping:
            if key not in known:
                raise ValueError(f"unknown policy setting {key!r}")
        values: dict[str, int] = {}
        for key, value in mapping.items():
            values[key] = _check_policy_value(key, value)
        return cls(**values)


def _check_policy_value(name: str, value: object) -> int:
    # bool is an int subclass, and True silently meaning "1 day" would be a nasty surprise.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"policy setting {name!r} must be a whole number, 0 or more (got {value!r})")
    return value


POLICY_SETTINGS: Final[tuple[str, ...]] = tuple(setting.name for setting in fields(Policy))

POLICY_LABELS: Final[dict[str, str]] = {
    "min_age": "Minimum age (years)",
    "isotretinoin_washout_days": "Wait after stopping isotretinoin (days)",
    "neurotoxin_interval_days": "Wait after neurotoxin (days)",
    "filler_interval_days": "Wait after filler in the area (days)",
    "retinoid_window_days": "Stop topical retinoids and acids before treatment (days)",
    "resurfacing_interval_days": "Wait after a peel, laser or resurfacing (days)",
    "sunburn_window_days": "Wait after sunburn or a heavy tan (days)",
    "prp_nsaid_window_days": "PRP: no NSAIDs or blood-thinning supplements before (days)",
    "pih_risk_min_fitzpatrick": "Pigmentation caution from Fitzpatrick type",
}

POLICY_SOURCE_RANGES: Final[dict[str, str]] = {
    "min_age": "18-22 years (clinics exclude under-18s; FDA-authorised uses are for adults 22 and over)",
    "isotretinoin_washout_days": "0-365 days (consensus 0; clinics 2, 3, 6 or 12 months)",
    "neurotoxin_interval_days": "7 days-6 months (most sources 2 weeks; others 2-4 weeks, 3 or 6 months)",
    "filler_interval_days": "7 days-12 months (most sources 2 weeks; others 6 or 12 months)",
    "retinoid_window_days": "1-7 days (24 hours, 2, 3, 3-5 or 5 days, or 1 week)",
    "resurfacing_interval_days": "14-90 days (peels or laser 2-4 weeks; any skin treatment 4 weeks; ablative 3 months)",
    "sunburn_window_days": "about 14 days (2 weeks in every source that gives a number)",
    "prp_nsaid_window_days": "2-7 days (48 hours, 2-3 days, 3-7 days; 1 week before RF)",
    "pih_risk_min_fitzpatrick": "types IV-VI (higher risk of pigmentation change and keloids)",
}

# Reasons quote a compact range in the clinic value's own unit; the long text above is for the settings page.
_REASON_RANGES: Final[dict[str, str]] = {
    "min_age": "sources range 18-22",
    "isotretinoin_washout_days": "sources range 0-365",
    "neurotoxin_interval_days": "sources range 7-180",
    "filler_interval_days": "sources range 7-365",
    "retinoid_window_days": "sources range 1-7",
    "resurfacing_interval_days": "sources range 14-90",
    "sunburn_window_days": "sources say about 14",
    "prp_nsaid_window_days": "sources range 2-7",
    "pih_risk_min_fitzpatrick": "sources: types IV-VI",
}

_DEFAULT_POLICY: Final[Policy] = Policy()


class IntakeError(ValueError):
    """A malformed intake; ``str()`` names the dotted field path and what is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Device:
    """The device that will be used: needle material and the deepest setting it was evaluated to."""

    needle_material: NeedleMaterial | None = None
    max_evaluated_depth_mm: float | None = None


@dataclass(frozen=True)
class Findings:
    """What the practitioner sees on the day of the consultation."""

    active_infection: bool = False
    active_cold_sore: bool = False
    active_inflammatory_acne: bool = False
    dermatosis_flare: bool = False
    suspicious_lesion: bool = False
    tattoo_or_pmu: bool = False
    sunburn_days_ago: int | None = None


@dataclass(frozen=True)
class History:
    """The patient's medical history as answered at consultation."""

    cold_sore_history: bool = False
    keloid_history: bool = False
    hypertrophic_scarring: bool = False
    koebner_condition: bool = False
    skin_cancer_in_area: bool = False
    radiotherapy_to_area: bool = False
    diabetes: DiabetesState = "none"
    immunosuppressed: bool = False
    autoimmune_collagen_vascular: bool = False
    bleeding_disorder: bool = False
    platelet_disorder: bool = False
    bloodborne_infection: bool = False
    implanted_electronic_device: bool = False
    metal_implant_in_area: bool = False
    smoker: bool = False
    expectations_concern: bool = False


@dataclass(frozen=True)
class Allergies:
    """Allergies that matter for needles and the products used with them."""

    gold: bool = False
    stainless_steel: bool = False
    nickel: bool = False
    topical_anaesthetic: bool = False


@dataclass(frozen=True)
class Medications:
    """Medicines and supplements, with days since last use where timing matters."""

    isotretinoin: IsotretinoinState = "never"
    isotretinoin_stopped_days_ago: int | None = None
    anticoagulant_prescribed: bool = False
    nsaid_or_supplement_days_ago: int | None = None
    topical_retinoid_or_acid_days_ago: int | None = None


@dataclass(frozen=True)
class RecentProcedures:
    """Days since other aesthetic procedures; ``None`` means never or unknown."""

    neurotoxin_days_ago: int | None = None
    filler_in_area_days_ago: int | None = None
    resurfacing_days_ago: int | None = None


@dataclass(frozen=True)
class Intake:
    """The answers to the screening questions, grouped as the consultation form groups them."""

    modality: Modality | None = None
    age: int | None = None
    fitzpatrick: int | None = None
    treatment_areas: tuple[TreatmentArea, ...] = ()
    concerns: tuple[Concern, ...] = ()
    device: Device = Device()
    requested_depth_mm: float | None = None
    pregnant: bool = False
    breastfeeding: bool = False
    findings: Findings = Findings()
    history: History = History()
    allergies: Allergies = Allergies()
    medications: Medications = Medications()
    recent_procedures: RecentProcedures = RecentProcedures()


def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _object(value: object, path: str, allowed: Iterable[str]) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise IntakeError(path, "must be an object")
    known = set(allowed)
    unknown = [str(key) for key in value if key not in known]
    if len(unknown) == 1:
        raise IntakeError(_path(path, unknown[0]), "unknown field")
    if unknown:
        raise IntakeError(path or "intake", f"unknown fields: {', '.join(unknown)}")
    return value


def _bool(data: Mapping[str, object], prefix: str, key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise IntakeError(_path(prefix, key), "must be true or false")
    return value


def _days(data: Mapping[str, object], prefix: str, key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise IntakeError(_path(prefix, key), "must be a whole number of days (0 or more)")
    return value


def _whole(data: Mapping[str, object], key: str, low: int, high: int) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise IntakeError(key, f"must be a whole number from {low} to {high}")
    return value


def _depth(data: Mapping[str, object], prefix: str, key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise IntakeError(_path(prefix, key), "must be a positive number of millimetres")
    return float(value)


def _choice(value: object, path: str, choices: tuple[str, ...]) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise IntakeError(path, f"must be one of {', '.join(choices)}")
    return value


def _optional_choice(data: Mapping[str, object], prefix: str, key: str, choices: tuple[str, ...]) -> Any:
    value = data.get(key)
    return None if value is None else _choice(value, _path(prefix, key), choices)


def _codes(data: Mapping[str, object], key: str, choices: tuple[str, ...]) -> tuple[Any, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise IntakeError(key, f"must be a list of codes from: {', '.join(choices)}")
    codes = [_choice(item, f"{key}[{index}]", choices) for index, item in enumerate(value)]
    # A code ticked twice means the same as once; keep the order the form gave.
    return tuple(dict.fromkeys(codes))


def _names(cls: type) -> tuple[str, ...]:
    return tuple(item.name for item in fields(cls))


def parse_intake(data: Mapping[str, Any]) -> Intake:
    """Check a JSON-like intake and turn it into an :class:`Intake`, or raise :class:`IntakeError`."""
    if not isinstance(data, Mapping):
        raise IntakeError("", "an intake must be a JSON object")
    root = _object(data, "", _names(Intake))

    device_data = _object(root.get("device"), "device", _names(Device))
    device = Device(
        needle_material=_optional_choice(device_data, "device", "needle_material", NEEDLE_MATERIALS),
        max_evaluated_depth_mm=_depth(device_data, "device", "max_evaluated_depth_mm"),
    )

    findings_data = _object(root.get("findings"), "findings", _names(Findings))
    findings = Findings(
        **{name: _bool(findings_data, "findings", name) for name in _names(Findings) if name != "sunburn_days_ago"},
        sunburn_days_ago=_days(findings_data, "findings", "sunburn_days_ago"),
    )

    history_data = _object(root.get("history"), "history", _names(History))
    diabetes: DiabetesState = _optional_choice(history_data, "history", "diabetes", DIABETES_STATES) or "none"
    history = History(
        **{name: _bool(history_data, "history", name) for name in _names(History) if name != "diabetes"},
        diabetes=diabetes,
    )

    allergies_data = _object(root.get("allergies"), "allergies", _names(Allergies))
    allergies = Allergies(**{name: _bool(allergies_data, "allergies", name) for name in _names(Allergies)})

    meds_data = _object(root.get("medications"), "medications", _names(Medications))
    isotretinoin: IsotretinoinState = (
        _optional_choice(meds_data, "medications", "isotretinoin", ISOTRETINOIN_STATES) or "never"
    )
    stopped_days_ago = _days(meds_data, "medications", "isotretinoin_stopped_days_ago")
    if stopped_days_ago is not None and isotretinoin != "stopped":
        # A stop date beside "never" or "current" is contradictory; guessing either way could hide a washout.
        raise IntakeError(
            "medications.isotretinoin_stopped_days_ago",
            'only allowed when medications.isotretinoin is "stopped"',
        )
    medications = Medications(
        isotretinoin=isotretinoin,
        isotretinoin_stopped_days_ago=stopped_days_ago,
        anticoagulant_prescribed=_bool(meds_data, "medications", "anticoagulant_prescribed"),
        nsaid_or_supplement_days_ago=_days(meds_data, "medications", "nsaid_or_supplement_days_ago"),
        topical_retinoid_or_acid_days_ago=_days(meds_data, "medications", "topical_retinoid_or_acid_days_ago"),
    )

    procedures_data = _object(root.get("recent_procedures"), "recent_procedures", _names(RecentProcedures))
    procedures = RecentProcedures(
        **{name: _days(procedures_data, "recent_procedures", name) for name in _names(RecentProcedures)}
    )

    return Intake(
        modality=_optional_choice(root, "", "modality", MODALITIES),
        age=_whole(root, "age", 0, 130),
        fitzpatrick=_whole(root, "fitzpatrick", 1, 6),
        treatment_areas=_codes(root, "treatment_areas", TREATMENT_AREAS),
        concerns=_codes(root, "concerns", CONCERNS),
        device=device,
        requested_depth_mm=_depth(root, "", "requested_depth_mm"),
        pregnant=_bool(root, "", "pregnant"),
        breastfeeding=_bool(root, "", "breastfeeding"),
        findings=findings,
        history=history,
        allergies=allergies,
        medications=medications,
        recent_procedures=procedures,
    )


@dataclass(frozen=True)
class Flag:
    """One finding raised by the screening, with its decision and a reason the practitioner can read."""

    code: FlagCode
    decision: Decision
    reason: str
    earliest_date: date | None = None

    @property
    def title(self) -> str:
        """Return the short human title of this flag."""
        return FLAG_TITLES[self.code]

    def to_dict(self) -> dict[str, str]:
        """Return the flag in the output JSON shape; ``earliest_date`` only when there is one."""
        result = {"code": self.code, "decision": self.decision, "reason": self.reason}
        if self.earliest_date is not None:
            result["earliest_date"] = self.earliest_date.isoformat()
        return result


@dataclass(frozen=True)
class ScreeningResult:
    """The overall decision and the flags behind it, most restrictive first."""

    decision: Decision
    flags: tuple[Flag, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        """Return the codes of the raised flags, in display order."""
        return tuple(flag.code for flag in self.flags)

    @property
    def rebook_from(self) -> date | None:
        """Return the latest ``earliest_date`` among the flags: the first date to re-book."""
        dates = [flag.earliest_date for flag in self.flags if flag.earliest_date is not None]
        return max(dates) if dates else None

    def to_dict(self) -> dict[str, Any]:
        """Return the result in exactly the output JSON shape of docs/screening.md."""
        return {"decision": self.decision, "flags": [flag.to_dict() for flag in self.flags]}


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    return "1 day ago" if days == 1 else f"{days} days ago"


def _mm(value: float) -> str:
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _fitzpatrick(value: int) -> str:
    return FITZPATRICK_ROMAN.get(value, str(value))


def screen(intake: Intake, policy: Policy = _DEFAULT_POLICY, on: date | None = None) -> ScreeningResult:
    """Screen one intake under a clinic policy; ``on`` is the consultation date, used for re-book dates."""
    if isinstance(on, datetime):
        on = on.date()
    modality = intake.modality
    is_prp = modality == "prp_microneedling"
    is_rf = modality == "rf_microneedling"
    findings, history, allergies = intake.findings, intake.history, intake.allergies
    meds, procedures = intake.medications, intake.recent_procedures
    needle = intake.device.needle_material
    flags: list[Flag] = []

    def add(code: FlagCode, decision: Decision, reason: str, earliest: date | None = None) -> None:
        flags.append(Flag(code, decision, reason, earliest))

    def window(code: FlagCode, days_ago: int | None, setting: str, what: str, noun: str, advice: str = "") -> None:
        limit: int = getattr(policy, setting)
        if days_ago is None or days_ago >= limit:
            return
        earliest = on + timedelta(days=limit - days_ago) if on is not None else None
        reason = f"{what} {_ago(days_ago)}; clinic {noun} is {limit} days ({_REASON_RANGES[setting]}).{advice}"
        add(code, "defer", reason, earliest)

    if intake.age is not None and intake.age < policy.min_age:
        add(
            "under_age",
            "decline",
            f"Age {intake.age} is below the clinic minimum of {policy.min_age} ({_REASON_RANGES['min_age']}).",
        )
    if intake.pregnant:
        add(
            "pregnancy",
            "defer",
            "Pregnant: defer until after the pregnancy; every source excludes it for lack of safety data.",
        )
    if intake.breastfeeding:
        add(
            "breastfeeding",
            "defer",
            "Breastfeeding: the SkinPen label lists nursing, so the clinic defers by default "
            "(one low-tier source disagrees).",
        )
    if findings.active_infection:
        add(
            "active_infection_area",
            "defer",
            "Active infection, open wound or irritated skin in the area: defer until healed.",
        )
    if findings.active_cold_sore:
        add(
            "active_hsv_lesion",
            "defer",
            "Cold sore present in or near the area: defer until fully healed; needling could spread the virus.",
        )
    if findings.active_inflammatory_acne:
        add(
            "active_inflammatory_acne",
            "defer",
            "Active inflammatory acne in the area: defer and get the acne under control first.",
        )
    if findings.dermatosis_flare:
        add(
            "inflammatory_dermatosis_flare",
            "defer",
            "Eczema, psoriasis, dermatitis or rosacea flaring in the area: defer until the skin is calm.",
        )
    window(
        "sunburn_recent",
        findings.sunburn_days_ago,
        "sunburn_window_days",
        "Sunburn or heavy tan",
        "window",
    )
    if meds.isotretinoin == "current":
        add(
            "isotretinoin_current",
            "defer",
            "Taking oral isotretinoin now: the SkinPen label contraindicates current use; "
            "defer unless a dermatologist leads a combined plan.",
        )
    if meds.isotretinoin == "stopped":
        window(
            "isotretinoin_recent",
            meds.isotretinoin_stopped_days_ago,
            "isotretinoin_washout_days",
            "Isotretinoin stopped",
            "washout",
        )
    window(
        "neurotoxin_recent",
        procedures.neurotoxin_days_ago,
        "neurotoxin_interval_days",
        "Neurotoxin injected",
        "interval",
    )
    window(
        "filler_recent",
        procedures.filler_in_area_days_ago,
        "filler_interval_days",
        "Filler in the area",
        "interval",
    )
    window(
        "topical_retinoid_recent",
        meds.topical_retinoid_or_acid_days_ago,
        "retinoid_window_days",
        "Topical retinoid or acid last used",
        "window",
    )
    window(
        "recent_resurfacing",
        procedures.resurfacing_days_ago,
        "resurfacing_interval_days",
        "Peel, laser or other resurfacing",
        "interval",
    )
    if is_prp:
        window(
            "nsaid_or_supplement_recent",
            meds.nsaid_or_supplement_days_ago,
            "prp_nsaid_window_days",
            "NSAID or blood-thinning supplement taken",
            "window before PRP",
            " If a doctor prescribed it, refer instead of pausing.",
        )

    if meds.anticoagulant_prescribed:
        add(
            "anticoagulant_prescribed",
            "refer",
            "Prescribed anticoagulant or antiplatelet: refer to the prescriber for advice before treatment; "
            "do not suggest stopping it."
            + (" Anticoagulation is a listed contraindication for PRP." if is_prp else ""),
        )
    if history.immunosuppressed:
        add(
            "immunosuppression",
            "refer",
            "Immunosuppressive illness or treatment: refer for specialist clearance (defer during chemotherapy).",
        )
    if history.diabetes == "uncontrolled":
        add(
            "diabetes_uncontrolled",
            "refer",
            "Uncontrolled diabetes slows healing and raises infection risk: refer for medical clearance.",
        )
    if history.keloid_history:
        add(
            "keloid_history",
            "refer",
            "History of keloids: refer for a dermatology assessment; needling may trigger new abnormal scars.",
        )
    if history.hypertrophic_scarring:
        add(
            "hypertrophic_scar_tendency",
            "refer",
            "Tendency to hypertrophic scarring: refer for a dermatology assessment before needling.",
        )
    if "raised_scars" in intake.concerns:
        add(
            "raised_scar_target",
            "refer",
            "Wants raised (hypertrophic or keloid) scars treated: outside the usual indication, "
            "which is atrophic scars; refer for a dermatology plan.",
        )
    if history.radiotherapy_to_area:
        add(
            "radiation_recent_area",
            "refer",
            "Radiotherapy to the treatment area: refer for oncology or dermatology clearance "
            "and keep off the irradiated field.",
        )
    if history.skin_cancer_in_area or findings.suspicious_lesion:
        if history.skin_cancer_in_area and findings.suspicious_lesion:
            lead = "Skin cancer history and a suspicious or changing lesion in the area"
        elif history.skin_cancer_in_area:
            lead = "History of skin cancer in the area"
        else:
            lead = "Suspicious or changing lesion in the area"
        add(
            "skin_cancer_history_area",
            "refer",
            f"{lead}: refer for diagnosis or clearance; do not needle over the lesion.",
        )
    if history.autoimmune_collagen_vascular:
        add(
            "autoimmune_collagen_vascular",
            "refer",
            "Lupus, scleroderma or other autoimmune or collagen vascular disease: refer for medical clearance.",
        )
    if is_prp and history.bloodborne_infection:
        add(
            "bloodborne_infection",
            "refer",
            "Blood-borne infection (HIV, hepatitis B or C) and PRP handles blood: "
            "refer under the clinic's medical policy.",
        )
    if history.expectations_concern:
        add(
            "bdd_concern",
            "refer",
            "Possible body dysmorphic disorder or unrealistic expectations: refer for assessment before treating.",
        )

    if history.bleeding_disorder:
        if is_prp:
            add("bleeding_disorder", "decline", "Bleeding or clotting disorder: PRP is contraindicated; decline PRP.")
        else:
            add("bleeding_disorder", "refer", "Bleeding or clotting disorder: refer to haematology before needling.")
    if is_prp and history.platelet_disorder:
        add(
            "prp_platelet_disorder",
            "decline",
            "Low platelets or platelet dysfunction: PRP is contraindicated; decline PRP.",
        )
    if is_rf and history.implanted_electronic_device:
        add(
            "implanted_electronic_device",
            "decline",
            "Pacemaker, ICD or other implanted electronics: RF energy can interfere with the device; decline RF.",
        )
    if is_rf and history.metal_implant_in_area:
        add(
            "metal_implant_in_area",
            "decline",
            "Metal implant in the treatment area: decline RF over it; change the area or the modality.",
        )
    if allergies.gold and needle == "gold_plated":
        add("gold_allergy", "decline", "Gold allergy and this device has gold-plated tips: decline with this device.")
    stainless_allergy = allergies.stainless_steel and needle == "stainless_steel"
    if stainless_allergy:
        add(
            "stainless_steel_allergy",
            "decline",
            "Documented reaction to stainless steel and this device has stainless-steel needles: "
            "decline with this device.",
        )
    if allergies.nickel and needle == "stainless_steel" and not stainless_allergy:
        add(
            "metal_allergy_nickel",
            "proceed_with_caution",
            "Nickel allergy: stainless-steel needles contain some nickel, though reactions to microneedles are rarely "
            "reported; discuss and document.",
        )
    if allergies.topical_anaesthetic:
        add(
            "topical_anaesthetic_allergy",
            "proceed_with_caution",
            "Allergy to topical anaesthetic: treat without that product.",
        )
    if intake.fitzpatrick is not None and intake.fitzpatrick >= policy.pih_risk_min_fitzpatrick:
        add(
            "fitzpatrick_high_pih_risk",
            "proceed_with_caution",
            f"Fitzpatrick type {_fitzpatrick(intake.fitzpatrick)} (clinic caution from type "
            f"{_fitzpatrick(policy.pih_risk_min_fitzpatrick)}; {_REASON_RANGES['pih_risk_min_fitzpatrick']}): "
            "higher risk of pigmentation change; use conservative depth and sun protection, "
            "and consider a test patch.",
        )
    if history.cold_sore_history:
        add(
            "hsv_history_prophylaxis",
            "proceed_with_caution",
            "History of cold sores: antiviral prophylaxis from a prescriber is needed before treatment.",
        )
    if history.diabetes == "controlled":
        add(
            "diabetes_controlled",
            "proceed_with_caution",
            "Controlled diabetes: healing may be slower; note a healing plan (some sources exclude any diabetes).",
        )
    if history.koebner_condition:
        add(
            "koebner_prone_condition",
            "proceed_with_caution",
            "Psoriasis, vitiligo or lichen planus: needling can seed new lesions (Koebner phenomenon); "
            "warn and document.",
        )
    if findings.tattoo_or_pmu:
        add(
            "tattoo_pmu_in_area",
            "proceed_with_caution",
            "Tattoo or permanent make-up in the area: do not needle over the pigment.",
        )
    requested, evaluated = intake.requested_depth_mm, intake.device.max_evaluated_depth_mm
    if requested is not None and evaluated is not None and requested > evaluated:
        add(
            "depth_exceeds_device_evaluated",
            "proceed_with_caution",
            f"Requested depth {_mm(requested)} mm is beyond the {_mm(evaluated)} mm this device was evaluated to: "
            "reduce the depth or document why.",
        )
    if history.smoker:
        add("smoker", "proceed_with_caution", "Smoker: healing may be slower; proceed with caution.")

    ordered = tuple(sorted(flags, key=lambda flag: (-_RANK[flag.decision], flag.code)))
    return ScreeningResult(most_restrictive(flag.decision for flag in ordered), ordered)


def run_cli(text: str, policy: Policy, on: date) -> tuple[int, str]:
    """Screen one intake or a list of intakes given as JSON text; return (exit code, text to print)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return 2, f"error: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
    if isinstance(data, list):
        outputs: list[dict[str, Any]] = []
        for index, item in enumerate(data):
            try:
                outputs.append(screen(parse_intake(item), policy, on).to_dict())
            except IntakeError as error:
                return 2, f"error: intake[{index}]: {error}"
        return 0, json.dumps(outputs, indent=2)
    if not isinstance(data, dict):
        return 2, "error: expected an intake (a JSON object) or a list of intakes"
    try:
        intake = parse_intake(data)
    except IntakeError as error:
        return 2, f"error: {error}"
    return 0, json.dumps(screen(intake, policy, on).to_dict(), indent=2)
