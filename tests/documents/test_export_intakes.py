"""The patient record export prints the patient's signed intakes (health questionnaires), and re-checks them.

Each submitted intake, in the whole export or its volume 1: the day and time it was signed, how it was answered,
the wording version, every answer in the signed wording (the health questionnaire's own builder, shared), what the
patient wrote, whether and when it was reviewed, and its SHA-256; the same in the attached JSON. Drafts and
withdrawn intakes were never signed and are not printed. An intake rewritten by someone holding the database (its
stored SHA-256 recomputed) is refused like a forged session or consent, naming it; nothing is archived.
"""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from practitioner.database import utcnow
from practitioner.dates import day_month_year, to_clinic_time
from practitioner.documents import services
from practitioner.documents.kinds import patient_export
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from practitioner.intake import questions
from practitioner.intake import services as intake_services
from practitioner.intake.models import PatientIntake
from tests.conftest import statements_of, csrf_token, make_patient, sign_in
from tests.intake.factories import answer_set, make_intake, unlock_intakes

EXPORT = DocumentKind("patient-export")
WARNING = "Not printed. This record does not match what was signed on"


def _squeezed(pdf: bytes) -> str:
    """The PDF's text without whitespace (the text layer drops the gaps between cells and wraps lines)."""
    return "".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def _squeeze(phrase: str) -> str:
    return "".join(phrase.split())


@pytest.fixture
def patient(practitioner, reception):
    """A patient with a signed intake (a Yes dated by month, a Not sure, typed details and hopes), a second one
    reviewed by the practitioner, an open draft and a withdrawn one, each with words of its own."""
    patient = make_patient(actor=practitioner, given_name="Asha", family_name="Patel", date_of_birth=date(1990, 5, 17))
    make_intake(patient, reception, submitted=True, answers=answer_set(
        had_neurotoxin=("yes", "2026-10"), smoker="not_sure", details={"medicines": "Cetirizine 10 mg daily"},
        concerns=("atrophic_acne_scars",), words="Smoother cheeks before my wedding."))
    reviewed = make_intake(patient, reception, submitted=True, channel="link", answers=answer_set(words="Second visit words."))
    reviewed.reviewed_at, reviewed.reviewed_by_id = utcnow(), practitioner.id
    make_intake(patient, reception, answers=answer_set(words="Draft words never signed."))
    withdrawn = make_intake(patient, reception, answers=answer_set(words="Withdrawn words never signed."))
    intake_services.abandon(withdrawn, practitioner)
    db.session.commit()
    return patient


def _signed(patient) -> list[PatientIntake]:
    return list(db.session.scalars(select(PatientIntake).where(PatientIntake.patient_id == patient.id,
                                                               PatientIntake.status == "submitted").order_by(PatientIntake.id)))


def test_the_export_prints_each_signed_intake_with_its_answers_review_and_hash(patient, practitioner):
    first, second = _signed(patient)
    spec = services.build(db.session, EXPORT, patient.public_id, date.today())
    db.session.commit()
    data = json.loads(spec.json_data)
    assert [i["public_id"] for i in data["intakes"]] == [str(first.public_id), str(second.public_id)]
    one, two = data["intakes"]
    assert one["sha256"] == first.sha256 and one["text_version"] == questions.TEXT_VERSION
    assert one["channel"] == "On the clinic's tablet" and two["channel"] == "Through a one-time link, before the visit"
    assert one["reviewed"] is None and two["reviewed"]["by"] == practitioner.name
    assert "signature_src" not in one, "no signature image in the export, as for consents"
    by_key = {row["key"]: row for topic in one["topics"] for row in topic["questions"]}
    assert by_key["had_neurotoxin"]["answer"] == "Yes" and by_key["had_neurotoxin"]["follow_up"]["when"] == "about October 2026"
    assert by_key["smoker"]["answer"] == "Not sure" and one["details"]["medicines"] == "Cetirizine 10 mg daily"
    assert one["hopes"]["words"] == "Smoother cheeks before my wedding."
    printed = _squeezed(services.render(spec))
    signed_on = to_clinic_time(first.submitted_at)
    expected = ["Health questionnaires you signed", *(t.title for t in questions.TOPICS),
                *(q.wording for q in questions.QUESTIONS), "about October 2026", "Not sure", "Cetirizine 10 mg daily",
                "Smoother cheeks before my wedding.", "Second visit words.", first.sha256, second.sha256,
                f"Questions version {questions.TEXT_VERSION}", "On the clinic's tablet", "Not reviewed yet",
                f"By {practitioner.name}", f"Health questionnaire, signed {signed_on.day} {signed_on:%b} {signed_on.year}",
                questions.DECLARATION]
    missing = [phrase for phrase in expected if _squeeze(phrase) not in printed]
    assert not missing, missing


def test_drafts_and_withdrawn_intakes_are_not_printed(patient):
    spec = services.build(db.session, EXPORT, patient.public_id, date.today())
    db.session.commit()
    printed = _squeezed(services.render(spec))
    assert len(json.loads(spec.json_data)["intakes"]) == 2
    for words in ("Draft words never signed.", "Withdrawn words never signed."):
        assert _squeeze(words) not in printed and words not in spec.json_data.decode()


def test_a_patient_without_a_signed_intake_says_so(practitioner):
    patient = make_patient(actor=practitioner)
    spec = services.build(db.session, EXPORT, patient.public_id, date.today())
    db.session.commit()
    assert json.loads(spec.json_data)["intakes"] == []
    assert _squeeze("No signed health questionnaire is recorded.") in _squeezed(services.render(spec))


def test_only_volume_one_carries_the_intakes(patient, practitioner):
    from tests.factories import treatable_plan

    plan = treatable_plan(patient, practitioner)
    first = patient_export.Volume(1, 2, None, 0, "details")
    theirs = patient_export.Volume(2, 2, plan.public_id, 1, "the plan")
    assert len(patient_export.export_values(db.session, patient, first, [first, theirs])["intakes"]) == 2
    assert patient_export.export_values(db.session, patient, theirs, [first, theirs])["intakes"] == []


def _forge(intake: PatientIntake) -> None:
    """Rewrite a signed answer and recompute the stored SHA-256 to match, as a careful forger would."""
    forged = json.loads(intake.answers_json)
    forged["questions"]["pregnant"]["answer"] = "yes"
    forged_json = intake_services.canonical_json(forged)
    intake = db.session.get(PatientIntake, intake.id)
    sha = intake_services.content_sha256(intake.text_version, forged_json, intake.submitted_at, intake.signature_png)
    intake_id = intake.id
    unlock_intakes()
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE patient_intakes SET answers_json = :a, sha256 = :s WHERE id = :id"),
                           {"a": forged_json, "s": sha, "id": intake_id})
    db.session.expire_all()


def test_an_altered_intake_is_refused_named_and_nothing_archived(client, patient, practitioner):
    intake = _signed(patient)[1]
    named = (f"The record that changed: the health questionnaire signed on "
             f"{day_month_year(to_clinic_time(intake.submitted_at).date())}.")
    public_id = patient.public_id
    sign_in(client, practitioner.email)
    assert client.get(f"/documents/patient-export/{public_id}.pdf").mimetype == "application/pdf"
    _forge(intake)
    for response in (client.get(f"/documents/patient-export/{public_id}.pdf"),
                     client.post(f"/documents/patient-export/{public_id}/issue",
                                 data={"csrf_token": csrf_token(client, "/patients/")})):
        assert response.status_code == 303 and response.mimetype != "application/pdf"
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert WARNING in page and named in page
    db.session.expire_all()
    assert list(db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == EXPORT))) == []


def test_the_intakes_are_checked_in_the_same_statements_however_many(patient, reception):
    check = lambda: services.refuse_if_prints_altered(db.session, EXPORT, patient.public_id)  # noqa: E731
    check()  # first use
    two = statements_of(check)
    for _ in range(3):
        make_intake(patient, reception, submitted=True)
    five = statements_of(check)
    assert len(five) == len(two) and sum("FROM audit_events" in s for s in five) == 1, "\n".join(five)
    assert sum("FROM patient_intakes" in s for s in five) == 1
    aftercare_kinds = [s for s in statements_of(lambda: services.printed_signed_intakes(
        db.session, DocumentKind("aftercare"), patient.public_id))]
    assert aftercare_kinds == [], "only the export prints a patient's intakes"


def test_the_intake_list_is_one_statement_and_one_for_reviewers(patient):
    seen = statements_of(lambda: [patient_export.intake_export_values(i)
                                for i in patient_export.signed_intakes(db.session, patient.id)])
    assert len(seen) == 2, "\n".join(seen)


def test_an_intake_in_a_wording_no_longer_held_is_named_not_reworded(patient, monkeypatch):
    from practitioner.documents.kinds import intake_record

    monkeypatch.setattr(intake_record, "WORDINGS", {"2020-01-01.1": questions.TOPICS})
    spec = services.build(db.session, EXPORT, patient.public_id, date.today())
    db.session.commit()
    one = json.loads(spec.json_data)["intakes"][0]
    assert "topics" not in one and "words the patient saw" in one["not_printed"] and one["sha256"] == _signed(patient)[0].sha256
    printed = _squeezed(services.render(spec))
    assert _squeeze("whose wording this version of Practitioner does not hold") in printed and one["sha256"] in printed
    assert _squeeze(questions.QUESTIONS[0].wording) not in printed
