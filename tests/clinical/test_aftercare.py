"""Aftercare assembly against docs/aftercare.md ("Aftercare instructions") and clinical reference 3.1, 4 and 5."""

from __future__ import annotations

import ast
import itertools
import re
import shutil
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import pytest

from practitioner.clinical import aftercare
from practitioner.clinical.aftercare import (
    ADVERSE_EVENT_KINDS,
    BLOCK_IDS,
    ENGLISH,
    PLACEHOLDERS,
    Aftercare,
    AftercarePolicy,
    Block,
    ContentError,
    SessionFacts,
    assemble_aftercare,
    depth_band,
    format_day,
    key_dates,
    load_content,
)
from practitioner.clinical.screening import MODALITIES

CONTENT = Path(__file__).resolve().parents[2] / "reports" / "content"
DAY = date(2026, 11, 25)  # a Wednesday
PHONE = "020 7946 0123"
OUT_OF_HOURS = "NHS 111, or Dr Raman on 07700 900999"
MN: Final = "microneedling"
RF: Final = "rf_microneedling"
PRP: Final = "prp_microneedling"
TIMELINE = ("timeline.today", "timeline.days_1_2", "timeline.days_3_7", "timeline.week_2")


def facts(**changes: Any) -> SessionFacts:
    """A plain microneedling session at 0.5 mm with nothing special recorded, changed as asked."""
    base = SessionFacts(
        modality=MN,
        session_date=DAY,
        zones=(("forehead", 0.5),),
        products_applied=(),
        fitzpatrick=2,
        cold_sore_history=False,
        adverse_events=(),
        patient_name="Ana Silva",
        practitioner_name="Sam Lee",
        session_number=2,
        sessions_planned=4,
        next_appointment=None,
        interval_weeks=None,
        clinic_name="Glow Skin Clinic",
        clinic_phone=PHONE,
        clinic_out_of_hours=OUT_OF_HOURS,
    )
    return replace(base, **changes)


def build(policy: AftercarePolicy | None = None, content_dir: Path = CONTENT, language: str = "en", **changes: Any) -> Aftercare:
    """Assemble the leaflet for `facts(**changes)`."""
    return assemble_aftercare(facts(**changes), policy or AftercarePolicy(), content_dir, language)


def only(result: Aftercare, block_id: str) -> Block:
    """The block with this id, which must be present."""
    block = result.block(block_id)
    assert block is not None, f"{block_id} missing; blocks are {result.ids}"
    return block


def copy_content(tmp_path: Path, name: str = "content") -> Path:
    """A private copy of the content folder (English only), safe to edit."""
    root = tmp_path / name
    shutil.copytree(CONTENT / "en" / "aftercare", root / "en" / "aftercare")
    return root


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a content file; the piece must be there."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- policy -------------------------------------------------------------------------------------------


def test_policy_defaults_are_those_of_documents_md():
    assert AftercarePolicy().as_dict() == {
        "makeup_hours": 24,
        "makeup_hours_rf": 48,
        "actives_days": 5,
        "actives_days_rf": 7,
        "actives_days_prp": 7,  # clinical reference 4.4 (docs/aftercare.md): retinoids avoided 7 days after PRP
        "exercise_hours": 72,
        "prp_no_wash_hours": 6,
        "sun_strict_days": 14,
        "sunscreen_day0": "mineral_spf30",
    }
    assert set(aftercare.AFTERCARE_POLICY_LABELS) == set(aftercare.AFTERCARE_POLICY_SETTINGS)
    assert set(aftercare.AFTERCARE_POLICY_SOURCE_RANGES) == set(aftercare.AFTERCARE_POLICY_SETTINGS)


def test_policy_from_mapping_round_trips_and_keeps_defaults():
    policy = AftercarePolicy.from_mapping({"makeup_hours": 48, "sunscreen_day0": "none_24h"})
    assert policy.makeup_hours == 48 and policy.sunscreen_day0 == "none_24h" and policy.actives_days == 5
    assert AftercarePolicy.from_mapping(policy.as_dict()) == policy


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        pytest.param({"make_up_hours": 24}, "unknown aftercare policy setting", id="misspelt-key"),
        pytest.param({"makeup_hours": -1}, "whole number", id="negative"),
        pytest.param({"actives_days": 2.5}, "whole number", id="fraction"),
        pytest.param({"exercise_hours": True}, "whole number", id="bool"),
        pytest.param({"prp_no_wash_hours": "6"}, "whole number", id="text-number"),
        pytest.param({"sunscreen_day0": "chemical_spf50"}, "sunscreen_day0", id="unknown-sunscreen-variant"),
    ],
)
def test_policy_refuses_bad_settings(mapping, message):
    with pytest.raises(ValueError, match=message):
        AftercarePolicy.from_mapping(mapping)


def test_policy_constructor_validates_too():
    with pytest.raises(ValueError, match="sunscreen_day0"):
        AftercarePolicy(sunscreen_day0="none")  # type: ignore[arg-type]


# --- dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "text"),
    [
        pytest.param(date(2026, 11, 25), "Wednesday 25 November", id="brief-example"),
        pytest.param(date(2027, 1, 1), "Friday 1 January", id="new-year-no-leading-zero"),
        pytest.param(date(2028, 2, 29), "Tuesday 29 February", id="leap-day"),
        pytest.param(date(2026, 12, 6), "Sunday 6 December", id="sunday"),
    ],
)
def test_format_day(day, text):
    assert format_day(day) == text


def test_english_calendar_in_the_content_matches_format_day():
    assert load_content(CONTENT).calendar == ENGLISH


@pytest.mark.parametrize(
    ("modality", "settings", "makeup", "actives", "exercise"),
    [
        pytest.param(MN, {}, 1, 5, 3, id="mn-defaults"),
        pytest.param(RF, {}, 2, 7, 3, id="rf-defaults-use-rf-settings"),
        pytest.param(PRP, {}, 1, 7, 3, id="prp-defaults-retinoids-7-days"),
        pytest.param(MN, {"makeup_hours": 30}, 2, 5, 3, id="mn-makeup-hours-round-up-to-days"),
        pytest.param(MN, {"makeup_hours": 0}, 0, 5, 3, id="mn-makeup-same-day"),
        pytest.param(MN, {"makeup_hours": 48}, 2, 5, 3, id="mn-makeup-48h"),
        pytest.param(RF, {"makeup_hours": 0, "makeup_hours_rf": 72}, 3, 7, 3, id="rf-ignores-the-mn-makeup-setting"),
        pytest.param(MN, {"makeup_hours_rf": 96}, 1, 5, 3, id="mn-ignores-the-rf-makeup-setting"),
        pytest.param(MN, {"actives_days": 3}, 1, 3, 3, id="mn-actives-3-days"),
        pytest.param(RF, {"actives_days": 3, "actives_days_rf": 10}, 2, 10, 3, id="rf-actives-10-days"),
        pytest.param(PRP, {"actives_days": 3, "actives_days_prp": 9}, 1, 9, 3, id="prp-actives-own-setting"),
        pytest.param(MN, {"exercise_hours": 24}, 1, 5, 1, id="exercise-24h"),
        pytest.param(MN, {"exercise_hours": 25}, 1, 5, 2, id="exercise-25h-rounds-up"),
        pytest.param(RF, {"exercise_hours": 120}, 2, 7, 5, id="exercise-120h"),
    ],
)
def test_policy_settings_change_the_dates(modality, settings, makeup, actives, exercise):
    result = build(AftercarePolicy.from_mapping(settings), modality=modality)
    expected = {"date.makeup": makeup, "date.actives": actives, "date.exercise": exercise}
    for block_id, offset in expected.items():
        block = only(result, block_id)
        day = DAY + timedelta(days=offset)
        assert block.when == day
        assert format_day(day) in " ".join(block.paragraphs), block.paragraphs
    hours = AftercarePolicy.from_mapping(settings).makeup_hours_for(modality)
    assert f"{hours} hours after your treatment" in " ".join(only(result, "date.makeup").paragraphs)
    assert f"{actives} days after your treatment" in " ".join(only(result, "date.actives").paragraphs)


@pytest.mark.parametrize("days", [7, 14, 21], ids=lambda d: f"{d}-days")
def test_strict_sun_protection_date_follows_the_setting(days):
    result = build(AftercarePolicy(sun_strict_days=days))
    until = DAY + timedelta(days=days)
    block = only(result, "date.sun_strict")
    assert block.when == until and f"until at least {format_day(until)}" in block.paragraphs[0]
    # The second week only repeats "be strict" while that date is still ahead of it.
    week_2 = only(result, "timeline.week_2")
    assert any(format_day(until) in line for line in week_2.do) is (days > 8)


@pytest.mark.parametrize("hours", [4, 6, 8], ids=lambda h: f"{h}h")
def test_prp_no_wash_hours_appear_in_the_text(hours):
    result = build(AftercarePolicy(prp_no_wash_hours=hours), modality=PRP)
    expected = f"Do not wash the treated skin for {hours} hours"
    assert any(expected in line for line in only(result, "timeline.today").do)
    assert any(expected in line for line in only(result, "modality.prp_microneedling").items)


def test_key_dates_are_counted_from_the_session_day():
    dates = key_dates(facts(modality=RF, interval_weeks=6), AftercarePolicy())
    assert (dates.today, dates.makeup_from, dates.actives_from, dates.exercise_from, dates.sun_strict_until) == (
        DAY, DAY + timedelta(days=2), DAY + timedelta(days=7), DAY + timedelta(days=3), DAY + timedelta(days=14))
    assert dates.book_from == date(2027, 1, 6) and dates.sunscreen_from == DAY


def test_timeline_periods_carry_their_calendar_dates():
    result = build()
    spans = {block_id: (only(result, block_id).when, only(result, block_id).until) for block_id in TIMELINE}
    assert spans == {
        "timeline.today": (DAY, DAY),
        "timeline.days_1_2": (date(2026, 11, 26), date(2026, 11, 27)),
        "timeline.days_3_7": (date(2026, 11, 28), date(2026, 12, 2)),
        "timeline.week_2": (date(2026, 12, 3), None),
    }
    assert only(result, "timeline.today").title == "Today: Wednesday 25 November"
    assert only(result, "timeline.days_1_2").title == "The next two days: Thursday 26 November and Friday 27 November"
    assert only(result, "timeline.days_3_7").title == "Days 3 to 7: Saturday 28 November to Wednesday 2 December"
    assert only(result, "timeline.week_2").title == "From the second week: from Thursday 3 December"


@pytest.mark.parametrize(
    ("actives_days", "avoid_in", "allowed_from_in"),
    [
        pytest.param(5, TIMELINE[:3], "timeline.days_3_7", id="day-5"),
        pytest.param(2, TIMELINE[:2], "timeline.days_1_2", id="day-2"),
        pytest.param(10, TIMELINE, "timeline.week_2", id="day-10"),
        pytest.param(0, (), "timeline.today", id="same-day"),
    ],
)
def test_dated_timeline_lines_follow_the_policy(actives_days, avoid_in, allowed_from_in):
    result = build(AftercarePolicy(actives_days=actives_days))
    day = format_day(DAY + timedelta(days=actives_days))
    for block_id in TIMELINE:
        block = only(result, block_id)
        avoids = [line for line in block.avoid if line.startswith("Retinoids")]
        allowed = [line for line in block.do if line.startswith(f"From {day}, if your skin is calm, you can use retinoids")]
        assert (avoids == [f"Retinoids (vitamin A creams), exfoliating acids, vitamin C, and benzoyl peroxide (an acne treatment) before {day}."]) is (block_id in avoid_in)
        assert not avoids or block_id in avoid_in
        assert len(allowed) == (1 if block_id == allowed_from_in else 0), (block_id, block.do)


# --- modality variants --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("modality", "present", "absent"),
    [
        pytest.param(
            MN,
            ["Clean your skin gently with lukewarm water.", "Use only the gentle, fragrance-free moisturiser or serum we gave you.",
             "We used a pen with very fine needles.", "Do not wear make-up for 24 hours."],
            ["ice pack", "ice or anything cold", "do not wash", "paracetamol", "ibuprofen", "grid", "prp", "radiofrequency",
             "took blood", "scabs"],
            id="microneedling",
        ),
        pytest.param(
            RF,
            ["You can use ice packs on the treated skin: 15 minutes at a time, 3 to 4 times a day.",
             "Do not wear make-up for 48 hours.", "Do not use retinoids (vitamin A creams such as retinol) or other exfoliating products for 7 days.",
             "small marks in a grid pattern", "Call us if the discomfort lasts more than 24 hours.",
             "pass heat (radiofrequency energy)"],
            ["do not wash", "ice or anything cold", "paracetamol", "ibuprofen", "prp", "took blood"],
            id="rf",
        ),
        pytest.param(
            PRP,
            ["Do not wash the treated skin for 6 hours", "Do not put ice or anything cold on the treated skin for 48 hours.",
             "Do not take anti-inflammatory painkillers, such as ibuprofen, aspirin or naproxen.",
             "If you need a painkiller, paracetamol is fine.", "The place where we took blood may bruise.",
             "If a doctor prescribed a medicine for you, including aspirin, keep taking it."],
            ["ice pack", "grid", "radiofrequency", "scabs", "clean your skin gently with lukewarm water"],
            id="prp",
        ),
    ],
)
def test_modality_variants_say_their_own_lines_and_never_the_others(modality, present, absent):
    result = build(modality=modality)
    text = result.text
    for phrase in present:
        assert phrase in text, phrase
    for phrase in absent:
        assert phrase not in text.lower(), phrase
    modality_blocks = [block_id for block_id in result.ids if block_id.startswith("modality.")]
    assert modality_blocks == [f"modality.{modality}"]


@pytest.mark.parametrize("modality", MODALITIES)
def test_rf_words_appear_only_on_rf_leaflets(modality):
    # "RF" in capitals is the acronym; no other leaflet may mention it.
    assert ("RF" in build(modality=modality).text) is (modality == RF)


# --- depth bands --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zones", "band", "days", "deepest"),
    [
        pytest.param((("periorbital", 0.25),), "shallow", "about 2 to 3 days", "0.25", id="0.25mm"),
        pytest.param((("forehead", 0.5),), "shallow", "about 2 to 3 days", "0.5", id="0.5mm-boundary-is-shallow"),
        pytest.param((("forehead", 0.55),), "medium", "about 4 to 5 days", "0.55", id="0.55mm"),
        pytest.param((("cheeks", 1.0),), "medium", "about 4 to 5 days", "1.0", id="1.0mm"),
        pytest.param((("cheeks", 1.5),), "medium", "about 4 to 5 days", "1.5", id="1.5mm-boundary-is-medium"),
        pytest.param((("scar_area", 1.75),), "deep", "about 6 to 7 days", "1.75", id="1.75mm-gap-takes-the-longer-downtime"),
        pytest.param((("scar_area", 2.0),), "deep", "about 6 to 7 days", "2.0", id="2.0mm"),
        pytest.param((("scar_area", 3.0),), "deep", "about 6 to 7 days", "3.0", id="3.0mm"),
        pytest.param((("forehead", 0.25), ("cheeks", 2.0)), "deep", "about 6 to 7 days", "2.0", id="deepest-zone-counts"),
        pytest.param((("cheeks", 1.25), ("forehead", 0.25), ("nose", 0.3)), "medium", "about 4 to 5 days", "1.25",
                     id="deepest-listed-first"),
    ],
)
def test_depth_band_by_deepest_zone(zones, band, days, deepest):
    result = build(zones=zones)
    downtime = [block_id for block_id in result.ids if block_id.startswith("downtime.")]
    assert downtime == [f"downtime.{band}"]
    text = " ".join(only(result, f"downtime.{band}").paragraphs)
    assert days in text and f"The deepest setting we used today was {deepest} mm." in text


@pytest.mark.parametrize(
    ("depth", "band"),
    [(0.1 * 5, "shallow"), (0.2, "shallow"), (0.51, "medium"), (1.5, "medium"), (1.51, "deep"), (1.99, "deep"), (2, "deep")],
    ids=["float-noise-0.5", "0.2", "0.51", "1.5", "1.51", "1.99", "int-2"],
)
def test_depth_band_boundaries(depth, band):
    assert depth_band(depth) == band


@pytest.mark.parametrize("depth", [0, -0.5, float("nan"), float("inf"), True, "1.0"], ids=repr)
def test_depth_band_refuses_non_depths(depth):
    with pytest.raises(ValueError, match="depth"):
        depth_band(depth)


# --- patient-specific blocks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fitzpatrick", "present"), [(None, False), (1, False), (2, False), (3, False), (4, True), (5, True), (6, True)],
    ids=lambda value: f"type-{value}" if not isinstance(value, bool) else str(value),
)
def test_fitzpatrick_iv_to_vi_get_the_dark_patch_block(fitzpatrick, present):
    result = build(fitzpatrick=fitzpatrick)
    assert ("skin.pih_risk" in result.ids) is present
    assert ("dark patches while it heals" in result.text) is present


def test_dark_patch_block_follows_the_sunscreen_setting_and_strict_date():
    block = only(build(AftercarePolicy(sunscreen_day0="none_24h", sun_strict_days=21), fitzpatrick=6), "skin.pih_risk")
    assert "every day from Thursday 26 November" in block.items[0]
    assert "until at least Wednesday 16 December" in block.items[1]


@pytest.mark.parametrize(("history", "present"), [(True, True), (False, False)], ids=["history", "no-history"])
def test_cold_sore_block_only_with_history(history, present):
    result = build(cold_sore_history=history)
    assert ("cold_sore.history" in result.ids) is present
    assert ("Keep taking your antiviral medicine exactly as prescribed" in result.text) is present
    assert ("tingling, burning or itching near your lips, nose or cheek. Small blisters can follow." in result.text) is present


ADVERSE_PHRASES = {
    "excessive_bleeding": "Your skin bled more than usual",
    "bruising": "We noted bruising during your treatment today.",
    "vasovagal": "You felt faint during your visit today.",
    "severe_pain_stopped": "We stopped your treatment early today because it was too painful.",
    "burn_or_blister": "Do not pick it or burst it.",
    "allergic_reaction": "may be an allergy",
    "other": "noted something unexpected",
}


def test_adverse_event_kinds_are_those_of_the_session_record():
    assert ADVERSE_EVENT_KINDS == ("excessive_bleeding", "bruising", "vasovagal", "severe_pain_stopped", "burn_or_blister",
                                   "allergic_reaction", "other")
    assert set(ADVERSE_PHRASES) == set(ADVERSE_EVENT_KINDS)


@pytest.mark.parametrize("kind", ADVERSE_EVENT_KINDS)
def test_each_adverse_event_adds_its_care_note(kind):
    result = build(adverse_events=(kind,))
    assert [block_id for block_id in result.ids if block_id.startswith("adverse.")] == [f"adverse.{kind}"]
    assert ADVERSE_PHRASES[kind] in result.text
    for other, phrase in ADVERSE_PHRASES.items():
        if other != kind:
            assert phrase not in result.text


def test_no_adverse_events_means_no_care_notes():
    result = build(adverse_events=())
    assert not [block_id for block_id in result.ids if block_id.startswith("adverse.")]
    assert not any(phrase in result.text for phrase in ADVERSE_PHRASES.values())


def test_several_adverse_events_each_appear_once_in_a_fixed_order():
    result = build(adverse_events=("vasovagal", "bruising", "vasovagal", "excessive_bleeding"))
    assert [block_id for block_id in result.ids if block_id.startswith("adverse.")] == [
        "adverse.excessive_bleeding", "adverse.bruising", "adverse.vasovagal"]


# --- sunscreen, next visit, products, warning signs ---------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "present", "absent", "phrase"),
    [
        pytest.param("mineral_spf30", "sunscreen.mineral_spf30", "sunscreen.none_24h",
                     "Put on a mineral sunscreen, SPF 30 or higher, from today.", id="mineral-spf30"),
        pytest.param("none_24h", "sunscreen.none_24h", "sunscreen.mineral_spf30",
                     "For the first 24 hours, put nothing on your skin except what we gave you.", id="none-24h"),
    ],
)
def test_sunscreen_on_day_0_follows_the_setting(setting, present, absent, phrase):
    result = build(AftercarePolicy(sunscreen_day0=setting))
    assert present in result.ids and absent not in result.ids
    assert phrase in result.text
    # It sits right after "today", where the patient reads what to do on the day.
    assert result.ids[result.ids.index("timeline.today") + 1] == present


def test_no_sunscreen_variant_starts_sunscreen_the_next_day():
    block = only(build(AftercarePolicy(sunscreen_day0="none_24h")), "sunscreen.none_24h")
    assert any(line.startswith("From Thursday 26 November, put on a mineral sunscreen") for line in block.paragraphs)


@pytest.mark.parametrize(
    ("appointment", "interval", "block_id", "when", "phrase"),
    [
        pytest.param(date(2026, 12, 23), 4, "next.appointment", date(2026, 12, 23),
                     "Your next appointment is on Wednesday 23 December.", id="appointment-wins"),
        pytest.param(date(2027, 1, 13), None, "next.appointment", date(2027, 1, 13),
                     "Your next appointment is on Wednesday 13 January 2027.", id="appointment-only"),
        pytest.param(None, 4, "next.book_from", date(2026, 12, 23),
                     "Please book your next session for Wednesday 23 December or later.", id="book-from-4-weeks"),
        pytest.param(None, 6, "next.book_from", date(2027, 1, 6),
                     "Please book your next session for Wednesday 6 January 2027 or later.", id="book-from-6-weeks"),
        pytest.param(None, None, "next.ask", None, f"Call us on {PHONE} to arrange your next visit.", id="neither"),
    ],
)
def test_next_appointment_or_book_from(appointment, interval, block_id, when, phrase):
    result = build(next_appointment=appointment, interval_weeks=interval)
    assert [b for b in result.ids if b.startswith("next.")] == [block_id]
    assert only(result, block_id).when == when
    assert phrase in result.text


@pytest.mark.parametrize(
    ("modality", "products", "block_id", "items", "phrase"),
    [
        pytest.param(MN, ("Hyaluronic Serum A", "Calming Balm B"), "products.applied", ("Hyaluronic Serum A", "Calming Balm B"),
                     "These products were put on your skin", id="two-products"),
        pytest.param(RF, ("  Growth factor mask  ",), "products.applied", ("Growth factor mask",),
                     "Keep this list.", id="name-trimmed"),
        pytest.param(MN, (), "products.none", (), "No products were put on your skin during or right after your treatment.",
                     id="none"),
        pytest.param(PRP, (), "products.none", (), "Apart from your own PRP, no products were put on your skin",
                     id="none-prp"),
    ],
)
def test_products_are_listed_by_name_or_said_to_be_none(modality, products, block_id, items, phrase):
    result = build(modality=modality, products_applied=products)
    assert [b for b in result.ids if b.startswith("products.")] == [block_id]
    assert only(result, block_id).items == items
    assert phrase in result.text


def test_areas_treated_are_listed_once_each_in_patient_words():
    block = only(build(zones=(("glabella", 0.5), ("cheeks", 1.0), ("glabella", 0.75), ("decolletage", 0.5))), "what_we_did")
    assert block.items == ("Between the eyebrows", "Cheeks", "Upper chest (décolletage)")


@pytest.mark.parametrize("modality", MODALITIES)
def test_warning_signs_always_carry_the_phone_and_out_of_hours_contact(modality):
    result = build(modality=modality)
    signs = only(result, "warning_signs")
    assert any(PHONE in line for line in signs.paragraphs)
    assert any(OUT_OF_HOURS in line for line in signs.paragraphs)
    assert "Pus or cloudy fluid, a fever or chills." in signs.items
    emergency = only(result, "emergency")
    assert "Difficulty breathing." in emergency.items and "Swelling of your face." in emergency.items
    assert ("warning_signs.rf" in result.ids) is (modality == RF)
    assert ("An area that looks hollow or sunken." in result.text) is (modality == RF)


def test_header_names_the_patient_session_and_clinic():
    header = only(build(session_number=3, sessions_planned=6), "header")
    assert header.items == (
        "Name: Ana Silva",
        "Treatment date: Wednesday 25 November",
        "Practitioner: Sam Lee",
        "Session 3 of 6",
        f"Clinic: Glow Skin Clinic, phone {PHONE}",
    )
    assert header.when == DAY


# --- order, completeness, versions --------------------------------------------------------------------

EVERYTHING: Final[dict[str, Any]] = {
    "modality": RF, "zones": (("cheeks", 2.0), ("forehead", 0.5)), "products_applied": ("Serum A",), "fitzpatrick": 5,
    "cold_sore_history": True, "adverse_events": ("other", "bruising"), "next_appointment": date(2026, 12, 23),
}


def test_blocks_come_in_a_fixed_order():
    assert build(**EVERYTHING).ids == (
        "header", "what_we_did", "products.applied", "adverse.bruising", "adverse.other", "downtime.deep",
        "modality.rf_microneedling", "date.makeup", "date.actives", "date.exercise", "date.sun_strict",
        "timeline.today", "sunscreen.mineral_spf30", "timeline.days_1_2", "timeline.days_3_7", "timeline.week_2",
        "skin.pih_risk", "cold_sore.history", "warning_signs", "warning_signs.rf", "emergency", "next.appointment",
    )


def test_order_does_not_depend_on_the_order_things_were_recorded():
    changed = {**EVERYTHING, "zones": (("forehead", 0.5), ("cheeks", 2.0)), "adverse_events": ("bruising", "other")}
    assert build(**changed).ids == build(**EVERYTHING).ids
    assert build(**EVERYTHING) == build(**EVERYTHING)


ZONE_SETS = ((("forehead", 0.25),), (("cheeks", 1.0),), (("scar_area", 2.5), ("nose", 0.5)))
NEXT: Final[tuple[dict[str, Any], ...]] = ({"next_appointment": date(2026, 12, 23)}, {"interval_weeks": 4}, {})


def test_every_placeholder_is_filled_for_every_combination():
    used: set[str] = set()
    for modality, zones, fitzpatrick, events, sunscreen, cold_sore, nxt, products in itertools.product(
        MODALITIES, ZONE_SETS, (None, 3, 6), ((), ADVERSE_EVENT_KINDS), aftercare.SUNSCREEN_DAY0_OPTIONS, (False, True),
        NEXT, ((), ("Serum A",)),
    ):
        result = build(AftercarePolicy(sunscreen_day0=sunscreen), modality=modality, zones=zones, fitzpatrick=fitzpatrick,
                       adverse_events=events, cold_sore_history=cold_sore, products_applied=products, **nxt)
        text = result.text
        assert "{" not in text and "}" not in text, (modality, zones, fitzpatrick, events, sunscreen, nxt)
        for block in result.blocks:
            assert block.title and all(line.strip() for line in block.lines), block
        used.update(result.ids)
    # Every block of the content was rendered at least once, so every placeholder in it was filled.
    assert used == set(BLOCK_IDS)


def test_every_placeholder_the_content_uses_is_known():
    content = load_content(CONTENT)
    seen: set[str] = set()
    for block in content.blocks.values():
        texts = [block.title, *(line.text for name in ("paragraphs", "items", "expect", "do", "avoid")
                                for line in getattr(block, name))]
        for text in texts:
            seen.update(re.findall(r"\{([^{}]*)\}", text))
    assert seen <= PLACEHOLDERS, seen - PLACEHOLDERS
    # Every value the assembler offers is used somewhere, so none is computed for nothing.
    assert seen == PLACEHOLDERS, PLACEHOLDERS - seen


def test_content_version_is_stable_labelled_and_lists_the_blocks_used():
    first, second = build(**EVERYTHING), build(**EVERYTHING)
    assert first.content_version == second.content_version
    assert first.content_label == "en-2026.11"
    assert re.fullmatch(r"en-2026\.11\+[0-9a-f]{12}", first.content_version)
    assert set(first.content_blocks) == {block.ref for block in first.blocks} | {"language@2"}
    assert list(first.content_blocks) == sorted(first.content_blocks)
    # A different set of blocks is a different content version.
    assert build().content_version != first.content_version


@pytest.mark.parametrize(
    ("file", "block_id", "changes"),
    [
        pytest.param("document.toml", "header", True, id="header-always-used"),
        pytest.param("timeline.toml", "timeline.days_3_7", True, id="timeline-used"),
        pytest.param("modality.toml", "modality.rf_microneedling", True, id="rf-block-on-rf-leaflet"),
        pytest.param("modality.toml", "modality.prp_microneedling", False, id="prp-block-unused-on-rf-leaflet"),
        pytest.param("adverse_events.toml", "adverse.vasovagal", False, id="unused-adverse-note"),
    ],
)
def test_content_version_changes_when_a_used_block_version_changes(tmp_path, file, block_id, changes):
    before = build(content_dir=copy_content(tmp_path, "before"), **EVERYTHING)
    bumped = copy_content(tmp_path, "after")
    current = int(re.search(rf'id = "{re.escape(block_id)}"\nversion = (\d+)', (bumped / "en" / "aftercare" / file).read_text()).group(1))
    edit(bumped / "en" / "aftercare" / file, f'id = "{block_id}"\nversion = {current}', f'id = "{block_id}"\nversion = {current + 1}')
    after = build(content_dir=bumped, **EVERYTHING)
    assert (after.content_version != before.content_version) is changes
    assert (f"{block_id}@{current + 1}" in after.content_blocks) is changes


def test_content_version_changes_with_the_language_file_version(tmp_path):
    bumped = copy_content(tmp_path)
    edit(bumped / "en" / "aftercare" / "language.toml", "version = 2", "version = 3")
    assert build(content_dir=bumped).content_version != build().content_version
    assert "language@3" in build(content_dir=bumped).content_blocks


def test_content_version_matches_the_real_content_dir_when_copied(tmp_path):
    assert build(content_dir=copy_content(tmp_path)).content_version == build().content_version


# --- a second language --------------------------------------------------------------------------------

XX_LANGUAGE = """
version = 3
release = "xx.1"
decimal_mark = ","
day_pattern = "{day}. {month} ({weekday})"
weekdays = ["Lun", "Mar", "Mer", "Gio", "Ven", "Sab", "Dom"]
months = ["Gen", "Feb", "Mar", "Apr", "Mag", "Giu", "Lug", "Ago", "Set", "Ott", "Nov", "Dic"]

[modalities]
microneedling = "xx-mn"
rf_microneedling = "xx-rf"
prp_microneedling = "xx-prp"

[zones]
""" + "\n".join(f'{zone} = "xx-{zone}"' for zone in aftercare.ZONES)


def write_xx(root: Path, skip: str | None = None) -> Path:
    """A tiny fake language 'xx' with every block id, one line each."""
    folder = root / "xx" / "aftercare"
    folder.mkdir(parents=True)
    (folder / "language.toml").write_text(XX_LANGUAGE, encoding="utf-8")
    blocks = []
    for block_id in BLOCK_IDS:
        if block_id == skip:
            continue
        body = ('expect = ["xx {today}"]' if block_id.startswith("timeline.")
                else 'paragraphs = ["xx {clinic_phone} {deepest_mm}"]')
        blocks.append(f'[[block]]\nid = "{block_id}"\nversion = 1\ntitle = "XX {block_id} {{modality_name}}"\n{body}\n')
    (folder / "all.toml").write_text("\n".join(blocks), encoding="utf-8")
    return root


def test_a_second_language_is_only_new_files(tmp_path):
    root = write_xx(tmp_path)
    changes: dict[str, Any] = {"modality": PRP, "zones": (("cheeks", 1.25),), "products_applied": ("Serum A",),
                               "adverse_events": ("bruising",), "interval_weeks": 4}
    english, other = build(**changes), build(content_dir=root, language="xx", **changes)
    assert other.ids == english.ids
    assert other.language == "xx" and other.content_label == "xx-xx.1"
    assert other.content_version.startswith("xx-xx.1+") and "language@3" in other.content_blocks
    assert all(block.title == f"XX {block.id} xx-prp" for block in other.blocks)
    assert only(other, "timeline.today").expect == ("xx 25. Nov (Mer)",)
    assert only(other, "downtime.medium").paragraphs == (f"xx {PHONE} 1,25",)
    assert only(other, "what_we_did").items[-1] == "xx-cheeks"
    assert only(other, "products.applied").items == ("Serum A",)


def test_a_language_missing_a_block_is_refused_with_its_name(tmp_path):
    with pytest.raises(ContentError, match="missing blocks: emergency"):
        load_content(write_xx(tmp_path, skip="emergency"), "xx")


def test_a_language_with_no_folder_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ContentError, match="no aftercare content for language 'fr'.*copy the English folder"):
        build(content_dir=tmp_path, language="fr")


@pytest.mark.parametrize("language", ["../en", "EN", "en/aftercare", "", "english"])
def test_language_codes_are_plain_codes(language):
    with pytest.raises(ValueError, match="language code"):
        load_content(CONTENT, language)


def test_content_is_read_once_per_folder_and_language(tmp_path):
    assert load_content(CONTENT) is load_content(str(CONTENT), "en")
    copy = copy_content(tmp_path)
    assert load_content(copy) is not load_content(CONTENT)
    assert load_content(copy) == load_content(CONTENT)


# --- content checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        pytest.param("warning_signs.toml", "Call us on {clinic_phone} if", "Call us on {clinic_fone} if",
                     r"unknown placeholder \{clinic_fone\}", id="unknown-placeholder"),
        pytest.param("warning_signs.toml", "Call us on {clinic_phone} if", "Call us on {clinic_phone!r} if",
                     "unknown placeholder", id="conversion"),
        pytest.param("warning_signs.toml", "Call us on {clinic_phone} if", "Call us on {clinic_phone.real} if",
                     "unknown placeholder", id="attribute-access"),
        pytest.param("warning_signs.toml", "Scarring.", "Scarring {{sic}}.", "braces are only for placeholders",
                     id="literal-braces"),
        pytest.param("warning_signs.toml", "Scarring.", "Scarring }.", "unbalanced braces", id="stray-brace"),
        pytest.param("warning_signs.toml", 'id = "emergency"\nversion = 1', 'id = "emergency"\nversion = 0',
                     "'version' must be a whole number", id="version-0"),
        pytest.param("warning_signs.toml", 'id = "emergency"', 'id = "emergency.extra"', "unknown block id",
                     id="unknown-id"),
        pytest.param("dates.toml", 'id = "date.makeup"', 'id = "header"', "document.toml: block 'header' is also in dates.toml",
                     id="duplicate-id"),
        pytest.param("dates.toml", 'title = "Make-up"\nparagraphs', 'title = "Make-up"\nparagraph', "unknown keys paragraph",
                     id="misspelt-key"),
        pytest.param("dates.toml", 'paragraphs = ["You can wear make-up',
                     'items = [{ text = "x", before = "makeup_from" }]\nparagraphs = ["You can wear make-up',
                     "unknown line keys before", id="dated-line-outside-the-timeline"),
        pytest.param("timeline.toml", 'before = "makeup_from"', 'before = "make_up_from"', "'before' must name one of",
                     id="unknown-date-name"),
        pytest.param("timeline.toml", 'modalities = ["rf_microneedling"]', 'modalities = ["rf"]',
                     "'modalities' must be a non-empty list", id="unknown-modality"),
        pytest.param("timeline.toml", 'title = "Today: {today}"\nexpect', 'title = "Today: {today}"\nitems',
                     "unknown keys items", id="items-in-a-timeline"),
        pytest.param("language.toml", '"Saturday", "Sunday"]', '"Saturday"]', "'weekdays' must list 7", id="six-weekdays"),
        pytest.param("language.toml", 'scar_area = "Scarred areas"\n', "", r"\[zones\] must name each", id="zone-missing"),
        pytest.param("language.toml", 'day_pattern = "{weekday} {day} {month}"', 'day_pattern = "{weekday} {year}"',
                     "'day_pattern' may use only", id="bad-day-pattern"),
        pytest.param("document.toml", 'id = "header"', 'id = "header"\nid = "again"', "not valid TOML", id="bad-toml"),
    ],
)
def test_malformed_content_is_refused_with_a_reason(tmp_path, file, old, new, message):
    root = copy_content(tmp_path)
    edit(root / "en" / "aftercare" / file, old, new)
    with pytest.raises(ContentError, match=message):
        load_content(root)


def test_a_removed_block_is_reported_missing(tmp_path):
    root = copy_content(tmp_path)
    path = root / "en" / "aftercare" / "warning_signs.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index('[[block]]\nid = "emergency"')], encoding="utf-8")
    with pytest.raises(ContentError, match="missing blocks: emergency"):
        load_content(root)


def _all_content_lines() -> list[tuple[str, str]]:
    content = load_content(CONTENT)
    lines = []
    for block in content.blocks.values():
        lines.append((block.id, block.title))
        for name in ("paragraphs", "items", "expect", "do", "avoid"):
            lines.extend((block.id, line.text) for line in getattr(block, name))
    return lines


def test_patient_text_uses_short_sentences():
    for block_id, text in _all_content_lines():
        for sentence in re.split(r"(?<=[.!?:])\s+", text):
            assert len(sentence.split()) <= 20, (block_id, sentence)


@pytest.mark.parametrize("word", ["erythema", "PIH", "hyperpigmentation", "NSAID", "prophylaxis", "venepuncture",
                                  "vasovagal", "petechiae", "downtime", "topical", "HSV", "collagen induction"])
def test_patient_text_has_no_clinical_jargon(word):
    for block_id, text in _all_content_lines():
        assert word.lower() not in text.lower(), (block_id, text)


# --- facts --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"modality": "laser"}, "unknown modality", id="modality"),
        pytest.param({"zones": ()}, "at least one treated zone", id="no-zones"),
        pytest.param({"zones": [("forehead", 0.5)]}, "non-empty tuple", id="zones-list"),
        pytest.param({"zones": (("eyelid", 0.5),)}, "unknown zone", id="unknown-zone"),
        pytest.param({"zones": (("forehead", 0),)}, "above 0", id="zero-depth"),
        pytest.param({"zones": (("forehead", float("nan")),)}, "above 0", id="nan-depth"),
        pytest.param({"products_applied": ("",)}, "product names", id="empty-product"),
        pytest.param({"products_applied": ["Serum"]}, "tuple of product names", id="products-list"),
        pytest.param({"fitzpatrick": 7}, "Fitzpatrick", id="fitzpatrick-7"),
        pytest.param({"fitzpatrick": True}, "Fitzpatrick", id="fitzpatrick-bool"),
        pytest.param({"cold_sore_history": "yes"}, "cold_sore_history", id="cold-sore-text"),
        pytest.param({"adverse_events": ("fainting",)}, "unknown adverse event", id="unknown-event"),
        pytest.param({"clinic_phone": " "}, "clinic_phone must be filled in", id="no-phone"),
        pytest.param({"clinic_out_of_hours": ""}, "clinic_out_of_hours must be filled in", id="no-out-of-hours"),
        pytest.param({"session_number": 0}, "session_number", id="session-0"),
        pytest.param({"next_appointment": DAY}, "after the session date", id="appointment-same-day"),
        pytest.param({"next_appointment": DAY - timedelta(days=1)}, "after the session date", id="appointment-in-past"),
        pytest.param({"interval_weeks": 0}, "interval_weeks", id="interval-0"),
        pytest.param({"session_date": "2026-11-25"}, "session_date must be a date", id="date-text"),
    ],
)
def test_session_facts_refuse_what_would_print_a_wrong_leaflet(changes, message):
    with pytest.raises(ValueError, match=message):
        facts(**changes)


def test_the_module_is_pure():
    tree = ast.parse(Path(aftercare.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - {"__future__", "practitioner"} <= set(sys.stdlib_module_names)
    from_practitioner = {node.module for node in ast.walk(tree)
                         if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("practitioner")}
    assert from_practitioner <= {"practitioner.clinical.screening", "practitioner.clinical.depth"}
