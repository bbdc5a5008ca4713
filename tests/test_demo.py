"""The demo clinic's dates read in order: registered, consulted, consented, planned, treated, never in the future."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.plans.models import TreatmentPlan
from practitioner.documents.models import IssuedDocument
from practitioner.extensions import db
from practitioner.patients.models import Patient
from practitioner.treatments.models import TreatmentSession


def test_every_seeded_record_is_dated_in_order(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    zone = ZoneInfo(app.config["TIMEZONE"])
    today = datetime.now(zone).date()

    def day(moment: datetime):
        return moment.astimezone(zone).date()

    patients = {p.id: p for p in db.session.scalars(select(Patient))}
    consultations = {c.id: c for c in db.session.scalars(select(Consultation))}
    consents = {c.id: c for c in db.session.scalars(select(Consent))}
    plans = {p.id: p for p in db.session.scalars(select(TreatmentPlan))}
    sessions = list(db.session.scalars(select(TreatmentSession)))
    assert len(patients) == 12 and consultations and consents and plans and sessions, "the demo tells its story"

    for patient in patients.values():
        assert day(patient.created_at) <= today, patient.record_number
    for c in consultations.values():
        registered = day(patients[c.patient_id].created_at)
        assert registered <= c.consultation_date <= today, (patients[c.patient_id].record_number, registered, c.consultation_date)
    for consent in consents.values():
        consulted = consultations[consent.consultation_id].consultation_date
        assert consulted <= day(consent.signed_at) <= today, (consulted, consent.signed_at)
    for plan in plans.values():
        consulted = consultations[plan.consultation_id].consultation_date
        in_plan = sorted(s.session_date for s in sessions if s.plan_id == plan.id)
        assert consulted <= plan.first_session_on, (consulted, plan.first_session_on)
        assert not in_plan or in_plan[0] == plan.first_session_on, (plan.first_session_on, in_plan)
    for s in sessions:
        consented = day(consents[s.consent_id].signed_at)
        consulted = consultations[plans[s.plan_id].consultation_id].consultation_date
        assert day(patients[s.patient_id].created_at) <= consulted <= consented <= s.session_date <= today, \
            (consulted, consented, s.session_date, today)
        if s.signed_at is not None:
            assert s.session_date <= day(s.signed_at) <= today
        if s.next_appointment_on is not None:
            assert s.next_appointment_on > s.session_date
    signed_days = [day(s.signed_at) for s in sessions if s.signed_at is not None]
    for document in db.session.scalars(select(IssuedDocument)):
        assert min(signed_days) <= day(document.issued_at) <= today
