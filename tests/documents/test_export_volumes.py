"""The patient record export in volumes: a record with more sessions than a plan may hold, across several plans,
is issued as volume 1 (details, consultations, consents, photographs outside a plan, documents issued) and one
volume per plan; a smaller record stays one export (practitioner/documents/kinds/patient_export.py)."""

from __future__ import annotations

import io
import json
import re
import subprocess
from datetime import date

import pikepdf
import pytest
from sqlalchemy import select

from practitioner.documents import kinds, services
from practitioner.documents.kinds import patient_export
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.documents.pdf.pool import render_pdf
from practitioner.extensions import db
from tests.conftest import make_patient, post_form
from tests.factories import signed_session, treatable_plan

EXPORT = DocumentKind("patient-export")


def preview_and_issue(client, source, page: str) -> IssuedDocument:
    """Preview the export made from `source` (a PDF), issue it from the patient's page, and return the one document issued."""
    preview = client.get(f"/documents/patient-export/{source}.pdf")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    response = post_form(client, f"/documents/patient-export/{source}/issue", {}, page=page)
    assert response.status_code == 303
    return db.session.scalars(select(IssuedDocument).where(IssuedDocument.source_id == str(source))).one()


def _sessions(plan, author, count: int) -> None:
    plan.sessions_planned = 12
    db.session.commit()
    for number in range(1, count + 1):
        signed_session(plan, author, sequence=number)
    db.session.commit()


@pytest.fixture
def large_record(app, practitioner):
    """A patient with two plans: a photographed course (2 sessions, a review visit) and a plan of 11 sessions: 13 in all."""
    from tests.photos.factories import course_with_photos

    patient = make_patient(actor=practitioner, given_name="Vera", family_name="Volume")
    course = course_with_photos(patient, practitioner, sessions=2, planned=4, views=("frontal",), review=True)
    second = treatable_plan(patient, practitioner)
    _sessions(second, practitioner, 11)
    db.session.expire_all()
    return {"patient": patient, "course": course, "plans": [course["plan"], second]}


def _spec(source_id):
    spec = services.build(db.session, EXPORT, source_id, date.today())
    db.session.rollback()
    return spec


def test_a_record_of_few_sessions_stays_one_export(app, practitioner):
    patient = make_patient(actor=practitioner, given_name="Una", family_name="Single")
    first, second = treatable_plan(patient, practitioner), treatable_plan(patient, practitioner)
    _sessions(first, practitioner, 6)
    _sessions(second, practitioner, 6)  # 12 in all: a plan's most, one export
    assert patient_export.volumes(db.session, patient) == []
    offers = kinds.get(EXPORT).offers(db.session, patient)
    assert [(o.label, o.source_id) for o in offers] == [("Patient record export", patient.public_id)]
    spec = _spec(patient.public_id)
    assert spec.title == "Your patient record" and spec.context["volume"] is None
    assert len(spec.context["record"]["sessions"]) == 12 and "volume" not in json.loads(spec.json_data)
    # A plan's volume of a record that fits one export is refused, and says where the export is.
    with pytest.raises(services.NotReady, match="fits one export"):
        _spec(first.public_id)


def test_a_large_record_splits_into_volume_one_and_a_volume_per_plan(large_record):
    patient, course, (plan_a, plan_b) = large_record["patient"], large_record["course"], large_record["plans"]
    volumes = patient_export.volumes(db.session, patient)
    assert [(v.number, v.of, v.plan_id) for v in volumes] == [(1, 3, None), (2, 3, plan_a.public_id), (3, 3, plan_b.public_id)]
    first, second, third = (_spec(source) for source in (patient.public_id, plan_a.public_id, plan_b.public_id))
    assert [s.title for s in (first, second, third)] == [f"Your patient record, volume {n} of 3" for n in (1, 2, 3)]
    assert [s.source_id for s in (first, second, third)] == [str(patient.public_id), str(plan_a.public_id), str(plan_b.public_id)]
    assert {s.patient_id for s in (first, second, third)} == {patient.id}
    one, two, three = (s.context["record"] for s in (first, second, third))
    # Volume 1: details, both consultations and consents, the documents list; no plan, no session.
    assert (len(one["consultations"]), len(one["consents"]), one["treatment_plans"], one["sessions"]) == (2, 2, [], [])
    # A plan's volume: that plan and its sessions only.
    assert [p["public_id"] for p in two["treatment_plans"]] == [str(plan_a.public_id)] and len(two["sessions"]) == 2
    assert [p["public_id"] for p in three["treatment_plans"]] == [str(plan_b.public_id)] and len(three["sessions"]) == 11
    assert not (two["consultations"] or two["consents"] or two["issued_documents"] or three["consultations"])
    # Every photograph is in exactly one volume: the baseline (consultation) in volume 1, the course's in its plan's.
    every = {ph["public_id"] for ph in _spec(patient.public_id).context["record"]["photos"]} | {
        ph["public_id"] for ph in two["photos"]} | {ph["public_id"] for ph in three["photos"]}
    assert len(every) == len(course["photos"])
    assert [ph["visit"]["kind"] for ph in one["photos"]] == ["consultation"]
    assert {ph["visit"]["kind"] for ph in two["photos"]} == {"session", "review"} and three["photos"] == []
    # Each volume's JSON is its own part, saying which volume it is and what the others hold.
    data = json.loads(second.json_data)
    assert data["volume"]["number"] == 2 and data["volume"]["of"] == 3 and len(data["volume"]["all"]) == 3
    assert len(data["sessions"]) == 2 and data["consultations"] == []


def _text(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return re.sub(r"\s+", " ", out.decode())


def test_each_volume_prints_its_part_and_lists_the_others(large_record):
    patient, (plan_a, plan_b) = large_record["patient"], large_record["plans"]
    texts = []
    for source in (patient.public_id, plan_a.public_id, plan_b.public_id):
        spec = _spec(source)
        pdf = render_pdf(spec.template, spec.context, title=spec.title, paper=spec.paper, logo_png=spec.logo_png,
                         attachments=services.attachments(spec))
        with pikepdf.open(io.BytesIO(pdf)) as opened:
            assert len(opened.attachments) == 1
        texts.append(_text(pdf))
    one, two, three = texts
    for number, text in enumerate(texts, start=1):
        assert f"volume {number} of 3" in text
        assert "Volume 1: your details, consultations, signed consents" in text.replace("Volume 1 (this one)", "Volume 1")
        assert "treatment plan 2 of 2: Microneedling" in text
    assert "Your details" in one and "Signed consents" in one and "Documents issued from your record" in one
    assert "Treatment sessions" not in one and "Your details" not in two and "Signed consents" not in three
    assert "Session 11 of 12" in three and "Session 11 of 12" not in two


def test_the_patients_page_offers_each_volume_and_issuing_one_returns_there(as_practitioner, large_record):
    patient_id, plan_id = large_record["patient"].id, large_record["plans"][0].public_id
    page = f"/patients/{large_record['patient'].public_id}"
    html = as_practitioner.get(page).get_data(as_text=True)
    assert "Preview patient record export, volume 1 of 3 (details, consultations, consents)" in html
    assert "Preview patient record export, volume 2 of 3 (treatment plan 1 of 2)" in html
    assert "Preview patient record export, volume 3 of 3 (treatment plan 2 of 2)" in html
    assert f'href="/documents/patient-export/{plan_id}.pdf"' in html
    assert f'action="/documents/patient-export/{plan_id}/issue"' in html
    assert "Issue volume 2 of 3 to the patient" in html and "Issue patient record export to the patient" not in html
    issued = preview_and_issue(as_practitioner, plan_id, page)
    assert (issued.kind, issued.title, issued.patient_id, issued.version) == (EXPORT, "Your patient record, volume 2 of 3", patient_id, 1)
    assert issued.filename.startswith("patient-record-vera-volume-volume-2-of-3")
    assert issued.json_sha256
    listed = as_practitioner.get(page).get_data(as_text=True)
    assert "Your patient record, volume 2 of 3" in listed and issued.number in listed


def test_a_refused_volume_sends_the_person_to_the_patients_page(app, practitioner, as_practitioner):
    patient = make_patient(actor=practitioner, given_name="Una", family_name="Small")
    patient_id, plan_id = patient.public_id, treatable_plan(patient, practitioner).public_id
    response = as_practitioner.get(f"/documents/patient-export/{plan_id}.pdf")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/patients/{patient_id}#docs-title-{patient_id}")
    shown = as_practitioner.get(response.headers["Location"]).get_data(as_text=True)
    assert "fits one export" in shown
    assert as_practitioner.get("/documents/patient-export/00000000-0000-4000-8000-000000000000.pdf").status_code == 404
