"""Signing returns at once and the aftercare appears on the session's page by itself, rendered off the request path
(DOCUMENT_JOBS "background", as a served app runs), with JavaScript (polling) and without (a refresh)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from practitioner.auth.models import User
from practitioner.documents import jobs
from practitioner.extensions import db
from tests.browser.conftest import DESKTOP, TABLET, LiveServer, sign_in
from tests.conftest import make_patient, post_form
from tests.factories import complete_session_form, treatable_plan

SHOTS = Path("/tmp/N")


def _complete_draft(server: LiveServer) -> str:
    """A complete, unsigned session made through the app's own pages (a test client beside the browser)."""
    with server.app.app_context():
        author = db.session.scalars(db.select(User)).first()
        plan = treatable_plan(make_patient(actor=author, given_name="Mei", family_name="Chen"), author)
        from practitioner.admin.services import get_settings

        get_settings(db.session).phone = "0117 496 0123"
        db.session.commit()
        plan_id = plan.public_id
        db.session.remove()
    client = server.app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/sign-in", data={"email": server.email, "password": server.password, "csrf_token": token})
    record_url = post_form(client, f"/plans/{plan_id}/sessions/new", {}).headers["Location"].removesuffix("/edit")
    edit = client.get(record_url + "/edit").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', edit).group(1)
    assert post_form(client, record_url + "/edit", {**complete_session_form(), "version": version}).status_code == 303
    return record_url


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without-javascript"])
def test_after_signing_the_aftercare_appears_on_the_page_by_itself(browser, live_server: LiveServer, javascript: bool) -> None:
    live_server.app.config["DOCUMENT_JOBS"] = "background"
    try:
        for name, viewport in (("desktop", {"width": DESKTOP["width"], "height": 800}), ("tablet", TABLET)):
            record_url = _complete_draft(live_server)
            context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="Europe/London",
                                          java_script_enabled=javascript)
            context.set_default_timeout(20_000)
            page: Page = context.new_page()
            try:
                sign_in(page, live_server)
                page.goto(live_server(record_url))
                page.get_by_role("button", name="Sign and lock the record").click()
                expect(page.locator(".locked-note")).to_be_visible()
                status = page.locator(".doc-job")
                expect(status).to_be_visible()
                SHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SHOTS / f"signed-{name}-{'js' if javascript else 'nojs'}.png"), full_page=True)
                # Nobody clicks anything: the link to print comes by itself.
                expect(page.locator(".doc-job--done")).to_contain_text("Aftercare issued as", timeout=30_000)
                expect(page.get_by_role("link", name="Aftercare instructions", exact=True)).to_be_visible()
                page.screenshot(path=str(SHOTS / f"ready-{name}-{'js' if javascript else 'nojs'}.png"), full_page=True)
            finally:
                context.close()
    finally:
        jobs.stop_runner(live_server.app)
