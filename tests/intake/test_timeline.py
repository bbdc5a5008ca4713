"""The intake on the patient's timeline: "Intake submitted" and "Intake reviewed", for clinical viewers, in one statement."""

from __future__ import annotations

from sqlalchemy import event

from practitioner.database import utcnow
from practitioner.extensions import db
from practitioner.intake import timeline
from practitioner.patients.timeline import entries_for
from tests.conftest import make_patient
from tests.intake.factories import make_intake


def _titles(entries) -> list[str]:
    return [entry.title for entry in entries if entry.kind == "intake"]


def test_a_signed_intake_is_on_the_timeline_waiting_then_reviewed(app, practitioner, reception):
    patient = make_patient(actor=practitioner)
    make_intake(patient, reception)  # open: not on the timeline
    signed = make_intake(patient, reception, channel="link", submitted=True)
    with app.test_request_context():
        submitted, = [e for e in entries_for(db.session, patient, clinical=True) if e.kind == "intake"]
    assert submitted.title == "Intake submitted" and submitted.badge == "Waiting for review"
    assert submitted.when == signed.submitted_at and submitted.url == f"/intakes/{signed.public_id}"
    assert submitted.details == ("Answered through a one-time link and signed by the patient",)
    signed.reviewed_at, signed.reviewed_by_id = utcnow(), practitioner.id
    db.session.commit()
    with app.test_request_context():
        entries = entries_for(db.session, patient, clinical=True)
    assert _titles(entries) == ["Intake reviewed", "Intake submitted"]  # newest first
    reviewed = entries[0]
    assert reviewed.details == (f"Reviewed by {practitioner.name}, with the consultation started from it",)
    assert entries[1].badge == "Reviewed"


def test_only_clinical_viewers_get_the_entries(app, practitioner, reception):
    patient = make_patient(actor=practitioner)
    make_intake(patient, reception, submitted=True)
    with app.test_request_context():
        assert timeline.timeline_entries(patient, session=db.session, clinical=False) == []
        assert _titles(entries_for(db.session, patient, clinical=False)) == []


def test_the_patient_page_shows_it_to_the_practitioner(as_practitioner, practitioner, reception):
    patient = make_patient(actor=practitioner)
    make_intake(patient, reception, submitted=True)
    html = as_practitioner.get(f"/patients/{patient.public_id}").get_data(as_text=True)
    assert "timeline__item--intake" in html and "Intake submitted" in html and "Waiting for review" in html


def test_one_statement_however_many_intakes(app, practitioner, reception):
    patient = make_patient(actor=practitioner)
    for _ in range(3):
        intake = make_intake(patient, reception, submitted=True)
    intake.reviewed_at, intake.reviewed_by_id = utcnow(), practitioner.id
    db.session.commit()
    db.session.expire_all()
    assert patient.id  # the patient page has its patient loaded already
    statements: list[str] = []

    def count(*args) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with app.test_request_context():
            entries = timeline.timeline_entries(patient, session=db.session, clinical=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(entries) == 4 and len(statements) == 1, statements
