"""The patient record export: for the patient (an access request), their whole record as a PDF with the same data as JSON inside it."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.documents.kinds._common import (
    LANGUAGE,
    consent_values,
    consultation_values,
    issued_values,
    patient_values,
    plan_values,
    session_values,
    slug,
)
from practitioner.documents.kinds._types import DocumentSpec, DocumentType
from practitioner.documents.kinds import aftercare as aftercare_kind
from practitioner.documents.models import IssuedDocument
from practitioner.patients.models import Patient
from practitioner.photos.export import export_image_sources, export_photos
from practitioner.plans.models import TreatmentPlan
from practitioner.treatments.models import TreatmentSession

EXPORT_SCHEMA = "practitioner.patient-record-export"
EXPORT_SCHEMA_VERSION = "1.0"


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of the export's JSON")


def export_json(data: dict[str, Any]) -> bytes:
    """The export dict as UTF-8 JSON: sorted keys, ISO dates, two-space indent, a final newline."""
    return (json.dumps(data, sort_keys=True, ensure_ascii=False, indent=2, default=_json_value) + "\n").encode("utf-8")


def export_values(session: Session, patient: Patient) -> dict[str, Any]:
    """Everything the record holds about one patient, as one plain dict (the PDF and the JSON both print it)."""
    consultations = list(session.scalars(select(Consultation).where(Consultation.patient_id == patient.id)
                                         .order_by(Consultation.consultation_date, Consultation.id)))
    plans = list(session.scalars(select(TreatmentPlan).where(TreatmentPlan.patient_id == patient.id)
                                 .order_by(TreatmentPlan.first_session_on, TreatmentPlan.id)))
    consents = list(session.scalars(select(Consent).where(Consent.patient_id == patient.id).order_by(Consent.signed_at, Consent.id)))
    records = list(session.scalars(select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
                                   .order_by(TreatmentSession.session_date, TreatmentSession.sequence, TreatmentSession.id)))
    documents = list(session.scalars(select(IssuedDocument).where(IssuedDocument.patient_id == patient.id)
                                     .order_by(IssuedDocument.issued_at, IssuedDocument.number)))
    aftercare: dict[str, list[IssuedDocument]] = {}
    for doc in documents:
        if doc.kind == aftercare_kind.TYPE.code:
            aftercare.setdefault(doc.source_id, []).append(doc)
    return {
        "schema": EXPORT_SCHEMA,
        "schema_version": EXPORT_SCHEMA_VERSION,
        "language": LANGUAGE,
        "notes": "Dates are ISO 8601; times carry the clinic's UTC offset. Records are named by their public ids only.",
        "patient": patient_values(patient),
        "consultations": [consultation_values(c) for c in consultations],
        "treatment_plans": [plan_values(p) for p in plans],
        "consents": [consent_values(c, with_signature=False) for c in consents],
        "sessions": [session_values(r, sorted(aftercare.get(str(r.public_id), []), key=lambda d: d.version)) for r in records],
        "issued_documents": [issued_values(d) for d in documents],
        "photos": export_photos(session, patient.id),
    }


def build(session: Session, patient: Patient, issued_on: date | None = None) -> DocumentSpec:
    """A patient's whole record for an access request: a readable PDF and the same data as JSON."""
    data = export_values(session, patient)
    # The photos' small copies are the one thing the PDF prints that the JSON does not hold (photos.export says why).
    context = {"record": data, "photo_images": export_image_sources(session, data["photos"]),
               "summary": f"Patient record export for {patient.full_name}"}
    spec = DocumentSpec(TYPE.kind, str(patient.public_id), patient.id, TYPE.template, "Your patient record",
                        context, f"{LANGUAGE}-export-{EXPORT_SCHEMA_VERSION}", f"patient-record-{slug(patient.full_name)}")
    spec.json_data = export_json(data)
    return spec


TYPE = DocumentType(
    code="patient-export",
    label="Patient record export",
    number_prefix="PX",
    source=Patient,
    source_name="patient",
    template="patient_export.html",
    for_patient=True,
    build=build,
)
