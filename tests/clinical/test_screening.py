"""Tests for the pre-treatment screening engine against the rules of docs/screening.md."""

from __future__ import annotations

import ast
import copy
import json
from dataclasses import FrozenInstanceError, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from practitioner.clinical import screening
from practitioner.clinical.screening import (
    CONCERNS,
    DECISION_LABELS,
    DECISIONS,
    DIABETES_STATES,
    FLAG_CODES,
    FLAG_TITLES,
    ISOTRETINOIN_STATES,
    MODALITIES,
    NEEDLE_MATERIALS,
    POLICY_LABELS,
    POLICY_SOURCE_RANGES,
    TREATMENT_AREAS,
    Flag,
    Intake,
    IntakeError,
    Medications,
    Policy,
    ScreeningResult,
    most_restrictive,
    parse_intake,
    run_cli,
    screen,
)

EXAMPLES_PATH = Path(__file__).with_name("screening-examples.json")
EXAMPLES: list[dict[str, Any]] = json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))
ON = date(2026, 10, 25)

# A healthy plain-microneedling intake that raises no flag; every case below changes one thing.
BASE: dict[str, Any] = {
    "modality": "microneedling",
    "age": 40,
    "fitzpatrick": 2,
    "treatment_areas": ["cheeks"],
    "concerns": ["texture_dullness"],
    "device": {"needle_material": "stainless_steel", "max_evaluated_depth_mm": 1.5},
    "requested_depth_mm": 1.0,
}

def intake_with(**changes: Any) -> dict[str, Any]:
    """Return BASE with dotted paths set (``history__smoker=True`` sets history.smoker)."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        keys = dotted.split("__")
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return data


def run(data: dict[str, Any], policy: Policy = Policy(), on: date | None = None) -> ScreeningResult:
    """Parse and screen one intake."""
    return screen(parse_intake(data), policy, on)


def flag(result: ScreeningResult, code: str) -> Flag | None:
    """Return the flag with that code, or None."""
    matches = [item for item in result.flags if item.code == code]
    assert len(matches) <= 1, f"{code} raised more than once"
    return matches[0] if matches else None


def test_base_intake_proceeds_with_no_flags() -> None:
    result = run(BASE)
    assert result.decision == "proceed"
    assert result.flags == ()
    assert result.to_dict() == {"decision": "proceed", "flags": []}


def test_empty_intake_proceeds() -> None:
    assert run({}).to_dict() == {"decision": "proceed", "flags": []}


# --- Flags that depend only on one answer, whatever the modality --------------------------------

SIMPLE_FLAGS: list[tuple[str, Any, str, str]] = [
    ("pregnant", True, "pregnancy", "defer"),
    ("breastfeeding", True, "breastfeeding", "defer"),
    ("findings__active_infection", True, "active_infection_area", "defer"),
    ("findings__active_cold_sore", True, "active_hsv_lesion", "defer"),
    ("findings__active_inflammatory_acne", True, "active_inflammatory_acne", "defer"),
    ("findings__dermatosis_flare", True, "inflammatory_dermatosis_flare", "defer"),
    ("medications__isotretinoin", "current", "isotretinoin_current", "defer"),
    ("medications__anticoagulant_prescribed", True, "anticoagulant_prescribed", "refer"),
    ("history__immunosuppressed", True, "immunosuppression", "refer"),
    ("history__diabetes", "uncontrolled", "diabetes_uncontrolled", "refer"),
    ("history__keloid_history", True, "keloid_history", "refer"),
    ("history__hypertrophic_scarring", True, "hypertrophic_scar_tendency", "refer"),
    ("concerns", ["atrophic_acne_scars", "raised_scars"], "raised_scar_target", "refer"),
    ("history__radiotherapy_to_area", True, "radiation_recent_area", "refer"),
    ("history__skin_cancer_in_area", True, "skin_cancer_history_area", "refer"),
    ("findings__suspicious_lesion", True, "skin_cancer_history_area", "refer"),
    ("history__autoimmune_collagen_vascular", True, "autoimmune_collagen_vascular", "refer"),
    ("history__expectations_concern", True, "bdd_concern", "refer"),
    ("allergies__topical_anaesthetic", True, "topical_anaesthetic_allergy", "proceed_with_caution"),
    ("fitzpatrick", 4, "fitzpatrick_high_pih_risk", "proceed_with_caution"),
    ("history__cold_sore_history", True, "hsv_history_prophylaxis", "proceed_with_caution"),
    ("history__diabetes", "controlled", "diabetes_controlled", "proceed_with_caution"),
    ("history__koebner_condition", True, "koebner_prone_condition", "proceed_with_caution"),
    ("findings__tattoo_or_pmu", True, "tattoo_pmu_in_area", "proceed_with_caution"),
    ("requested_depth_mm", 2.0, "depth_exceeds_device_evaluated", "proceed_with_caution"),
    ("history__smoker", True, "smoker", "proceed_with_caution"),
    ("age", 17, "under_age", "decline"),
    ("allergies__gold", True, "gold_allergy", "decline"),
    ("allergies__stainless_steel", True, "stainless_steel_allergy", "decline"),
    ("allergies__nickel", True, "metal_allergy_nickel", "proceed_with_caution"),
]
# Gold allergy only matters with gold-plated tips, so that row swaps the needle.
_DEVICE_FOR = {"gold_allergy": "gold_plated"}


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize(("path", "value", "code", "decision"), SIMPLE_FLAGS, ids=[row[0] for row in SIMPLE_FLAGS])
def test_simple_flag_raised_for_every_modality(path: str, value: Any, code: str, decision: str, modality: str) -> None:
    data = intake_with(modality=modality, **{path: value})
    if code in _DEVICE_FOR:
        data["device"]["needle_material"] = _DEVICE_FOR[code]
    result = run(data)
    raised = flag(result, code)
    assert raised is not None, f"{code} not raised"
    assert raised.decision == decision
    assert result.codes == (code,), "one answer should raise exactly one flag"
    assert result.decision == decision
    assert raised.reason and raised.reason.endswith(".")
    assert raised.earliest_date is None


NOT_RAISED: list[tuple[str, Any]] = [
    ("pregnant", False),
    ("breastfeeding", False),
    ("findings__active_infection", False),
    ("medications__isotretinoin", "never"),
    ("medications__isotretinoin", "stopped"),
    ("history__diabetes", "none"),
    ("concerns", ["atrophic_acne_scars", "fine_lines_wrinkles", "laxity", "pigmentation", "enlarged_pores"]),
    ("fitzpatrick", 3),
    ("fitzpatrick", 1),
    ("age", 18),
    ("age", 90),
    ("requested_depth_mm", 1.5),
    ("requested_depth_mm", None),
    ("device__max_evaluated_depth_mm", None),
    ("history__smoker", False),
    ("allergies__gold", True),
    ("allergies__stainless_steel", False),
]


@pytest.mark.parametrize(("path", "value"), NOT_RAISED, ids=[f"{p}={v}" for p, v in NOT_RAISED])
def test_answer_that_raises_nothing(path: str, value: Any) -> None:
    assert run(intake_with(**{path: value})).flags == ()


@pytest.mark.parametrize(
    ("fitzpatrick", "raised"), [(1, False), (2, False), (3, False), (4, True), (5, True), (6, True), (None, False)]
)
def test_fitzpatrick_threshold(fitzpatrick: int | None, raised: bool) -> None:
    assert (flag(run(intake_with(fitzpatrick=fitzpatrick)), "fitzpatrick_high_pih_risk") is not None) is raised


@pytest.mark.parametrize(("age", "raised"), [(0, True), (17, True), (18, False), (19, False), (None, False)])
def test_under_age_threshold(age: int | None, raised: bool) -> None:
    assert (flag(run(intake_with(age=age)), "under_age") is not None) is raised


def test_under_age_reason_quotes_age_and_minimum() -> None:
    reason = flag(run(intake_with(age=16)), "under_age")
    assert reason is not None
    assert "16" in reason.reason and "18" in reason.reason and "18-22" in reason.reason


def test_skin_cancer_and_suspicious_lesion_raise_one_flag() -> None:
    result = run(intake_with(history__skin_cancer_in_area=True, findings__suspicious_lesion=True))
    assert result.codes == ("skin_cancer_history_area",)


@pytest.mark.parametrize(
    ("requested", "evaluated", "raised"),
    [
        (2.0, 1.5, True),
        (1.51, 1.5, True),
        (1.5, 1.5, False),
        (1.0, 1.5, False),
        (2.0, None, False),
        (None, 1.5, False),
        (None, None, False),
        (3, 2, True),
    ],
)
def test_depth_exceeds_device_evaluated_only_when_both_known(
    requested: float | None, evaluated: float | None, raised: bool
) -> None:
    result = run(intake_with(requested_depth_mm=requested, device__max_evaluated_depth_mm=evaluated))
    assert (flag(result, "depth_exceeds_device_evaluated") is not None) is raised


def test_depth_reason_quotes_both_depths() -> None:
    raised = flag(run(intake_with(requested_depth_mm=2.0)), "depth_exceeds_device_evaluated")
    assert raised is not None
    assert "2.0 mm" in raised.reason and "1.5 mm" in raised.reason


# --- Needle-material rules --------------------------------------------------------------------------

METAL_CASES: list[tuple[dict[str, bool], str | None, tuple[str, ...]]] = [
    ({"gold": True}, "gold_plated", ("gold_allergy",)),
    ({"gold": True}, "stainless_steel", ()),
    ({"gold": True}, "other", ()),
    ({"gold": True}, None, ()),
    ({"stainless_steel": True}, "stainless_steel", ("stainless_steel_allergy",)),
    ({"stainless_steel": True}, "gold_plated", ()),
    ({"stainless_steel": True}, None, ()),
    ({"nickel": True}, "stainless_steel", ("metal_allergy_nickel",)),
    ({"nickel": True}, "gold_plated", ()),
    ({"nickel": True}, "other", ()),
    ({"nickel": True}, None, ()),
    ({"nickel": True, "stainless_steel": True}, "stainless_steel", ("stainless_steel_allergy",)),
    ({"nickel": True, "stainless_steel": True}, "gold_plated", ()),
    ({"nickel": True, "gold": True}, "gold_plated", ("gold_allergy",)),
    ({"nickel": True, "gold": True}, "stainless_steel", ("metal_allergy_nickel",)),
]


@pytest.mark.parametrize(("allergies", "material", "expected"), METAL_CASES)
def test_metal_allergies_depend_on_needle_material(
    allergies: dict[str, bool], material: str | None, expected: tuple[str, ...]
) -> None:
    data = intake_with(allergies=allergies, device__needle_material=material)
    assert run(data).codes == expected


# --- Modality-only rules ----------------------------------------------------------------------------

MODALITY_RULES: list[tuple[str, str, dict[str, str]]] = [
    ("history__bloodborne_infection", "bloodborne_infection", {"prp_microneedling": "refer"}),
    ("history__platelet_disorder", "prp_platelet_disorder", {"prp_microneedling": "decline"}),
    ("medications__nsaid_or_supplement_days_ago", "nsaid_or_supplement_recent", {"prp_microneedling": "defer"}),
    ("history__implanted_electronic_device", "implanted_electronic_device", {"rf_microneedling": "decline"}),
    ("history__metal_implant_in_area", "metal_implant_in_area", {"rf_microneedling": "decline"}),
    (
        "history__bleeding_disorder",
        "bleeding_disorder",
        {"prp_microneedling": "decline", "microneedling": "refer", "rf_microneedling": "refer"},
    ),
]


@pytest.mark.parametrize("modality", [*MODALITIES, None])
@pytest.mark.parametrize(("path", "code", "decisions"), MODALITY_RULES, ids=[row[1] for row in MODALITY_RULES])
def test_modality_only_rules(path: str, code: str, decisions: dict[str, str], modality: str | None) -> None:
    # The NSAID row takes a day count; 0 ("today") is inside any non-zero window.
    value: Any = 0 if path.endswith("days_ago") else True
    result = run(intake_with(modality=modality, **{path: value}))
    expected = decisions.get(modality) if modality is not None else decisions.get("microneedling")
    if expected is None:
        assert result.flags == (), f"{code} should not be raised for {modality}"
        assert result.decision == "proceed"
    else:
        raised = flag(result, code)
        assert raised is not None
        assert raised.decision == expected
        assert result.codes == (code,)
        assert result.decision == expected
    

# --- Window flags -----------------------------------------------------------------------------------

# (days path, flag code, policy setting, extra answers the flag needs)
WINDOW_FLAGS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("findings__sunburn_days_ago", "sunburn_recent", "sunburn_window_days", {}),
    (
        "medications__isotretinoin_stopped_days_ago",
        "isotretinoin_recent",
        "isotretinoin_washout_days",
        {"medications__isotretinoin": "stopped"},
    ),
    ("recent_procedures__neurotoxin_days_ago", "neurotoxin_recent", "neurotoxin_interval_days", {}),
    ("recent_procedures__filler_in_area_days_ago", "filler_recent", "filler_interval_days", {}),
    ("medications__topical_retinoid_or_acid_days_ago", "topical_retinoid_recent", "retinoid_window_days", {}),
    ("recent_procedures__resurfacing_days_ago", "recent_resurfacing", "resurfacing_interval_days", {}),
    (
        "medications__nsaid_or_supplement_days_ago",
        "nsaid_or_supplement_recent",
        "prp_nsaid_window_days",
        {"modality": "prp_microneedling"},
    ),
]
WINDOW_IDS = [row[1] for row in WINDOW_FLAGS]
EXPECTED_WINDOWS = {
    "sunburn_window_days": 14,
    "isotretinoin_washout_days": 180,
    "neurotoxin_interval_days": 14,
    "filler_interval_days": 14,
    "retinoid_window_days": 5,
    "resurfacing_interval_days": 28,
    "prp_nsaid_window_days": 7,
}


@pytest.mark.parametrize(("path", "code", "setting", "extra"), WINDOW_FLAGS, ids=WINDOW_IDS)
@pytest.mark.parametrize("offset", [-1, 0, 1], ids=["window-1", "window", "window+1"])
def test_window_boundaries(path: str, code: str, setting: str, extra: dict[str, Any], offset: int) -> None:
    window = getattr(Policy(), setting)
    assert window == EXPECTED_WINDOWS[setting]
    days_ago = window + offset
    result = run(intake_with(**extra, **{path: days_ago}), on=ON)
    raised = flag(result, code)
    if offset < 0:
        assert raised is not None, f"{code} not raised at {days_ago} days with a {window}-day window"
        assert raised.decision == "defer"
        assert raised.earliest_date == ON + timedelta(days=1)
        assert result.decision == "defer"
    else:
        assert raised is None
        assert result.decision == "proceed"


@pytest.mark.parametrize(("path", "code", "setting", "extra"), WINDOW_FLAGS, ids=WINDOW_IDS)
def test_window_day_zero_and_unknown(path: str, code: str, setting: str, extra: dict[str, Any]) -> None:
    window = getattr(Policy(), setting)
    today = flag(run(intake_with(**extra, **{path: 0}), on=ON), code)
    assert today is not None
    assert today.earliest_date == ON + timedelta(days=window)
    assert "today" in today.reason
    assert flag(run(intake_with(**extra, **{path: None}), on=ON), code) is None
    assert run(intake_with(**extra)).flags == ()


@pytest.mark.parametrize(("path", "code", "setting", "extra"), WINDOW_FLAGS, ids=WINDOW_IDS)
def test_window_reason_quotes_days_window_and_sources(
    path: str, code: str, setting: str, extra: dict[str, Any]
) -> None:
    window = getattr(Policy(), setting)
    days_ago = window - 2 if window > 2 else 1
    raised = flag(run(intake_with(**extra, **{path: days_ago})), code)
    assert raised is not None
    assert f"{days_ago} day" in raised.reason
    assert f"{window} days" in raised.reason
    assert "sources" in raised.reason


@pytest.mark.parametrize(("path", "code", "setting", "extra"), WINDOW_FLAGS, ids=WINDOW_IDS)
@pytest.mark.parametrize("days_ago", [0, 1, 3, 4])
def test_earliest_date_is_first_clear_day(
    path: str, code: str, setting: str, extra: dict[str, Any], days_ago: int
) -> None:
    window = getattr(Policy(), setting)
    raised = flag(run(intake_with(**extra, **{path: days_ago}), on=ON), code)
    if days_ago >= window:
        assert raised is None
        return
    assert raised is not None
    assert raised.earliest_date == ON + timedelta(days=window - days_ago)
    # On that date the same event is exactly `window` days old, so the flag must be gone; a day earlier it is not.
    assert raised.earliest_date is not None
    elapsed = (raised.earliest_date - ON).days
    assert flag(run(intake_with(**extra, **{path: days_ago + elapsed})), code) is None
    assert flag(run(intake_with(**extra, **{path: days_ago + elapsed - 1})), code) is not None


@pytest.mark.parametrize(("path", "code", "setting", "extra"), WINDOW_FLAGS, ids=WINDOW_IDS)
def test_earliest_date_absent_without_consultation_date(
    path: str, code: str, setting: str, extra: dict[str, Any]
) -> None:
    result = run(intake_with(**extra, **{path: 0}))
    raised = flag(result, code)
    assert raised is not None and raised.earliest_date is None
    assert "earliest_date" not in raised.to_dict()
    assert result.rebook_from is None


@pytest.mark.parametrize(("path", "code", "setting", "extra"), WINDOW_FLAGS, ids=WINDOW_IDS)
def test_policy_window_changes_outcome(path: str, code: str, setting: str, extra: dict[str, Any]) -> None:
    window = getattr(Policy(), setting)
    data = intake_with(**extra, **{path: window})
    assert flag(run(data), code) is None
    longer = Policy.from_mapping({setting: window + 1})
    raised = flag(run(data, longer, ON), code)
    assert raised is not None and raised.earliest_date == ON + timedelta(days=1)
    assert f"{window + 1} days" in raised.reason
    # A zero window switches the rule off, even for something done today.
    assert flag(run(intake_with(**extra, **{path: 0}), Policy.from_mapping({setting: 0})), code) is None


def test_isotretinoin_washout_of_90_days_clears_a_120_day_stop() -> None:
    data = intake_with(medications={"isotretinoin": "stopped", "isotretinoin_stopped_days_ago": 120})
    assert run(data).decision == "defer"
    assert run(data, Policy(isotretinoin_washout_days=90)).decision == "proceed"


def test_isotretinoin_recent_needs_stopped_state() -> None:
    stopped_unknown = intake_with(medications={"isotretinoin": "stopped"})
    assert run(stopped_unknown).flags == ()
    current = run(intake_with(medications={"isotretinoin": "current"}))
    assert current.codes == ("isotretinoin_current",)


@pytest.mark.parametrize(("state", "expected"), [("current", ("isotretinoin_current",)), ("never", ())])
def test_stop_days_ignored_unless_stopped_when_built_directly(state: str, expected: tuple[str, ...]) -> None:
    medications = Medications(isotretinoin=state, isotretinoin_stopped_days_ago=30)  # type: ignore[arg-type]
    intake = Intake(medications=medications)
    assert screen(intake).codes == expected


@pytest.mark.parametrize("modality", ["microneedling", "rf_microneedling"])
def test_nsaid_window_ignored_outside_prp(modality: str) -> None:
    data = intake_with(modality=modality, medications__nsaid_or_supplement_days_ago=0)
    assert run(data).flags == ()


def test_other_policy_thresholds_change_outcome() -> None:
    assert run(intake_with(age=20)).decision == "proceed"
    assert run(intake_with(age=20), Policy(min_age=21)).codes == ("under_age",)
    assert run(intake_with(fitzpatrick=4), Policy(pih_risk_min_fitzpatrick=5)).flags == ()
    assert run(intake_with(fitzpatrick=3), Policy(pih_risk_min_fitzpatrick=3)).codes == ("fitzpatrick_high_pih_risk",)


# --- The spec's output example, reasons and ordering ------------------------------------------------


def test_spec_output_example_reproduced_exactly() -> None:
    data = {"medications": {"isotretinoin": "stopped", "isotretinoin_stopped_days_ago": 120}}
    assert run(data, on=date(2026, 10, 25)).to_dict() == {
        "decision": "defer",
        "flags": [
            {
                "code": "isotretinoin_recent",
                "decision": "defer",
                "reason": "Isotretinoin stopped 120 days ago; clinic washout is 180 days (sources range 0-365).",
                "earliest_date": "2026-12-24",
            }
        ],
    }


def everything() -> dict[str, Any]:
    """An intake that raises as many flags as one PRP intake can."""
    return {
        "modality": "prp_microneedling",
        "age": 16,
        "fitzpatrick": 6,
        "treatment_areas": ["cheeks"],
        "concerns": ["raised_scars"],
        "device": {"needle_material": "stainless_steel", "max_evaluated_depth_mm": 1.5},
        "requested_depth_mm": 2.5,
        "pregnant": True,
        "breastfeeding": True,
        "findings": {
            "active_infection": True,
            "active_cold_sore": True,
            "active_inflammatory_acne": True,
            "dermatosis_flare": True,
            "suspicious_lesion": True,
            "tattoo_or_pmu": True,
            "sunburn_days_ago": 2,
        },
        "history": {
            "cold_sore_history": True,
            "keloid_history": True,
            "hypertrophic_scarring": True,
            "koebner_condition": True,
            "skin_cancer_in_area": True,
            "radiotherapy_to_area": True,
            "diabetes": "uncontrolled",
            "immunosuppressed": True,
            "autoimmune_collagen_vascular": True,
            "bleeding_disorder": True,
            "platelet_disorder": True,
            "bloodborne_infection": True,
            "implanted_electronic_device": True,
            "metal_implant_in_area": True,
            "smoker": True,
            "expectations_concern": True,
        },
        "allergies": {"gold": True, "stainless_steel": True, "nickel": True, "topical_anaesthetic": True},
        "medications": {
            "isotretinoin": "stopped",
            "isotretinoin_stopped_days_ago": 30,
            "anticoagulant_prescribed": True,
            "nsaid_or_supplement_days_ago": 1,
            "topical_retinoid_or_acid_days_ago": 1,
        },
        "recent_procedures": {"neurotoxin_days_ago": 1, "filler_in_area_days_ago": 1, "resurfacing_days_ago": 1},
    }


def test_flags_sorted_by_decision_then_code() -> None:
    result = run(everything(), on=ON)
    assert result.decision == "decline"
    assert list(result.codes) == [
        "bleeding_disorder",
        "prp_platelet_disorder",
        "stainless_steel_allergy",
        "under_age",
        "anticoagulant_prescribed",
        "autoimmune_collagen_vascular",
        "bdd_concern",
        "bloodborne_infection",
        "diabetes_uncontrolled",
        "hypertrophic_scar_tendency",
        "immunosuppression",
        "keloid_history",
        "radiation_recent_area",
        "raised_scar_target",
        "skin_cancer_history_area",
        "active_hsv_lesion",
        "active_infection_area",
        "active_inflammatory_acne",
        "breastfeeding",
        "filler_recent",
        "inflammatory_dermatosis_flare",
        "isotretinoin_recent",
        "neurotoxin_recent",
        "nsaid_or_supplement_recent",
        "pregnancy",
        "recent_resurfacing",
        "sunburn_recent",
        "topical_retinoid_recent",
        "depth_exceeds_device_evaluated",
        "fitzpatrick_high_pih_risk",
        "hsv_history_prophylaxis",
        "koebner_prone_condition",
        "smoker",
        "tattoo_pmu_in_area",
        "topical_anaesthetic_allergy",
    ]
    ranks = [DECISIONS.index(item.decision) for item in result.flags]
    assert ranks == sorted(ranks, reverse=True)


def test_rebook_from_is_latest_earliest_date() -> None:
    result = run(everything(), on=ON)
    assert result.rebook_from == ON + timedelta(days=180 - 30)
    dated = {item.code for item in result.flags if item.earliest_date is not None}
    assert dated == {
        "sunburn_recent",
        "isotretinoin_recent",
        "neurotoxin_recent",
        "filler_recent",
        "topical_retinoid_recent",
        "recent_resurfacing",
        "nsaid_or_supplement_recent",
    }


def test_every_reason_is_readable_and_never_advises_stopping_a_prescribed_medicine() -> None:
    result = run(everything(), on=ON)
    rf = run({**everything(), "modality": "rf_microneedling"}, on=ON)
    for item in (*result.flags, *rf.flags):
        assert item.reason[0].isupper() and item.reason.endswith("."), item.code
        assert 20 < len(item.reason) < 260, item.code
        lowered = item.reason.lower()
        assert "stop taking" not in lowered and "discontinue" not in lowered, item.code
    anticoagulant = flag(result, "anticoagulant_prescribed")
    assert anticoagulant is not None
    assert "refer" in anticoagulant.reason.lower()
    assert "do not suggest stopping" in anticoagulant.reason.lower()


def test_every_flag_has_a_title_and_every_title_a_flag() -> None:
    assert set(FLAG_TITLES) == set(FLAG_CODES)
    assert len(FLAG_CODES) == len(set(FLAG_CODES)) == 41
    assert all(title and title[0].isupper() for title in FLAG_TITLES.values())
    raised = run(everything()).flags
    assert all(item.title == FLAG_TITLES[item.code] for item in raised)


# --- Decisions --------------------------------------------------------------------------------------


def test_decision_order_and_labels() -> None:
    assert DECISIONS == ("proceed", "proceed_with_caution", "defer", "refer", "decline")
    assert DECISION_LABELS == {
        "proceed": "Proceed",
        "proceed_with_caution": "Proceed with caution",
        "defer": "Defer",
        "refer": "Refer",
        "decline": "Decline",
    }


@pytest.mark.parametrize(
    ("decisions", "expected"),
    [
        ([], "proceed"),
        (["proceed"], "proceed"),
        (["proceed_with_caution", "proceed"], "proceed_with_caution"),
        (["defer", "proceed_with_caution"], "defer"),
        (["proceed_with_caution", "refer", "defer"], "refer"),
        (["decline", "refer", "defer", "proceed_with_caution", "proceed"], "decline"),
        (["refer", "decline"], "decline"),
        (iter(["defer", "defer"]), "defer"),
    ],
)
def test_most_restrictive(decisions: Any, expected: str) -> None:
    assert most_restrictive(decisions) == expected


def test_most_restrictive_rejects_unknown_decision() -> None:
    with pytest.raises(ValueError, match="maybe"):
        most_restrictive(["proceed", "maybe"])


@pytest.mark.parametrize(
    ("changes", "decision"),
    [
        ({"history__smoker": True, "findings__tattoo_or_pmu": True}, "proceed_with_caution"),
        ({"history__smoker": True, "pregnant": True}, "defer"),
        ({"pregnant": True, "history__keloid_history": True, "history__smoker": True}, "refer"),
        ({"pregnant": True, "history__keloid_history": True, "age": 15}, "decline"),
    ],
)
def test_overall_decision_is_most_restrictive_flag(changes: dict[str, Any], decision: str) -> None:
    result = run(intake_with(**changes))
    assert result.decision == decision
    assert result.decision == most_restrictive(item.decision for item in result.flags)


# --- Worked examples --------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=[example["id"] for example in EXAMPLES])
def test_worked_example(example: dict[str, Any]) -> None:
    result = run(example["intake"], on=ON)
    assert result.decision == example["expected"]["decision"]
    assert set(result.codes) == set(example["expected"]["flags"])
    assert list(result.codes) == example["expected"]["flags"]


def test_examples_copy_is_present_and_complete() -> None:
    assert [example["id"] for example in EXAMPLES] == [f"EX-{number}" for number in range(1, 7)]


# --- Parsing ----------------------------------------------------------------------------------------

PARSE_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"age": True}, "age: must be a whole number from 0 to 130"),
    ({"age": "34"}, "age: must be a whole number from 0 to 130"),
    ({"age": 34.5}, "age: must be a whole number from 0 to 130"),
    ({"age": -1}, "age: must be a whole number from 0 to 130"),
    ({"age": 131}, "age: must be a whole number from 0 to 130"),
    ({"fitzpatrick": 0}, "fitzpatrick: must be a whole number from 1 to 6"),
    ({"fitzpatrick": 7}, "fitzpatrick: must be a whole number from 1 to 6"),
    ({"fitzpatrick": False}, "fitzpatrick: must be a whole number from 1 to 6"),
    ({"pregnant": 1}, "pregnant: must be true or false"),
    ({"pregnant": "yes"}, "pregnant: must be true or false"),
    ({"history": {"smoker": 0}}, "history.smoker: must be true or false"),
    ({"allergies": {"nickel": "true"}}, "allergies.nickel: must be true or false"),
    (
        {"medications": {"isotretinoin": "stopped", "isotretinoin_stopped_days_ago": True}},
        "medications.isotretinoin_stopped_days_ago: must be a whole number of days (0 or more)",
    ),
    (
        {"medications": {"isotretinoin": "stopped", "isotretinoin_stopped_days_ago": -3}},
        "medications.isotretinoin_stopped_days_ago: must be a whole number of days (0 or more)",
    ),
    (
        {"findings": {"sunburn_days_ago": 2.5}},
        "findings.sunburn_days_ago: must be a whole number of days (0 or more)",
    ),
    (
        {"recent_procedures": {"neurotoxin_days_ago": "10"}},
        "recent_procedures.neurotoxin_days_ago: must be a whole number of days (0 or more)",
    ),
    (
        {"medications": {"nsaid_or_supplement_days_ago": -1}},
        "medications.nsaid_or_supplement_days_ago: must be a whole number of days (0 or more)",
    ),
    (
        {"medications": {"isotretinoin_stopped_days_ago": 30}},
        'medications.isotretinoin_stopped_days_ago: only allowed when medications.isotretinoin is "stopped"',
    ),
    ({"modality": "laser"}, "modality: must be one of microneedling, rf_microneedling, prp_microneedling"),
    ({"modality": 1}, "modality: must be one of microneedling, rf_microneedling, prp_microneedling"),
    ({"medications": {"isotretinoin": "yes"}}, "medications.isotretinoin: must be one of never, current, stopped"),
    ({"history": {"diabetes": True}}, "history.diabetes: must be one of none, controlled, uncontrolled"),
    (
        {"device": {"needle_material": "titanium"}},
        "device.needle_material: must be one of stainless_steel, gold_plated, other",
    ),
    (
        {"treatment_areas": ["cheeks", "scalp"]},
        "treatment_areas[1]: must be one of forehead, periorbital, nose, perioral, cheeks, chin_jaw, neck, decolletage",
    ),
    ({"treatment_areas": "cheeks"}, "treatment_areas: must be a list of codes from: " + ", ".join(TREATMENT_AREAS)),
    ({"concerns": ["acne"]}, "concerns[0]: must be one of " + ", ".join(CONCERNS)),
    ({"requested_depth_mm": 0}, "requested_depth_mm: must be a positive number of millimetres"),
    ({"requested_depth_mm": -0.5}, "requested_depth_mm: must be a positive number of millimetres"),
    ({"requested_depth_mm": True}, "requested_depth_mm: must be a positive number of millimetres"),
    ({"requested_depth_mm": "1.0"}, "requested_depth_mm: must be a positive number of millimetres"),
    ({"requested_depth_mm": float("nan")}, "requested_depth_mm: must be a positive number of millimetres"),
    (
        {"device": {"max_evaluated_depth_mm": 0}},
        "device.max_evaluated_depth_mm: must be a positive number of millimetres",
    ),
    ({"colour": "red"}, "colour: unknown field"),
    ({"findings": {"rash": True}}, "findings.rash: unknown field"),
    ({"history": {"smoker": True, "vaper": True}}, "history.vaper: unknown field"),
    ({"device": {"brand": "x", "model": "y"}}, "device: unknown fields: brand, model"),
    ({"consultation_date": "2026-10-25"}, "consultation_date: unknown field"),
    ({"findings": []}, "findings: must be an object"),
    ({"medications": "none"}, "medications: must be an object"),
]


@pytest.mark.parametrize(("data", "message"), PARSE_ERRORS, ids=[message for _, message in PARSE_ERRORS])
def test_parse_error_names_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(IntakeError) as caught:
        parse_intake(data)
    assert str(caught.value) == message
    assert caught.value.field == message.split(":")[0]


@pytest.mark.parametrize("data", [[], "intake", 3, None])
def test_parse_rejects_non_object(data: Any) -> None:
    with pytest.raises(IntakeError, match="must be a JSON object"):
        parse_intake(data)


def test_missing_answers_take_the_spec_defaults() -> None:
    intake = parse_intake({})
    assert intake == Intake()
    assert intake.modality is None and intake.age is None and intake.fitzpatrick is None
    assert intake.pregnant is False and intake.findings.active_infection is False
    assert intake.findings.sunburn_days_ago is None
    assert intake.history.diabetes == "none"
    assert intake.medications.isotretinoin == "never"
    assert intake.medications.isotretinoin_stopped_days_ago is None
    assert intake.device.needle_material is None and intake.requested_depth_mm is None
    assert intake.treatment_areas == () and intake.concerns == ()


def test_explicit_nulls_mean_not_answered() -> None:
    data = {
        "modality": None,
        "age": None,
        "pregnant": None,
        "findings": None,
        "history": {"smoker": None, "diabetes": None},
        "medications": {"isotretinoin": None, "nsaid_or_supplement_days_ago": None},
        "treatment_areas": None,
    }
    assert parse_intake(data) == Intake()


def test_full_intake_parses_into_typed_tree() -> None:
    intake = parse_intake(everything())
    assert intake.modality == "prp_microneedling"
    assert intake.age == 16 and intake.fitzpatrick == 6
    assert intake.concerns == ("raised_scars",)
    assert intake.device.max_evaluated_depth_mm == 1.5 and isinstance(intake.device.max_evaluated_depth_mm, float)
    assert intake.medications.isotretinoin_stopped_days_ago == 30
    assert intake.recent_procedures.resurfacing_days_ago == 1
    with pytest.raises(FrozenInstanceError):
        intake.age = 30  # type: ignore[misc]


def test_duplicate_codes_collapse_in_order() -> None:
    intake = parse_intake({"treatment_areas": ["neck", "cheeks", "neck"]})
    assert intake.treatment_areas == ("neck", "cheeks")


def test_code_tuples_match_spec() -> None:
    assert MODALITIES == ("microneedling", "rf_microneedling", "prp_microneedling")
    assert TREATMENT_AREAS == (
        "forehead", "periorbital", "nose", "perioral", "cheeks", "chin_jaw", "neck", "decolletage"
    )
    assert CONCERNS == (
        "fine_lines_wrinkles",
        "atrophic_acne_scars",
        "raised_scars",
        "enlarged_pores",
        "texture_dullness",
        "laxity",
        "pigmentation",
    )
    assert NEEDLE_MATERIALS == ("stainless_steel", "gold_plated", "other")
    assert DIABETES_STATES == ("none", "controlled", "uncontrolled")
    assert ISOTRETINOIN_STATES == ("never", "current", "stopped")


# --- Policy -----------------------------------------------------------------------------------------

DEFAULTS = {
    "min_age": 18,
    "isotretinoin_washout_days": 180,
    "neurotoxin_interval_days": 14,
    "filler_interval_days": 14,
    "retinoid_window_days": 5,
    "resurfacing_interval_days": 28,
    "sunburn_window_days": 14,
    "prp_nsaid_window_days": 7,
    "pih_risk_min_fitzpatrick": 4,
}


def test_policy_defaults_and_round_trip() -> None:
    assert Policy().as_dict() == DEFAULTS
    assert list(Policy().as_dict()) == list(DEFAULTS)
    changed = Policy.from_mapping({**DEFAULTS, "isotretinoin_washout_days": 90})
    assert changed.isotretinoin_washout_days == 90
    assert Policy.from_mapping(changed.as_dict()) == changed
    assert Policy.from_mapping({}) == Policy()
    with pytest.raises(FrozenInstanceError):
        changed.min_age = 16  # type: ignore[misc]


def test_policy_texts_cover_every_setting() -> None:
    names = [item.name for item in fields(Policy)]
    assert list(POLICY_LABELS) == names
    assert list(POLICY_SOURCE_RANGES) == names
    assert POLICY_SOURCE_RANGES["isotretinoin_washout_days"].startswith("0-365 days")
    assert all(text.strip() for text in (*POLICY_LABELS.values(), *POLICY_SOURCE_RANGES.values()))


@pytest.mark.parametrize(
    ("mapping", "match"),
    [
        ({"washout": 90}, "washout"),
        ({"min_age": 18, "max_age": 90}, "max_age"),
        ({"min_age": -1}, "min_age"),
        ({"min_age": True}, "min_age"),
        ({"sunburn_window_days": "14"}, "sunburn_window_days"),
        ({"filler_interval_days": 14.0}, "filler_interval_days"),
        ({"retinoid_window_days": None}, "retinoid_window_days"),
    ],
)
def test_policy_from_mapping_rejects_bad_settings(mapping: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Policy.from_mapping(mapping)


def test_policy_constructor_rejects_negative() -> None:
    with pytest.raises(ValueError, match="neurotoxin_interval_days"):
        Policy(neurotoxin_interval_days=-1)


# --- Command line -----------------------------------------------------------------------------------


def test_run_cli_one_intake() -> None:
    example = EXAMPLES[3]
    code, output = run_cli(json.dumps(example["intake"]), Policy(), ON)
    assert code == 0
    assert output == json.dumps(screen(parse_intake(example["intake"]), Policy(), ON).to_dict(), indent=2)
    parsed = json.loads(output)
    assert parsed["decision"] == "refer"
    assert [item["code"] for item in parsed["flags"]] == ["anticoagulant_prescribed", "nsaid_or_supplement_recent"]
    assert parsed["flags"][1]["earliest_date"] == (ON + timedelta(days=7)).isoformat()
    assert "earliest_date" not in parsed["flags"][0]


def test_run_cli_list_of_intakes() -> None:
    code, output = run_cli(json.dumps([example["intake"] for example in EXAMPLES]), Policy(), ON)
    assert code == 0
    parsed = json.loads(output)
    assert isinstance(parsed, list) and len(parsed) == len(EXAMPLES)
    for out, example in zip(parsed, EXAMPLES, strict=True):
        assert out["decision"] == example["expected"]["decision"]
        assert [item["code"] for item in out["flags"]] == example["expected"]["flags"]
    assert output.startswith("[\n  {\n    \"decision\"")


def test_run_cli_uses_the_policy() -> None:
    text = json.dumps({"medications": {"isotretinoin": "stopped", "isotretinoin_stopped_days_ago": 120}})
    assert json.loads(run_cli(text, Policy(), ON)[1])["decision"] == "defer"
    assert json.loads(run_cli(text, Policy(isotretinoin_washout_days=90), ON)[1])["decision"] == "proceed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            json.dumps([{}, {}, {}, {"medications": {"isotretinoin": "yes"}}]),
            "error: intake[3]: medications.isotretinoin: must be one of never, current, stopped",
        ),
        (json.dumps({"age": True}), "error: age: must be a whole number from 0 to 130"),
        (json.dumps([{}, "not an intake"]), "error: intake[1]: an intake must be a JSON object"),
        (json.dumps([None]), "error: intake[0]: an intake must be a JSON object"),
        (json.dumps({"findings": {"rash": True}}), "error: findings.rash: unknown field"),
        ("42", "error: expected an intake (a JSON object) or a list of intakes"),
        ('{"age": 34,', "error: not valid JSON: Expecting property name enclosed in double quotes at line 1 column 12"),
        ("", "error: not valid JSON: Expecting value at line 1 column 1"),
    ],
)
def test_run_cli_malformed_input_exits_2(text: str, message: str) -> None:
    assert run_cli(text, Policy(), ON) == (2, message)


def test_run_cli_empty_list() -> None:
    assert run_cli("[]", Policy(), ON) == (0, "[]")


# --- Purity and coverage ----------------------------------------------------------------------------


def test_engine_uses_only_the_standard_library() -> None:
    tree = ast.parse(Path(screening.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 or (node.module or "").startswith("practitioner.clinical")
            # The shared vocabulary (zone labels, Roman numerals) is itself standard library only (test_vocabulary.py).
            if node.module != "practitioner.clinical.vocabulary":
                imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "json", "math", "collections", "dataclasses", "datetime", "typing"}


def test_tables_exercise_every_flag_code() -> None:
    tabled = (
        {row[2] for row in SIMPLE_FLAGS}
        | {row[1] for row in MODALITY_RULES}
        | {row[1] for row in WINDOW_FLAGS}
    )
    assert tabled == set(FLAG_CODES), sorted(set(FLAG_CODES) ^ tabled)
