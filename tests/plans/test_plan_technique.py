"""A plan zone's planned passes and technique: optional, blank by default, stored, shown on the plan page, checked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from practitioner.dates import clinic_today
from practitioner.extensions import db
from practitioner.plans.models import TreatmentPlan
from tests.conftest import make_patient, post_form
from tests.factories import make_consultation


@pytest.fixture
def new_plan_url(practitioner) -> str:
    consultation = make_consultation(make_patient(actor=practitioner), practitioner)
    return f"/consultations/{consultation.public_id}/plans/new"


def _form(**changes: str) -> dict[str, str]:
    data = {
        "modality": "microneedling", "sessions_planned": "4", "interval_weeks": "4",
        "first_session_on": (clinic_today() + timedelta(days=7)).isoformat(), "notes": "",
        "zones-0-zone": "cheeks", "zones-0-depth_min_mm": "1.0", "zones-0-depth_max_mm": "1.5", "zones-0-note": "",
        "zones-1-zone": "forehead", "zones-1-depth_min_mm": "0.25", "zones-1-depth_max_mm": "0.5", "zones-1-note": "",
    }
    data.update(changes)
    return data


def _zones() -> list[tuple]:
    db.session.expire_all()
    [plan] = db.session.scalars(select(TreatmentPlan)).all()
    return [(z.zone, z.passes, z.technique) for z in plan.zones]


def test_the_plan_form_offers_passes_and_technique_blank_for_each_zone(as_practitioner, new_plan_url):
    html = as_practitioner.get(new_plan_url).get_data(as_text=True)
    assert re.search(r'<label[^>]*for="zones-0-passes"[^>]*>Passes \(optional\)', html)
    assert re.search(r'<input[^>]*name="zones-0-passes"[^>]*>', html)
    assert not re.search(r'<input[^>]*name="zones-0-passes"[^>]*value="\d', html), "no clinical default: the practitioner chooses"
    technique = re.search(r'<select[^>]*name="zones-0-technique"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'value="([^"]*)"', technique) == ["", "glide", "stamp", "cross_hatch"]
    assert "selected" not in technique


def test_the_plan_stores_each_zones_passes_and_technique_and_shows_them(as_practitioner, new_plan_url):
    response = post_form(as_practitioner, new_plan_url, _form(**{"zones-0-passes": "3", "zones-0-technique": "cross_hatch",
                                                                 "zones-1-technique": "glide"}))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    assert _zones() == [("cheeks", 3, "cross_hatch"), ("forehead", None, "glide")]
    page = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Each session:</span> 3 passes, cross-hatch" in page and "Each session:</span> Glide" in page


def test_passes_and_technique_may_be_left_blank(as_practitioner, new_plan_url):
    response = post_form(as_practitioner, new_plan_url, _form(**{"zones-0-passes": "", "zones-0-technique": ""}))
    assert response.status_code == 303
    assert _zones() == [("cheeks", None, None), ("forehead", None, None)]
    assert "Each session:" not in as_practitioner.get(response.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("zones-1-passes", "three", "Zone 2, passes (optional): Enter the passes as a whole number, or leave it blank."),
    ("zones-1-passes", "0", "Zone 2, passes (optional): Enter between 1 and 40 passes, or leave it blank."),
    ("zones-1-passes", "41", "Zone 2, passes (optional): Enter between 1 and 40 passes, or leave it blank."),
    ("zones-1-technique", "spiral", "Zone 2, technique (optional): Not a valid choice."),
])
def test_a_bad_passes_or_technique_is_422_on_its_field_with_values_kept(as_practitioner, new_plan_url, field, value, message):
    response = post_form(as_practitioner, new_plan_url, _form(**{field: value, "zones-0-passes": "3", "zones-0-technique": "stamp"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert re.search(rf'<(input|select)[^>]*aria-invalid="true"[^>]*id="{field}"|<(input|select)[^>]*id="{field}"[^>]*aria-invalid="true"', html)
    assert re.search(r'<input[^>]*name="zones-0-passes"[^>]*value="3"', html)
    assert re.search(r'<option selected value="stamp">|<option value="stamp" selected>', html)
    if field.endswith("passes"):
        assert re.search(rf'<input[^>]*name="{field}"[^>]*value="{value}"', html)
    assert db.session.scalars(select(TreatmentPlan)).first() is None
