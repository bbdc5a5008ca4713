"""Issue 14: every signed record a document prints is re-checked against what was signed before it is rendered.

The aftercare prints a signed session, the patient record export every signed session and consent, the
consultation summary its consents, the progress sheet its plan's sessions. A session or consent rewritten by
someone holding the database (its stored SHA-256 recomputed to match) is refused with the red integrity
warning, naming the record, on preview and on issue; nothing is archived. The checks are batched: the same
number of statements for one session or five.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from practitioner.consents.models import Consent
from practitioner.dates import day_month_year
from practitioner.documents import services
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.extensions import db
from tests.conftest import statements_of, csrf_token, make_patient, make_user, sign_in
from tests.factories import make_consent, signed_session, treatable_plan
from tests.test_integrity import _drop_all_triggers, _forge_session, _replace

WARNING = "Not printed. This record does not match what was signed on"


@pytest.fixture
def record(app):
    """Two signed sessions of one patient (the forged one is the second), their plan and consent."""
    practitioner = make_user()
    patient = make_patient(actor=practitioner, given_name="Ana", family_name="Silva")
    plan = treatable_plan(patient, practitioner)
    signed_session(plan, practitioner)
    second = signed_session(plan, practitioner, sequence=2, products=(("Hyaluronic serum", "HS-1"),))
    consent = db.session.scalars(select(Consent).where(Consent.patient_id == patient.id)).one()
    db.session.commit()
    return {"practitioner": practitioner, "patient": patient, "plan": plan, "session": second, "consent": consent,
            "consultation": plan.consultation}


def _issued(kind: str) -> list[IssuedDocument]:
    db.session.expire_all()
    return list(db.session.scalars(select(IssuedDocument).where(IssuedDocument.kind == DocumentKind(kind))))


def _refused(client, response) -> str:
    assert response.status_code == 303 and response.mimetype != "application/pdf"
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _issue(client, kind: str, public_id) -> object:
    token = csrf_token(client, "/patients/")
    return client.post(f"/documents/{kind}/{public_id}/issue", data={"csrf_token": token})


def test_a_forged_session_is_not_printed_as_aftercare_nor_in_the_export(client, record):
    session_id, session_public_id = record["session"].id, record["session"].public_id
    patient_public_id = record["patient"].public_id
    sign_in(client, record["practitioner"].email)
    _forge_session(session_id)
    named = f"The record that changed: session 2 of {day_month_year(date.today())}."
    for kind, source in (("aftercare", session_public_id), ("patient-export", patient_public_id)):
        page = _refused(client, client.get(f"/documents/{kind}/{source}.pdf"))
        assert WARNING in page and named in page, kind
        page = _refused(client, _issue(client, kind, source))
        assert WARNING in page and named in page, kind
        assert _issued(kind) == [], f"no {kind} archived from a forged session"


def test_a_forged_consent_is_not_printed_in_the_export_nor_the_consultation_summary(client, record):
    consent_id = record["consent"].id
    patient_public_id, consultation_public_id = record["patient"].public_id, record["consultation"].public_id
    sign_in(client, record["practitioner"].email)
    _drop_all_triggers()
    _replace("consents", consent_id, photo_marketing=1)
    for kind, source in (("patient-export", patient_public_id), ("consultation-summary", consultation_public_id)):
        page = _refused(client, client.get(f"/documents/{kind}/{source}.pdf"))
        assert WARNING in page and "The record that changed: the consent signed on" in page, kind


def test_an_intact_record_still_prints(client, record):
    sign_in(client, record["practitioner"].email)
    response = client.get(f"/documents/aftercare/{record['session'].public_id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"


def test_the_checks_are_batched_the_same_statements_for_one_session_or_five(app, record):
    patient_id = record["patient"].public_id
    check = lambda: services.refuse_if_prints_altered(db.session, DocumentKind("patient-export"), patient_id)  # noqa: E731
    check()  # first use
    one_session = statements_of(check)
    for sequence in range(3, 6):
        signed_session(record["plan"], record["practitioner"], sequence=sequence, products=(("Serum", f"L{sequence}"),))
    make_consent(record["consultation"], record["practitioner"])  # and a second consent
    five_sessions = statements_of(check)
    assert len(five_sessions) == len(one_session) <= 16, "\n".join(five_sessions)
    assert sum("FROM audit_events" in s for s in five_sessions) == 1, "one audit query for every record"
    aftercare = statements_of(lambda: services.refuse_if_prints_altered(db.session, DocumentKind("aftercare"), record["session"].public_id))
    assert len(aftercare) <= 13, "\n".join(aftercare)
    assert not any(" JOIN " in s for s in aftercare), "by key, never joined from the sessions table"
    printed = statements_of(lambda: services.build_to_print(db.session, DocumentKind("aftercare"), record["session"].public_id,
                                                          date.today()))
    assert len(printed) <= 26, "\n".join(printed)  # the check's 13 and the build's own (tests/documents/test_issuing.py)
