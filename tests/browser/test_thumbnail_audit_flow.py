"""In a real browser, the patient page's thumbnails load through their proof and write no audit row each.

The page writes one row naming the photos its timeline shows (photo.timeline_view); the browser then
fetches every thumbnail (lazily, as they scroll into view) with the page's proof (photos/shown.py).
Screenshots at 820x1180 and 1280x800.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from practitioner.audit import AuditEvent
from practitioner.auth.models import User
from practitioner.extensions import db
from tests.browser.conftest import TABLET, LiveServer, shot_both_sizes, sign_in
from tests.conftest import make_patient
from tests.photos.factories import course_with_photos


@pytest.fixture
def viewport() -> dict[str, int]:
    """A tablet in a treatment room."""
    return dict(TABLET)


def _count(app, action: str) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))
        finally:
            db.session.remove()


def test_the_thumbnails_load_and_the_page_writes_one_row_for_them(page, live_server: LiveServer):
    with live_server.app.app_context():
        author = db.session.scalars(db.select(User)).first()
        patient = make_patient(author, given_name="Ana", family_name="Okafor")
        made = course_with_photos(patient, author, sessions=3, planned=6, review=True, size=(480, 640))
        shown = len(made["photos"])
        patient_url = live_server(f"/patients/{patient.public_id}")
        db.session.remove()
    sign_in(page, live_server)
    page.goto(patient_url)
    timeline = page.get_by_role("region", name="Photo timeline")
    expect(timeline.get_by_role("heading", name="Front")).to_be_visible()
    images = timeline.locator("img")
    expect(images).to_have_count(shown)
    for index in range(shown):  # scroll each into view (they load lazily), then wait until it has its pixels
        image = images.nth(index)
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    shot_both_sizes(page, "thumbnails-through-their-proof")
    assert _count(live_server.app, "photo.timeline_view") == 1
    assert _count(live_server.app, "photo.view") == 0
    # The same thumbnail without the page's proof is audited, as any other fetch.
    bare = images.first.get_attribute("src").split("?")[0]
    assert page.request.get(live_server(bare)).status == 200
    assert _count(live_server.app, "photo.view") == 1
