"""Two-factor sign-in in a real browser: enrol by QR code with a code pyotp computes here, sign out, sign in with a code.

At 1280x800 and 820x1180, with screenshots of the enrolment, the recovery codes and the code entry.
"""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TABLET, LiveServer, shot, sign_in

pytestmark = pytest.mark.browser

SIZES = {"desktop": {"width": 1280, "height": 800}, "tablet": dict(TABLET)}


@pytest.mark.parametrize("size", sorted(SIZES))
def test_enrol_sign_out_and_sign_in_with_a_code(browser, live_server: LiveServer, size: str) -> None:
    context = browser.new_context(viewport=SIZES[size], locale="en-GB", timezone_id="Europe/London")
    context.set_default_timeout(15_000)
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) and not r.url.startswith("data:") else None)
    try:
        sign_in(page, live_server)
        page.goto(live_server("/account/two-factor"))
        qr = page.get_by_role("img", name="QR code that adds Practitioner to your authenticator app")
        expect(qr).to_be_visible()
        assert qr.locator("svg").count() == 1, "the QR code is inline SVG"
        shot(page, f"two-factor-{size}-enrol")
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        totp = pyotp.TOTP(secret)
        page.get_by_label("The 6-digit code your app now shows").fill(totp.now())
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        assert page.locator(".recovery-codes li").count() == 10
        shot(page, f"two-factor-{size}-recovery-codes")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/sign-in$"))

        page.get_by_label("Email", exact=True).fill(live_server.email)
        page.get_by_label("Password", exact=True).fill(live_server.password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/sign-in/code$"))
        expect(page.get_by_role("heading", name="Type the code from your app")).to_be_visible()
        shot(page, f"two-factor-{size}-code")
        # The code used to enrol cannot be used again: wait for the app's next one.
        page.wait_for_timeout(1000 * (30 - int(__import__("time").time()) % 30) + 500)
        page.get_by_label("Code from your authenticator app").fill(totp.now())
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/patients/$"))
        expect(page.get_by_role("heading", name="Patients", level=1)).to_be_visible()
        assert outside == [], f"requests outside the app: {outside}"
    finally:
        context.close()
