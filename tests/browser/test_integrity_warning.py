"""A signed session rewritten outside Practitioner shows the red integrity warning, never "Signed and locked"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from practitioner.auth.models import User
from practitioner.extensions import db
from practitioner.treatments import services as treatments
from tests.browser.conftest import shot, sign_in
from tests.conftest import make_patient
from tests.factories import signed_session, treatable_plan
from tests.test_integrity import _drop_all_triggers, _replace

COPIES = Path("/tmp/S2")


@pytest.mark.parametrize("size", [(1280, 800), (820, 1180)], ids=["desktop", "tablet"])
def test_a_forged_session_shows_the_integrity_warning(live_server, page, size):
    with live_server.app.app_context():
        author = db.session.scalars(db.select(User).where(User.email == live_server.email)).one()
        patient = make_patient(actor=author, given_name="Ana", family_name="Silva")
        record = signed_session(treatable_plan(patient, author), author)
        public_id, record_id = record.public_id, record.id
        record.clinical_note = "Forged: patient declined aftercare."
        forged = treatments.record_hash(record)
        _drop_all_triggers()
        _replace("treatment_sessions", record_id, clinical_note="Forged: patient declined aftercare.", content_sha256=forged)
        assert db.session.scalar(text("SELECT clinical_note FROM treatment_sessions WHERE id = :i"), {"i": record_id}).startswith("Forged")
        db.session.remove()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, live_server)
    page.goto(live_server(f"/sessions/{public_id}"))
    warning = page.get_by_role("alert").filter(has_text="This record does not match what was signed on")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Tell the clinic's administrator.")
    expect(page.get_by_text("Signed and locked", exact=True)).to_have_count(0)
    expect(page.get_by_text("Altered since signing", exact=True)).to_be_visible()
    if COPIES.is_dir():
        page.screenshot(path=str(COPIES / f"integrity-warning-first-screen-{size[0]}x{size[1]}.png"))
    path = shot(page, f"integrity-warning-{size[0]}x{size[1]}")
    if COPIES.is_dir():
        shutil.copy(path, COPIES / path.name)
