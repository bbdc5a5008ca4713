"""Photos on a tablet (820x1180): a session's protocol views taken through the file chooser, by their labels, the set
complete, then baseline and latest side by side; the capture page refused for consent. Screenshots at 820x1180 and 1280x800."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from practitioner.extensions import db
from practitioner.auth.models import User
from tests.browser.conftest import TABLET, LiveServer, shot_both_sizes, sign_in
from tests.conftest import make_patient
from tests.factories import make_consultation
from tests.photos.visits import photo_bytes, sign_form



@pytest.fixture
def viewport() -> dict[str, int]:
    """A tablet in a treatment room."""
    return dict(TABLET)



def _camera_file(folder: Path, name: str, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (1200, 900), (226, 224, 220))
    ImageDraw.Draw(image).ellipse((380, 120, 820, 820), fill=colour)
    path = folder / f"{name}.jpg"
    image.save(path, "JPEG", quality=85)
    return path


def _seed(server: LiveServer, *, consent: bool = True) -> dict[str, str]:
    """A patient with a consultation (cheeks), a consent form, baseline photos and a draft session of a plan."""
    from practitioner.photos.services import store_photo
    from practitioner.treatments.models import SessionZone, TreatmentSession
    from tests.factories import make_plan

    with server.app.app_context():
        author = db.session.scalars(db.select(User)).first()
        patient = make_patient(actor=author, given_name="Robin", family_name="Ashdown")
        consultation = make_consultation(patient, author)
        ids = {"patient": str(patient.public_id), "consultation": str(consultation.public_id)}
        if consent:
            form = sign_form(consultation, author, clinical=True, marketing=False)
            for view in ("frontal", "oblique_left", "oblique_right"):
                store_photo(db.session, patient=patient, visit=consultation, view=view, zone=None, moment="baseline", consent=form,
                            checks={"makeup_removed": True}, data=photo_bytes((170, 120, 100), (900, 675)), actor=author)
            plan = make_plan(consultation)
            record = TreatmentSession(patient_id=patient.id, plan_id=plan.id, sequence=1, practitioner_id=author.id,
                                      session_date=date.today(), consent_id=form.id, photo_consent=True)
            record.zones = [SessionZone(position=0, zone="cheeks", depth_mm=Decimal("1.0"), passes=2, technique="glide")]
            db.session.add(record)
            db.session.commit()
            ids["session"] = str(record.public_id)
        db.session.remove()
    return ids


def test_session_photos_through_the_file_chooser_then_compare(page: Page, live_server: LiveServer, tmp_path: Path):
    ids = _seed(live_server)
    sign_in(page, live_server)
    page.goto(live_server(f"/sessions/{ids['session']}"))
    photos = page.get_by_role("region", name="Photos")
    expect(photos).to_contain_text("0 of 3 views: Front, Left oblique (45°), Right oblique (45°) missing")
    photos.get_by_role("link", name=re.compile(r"^Take photos\W+before treatment")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Photos: Session 1, before treatment")
    shot_both_sizes(page, "photo-capture-empty")

    # One view first, with the checklist ticked.
    page.get_by_label("Front", exact=True).set_input_files(_camera_file(tmp_path, "front", (200, 150, 130)))
    expect(page.get_by_role("img", name="Chosen for Front")).to_be_visible()  # the preview (progressive enhancement)
    for check in ("Make-up removed", "Jewellery and glasses off", "Hair back from the face", "Same background as before",
                  "Same lighting as before"):
        page.get_by_label(check).check()
    page.get_by_role("button", name="Save photos").click()
    expect(page.get_by_role("status")).to_contain_text("1 photo saved: Front.")
    expect(page.get_by_role("heading", level=2, name=re.compile("1 of 3 views"))).to_have_text(
        "1 of 3 views: Left oblique (45°), Right oblique (45°) missing")
    expect(page.get_by_label("Front", exact=True)).to_have_count(0)  # only the views still missing are asked for
    shot_both_sizes(page, "photo-capture-partly-done")

    # The rest of the protocol, each input found by its label.
    page.get_by_label("Left oblique (45°)", exact=True).set_input_files(_camera_file(tmp_path, "left", (195, 145, 125)))
    page.get_by_label("Right oblique (45°)", exact=True).set_input_files(_camera_file(tmp_path, "right", (190, 140, 120)))
    page.get_by_role("button", name="Save photos").click()
    expect(page.get_by_role("heading", level=2, name=re.compile("3 of 3 views"))).to_have_text("3 of 3 views: complete")
    expect(page.get_by_role("img", name=re.compile("^Right oblique"))).to_be_visible()
    shot_both_sizes(page, "photo-capture-complete")

    page.goto(live_server(f"/sessions/{ids['session']}"))
    expect(page.get_by_role("region", name="Photos")).to_contain_text("3 of 3 views: complete")

    # Baseline and latest, side by side (the comparison page).
    page.goto(live_server(f"/patients/{ids['patient']}/photos/compare?view=frontal"))
    images = page.locator("main img")
    expect(images).to_have_count(2)
    shot_both_sizes(page, "photo-compare-after-capture")


def test_capture_refused_without_consent(page: Page, live_server: LiveServer):
    ids = _seed(live_server, consent=False)
    sign_in(page, live_server)
    page.goto(live_server(f"/consultations/{ids['consultation']}/photos"))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("No consent to clinical photography")
    expect(alert.get_by_role("link", name="Open the consent form")).to_have_attribute(
        "href", f"/consultations/{ids['consultation']}/consents/new")
    expect(page.locator("input[type=file]")).to_have_count(0)
    shot_both_sizes(page, "photo-capture-refused-consent")
