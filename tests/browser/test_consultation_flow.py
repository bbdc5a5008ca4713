"""A consultation filled in as a practitioner would: every screening question answered explicitly, by
its label; an unanswered one is named; isotretinoin stopped 60 days ago means defer.

Actions are counted as a person makes them (a click or keypress that changes an answer, plus Save), so
the cost of "nothing is answered by default" is measured, not guessed.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from practitioner.clinical.questions import QUESTIONS, SECTIONS
from practitioner.extensions import db
from tests.browser.conftest import LiveServer, shot, sign_in
from tests.conftest import make_patient

# Where the review screenshots of the form go (desktop and tablet), when the coordinator asks for them.
REVIEW_SCREENS = os.environ.get("PRACTITIONER_REVIEW_SCREENS")


def _patient(live_server: LiveServer, **values) -> str:
    with live_server.app.app_context():
        patient = make_patient(**values)
        public_id = str(patient.public_id)
        db.session.remove()
    return public_id


def _fill_basics(page: Page) -> int:
    """The treatment asked for: three clicks (the date and skin type come from the record)."""
    page.get_by_label("Microneedling", exact=True).check()
    page.get_by_label("Texture and dullness").check()
    page.get_by_label("Cheeks").check()
    return 3


def _question(page: Page, label: str):
    return page.get_by_role("group", name=label, exact=True)


def _answer(page: Page, label: str, answer: str) -> int:
    _question(page, label).get_by_label(answer, exact=True).check()
    return 1


def _review_screens(page: Page, name: str) -> None:
    if not REVIEW_SCREENS:
        return
    folder = Path(REVIEW_SCREENS)
    folder.mkdir(parents=True, exist_ok=True)
    for size, viewport in (("desktop", {"width": 1280, "height": 800}), ("tablet", {"width": 820, "height": 1180})):
        # The whole page in one picture: the viewport stretched to it, so the sticky Save bar sits at the bottom.
        page.set_viewport_size(viewport)
        height = page.evaluate("() => Math.ceil(document.documentElement.scrollHeight)")
        page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
        page.screenshot(path=str(folder / f"A_{name}_{size}.png"))
    page.set_viewport_size({"width": 1280, "height": 800})


def test_a_healthy_patient_answered_one_question_at_a_time_proceeds(page: Page, live_server: LiveServer) -> None:
    patient_id = _patient(live_server, given_name="Hana", family_name="Okafor", fitzpatrick=2)
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{patient_id}/consultations/new"))
    expect(page.locator(".question input:checked")).to_have_count(0)  # nothing is answered for the practitioner
    _review_screens(page, "form_new")
    actions = _fill_basics(page)
    for q in QUESTIONS:
        actions += _answer(page, q.label, "No" if q.choices is None else q.choices[q.no_answer])
    expect(page.locator(".question__date input:visible")).to_have_count(0)  # a date is asked only after a Yes
    shot(page, "10-consultation-form-answered")
    page.get_by_role("button", name="Save and screen").click()
    actions += 1
    expect(page.locator(".verdict").get_by_role("heading", name="Proceed", exact=True)).to_be_visible()
    assert actions == 3 + len(QUESTIONS) + 1 == 40
    print(f"\nACTIONS healthy patient, one answer per question: {actions}")


def test_no_to_the_rest_is_an_explicit_click_per_section_and_a_yes_stays(page: Page, live_server: LiveServer) -> None:
    patient_id = _patient(live_server, fitzpatrick=2)
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{patient_id}/consultations/new"))
    actions = _fill_basics(page)
    actions += _answer(page, "Smokes", "Yes")
    for title in SECTIONS.values():
        page.get_by_role("button", name=f"Answer “No” to the rest of {title.lower()}").click()
        actions += 1
    expect(_question(page, "Smokes").get_by_label("Yes", exact=True)).to_be_checked()
    expect(_question(page, "Diabetes").get_by_label("No diabetes", exact=True)).to_be_checked()
    expect(page.locator(".question input:checked")).to_have_count(len(QUESTIONS))
    page.get_by_role("button", name="Save and screen").click()
    actions += 1
    verdict = page.locator(".verdict")
    expect(verdict.get_by_role("heading", name="Proceed with caution")).to_be_visible()
    expect(verdict).to_contain_text("Smok")
    assert actions == 3 + 1 + len(SECTIONS) + 1
    print(f"\nACTIONS with one Yes and 'No to the rest' in each of {len(SECTIONS)} sections: {actions}")


def test_an_unanswered_question_is_named_and_nothing_typed_is_lost(page: Page, live_server: LiveServer) -> None:
    patient_id = _patient(live_server)
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{patient_id}/consultations/new"))
    _fill_basics(page)
    page.get_by_label("Device (make and model)").fill("SkinPen Precision")
    for q in QUESTIONS:
        if q.name not in ("breastfeeding", "isotretinoin"):
            _answer(page, q.label, "No" if q.choices is None else q.choices[q.no_answer])
    page.get_by_label("Consultation notes").fill("Wants to start before a wedding in March.")
    page.get_by_role("button", name="Save and screen").click()
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("Breastfeeding: Not answered. Choose Yes or No.")
    expect(summary).to_contain_text("Isotretinoin (Roaccutane): Not answered. Choose one.")
    expect(summary.locator("li")).to_have_count(2)
    _review_screens(page, "form_unanswered")
    shot(page, "10-consultation-unanswered")
    summary.get_by_role("link", name="Breastfeeding: Not answered. Choose Yes or No.").click()
    expect(_question(page, "Breastfeeding")).to_be_in_viewport()
    expect(page.get_by_label("Consultation notes")).to_have_value("Wants to start before a wedding in March.")
    expect(page.get_by_label("Device (make and model)")).to_have_value("SkinPen Precision")
    expect(_question(page, "Pregnant").get_by_label("No", exact=True)).to_be_checked()
    expect(page.get_by_label("Cheeks")).to_be_checked()


def test_isotretinoin_stopped_60_days_ago_is_deferred_with_the_rebook_date(page: Page, live_server: LiveServer) -> None:
    patient_id = _patient(live_server, given_name="Priya", family_name="Shah", fitzpatrick=4)
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{patient_id}"))
    page.get_by_role("link", name="New consultation").click()
    expect(page.get_by_label("Fitzpatrick skin type")).to_have_value("4")
    _fill_basics(page)
    expect(page.get_by_label("Date isotretinoin was stopped")).to_be_hidden()
    _answer(page, "Isotretinoin (Roaccutane)", "Stopped")
    stopped = date.today() - timedelta(days=60)
    page.get_by_label("Date isotretinoin was stopped").fill(stopped.isoformat())
    _review_screens(page, "form_dated_answer")
    for title in SECTIONS.values():
        page.get_by_role("button", name=f"Answer “No” to the rest of {title.lower()}").click()
    page.get_by_role("button", name="Save and screen").click()

    verdict = page.locator(".verdict")
    expect(verdict.get_by_role("heading", name="Defer")).to_be_visible()
    rebook = date.today() + timedelta(days=120)
    expect(verdict).to_contain_text(f"Re-book from {rebook:%A %-d %B %Y}")
    expect(verdict).to_contain_text("Isotretinoin stopped 60 days ago")
    expect(verdict.locator(".flag")).to_have_count(2)  # Fitzpatrick IV: the PIH caution is listed too
    expect(page.get_by_role("button", name="Record override")).to_be_visible()
    shot(page, "11-consultation-defer")

    # The patient's timeline shows the consultation and its result.
    page.get_by_role("link", name="Priya Shah").first.click()
    expect(page.locator(".timeline")).to_contain_text("Defer")


def _locked_consultation(live_server: LiveServer) -> str:
    """A consultation a signed session relied on (signed through the real service, so it is locked)."""
    from practitioner.auth.models import User
    from tests.factories import make_consent, make_consultation, make_plan, signed_session

    with live_server.app.app_context():
        author = db.session.scalars(db.select(User).where(User.email == live_server.email)).one()
        consultation = make_consultation(make_patient(actor=author, given_name="Rosa", family_name="Lind"), author,
                                         concerns=[], notes="First visit: wants smoother cheeks.")
        make_consent(consultation, author)
        signed_session(make_plan(consultation), author)
        public_id = str(consultation.public_id)
        db.session.remove()
    return public_id


def test_a_locked_consultation_is_re_screened_beside_the_original(page: Page, live_server: LiveServer) -> None:
    original = _locked_consultation(live_server)
    sign_in(page, live_server)
    page.goto(live_server(f"/consultations/{original}"))
    expect(page.locator(".locked-note")).to_contain_text("Answers locked")
    expect(page.get_by_role("link", name="Edit answers")).to_have_count(0)
    page.goto(live_server(f"/consultations/{original}/edit"))
    expect(page.locator(".flash")).to_contain_text("record a new consultation (re-screen) from its page")
    _review_screens(page, "detail_locked")
    page.get_by_role("link", name="Record a new consultation (re-screen)").click()
    expect(page.get_by_role("heading", name="New consultation (re-screen)")).to_be_visible()
    expect(page.locator(".question input:checked")).to_have_count(0)
    expect(page.get_by_label("Cheeks")).to_be_checked()  # the assessment is copied
    page.get_by_label("Texture and dullness").check()
    _answer(page, "Recent botulinum toxin", "Yes")
    page.get_by_label("Last botulinum toxin").fill((date.today() - timedelta(days=4)).isoformat())
    for title in SECTIONS.values():
        page.get_by_role("button", name=f"Answer “No” to the rest of {title.lower()}").click()
    page.get_by_role("button", name="Save and screen").click()
    expect(page.locator(".verdict").get_by_role("heading", name="Defer")).to_be_visible()
    expect(page.locator(".locked-note")).to_contain_text("This is a re-screen of the consultation of")

    # Not locked yet, so an answer can still be corrected; the old and new value stay in view.
    page.get_by_role("link", name="Edit answers").click()
    _answer(page, "Recent botulinum toxin", "No")
    page.get_by_role("button", name="Save and re-screen").click()
    expect(page.locator(".verdict").get_by_role("heading", name="Proceed")).to_be_visible()
    changes = page.get_by_role("table")
    expect(changes.get_by_role("row").nth(1)).to_contain_text("Recent botulinum toxin")
    expect(changes.get_by_role("row").nth(1)).to_contain_text("Yes")
    expect(changes.get_by_role("row").nth(2)).to_contain_text(f"{date.today() - timedelta(days=4):%-d %b %Y}")
    _review_screens(page, "detail_changes")
    page.get_by_role("link", name="consultation of").first.click()
    expect(page.locator(".locked-note")).to_contain_text(f"Re-screened on {date.today():%A %-d %B %Y}")
