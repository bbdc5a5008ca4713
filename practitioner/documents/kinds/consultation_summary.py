"""The consultation summary: for the clinic's file, one consultation's findings, scales, screening with reasons, overrides and plans."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.documents.kinds._common import CLINIC_FILE_VERSION, _patient_head, consultation_values, slug
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.plans.models import TreatmentPlan


def _plans_for(session: Session, consultation: Consultation) -> list[TreatmentPlan]:
    return list(session.scalars(select(TreatmentPlan).where(TreatmentPlan.consultation_id == consultation.id).order_by(TreatmentPlan.id)))


def _consents_for(session: Session, consultation: Consultation) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.consultation_id == consultation.id).order_by(Consent.signed_at, Consent.id)))


def build(session: Session, consultation: Consultation, issued_on: date | None = None) -> DocumentSpec:
    """The clinic-file summary of one consultation: answers, scales, screening with reasons, overrides, plans."""
    patient = consultation.patient
    context = {
        "patient": _patient_head(patient),
        "consultation": consultation_values(consultation, plans=_plans_for(session, consultation),
                                            consents=_consents_for(session, consultation)),
        "summary": f"Consultation summary for {patient.full_name}, {consultation.consultation_date:%-d %B %Y}",
    }
    return DocumentSpec(TYPE.kind, str(consultation.public_id), patient.id, TYPE.template,
                        TYPE.label, context, CLINIC_FILE_VERSION,
                        f"consultation-{slug(patient.full_name)}-{consultation.consultation_date.isoformat()}")


TYPE = DocumentType(
    code="consultation-summary",
    label="Consultation summary",
    number_prefix="CS",
    source=Consultation,
    source_name="consultation",
    template="consultation_summary.html",
    for_patient=False,
    build=build,
)
