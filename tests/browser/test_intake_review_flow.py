"""From reception's tablet to the practitioner's screening result, on an 820x1180 tablet, driven by labels.

Reception signs in and starts the intake on the tablet; the "patient" answers every screen by its labels
and signs (the patient's own pages); the practitioner signs in, reviews the intake on the patient page,
confirms the patient's No answers there with one button (listed by topic beside it), which opens the
form with each No chosen and marked "confirmed by you"; resolves the Yes and Not sure answers one by
one, corrects one answer with a reason, answers the questions not asked of the patient with their own
"No to the rest", and gets the screening result, each No recorded as confirmed that way. Every
staff page on the way passes axe-core; each is photographed at the tablet's size and at 1280x800.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from practitioner.auth.models import Role
from practitioner.clinical.questions import QUESTIONS
from practitioner.extensions import db
from practitioner.intake import questions
from tests.browser.conftest import TABLET, LiveServer, shot_both_sizes
from tests.browser.test_accessibility import axe_context, axe_violations
from tests.browser.test_consent_flow import draw_signature
from tests.browser.test_intake_patient import answer_screen
from tests.conftest import PASSWORD, make_patient, make_user

pytestmark = pytest.mark.browser

RECEPTION_EMAIL = "reception@clinic.example"
ASKED = {q.key for q in questions.QUESTIONS}


def seed(server: LiveServer) -> str:
    """Asha (phone on record differs from the one she will type) and a reception account; returns her public id."""
    with server.app.app_context():
        make_user(Role.RECEPTION, email=RECEPTION_EMAIL, name="Robin Reception")
        patient = make_patient(given_name="Asha", family_name="Raman", date_of_birth=date(1988, 4, 2), fitzpatrick=3,
                               phone="01632 960001")
        public_id = str(patient.public_id)
        db.session.remove()
        return public_id


def sign_in_as(page: Page, server: LiveServer, email: str) -> None:
    """Staff sign-in through the form, by its labels."""
    page.goto(server("/sign-in"))
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))


def checked(page: Page, name: str) -> None:
    """No axe violation, and the page's picture at both sizes."""
    found = axe_violations(page)
    assert not found, f"axe on {name}: {found}"
    shot_both_sizes(page, f"intake-review-{name}")


def question(page: Page, label: str):
    """A screening question's group on the consultation form, by its words."""
    return page.get_by_role("group", name=label, exact=True)


def test_reception_starts_patient_signs_practitioner_reviews_corrects_and_screens(browser, live_server: LiveServer) -> None:
    patient_id = seed(live_server)
    context = axe_context(browser, dict(TABLET))
    page = context.new_page()
    try:
        # Reception: the patient page's intake section, then the tablet handed over.
        sign_in_as(page, live_server, RECEPTION_EMAIL)
        page.goto(live_server(f"/patients/{patient_id}"))
        expect(page.get_by_role("heading", name="Patient intake")).to_be_visible()
        checked(page, "1-reception-patient-page")
        page.get_by_role("button", name="Start intake on this tablet").click()
        expect(page).to_have_url(re.compile(r"/intake/welcome$"))

        # The patient: every screen by its labels, the summary, a drawn signature.
        page.get_by_role("link", name="Start").click()
        for topic in questions.TOPICS:
            expect(page.get_by_role("heading", name=topic.title, level=1)).to_be_visible()
            answer_screen(page, topic)
            page.get_by_role("button", name="Next").click()
        page.get_by_label(questions.DECLARATION).check()
        draw_signature(page)
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_role("heading", name="Thank you", level=1)).to_be_visible()

        # The practitioner: the waiting intake on the patient page, Yes and Not sure first.
        sign_in_as(page, live_server, live_server.email)
        page.goto(live_server(f"/patients/{patient_id}"))
        expect(page.get_by_role("heading", name=re.compile("Intake waiting for review"))).to_be_visible()
        answers = page.locator(".intake-answers__answer").all_inner_texts()
        assert answers[:3] and all(a != "No" for a in answers[:3]), answers
        expect(page.get_by_text("Phone: 07700 900123")).to_be_visible()  # offered, not yet written
        checked(page, "2-practitioner-patient-page")

        expect(page.locator("details.intake-answers__calm")).to_have_attribute("open", "")  # the No answers, unfolded
        expect(page.locator(".intake-answers__topic").first).to_be_visible()
        expect(page.get_by_role("link", name="Start consultation from intake")).to_be_visible()  # the per-question path stays
        page.get_by_role("button", name="Confirm the patient’s No answers and start the consultation").click()
        expect(page.get_by_role("heading", name="New consultation from the patient’s intake", level=1)).to_be_visible()
        expect(page.get_by_label(re.compile("I have gone through all the patient’s “No” answers with them"))).to_be_checked()
        nos = page.get_by_text(re.compile(r"^Patient answered .*; confirmed by you$"))
        assert nos.count() >= 20 and page.locator(".question input[type=radio]:checked").count() == nos.count()
        for label in ("Smokes", "Recent botulinum toxin", "Isotretinoin (Roaccutane)", *(q.label for q in QUESTIONS if q.name not in ASKED)):
            assert question(page, label).locator("input:checked").count() == 0, f"{label} was answered for the practitioner"
        expect(page.get_by_label("Cheeks", exact=True)).to_be_checked()  # the patient's choice
        expect(page.get_by_text("The patient’s choice: Cheeks")).to_be_visible()
        checked(page, "3-form-from-intake")

        # Save with only the treatment: the Yes, the Not sure and the practitioner's own questions are listed by name.
        page.get_by_label("Microneedling", exact=True).check()
        page.get_by_role("button", name="Save and screen").click()
        expect(page.get_by_role("heading", name=re.compile(r"Please correct \d+ things below"))).to_be_visible()
        expect(page.locator(".error-summary").get_by_text("Smokes: Not answered", exact=False)).to_be_visible()
        expect(page.locator(".error-summary").get_by_text("Keloid scars: Not answered", exact=False)).to_have_count(0)
        expect(page.get_by_label(re.compile("I have gone through all the patient’s “No” answers with them"))).to_be_checked()

        # The practitioner's own questions (an examination, a judgement): their group's own explicit "No to the rest",
        # which answers nothing of the patient's.
        page.get_by_role("button", name="Answer “No” to the rest of your questions (not asked of the patient)").click()
        for q in QUESTIONS:
            if q.name not in ASKED:
                expect(question(page, q.label).get_by_label("No", exact=True)).to_be_checked()
        for label in ("Smokes", "Recent botulinum toxin", "Isotretinoin (Roaccutane)"):
            assert question(page, label).locator("input:checked").count() == 0, f"{label} answered by the button"
        # The Yes and Not sure answers, one by one; one of them corrected with its reason.
        question(page, "Smokes").get_by_label("No", exact=True).check()  # the patient was not sure
        question(page, "Recent botulinum toxin").get_by_label("Yes", exact=True).check()
        iso = question(page, "Isotretinoin (Roaccutane)")
        iso.get_by_label("Never taken", exact=True).check()
        reason = iso.get_by_label(re.compile("Why your answer differs"))
        expect(reason).to_be_visible()  # shown once the answer differs from the patient's
        expect(question(page, "Smokes").get_by_label(re.compile("Why your answer differs"))).to_have_count(0)  # Not sure: no correction
        expect(question(page, "Keloid scars").get_by_label(re.compile("Why your answer differs"))).to_be_hidden()
        reason.fill("Took lymecycline, not isotretinoin: checked her list.")
        page.get_by_role("button", name="Save and screen").click()

        expect(page.get_by_text(re.compile("Consultation saved from the patient.s intake. Screening:"))).to_be_visible()
        expect(page.locator(".verdict")).to_be_visible()
        table = page.get_by_role("region", name="The patient’s intake, corrected or resolved")
        expect(table.get_by_role("row", name=re.compile("Isotretinoin"))).to_contain_text("lymecycline")
        checked(page, "4-consultation-result")
        with live_server.app.app_context():
            from practitioner.consultations.models import ConsultationIntakeAnswer

            rows = {r.question: r for r in db.session.scalars(db.select(ConsultationIntakeAnswer))}
            db.session.remove()
        nos = {name for name, r in rows.items() if r.patient_answer in ("no", "none", "never")}
        assert nos and {rows[name].confirmation for name in nos} == {"all_nos"}
        assert rows["isotretinoin"].confirmation == "one_by_one" and rows["isotretinoin"].corrected
    finally:
        context.close()


def test_link_page_and_signed_intake_page(browser, live_server: LiveServer) -> None:
    """The link shown once with its QR code (copy, print), withdrawn from the patient page; the signed intake in full."""
    from practitioner.auth.models import User
    from tests.intake.factories import answer_set, make_intake

    patient_id = seed(live_server)
    with live_server.app.app_context():
        patient = db.session.scalars(db.select(__import__("practitioner.patients.models", fromlist=["Patient"]).Patient)).one()
        reception = db.session.scalars(db.select(User).where(User.email == RECEPTION_EMAIL)).one()
        intake = make_intake(patient, reception, submitted=True, answers=answer_set(smoker="not_sure", had_neurotoxin=("yes", "2026-09")))
        signed_id = str(intake.public_id)
        db.session.remove()
    context = axe_context(browser, dict(TABLET))
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    try:
        sign_in_as(page, live_server, RECEPTION_EMAIL)
        page.goto(live_server(f"/patients/{patient_id}"))
        page.get_by_role("button", name="Create a link for the patient").click()
        expect(page.get_by_role("heading", name="Give this link to the patient")).to_be_visible()
        link = page.get_by_label("Link for the patient").input_value()
        assert re.fullmatch(re.escape(live_server.url) + r"/intake/[A-Za-z0-9_-]{43}", link), link
        assert page.get_by_role("img", name="QR code of the patient's intake link").locator("svg").count() == 1
        page.get_by_role("button", name="Copy the link").click()
        expect(page.get_by_text("Link copied.")).to_be_visible()
        checked(page, "5-link")
        page.get_by_role("link", name="Back to the patient").click()
        expect(page.get_by_text(re.compile(r"By link, started .*; works until"))).to_be_visible()
        assert link not in page.content()
        checked(page, "6-reception-open-link")
        page.get_by_role("button", name="Withdraw link").click()
        expect(page.get_by_text("Intake withdrawn")).to_be_visible()
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).not_to_have_text(re.compile("Hello"))  # the calm page
        page.goto(live_server("/patients/"))
        page.get_by_role("button", name="Sign out").click()

        sign_in_as(page, live_server, live_server.email)
        page.goto(live_server(f"/intakes/{signed_id}"))
        expect(page.get_by_role("heading", name="Signed intake", level=1)).to_be_visible()
        expect(page.get_by_role("img", name="The patient's drawn signature")).to_be_visible()
        checked(page, "7-signed-intake")
    finally:
        context.close()
