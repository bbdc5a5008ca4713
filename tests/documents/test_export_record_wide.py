"""The patient record export's record-wide part in volumes (issue 13, "No waiting": every document of the largest legal
record under 10 s).

Nothing caps a patient's consultations, consents, signed intakes, review visits outside a plan or documents issued, so
the record-wide part is cut into volumes in date order, each packed to a render budget by a cost model
(practitioner/documents/kinds/patient_export.py: COST_MS, VOLUME_BUDGET_MS): volume 1 the details and the first part,
then the later parts (each made from the public id of its first record), then one volume per plan. A record whose whole
estimate fits the budget stays one export. Most tests here set a simple model (each record-wide record 1,000, a part
3,000: three a part) so the cut is known exactly; two use the measured model on records at every limit.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from datetime import date, datetime, time, timedelta, timezone

import pikepdf
import pytest
from sqlalchemy import select

from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation, ScreeningOverride
from practitioner.dates import long_date
from practitioner.documents import services
from practitioner.documents.kinds import patient_export
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from practitioner.intake.models import PatientIntake
from tests.conftest import csrf_token, make_patient, post_form, sign_in
from tests.documents.test_export_volumes import preview_and_issue
from tests.factories import make_consent, make_consultation, seal_document, signed_session, treatable_plan
from tests.intake.factories import make_intake

EXPORT = DocumentKind("patient-export")
START = date(2024, 3, 4)
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
          "december")


@pytest.fixture
def three_a_part(monkeypatch):
    """The simple model: every record-wide record (a consultation with its consents, an intake, a review visit, a
    document issued) weighs 1,000, a session 500, a part holds 3,000; details, photographs and text weigh nothing."""
    costs = {key: 0 for key in patient_export.COST_MS}
    costs.update(consultation=1000, intake=1000, review=1000, document=1000, session=500)
    monkeypatch.setattr(patient_export, "COST_MS", costs)
    monkeypatch.setattr(patient_export, "PER_BYTE_MS", 0)
    monkeypatch.setattr(patient_export, "PER_INTAKE_BYTE_MS", 0)
    monkeypatch.setattr(patient_export, "VOLUME_BUDGET_MS", 3000)


def _consultations(patient, author, count: int, start: date = START) -> list[Consultation]:
    """`count` consultations a month apart from `start`, each with a signed (sealed) consent."""
    made = []
    for number in range(count):
        consultation = make_consultation(patient, author, consultation_date=start + timedelta(days=30 * number))
        make_consent(consultation, author)
        made.append(consultation)
    return made


def _issued_row(patient, author, when: datetime, number: int) -> IssuedDocument:
    """A document issued to the patient at `when`, added as issuing adds one (bytes, hash, sealing audit row)."""
    pdf = b"%PDF-1.7 test " + str(number).encode()
    issued = seal_document(IssuedDocument(
        patient_id=patient.id, kind=DocumentKind("aftercare"), source_id=f"test-source-{number}", version=1,
        number=f"AC-TEST-{number}", title="Aftercare for your microneedling session", filename="aftercare.pdf",
        content_version="test", large_print=False, pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest(),
        issued_by_id=author.id, issued_at=when))
    db.session.commit()
    return issued


@pytest.fixture
def parts(app, practitioner, reception, three_a_part):
    """A patient whose record-wide part is cut in four: 6 consultations with consents (one with baseline photographs,
    its plan's course photographed, with a review visit of the plan), 3 signed intakes, a review visit outside a plan
    with a photograph, 2 documents issued; and the plan of 2 sessions (its own volume)."""
    from tests.photos.factories import course_with_photos, make_photo, make_review

    patient = make_patient(actor=practitioner, given_name="Rhea", family_name="Record")
    course = course_with_photos(patient, practitioner, sessions=2, planned=4, views=("frontal",), review=True,
                                start=START - timedelta(days=10))
    consultations = _consultations(patient, practitioner, 5)
    review = make_review(patient.id, practitioner, visit_date=START + timedelta(days=45))
    review_photo = make_photo(patient.id, course["consent"], practitioner, review=review, moment="review",
                              captured_at=datetime.combine(review.visit_date, time(11, 0)))
    for _ in range(3):
        make_intake(patient, reception, submitted=True)
    documents = [_issued_row(patient, practitioner, datetime.combine(START + timedelta(days=days), time(9), tzinfo=timezone.utc), n)
                 for n, days in enumerate((20, 100))]
    db.session.expire_all()
    return {"patient": patient, "course": course, "consultations": [course["consultation"], *consultations],
            "review": review, "review_photo": review_photo, "documents": documents}


def _spec(source_id):
    spec = services.build(db.session, EXPORT, source_id, date.today())
    db.session.rollback()
    return spec


def _data(volume, patient) -> dict:
    return json.loads(_spec(volume.source_id or patient.public_id).json_data)


def _volumes(patient) -> list[patient_export.Volume]:
    db.session.expire_all()
    return patient_export.volumes(db.session, patient)


def test_three_records_stay_one_export_and_a_fourth_makes_a_second_part(app, practitioner, three_a_part):
    patient = make_patient(actor=practitioner)
    first = _consultations(patient, practitioner, 3)
    assert _volumes(patient) == [], "three records weigh the budget: one export"
    assert _spec(patient.public_id).title == "Your patient record"
    fourth = _consultations(patient, practitioner, 1, start=START + timedelta(days=400))[0]
    one, two = _volumes(patient)
    assert [(v.number, v.of, v.part, v.parts, v.plan_id) for v in (one, two)] == [(1, 2, 1, 2, None), (2, 2, 2, 2, None)]
    assert one.source_id is None and two.source_id == fourth.public_id, "volume 1 the patient's; a later part its first record's"
    assert one.holds == {str(c.public_id) for c in first} and two.holds == {str(fourth.public_id)}


def test_the_cut_counts_intakes_as_records_too(app, practitioner, reception, three_a_part):
    patient = make_patient(actor=practitioner)
    for _ in range(3):
        make_intake(patient, reception, submitted=True)
    assert _volumes(patient) == []
    fourth = make_intake(patient, reception, submitted=True)
    one, two = _volumes(patient)
    assert two.source_id == fourth.public_id and two.holds == {str(fourth.public_id)} and len(one.holds) == 3
    data = _data(two, patient)
    assert [i["public_id"] for i in data["intakes"]] == [str(fourth.public_id)] and data["consultations"] == []


def test_a_plan_and_record_wide_records_past_the_budget_come_in_volumes(app, practitioner, three_a_part):
    """A record of one plan used to stay one export whatever it held: now its whole weight decides."""
    patient = make_patient(actor=practitioner)
    plan = treatable_plan(patient, practitioner)  # its consultation: 1,000
    signed_session(plan, practitioner)
    signed_session(plan, practitioner, sequence=2)  # two sessions: 1,000
    _consultations(patient, practitioner, 1)  # 3,000 in all: one export
    assert _volumes(patient) == []
    _consultations(patient, practitioner, 1, start=START + timedelta(days=90))
    one, two = _volumes(patient)
    assert (one.number, one.of, one.plan_id, len(one.holds)) == (1, 2, None, 3)
    assert (two.number, two.plan_id, two.label) == (2, plan.public_id, "Patient record export, volume 2 of 2 (treatment plan 1 of 1)")
    assert len(_data(two, patient)["sessions"]) == 2 and _data(one, patient)["sessions"] == []


def test_every_record_is_in_exactly_one_volume_in_date_order(parts):
    patient = parts["patient"]
    every = _volumes(patient)
    assert [(v.number, v.part, v.parts, v.plan_id is None) for v in every] == [
        (1, 1, 4, True), (2, 2, 4, True), (3, 3, 4, True), (4, 4, 4, True), (5, 1, 4, False)]
    found: dict[str, list[str]] = {key: [] for key in ("consultations", "consents", "intakes", "photos", "issued_documents")}
    days = []
    for volume in every:
        data = _data(volume, patient)
        assert data["patient"]["public_id"] == str(patient.public_id), "the patient's details are in every volume's JSON"
        assert data["volume"]["number"] == volume.number and data["volume"]["holds"] == list(volume.contents)
        for key in found:
            found[key] += [item["public_id"] for item in data[key]]
        if volume.plan_id is None:
            days.append(sorted([date.fromisoformat(c["date"]) for c in data["consultations"]]
                               + [date.fromisoformat(i["submitted_at"][:10]) for i in data["intakes"]]
                               + [date.fromisoformat(d["issued_at"][:10]) for d in data["issued_documents"]]
                               + [date.fromisoformat(str(ph["visit"]["date"])[:10]) for ph in data["photos"]]))
    expected = {
        "consultations": {str(c.public_id) for c in parts["consultations"]},
        "consents": {str(c.public_id) for c in db.session.scalars(select(Consent).where(Consent.patient_id == patient.id))},
        "intakes": {str(i.public_id) for i in db.session.scalars(select(PatientIntake).where(PatientIntake.patient_id == patient.id))},
        "photos": {str(ph.public_id) for ph in parts["course"]["photos"]} | {str(parts["review_photo"].public_id)},
        "issued_documents": {str(d.public_id) for d in parts["documents"]},
    }
    for key, ids in found.items():
        assert sorted(ids) == sorted(expected[key]), f"every {key} once, none lost"
    for earlier, later in zip(days, days[1:]):
        assert max(earlier) <= min(later, default=max(earlier)), "the parts follow each other in date order"


def test_labels_say_the_part_and_no_month_and_covers_say_the_dates(parts):
    every = _volumes(parts["patient"])
    assert [v.label for v in every] == [
        "Patient record export, volume 1 of 5 (details, consultations, consents, part 1 of 4)",
        "Patient record export, volume 2 of 5 (consultations, consents, part 2 of 4)",
        "Patient record export, volume 3 of 5 (consultations, consents, part 3 of 4)",
        "Patient record export, volume 4 of 5 (consultations, consents, part 4 of 4)",
        "Patient record export, volume 5 of 5 (treatment plan 1 of 1)"]
    assert not any(month in v.label.lower() for v in every for month in MONTHS)
    assert every[0].covers.startswith("your details, and your consultations") and "(part 1 of 4)" in every[0].covers
    assert re.search(r"dated \d+ \w+ 2024 to \d+ \w+ 2024 \(part 2 of 4\)$", every[1].covers), every[1].covers


def test_the_patients_page_offers_each_part_and_issuing_part_two_returns_there(as_practitioner, parts):
    patient = parts["patient"]
    every = _volumes(patient)
    two = every[1].source_id
    page = f"/patients/{patient.public_id}"
    html = as_practitioner.get(page).get_data(as_text=True)
    for volume in every:
        assert f"Preview {volume.label[0].lower()}{volume.label[1:]}" in html
        assert f'action="/documents/patient-export/{volume.source_id or patient.public_id}/issue"' in html
    assert "Issue volume 2 of 5 to the patient" in html and "Issue patient record export to the patient" not in html
    issued = preview_and_issue(as_practitioner, two, page)
    assert (issued.kind, issued.title, issued.patient_id, issued.version) == (EXPORT, "Your patient record, volume 2 of 5", patient.id, 1)
    listed = as_practitioner.get(page).get_data(as_text=True)
    assert "Your patient record, volume 2 of 5" in listed and issued.number in listed
    # The issued copy is a document dated today, the last of the record: the last part being full, it starts a part of
    # its own (made from its id); the cuts before it stay, so every volume keeps its id and versions.
    after = _volumes(patient)
    assert [v.source_id for v in after[:4]] == [v.source_id for v in every[:4]] and after[5].plan_id == every[4].plan_id
    assert (after[4].part, after[4].holds, after[4].source_id) == (5, {str(issued.public_id)}, issued.public_id)


def test_an_id_that_starts_no_volume_is_refused_with_what_to_do(as_practitioner, parts):
    patient = parts["patient"]
    inside = sorted(_volumes(patient)[1].holds - {str(_volumes(patient)[1].source_id)})[0]
    response = as_practitioner.get(f"/documents/patient-export/{inside}.pdf")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/patients/{patient.public_id}#docs-title-{patient.public_id}")
    shown = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert "is not one of the volumes this patient" in shown and "offers each volume" in shown
    response = post_form(as_practitioner, f"/documents/patient-export/{inside}/issue", {}, page=f"/patients/{patient.public_id}")
    assert response.status_code == 303
    assert db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == EXPORT)).all() == []
    assert as_practitioner.get("/documents/patient-export/00000000-0000-4000-8000-000000000000.pdf").status_code == 404


def test_a_consultation_of_a_record_that_fits_one_export_is_refused(app, practitioner, as_practitioner):
    patient = make_patient(actor=practitioner)
    consultation = _consultations(patient, practitioner, 1)[0]
    response = as_practitioner.get(f"/documents/patient-export/{consultation.public_id}.pdf")
    assert response.status_code == 303
    assert "fits one export" in as_practitioner.get(response.headers["Location"]).get_data(as_text=True)


def test_the_patients_id_keeps_working_as_volume_one_and_keeps_its_versions(app, practitioner, as_practitioner, three_a_part):
    patient = make_patient(actor=practitioner, given_name="Otto", family_name="Oldlink")
    _consultations(patient, practitioner, 2)
    page = f"/patients/{patient.public_id}"
    assert post_form(as_practitioner, f"/documents/patient-export/{patient.public_id}/issue", {}, page=page).status_code == 303
    first = db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == EXPORT)).one()
    assert (first.title, first.version) == ("Your patient record", 1)
    first_source = first.source_id
    _consultations(patient, practitioner, 2, start=START + timedelta(days=400))  # now 2 + 2 + the export issued: in parts
    assert len(_volumes(patient)) == 2
    old = as_practitioner.get(f"/documents/patient-export/{patient.public_id}.pdf")
    assert old.status_code == 200 and old.mimetype == "application/pdf"
    assert post_form(as_practitioner, f"/documents/patient-export/{patient.public_id}/issue", {}, page=page).status_code == 303
    second = db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == EXPORT, IssuedDocument.version == 2)).one()
    assert second.source_id == first_source == str(patient.public_id) and second.title == "Your patient record, volume 1 of 2"


def test_an_earlier_record_added_later_moves_the_cut_and_nothing_is_lost(parts, practitioner):
    patient = parts["patient"]
    before = _volumes(patient)
    earliest = _consultations(patient, practitioner, 1, start=START - timedelta(days=400))[0]
    after = _volumes(patient)
    assert str(earliest.public_id) in after[0].holds
    assert before[1].source_id not in {v.source_id for v in after}, "the old part 2 now starts nowhere"
    with pytest.raises(services.NotReady, match="not one of the volumes"):
        _spec(before[1].source_id)
    held = [item for v in after if v.holds for item in v.holds]
    assert len(held) == len(set(held)) == sum(len(v.holds) for v in before if v.holds) + 1


def test_the_patient_page_reads_the_volumes_in_the_same_statements(as_practitioner, parts, monkeypatch):
    from tests.patients.test_patient_views import _count_queries

    url = f"/patients/{parts['patient'].public_id}"
    _count_queries(as_practitioner, url)  # first use
    in_parts = _count_queries(as_practitioner, url)
    monkeypatch.setattr(patient_export, "VOLUME_BUDGET_MS", 10**9)
    assert _volumes(parts["patient"]) == []
    one_export = _count_queries(as_practitioner, url)
    assert in_parts == one_export, f"{in_parts} statements in parts, {one_export} as one export"


def test_a_forged_consent_in_volume_two_is_refused_on_preview_and_issue(client, parts, practitioner):
    from tests.test_integrity import _drop_all_triggers, _replace

    patient = parts["patient"]
    two = _volumes(patient)[1]
    in_two = db.session.scalars(select(Consent).join(Consultation, Consultation.id == Consent.consultation_id)
                                .where(Consultation.public_id == two.source_id)).one()
    sign_in(client, practitioner.email)
    assert client.get(f"/documents/patient-export/{two.source_id}.pdf").mimetype == "application/pdf"
    _drop_all_triggers()
    _replace("consents", in_two.id, photo_marketing=1)
    for response in (client.get(f"/documents/patient-export/{two.source_id}.pdf"),
                     client.post(f"/documents/patient-export/{two.source_id}/issue",
                                 data={"csrf_token": csrf_token(client, "/patients/")})):
        assert response.status_code == 303 and response.mimetype != "application/pdf"
        shown = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Not printed. This record does not match what was signed on" in shown
        assert "The record that changed: the consent signed on" in shown
    db.session.expire_all()
    assert db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == EXPORT)).all() == []


def _text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return re.sub(r"\s+", " ", out.decode())


def test_a_later_part_prints_its_records_and_lists_every_volume(parts):
    patient = parts["patient"]
    every = _volumes(patient)
    spec = _spec(every[1].source_id)
    pdf = services.render(spec)
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        assert len(opened.attachments) == 1
    text = _text(pdf)
    assert "volume 2 of 5" in text and "Volume 2 (this one)" in text and "(part 2 of 4)" in text
    assert "Volume 5: treatment plan 1 of 1" in text
    assert "Consultations" in text and "Signed consents" in text and "Health questionnaires you signed" in text
    assert "Your details" not in text and "Treatment sessions" not in text
    data = json.loads(spec.json_data)
    assert len(data["consultations"]) == 2 and len(data["photos"]) == 1, "the consultations and the review visit of part 2"
    for consultation in data["consultations"]:
        assert f"Consultation, {long_date(date.fromisoformat(consultation['date']))}" in text


def _at_every_limit(patient, author, count: int) -> None:
    """`count` consultations at every limit, each with a consent, and `count` signed intakes at every limit."""
    from tests.documents.pdf_corpus import signed_intake

    words = "Redness settled by the second day, mild tightness over both cheeks, no crusting. "
    for _ in range(count):
        consultation = make_consultation(patient, author, notes=(words * 100)[:8000], skin_notes=(words * 50)[:4000])
        db.session.add(ScreeningOverride(consultation_id=consultation.id, computed_decision="defer", reason=(words * 25)[:2000],
                                         recorded_by_id=author.id))
        make_consent(consultation, author)
        signed_intake("hostile", patient, author)
    db.session.commit()


def test_the_measured_model_keeps_three_at_every_limit_in_one_export_and_cuts_eight(app, practitioner):
    """bench/bench_export_record_wide.py: three consultations, consents and intakes at every limit rendered in about
    4.5 s as one export; eight in 12.8 s. The measured model keeps the first one export and cuts the second."""
    three, eight = make_patient(actor=practitioner), make_patient(actor=practitioner)
    _at_every_limit(three, practitioner, 3)
    _at_every_limit(eight, practitioner, 8)
    assert _volumes(three) == []
    every = _volumes(eight)
    assert len(every) >= 2 and all(v.plan_id is None for v in every)
    rows = db.session.execute(patient_export._ITEMS, {"patient_id": eight.id}).all()
    weights = {str(row.public_id): patient_export._item(row).cost_ms for row in rows}
    for volume in every:
        weight = sum(weights[item] for item in volume.holds) + (patient_export.COST_MS["details"] if volume.part == 1 else 0)
        assert weight <= patient_export.VOLUME_BUDGET_MS or len(volume.holds) == 1


def _reviews_outside_a_plan(patient, author, count: int) -> list[str]:
    """`count` review visits outside a plan, a week apart, each with a photograph at every limit (6); their photos' ids."""
    from practitioner.photos import limits
    from tests.photos.factories import make_photo, make_review

    consultation = make_consultation(patient, author, consultation_date=START)
    consent = make_consent(consultation, author)
    photos = []
    for number in range(count):
        review = make_review(patient.id, author, visit_date=START + timedelta(days=7 * (number + 1)))
        for view in range(limits.per_visit("review")):
            photos.append(make_photo(patient.id, consent, author, review=review, moment="review", shade=view, commit=False,
                                     captured_at=datetime.combine(review.visit_date, time(10, view))))
    db.session.commit()
    return [str(photo.public_id) for photo in photos]


@pytest.mark.parametrize("count", [8, "past two budgets"])
def test_review_visits_outside_a_plan_are_packed_into_parts_within_the_budget(app, practitioner, count):
    """Review visits outside a plan have no limit (practitioner/photos/limits.py): the measured model packs them, each
    with its 6 photographs, into the record-wide parts, so every part's estimate fits the budget and every photograph
    is in exactly one volume's JSON. 8 of them; and as many as weigh more than two budgets, so there are parts."""
    from practitioner.photos import limits

    each = patient_export.COST_MS["review"] + limits.per_visit("review") * patient_export.COST_MS["photo"]
    if count != 8:
        count = 2 * patient_export.VOLUME_BUDGET_MS // each + 1
    patient = make_patient(actor=practitioner)
    photos = _reviews_outside_a_plan(patient, practitioner, count)
    every = _volumes(patient)
    rows = db.session.execute(patient_export._ITEMS, {"patient_id": patient.id}).all()
    # A review visit's weight from the model's own terms (no note, 6 photographs), not from the packer's estimate.
    weights = {str(row.public_id): each if row.kind == "review" else patient_export._item(row).cost_ms for row in rows}
    assert sum(row.kind == "review" for row in rows) == count
    if every:
        assert all(v.plan_id is None for v in every)
        for volume in every:
            weight = sum(weights[item] for item in volume.holds) + (patient_export.COST_MS["details"] if volume.part == 1 else 0)
            assert weight <= patient_export.VOLUME_BUDGET_MS, f"volume {volume.number} weighs {weight} ms"
    else:
        assert patient_export.COST_MS["details"] + sum(weights.values()) <= patient_export.VOLUME_BUDGET_MS
    if count != 8:
        assert len(every) >= 3, "more than two budgets' worth is cut into parts"
    found = [photo["public_id"] for volume in every or [None]
             for photo in json.loads(_spec(volume.source_id if volume and volume.source_id else patient.public_id).json_data)["photos"]]
    assert sorted(found) == sorted(photos), "every photograph in exactly one volume"
