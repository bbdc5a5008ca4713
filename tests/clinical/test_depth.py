"""Suggested depths and courses against sections 3.1 and 3.2 of the clinical reference."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from practitioner.clinical import depth
from practitioner.clinical.depth import (
    DEVICE_IFU_CAUTION,
    TYPICAL_INTERVAL_WEEKS,
    TYPICAL_SESSIONS,
    ZONE_LABELS,
    ZONES,
    area_to_zones,
    ceiling_refusal,
    course_guidance,
    course_guidance_lines,
    depth_ceiling,
    mm,
    suggest_depth,
)
from practitioner.clinical.screening import CONCERNS, MODALITIES, TREATMENT_AREAS

D = Decimal
LIGHT = (None, 1, 2, 3)
DARK = (4, 5, 6)

# zone -> (min, max) for Fitzpatrick I-III as read from the 3.1 table, the column used, and whether
# the reference backs it. Thin-skinned zones take the conservative (thin-skin) column.
REFERENCE = {
    "forehead": (D("0.25"), D("0.5"), True),
    "glabella": (D("0.5"), D("1.0"), True),
    "periorbital": (D("0.2"), D("0.3"), True),
    "nose": (D("0.25"), D("0.5"), True),
    "perioral": (D("0.25"), D("0.5"), True),
    "cheeks": (D("1.0"), D("2.0"), True),
    "chin_jaw": (D("1.0"), D("2.0"), True),
    "neck": (D("0.5"), D("1.0"), False),
    "decolletage": (None, None, False),
    "scar_area": (D("1.5"), D("2.0"), True),
}
# The product policy for IV-VI: the upper limit drops to the middle of the range, rounded down to 0.05 mm.
NARROWED_MAX = {
    "forehead": D("0.35"), "glabella": D("0.75"), "periorbital": D("0.25"), "nose": D("0.35"), "perioral": D("0.35"),
    "cheeks": D("1.5"), "chin_jaw": D("1.5"), "neck": D("0.75"), "decolletage": None, "scar_area": D("1.75"),
}


def test_zone_codes_and_labels_cover_the_session_record_zones():
    assert ZONES == ("forehead", "glabella", "periorbital", "nose", "perioral", "cheeks", "chin_jaw", "neck",
                     "decolletage", "scar_area")
    assert set(ZONE_LABELS) == set(ZONES) and all(ZONE_LABELS.values())
    assert set(REFERENCE) == set(ZONES)


def test_typical_course_numbers_are_the_reference_ranges():
    assert TYPICAL_SESSIONS == (3, 6)
    assert TYPICAL_INTERVAL_WEEKS == (4, 6)


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("fitzpatrick", LIGHT)
@pytest.mark.parametrize("zone", ZONES)
def test_fitzpatrick_i_to_iii_get_the_reference_range(zone, fitzpatrick, modality):
    low, high, verified = REFERENCE[zone]
    suggestion = suggest_depth(zone, fitzpatrick, modality)
    assert (suggestion.zone, suggestion.min_mm, suggestion.max_mm, suggestion.verified) == (zone, low, high, verified)
    assert "§3.1" in suggestion.basis
    assert not any("PIH" in c and "IV–VI are" in c for c in suggestion.cautions)


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("fitzpatrick", DARK)
@pytest.mark.parametrize("zone", ZONES)
def test_fitzpatrick_iv_to_vi_narrow_to_the_shallow_end_and_warn_of_pih(zone, fitzpatrick, modality):
    low, _, verified = REFERENCE[zone]
    suggestion = suggest_depth(zone, fitzpatrick, modality)
    assert (suggestion.min_mm, suggestion.max_mm, suggestion.verified) == (low, NARROWED_MAX[zone], verified)
    assert any("post-inflammatory hyperpigmentation" in c for c in suggestion.cautions)
    if suggestion.has_range:
        assert "not a clinical fact" in suggestion.basis, "the narrowing is policy and must say so"


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("zone", ZONES)
def test_iv_to_vi_is_never_deeper_than_i_to_iii(zone, modality):
    for light in LIGHT:
        for dark in DARK:
            a, b = suggest_depth(zone, light, modality), suggest_depth(zone, dark, modality)
            if a.has_range:
                assert b.min_mm == a.min_mm and b.max_mm <= a.max_mm and b.min_mm <= b.max_mm
            else:
                assert not b.has_range


@pytest.mark.parametrize("modality", MODALITIES)
@pytest.mark.parametrize("fitzpatrick", LIGHT + DARK)
def test_periorbital_never_above_half_a_millimetre_and_always_warns_of_the_orbital_rim(fitzpatrick, modality):
    suggestion = suggest_depth("periorbital", fitzpatrick, modality)
    assert suggestion.max_mm <= D("0.5")
    assert any("Never inside the orbital rim (eyelids)" in c for c in suggestion.cautions)
    assert depth_ceiling("periorbital") == D("0.5")


def test_the_periorbital_ceiling_refusal_names_the_limit_and_the_orbital_rim():
    assert ceiling_refusal("periorbital", D("0.5")) is None
    message = ceiling_refusal("periorbital", D("0.55"))
    assert "no deeper than 0.5 mm" in message and "never inside the orbital rim (eyelids)" in message


@pytest.mark.parametrize("zone", [z for z in ZONES if z != "periorbital"])
def test_only_the_periorbital_zone_has_a_hard_ceiling(zone):
    assert depth_ceiling(zone) is None
    assert ceiling_refusal(zone, D("3.5")) is None
    assert not any("orbital rim" in c for c in suggest_depth(zone, 2, "microneedling").cautions)


@pytest.mark.parametrize("zone", ["neck", "decolletage"])
@pytest.mark.parametrize("fitzpatrick", LIGHT + DARK)
def test_neck_and_decolletage_are_flagged_unverified_and_point_to_the_device(zone, fitzpatrick):
    suggestion = suggest_depth(zone, fitzpatrick, "microneedling")
    assert suggestion.verified is False
    assert DEVICE_IFU_CAUTION in suggestion.cautions
    assert "No good source found" in suggestion.basis


def test_decolletage_has_no_invented_numbers():
    suggestion = suggest_depth("decolletage", 2, "microneedling")
    assert suggestion.min_mm is None and suggestion.max_mm is None
    assert suggestion.range_text == "No sourced range"


@pytest.mark.parametrize("zone", ZONES)
def test_rf_says_depth_is_device_set_and_energy_in_device_units(zone):
    suggestion = suggest_depth(zone, 2, "rf_microneedling")
    assert any("depth is set by the device" in c and "device's own units" in c for c in suggestion.cautions)
    assert not any("set by the device" in c for c in suggest_depth(zone, 2, "microneedling").cautions)


def test_unknown_skin_type_is_said_and_not_narrowed():
    suggestion = suggest_depth("cheeks", None, "microneedling")
    assert suggestion.max_mm == D("2.0")
    assert any("Skin type not recorded" in c for c in suggestion.cautions)


def test_fitzpatrick_iii_carries_the_raised_risk_note_without_narrowing():
    suggestion = suggest_depth("forehead", 3, "microneedling")
    assert suggestion.max_mm == D("0.5")
    assert any("Fitzpatrick III" in c for c in suggestion.cautions)


@pytest.mark.parametrize(("zone", "fitzpatrick", "warned"), [("cheeks", 2, True), ("scar_area", 3, True), ("cheeks", 4, False),
                                                            ("forehead", 2, False)])
def test_ranges_above_the_skinpen_evaluated_depth_are_flagged(zone, fitzpatrick, warned):
    cautions = suggest_depth(zone, fitzpatrick, "microneedling").cautions
    assert any("above 1.5 mm have not been evaluated" in c for c in cautions) is warned


@pytest.mark.parametrize(("zone", "fitzpatrick", "modality"), [("chin", 2, "microneedling"), ("cheeks", 7, "microneedling"),
                                                              ("cheeks", 0, "microneedling"), ("cheeks", 2, "laser")])
def test_bad_input_is_refused(zone, fitzpatrick, modality):
    with pytest.raises(ValueError):
        suggest_depth(zone, fitzpatrick, modality)


@pytest.mark.parametrize(("value", "text"), [(D("0.25"), "0.25"), (D("0.50"), "0.5"), (D("1"), "1.0"), (D("1.75"), "1.75")])
def test_mm_formats_depths_plainly(value, text):
    assert mm(value) == text


def test_every_consultation_area_maps_to_a_zone_in_plan_order():
    assert area_to_zones(TREATMENT_AREAS) == tuple(z for z in ZONES if z not in ("glabella", "scar_area"))
    assert area_to_zones(["neck", "forehead", "forehead"]) == ("forehead", "neck")
    assert area_to_zones([]) == ()
    with pytest.raises(ValueError):
        area_to_zones(["eyelids"])


@pytest.mark.parametrize(("concerns", "modality", "expected", "absent"), [
    (["atrophic_acne_scars"], "microneedling", ["3–6 sessions, 4–6 weeks apart", "severe 6–8", "[S24]"], ["30 days", "[S40]"]),
    (["fine_lines_wrinkles"], "microneedling", ["3–4 sessions about 30 days apart", "6–12 months"], ["acne scars"]),
    (["enlarged_pores"], "microneedling", ["4–12 weeks"], ["acne scars", "30 days"]),
    ([], "microneedling", ["4–12 weeks"], []),
    (["atrophic_acne_scars"], "rf_microneedling", ["3 sessions at monthly intervals", "[S40]"], ["device's protocol", "[S89]"]),
    (["laxity"], "rf_microneedling", ["follow the device's protocol"], ["[S40]"]),
    (["atrophic_acne_scars"], "prp_microneedling", ["about 4 weeks apart", "3–6 sessions"], []),
])
def test_course_guidance_quotes_the_matching_rows_of_3_2(concerns, modality, expected, absent):
    text = course_guidance(concerns, modality)
    for piece in expected:
        assert piece in text
    for piece in absent:
        assert piece not in text
    assert text.endswith("visible improvement may take up to 3 months [S50-medica].")
    assert text.split("\n") == list(course_guidance_lines(concerns, modality))


@pytest.mark.parametrize("concern", CONCERNS)
@pytest.mark.parametrize("modality", MODALITIES)
def test_every_course_line_cites_a_source_or_defers_to_the_device(concern, modality):
    for line in course_guidance_lines([concern], modality):
        assert "[S" in line or "device" in line


def test_course_guidance_refuses_unknown_codes():
    with pytest.raises(ValueError):
        course_guidance(["wrinkles"], "microneedling")
    with pytest.raises(ValueError):
        course_guidance([], "laser")


def test_every_caution_and_basis_names_a_source_or_is_policy():
    for zone in ZONES:
        for fitzpatrick in LIGHT + DARK:
            for modality in MODALITIES:
                suggestion = suggest_depth(zone, fitzpatrick, modality)
                assert "§3.1" in suggestion.basis
                assert "[S" in suggestion.basis or not suggestion.verified
                for caution in suggestion.cautions:
                    assert "[S" in caution or caution in (DEVICE_IFU_CAUTION, "Thin skin over bone: light pressure.",
                                                          "Be careful over the bridge.", "Cold sore (HSV) risk zone.") \
                        or caution.startswith("Skin type not recorded")


def test_module_stays_pure():
    tree = ast.parse(Path(depth.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"flask", "sqlalchemy", "wtforms", "flask_wtf"}
    from_practitioner = {node.module for node in ast.walk(tree)
                         if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("practitioner")}
    assert from_practitioner <= {"practitioner.clinical.screening", "practitioner.clinical.vocabulary"}
