"""A consultation filled in as a practitioner would: isotretinoin stopped 60 days ago means defer."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from practitioner.extensions import db
from tests.browser.conftest import LiveServer, shot, sign_in
from tests.conftest import make_patient


def _patient(live_server: LiveServer, **values) -> str:
    with live_server.app.app_context():
        patient = make_patient(**values)
        public_id = str(patient.public_id)
        db.session.remove()
    return public_id


def _fill_basics(page: Page) -> None:
    page.get_by_label("Microneedling", exact=True).check()
    page.get_by_label("Atrophic (pitted) acne scars").check()
    page.get_by_label("Cheeks").check()
    page.get_by_label("Device (make and model)").fill("SkinPen Precision")
    page.get_by_label("Stainless steel", exact=True).check()
    page.get_by_label("Deepest setting the device was evaluated to (mm)").fill("1.5")
    page.get_by_label("Deepest depth planned (mm)").fill("1.25")


def test_isotretinoin_stopped_60_days_ago_is_deferred_with_the_rebook_date(page: Page, live_server: LiveServer) -> None:
    patient_id = _patient(live_server, given_name="Priya", family_name="Shah", fitzpatrick=4)
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{patient_id}"))
    page.get_by_role("link", name="New consultation").click()
    expect(page.get_by_label("Fitzpatrick skin type")).to_have_value("4")
    _fill_basics(page)
    page.get_by_label("Stopped", exact=True).check()
    stopped = date.today() - timedelta(days=60)
    page.get_by_label("Date isotretinoin was stopped").fill(stopped.isoformat())
    page.get_by_label("I asked the patient every screening question on this page").check()
    shot(page, "10-consultation-form")
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


def test_missing_answers_are_explained_and_nothing_typed_is_lost(page: Page, live_server: LiveServer) -> None:
    patient_id = _patient(live_server)
    sign_in(page, live_server)
    page.goto(live_server(f"/patients/{patient_id}/consultations/new"))
    _fill_basics(page)
    page.get_by_label("Consultation notes").fill("Wants to start before a wedding in March.")
    page.get_by_role("button", name="Save and screen").click()
    expect(page.locator(".error-summary")).to_contain_text("Confirm that every screening question was asked.")
    expect(page.get_by_label("Consultation notes")).to_have_value("Wants to start before a wedding in March.")
    expect(page.get_by_label("Device (make and model)")).to_have_value("SkinPen Precision")
    expect(page.get_by_label("Cheeks")).to_be_checked()
