"""Every document prints its dates exactly as before practitioner.dates (Babel) replaced the hand-written formatters.

Fixed dates in, literal strings out: a change of pattern, locale ('Sept' for 'Sep') or year rule fails here,
for each document kind's builder and template.
"""

from __future__ import annotations

import io
from datetime import date, datetime, timezone

import pytest
from pypdf import PdfReader

from practitioner.consents.models import Consent
from practitioner.documents import services
from practitioner.documents.models import DocumentKind
from practitioner.extensions import db
from tests.conftest import make_patient
from tests.factories import make_consultation, make_plan, seal_consent, signed_session

ISSUED_ON = date(2027, 1, 2)  # a Saturday, in another year than the session: the aftercare's year rule shows


@pytest.fixture
def story(app, practitioner):
    """A patient with a consultation, plan, consent and signed session on fixed dates."""
    patient = make_patient(practitioner, date_of_birth=date(1988, 3, 14))
    consultation = make_consultation(patient, practitioner, consultation_date=date(2026, 11, 22))
    consent = Consent(patient_id=patient.id, consultation_id=consultation.id, modality="microneedling", content_version="test-1",
                      content_sha256="0" * 64, content_text="Consent for microneedling", patient_typed_name=patient.full_name,
                      signature_png=b"\x89PNG\r\n", signature_sha256="0" * 64, witnessed_by_id=practitioner.id,
                      signed_at=datetime(2026, 7, 1, 13, 5, tzinfo=timezone.utc))  # 14:05 in London (summer time)
    seal_consent(consent)  # with its SHA-256 and audit row, as signing makes it (so it prints)
    plan = make_plan(consultation)
    plan.first_session_on = date(2027, 1, 2)
    db.session.commit()
    record = signed_session(plan, practitioner, session_date=date(2026, 11, 30), next_appointment_on=date(2027, 1, 27))
    return {"patient": patient, "consultation": consultation, "consent": consent, "plan": plan, "session": record}


def printed(kind: DocumentKind, source_id) -> str:
    """The document's text as printed, without whitespace (the PDF's text layer drops the gap between table cells)."""
    spec = services.build(db.session, kind, source_id, ISSUED_ON)
    db.session.rollback()
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(services.render(spec))).pages)
    return "".join(text.split())


EXPECTED = {
    DocumentKind.TREATMENT_GUIDE: ("plan", ["First session Saturday 2 January 2027", "Issued 2 Jan 2027",
                                            "Issued Saturday 2 January 2027"]),
    DocumentKind.CONSENT_FORM: ("consent", ["Date of birth Monday 14 March 1988", "Signed Wednesday 1 July 2026",
                                            "Date signed Wednesday 1 July 2026, 14:05", "Issued 2 Jan 2027"]),
    DocumentKind.CONSULTATION_SUMMARY: ("consultation", ["Born Monday 14 March 1988", "Consultation Sunday 22 November 2026",
                                                         "Issued 2 Jan 2027"]),
    DocumentKind.SESSION_RECORD: ("session", ["Born Monday 14 March 1988", "Session 1 of 4, Monday 30 November 2026",
                                              "Next appointment Wednesday 27 January 2027", "Issued 2 Jan 2027"]),
    DocumentKind.PATIENT_EXPORT: ("patient", ["Born Monday 14 March 1988", "Consultation, Sunday 22 November 2026",
                                              "signed 1 Jul 2026", "Session 1 of 4, Monday 30 November 2026", "Issued 2 Jan 2027"]),
    # The leaflet's days carry the year only when it is not the issue year (2027): the days after the session
    # (November, December 2026) print their year, the next appointment (January 2027) does not.
    DocumentKind.AFTERCARE: ("session", ["Treatment date Monday 30 November 2026", "From Tuesday 1 December 2026",
                                         "Your next appointment is on Wednesday 27 January.", "Issued 2 Jan 2027"]),
}


@pytest.mark.parametrize("kind", list(EXPECTED), ids=lambda kind: kind.value)
def test_each_document_prints_its_dates_as_before(story, kind):
    source, expected = EXPECTED[kind]
    text = printed(kind, story[source].public_id)
    missing = [phrase for phrase in expected if "".join(phrase.split()) not in text]
    assert not missing, f"{kind.value}: {missing} not in {text}"
