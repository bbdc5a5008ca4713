"""Screening answers: never pre-answered, refused while unanswered, locked once a signed session relied on
them (in the app and in the database), re-screened as a new consultation, every change kept."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from practitioner.auth.models import User
from practitioner.clinical.questions import ANSWER_NAMES, QUESTIONS
from practitioner.clinical.screening import Policy
from practitioner.consultations.models import Consultation, ConsultationAnswerChange
from practitioner.consultations.services import UnansweredQuestions, record_consultation
from practitioner.extensions import db
from tests.conftest import make_patient, post_form
from tests.factories import make_consent, make_plan, signed_session

TODAY = date.today()
NO_TO_ALL = {q.name: "no" if q.choices is None else q.no_answer for q in QUESTIONS}
HEALTHY = {
    "consultation_date": TODAY.isoformat(), "modality": "microneedling", "concerns": ["texture_dullness"], "treatment_areas": ["cheeks"],
    "fitzpatrick": "2", "device_name": "SkinPen Precision", "needle_material": "stainless_steel", "device_max_depth_mm": "1.5",
    **NO_TO_ALL,
}
CHECKED = re.compile(r'<input(?=[^>]*\bchecked\b)[^>]*\bname="([a-z_]+)"')


def _consultations() -> list[Consultation]:
    db.session.expire_all()
    return list(db.session.scalars(select(Consultation).order_by(Consultation.id)))


def _record(client, patient, data=None) -> Consultation:
    response = post_form(client, f"/patients/{patient.public_id}/consultations/new", data or HEALTHY)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return _consultations()[-1]


def _lock(consultation: Consultation) -> None:
    """Plan, consent and a signed session under the consultation, signed through the real service."""
    author = db.session.get(User, consultation.practitioner_id)
    make_consent(consultation, author)
    signed_session(make_plan(consultation), author)


def test_a_new_consultation_has_no_screening_question_answered(as_practitioner):
    patient = make_patient(no_known_allergies=True)
    html = as_practitioner.get(f"/patients/{patient.public_id}/consultations/new").get_data(as_text=True)
    checked = set(CHECKED.findall(html))
    assert not checked & set(ANSWER_NAMES), f"pre-answered: {sorted(checked & set(ANSWER_NAMES))}"
    # Each question is its own fieldset with the question as its legend, and a visible Yes and No.
    for q in QUESTIONS:
        assert re.search(rf'<fieldset class="question[^"]*" id="{q.name}"[^>]*>\s*<legend class="question__text">', html), q.name
    assert html.count('<fieldset class="question') == len(QUESTIONS) == 36
    assert "I asked the patient every screening question" not in html


def test_an_allergy_in_the_record_is_offered_as_yes_to_confirm_and_never_as_no(as_practitioner):
    patient = make_patient(no_known_allergies=False, allergies="Nickel earrings give her a rash")
    html = as_practitioner.get(f"/patients/{patient.public_id}/consultations/new").get_data(as_text=True)
    assert re.search(r'<input(?=[^>]*\bchecked\b)[^>]*id="allergy_nickel-0"', html), "Yes pre-selected from the record"
    assert set(CHECKED.findall(html)) & set(ANSWER_NAMES) == {"allergy_nickel"}
    assert 'id="allergy_nickel-record"' in html and ">From the record: confirm</span>" in html


def test_unanswered_questions_are_refused_and_listed_by_name(as_practitioner):
    patient = make_patient()
    data = {k: v for k, v in HEALTHY.items() if k not in ("pregnant", "diabetes", "had_neurotoxin")}
    data["notes"] = "Wants to start in spring."
    response = post_form(as_practitioner, f"/patients/{patient.public_id}/consultations/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    summary = html[html.index('class="error-summary"'):html.index("</div>", html.index('class="error-summary"'))]
    for label in ("Pregnant", "Diabetes", "Recent botulinum toxin"):
        assert f"{label}: Not answered." in summary, label
    assert summary.count("Not answered.") == 3
    assert "Breastfeeding" not in summary
    # What was answered stays answered, what was typed stays typed; nothing is saved.
    assert re.search(r'<input(?=[^>]*\bchecked\b)[^>]*id="breastfeeding-1"', html)
    assert "Wants to start in spring." in html
    assert _consultations() == []


def test_a_dated_question_wants_its_date_after_yes_and_none_after_no(as_practitioner):
    patient = make_patient()
    url = f"/patients/{patient.public_id}/consultations/new"
    response = post_form(as_practitioner, url, {**HEALTHY, "had_filler_in_area": "yes"})
    assert response.status_code == 422
    assert "Last dermal filler in the area: Enter the date (an estimate is fine)" in response.get_data(as_text=True)
    response = post_form(as_practitioner, url, {**HEALTHY, "had_filler_in_area": "no", "filler_in_area_on": (TODAY - timedelta(days=3)).isoformat()})
    assert response.status_code == 422
    assert "This date only goes with a Yes" in response.get_data(as_text=True)
    c = _record(as_practitioner, patient, {**HEALTHY, "had_filler_in_area": "yes", "filler_in_area_on": (TODAY - timedelta(days=3)).isoformat()})
    assert c.had_filler_in_area is True and [f.code for f in c.flags] == ["filler_recent"] and c.decision == "defer"


def test_the_service_refuses_to_screen_with_an_unanswered_question(app, practitioner):
    patient = make_patient(actor=practitioner)
    values = {"consultation_date": TODAY, "modality": "microneedling", "concerns": ["texture_dullness"], "treatment_areas": ["cheeks"],
              **{q.name: q.no_answer for q in QUESTIONS}}
    del values["pregnant"]
    values["had_resurfacing"] = True  # a Yes without its date is not an answer either
    with pytest.raises(UnansweredQuestions) as refused:
        record_consultation(db.session, patient, values, actor=practitioner, policy=Policy())
    db.session.rollback()
    assert refused.value.labels == ["Pregnant", "Last peel, laser or other resurfacing"]
    assert "Not answered yet: Pregnant;" in str(refused.value)
    assert _consultations() == []


def test_signing_a_session_locks_the_consultation_and_its_edit_page_refuses(as_practitioner):
    patient = make_patient()
    c = _record(as_practitioner, patient)
    page = f"/consultations/{c.public_id}"
    assert ">Edit answers</a>" in as_practitioner.get(page).get_data(as_text=True)
    _lock(c)
    c = _consultations()[0]
    assert c.locked_at is not None
    version = c.version
    response = as_practitioner.get(f"{page}/edit")
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    html = as_practitioner.get(page).get_data(as_text=True)
    assert "its answers are locked" in html and "record a new consultation (re-screen) from its page" in html
    assert ">Edit answers</a>" not in html and "Record a new consultation (re-screen)</a>" in html
    response = post_form(as_practitioner, f"{page}/edit", {**HEALTHY, "pregnant": "yes", "version": str(version)}, page=page)
    assert response.status_code == 303
    after = _consultations()[0]
    assert after.pregnant is False and after.decision == "proceed" and after.version == version


def test_the_database_refuses_any_change_to_a_locked_consultation(as_practitioner):
    c = _record(as_practitioner, make_patient(), {**HEALTHY, "smoker": "yes"})
    assert [f.code for f in c.flags] == ["smoker"]
    _lock(c)
    db.session.remove()
    for statement in (
        "UPDATE consultations SET pregnant = TRUE WHERE id = :id",
        "UPDATE consultations SET decision = 'defer' WHERE id = :id",
        "UPDATE consultations SET locked_at = NULL WHERE id = :id",
        "DELETE FROM consultation_areas WHERE consultation_id = :id",
        "INSERT INTO consultation_concerns (consultation_id, code) VALUES (:id, 'laxity')",
        "DELETE FROM screening_flags WHERE consultation_id = :id",
    ):
        with pytest.raises(DBAPIError, match="locked"):
            with db.engine.begin() as connection:
                connection.execute(text(statement), {"id": c.id})
    after = _consultations()[0]
    assert after.pregnant is False and after.decision == "proceed_with_caution" and after.locked_at is not None
    assert [f.code for f in after.flags] == ["smoker"] and after.area_codes == ["cheeks"] and after.concern_codes == ["texture_dullness"]


def test_an_unlocked_consultation_can_still_be_changed_in_the_database(as_practitioner):
    c = _record(as_practitioner, make_patient())
    db.session.remove()
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE consultations SET notes = 'seen' WHERE id = :id"), {"id": c.id})
    assert _consultations()[0].notes == "seen"


def test_a_rescreen_is_a_new_consultation_beside_the_locked_one(as_practitioner):
    patient = make_patient()
    original = _record(as_practitioner, patient, {**HEALTHY, "notes": "First visit."})
    url = f"/consultations/{original.public_id}/rescreen"
    # Not locked yet: there is nothing to re-screen, the answers are edited in place.
    assert as_practitioner.get(url).headers["Location"].endswith(f"/consultations/{original.public_id}/edit")
    _lock(original)
    form = as_practitioner.get(url).get_data(as_text=True)
    assert "New consultation (re-screen)" in form and 'value="SkinPen Precision"' in form
    assert not set(CHECKED.findall(form)) & set(ANSWER_NAMES), "every screening answer is asked again"
    response = post_form(as_practitioner, url, {k: v for k, v in HEALTHY.items() if k != "pregnant"})
    assert response.status_code == 422 and "Pregnant: Not answered." in response.get_data(as_text=True)
    assert len(_consultations()) == 1
    response = post_form(as_practitioner, url, {**HEALTHY, "pregnant": "yes"})
    assert response.status_code == 303
    first, newer = _consultations()
    assert newer.supersedes_id == first.id and newer.decision == "defer" and newer.locked_at is None
    assert first.pregnant is False and first.decision == "proceed" and first.notes == "First visit.", "the original is unchanged"
    old_page = as_practitioner.get(f"/consultations/{first.public_id}").get_data(as_text=True)
    assert f"Re-screened on {TODAY:%A %-d %B %Y}:" in old_page and f'href="/consultations/{newer.public_id}"' in old_page
    new_page = as_practitioner.get(f"/consultations/{newer.public_id}").get_data(as_text=True)
    assert "This is a re-screen of the" in new_page and f'href="/consultations/{first.public_id}"' in new_page
    timeline = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert timeline.count(f"/consultations/{first.public_id}") >= 1 and timeline.count(f"/consultations/{newer.public_id}") >= 1
    assert f"Re-screened on {TODAY:%-d %b %Y}" in timeline and f"Re-screen of the consultation of {TODAY:%-d %b %Y}" in timeline


def test_each_changed_answer_keeps_its_old_and_new_value(as_practitioner, practitioner):
    c = _record(as_practitioner, make_patient())
    page = f"/consultations/{c.public_id}"
    assert "Changes to the answers" not in as_practitioner.get(page).get_data(as_text=True)
    toxin_on = TODAY - timedelta(days=5)
    assert post_form(as_practitioner, f"{page}/edit", {**HEALTHY, "pregnant": "yes", "version": "1"}).status_code == 303
    assert post_form(as_practitioner, f"{page}/edit", {**HEALTHY, "pregnant": "yes", "diabetes": "controlled", "had_neurotoxin": "yes",
                                                       "neurotoxin_on": toxin_on.isoformat(), "version": "2"}).status_code == 303
    rows = list(db.session.scalars(select(ConsultationAnswerChange).order_by(ConsultationAnswerChange.id)))
    assert [(r.question, r.old_value, r.new_value) for r in rows] == [
        ("pregnant", "no", "yes"), ("diabetes", "none", "controlled"), ("had_neurotoxin", "no", "yes"),
        ("neurotoxin_on", None, toxin_on.isoformat())]
    assert {r.changed_by_id for r in rows} == {practitioner.id}
    html = as_practitioner.get(page).get_data(as_text=True)
    section = html[html.index("Changes to the answers"):]
    cells = [re.sub(r"\s+", " ", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", section, re.S)]
    # Newest save first; within one save, in the order the form asks.
    assert [cells[i:i + 3] for i in range(0, 16, 4)] == [
        ["Diabetes", "No diabetes", "Controlled"], ["Recent botulinum toxin", "No", "Yes"],
        ["Last botulinum toxin", "No date", f"{toxin_on:%-d %b %Y}"], ["Pregnant", "No", "Yes"]]
    assert practitioner.name in section
    # The answers themselves: each Yes with its date, and how many were No.
    answers = html[html.index("Screening answers"):html.index("Changes to the answers")]
    assert "<strong>Pregnant</strong>: Yes" in answers and "<strong>Diabetes</strong>: Controlled" in answers
    assert f"<strong>Recent botulinum toxin</strong>: Yes, {toxin_on:%-d %b %Y}" in answers
    assert "Every other question answered “No” (33 questions)." in answers
    # The history is append-only in the database.
    with pytest.raises(DBAPIError, match="append-only"):
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE consultation_answer_changes SET new_value = 'no'"))


def test_a_consultation_from_before_the_explicit_questions_shows_what_was_never_asked(as_practitioner, practitioner):
    from tests.factories import make_consultation

    c = make_consultation(make_patient(actor=practitioner), practitioner, had_neurotoxin=None, had_filler_in_area=None)
    html = as_practitioner.get(f"/consultations/{c.public_id}").get_data(as_text=True)
    assert "34 questions answered “No”." in html
    assert "Not answered (recorded before every question needed an answer): Recent botulinum toxin; Recent dermal filler in the area." in html
    # Editing it asks those questions: the form opens with them unanswered, and refuses to save until they are.
    edit = as_practitioner.get(f"/consultations/{c.public_id}/edit").get_data(as_text=True)
    assert set(CHECKED.findall(edit)) & set(ANSWER_NAMES) == set(ANSWER_NAMES) - {"had_neurotoxin", "had_filler_in_area"}


def test_the_consultation_summary_prints_every_question_and_never_turns_a_missing_answer_into_no(practitioner):
    """The clinic-file summary lists every question of the catalogue; a dated Yes is followed by its date;
    an answer never given (an old record) prints as "Not answered", not as "No"."""
    from practitioner.documents.kinds._common import screening_answers
    from tests.factories import make_consultation

    c = make_consultation(make_patient(actor=practitioner), practitioner, had_neurotoxin=True,
                          neurotoxin_on=TODAY - timedelta(days=40), had_filler_in_area=None)
    rows = [row for group in screening_answers(c) for row in group["answers"]]
    by_field = {row["field"]: row for row in rows}
    assert set(ANSWER_NAMES) <= set(by_field)
    assert by_field["neurotoxin_on"]["value"] == TODAY - timedelta(days=40)
    assert [r["field"] for r in rows].index("neurotoxin_on") == [r["field"] for r in rows].index("had_neurotoxin") + 1
    assert "filler_in_area_on" not in by_field  # no Yes, no date asked
    assert by_field["had_filler_in_area"]["value"] is None and by_field["had_filler_in_area"]["notable"]

    from practitioner.documents.pdf.html import report_environment
    macro = report_environment().get_template("_record.html").module.answer
    assert str(macro(by_field["had_filler_in_area"])) == "Not answered"
    assert str(macro(by_field["pregnant"])) == "No"
