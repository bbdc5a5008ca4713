"""Treatment plan pages: make a plan from a consultation, refusals, the zone rows without JavaScript, the plan page."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import g, render_template
from sqlalchemy import func, select

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role, User
from practitioner.clinical.depth import ZONES
from practitioner.consultations.models import (
    Consultation,
    ConsultationArea,
    ConsultationConcern,
    ScreeningOverride,
)
from practitioner.plans import services as plan_services
from practitioner.plans.models import PLAN_ZONES, TreatmentPlan
from practitioner.errors import NotAllowed
from practitioner.extensions import db
from practitioner.dates import clinic_today
from tests.conftest import make_patient, make_user, post_form


def make_consultation(practitioner: User, *, decision: str = "proceed", fitzpatrick: int | None = 2,
                      modality: str = "microneedling", areas: tuple[str, ...] = ("forehead", "periorbital", "cheeks"),
                      concerns: tuple[str, ...] = ("atrophic_acne_scars",), override: bool = False, **patient: Any) -> Consultation:
    """A committed consultation with its areas and concerns, inserted directly."""
    owner = make_patient(actor=practitioner, **patient)
    consultation = Consultation(
        patient_id=owner.id, practitioner_id=practitioner.id, consultation_date=clinic_today(), modality=modality,
        decision=decision, fitzpatrick=fitzpatrick, areas=[ConsultationArea(code=a) for a in areas],
        concerns=[ConsultationConcern(code=c) for c in concerns],
    )
    db.session.add(consultation)
    db.session.flush()
    if override:
        db.session.add(ScreeningOverride(consultation_id=consultation.id, computed_decision=decision,
                                         reason="Discussed with the medical lead; cleared in writing.", recorded_by_id=practitioner.id))
    db.session.commit()
    return consultation


def new_url(consultation: Consultation) -> str:
    return f"/consultations/{consultation.public_id}/plans/new"


def first_session() -> date:
    return clinic_today() + timedelta(days=7)


def valid_form(**changes: str) -> dict[str, str]:
    """What a practitioner would send for the default consultation's three zones."""
    data = {
        "modality": "microneedling", "sessions_planned": "4", "interval_weeks": "4",
        "first_session_on": first_session().isoformat(), "notes": "Stamp over the rolling scars.",
        "zones-0-zone": "forehead", "zones-0-depth_min_mm": "0.25", "zones-0-depth_max_mm": "0.5", "zones-0-note": "",
        "zones-1-zone": "periorbital", "zones-1-depth_min_mm": "0.2", "zones-1-depth_max_mm": "0.3", "zones-1-note": "Lateral only",
        "zones-2-zone": "cheeks", "zones-2-depth_min_mm": "1.0", "zones-2-depth_max_mm": "1.5", "zones-2-note": "",
    }
    data.update(changes)
    return data


def plans() -> list[TreatmentPlan]:
    db.session.expire_all()
    return list(db.session.scalars(select(TreatmentPlan)))


def audit_rows(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def selected(html: str, name: str) -> str | None:
    select_html = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    if not select_html:
        return None
    option = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', select_html.group(1))
    return (option.group(1) or option.group(2)) if option else ""


# The form


def test_zone_codes_match_the_model(app):
    assert ZONES == PLAN_ZONES


def test_form_prefills_the_areas_at_the_suggested_depths(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = as_practitioner.get(new_url(consultation))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert [selected(html, f"zones-{i}-zone") for i in range(3)] == ["forehead", "periorbital", "cheeks"]
    assert (input_value(html, "zones-0-depth_min_mm"), input_value(html, "zones-0-depth_max_mm")) == ("0.25", "0.5")
    assert (input_value(html, "zones-1-depth_min_mm"), input_value(html, "zones-1-depth_max_mm")) == ("0.2", "0.3")
    assert (input_value(html, "zones-2-depth_min_mm"), input_value(html, "zones-2-depth_max_mm")) == ("1.0", "2.0")
    assert selected(html, "zones-3-zone") is None
    assert re.search(r'<input checked[^>]*value="microneedling"|value="microneedling"[^>]*checked', html)
    assert "Never inside the orbital rim (eyelids)" in html
    assert "3–6 sessions, 4–6 weeks apart" in html, "the course guidance for acne scars is shown"
    assert 'href="/static/css/plan.css"' in html


def test_fitzpatrick_iv_to_vi_prefills_shallower_depths(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, fitzpatrick=5)
    html = as_practitioner.get(new_url(consultation)).get_data(as_text=True)
    assert input_value(html, "zones-0-depth_max_mm") == "0.35"
    assert input_value(html, "zones-2-depth_max_mm") == "1.5"
    assert "post-inflammatory hyperpigmentation" in html and "not a clinical fact" in html


def test_skin_type_falls_back_to_the_patient_record(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, fitzpatrick=None, areas=("cheeks",))
    db.session.get(Consultation, consultation.id).patient.fitzpatrick = 6
    db.session.commit()
    html = as_practitioner.get(new_url(consultation)).get_data(as_text=True)
    assert input_value(html, "zones-0-depth_max_mm") == "1.5"
    assert "Fitzpatrick VI" in html


def test_neck_and_decolletage_are_shown_unverified_and_decolletage_is_left_blank(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, areas=("neck", "decolletage"))
    html = as_practitioner.get(new_url(consultation)).get_data(as_text=True)
    assert (input_value(html, "zones-0-depth_min_mm"), input_value(html, "zones-0-depth_max_mm")) == ("0.5", "1.0")
    assert (input_value(html, "zones-1-depth_min_mm"), input_value(html, "zones-1-depth_max_mm")) == ("", "")
    assert html.count(">Unverified<") == 2
    assert "Use the device&#39;s instructions for use." in html and "No sourced range" in html


def test_rf_consultation_defaults_to_rf_and_says_depth_is_device_set(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, modality="rf_microneedling", areas=("cheeks",))
    html = as_practitioner.get(new_url(consultation)).get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="rf_microneedling"|value="rf_microneedling"[^>]*checked', html)
    assert "depth is set by the device" in html and "device&#39;s own units" in html


def test_enter_in_a_field_saves_rather_than_removing_a_row(as_practitioner, practitioner):
    html = as_practitioner.get(new_url(make_consultation(practitioner))).get_data(as_text=True)
    form = html[html.index('<form method="post" class="form plan-form"'):]
    first_button = re.search(r'<(button|input)[^>]*type="submit"[^>]*>', form).group(0)
    assert "name=" not in first_button and "Save plan" in form[form.index(first_button):form.index(first_button) + 200]


# Saving


def test_valid_plan_is_saved_with_its_zones_and_audited(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form())
    assert response.status_code == 303
    [plan] = plans()
    assert response.headers["Location"].endswith(f"/plans/{plan.public_id}")
    assert (plan.modality, plan.sessions_planned, plan.interval_weeks, plan.first_session_on) == ("microneedling", 4, 4, first_session())
    assert plan.patient_id == consultation.patient_id and plan.consultation_id == consultation.id
    assert plan.created_by_id == practitioner.id and plan.notes == "Stamp over the rolling scars."
    assert [(z.position, z.zone, z.depth_min_mm, z.depth_max_mm, z.note) for z in plan.zones] == [
        (0, "forehead", Decimal("0.25"), Decimal("0.50"), ""),
        (1, "periorbital", Decimal("0.20"), Decimal("0.30"), "Lateral only"),
        (2, "cheeks", Decimal("1.00"), Decimal("1.50"), ""),
    ]
    [row] = audit_rows("plan.create")
    assert row.patient_id == consultation.patient_id and row.actor_id == practitioner.id
    assert row.target == f"plan:{plan.public_id}"
    detail = json.loads(row.detail)
    assert detail["zones"] == ["forehead", "periorbital", "cheeks"] and detail["deeper_than_suggested"] == []
    assert detail["consultation"] == str(consultation.public_id)


def test_a_different_modality_can_be_chosen(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    assert post_form(as_practitioner, new_url(consultation), valid_form(modality="prp_microneedling")).status_code == 303
    assert plans()[0].modality == "prp_microneedling"


def test_deeper_than_suggested_is_allowed_and_recorded(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(**{"zones-2-depth_max_mm": "2.5"}))
    assert response.status_code == 303
    assert json.loads(audit_rows("plan.create")[0].detail)["deeper_than_suggested"] == ["cheeks"]
    page = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert "Deeper than suggested" in page


def test_periorbital_above_half_a_millimetre_is_refused_on_its_field(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(**{"zones-1-depth_max_mm": "0.6"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "no deeper than 0.5 mm" in html and "never inside the orbital rim (eyelids)" in html
    assert re.search(r'id="zones-1-depth_max_mm-error"', html)
    assert input_value(html, "zones-1-depth_max_mm") == "0.6", "what was typed stays"
    assert plans() == [] and audit_rows("plan.create") == []


def test_the_service_refusal_lands_on_the_field_if_the_form_missed_it(as_practitioner, practitioner, monkeypatch):
    from practitioner.plans import forms as plan_forms

    monkeypatch.setattr(plan_forms, "ceiling_refusal", lambda zone, depth: None)
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(**{"zones-1-depth_max_mm": "0.6"}))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="zones-1-depth_max_mm-error">[^<]*no deeper than 0.5 mm', html)
    assert plans() == []


def test_periorbital_at_half_a_millimetre_is_allowed(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(**{"zones-1-depth_max_mm": "0.5"}))
    assert response.status_code == 303


def test_bad_input_is_422_with_a_message_per_field_and_values_kept(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    yesterday = clinic_today() - timedelta(days=1)
    bad = valid_form(**{
        "sessions_planned": "13", "interval_weeks": "0", "first_session_on": yesterday.isoformat(), "notes": "Keep this note",
        "zones-0-depth_min_mm": "0.6", "zones-0-depth_max_mm": "0.4",
        "zones-1-depth_min_mm": "abc", "zones-1-note": "Typed note",
        "zones-2-zone": "forehead", "zones-2-depth_max_mm": "9",
    })
    response = post_form(as_practitioner, new_url(consultation), bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Plan between 1 and 12 sessions." in html
    assert "Enter an interval between 1 and 26 weeks." in html
    assert "The first session cannot be before today" in html
    assert "The deepest depth must be at least the shallowest (0.6 mm)." in html
    assert "Enter the depth in millimetres as a number, like 0.5." in html
    assert "Forehead is already zone 1" in html
    assert "Enter a depth between 0.1 and 3.5 mm." in html
    assert "Zone 3, deepest (mm)" in html, "the summary names the row"
    assert input_value(html, "sessions_planned") == "13" and input_value(html, "interval_weeks") == "0"
    assert input_value(html, "first_session_on") == yesterday.isoformat()
    assert input_value(html, "zones-1-depth_min_mm") == "abc" and input_value(html, "zones-1-note") == "Typed note"
    assert input_value(html, "zones-2-depth_max_mm") == "9" and selected(html, "zones-2-zone") == "forehead"
    assert "Keep this note" in html
    assert html.count('aria-invalid="true"') >= 7
    assert plans() == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("sessions_planned", "", "Enter the number of sessions."),
    ("sessions_planned", "four", "Enter a whole number of sessions, like 4."),
    ("interval_weeks", "27", "Enter an interval between 1 and 26 weeks."),
    ("first_session_on", "", "Enter the date of the first session."),
    ("modality", "laser", "Not a valid choice."),
    ("zones-0-zone", "", "Choose the zone."),
    ("zones-0-depth_min_mm", "", "Enter the shallowest depth in millimetres."),
    ("zones-0-depth_min_mm", "0.05", "Enter a depth between 0.1 and 3.5 mm."),
    ("zones-0-depth_min_mm", "NaN", "Enter the depth in millimetres as a number, like 0.5."),
    ("zones-0-depth_min_mm", "0.125", "Use at most 2 decimal places, like 0.25."),
    ("zones-0-zone", "eyelids", "Not a valid choice."),
])
def test_each_field_has_its_own_message(as_practitioner, practitioner, field, value, message):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(**{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert plans() == []


def test_trailing_zeros_are_not_extra_decimal_places(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(**{"zones-0-depth_max_mm": "0.500"}))
    assert response.status_code == 303
    assert plans()[0].zones[0].depth_max_mm == Decimal("0.50")


def test_today_is_a_valid_first_session_date(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation), valid_form(first_session_on=clinic_today().isoformat()))
    assert response.status_code == 303


def test_a_plan_needs_at_least_one_zone(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    data = {k: v for k, v in valid_form().items() if not k.startswith("zones-")}
    response = post_form(as_practitioner, new_url(consultation), data)
    assert response.status_code == 422
    assert "Add at least one zone." in response.get_data(as_text=True)
    assert plans() == []


# Adding and removing rows without JavaScript


def test_add_a_zone_keeps_everything_typed_and_saves_nothing(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    typed = valid_form(**{"sessions_planned": "5", "notes": "Typed before adding", "zones-0-depth_max_mm": "0.45",
                          "zones-2-note": "Avoid the active spot", "add_zone": "Add a zone"})
    response = post_form(as_practitioner, new_url(consultation), typed)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert selected(html, "zones-3-zone") == "", "one more, empty, row"
    assert input_value(html, "zones-3-depth_min_mm") == ""
    assert input_value(html, "sessions_planned") == "5" and "Typed before adding" in html
    assert input_value(html, "zones-0-depth_max_mm") == "0.45"
    assert input_value(html, "zones-2-note") == "Avoid the active spot"
    assert "error-summary" not in html and 'aria-invalid="true"' not in html, "no errors for an unfinished form"
    assert plans() == []

    # Fill the new row and save: the round trip ends in a plan with four zones.
    typed.pop("add_zone")
    typed.update({"zones-3-zone": "glabella", "zones-3-depth_min_mm": "0.5", "zones-3-depth_max_mm": "0.75"})
    response = post_form(as_practitioner, new_url(consultation), typed)
    assert response.status_code == 303
    [plan] = plans()
    assert [z.zone for z in plan.zones] == ["forehead", "periorbital", "cheeks", "glabella"]
    assert plan.zones[0].depth_max_mm == Decimal("0.45") and plan.sessions_planned == 5


def test_add_a_zone_keeps_a_value_that_does_not_parse(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation),
                         valid_form(**{"zones-1-depth_min_mm": "0,2", "add_zone": "Add a zone"}))
    assert response.status_code == 200
    assert input_value(response.get_data(as_text=True), "zones-1-depth_min_mm") == "0,2"


def test_remove_drops_only_that_row_and_keeps_the_rest(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    response = post_form(as_practitioner, new_url(consultation),
                         valid_form(**{"zones-1-remove": "Remove", "zones-2-note": "Kept", "interval_weeks": "6"}))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert [selected(html, f"zones-{i}-zone") for i in range(3)] == ["forehead", "cheeks", None]
    assert input_value(html, "zones-1-note") == "Kept" and input_value(html, "interval_weeks") == "6"
    assert "Never inside the orbital rim" not in html
    assert plans() == []


def test_removing_every_row_shows_how_to_add_one(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, areas=("cheeks",))
    data = {k: v for k, v in valid_form().items() if not k.startswith(("zones-1", "zones-2"))}
    response = post_form(as_practitioner, new_url(consultation), {**data, "zones-0-remove": "Remove"})
    assert response.status_code == 200
    assert "No zones yet" in response.get_data(as_text=True)


def test_no_more_rows_than_zones(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    data = valid_form()
    for i, zone in enumerate(ZONES):
        data.update({f"zones-{i}-zone": zone, f"zones-{i}-depth_min_mm": "0.2", f"zones-{i}-depth_max_mm": "0.3"})
    response = post_form(as_practitioner, new_url(consultation), {**data, "add_zone": "Add a zone"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Every zone already has a row" in html and selected(html, f"zones-{len(ZONES)}-zone") is None


# Refusals


@pytest.mark.parametrize("decision", ["defer", "refer", "decline"])
def test_consultation_that_does_not_allow_treatment_is_409_without_a_form(as_practitioner, practitioner, decision):
    consultation = make_consultation(practitioner, decision=decision)
    response = as_practitioner.get(new_url(consultation))
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "no treatment plan can be made from it" in html and "record an override" in html
    assert 'name="sessions_planned"' not in html and "Save plan" not in html
    response = post_form(as_practitioner, new_url(consultation), valid_form(), page="/patients/")
    assert response.status_code == 409
    assert plans() == []


def test_an_override_allows_a_plan(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, decision="defer", override=True)
    assert as_practitioner.get(new_url(consultation)).status_code == 200
    assert post_form(as_practitioner, new_url(consultation), valid_form()).status_code == 303


def test_proceed_with_caution_allows_a_plan(as_practitioner, practitioner):
    consultation = make_consultation(practitioner, decision="proceed_with_caution")
    assert as_practitioner.get(new_url(consultation)).status_code == 200


def test_reception_may_not_make_or_see_plans(as_reception, reception):
    author = make_user(Role.PRACTITIONER, email="author@clinic.example")
    consultation = make_consultation(author)
    assert as_reception.get(new_url(consultation)).status_code == 403
    assert post_form(as_reception, new_url(consultation), valid_form(), page="/patients/").status_code == 403
    assert plans() == []
    assert audit_rows("access.denied")


def test_admin_may_not_make_plans(as_admin):
    author = make_user(Role.PRACTITIONER, email="author@clinic.example")
    assert as_admin.get(new_url(make_consultation(author))).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, practitioner):
    response = client.get(new_url(make_consultation(practitioner)))
    assert response.status_code in (302, 303) and "/sign-in" in response.headers["Location"]


def test_unknown_consultation_is_404(as_practitioner):
    assert as_practitioner.get(f"/consultations/{uuid.uuid4()}/plans/new").status_code == 404


def test_post_without_csrf_is_refused(as_practitioner, practitioner):
    consultation = make_consultation(practitioner)
    assert as_practitioner.post(new_url(consultation), data=valid_form()).status_code == 400
    assert plans() == []


def test_service_refuses_a_consultation_that_does_not_allow_treatment(app, practitioner):
    consultation = make_consultation(practitioner, decision="refer")
    values = {"modality": "microneedling", "sessions_planned": 3, "interval_weeks": 4, "first_session_on": first_session(),
              "zones": [{"zone": "cheeks", "depth_min_mm": Decimal("1.0"), "depth_max_mm": Decimal("1.5")}]}
    with pytest.raises(NotAllowed, match="“Refer”"):
        plan_services.create_plan(db.session, consultation, values, actor=practitioner)
    db.session.rollback()
    assert db.session.scalar(select(func.count(TreatmentPlan.id))) == 0


@pytest.mark.parametrize(("zones", "field", "message"), [
    ([{"zone": "periorbital", "depth_min_mm": Decimal("0.2"), "depth_max_mm": Decimal("0.6")}], "depth_max_mm", "no deeper than 0.5 mm"),
    ([{"zone": "cheeks", "depth_min_mm": Decimal("1.5"), "depth_max_mm": Decimal("1.0")}], "depth_max_mm", "at least the shallowest"),
    ([{"zone": "nose", "depth_min_mm": Decimal("0.25"), "depth_max_mm": Decimal("0.5")}] * 2, "zone", "listed twice"),
])
def test_service_refuses_what_the_form_would_catch(app, practitioner, zones, field, message):
    consultation = make_consultation(practitioner)
    values = {"modality": "microneedling", "sessions_planned": 3, "interval_weeks": 4, "first_session_on": first_session(), "zones": zones}
    with pytest.raises(plan_services.ZonesRefused, match=message) as refused:
        plan_services.create_plan(db.session, consultation, values, actor=practitioner)
    assert refused.value.field == field and refused.value.position == len(zones) - 1
    with pytest.raises(plan_services.ZonesRefused, match="at least one zone") as refused:
        plan_services.create_plan(db.session, consultation, {**values, "zones": []}, actor=practitioner)
    assert refused.value.position is None


# The plan page


def _saved_plan(client, practitioner, **changes: str) -> TreatmentPlan:
    consultation = make_consultation(practitioner)
    assert post_form(client, new_url(consultation), valid_form(**changes)).status_code == 303
    return plans()[0]


def test_plan_page_shows_progress_dates_zones_and_links(as_practitioner, practitioner):
    plan = _saved_plan(as_practitioner, practitioner, sessions_planned="4", interval_weeks="6")
    response = as_practitioner.get(f"/plans/{plan.public_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "0 of 4 sessions done" in html and "<strong>4</strong> remaining" in html
    assert re.search(r'<progress[^>]*value="0"[^>]*max="4"', html)
    for k in range(4):
        assert (first_session() + timedelta(weeks=6 * k)).strftime("%A %-d %B %Y") in html
    assert "Every 6 weeks" in html and "Microneedling" in html
    assert "0.25–0.5 mm" in html and "0.2–0.3 mm" in html and "1.0–1.5 mm" in html
    assert "Never inside the orbital rim (eyelids)" in html and "Lateral only" in html
    patient_link = f'href="/patients/{db.session.get(Consultation, plan.consultation_id).patient.public_id}"'
    assert patient_link in html and "Back to the consultation" in html
    assert "Stamp over the rolling scars." in html
    assert [row.patient_id for row in audit_rows("plan.view")] == [plan.patient_id]


def test_plan_page_flags_a_course_outside_the_typical_range(as_practitioner, practitioner):
    plan = _saved_plan(as_practitioner, practitioner, sessions_planned="8", interval_weeks="2")
    html = as_practitioner.get(f"/plans/{plan.public_id}").get_data(as_text=True)
    assert "Outside the typical 3–6" in html and "Outside the typical 4–6" in html


def test_reception_cannot_open_a_plan(app, practitioner, client):
    from tests.conftest import sign_in

    consultation = make_consultation(practitioner)
    plan = plan_services.create_plan(db.session, consultation, {
        "modality": "microneedling", "sessions_planned": 3, "interval_weeks": 4, "first_session_on": first_session(),
        "zones": [{"zone": "cheeks", "depth_min_mm": Decimal("1.0"), "depth_max_mm": Decimal("1.5")}]}, actor=practitioner)
    db.session.commit()
    reception = make_user(Role.RECEPTION)
    assert sign_in(client, reception.email).status_code == 303
    assert client.get(f"/plans/{plan.public_id}").status_code == 403


def test_unknown_plan_is_404(as_practitioner):
    assert as_practitioner.get(f"/plans/{uuid.uuid4()}").status_code == 404


def test_schedule_and_lists(app, practitioner):
    first = make_consultation(practitioner)
    values = {"modality": "microneedling", "sessions_planned": 3, "interval_weeks": 5, "first_session_on": date(2031, 1, 6),
              "notes": "", "zones": [{"zone": "chin_jaw", "depth_min_mm": Decimal("1.0"), "depth_max_mm": Decimal("2.0"), "note": ""}]}
    older = plan_services.create_plan(db.session, first, values, actor=practitioner)
    newer = plan_services.create_plan(db.session, first, {**values, "sessions_planned": 1}, actor=practitioner)
    db.session.commit()
    assert [(s.number, s.on, s.done) for s in plan_services.session_schedule(older)] == [
        (1, date(2031, 1, 6), False), (2, date(2031, 2, 10), False), (3, date(2031, 3, 17), False)]
    assert plan_services.plans_for_consultation(db.session, first) == [older, newer]
    assert plan_services.plans_for_patient(db.session, first.patient) == [newer, older]
    assert plan_services.get_plan(db.session, older.public_id) is older
    assert plan_services.get_plan(db.session, uuid.uuid4()) is None


# The consultation page's partial


def _render_plans(app, user: User, consultation: Consultation) -> str:
    with app.test_request_context():
        g._login_user = user  # Flask-Login's per-request user, without a sign-in session
        return render_template("plans/_for_consultation.html", consultation=consultation,
                               plans=plan_services.plans_for_consultation(db.session, consultation))


def test_plans_partial_lists_plans_with_progress_and_offers_a_new_one(app, practitioner):
    consultation = make_consultation(practitioner)
    html = _render_plans(app, practitioner, consultation)
    assert "Make a treatment plan" in html and f'href="/consultations/{consultation.public_id}/plans/new"' in html
    assert "No treatment plan yet." in html
    plan = plan_services.create_plan(db.session, consultation, {
        "modality": "rf_microneedling", "sessions_planned": 3, "interval_weeks": 4, "first_session_on": first_session(),
        "zones": [{"zone": "cheeks", "depth_min_mm": Decimal("1.0"), "depth_max_mm": Decimal("1.5")}]}, actor=practitioner)
    db.session.commit()
    html = _render_plans(app, practitioner, consultation)
    assert f'href="/plans/{plan.public_id}"' in html
    assert "Radiofrequency microneedling: 3 sessions, every 4 weeks" in html and "0 of 3 done" in html
    assert re.search(r'<progress[^>]*value="0"[^>]*max="3"', html)


def test_plans_partial_hides_the_button_when_not_allowed_or_not_permitted(app, practitioner):
    deferred = make_consultation(practitioner, decision="defer")
    html = _render_plans(app, practitioner, deferred)
    assert "Make a treatment plan" not in html and "documented override" in html
    reception = make_user(Role.RECEPTION)
    assert "Make a treatment plan" not in _render_plans(app, reception, make_consultation(practitioner))
