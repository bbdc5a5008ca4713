"""Every page a person reaches passes axe-core (all its default rules, not only colour contrast).

axe-core is vendored under tests/browser/vendor (see the README there), injected into each page
by Playwright and run in the page. Each page is checked at a desktop and a tablet size, and the
forms are checked again re-rendered with their errors (status 422), since error colours matter.
A failure lists every page, rule and element; the per-page counts are also written to
test-artifacts/accessibility/axe-<size>.json.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Callable

import pyotp
import pytest
from playwright.sync_api import Page, expect

from practitioner.auth.models import Role, User
from practitioner.extensions import db
from tests.browser.conftest import REPO_ROOT, TABLET, LiveServer, shot, sign_in
from tests.conftest import PASSWORD, make_patient, make_user
from tests.factories import make_consent, make_consultation, make_plan, signed_session

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
RESULTS = REPO_ROOT / "test-artifacts" / "accessibility"
SIZES = {"desktop": {"width": 1280, "height": 800}, "tablet": dict(TABLET)}
ADMIN_EMAIL = "admin@clinic.example"
# Pages also photographed (test-artifacts/screenshots/a11y-<size>-<page>.png), to look at the colours by eye.
PICTURED = {"patient page", "new patient form (errors, 422)", "consultation page", "session page (signed)",
            "session form (errors, 422)", "audit trail", "sign-in (wrong password, 422)",
            "two-factor enrolment (wrong code, 422)", "two-factor code entry (wrong code, 422)"}


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core in the page as it stands and return its violations (rule id, help, targets)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({
            rule: v.id, impact: v.impact, help: v.help,
            targets: v.nodes.map(n => n.target.join(' ') + (n.failureSummary ? ' -- ' + n.failureSummary.replace(/\\s+/g, ' ') : '')),
        }));
    }""")
    return found


def axe_context(browser, viewport: dict[str, int]):
    """A browser context that lets Playwright inject axe-core despite the app's Content-Security-Policy.

    The pages allow scripts from 'self' only; ``bypass_csp`` lifts that for the test's own
    injected script and nothing else (the app's header is unchanged and tested elsewhere).
    """
    context = browser.new_context(viewport=viewport, locale="en-GB", timezone_id="Europe/London", bypass_csp=True)
    context.set_default_timeout(15_000)
    return context


def seed(server: LiveServer) -> dict[str, str]:
    """A patient with a consultation, plan, consent, a signed session and a draft, and an admin account."""
    from practitioner.treatments.services import start_session

    with server.app.app_context():
        author = db.session.scalars(db.select(User).where(User.email == server.email)).one()
        make_user(Role.ADMIN, email=ADMIN_EMAIL, name="Ada Administrator")
        patient = make_patient(actor=author, given_name="Giulia", family_name="Marchetti", record_number="CL-40217", fitzpatrick=4)
        consultation = make_consultation(patient, author)
        make_consent(consultation, author)
        plan = make_plan(consultation)
        signed = signed_session(plan, author, products=(("Hyaluronic glide gel", "HG-778"),))
        draft = start_session(db.session, plan, actor=author, on=date.today())
        db.session.commit()
        ids = {"patient": str(patient.public_id), "consultation": str(consultation.public_id), "plan": str(plan.public_id),
               "signed": str(signed.public_id), "draft": str(draft.public_id),
               "user": str(author.public_id)}
        db.session.remove()
    return ids


def sign_in_as_admin(page: Page, server: LiveServer) -> None:
    """Sign out whoever is signed in, then sign in as the seeded administrator."""
    page.context.clear_cookies()
    page.goto(server("/sign-in"))
    page.get_by_label("Email", exact=True).fill(ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def submit_with_errors(page: Page, button: str) -> None:
    """Submit the page's form past the browser's own checks so the server re-renders it with its errors (422)."""
    page.evaluate("() => document.querySelectorAll('form').forEach(f => f.noValidate = true)")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name=button, exact=True).first.click()
    assert answer.value.status == 422, f"expected the form back with errors (422), got {answer.value.status}"
    page.wait_for_load_state()


def clear_fields(*labels: str) -> Callable[[Page], None]:
    """An action that empties the named fields (so a required one is missing)."""
    def act(page: Page) -> None:
        for label in labels:
            page.get_by_label(label, exact=True).fill("")
    return act


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_page_has_no_axe_violations(browser, live_server: LiveServer, size: str) -> None:
    context = axe_context(browser, SIZES[size])
    page = context.new_page()
    ids = seed(live_server)
    report: dict[str, list[dict]] = {}

    def check(name: str, path: str | None = None, status: int = 200) -> None:
        if path is not None:
            answer = page.goto(live_server(path))
            assert answer is not None and answer.status == status, f"{name}: {path} answered {answer and answer.status}, not {status}"
        report[name] = axe_violations(page)
        if name in PICTURED:
            shot(page, f"a11y-{size}-{re.sub(r'[^a-z0-9]+', '-', name).strip('-')}")

    try:
        # Signed out.
        check("sign-in", "/sign-in")
        page.get_by_label("Email", exact=True).fill(live_server.email)
        page.get_by_label("Password", exact=True).fill("not the password")
        submit_with_errors(page, "Sign in")
        check("sign-in (wrong password, 422)")

        # As the practitioner.
        sign_in(page, live_server)
        p = ids["patient"]
        check("patient list", "/patients/")
        check("patient list (search)", "/patients/?q=Marchetti")
        check("patient page", f"/patients/{p}")
        check("new patient form", "/patients/new")
        submit_with_errors(page, "Add patient")
        check("new patient form (errors, 422)")
        check("edit patient form", f"/patients/{p}/edit")
        check("new consultation form", f"/patients/{p}/consultations/new")
        submit_with_errors(page, "Save and screen")
        check("new consultation form (errors, 422)")
        check("consultation page", f"/consultations/{ids['consultation']}")
        check("edit consultation form", f"/consultations/{ids['consultation']}/edit")
        check("new plan form", f"/consultations/{ids['consultation']}/plans/new")
        submit_with_errors(page, "Save plan")
        check("new plan form (errors, 422)")
        check("plan page", f"/plans/{ids['plan']}")
        check("consent form", f"/consultations/{ids['consultation']}/consents/new")
        check("start session", f"/plans/{ids['plan']}/sessions/new")
        check("session form (draft)", f"/sessions/{ids['draft']}/edit")
        page.locator("#zones-0-depth_mm").fill("9")
        submit_with_errors(page, "Save draft")
        check("session form (errors, 422)")
        check("session page (draft)", f"/sessions/{ids['draft']}")
        check("session page (signed)", f"/sessions/{ids['signed']}")
        check("unsigned sessions", "/sessions/unsigned")
        check("lot recall", "/lots")
        check("lot recall (search)", "/lots?lot=HG-778")
        check("not found (404)", "/patients/00000000-0000-4000-8000-000000000000", status=404)
        check("forbidden (403)", "/admin/users", status=403)
        check("two-factor enrolment", "/account/two-factor")
        page.get_by_label("The 6-digit code your app now shows").fill("000000")
        submit_with_errors(page, "Turn on two-factor sign-in")
        check("two-factor enrolment (wrong code, 422)")
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.get_by_label("The 6-digit code your app now shows").fill(pyotp.TOTP(secret).now())
        page.get_by_role("button", name="Turn on two-factor sign-in").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        check("two-factor recovery codes")
        page.context.clear_cookies()
        page.goto(live_server("/sign-in"))
        page.get_by_label("Email", exact=True).fill(live_server.email)
        page.get_by_label("Password", exact=True).fill(live_server.password)
        page.get_by_role("button", name="Sign in").click()
        check("two-factor code entry")
        page.get_by_label("Code from your authenticator app").fill("000000")
        submit_with_errors(page, "Sign in")
        check("two-factor code entry (wrong code, 422)")

        # As the administrator.
        sign_in_as_admin(page, live_server)
        check("users", "/admin/users")
        check("new user form", "/admin/users/new")
        submit_with_errors(page, "Add user")
        check("new user form (errors, 422)")
        check("edit user form", f"/admin/users/{ids['user']}")
        check("clinic settings", "/admin/settings")
        check("screening policy", "/admin/policy")
        check("aftercare settings", "/admin/aftercare")
        check("audit trail", "/admin/audit")
        check("audit trail (by patient name)", "/admin/audit?patient=Marchetti")
        check("audit trail (from after to, 422)", "/admin/audit?date_from=2026-11-20&date_to=2026-11-02", status=422)
    finally:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"axe-{size}.json").write_text(json.dumps(
            {"counts": {name: len(found) for name, found in report.items()}, "violations": report}, indent=2))
        context.close()

    failures = [f"{name}: [{v['impact']}] {v['rule']} ({v['help']}): {target}"
                for name, found in report.items() for v in found for target in v["targets"]]
    assert not failures, f"axe-core found {len(failures)} problems at {size} size:\n" + "\n".join(failures)
    assert len(report) >= 30, sorted(report)


def test_axe_catches_low_contrast(browser, live_server: LiveServer) -> None:
    """The check itself works: text at 2:1 on the sign-in page is reported, with its element."""
    context = axe_context(browser, SIZES["desktop"])
    page = context.new_page()
    page.goto(live_server("/sign-in"))
    page.evaluate("() => { const p = document.createElement('p'); p.id = 'faint'; p.textContent = 'Faint words';"
                  " p.style.color = '#b0b0b0'; p.style.background = '#ffffff'; document.querySelector('main').append(p); }")
    found = axe_violations(page)
    context.close()
    assert any(v["rule"] == "color-contrast" and any(re.match(r"#faint\b", t) for t in v["targets"]) for v in found), found
