"""A full session recorded on a tablet-sized window: fill, sign, amend, find by lot. Counts fields, clicks and time."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from practitioner.auth.models import User
from practitioner.extensions import db
from tests.browser.conftest import TABLET, LiveServer, shot, sign_in
from tests.conftest import make_patient
from tests.factories import treatable_plan


@pytest.fixture
def viewport() -> dict[str, int]:
    """A tablet in a treatment room."""
    return dict(TABLET)


class Counter:
    """Counts what a person does: fields filled, clicks."""

    def __init__(self, page: Page) -> None:
        self.page, self.fields, self.clicks = page, 0, 0

    def fill(self, label: str, value: str, **kw) -> None:
        self.page.get_by_label(label, **kw).fill(value)
        self.fields += 1

    def check(self, label: str, **kw) -> None:
        self.page.get_by_label(label, **kw).check()
        self.clicks += 1

    def select(self, label: str, value: str) -> None:
        self.page.get_by_label(label).select_option(value)
        self.fields += 1

    def click(self, locator) -> None:
        locator.click()
        self.clicks += 1


def test_full_session_on_a_tablet_sign_amend_and_find_by_lot(page: Page, live_server: LiveServer) -> None:
    with live_server.app.app_context():
        author = db.session.scalars(db.select(User)).first()
        patient = make_patient(actor=author, given_name="Mei", family_name="Chen")
        plan_id = str(treatable_plan(patient, author).public_id)
        db.session.remove()

    sign_in(page, live_server)

    do = Counter(page)
    started = time.perf_counter()
    page.goto(live_server(f"/plans/{plan_id}/sessions/new"))
    do.click(page.get_by_role("button", name="Start the session record"))
    expect(page.get_by_role("heading", name="Session record")).to_be_visible()

    page.get_by_role("group", name="History, medicines and allergies reviewed today").get_by_label("Yes").check(); do.clicks += 1
    page.get_by_role("group", name="Photo consent for today").get_by_label("No").check(); do.clicks += 1
    do.fill("Device model", "SkinPen Precision")
    do.fill("Serial number", "SP-00123")
    do.fill("Cartridge or tip product", "SkinPen 14-pin cartridge")
    do.fill("Cartridge lot", "LOT-CHEN-42")
    do.fill("Cartridge expiry", (date.today() + timedelta(days=180)).isoformat())
    page.get_by_role("group", name="Sterile pack intact").get_by_label("Yes").check(); do.clicks += 1
    do.fill("Antiseptic", "Chlorhexidine 0.05%")
    page.get_by_role("group", name="Topical anaesthetic used").get_by_label("No").check(); do.clicks += 1
    # The plan's zones are not pre-filled for a first session: add one row.
    do.click(page.get_by_role("button", name="Add a zone"))
    do.select("Zone, row 1", "cheeks")
    do.fill("Depth (mm), row 1", "1.25")
    do.fill("Passes, row 1", "3")
    do.select("Technique, row 1", "cross_hatch")
    do.check("No product was put on the needled skin")
    do.check("Even redness")
    do.fill("Pain score (0 to 10)", "3")
    do.check("No adverse events")
    do.fill("Clinical note", "Tolerated well. Even erythema across both cheeks.")
    shot(page, "20-session-form-tablet")
    do.click(page.get_by_role("button", name="Save draft").last)
    expect(page.locator(".flash--success")).to_contain_text("Saved as a draft")
    do.click(page.get_by_role("button", name="Sign and lock the record"))
    expect(page.locator(".locked-note")).to_be_visible()
    elapsed = time.perf_counter() - started
    shot(page, "21-session-signed-tablet")

    page.get_by_label("Reason for the addendum").fill("Late entry")
    page.get_by_label("Addendum", exact=True).fill("Patient phoned next day: redness settling as expected.")
    page.get_by_role("button", name="Add addendum").click()
    expect(page.locator(".addendum")).to_contain_text("redness settling")
    expect(page.locator(".signature-block")).to_contain_text("Signed by")

    page.get_by_role("link", name="Lot recall").click()
    page.get_by_label("Lot number").fill("lot-chen-42")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("row", name="Chen, Mei")).to_be_visible()
    shot(page, "22-lot-recall-tablet")
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    numbers = {"fields_typed_or_chosen": do.fields, "clicks": do.clicks, "seconds_automated": round(elapsed, 2)}
    out = Path("test-artifacts/session-form-effort.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(numbers, indent=2))
    assert do.fields <= 15 and do.clicks <= 12, numbers
