"""Patient wording after the review of every aftercare and guide sentence against the sourced reference (issue 10).

Each test reads the assembled leaflet or the guide's wording and checks a phrase is (or is not) there;
docs/aftercare.md gives the sourced basis of each statement checked here.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

from practitioner.clinical.aftercare import AftercarePolicy, awaiting_review, format_day, load_content
from tests.clinical.test_aftercare import CONTENT, MN, PRP, RF, build, only

ROOT = Path(__file__).resolve().parents[2]
GUIDE = tomllib.loads((CONTENT / "en" / "guide.toml").read_text(encoding="utf-8"))


def _guide_lines() -> list[str]:
    lines: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            lines.append(value)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk({k: v for k, v in GUIDE.items() if k not in ("version", "title")})
    return lines


def _aftercare_lines() -> list[str]:
    leaflets = [build(modality=m, fitzpatrick=5, cold_sore_history=True, adverse_events=("excessive_bleeding", "vasovagal",
                      "burn_or_blister", "allergic_reaction", "bruising"), zones=(("cheeks", d),)) for m in (MN, RF, PRP)
                for d in (0.5, 1.0, 2.0)]
    return [line for leaflet in leaflets for line in leaflet.text.splitlines()]


# -- 2. a date in another year prints its year ----------------------------------------------------


def test_days_in_the_next_year_print_their_year_and_this_years_do_not():
    # Treated on Monday 28 December 2026, leaflet issued the same day: week 2 starts in 2027.
    leaflet = build(session_date=date(2026, 12, 28), issued_on=date(2026, 12, 28), next_appointment=date(2027, 1, 25))
    text = leaflet.text
    assert "Today: Monday 28 December" in text and "Monday 28 December 2026" not in text
    assert "From the second week: from Tuesday 5 January 2027" in text
    assert "Your next appointment is on Monday 25 January 2027." in text
    assert "Saturday 2 January 2027" in text  # retinoids and acids again from day 5
    assert "Days 3 to 7: Thursday 31 December to Monday 4 January 2027" in text
    assert re.search(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday) \d{1,2} January(?! 2027)", text) is None


def test_the_year_is_judged_from_the_issue_date_in_the_clinics_zone():
    # Issued in the new year (a reprint of a December session): the December days now print 2026.
    text = build(session_date=date(2026, 12, 28), issued_on=date(2027, 1, 4)).text
    assert "Today: Monday 28 December 2026" in text and "Tuesday 5 January" in text and "5 January 2027" not in text


def test_format_day_adds_the_year_only_for_another_year():
    assert format_day(date(2027, 1, 2), this_year=2026) == "Saturday 2 January 2027"
    assert format_day(date(2027, 1, 2), this_year=2027) == "Saturday 2 January"
    assert format_day(date(2027, 1, 2)) == "Saturday 2 January"
    assert load_content(CONTENT).calendar.year_pattern == "{weekday} {day} {month} {year}"


# -- 4. the sun row runs until its date ------------------------------------------------------------


def test_sun_protection_is_an_until_date():
    block = only(build(AftercarePolicy(sun_strict_days=14)), "date.sun_strict")
    assert block.until == date(2026, 11, 25) + timedelta(days=14)
    for other in ("date.makeup", "date.actives", "date.exercise"):
        assert only(build(), other).until is None


# -- 5. one redness duration on an RF leaflet --------------------------------------------------------


@pytest.mark.parametrize(("depth", "days"), [(0.5, "2 to 3"), (1.0, "4 to 5"), (2.0, "6 to 7")])
def test_rf_leaflet_gives_one_redness_duration_that_of_its_depth_band(depth, days):
    text = build(modality=RF, zones=(("cheeks", depth),)).text
    assert f"about {days} days" in only(build(modality=RF, zones=(("cheeks", depth),)), f"downtime.{_band(depth)}").paragraphs[1]
    redness = [sentence for sentence in re.split(r"(?<=[.!?])\s+", text) if re.search(r"\bred(ness)?\b", sentence, re.I)]
    durations = {d for sentence in redness for d in re.findall(r"(\d+ to \d+) days", sentence)}
    assert durations == {days}, redness


def _band(depth: float) -> str:
    return "shallow" if depth <= 0.5 else "medium" if depth <= 1.5 else "deep"


# -- 7. the treatment guide --------------------------------------------------------------------------


def test_guide_does_not_call_rf_heat_gentle():
    assert not any("gentle heat" in line.lower() for line in GUIDE["what_it_is"]["rf_microneedling"])
    assert "heat" in " ".join(GUIDE["what_it_is"]["rf_microneedling"])


def test_guide_prp_alcohol_and_smoking_a_few_days_before():
    prep = GUIDE["preparation"]
    assert "prp_water_alcohol" not in prep
    assert prep["prp_no_alcohol"].startswith("For a few days before your session") and "alcohol and smoking" in prep["prp_no_alcohol"]
    assert "alcohol" not in prep["prp_water"]


def test_guide_pink_days_follow_the_depth_bands_of_the_aftercare():
    prep = GUIDE["preparation"]
    assert "a day or two" not in " ".join(v for v in prep.values() if isinstance(v, str))
    for band, days in (("shallow", "2 to 3"), ("medium", "4 to 5"), ("deep", "6 to 7")):
        assert f"about {days} days" in prep[f"downtime_{band}"] and f"about {days} days" in prep[f"downtime_rf_{band}"]
        assert f"about {days} days" in " ".join(only(build(zones=(("cheeks", {"shallow": 0.5, "medium": 1.0, "deep": 2.0}[band]),)),
                                                         f"downtime.{band}").paragraphs)


# -- 8. adverse-event notes trace to a source or await review -------------------------------------


def test_unsourced_adverse_event_notes_are_marked_awaiting_medical_review():
    notes = {note.block_id: note for note in awaiting_review(CONTENT)}
    assert set(notes) >= {"adverse.excessive_bleeding", "adverse.vasovagal", "adverse.burn_or_blister", "adverse.allergic_reaction"}
    assert all(note.note and note.source == "adverse_events.toml" for note in notes.values())
    docs = (ROOT / "docs" / "aftercare.md").read_text(encoding="utf-8")
    for block_id in notes:
        assert block_id in docs, f"docs/aftercare.md does not list {block_id} as awaiting review"


def test_a_review_mark_must_say_what_to_review(tmp_path):
    import shutil

    from practitioner.clinical.aftercare import ContentError

    folder = tmp_path / "content"
    shutil.copytree(CONTENT / "en" / "aftercare", folder / "en" / "aftercare")
    path = folder / "en" / "aftercare" / "adverse_events.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('id = "adverse.other"\nversion = 1',
                                                            'id = "adverse.other"\nversion = 1\nawaiting_medical_review = " "'), encoding="utf-8")
    with pytest.raises(ContentError, match="awaiting_medical_review"):
        load_content(folder)


# -- 9. jargon explained or replaced -----------------------------------------------------------------


@pytest.mark.parametrize("source", ["aftercare", "guide"])
def test_jargon_is_explained_or_replaced(source):
    lines = _aftercare_lines() if source == "aftercare" else _guide_lines()
    text = "\n".join(lines)
    assert "atrophic" not in text.lower() and "hypertrophic" not in text.lower()
    for line in lines:
        lower = line.lower()
        if "aha" in re.findall(r"[a-z]+", lower) or "bha" in re.findall(r"[a-z]+", lower):
            assert "exfoliating acids" in lower, line
        if "retinoid" in lower:
            assert "vitamin a" in lower, line
        if "benzoyl peroxide" in lower:
            assert "benzoyl peroxide (an acne treatment)" in lower, line
        if "keloid" in lower:
            assert "grow beyond" in lower, line
