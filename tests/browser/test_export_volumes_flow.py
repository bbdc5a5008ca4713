"""The patient record export in record-wide volumes, in the browser: the patient's Documents box offers each volume by
its label, issuing volume 2 returns to the patient's page, which says it is being prepared and then shows it issued
by itself (the job's state read for every volume at once), at the tablet's size and at 1280x800."""

from __future__ import annotations

from datetime import date, timedelta

from playwright.sync_api import Page, expect

from practitioner.auth.models import User
from practitioner.documents import jobs
from practitioner.documents.kinds import patient_export
from practitioner.extensions import db
from tests.browser.conftest import LiveServer, shot_both_sizes, sign_in
from tests.conftest import make_patient
from tests.factories import make_consent, make_consultation

def test_issuing_a_record_wide_volume_from_the_patients_page(page: Page, live_server: LiveServer, monkeypatch) -> None:
    # Each consultation with its consent weighs 1,000, a volume 3,000: four consultations make two record-wide volumes.
    costs = {key: 0 for key in patient_export.COST_MS}
    costs.update(consultation=1000, document=1000)
    monkeypatch.setattr(patient_export, "COST_MS", costs)
    monkeypatch.setattr(patient_export, "PER_BYTE_MS", 0)
    monkeypatch.setattr(patient_export, "VOLUME_BUDGET_MS", 3000)
    with live_server.app.app_context():
        from practitioner.admin.services import get_settings

        get_settings(db.session).phone = "0117 496 0123"
        author = db.session.scalars(db.select(User)).first()
        patient = make_patient(actor=author, given_name="Ines", family_name="Volumes")
        for number in range(4):
            make_consent(make_consultation(patient, author, consultation_date=date(2024, 3, 4) + timedelta(days=60 * number)), author)
        db.session.commit()
        url = f"/patients/{patient.public_id}"
        db.session.remove()
    live_server.app.config["DOCUMENT_JOBS"] = "background"
    try:
        sign_in(page, live_server)
        page.goto(live_server(url))
        first = page.get_by_role("link", name="Preview patient record export, volume 1 of 2 (details, consultations, consents, part 1 of 2)")
        second = page.get_by_role("link", name="Preview patient record export, volume 2 of 2 (consultations, consents, part 2 of 2)")
        expect(first).to_be_visible()
        expect(second).to_be_visible()
        shot_both_sizes(page, "export-volumes-offered")
        page.get_by_role("button", name="Issue volume 2 of 2 to the patient").click()
        expect(page.locator(".doc-job").first).to_be_visible()
        expect(page.locator(".doc-job--done")).to_contain_text("volume 2 of 2", timeout=60_000)
        expect(page.get_by_role("link", name="Your patient record, volume 2 of 2").first).to_be_visible()
        shot_both_sizes(page, "export-volume-2-issued")
    finally:
        jobs.stop_runner(live_server.app)
