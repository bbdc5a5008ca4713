"""The patient's intake pages: the link and its date of birth, the tablet lock, each screen, the summary and signing."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select

from practitioner.audit import AuditEvent
from practitioner.auth.models import Role, UserSession
from practitioner.database import utcnow
from practitioner.extensions import db
from practitioner.intake import questions, tablet
from practitioner.intake.models import PatientIntake
from tests.conftest import CSRF_RE, csrf_token, make_patient, make_user, sign_in
from tests.intake.factories import answer_set, make_intake, signature_png

BORN = date(1988, 4, 2)
CALM_LINK = "This link no longer works"


@pytest.fixture
def reception(app):
    """The reception account that starts intakes."""
    return make_user(Role.RECEPTION, email="desk@clinic.example")


@pytest.fixture
def asha(app, reception):
    """The patient the intake is for."""
    return make_patient(actor=reception, given_name="Asha", family_name="Raman", date_of_birth=BORN)


def reload(intake: PatientIntake) -> PatientIntake:
    """The intake as stored now (each request ends the test's database session)."""
    return db.session.get(PatientIntake, intake.id)


def actions(intake: PatientIntake) -> list[str]:
    """The audit actions about this intake, in order."""
    return list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"intake:{intake.public_id}")
                                   .order_by(AuditEvent.id)))


def holding(client, intake: PatientIntake, *, locked: bool = False) -> None:
    """Give the browser the intake, as a right date of birth (or, locked, a hand-over) does."""
    with client.session_transaction() as cookie:
        cookie[tablet.ACCESS] = str(intake.public_id)
        if locked:
            cookie[tablet.LOCK] = True


def token(client, path: str = "/sign-in") -> str:
    """A CSRF token from any page that has a form."""
    return csrf_token(client, path)


def form_token(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match
    return match.group(1) or match.group(2)


def png_data_url() -> str:
    return "data:image/png;base64," + base64.b64encode(signature_png()).decode("ascii")


# --- The link ------------------------------------------------------------------------------------------------------


def statements_during(app, send) -> tuple[object, int]:
    """A request's response and the number of SQL statements it ran."""
    count = 0

    def counted(*_args):
        nonlocal count
        count += 1

    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        response = send()
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    return response, count


def test_unknown_expired_used_withdrawn_and_closed_links_get_the_same_page(app, client, asha, reception):
    expired = make_intake(asha, reception, channel="link", verified=False)
    reload(expired).expires_at = utcnow() - timedelta(minutes=1)
    used = make_intake(asha, reception, channel="link", answers=answer_set(), submitted=True)
    withdrawn = make_intake(asha, reception, channel="link", verified=False)
    reload(withdrawn).status = "abandoned"
    closed = make_intake(asha, reception, channel="link", verified=False)
    reload(closed).dob_failures = 5
    db.session.commit()
    links = {"unknown": "x" * 43, "expired": expired.token, "used": used.token, "withdrawn": withdrawn.token, "closed": closed.token}
    answers = {}
    for name, value in links.items():
        response, statements = statements_during(app, lambda value=value: client.get(f"/intake/{value}"))
        answers[name] = (response.status_code, response.get_data(as_text=True), statements)
    assert len({(status, body) for status, body, _ in answers.values()}) == 1, {k: v[0] for k, v in answers.items()}
    status, body, _ = answers["unknown"]
    assert status == 404 and CALM_LINK in body and "contact the clinic" in body
    # The same work either way: one lookup by the token's hash, whatever the link's state.
    assert len({statements for _, _, statements in answers.values()}) == 1, {k: v[2] for k, v in answers.items()}
    assert "Asha" not in body and "Raman" not in body
    # A POST to a dead link is the same page too.
    posted = client.post(f"/intake/{used.token}", data={"csrf_token": token(client), "day": "2", "month": "4", "year": "1988"})
    assert (posted.status_code, posted.get_data(as_text=True)) == (status, body)


def test_a_link_asks_the_date_of_birth_first_and_shows_nothing_of_the_record(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False)
    response = client.get(f"/intake/{intake.token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Your date of birth" in html and 'name="robots" content="noindex, nofollow"' in html
    for label in ("Day", "Month", "Year"):
        assert re.search(rf"<label[^>]*>{label}</label>", html), label
    assert "Asha" not in html and "Raman" not in html and str(intake.public_id) not in html
    assert response.headers["Cache-Control"] == "no-store" and response.headers["X-Robots-Tag"] == "noindex, nofollow"


def test_a_right_date_of_birth_opens_the_intake_with_the_first_name_only(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False)
    page = client.get(f"/intake/{intake.token}").get_data(as_text=True)
    response = client.post(f"/intake/{intake.token}", data={"csrf_token": form_token(page), "day": "2", "month": "04", "year": "1988"})
    assert response.status_code == 303 and response.headers["Location"] == "/intake/welcome"
    welcome = client.get("/intake/welcome").get_data(as_text=True)
    assert "Hello, Asha" in welcome and "Raman" not in welcome and str(intake.public_id) not in welcome
    assert reload(intake).verified_at is not None
    assert actions(intake)[-1] == "intake_opened"


def test_a_wrong_date_of_birth_is_refused_calmly_and_counted(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False)
    page = client.get(f"/intake/{intake.token}").get_data(as_text=True)
    response = client.post(f"/intake/{intake.token}", data={"csrf_token": form_token(page), "day": "3", "month": "4", "year": "1988"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "That date of birth does not match" in html
    assert 'value="3"' in html and 'value="1988"' in html  # what was typed is kept
    assert reload(intake).dob_failures == 1 and actions(intake)[-1] == "intake_dob_failed"
    assert client.get("/intake/welcome").status_code == 404  # no access was given


def test_a_date_of_birth_that_is_not_a_date_says_which_box(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False)
    page = client.get(f"/intake/{intake.token}").get_data(as_text=True)
    response = client.post(f"/intake/{intake.token}", data={"csrf_token": form_token(page), "day": "31", "month": "13", "year": "88"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter the month you were born, as a number from 1 to 12." in html
    assert "Enter the year you were born, with four digits" in html
    assert 'value="31"' in html and 'value="13"' in html and 'value="88"' in html
    assert reload(intake).dob_failures == 0  # not a date: nothing compared, nothing counted
    assert "{" not in re.sub(r"<[^>]+>", "", html.split("<main", 1)[1])  # no program text in the messages


def test_five_wrong_dates_close_the_link(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False)
    tok = token(client, f"/intake/{intake.token}")
    statuses = [client.post(f"/intake/{intake.token}", data={"csrf_token": tok, "day": "1", "month": "1", "year": "2000"}).status_code
                for _ in range(5)]
    assert statuses == [422, 422, 422, 422, 429]
    last = client.post(f"/intake/{intake.token}", data={"csrf_token": tok, "day": "2", "month": "4", "year": "1988"})
    assert last.status_code == 404 and CALM_LINK in last.get_data(as_text=True)  # even the right date: the link is closed
    assert client.get(f"/intake/{intake.token}").status_code == 404


def test_wrong_dates_from_one_address_are_throttled_across_links(app, client, asha, reception):
    app.config["SIGN_IN_ADDRESS_MAX_FAILURES"] = 2
    first = make_intake(asha, reception, channel="link", verified=False)
    second = make_intake(make_patient(actor=reception, given_name="Bea"), reception, channel="link", verified=False)
    tok = token(client, f"/intake/{first.token}")
    wrong = {"csrf_token": tok, "day": "1", "month": "1", "year": "2000"}
    assert client.post(f"/intake/{first.token}", data=wrong).status_code == 422
    assert client.post(f"/intake/{second.token}", data=wrong).status_code == 422
    throttled = client.post(f"/intake/{first.token}", data={**wrong, "day": "2", "month": "4", "year": "1988"})
    html = throttled.get_data(as_text=True)
    assert throttled.status_code == 429
    assert "Please wait before trying again" in html and "15 minutes" in html
    assert client.get("/intake/welcome").status_code == 404


# --- The tablet lock -----------------------------------------------------------------------------------------------


def test_starting_on_the_tablet_hands_it_over_and_locks_it(client, asha, reception):
    assert sign_in(client, reception.email).status_code == 303
    tok = token(client, "/patients/")
    response = client.post(f"/patients/{asha.public_id}/intake/tablet", data={"csrf_token": tok})
    assert response.status_code == 303 and response.headers["Location"] == "/intake/welcome"
    ended = db.session.scalars(select(UserSession).where(UserSession.user_id == reception.id)).one()
    assert ended.ended_at is not None and ended.end_reason == tablet.HANDED_OVER
    assert "Hello, Asha" in client.get("/intake/welcome").get_data(as_text=True)
    intake = db.session.scalars(select(PatientIntake).where(PatientIntake.patient_id == asha.id)).one()
    assert actions(intake) == ["intake_started", "intake_opened"]
    client.get("/intake/welcome")
    assert actions(intake) == ["intake_started", "intake_opened"]  # opened once, however often the page is seen
    # Nobody is signed in now, and everything leads back into the intake.
    for path in ("/patients/", f"/patients/{asha.public_id}", "/admin/users", "/", "/no-such-page", "/sign-in/code"):
        moved = client.get(path)
        assert (moved.status_code, moved.headers.get("Location")) == (303, "/intake/welcome"), path


def test_the_lock_sends_every_other_address_to_the_current_screen(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake, locked=True)
    assert client.get("/intake/questions/health").status_code == 200
    other = make_intake(asha, reception, channel="link", verified=False)
    for path in ("/patients/", f"/intake/{other.token}", "/intake/nowhere/at/all"):
        assert client.get(path).headers.get("Location") == "/intake/questions/health", path
    assert client.post("/patients/new", data={"csrf_token": token(client, "/intake/questions/health")}).headers.get("Location") == \
        "/intake/questions/health"
    assert client.get("/intake/check").status_code == 200
    assert client.get("/patients/").headers.get("Location") == "/intake/check"
    # Its own static files and the staff sign-in page stay open.
    static = client.get("/static/css/intake.css")
    static.close()
    assert static.status_code == 200
    assert client.get("/sign-in").status_code == 200


def test_staff_signing_in_ends_the_lock_and_abandons_nothing(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake, locked=True)
    assert sign_in(client, reception.email).status_code == 303
    assert client.get("/patients/").status_code == 200
    assert client.get("/intake/welcome").status_code == 404  # the browser no longer holds the intake
    assert reload(intake).status == "open"  # still there to hand back


def test_staff_hand_the_tablet_back_to_the_same_intake(client, asha, reception):
    intake = make_intake(asha, reception, answers={"questions": {"pregnant": {"answer": "no", "when": None, "estimate": False}}})
    holding(client, intake, locked=True)
    assert sign_in(client, reception.email).status_code == 303
    page = client.get(f"/patients/{asha.public_id}").get_data(as_text=True)
    assert f'action="/intakes/{intake.public_id}/tablet"' in page and "Hand the tablet back" in page
    response = client.post(f"/intakes/{intake.public_id}/tablet", data={"csrf_token": form_token(page)})
    assert response.status_code == 303 and response.headers["Location"] == "/intake/welcome"
    assert client.get("/patients/").headers["Location"] == "/intake/welcome"  # locked again, signed out
    chosen = re.findall(r'<input[^>]*name="pregnant"[^>]*>', client.get("/intake/questions/today").get_data(as_text=True))
    assert [tag for tag in chosen if "checked" in tag and 'value="no"' in tag]  # the answer saved before is still there
    # A link's intake, or one no longer open, is not handed to a tablet.
    link = make_intake(asha, reception, channel="link")
    assert sign_in(client, reception.email).status_code == 303
    refused = client.post(f"/intakes/{link.public_id}/tablet", data={"csrf_token": token(client, "/patients/")})
    assert refused.headers["Location"].startswith(f"/patients/{asha.public_id}")
    assert client.get("/patients/").status_code == 200  # not locked


def test_a_closed_intake_on_a_locked_tablet_asks_for_the_tablet_back(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake, locked=True)
    reload(intake).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.get("/intake/welcome")
    assert response.status_code == 404 and "Please hand the tablet back" in response.get_data(as_text=True)
    assert client.get("/patients/").headers.get("Location") == "/intake/welcome"  # still locked until staff sign in


def test_patient_pages_need_the_intake_in_the_session(client, asha, reception):
    unknown = client.get("/intake/" + "y" * 43).get_data(as_text=True)
    for path in ("/intake/welcome", "/intake/questions/today", "/intake/check", "/intake/thank-you"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_data(as_text=True) == unknown, path
    with client.session_transaction() as cookie:
        cookie[tablet.ACCESS] = "not-an-id"
    assert client.get("/intake/welcome").status_code == 404


# --- The screens ---------------------------------------------------------------------------------------------------


QUESTION_TOPICS = [topic for topic in questions.TOPICS if topic.questions]


@pytest.mark.parametrize("topic", QUESTION_TOPICS, ids=lambda t: t.slug)
def test_next_asks_for_every_question_of_the_screen_and_keeps_what_was_chosen(client, asha, reception, topic):
    intake = make_intake(asha, reception)
    holding(client, intake)
    page = client.get(f"/intake/questions/{topic.slug}").get_data(as_text=True)
    assert " checked" not in page  # nothing chosen for the patient
    first = topic.questions[0]
    response = client.post(f"/intake/questions/{topic.slug}", data={"csrf_token": form_token(page), "action": "next",
                                                                     first.key: first.choices[-1].code})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'value="{first.choices[-1].code}"[^>]*checked|checked[^>]*value="{first.choices[-1].code}"', html)
    for question in topic.questions[1:]:
        assert f'id="{question.key}-error"' in html, question.key
    assert f'id="{first.key}-error"' not in html
    assert reload(intake).draft_answers == {}  # nothing saved from a refused screen


@pytest.mark.parametrize("topic", questions.TOPICS, ids=lambda t: t.slug)
def test_a_screen_answered_saves_and_goes_on(client, asha, reception, topic):
    intake = make_intake(asha, reception)
    holding(client, intake)
    page = client.get(f"/intake/questions/{topic.slug}").get_data(as_text=True)
    data = {"csrf_token": form_token(page), "action": "next"}
    for question in topic.questions:
        data[question.key] = question.choices[1].code if question.choices[0].code == "yes" else question.choices[0].code
    response = client.post(f"/intake/questions/{topic.slug}", data=data)
    assert response.status_code == 303
    index = questions.TOPICS.index(topic)
    assert response.headers["Location"] == (f"/intake/questions/{questions.TOPICS[index + 1].slug}"
                                            if index + 1 < len(questions.TOPICS) else "/intake/check")
    saved = reload(intake).draft_answers.get("questions", {})
    assert {key for key in saved} == {q.key for q in topic.questions}
    assert f"Screen {index + 1} of {len(questions.TOPICS) + 1}" in page


def test_a_follow_up_date_is_asked_only_after_the_answer_that_needs_it(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake)
    page = client.get("/intake/questions/medicines").get_data(as_text=True)
    assert "When did you stop?" in page and "only if you answered “Yes, but I have stopped”" in page
    assert '<option value="">Month</option>' in page and " selected" not in page  # no month chosen for the patient
    assert '<option value="3">March</option>' in page and '<option value="12">December</option>' in page
    base = {"csrf_token": form_token(page), "action": "next", "anticoagulant_prescribed": "no", "took_nsaid_or_supplement": "no",
            "used_topical_retinoid_or_acid": "no"}
    # Stopped, with no month: the date is asked for, on its own boxes.
    missing = client.post("/intake/questions/medicines", data={**base, "isotretinoin": "stopped"})
    html = missing.get_data(as_text=True)
    assert missing.status_code == 422 and "Choose the month" in html and "Enter the year with four digits" in html
    # A month still to come is refused; the values are kept.
    next_year = date.today().year + 1
    future = client.post("/intake/questions/medicines", data={**base, "isotretinoin": "stopped", "isotretinoin_stopped_on__month": "3",
                                                               "isotretinoin_stopped_on__year": str(next_year)})
    assert future.status_code == 422 and "That month is still to come" in future.get_data(as_text=True)
    assert f'value="{next_year}"' in future.get_data(as_text=True)
    # Month and year only: kept as an estimate; a date typed for another answer is dropped.
    saved = client.post("/intake/questions/medicines", data={**base, "isotretinoin": "stopped", "isotretinoin_stopped_on__month": "3",
                                                              "isotretinoin_stopped_on__year": "2025"})
    assert saved.status_code == 303
    entry = reload(intake).draft_answers["questions"]["isotretinoin"]
    assert entry == {"answer": "stopped", "when": "2025-03", "estimate": True}
    never = client.post("/intake/questions/medicines", data={**base, "isotretinoin": "never", "isotretinoin_stopped_on__month": "3",
                                                              "isotretinoin_stopped_on__year": "2025"})
    assert never.status_code == 303
    assert reload(intake).draft_answers["questions"]["isotretinoin"] == {"answer": "never", "when": None, "estimate": False}


def test_a_full_date_is_kept_as_given(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake)
    page = client.get("/intake/questions/recent").get_data(as_text=True)
    response = client.post("/intake/questions/recent", data={
        "csrf_token": form_token(page), "action": "next", "had_neurotoxin": "yes", "neurotoxin_on__day": "14",
        "neurotoxin_on__month": "9", "neurotoxin_on__year": "2026", "had_filler_in_area": "no", "had_resurfacing": "not_sure"})
    assert response.status_code == 303
    assert reload(intake).draft_answers["questions"]["had_neurotoxin"] == {"answer": "yes", "when": "2026-09-14", "estimate": False}
    assert 'value="14"' in client.get("/intake/questions/recent").get_data(as_text=True)  # shown again as given


def test_back_keeps_a_part_answered_screen(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake)
    page = client.get("/intake/questions/skin").get_data(as_text=True)
    response = client.post("/intake/questions/skin", data={"csrf_token": form_token(page), "action": "back", "keloid_history": "yes"})
    assert response.status_code == 303 and response.headers["Location"] == "/intake/questions/today"
    assert reload(intake).draft_answers["questions"] == {"keloid_history": {"answer": "yes", "when": None, "estimate": False}}
    first = client.post("/intake/questions/today", data={"csrf_token": form_token(page), "action": "back"})
    assert first.headers["Location"] == "/intake/welcome"


def test_details_and_hopes_are_labelled_checked_and_kept(client, asha, reception):
    intake = make_intake(asha, reception)
    holding(client, intake)
    page = client.get("/intake/questions/details").get_data(as_text=True)
    for field in questions.YOUR_DETAILS.fields:
        assert re.search(rf'<label for="{field.key}">{re.escape(field.label).replace("&#39;", "x")}', page.replace("&#39;", "'")), field.key
    bad = client.post("/intake/questions/details", data={"csrf_token": form_token(page), "action": "next", "phone": "call me maybe",
                                                         "email": "asha at home", "gp_name": "Dr Okafor"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter a phone number using digits and spaces" in html and "Enter an email address like name@example.com" in html
    assert 'value="call me maybe"' in html and 'value="Dr Okafor"' in html
    good = client.post("/intake/questions/details", data={"csrf_token": form_token(page), "action": "next", "phone": "07700 900123",
                                                          "gp_name": "Dr Okafor"})
    assert good.status_code == 303
    hopes = client.post("/intake/questions/hopes", data={"csrf_token": form_token(page), "action": "next",
                                                          "concerns": ["laxity", "pigmentation"], "areas": ["cheeks"], "words": "Firmer skin"})
    assert hopes.status_code == 303 and hopes.headers["Location"] == "/intake/check"
    draft = reload(intake).draft_answers
    assert draft["details"]["phone"] == "07700 900123" and draft["hopes"] == {"concerns": ["laxity", "pigmentation"], "areas": ["cheeks"], "words": "Firmer skin"}
    # The areas: asked on the hopes screen (optional, several), each in the patient's words, and read back on the summary.
    screen = client.get("/intake/questions/hopes").get_data(as_text=True)
    assert "Which areas would you like treated?" in screen and "Around the mouth and upper lip" in screen
    assert re.search(r'<input[^>]*checked[^>]*value="cheeks"|<input[^>]*value="cheeks"[^>]*checked', screen)
    assert "Cheeks" in client.get("/intake/check").get_data(as_text=True).split("Which areas would you like treated?")[1][:300]


def test_change_from_the_summary_returns_to_the_summary(client, asha, reception):
    intake = make_intake(asha, reception, answers=answer_set())
    holding(client, intake)
    page = client.get("/intake/questions/allergies?from=summary").get_data(as_text=True)
    assert "Back to the summary" in page
    data = {"csrf_token": form_token(page), "action": "next", "return_to": "summary", "allergy_gold": "yes", "allergy_stainless_steel": "no",
            "allergy_nickel": "no", "allergy_topical_anaesthetic": "no"}
    assert client.post("/intake/questions/allergies", data=data).headers["Location"] == "/intake/check"


# --- Summary, signature, submit --------------------------------------------------------------------------------------


def test_the_summary_lists_unanswered_questions_by_name_and_will_not_sign(client, asha, reception):
    intake = make_intake(asha, reception, answers=answer_set(pregnant=None, had_neurotoxin=("yes", None)))
    holding(client, intake)
    response = client.get("/intake/check")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "2 questions still to answer" in html
    assert "Are you pregnant, or could you be?" in html and 'href="/intake/questions/today?from=summary"' in html
    assert "Send my answers" not in html and "data-signature-pad" not in html
    refused = client.post("/intake/check", data={"csrf_token": form_token(client.get("/intake/questions/today").get_data(as_text=True)),
                                                 "declaration": "y", "signature": png_data_url()})
    assert refused.status_code == 422 and "2 questions still to answer" in refused.get_data(as_text=True)
    assert reload(intake).status == "open"


def test_the_summary_shows_each_answer_in_the_patients_words(client, asha, reception):
    intake = make_intake(asha, reception, answers=answer_set(isotretinoin=("stopped", "2025-03"), smoker="not_sure"))
    holding(client, intake)
    html = client.get("/intake/check").get_data(as_text=True)
    assert "Yes, but I have stopped, about March 2025" in html and "Not sure" in html
    assert html.count(">Change<") == len(questions.TOPICS)
    assert "Send my answers" in html and questions.DECLARATION in html


def test_signing_needs_the_declaration_and_a_drawing(client, asha, reception):
    intake = make_intake(asha, reception, answers=answer_set())
    holding(client, intake)
    tok = form_token(client.get("/intake/check").get_data(as_text=True))
    neither = client.post("/intake/check", data={"csrf_token": tok, "signature": ""})
    html = neither.get_data(as_text=True)
    assert neither.status_code == 422
    assert "Tick the box to confirm your answers are true" in html and "Sign in the box" in html
    assert "Before you send, please check these" in html and 'href="#declaration"' in html and 'href="#signature"' in html
    blank = client.post("/intake/check", data={"csrf_token": tok, "declaration": "y", "signature": "data:image/png;base64,AAAA"})
    assert blank.status_code == 422 and 'id="signature-error"' in blank.get_data(as_text=True)
    assert reload(intake).status == "open"


def test_submitting_signs_keeps_and_ends_the_lock(client, asha, reception):
    intake = make_intake(asha, reception, answers=answer_set())
    holding(client, intake, locked=True)
    tok = form_token(client.get("/intake/check").get_data(as_text=True))
    response = client.post("/intake/check", data={"csrf_token": tok, "declaration": "y", "signature": png_data_url()})
    assert response.status_code == 303 and response.headers["Location"] == "/intake/thank-you"
    signed = reload(intake)
    assert signed.status == "submitted" and signed.sha256 and signed.signature_png.startswith(b"\x89PNG")
    assert json.loads(signed.answers_json)["questions"]["pregnant"]["answer"] == "no"
    assert actions(intake)[-1] == "intake_submitted"
    done = client.get("/intake/thank-you")
    assert done.status_code == 200 and "Please hand the tablet back" in done.get_data(as_text=True)
    # The lock has ended; nobody is signed in, so the app asks for a sign-in; the intake's pages are closed.
    assert client.get("/patients/").headers["Location"].startswith("/sign-in")
    assert client.get("/intake/check").status_code == 404


def test_a_link_works_once(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False, answers=answer_set())
    page = client.get(f"/intake/{intake.token}").get_data(as_text=True)
    client.post(f"/intake/{intake.token}", data={"csrf_token": form_token(page), "day": "2", "month": "4", "year": "1988"})
    tok = form_token(client.get("/intake/check").get_data(as_text=True))
    assert client.post("/intake/check", data={"csrf_token": tok, "declaration": "y", "signature": png_data_url()}).status_code == 303
    done = client.get("/intake/thank-you").get_data(as_text=True)
    assert "You can close this page" in done and "hand the tablet" not in done
    again = client.get(f"/intake/{intake.token}")
    assert again.status_code == 404 and CALM_LINK in again.get_data(as_text=True)
    fresh = type(client)(client.application, client.response_wrapper, use_cookies=True)
    assert fresh.get(f"/intake/{intake.token}").status_code == 404


def test_every_post_needs_its_csrf_token(client, asha, reception):
    intake = make_intake(asha, reception, channel="link", verified=False, answers=answer_set())
    assert client.post(f"/intake/{intake.token}", data={"day": "2", "month": "4", "year": "1988"}).status_code == 400
    holding(client, intake)
    assert client.post("/intake/questions/today", data={"action": "next"}).status_code == 400
    assert client.post("/intake/check", data={"declaration": "y", "signature": png_data_url()}).status_code == 400
    assert reload(intake).status == "open" and reload(intake).verified_at is None


def test_no_patient_page_names_the_intake(client, asha, reception):
    intake = make_intake(asha, reception, answers=answer_set())
    holding(client, intake, locked=True)
    for path in ["/intake/welcome", *(f"/intake/questions/{t.slug}" for t in questions.TOPICS), "/intake/check"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert str(intake.public_id) not in response.get_data(as_text=True), path
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow" and response.headers["Cache-Control"] == "no-store", path
        assert "site-nav" not in response.get_data(as_text=True), path  # no menu


# --- Hostile text through the patient's own screens ------------------------------------------------------------------

HOSTILE_SCREENS = {  # screen -> its free-text fields, each with hostile text the screen must keep as typed
    "allergies": {"allergies_other": "<mark>latex</mark> {{7*7}} Ze\u200dro \u202eevil\u202c"},
    "medicines": {"medicines": "<script>alert(4)</script> ../../etc/passwd =HYPERLINK(\"http://x\")"},
    "details": {"address": "<b>Flat</b> \"'><img src=x onerror=alert(4)>\r\n${7*7} Road", "gp_name": "Dr <em>Who</em> 👩🏽\u200d⚕️",
                "gp_practice": "' OR 1=1 -- Zoe\u0308 Practice"},
    "hopes": {"words": "<svg onload=alert(4)> Ame\u0301lie " + "Ab" * 900},
}
RAW_INTAKE_MARKUP = ("<mark>", "<script>alert(4)", "<b>Flat</b>", "<img src=x onerror", "<em>Who</em>", "<svg onload")


def _shown_once(html: str, value: str, where: str) -> None:
    from tests.security.test_hostile_input import parse, visible_text

    for raw in RAW_INTAKE_MARKUP:
        assert raw not in html, f"{where}: raw markup {raw!r}"
    text = visible_text(parse(html))
    twice = re.search(r"&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);", text, re.I)
    assert twice is None, f"{where}: {twice.group(0)!r} shown as text (escaped twice)"
    for line in value.splitlines():
        assert line.strip() in text, f"{where}: {line[:50]!r} not shown as text"


def test_hostile_text_through_the_screens_is_kept_and_shown_escaped_on_the_summary(client, asha, reception):
    """Markup, template syntax, bidi and joiners typed on each screen: stored as typed, shown back as literal text."""
    from tests.security.test_hostile_input import browser_submission, parse, pick

    intake = make_intake(asha, reception, answers=answer_set())
    holding(client, intake)
    for slug, typed in HOSTILE_SCREENS.items():
        url = f"/intake/questions/{slug}"
        page = client.get(url).get_data(as_text=True)
        data = browser_submission(pick(parse(page).forms, url, url))
        data.update({name: [value] for name, value in typed.items()}, action=["next"])
        # A phone number with markup is refused, its box marked, everything typed kept as text.
        refused = client.post(url, data={**data, "phone": ["<b>\"'&{{7*7}}"]}) if slug == "details" else None
        if refused is not None:
            html = refused.get_data(as_text=True)
            assert refused.status_code == 422 and "Enter a phone number using digits and spaces" in html
            assert '<b>"' not in html and "&lt;b&gt;&#34;&#39;&amp;{{7*7}}" in html
        response = client.post(url, data=data)
        assert response.status_code == 303, response.get_data(as_text=True)[:600]
        again = client.get(url).get_data(as_text=True)  # the screen shows what was kept, escaped once
        for raw in RAW_INTAKE_MARKUP:
            assert raw not in again, f"{slug}: raw markup {raw!r}"
    draft = reload(intake).draft_answers
    kept = {**draft["details"], "words": draft["hopes"]["words"]}
    for typed in HOSTILE_SCREENS.values():
        for name, value in typed.items():
            assert kept[name].replace("\r\n", "\n") == value.strip().replace("\r\n", "\n"), name
    summary = client.get("/intake/check")
    assert summary.status_code == 200
    for typed in HOSTILE_SCREENS.values():
        for name, value in typed.items():
            _shown_once(summary.get_data(as_text=True), value, f"summary {name}")
