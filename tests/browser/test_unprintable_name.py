"""A name the documents cannot print: asking for a document says which field holds which character, on the same page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from practitioner.admin.services import get_settings
from practitioner.extensions import db
from tests.browser.conftest import TABLET, shot, sign_in
from tests.conftest import make_patient

REFUSAL = re.compile(r"The patient's (family )?name contains 𓀀 \(U\+13000\), which the documents cannot print")


def test_an_unprintable_name_is_refused_on_the_patient_page(page, live_server):
    with live_server.app.app_context():
        get_settings(db.session).phone = "0117 496 0123"  # patient documents need the clinic's phone
        db.session.commit()
        patient = make_patient(given_name="Anna", family_name="𓀀 Smith")
        patient_url = live_server(f"/patients/{patient.public_id}")
        db.session.remove()
    sign_in(page, live_server)
    for size, name in ((None, "unprintable-name-desktop"), (TABLET, "unprintable-name-tablet")):
        if size:
            page.set_viewport_size(size)
        page.goto(patient_url)
        page.get_by_role("button", name=re.compile("patient record export", re.I)).click()
        expect(page).to_have_url(re.compile(re.escape(patient_url) + "(#.*)?$"))  # back on the same page
        expect(page.get_by_role("alert").filter(has_text=REFUSAL)).to_be_visible()
        shot(page, name)
