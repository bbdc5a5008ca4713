"""The progress sheet: a plan's progress and its before-and-after photo pairs, consented photos only, PDF/A-3u."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from practitioner.documents import services
from practitioner.documents.kinds import NotReady, get
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from practitioner.photos.progress import reduce
from tests.conftest import make_patient, post_form
from tests.photos.factories import course_with_photos, make_photo, jpeg, make_session, photo_consent

VIEWS6 = ("frontal", "oblique_left", "oblique_right", "lateral_left", "lateral_right")


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _images(pdf: bytes) -> set[bytes]:
    """The distinct images drawn in the PDF (WeasyPrint lists every image in each page's resources)."""
    return {image.data for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images}


@pytest.fixture
def course(app, practitioner):
    patient = make_patient(practitioner, given_name="Mei", family_name="Chen")
    made = course_with_photos(patient, practitioner, sessions=3, planned=6, views=VIEWS6, size=(900, 1200))
    make_photo(patient.id, made["consent"], practitioner, view="close_up", zone="cheeks", moment="baseline",
               consultation=made["consultation"], size=(900, 1200))
    return patient, made


def _issue(client, plan) -> IssuedDocument:
    response = post_form(client, f"/documents/progress-sheet/{plan.public_id}/issue", {}, page=f"/plans/{plan.public_id}")
    assert response.status_code == 303, response.get_data(as_text=True)
    return db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind("progress-sheet"))).all()[-1]


def test_the_sheet_holds_the_progress_the_dates_the_views_and_the_images(as_practitioner, course):
    patient, made = course
    issued = _issue(as_practitioner, made["plan"])
    body = as_practitioner.get(f"/issued/{issued.public_id}.pdf").data
    text = _text(body)
    assert "Mei Chen" in text and "3 of 6 sessions done" in text
    for day in ("Tuesday 3 March 2026", "Tuesday 31 March 2026", "Tuesday 26 May 2026"):
        assert day in text
    for view in ("Front", "Left oblique (45°)", "Right oblique (45°)", "Left side (90°)", "Right side (90°)"):
        assert view in text
    assert "Session 3 of 6" in text and "Consultation" in text
    assert issued.number.startswith("PS-")
    assert len(_images(body)) == 10  # five pairs (the close-up has one photo only)


def test_six_pairs_at_most_and_embedded_reduced(app, course, practitioner):
    patient, made = course
    # A later close-up makes a sixth pair; a seventh view would be left out.
    record = make_session(made["plan"], practitioner, sequence=4, session_date=date(2026, 6, 23), consent=made["consent"])
    make_photo(patient.id, made["consent"], practitioner, view="close_up", zone="cheeks", moment="before", session=record, size=(900, 1200))
    spec = services.build(db.session, DocumentKind("progress-sheet"), made["plan"].public_id, date(2026, 6, 1))
    assert len(spec.context["pairs"]) == 6
    assert spec.context["pairs"][-1]["title"] == "Close-up: Cheeks"
    first = spec.context["pairs"][0]
    assert first["before"]["alt"] == "Front view, 3 March 2026, at the consultation, before treatment began"
    assert first["before"]["src"].startswith("data:image/jpeg;base64,")
    # A stored image larger than the page needs is reduced to 1000 px on its long side; a smaller one is kept as it is.
    assert Image.open(io.BytesIO(reduce(jpeg(2560, 1920)))).size == (1000, 750)
    assert Image.open(io.BytesIO(reduce(jpeg(900, 1200)))).size == (750, 1000)
    assert Image.open(io.BytesIO(reduce(jpeg(640, 480)))).size == (640, 480)


def test_only_photos_taken_with_clinical_photography_consent(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=2, views=("frontal",), photo_clinical=False)
    with pytest.raises(NotReady):
        get("progress-sheet").spec(db.session, made["plan"].public_id)
    # A consent that agrees, signed later: the photos taken under it count, the earlier ones still do not.
    consent = photo_consent(made["consultation"], practitioner, clinical=True)
    record = make_session(made["plan"], practitioner, sequence=3, session_date=date(2026, 6, 23), consent=consent)
    first = make_photo(patient.id, consent, practitioner, view="frontal", moment="before", session=record)
    with pytest.raises(NotReady):  # one consented photo is not a pair
        get("progress-sheet").spec(db.session, made["plan"].public_id)
    later = make_photo(patient.id, consent, practitioner, view="frontal", moment="immediately_after", session=record)
    spec = get("progress-sheet").spec(db.session, made["plan"].public_id)
    shown = {side["sha256"] for pair in spec.context["pairs"] for side in (pair["before"], pair["after"])}
    assert shown == {first.sha256, later.sha256}
    assert not shown & {p.sha256 for p in made["photos"]}


def test_not_ready_is_said_on_the_page_not_a_500(as_practitioner, app, practitioner):
    patient = make_patient(practitioner)
    made = course_with_photos(patient, practitioner, sessions=0, views=("frontal",))
    response = post_form(as_practitioner, f"/documents/progress-sheet/{made['plan'].public_id}/issue", {}, page=f"/plans/{made['plan'].public_id}")
    assert response.status_code == 303
    page = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert "A progress sheet needs two photos of the same view" in page
    assert as_practitioner.get(f"/documents/progress-sheet/{made['plan'].public_id}.pdf").status_code == 303


def test_large_print(as_practitioner, course):
    patient, made = course
    response = post_form(as_practitioner, f"/documents/progress-sheet/{made['plan'].public_id}/issue", {"large_print": "1"},
                         page=f"/plans/{made['plan'].public_id}")
    assert response.status_code == 303
    issued = db.session.scalars(select(IssuedDocument).where(IssuedDocument.large_print.is_(True))).one()
    body = as_practitioner.get(f"/issued/{issued.public_id}.pdf").data
    assert "3 of 6 sessions done" in _text(body) and len(_images(body)) == 10


# -- the patient record export -------------------------------------------------------------------


def test_the_export_includes_each_photo_with_its_hash(as_practitioner, app, practitioner):
    patient = make_patient(practitioner, given_name="Mei", family_name="Chen")
    made = course_with_photos(patient, practitioner, sessions=1, views=("frontal", "oblique_left"), size=(900, 1200))
    page = f"/patients/{patient.public_id}"
    assert post_form(as_practitioner, f"/documents/patient-export/{patient.public_id}/issue", {}, page=page).status_code == 303
    issued = db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind("patient-export"))).one()
    data = json.loads(as_practitioner.get(f"/issued/{issued.public_id}.json").data)
    photos = data["photos"]
    assert [p["image"]["sha256"] for p in photos] == [p.sha256 for p in made["photos"]]
    first = photos[0]
    assert first["view"] == {"code": "frontal", "label": "Front"} and first["moment"]["code"] == "baseline"
    assert first["visit"] == {"kind": "consultation", "label": "Consultation", "date": "2026-03-03",
                              "public_id": str(made["consultation"].public_id)}
    assert photos[-1]["visit"]["label"] == "Session 1 of 6" and photos[-1]["parameters"]["device"] == "Crown Aesthetics SkinPen Precision"
    assert photos[-1]["consent"] == {"public_id": str(made["consent"].public_id), "clinical_photography": True}
    assert "base64" not in as_practitioner.get(f"/issued/{issued.public_id}.json").get_data(as_text=True)
    body = as_practitioner.get(f"/issued/{issued.public_id}.pdf").data
    text = _text(body)
    joined = text.replace("\n", "")  # a hash wraps in its narrow column
    for photo in made["photos"]:
        assert photo.sha256 in joined
    words = " ".join(text.split())
    assert "Front · Baseline (consultation)" in words and "Left oblique (45°) · Before treatment" in words
    assert "Tuesday 31 March 2026 · Session 1 of 6" in words
    assert len(_images(body)) == 4
    assert all(max(image.image.size) <= 480 for page in PdfReader(io.BytesIO(body)).pages for image in page.images)
