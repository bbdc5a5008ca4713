"""The patient's intake on the clinic's tablet (820x1180), driven by labels as a patient would.

Staff start the intake from the patient page and hand the tablet over; the tablet is then locked to it (the
patient list, the menu and Back all stay in the intake); the "patient" answers every screen by its labels,
checks the summary, signs with the mouse and sends. Every screen passes axe-core with no violation, is
photographed at the tablet's size and at 1280x800, and the patient's own time is printed.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from practitioner.auth.models import User
from practitioner.extensions import db
from practitioner.intake import questions
from practitioner.patients.models import Patient
from tests.browser.conftest import TABLET, LiveServer, shot_both_sizes, sign_in
from tests.browser.test_accessibility import axe_context, axe_violations
from tests.browser.test_consent_flow import draw_signature
from tests.conftest import make_patient
from tests.intake.factories import make_intake

pytestmark = pytest.mark.browser

# What the patient answers: the calm answer everywhere except these (a Yes with a month, a Not sure, a stopped medicine).
ANSWERS = {
    "diabetes": "No, I do not have diabetes",
    "isotretinoin": "Yes, but I have stopped",
    "had_neurotoxin": "Yes",
    "smoker": "Not sure",
}
WHEN = {"isotretinoin": ("", "March", "2025"), "had_neurotoxin": ("14", "September", "2026")}


def seed_patient(server: LiveServer) -> str:
    """Asha, whose intake this is; returns her public id."""
    with server.app.app_context():
        author = db.session.scalars(db.select(User).where(User.email == server.email)).one()
        patient = make_patient(actor=author, given_name="Asha", family_name="Raman", date_of_birth=date(1988, 4, 2))
        return str(patient.public_id)


class Stopwatch:
    """The patient's own time: only the spans the patient acts in (not the checks and screenshots between them)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._since: float | None = None

    def start(self) -> None:
        """Start (or resume) timing."""
        self._since = time.perf_counter()

    def stop(self) -> None:
        """Pause timing."""
        if self._since is not None:
            self.total += time.perf_counter() - self._since
            self._since = None


def check_screen(page: Page, name: str) -> None:
    """No axe violation on the page as it stands, and its picture at both sizes."""
    found = axe_violations(page)
    assert not found, f"axe on {name}: {found}"
    shot_both_sizes(page, f"intake-patient-{name}")


def stays_locked(page: Page, server: LiveServer) -> None:
    """The patient list, the menu and Back all lead back into the intake."""
    for path in ("/patients/", "/admin/users", "/", "/sign-out-nowhere"):
        page.goto(server(path))
        expect(page).to_have_url(re.compile(r"/intake/"))
    assert page.get_by_role("navigation").count() == 0
    assert page.get_by_role("link", name="Patients").count() == 0
    page.evaluate("() => history.back()")
    page.wait_for_load_state()
    expect(page).to_have_url(re.compile(r"/intake/"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/intake/"))


def answer_screen(page: Page, topic: questions.Topic) -> None:
    """Every question of the screen by its words and its answer's label; dates by their Day, Month and Year labels."""
    for question in topic.questions:
        group = page.get_by_role("group", name=question.wording, exact=True)
        label = ANSWERS.get(question.key, "No")
        group.get_by_label(label, exact=True).check()
        if question.key in WHEN:
            day, month, year = WHEN[question.key]
            when = group.get_by_role("group", name=re.compile(re.escape(question.follow_up.wording)))
            expect(when).to_be_visible()
            if day:
                when.get_by_label("Day (if you know it)").fill(day)
            when.get_by_label("Month", exact=True).select_option(label=month)
            when.get_by_label("Year", exact=True).fill(year)
        elif question.follow_up is not None:
            expect(page.locator(f"#{question.follow_up.key}")).to_be_hidden()
    if topic.kind == "details":
        page.get_by_label("Phone number").fill("07700 900123")
        page.get_by_label("Email address").fill("asha@example.com")
        page.get_by_label("Your GP's name").fill("Dr Okafor")
    if topic.kind == "hopes":
        page.get_by_label("Fine lines and wrinkles").check()
        page.get_by_label("Dips or pits left by acne").check()
        page.get_by_label("Cheeks", exact=True).check()  # "Which areas would you like treated?"
        page.get_by_label("In your own words").fill("Smoother skin on my cheeks.")
    if topic.slug == "allergies":
        page.get_by_label(re.compile("^Any other allergies")).fill("Plasters make my skin itch.")


def test_patient_fills_the_intake_on_a_locked_tablet(browser, live_server: LiveServer) -> None:
    patient_id = seed_patient(live_server)
    context = axe_context(browser, dict(TABLET))
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(live_server(f"/patients/{patient_id}"))
        page.get_by_role("button", name="Start intake on this tablet").click()
        expect(page).to_have_url(re.compile(r"/intake/welcome$"))
        expect(page.get_by_role("heading", name="Hello, Asha", level=1)).to_be_visible()
        expect(page.get_by_text("Raman")).to_have_count(0)  # the first name only
        check_screen(page, "0-welcome")
        stays_locked(page, live_server)
        expect(page).to_have_url(re.compile(r"/intake/welcome$"))

        # Next with nothing answered: every question asks for its answer (422), nothing chosen for the patient.
        page.get_by_role("link", name="Start").click()
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading", name="Please answer or check 7 things on this screen")).to_be_visible()
        check_screen(page, "1-errors")

        watch = Stopwatch()
        for number, topic in enumerate(questions.TOPICS, 1):
            expect(page.get_by_role("heading", name=topic.title, level=1)).to_be_visible()
            expect(page.get_by_text(f"Screen {number} of {len(questions.TOPICS) + 1}")).to_be_visible()
            assert page.locator("input[type=radio]:checked").count() == 0, "an answer was chosen before the patient chose"
            watch.start()
            answer_screen(page, topic)
            watch.stop()
            check_screen(page, f"{number}-{topic.slug}")
            watch.start()
            page.get_by_role("button", name="Next").click()
            watch.stop()
            if number == 3:
                stays_locked(page, live_server)
                expect(page.get_by_role("heading", name=questions.TOPICS[3].title, level=1)).to_be_visible()

        expect(page.get_by_role("heading", name=questions.SUMMARY_TITLE, level=1)).to_be_visible()
        expect(page.get_by_text("Yes, but I have stopped, about March 2025")).to_be_visible()
        expect(page.get_by_text("Yes, 14 September 2026")).to_be_visible()
        check_screen(page, f"{len(questions.TOPICS) + 1}-summary")
        # Sent with neither the tick nor a signature: both are asked for (422), nothing is signed.
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_text("Tick the box to confirm your answers are true").first).to_be_visible()
        check_screen(page, f"{len(questions.TOPICS) + 1}-summary-errors")
        watch.start()
        page.get_by_label(questions.DECLARATION).check()
        draw_signature(page)
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_role("heading", name="Thank you", level=1)).to_be_visible()
        watch.stop()
        expect(page.get_by_text("Please hand the tablet back")).to_be_visible()
        check_screen(page, "z-thank-you")
        # The only way on is staff sign-in; the lock has ended and nobody is signed in.
        links = [link.get_attribute("href") for link in page.get_by_role("link").all()]
        assert links == ["#main", "/sign-in"], links
        page.goto(live_server("/patients/"))
        expect(page).to_have_url(re.compile(r"/sign-in"))
        print(f"\nintake on the tablet: the patient's time {watch.total:.1f} s for {len(questions.QUESTIONS)} questions "
              f"on {len(questions.TOPICS)} screens, the summary and the signature")
    finally:
        context.close()


def test_patient_opens_a_link_with_the_date_of_birth(browser, live_server: LiveServer) -> None:
    """By link on the patient's own device: a dead link's calm page, the date of birth (a wrong one refused calmly), then hello."""
    patient_id = seed_patient(live_server)
    with live_server.app.app_context():
        author = db.session.scalars(db.select(User).where(User.email == live_server.email)).one()
        patient = db.session.scalars(Patient.by_public_id(uuid.UUID(patient_id))).one()
        intake = make_intake(patient, author, channel="link", verified=False)
        link, intake_id = f"/intake/{intake.token}", str(intake.public_id)
    context = axe_context(browser, dict(TABLET))
    page = context.new_page()
    try:
        page.goto(live_server("/intake/" + "z" * 43))
        expect(page.get_by_role("heading", name="This link no longer works", level=1)).to_be_visible()
        check_screen(page, "link-0-not-working")
        page.goto(live_server(link))
        expect(page.get_by_role("heading", name="Before we start", level=1)).to_be_visible()
        assert page.get_by_text("Asha").count() == 0
        check_screen(page, "link-1-date-of-birth")
        dob = page.get_by_role("group", name="Your date of birth")
        dob.get_by_label("Day", exact=True).fill("3")
        dob.get_by_label("Month", exact=True).fill("4")
        dob.get_by_label("Year", exact=True).fill("1988")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="That date of birth does not match")).to_be_visible()
        check_screen(page, "link-2-wrong-date")
        dob.get_by_label("Day", exact=True).fill("2")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", name="Hello, Asha", level=1)).to_be_visible()
        assert patient_id not in page.url and intake_id not in page.content()
    finally:
        context.close()
