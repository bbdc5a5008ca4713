"""Consent as it happens in the treatment room: the patient ticks, types their name and signs on the screen."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from practitioner.auth.models import User
from practitioner.consents.content import load_consent_content
from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.extensions import db
from tests.browser.conftest import TABLET, LiveServer, shot, sign_in
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

CONFIRM = "I explained the treatment, its risks and alternatives, and answered the patient's questions"


def seed_consultation(server: LiveServer, decision: str = "proceed", modality: str = "microneedling") -> str:
    """A patient, Giulia Marchetti, with a consultation; returns the consent page's path."""
    with server.app.app_context():
        practitioner = db.session.scalars(select(User).where(User.email == server.email)).one()
        patient = make_patient(actor=practitioner, given_name="Giulia", family_name="Marchetti")
        consultation = Consultation(patient_id=patient.id, practitioner_id=practitioner.id, consultation_date=date.today(),
                                    modality=modality, decision=decision)
        db.session.add(consultation)
        db.session.commit()
        path = f"/consultations/{consultation.public_id}/consents/new"
        db.session.remove()
    return path


def tick_everything(page: Page, modality: str = "microneedling") -> None:
    """Tick every risk and declaration by its visible label, as the patient would."""
    content = load_consent_content(modality)
    for line in (*content.risks, *content.declarations):
        page.get_by_label(line, exact=True).check()


def draw_signature(page: Page) -> None:
    """A scribble across the signature box with the mouse: down, a few strokes, up."""
    canvas = page.locator("canvas[data-signature-pad]")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.7)
    page.mouse.down()
    for fx, fy in ((0.25, 0.3), (0.4, 0.75), (0.55, 0.35), (0.7, 0.7), (0.85, 0.4)):
        page.mouse.move(x + w * fx, y + h * fy, steps=8)
    page.mouse.up()


def fits_the_screen(page: Page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


@pytest.mark.parametrize("viewport", [TABLET], ids=["tablet-820x1180"])
def test_patient_signs_consent_on_a_tablet(page: Page, live_server: LiveServer) -> None:
    path = seed_consultation(live_server)
    sign_in(page, live_server)
    page.goto(live_server(path))
    expect(page.get_by_role("heading", level=1)).to_have_text("Consent to microneedling")
    fits_the_screen(page)
    shot(page, "consent-01-tablet-form")

    # Big targets: each tick is a whole row; the signature box is wide and tall.
    first_risk = page.locator(".consent-checks .field--check").first.bounding_box()
    canvas = page.locator("canvas[data-signature-pad]").bounding_box()
    assert first_risk is not None and first_risk["height"] >= 48
    assert canvas is not None and canvas["width"] >= 600 and canvas["height"] >= 200

    tick_everything(page)
    page.get_by_label(load_consent_content("microneedling").photo_clinical, exact=True).check()
    page.get_by_label("Patient: type your full name").fill("giulia marchetti")
    draw_signature(page)
    page.get_by_label(CONFIRM).check()
    page.locator("canvas[data-signature-pad]").scroll_into_view_if_needed()
    shot(page, "consent-02-tablet-signed-before-submit")
    page.get_by_role("button", name="Sign consent").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Signed consent")
    expect(page.get_by_role("status")).to_contain_text("Consent signed by Giulia Marchetti")
    expect(page.get_by_text("This consent cannot be edited.")).to_be_visible()
    signature = page.get_by_role("img", name="Signature drawn by giulia marchetti")
    expect(signature).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('.consent-signature img'); return i && i.complete; }")
    assert signature.evaluate("img => img.naturalWidth") > 0
    fits_the_screen(page)
    shot(page, "consent-03-tablet-signed-consent")

    # The consultation page lists the signed consent.
    page.get_by_role("link", name="Back to the consultation").click()
    consents = page.locator("section", has=page.get_by_role("heading", name="Consent", exact=True))
    expect(consents.get_by_role("link", name=re.compile(r"^Signed "))).to_have_count(1)
    expect(consents.get_by_role("link", name="Sign consent")).to_be_visible()
    consents.scroll_into_view_if_needed()
    shot(page, "consent-07-tablet-consultation-page")

    with live_server.app.app_context():
        consent = db.session.scalars(select(Consent)).one()
        assert consent.patient_typed_name == "giulia marchetti"
        assert (consent.photo_clinical, consent.photo_marketing) == (True, False)
        assert consent.signature_png.startswith(b"\x89PNG")
        db.session.remove()


def test_submitting_without_drawing_asks_for_a_signature_and_keeps_the_name(page: Page, live_server: LiveServer) -> None:
    path = seed_consultation(live_server)
    sign_in(page, live_server)
    page.goto(live_server(path))
    tick_everything(page)
    page.get_by_label("Patient: type your full name").fill("Giulia Marchetti")
    page.get_by_label(CONFIRM).check()
    page.get_by_role("button", name="Sign consent").click()

    expect(page.locator(".error-summary")).to_contain_text("Ask the patient to sign in the box.")
    expect(page.locator("#signature .error")).to_have_text(re.compile(r"Ask the patient to sign in the box\."))
    expect(page.get_by_label("Patient: type your full name")).to_have_value("Giulia Marchetti")
    expect(page.get_by_label(load_consent_content("microneedling").risks[0], exact=True)).to_be_checked()
    shot(page, "consent-04-no-signature")

    # Drawing, then clearing, is the same as not drawing.
    draw_signature(page)
    page.get_by_role("button", name="Clear signature").click()
    page.get_by_role("button", name="Sign consent").click()
    expect(page.locator("#signature .error")).to_have_text(re.compile(r"Ask the patient to sign in the box\."))

    with live_server.app.app_context():
        assert db.session.scalars(select(Consent)).first() is None
        db.session.remove()


def test_a_mistyped_name_keeps_the_drawing_so_the_patient_need_not_sign_again(page: Page, live_server: LiveServer) -> None:
    path = seed_consultation(live_server, decision="proceed_with_caution", modality="rf_microneedling")
    sign_in(page, live_server)
    page.goto(live_server(path))
    tick_everything(page, "rf_microneedling")
    page.get_by_label("Patient: type your full name").fill("Giulia Marchet")
    draw_signature(page)
    page.get_by_label(CONFIRM).check()
    page.get_by_role("button", name="Sign consent").click()

    name = page.get_by_label("Patient: type your full name")
    expect(page.locator(".error-summary")).to_contain_text("does not match the patient's record (Giulia Marchetti)")
    expect(name).to_have_value("Giulia Marchet")
    # The drawing is back on the canvas: some dark pixels once the image has been painted.
    page.wait_for_function("""() => {
        const c = document.querySelector('canvas[data-signature-pad]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) { if (d[i] < 128) return true; }
        return false;
    }""")
    shot(page, "consent-05-name-mismatch")
    name.fill("Giulia Marchetti")
    page.get_by_role("button", name="Sign consent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Signed consent")


def test_consent_is_refused_when_screening_does_not_allow_treatment(page: Page, live_server: LiveServer) -> None:
    path = seed_consultation(live_server, decision="defer")
    sign_in(page, live_server)
    response = page.goto(live_server(path))
    assert response is not None and response.status == 409
    expect(page.get_by_role("alert")).to_contain_text("Consent cannot be signed")
    expect(page.locator("canvas")).to_have_count(0)
    shot(page, "consent-06-refused")
