"""The photo timeline and the comparison in a browser: on a tablet (820x1180), a thumbnail of the patient's photo
timeline opens the comparison, two photos are chosen by their labels on the no-JavaScript form and compared.
Screenshots at 820x1180 and 1280x800."""

from __future__ import annotations


import pytest
from playwright.sync_api import expect

from practitioner.auth.models import User
from practitioner.extensions import db
from tests.browser.conftest import TABLET, LiveServer, shot_both_sizes, sign_in
from tests.conftest import make_patient
from tests.photos.factories import course_with_photos



@pytest.fixture
def viewport() -> dict[str, int]:
    """A tablet in a treatment room."""
    return dict(TABLET)



@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_timeline_to_comparison_on_a_tablet(browser, live_server: LiveServer, javascript: bool):
    with live_server.app.app_context():
        author = db.session.scalars(db.select(User)).first()
        patient = make_patient(author, given_name="Mei", family_name="Chen")
        course_with_photos(patient, author, sessions=3, planned=6, review=True, size=(480, 640))
        patient_url = live_server(f"/patients/{patient.public_id}")
        db.session.remove()
    context = browser.new_context(viewport=TABLET, locale="en-GB", timezone_id="Europe/London", java_script_enabled=javascript)
    page = context.new_page()
    try:
        sign_in(page, live_server)
        page.goto(patient_url)
        timeline = page.get_by_role("region", name="Photo timeline")
        expect(timeline.get_by_role("heading", name="Front")).to_be_visible()
        if javascript:
            shot_both_sizes(page.locator("#photo-timeline-title").page, "photo-timeline-patient-page")
        # The latest front photo (the review visit) opens the comparison with the baseline beside it.
        timeline.get_by_role("link", name="Front view, 18 August 2026, at a review visit").click()
        expect(page.get_by_role("heading", name="Compare photos: Front")).to_be_visible()
        figures = page.locator("figure.compare__photo")
        expect(figures).to_have_count(2)
        expect(figures.nth(0)).to_contain_text("Tuesday 3 March 2026")
        expect(figures.nth(0)).to_contain_text("Consultation")
        expect(figures.nth(1)).to_contain_text("Review visit")
        # Choose two sessions by their labels, as a person would, and compare.
        page.get_by_label("Left photo").select_option(label="31 Mar 2026 · Session 1 of 6 · Before treatment")
        page.get_by_label("Right photo").select_option(label="26 May 2026 · Session 3 of 6 · Before treatment")
        page.get_by_role("button", name="Compare").click()
        expect(figures.nth(0)).to_contain_text("Session 1 of 6")
        expect(figures.nth(0)).to_contain_text("1 mm (cheeks)")
        expect(figures.nth(0)).to_contain_text("Crown Aesthetics SkinPen Precision")
        expect(figures.nth(1)).to_contain_text("Session 3 of 6")
        expect(figures.nth(1)).to_contain_text("1.5 mm (cheeks)")
        expect(figures.nth(1)).to_contain_text("Dermapen Dermapen 4")
        # Side by side on the tablet, each image loaded through the app's image route.
        left, right = figures.nth(0).bounding_box(), figures.nth(1).bounding_box()
        assert left and right and abs(left["y"] - right["y"]) < 2 and left["x"] + left["width"] <= right["x"]
        assert page.locator("figure.compare__photo img").evaluate_all("imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
        if javascript:
            shot_both_sizes(page, "photo-compare")
            page.goto(live_server(f"/patients/{patient.public_id}/photos"))
            expect(page.get_by_role("heading", name="Photos", exact=True)).to_be_visible()
            shot_both_sizes(page, "photo-timeline-full")
    finally:
        context.close()
