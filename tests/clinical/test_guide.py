"""The treatment guide's benefits and dated preparation steps."""

from datetime import date, timedelta

import pytest

from practitioner.clinical.guide import benefits_for, preparation_steps, raised_scar_caveat
from practitioner.clinical.screening import Policy

FIRST = date(2027, 1, 20)


@pytest.mark.parametrize(("concerns", "expected"), [
    (["enlarged_pores"], ("pores",)),
    (["texture_dullness", "fine_lines_wrinkles"], ("fine_lines", "exfoliation")),
    (["atrophic_acne_scars", "raised_scars"], ("acne_scars",)),
    (["laxity", "pigmentation"], ()),
    (["fine_lines_wrinkles", "atrophic_acne_scars", "enlarged_pores", "texture_dullness"], ("fine_lines", "acne_scars", "pores", "exfoliation")),
])
def test_only_matching_benefits(concerns, expected):
    assert benefits_for(concerns) == expected


def test_raised_scar_caveat_only_for_raised_scars():
    assert raised_scar_caveat(["raised_scars"]) and not raised_scar_caveat(["atrophic_acne_scars"])


def _dates(steps):
    return {s.key: s.starts for s in steps}


def test_dates_count_back_from_the_first_session_with_clinic_policy():
    steps = _dates(preparation_steps(FIRST, "microneedling", False, Policy()))
    assert steps["no_sun"] == date(2027, 1, 6)            # 14 days
    assert steps["stop_retinoids"] == date(2027, 1, 15)   # 5 days
    assert steps["no_waxing"] == date(2027, 1, 13)        # 7 days
    assert steps["no_nsaids"] == date(2027, 1, 13)        # 7 days
    assert steps["no_toxin_filler"] == date(2027, 1, 6)   # 14 days
    assert steps["day_of"] == FIRST
    assert "antiviral" not in steps and "prp_water" not in steps and "prp_no_alcohol" not in steps


def test_policy_changes_the_dates():
    policy = Policy.from_mapping({"retinoid_window_days": 7, "filler_interval_days": 28, "sunburn_window_days": 21})
    steps = _dates(preparation_steps(FIRST, "microneedling", False, policy))
    assert steps["stop_retinoids"] == date(2027, 1, 13) and steps["no_toxin_filler"] == date(2026, 12, 23) and steps["no_sun"] == date(2026, 12, 30)


def test_prp_uses_its_nsaid_window_and_adds_hydration():
    steps = _dates(preparation_steps(FIRST, "prp_microneedling", False, Policy.from_mapping({"prp_nsaid_window_days": 3})))
    assert steps["no_nsaids"] == date(2027, 1, 17) and steps["prp_water"] == date(2027, 1, 19)


def test_cold_sore_history_starts_the_antiviral_the_day_before():
    steps = _dates(preparation_steps(FIRST, "microneedling", True, Policy()))
    assert steps["antiviral"] == date(2027, 1, 19)


def test_steps_are_in_date_order_then_the_day_and_downtime():
    steps = preparation_steps(FIRST, "rf_microneedling", True, Policy())
    dated = [s.starts for s in steps if s.starts is not None]
    assert dated == sorted(dated)
    assert steps[-1].key == "downtime_rf" and steps[-2].key == "day_of"


def test_prp_alcohol_and_smoking_start_a_few_days_before_not_the_day_before():
    # Reference 4.1: avoid alcohol and smoking "for a few days before" [S75][S76]; water the day before.
    steps = preparation_steps(FIRST, "prp_microneedling", False, Policy())
    keys = [s.key for s in steps]
    assert "prp_water_alcohol" not in keys
    alcohol = keys.index("prp_no_alcohol")
    assert steps[alcohol].starts is None, "'a few days' has no exact number in the reference: no invented date"
    assert steps[alcohol + 1].starts == FIRST - timedelta(days=1), "it comes just before the steps of the day before"


@pytest.mark.parametrize(("modality", "deepest", "key"), [
    ("microneedling", 0.5, "downtime_shallow"), ("microneedling", 1.0, "downtime_medium"), ("microneedling", 2.0, "downtime_deep"),
    ("rf_microneedling", 0.5, "downtime_rf_shallow"), ("rf_microneedling", 1.5, "downtime_rf_medium"),
    ("rf_microneedling", 2.5, "downtime_rf_deep"), ("microneedling", None, "downtime"), ("rf_microneedling", None, "downtime_rf"),
])
def test_the_pink_days_follow_the_deepest_planned_depth(modality, deepest, key):
    assert preparation_steps(FIRST, modality, False, Policy(), deepest)[-1].key == key


def test_every_step_key_has_wording_in_the_guide_content():
    from practitioner.documents.kinds.treatment_guide import guide_content

    wording = guide_content()["preparation"]
    for modality in ("microneedling", "rf_microneedling", "prp_microneedling"):
        for deepest in (None, 0.25, 1.25, 2.0):
            for step in preparation_steps(FIRST, modality, True, Policy(), deepest):
                assert step.key in wording, step.key
