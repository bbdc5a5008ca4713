"""Two practitioners open the same intake's consultation form; the colleague saves first. The other's save is the
conflict page (409): their notes kept in the form, the colleague's consultation linked, nothing of theirs saved.
axe on the conflict page; pictures at 820x1180 and 1280x800."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect

from practitioner.auth.models import Role
from practitioner.extensions import db
from tests.browser.conftest import LiveServer, shot_both_sizes
from tests.browser.test_accessibility import axe_context, axe_violations
from tests.browser.test_intake_review_flow import sign_in_as
from tests.conftest import make_patient, make_user, sign_in

pytestmark = pytest.mark.browser

COLLEAGUE = "colleague@clinic.example"


def test_a_form_opened_before_a_colleagues_save_shows_the_conflict(browser, live_server: LiveServer) -> None:
    from tests.consultations.test_from_intake_versions import _opened
    from tests.intake.factories import make_intake

    with live_server.app.app_context():
        reception = make_user(Role.RECEPTION, email="reception@clinic.example")
        make_user(Role.PRACTITIONER, email=COLLEAGUE, name="Sam Colleague")
        patient = make_patient(given_name="Asha", family_name="Raman", date_of_birth=date(1988, 4, 2), fitzpatrick=3)
        intake_id = str(make_intake(patient, reception, submitted=True).public_id)
        db.session.remove()
    context = axe_context(browser, {"width": 820, "height": 1180})
    page = context.new_page()
    try:
        sign_in_as(page, live_server, live_server.email)
        page.goto(live_server(f"/intakes/{intake_id}/consultation"))
        page.get_by_label("Consultation notes").fill("Mine: talked through the Yes answers")

        # The colleague saves from the same intake meanwhile (outside an app context: each request has its own `g`).
        colleague = live_server.app.test_client()
        assert sign_in(colleague, COLLEAGUE).status_code == 303
        intake = type("Intake", (), {"public_id": intake_id})
        saved = colleague.post(f"/intakes/{intake_id}/consultation", data=_opened(colleague, intake, "Theirs"))
        assert saved.status_code == 303, saved.get_data(as_text=True)[-1500:]

        with page.expect_response(re.compile(r"/consultation$")) as answer:
            page.get_by_role("button", name="Save and screen").click()
        assert answer.value.status == 409
        expect(page.get_by_role("heading", name="A consultation was already saved from this intake")).to_be_visible()
        expect(page.get_by_text("Sam Colleague saved it")).to_be_visible()
        expect(page.get_by_label("Consultation notes")).to_have_value("Mine: talked through the Yes answers")
        found = axe_violations(page)
        assert not found, f"axe on the conflict page: {found}"
        shot_both_sizes(page, "intake-review-conflict")
        page.get_by_role("link", name="Open that consultation").click()
        expect(page.get_by_text("Theirs")).to_be_visible()
    finally:
        context.close()
