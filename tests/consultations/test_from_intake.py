"""A consultation started from a patient's intake: nothing answered for the practitioner, each answer confirmed or corrected."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from practitioner.audit import AuditEvent
from practitioner.clinical.questions import QUESTIONS
from practitioner.consultations.models import Consultation, ConsultationIntakeAnswer
from practitioner.extensions import db
from practitioner.intake import questions as intake_questions
from practitioner.intake.models import PatientIntake
from tests.conftest import make_patient, post_form
from tests.intake.factories import answer_set, make_intake

TODAY = date.today()
ASKED = {q.key for q in intake_questions.QUESTIONS}
# Questions only the practitioner can answer (an examination, a judgement): never in the intake.
PRACTITIONER_ONLY = [q for q in QUESTIONS if q.name not in ASKED]
ASSESSMENT = {"consultation_date": TODAY.isoformat(), "modality": "microneedling", "concerns": ["fine_lines_wrinkles"],
              "treatment_areas": ["cheeks"], "fitzpatrick": "3"}
ALL_SECTIONS = {"confirm_all": "y"}  # the form's one "I have gone through all the patient's No answers with them"
OWN = {q.name: "no" if q.choices is None else q.no_answer for q in PRACTITIONER_ONLY}


def _url(intake) -> str:
    return f"/intakes/{intake.public_id}/consultation"


def _post(client, intake, data):
    """Post the form as a browser does: with the version its page carries (tests/test_versioning.py covers a post without)."""
    page = client.get(_url(intake)).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d*)"', page)
    return post_form(client, _url(intake), {"version": version.group(1) if version else "", **data})


def _saved() -> Consultation | None:
    db.session.expire_all()
    return db.session.scalars(select(Consultation)).one_or_none()


@pytest.fixture
def healthy(reception):
    """A patient with a signed intake answered No (or its calm choice) throughout."""
    return make_intake(make_patient(fitzpatrick=3), reception, submitted=True)


def test_practitioner_only_questions_exist_and_are_few():
    assert {q.name for q in PRACTITIONER_ONLY} >= {"suspicious_lesion", "expectations_concern"}
    assert len(PRACTITIONER_ONLY) <= 4


def test_form_marks_each_answer_as_the_patients_and_answers_nothing(as_practitioner, reception):
    intake = make_intake(make_patient(), reception, submitted=True,
                         answers=answer_set(pregnant="not_sure", had_neurotoxin=("yes", "2026-03")))
    html = as_practitioner.get(_url(intake)).get_data(as_text=True)
    assert "New consultation from the patient’s intake" in html
    assert "Patient answered: Not sure" in html and "Patient answered: Yes (about March 2026)" in html
    assert html.count("Patient answered: No") >= 20
    # No screening radio is checked: the patient's answers are beside the questions, not in them.
    for q in QUESTIONS:
        assert not re.search(rf'<input[^>]*checked[^>]*name="{q.name}"|<input[^>]*name="{q.name}"[^>]*checked', html), q.name
    # "No to the rest" is offered only for the questions not asked of the patient, in their own group: the
    # patient's No answers are confirmed explicitly, with the form's one box (unticked) or one by one.
    assert re.findall(r'data-no-to-rest="([^"]+)"', html) == ["practitioner_only"]
    own = re.search(r'<fieldset class="section section--screening" data-section="practitioner_only">(.*?)</fieldset>\s*(?:<div|<fieldset class="section">)',
                    html, re.S).group(1)
    assert sorted(re.findall(r'<input[^>]*type="radio"[^>]*name="(\w+)"', own)) == sorted({q.name for q in PRACTITIONER_ONLY for _ in (0, 1)}) \
        or set(re.findall(r'name="(\w+)"', own)) == {q.name for q in PRACTITIONER_ONLY}
    assert re.findall(r'<input[^>]*name="(confirm_\w*)"', html) == ["confirm_all"]
    assert not re.search(r'<input[^>]*checked[^>]*name="confirm_all"|<input[^>]*name="confirm_all"[^>]*checked', html)
    assert "confirmed by you" not in html


def test_healthy_patient_confirmed_per_section_proceeds(as_practitioner, practitioner, healthy):
    response = _post(as_practitioner, healthy, {**ASSESSMENT, **ALL_SECTIONS, **OWN})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    consultation = _saved()
    assert consultation.decision == "proceed" and consultation.intake_id == healthy.id
    assert consultation.pregnant is False and consultation.diabetes == "none" and consultation.isotretinoin == "never"
    rows = db.session.scalars(select(ConsultationIntakeAnswer)).all()
    assert len(rows) == len(ASKED) and not any(r.corrected for r in rows)
    intake = db.session.get(PatientIntake, healthy.id)
    assert intake.reviewed_at is not None and intake.reviewed_by_id == practitioner.id
    assert "intake_reviewed" in [e.action for e in db.session.scalars(select(AuditEvent))]
    # Reviewed: no longer waiting, and the form is not offered again.
    assert as_practitioner.get(_url(healthy)).status_code == 303


def test_unconfirmed_no_answers_block_the_result_naming_their_questions(as_practitioner, healthy):
    response = _post(as_practitioner, healthy, {**ASSESSMENT, **OWN})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and _saved() is None
    for q in QUESTIONS:
        if q.name in ASKED:
            assert f"{q.label}: Not answered" in html, q.label
    # The box, ticked, stays ticked when the form comes back for something else.
    html = _post(as_practitioner, healthy, {**ASSESSMENT, **ALL_SECTIONS}).get_data(as_text=True)
    assert re.search(r'<input checked[^>]*name="confirm_all"|<input[^>]*name="confirm_all"[^>]*checked', html)
    assert f"{PRACTITIONER_ONLY[0].label}: Not answered" in html and "Smokes: Not answered" not in html


def test_not_sure_is_never_turned_into_an_answer(as_practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True, answers=answer_set(pregnant="not_sure"))
    response = _post(as_practitioner, intake, {**ASSESSMENT, **ALL_SECTIONS, **OWN})
    assert response.status_code == 422 and "Pregnant: Not answered" in response.get_data(as_text=True)
    # The practitioner chooses: saved, the patient's Not sure kept beside the answer (a resolution, not a correction).
    assert _post(as_practitioner, intake, {**ASSESSMENT, **ALL_SECTIONS, **OWN, "pregnant": "no"}).status_code == 303
    row = db.session.scalars(select(ConsultationIntakeAnswer).where(ConsultationIntakeAnswer.question == "pregnant")).one()
    assert row.patient_answer == "not_sure" and row.confirmed_value == "no" and not row.corrected


def test_a_yes_must_be_confirmed_question_by_question(as_practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True, answers=answer_set(smoker="yes"))
    response = _post(as_practitioner, intake, {**ASSESSMENT, **ALL_SECTIONS, **OWN})
    assert response.status_code == 422 and "Smokes: Not answered" in response.get_data(as_text=True)
    assert _post(as_practitioner, intake, {**ASSESSMENT, **ALL_SECTIONS, **OWN, "smoker": "yes"}).status_code == 303
    consultation = _saved()
    assert consultation.smoker is True and consultation.decision == "proceed_with_caution"


def test_a_dated_yes_is_confirmed_with_the_patients_estimate(as_practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True, answers=answer_set(had_neurotoxin=("yes", "2026-03")))
    html = as_practitioner.get(_url(intake)).get_data(as_text=True)
    assert 'name="neurotoxin_on" type="date" value="2026-03-31"' in html
    response = _post(as_practitioner, intake, {**ASSESSMENT, **ALL_SECTIONS, **OWN, "had_neurotoxin": "yes", "neurotoxin_on": "2026-03-31"})
    assert response.status_code == 303
    row = db.session.scalars(select(ConsultationIntakeAnswer).where(ConsultationIntakeAnswer.question == "had_neurotoxin")).one()
    assert row.patient_when == "about March 2026" and row.confirmed_date == date(2026, 3, 31) and not row.corrected


def test_a_correction_needs_a_reason_and_keeps_the_patients_answer_who_and_why(as_practitioner, practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True, answers=answer_set(smoker="yes"))
    data = {**ASSESSMENT, **ALL_SECTIONS, **OWN, "smoker": "no"}
    response = _post(as_practitioner, intake, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "The patient answered Yes: say in a few words why yours differs" in html
    assert re.search(r'<input[^>]*checked[^>]*name="smoker"[^>]*value="no"|<input[^>]*name="smoker"[^>]*value="no"[^>]*checked', html) \
        or re.search(r'<input checked id="smoker-1"', html), "the practitioner's answer is kept on the form"
    response = _post(as_practitioner, intake, {**data, "reason_smoker": "Stopped two years ago; ticked Yes by mistake."})
    assert response.status_code == 303
    consultation = _saved()
    assert consultation.smoker is False
    row = db.session.scalars(select(ConsultationIntakeAnswer).where(ConsultationIntakeAnswer.question == "smoker")).one()
    assert (row.patient_answer, row.confirmed_value, row.corrected, row.changed_by_id) == ("yes", "no", True, practitioner.id)
    assert row.reason == "Stopped two years ago; ticked Yes by mistake."
    page = as_practitioner.get(f"/consultations/{consultation.public_id}").get_data(as_text=True)
    assert "Patient answered" in page and "Stopped two years ago" in page
    row_html = re.search(r"<td>Smokes</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", page)
    assert row_html and row_html.groups() == ("Yes", "No")


def test_a_patients_no_changed_to_yes_is_a_correction_too(as_practitioner, healthy):
    data = {**ASSESSMENT, **ALL_SECTIONS, **OWN, "smoker": "yes"}
    response = _post(as_practitioner, healthy, data)
    assert response.status_code == 422 and "The patient answered No" in response.get_data(as_text=True)


def test_reception_is_refused(as_reception, healthy):
    assert as_reception.get(_url(healthy)).status_code == 403
    assert _post(as_reception, healthy, {**ASSESSMENT, **ALL_SECTIONS, **OWN}).status_code == 403
    assert _saved() is None


def test_admin_is_refused(as_admin, healthy):
    assert as_admin.get(_url(healthy)).status_code == 403


def test_the_ordinary_form_is_unchanged(as_practitioner):
    patient = make_patient()
    html = as_practitioner.get(f"/patients/{patient.public_id}/consultations/new").get_data(as_text=True)
    assert "Patient answered" not in html and "data-no-to-rest" in html and "I have gone through" not in html


def test_intake_answers_lock_with_the_consultation(as_practitioner, healthy):
    _post(as_practitioner, healthy, {**ASSESSMENT, **ALL_SECTIONS, **OWN})
    consultation = _saved()
    db.session.execute(sa.text("UPDATE consultations SET locked_at = CURRENT_TIMESTAMP WHERE id = :id"), {"id": consultation.id})
    db.session.commit()
    for statement in ("UPDATE consultation_intake_answers SET reason = 'x' WHERE consultation_id = :id",
                      "DELETE FROM consultation_intake_answers WHERE consultation_id = :id",
                      "INSERT INTO consultation_intake_answers (consultation_id, question, patient_answer, patient_when, "
                      "confirmed_value, corrected, reason, changed_by_id, changed_at) "
                      "VALUES (:id, 'other', 'no', '', 'no', false, '', 1, CURRENT_TIMESTAMP)"):
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.text(statement), {"id": consultation.id})
            db.session.flush()
        db.session.rollback()
    if db.engine.dialect.name == "sqlite":
        with pytest.raises(sa.exc.DatabaseError):
            db.session.execute(sa.text("REPLACE INTO consultation_intake_answers SELECT * FROM consultation_intake_answers "
                                       "WHERE consultation_id = :id"), {"id": consultation.id})
        db.session.rollback()


def test_the_patients_date_stays_in_its_box_while_the_answer_is_unconfirmed(as_practitioner, reception):
    """The browser sends no hidden date box: when the form comes back, the patient's date is still there to confirm."""
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True, answers=answer_set(had_neurotoxin=("yes", "2026-03")))
    html = _post(as_practitioner, intake, {**ASSESSMENT}).get_data(as_text=True)
    assert 'name="neurotoxin_on" type="date" value="2026-03-31"' in html


def test_a_second_review_of_the_same_intake_is_refused_calmly(as_practitioner, practitioner, healthy):
    """Two practitioners with the form open: the first save reviews the intake, the second is told, not shown a 500."""
    from sqlalchemy.orm.attributes import set_committed_value

    from practitioner.admin.services import current_policy
    from practitioner.consultations import from_intake

    page = as_practitioner.get(_url(healthy))  # the second practitioner's form, opened before the first saves
    assert page.status_code == 200
    db.session.execute(sa.update(PatientIntake).where(PatientIntake.id == healthy.id)
                       .values(reviewed_at=sa.func.now(), reviewed_by_id=practitioner.id))
    db.session.commit()
    intake = db.session.get(PatientIntake, healthy.id)
    set_committed_value(intake, "reviewed_at", None)  # as the second request read it, before the first committed
    with pytest.raises(from_intake.IntakeNotReviewable):
        from_intake.record_from_intake(db.session, intake, {}, {}, actor=practitioner, policy=current_policy(db.session))
    db.session.rollback()
    assert db.session.scalars(select(Consultation)).all() == []


# The patient page's "Confirm the patient's No answers and start the consultation" (issue 15, speed).

def _all_nos_url(intake) -> str:
    return f"/intakes/{intake.public_id}/consultation/all-no-answers-confirmed"


def _checked(html: str, name: str, value: str) -> bool:
    return any(f'name="{name}"' in tag and f'value="{value}"' in tag and "checked" in tag for tag in re.findall(r"<input[^>]*>", html))


def test_patient_page_lists_the_no_answers_by_topic_beside_the_confirming_button(as_practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True, answers=answer_set(smoker="yes"))
    html = as_practitioner.get(f"/patients/{intake.patient.public_id}").get_data(as_text=True)
    calm = re.search(r'<details class="intake-answers__calm" open>(.*?)</details>', html, re.S)
    assert calm, "the No answers are unfolded next to the button"
    assert "Your health" in calm.group(1) or '<h4 class="intake-answers__topic">' in calm.group(1)
    assert "Do you smoke" not in calm.group(1)  # a Yes is listed apart, first
    form = re.search(rf'<form method="post" action="{_all_nos_url(intake)}"[^>]*>(.*?)</form>', html, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert "Confirm the patient’s No answers and start the consultation" in form.group(1)
    assert "Start consultation from intake" in html  # the per-question path stays


def test_the_button_opens_the_form_with_each_no_confirmed_and_nothing_else(as_practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True,
                         answers=answer_set(smoker="yes", pregnant="not_sure"))
    response = post_form(as_practitioner, _all_nos_url(intake), {}, page=f"/patients/{intake.patient.public_id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "is-invalid" not in html and "Not answered" not in html
    assert _checked(html, "confirm_all", "y")
    nos = [q for q in QUESTIONS if q.name in ASKED and q.name not in ("smoker", "pregnant")]
    for q in nos:
        assert _checked(html, q.name, "no" if q.choices is None else q.no_answer), q.name
    assert html.count("; confirmed by you") == len(nos)
    assert html.count("Patient answered No; confirmed by you") == sum(1 for q in nos if q.choices is None)
    for name in ("smoker", "pregnant", *(q.name for q in PRACTITIONER_ONLY)):
        assert not re.search(rf'<input[^>]*name="{name}"[^>]*checked|<input checked[^>]*name="{name}"', html), name
    assert f'action="{_url(intake)}"' in html  # saved through the usual form


def test_the_click_is_recorded_as_the_practitioners_confirmation_of_each_no(as_practitioner, practitioner, healthy):
    opened = post_form(as_practitioner, _all_nos_url(healthy), {}, page=f"/patients/{healthy.patient.public_id}").get_data(as_text=True)
    assert _checked(opened, "confirm_all", "y")
    data = {**ASSESSMENT, **ALL_SECTIONS, **OWN}
    for q in QUESTIONS:
        if q.name in ASKED:
            data[q.name] = "no" if q.choices is None else q.no_answer
    assert _post(as_practitioner, healthy, data).status_code == 303
    assert _saved().decision == "proceed"
    rows = db.session.scalars(select(ConsultationIntakeAnswer)).all()
    assert rows and {r.confirmation for r in rows} == {"all_nos"}
    assert {r.changed_by_id for r in rows} == {practitioner.id} and all(r.changed_at for r in rows)
    reviewed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "intake_reviewed")).one()
    assert reviewed.detail_items["all_nos_confirmed"] is True


def test_after_the_button_a_changed_no_still_needs_its_reason_and_is_one_by_one(as_practitioner, healthy):
    data = {**ASSESSMENT, **ALL_SECTIONS, **OWN, "smoker": "yes"}
    response = _post(as_practitioner, healthy, data)
    assert response.status_code == 422 and "The patient answered No" in response.get_data(as_text=True)
    assert _post(as_practitioner, healthy, {**data, "reason_smoker": "Smokes at weekends, said today."}).status_code == 303
    row = db.session.scalars(select(ConsultationIntakeAnswer).where(ConsultationIntakeAnswer.question == "smoker")).one()
    assert row.corrected and row.confirmation == "one_by_one" and row.patient_answer == "no"


def test_without_the_box_each_answer_is_recorded_one_by_one(as_practitioner, healthy):
    data = {**ASSESSMENT, **OWN, **{q.name: "no" if q.choices is None else q.no_answer for q in QUESTIONS if q.name in ASKED}}
    assert _post(as_practitioner, healthy, data).status_code == 303
    assert {r.confirmation for r in db.session.scalars(select(ConsultationIntakeAnswer))} == {"one_by_one"}


def test_the_button_for_an_intake_not_waiting_returns_to_the_patient(as_practitioner, healthy):
    _post(as_practitioner, healthy, {**ASSESSMENT, **ALL_SECTIONS, **OWN})
    assert post_form(as_practitioner, _all_nos_url(healthy), {}, page=f"/patients/{healthy.patient.public_id}").status_code == 303
    assert as_practitioner.get(_all_nos_url(healthy)).status_code == 405


def test_the_areas_and_concerns_the_patient_chose_are_ticked_and_marked_as_theirs(as_practitioner, reception):
    intake = make_intake(make_patient(fitzpatrick=3), reception, submitted=True,
                         answers=answer_set(concerns=("laxity",), areas=("cheeks", "neck")))
    html = as_practitioner.get(_url(intake)).get_data(as_text=True)
    assert _checked(html, "treatment_areas", "cheeks") and _checked(html, "treatment_areas", "neck")
    assert not _checked(html, "treatment_areas", "forehead") and _checked(html, "concerns", "laxity")
    assert "The patient’s choice: Cheeks, Neck" in html and "The patient’s choice: Laxity" in html
    # They are wishes, not screening answers: changing them needs no reason and is not a correction.
    data = {**ASSESSMENT, **ALL_SECTIONS, **OWN, "treatment_areas": ["forehead"]}
    assert _post(as_practitioner, intake, data).status_code == 303
    consultation = _saved()
    assert consultation.area_codes == ["forehead"] and consultation.decision == "proceed"
