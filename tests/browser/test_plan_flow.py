"""Making a treatment plan as a practitioner does: from the consultation, adjust the suggested zones, save, read the course."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from practitioner.auth.models import User
from practitioner.consultations.models import Consultation, ConsultationArea, ConsultationConcern
from practitioner.extensions import db
from practitioner.dates import clinic_today
from tests.browser.conftest import TABLET, LiveServer, shot, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser


def seed_consultation(server: LiveServer, fitzpatrick: int = 2) -> tuple[str, object]:
    """Giulia Marchetti's consultation (proceed; forehead, around the eyes, cheeks); returns its path and the clinic's today."""
    with server.app.app_context():
        practitioner = db.session.scalars(select(User).where(User.email == server.email)).one()
        patient = make_patient(actor=practitioner, given_name="Giulia", family_name="Marchetti")
        today = clinic_today()
        consultation = Consultation(
            patient_id=patient.id, practitioner_id=practitioner.id, consultation_date=today, modality="microneedling",
            decision="proceed", fitzpatrick=fitzpatrick,
            areas=[ConsultationArea(code=code) for code in ("forehead", "periorbital", "cheeks")],
            concerns=[ConsultationConcern(code="atrophic_acne_scars")],
        )
        db.session.add(consultation)
        db.session.commit()
        path = f"/consultations/{consultation.public_id}"
        db.session.remove()
    return path, today


def zone(page: Page, number: int):
    """The fieldset of one zone row, found by its legend ("Zone 2: Around the eyes")."""
    return page.get_by_role("group", name=re.compile(rf"^Zone {number}\b"))


def assert_no_horizontal_scroll(page: Page, what: str) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"{what}: the page scrolls sideways ({widths[0]} > {widths[1]})"


def test_make_a_plan_from_a_consultation(page: Page, live_server: LiveServer) -> None:
    consultation_path, today = seed_consultation(live_server)
    first = today + timedelta(days=14)
    sign_in(page, live_server)

    page.goto(live_server(consultation_path))
    page.get_by_role("link", name="Make a treatment plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Make a treatment plan")
    expect(page.get_by_role("group", name="Modality").get_by_label("Microneedling", exact=True)).to_be_checked()

    # The consultation's areas arrive as zones at the reference's depths for Fitzpatrick II.
    expect(zone(page, 1).get_by_label("Zone", exact=True)).to_have_value("forehead")
    expect(zone(page, 1).get_by_label("Shallowest (mm)")).to_have_value("0.25")
    expect(zone(page, 1).get_by_label("Deepest (mm)")).to_have_value("0.5")
    expect(zone(page, 2).get_by_label("Zone", exact=True)).to_have_value("periorbital")
    expect(zone(page, 2)).to_contain_text("Never inside the orbital rim (eyelids)")
    expect(zone(page, 3).get_by_label("Deepest (mm)")).to_have_value("2.0")
    expect(zone(page, 4)).to_have_count(0)
    expect(page.get_by_role("complementary")).to_contain_text("3–6 sessions, 4–6 weeks apart")
    shot(page, "plan-01-form-prefilled")

    # Type first, then add a row: nothing typed may be lost.
    page.get_by_label("Number of sessions").fill("4")
    page.get_by_label("Weeks between sessions").fill("4")
    page.get_by_label("First session date").fill(first.isoformat())
    zone(page, 3).get_by_label("Deepest (mm)").fill("1.5")
    zone(page, 2).get_by_label("Note (optional)").fill("Lateral crow's feet only")
    # Passes and technique start blank (the practitioner chooses); planned here for the cheeks only.
    expect(zone(page, 3).get_by_label("Passes (optional)")).to_have_value("")
    zone(page, 3).get_by_label("Passes (optional)").fill("3")
    zone(page, 3).get_by_label("Technique (optional)").select_option(label="Cross-hatch")
    page.get_by_role("button", name="Add a zone").click()
    expect(zone(page, 4)).to_be_visible()
    expect(page.get_by_label("Number of sessions")).to_have_value("4")
    expect(page.get_by_label("First session date")).to_have_value(first.isoformat())
    expect(zone(page, 3).get_by_label("Deepest (mm)")).to_have_value("1.5")
    expect(zone(page, 2).get_by_label("Note (optional)")).to_have_value("Lateral crow's feet only")
    expect(zone(page, 3).get_by_label("Passes (optional)")).to_have_value("3")
    expect(zone(page, 3).get_by_label("Technique (optional)")).to_have_value("cross_hatch")
    expect(page.locator(".error-summary")).to_have_count(0)

    zone(page, 4).get_by_label("Zone", exact=True).select_option(label="Between the eyebrows")
    zone(page, 4).get_by_label("Shallowest (mm)").fill("0.5")
    zone(page, 4).get_by_label("Deepest (mm)").fill("0.75")
    shot(page, "plan-02-form-zone-added")

    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Treatment plan: Microneedling")
    expect(page.get_by_role("status")).to_contain_text("Treatment plan saved: 4 sessions, every 4 weeks.")
    expect(page.get_by_role("heading", name="0 of 4 sessions done")).to_be_visible()
    expect(page.locator("progress")).to_have_attribute("max", "4")
    sessions = page.get_by_role("region", name="Projected dates").get_by_role("listitem")
    expect(sessions).to_have_count(4)
    for k in range(4):
        expect(sessions.nth(k)).to_contain_text(f"Session {k + 1}")
        expect(sessions.nth(k)).to_contain_text((first + timedelta(weeks=4 * k)).strftime("%A %-d %B %Y"))
    zones = page.locator(".plan-zone")
    expect(zones).to_have_count(4)
    expect(zones.nth(0)).to_contain_text("Forehead")
    expect(zones.nth(0)).to_contain_text("0.25–0.5 mm")
    expect(zones.nth(1)).to_contain_text("Never inside the orbital rim (eyelids)")
    expect(zones.nth(1)).to_contain_text("Lateral crow's feet only")
    expect(zones.nth(2)).to_contain_text("Each session: 3 passes, cross-hatch")
    expect(zones.nth(0)).not_to_contain_text("Each session")
    expect(zones.nth(3)).to_contain_text("Between the eyebrows")
    expect(zones.nth(3)).to_contain_text("0.5–0.75 mm")
    shot(page, "plan-03-detail")

    page.set_viewport_size(TABLET)
    assert_no_horizontal_scroll(page, "plan page on a tablet")
    shot(page, "plan-04-detail-tablet")

    # Back on the consultation, the plan is listed with its progress.
    page.get_by_role("link", name="Back to the consultation").click()
    plans = page.locator(".plans")
    expect(plans).to_contain_text("Microneedling: 4 sessions, every 4 weeks")
    expect(plans).to_contain_text("0 of 4 done")
    plans.scroll_into_view_if_needed()
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "plan-07-consultation-plans")


def test_mistakes_are_shown_on_a_tablet_and_nothing_is_lost(page: Page, live_server: LiveServer) -> None:
    consultation_path, today = seed_consultation(live_server, fitzpatrick=5)
    page.set_viewport_size(TABLET)
    sign_in(page, live_server)
    page.goto(live_server(consultation_path + "/plans/new"))
    expect(zone(page, 1).get_by_label("Deepest (mm)")).to_have_value("0.35")
    assert_no_horizontal_scroll(page, "plan form on a tablet")
    shot(page, "plan-05-form-tablet")

    # Enter in a field saves (it must not press the first row's Remove button).
    page.get_by_label("Number of sessions").fill("4")
    zone(page, 2).get_by_label("Deepest (mm)").fill("0.6")
    page.get_by_label("Number of sessions").press("Enter")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Weeks between sessions: Enter the number of weeks between sessions.")
    expect(summary).to_contain_text("First session date: Enter the date of the first session.")
    expect(zone(page, 3)).to_be_visible()
    expect(page.get_by_label("Number of sessions")).to_have_value("4")

    page.get_by_label("Weeks between sessions").fill("6")
    page.get_by_label("First session date").fill(today.isoformat())
    page.get_by_role("button", name="Save plan").click()
    expect(zone(page, 2)).to_contain_text("no deeper than 0.5 mm")
    expect(zone(page, 2).get_by_label("Deepest (mm)")).to_have_value("0.6")
    assert_no_horizontal_scroll(page, "plan form with errors on a tablet")
    shot(page, "plan-06-form-errors-tablet")

    # Remove the eye zone instead; the other rows stay as they were.
    zone(page, 2).get_by_role("button", name="Remove zone 2").click()
    expect(zone(page, 3)).to_have_count(0)
    expect(zone(page, 2).get_by_label("Zone", exact=True)).to_have_value("cheeks")
    expect(page.get_by_label("Weeks between sessions")).to_have_value("6")
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_role("heading", name="0 of 4 sessions done")).to_be_visible()
    expect(page.locator(".plan-zone")).to_have_count(2)
