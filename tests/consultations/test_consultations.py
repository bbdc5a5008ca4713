"""Consultation pages: record, screen, store the result and policy, re-screen, override, refusals."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from practitioner.audit import AuditEvent
from practitioner.clinical.questions import QUESTIONS
from practitioner.consultations.models import Consultation, ScreeningFlag
from practitioner.extensions import db
from tests.conftest import csrf_token, make_patient, post_form

TODAY = date.today()

HEALTHY = {
    "consultation_date": TODAY.isoformat(), "modality": "microneedling", "concerns": ["enlarged_pores", "texture_dullness"],
    "treatment_areas": ["cheeks", "nose"], "fitzpatrick": "3", "glogau": "2", "goodman_baron_grade": "",
    "device_name": "SkinPen Precision", "needle_material": "stainless_steel", "device_max_depth_mm": "1.5",
    "requested_depth_mm": "0.75",
    # Every screening question answered explicitly: nothing is answered by default.
    **{q.name: "no" if q.choices is None else q.no_answer for q in QUESTIONS},
}


def _new(client, patient, data):
    return post_form(client, f"/patients/{patient.public_id}/consultations/new", data)


def _only_consultation() -> Consultation:
    db.session.expire_all()
    return db.session.scalars(select(Consultation)).one()


def test_form_prefills_skin_type_and_allergies_from_the_record(as_practitioner):
    patient = make_patient(fitzpatrick=5, no_known_allergies=False, allergies="Lidocaine (hives); nickel earrings")
    html = as_practitioner.get(f"/patients/{patient.public_id}/consultations/new").get_data(as_text=True)
    assert re.search(r'<option selected value="5">|<option value="5" selected>', html)
    # A matching allergy is pre-selected Yes, to confirm; nothing is ever pre-answered No.
    assert re.search(r'checked[^>]*id="allergy_topical_anaesthetic-0"|id="allergy_topical_anaesthetic-0"[^>]*checked', html)
    assert re.search(r'checked[^>]*id="allergy_nickel-0"|id="allergy_nickel-0"[^>]*checked', html)
    assert not re.search(r'<input[^>]*id="allergy_gold-\d"[^>]*checked|<input[^>]*checked[^>]*id="allergy_gold-\d"', html)
    assert html.count(">From the record: confirm</span>") == 2
    assert "Lidocaine (hives)" in html


def test_healthy_patient_proceeds_and_everything_is_stored(as_practitioner):
    patient = make_patient(date_of_birth=date(1986, 1, 1))
    response = _new(as_practitioner, patient, {**HEALTHY, "scars_rolling": "12"})
    assert response.status_code == 303
    c = _only_consultation()
    assert response.headers["Location"].endswith(f"/consultations/{c.public_id}")
    assert c.decision == "proceed" and c.flags == []
    assert c.concern_codes == ["enlarged_pores", "texture_dullness"] and c.area_codes == ["cheeks", "nose"]
    assert c.scar_counts[0].scar_type == "rolling" and c.scar_counts[0].count == 12
    assert c.age_at_consultation == patient.age_on(TODAY)
    assert json.loads(c.policy_snapshot)["isotretinoin_washout_days"] == 180
    page = as_practitioner.get(f"/consultations/{c.public_id}").get_data(as_text=True)
    assert "Proceed" in page and "No contraindication or precaution was found" in page
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "consultation.create" in actions and "consultation.view" in actions


def test_isotretinoin_stopped_60_days_ago_defers_with_the_rebook_date(as_practitioner):
    patient = make_patient()
    stopped = TODAY - timedelta(days=60)
    response = _new(as_practitioner, patient, {**HEALTHY, "isotretinoin": "stopped", "isotretinoin_stopped_on": stopped.isoformat()})
    assert response.status_code == 303
    c = _only_consultation()
    rebook = TODAY + timedelta(days=120)
    assert c.decision == "defer" and c.rebook_from == rebook
    assert [f.code for f in c.flags] == ["isotretinoin_recent"] and c.flags[0].earliest_date == rebook
    page = as_practitioner.get(f"/consultations/{c.public_id}").get_data(as_text=True)
    assert "Defer" in page and "Re-book from" in page and f"{rebook:%A %-d %B %Y}" in page
    assert "stopped 60 days ago" in page


def test_modality_rules_and_most_restrictive(as_practitioner):
    patient = make_patient()
    data = {**HEALTHY, "modality": "rf_microneedling", "metal_implant_in_area": "y", "smoker": "y", "anticoagulant_prescribed": "y"}
    _new(as_practitioner, patient, data)
    c = _only_consultation()
    assert c.decision == "decline"
    assert [f.code for f in c.flags] == ["metal_implant_in_area", "anticoagulant_prescribed", "smoker"]


def test_flags_are_queryable_rows(as_practitioner):
    _new(as_practitioner, make_patient(), {**HEALTHY, "anticoagulant_prescribed": "y"})
    _new(as_practitioner, make_patient(), HEALTHY)
    on_anticoagulants = db.session.scalars(
        select(Consultation.id).join(ScreeningFlag).where(ScreeningFlag.code == "anticoagulant_prescribed")).all()
    assert len(on_anticoagulants) == 1
    assert db.session.scalar(select(Consultation.id).where(Consultation.anticoagulant_prescribed.is_(True))) == on_anticoagulants[0]


def test_bad_form_is_422_with_messages_and_values_kept(as_practitioner):
    patient = make_patient()
    data = {**HEALTHY, "concerns": [], "isotretinoin": "stopped", "isotretinoin_stopped_on": "", "had_neurotoxin": "yes",
            "neurotoxin_on": (TODAY + timedelta(days=2)).isoformat(), "device_max_depth_mm": "9",
            "notes": "Patient keen to start before a wedding."}
    response = _new(as_practitioner, patient, data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for message in ("Tick at least one concern.", "Enter the date isotretinoin was stopped",
                    "This date is after the consultation date", "Enter a depth between 0.1 and 5 mm."):
        assert message in html, message
    assert "Patient keen to start before a wedding." in html and 'value="SkinPen Precision"' in html
    assert db.session.scalars(select(Consultation)).all() == []


def test_changing_an_answer_recomputes_and_supersedes_the_override(as_practitioner):
    patient = make_patient()
    _new(as_practitioner, patient, {**HEALTHY, "had_neurotoxin": "yes", "neurotoxin_on": (TODAY - timedelta(days=3)).isoformat()})
    c = _only_consultation()
    assert c.decision == "defer"
    page = f"/consultations/{c.public_id}"
    assert post_form(as_practitioner, f"{page}/override", {"reason": "short"}, page=page).status_code == 422
    response = post_form(as_practitioner, f"{page}/override", {"reason": "Toxin was to the forehead only; treating cheeks. Cleared by Dr Raman."}, page=page)
    assert response.status_code == 303
    c = _only_consultation()
    assert c.allows_treatment and c.decision == "defer", "the override sits beside the computed decision"
    assert "Override recorded" in as_practitioner.get(page).get_data(as_text=True)
    # Change an answer: the result is re-computed and the old override no longer applies.
    edit = as_practitioner.get(f"{page}/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', edit).group(1)
    response = post_form(as_practitioner, f"{page}/edit", {**HEALTHY, "had_neurotoxin": "yes", "neurotoxin_on": (TODAY - timedelta(days=3)).isoformat(),
                                                          "pregnant": "y", "version": version})
    assert response.status_code == 303
    c = _only_consultation()
    assert [f.code for f in c.flags] == ["neurotoxin_recent", "pregnancy"]
    assert c.active_override is None and not c.allows_treatment
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "consultation.override" in actions and "consultation.override_superseded" in actions


def test_override_refused_when_nothing_to_override(as_practitioner):
    _new(as_practitioner, make_patient(), HEALTHY)
    c = _only_consultation()
    page = f"/consultations/{c.public_id}"
    response = post_form(as_practitioner, f"{page}/override", {"reason": "No reason needed but trying anyway"}, page=page)
    assert response.status_code == 303
    assert "nothing to override" in as_practitioner.get(page).get_data(as_text=True)
    assert _only_consultation().overrides == []


def test_stale_edit_is_409_and_keeps_answers(as_practitioner):
    _new(as_practitioner, make_patient(), HEALTHY)
    c = _only_consultation()
    token = csrf_token(as_practitioner, f"/consultations/{c.public_id}/edit")
    db.session.get(Consultation, c.id).notes = "someone else"
    db.session.commit()
    response = as_practitioner.post(f"/consultations/{c.public_id}/edit",
                                    data={**HEALTHY, "notes": "mine", "version": "1", "csrf_token": token})
    assert response.status_code == 409
    assert "mine" in response.get_data(as_text=True)
    assert _only_consultation().notes == "someone else"


def test_policy_change_changes_new_results_but_not_stored_ones(as_admin, app):
    from practitioner.admin.services import get_policy_row
    from tests.conftest import make_user, sign_in
    from practitioner.auth.models import Role

    clinician = make_user(Role.PRACTITIONER, email="doc@clinic.example")
    patient = make_patient(actor=clinician)
    doc = app.test_client()
    sign_in(doc, clinician.email)
    stopped = (TODAY - timedelta(days=100)).isoformat()
    _new(doc, patient, {**HEALTHY, "isotretinoin": "stopped", "isotretinoin_stopped_on": stopped})
    assert _only_consultation().decision == "defer"
    form = {name: getattr(get_policy_row(db.session), name) for name in (
        "min_age", "isotretinoin_washout_days", "neurotoxin_interval_days", "filler_interval_days", "retinoid_window_days",
        "resurfacing_interval_days", "sunburn_window_days", "prp_nsaid_window_days", "pih_risk_min_fitzpatrick")}
    db.session.rollback()
    assert post_form(as_admin, "/admin/policy", {**form, "isotretinoin_washout_days": "90"}).status_code == 303
    assert _only_consultation().decision == "defer", "a stored result keeps the policy it was computed with"
    _new(doc, make_patient(actor=clinician), {**HEALTHY, "isotretinoin": "stopped", "isotretinoin_stopped_on": stopped})
    newest = db.session.scalars(select(Consultation).order_by(Consultation.id.desc())).first()
    assert newest.decision == "proceed" and json.loads(newest.policy_snapshot)["isotretinoin_washout_days"] == 90


def test_policy_page_shows_defaults_and_source_ranges_and_validates(as_admin):
    html = as_admin.get("/admin/policy").get_data(as_text=True)
    assert "Isotretinoin washout (days)" in html and "180" in html and "365" in html
    response = post_form(as_admin, "/admin/policy", {"min_age": "12", "isotretinoin_washout_days": "x"})
    assert response.status_code == 422
    assert "Enter 16 to 30 years." in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/patients/{p}/consultations/new", "/consultations/{c}", "/consultations/{c}/edit"])
def test_reception_cannot_see_consultations(as_reception, app, url):
    from practitioner.auth.models import Role, User

    author = db.session.scalars(select(User).where(User.role == Role.RECEPTION)).first()
    patient = make_patient(actor=author)
    consultation = Consultation(patient_id=patient.id, practitioner_id=author.id, consultation_date=TODAY, modality="microneedling")
    db.session.add(consultation)
    db.session.commit()
    assert as_reception.get(url.format(p=patient.public_id, c=consultation.public_id)).status_code == 403


def test_screen_command(app, tmp_path):
    intake = tmp_path / "intake.json"
    intake.write_text(json.dumps({"modality": "prp_microneedling", "history": {"platelet_disorder": True}}))
    result = app.test_cli_runner().invoke(args=["screen", str(intake)])
    assert result.exit_code == 0 and json.loads(result.output)["decision"] == "decline"
    intake.write_text(json.dumps([{"age": 17}, {"age": 40}]))
    result = app.test_cli_runner().invoke(args=["screen", str(intake), "--on", "2026-11-24"])
    assert [r["decision"] for r in json.loads(result.output)] == ["decline", "proceed"]
    intake.write_text(json.dumps({"medications": {"isotretinoin": "sometimes"}}))
    result = app.test_cli_runner().invoke(args=["screen", str(intake)])
    assert result.exit_code == 2 and "medications.isotretinoin" in result.output
