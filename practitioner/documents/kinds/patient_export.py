"""The patient record export: for the patient (an access request), their whole record as a PDF with the same data as JSON inside it.

A record too large to render as one document in time is issued in volumes (`volumes`): volume 1 holds the
patient's details, the health questionnaires they signed (submitted intakes; drafts and withdrawn ones are
not part of the record), consultations, signed consents, the photographs not taken in a plan's course and the
list of documents issued; each further volume holds one treatment plan with its sessions and its
photographs. Why this cut: what grows without end is treatment (sessions, their addenda and photos),
and a plan holds at most twelve sessions, the largest record whose export was measured to render in
about 5 s (bench/bench_no_waiting.py); consultations and consents are few, apply to the record as a
whole (a consent covers every plan of its consultation) and are what a clinic hands over first. A
record of one plan, or of no more than a plan's most sessions in all, stays one export.

Volume 1 is made from the patient (its source id is the patient's public id, as the single export's);
a plan's volume from the plan (the plan's public id), so each volume keeps its own versions and number.
Every volume lists all of them, and carries its own part of the record as JSON.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, lazyload, object_session, selectinload

from practitioner.consents.models import Consent
from practitioner.consultations.models import Consultation
from practitioner.documents.kinds._common import (
    LANGUAGE,
    _local,
    _user,
    consent_values,
    consultation_values,
    issued_values,
    patient_values,
    plan_values,
    session_values,
    slug,
)
from practitioner.clinical.screening import MODALITY_LABELS
from practitioner.dates import day_month_year
from practitioner.documents.kinds._types import DocumentSpec, DocumentType, Offer, SourceNotFound
from practitioner.documents.kinds import aftercare as aftercare_kind
from practitioner.documents.kinds import intake_record
from practitioner.intake.models import PatientIntake
from practitioner.documents.models import IssuedDocument
from practitioner.patients.models import Patient
from practitioner.per_request import remembered
from practitioner.photos.export import export_image_sources, export_photos
from practitioner.photos.models import ReviewVisit
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


#: The most sessions one export prints: a plan's most (treatment_plans.sessions_planned is 1 to 12). The largest
#: record the limits allow with this many renders in about 5 s (bench/bench_no_waiting.py); more are issued in volumes.
SESSIONS_PER_VOLUME = 12


@dataclass(frozen=True)
class Volume:
    """One volume of a patient's export: its number, how many there are, and the plan it holds (None: volume 1)."""

    number: int
    of: int
    plan_id: uuid.UUID | None
    plan_number: int  # the plan's place among the patient's plans (0 for volume 1)
    covers: str  # what it holds, in words

    @property
    def label(self) -> str:
        """As the Documents box offers it (lower-cased there after "Preview ", so no names or months here)."""
        holds = "details, consultations, consents" if self.plan_id is None else f"treatment plan {self.plan_number} of {self.of - 1}"
        return f"Patient record export, volume {self.number} of {self.of} ({holds})"


def volumes(session: Session, patient: Patient) -> list[Volume]:
    """The volumes a patient's export is issued in; empty when the record fits one export (one plan, or few sessions).

    One statement, asked once per page (the patient's Documents box asks it for its offers and their jobs).
    """
    return remembered(("export_volumes", patient.id), lambda: _volumes(session, patient))


# Built once (every patient page asks it): the patient's plans, each row with the patient's count of sessions.
_PLANS_AND_SESSIONS = (
    select(TreatmentPlan.public_id, TreatmentPlan.first_session_on, TreatmentPlan.modality,
           select(func.count()).select_from(TreatmentSession).where(TreatmentSession.patient_id == bindparam("patient_id"))
           .scalar_subquery().label("sessions"))
    .where(TreatmentPlan.patient_id == bindparam("patient_id"))
    .order_by(TreatmentPlan.first_session_on, TreatmentPlan.id)
)


def _volumes(session: Session, patient: Patient) -> list[Volume]:
    rows = session.execute(_PLANS_AND_SESSIONS, {"patient_id": patient.id}).all()
    if len(rows) < 2:
        return []
    if (rows[0].sessions or 0) <= SESSIONS_PER_VOLUME:
        return []
    plans = [(plan_id, first, modality) for plan_id, first, modality, _ in rows]
    count = len(plans) + 1
    return [Volume(1, count, None, 0, "your details, consultations, signed consents, the health questionnaires you "
                                      "signed, the photographs taken outside a treatment plan, and the documents issued "
                                      "to you"),
            *(Volume(number + 2, count, plan_id, number + 1,
                     f"treatment plan {number + 1} of {len(plans)}: {MODALITY_LABELS.get(modality, modality)}, "
                     f"from {day_month_year(first)}, with its sessions and photographs")
              for number, (plan_id, first, modality) in enumerate(plans))]


def _volume_values(volume: Volume, every: list[Volume]) -> dict[str, Any]:
    return {"number": volume.number, "of": volume.of, "covers": volume.covers,
            "all": [{"number": v.number, "covers": v.covers} for v in every]}


def _in_plan(session: Session, plan: TreatmentPlan, records: list[TreatmentSession]) -> set[str]:
    """The public ids of the visits of a plan's course: its sessions and its review visits."""
    reviews = session.scalars(select(ReviewVisit.public_id).where(ReviewVisit.plan_id == plan.id))
    return {str(r.public_id) for r in records} | {str(public_id) for public_id in reviews}


def signed_intakes(session: Session, patient_id: int) -> list[PatientIntake]:
    """The patient's signed (submitted) intakes, oldest first, with their reviewers: one statement and one for the
    reviewers. Drafts and withdrawn intakes were never signed and are not part of the record."""
    return list(session.scalars(
        select(PatientIntake).where(PatientIntake.patient_id == patient_id, PatientIntake.status == "submitted")
        .order_by(PatientIntake.submitted_at, PatientIntake.id)
        .options(lazyload(PatientIntake.patient), selectinload(PatientIntake.reviewed_by))))


def intake_export_values(intake: PatientIntake) -> dict[str, Any]:
    """A signed intake as the health questionnaire prints it (its builder, shared; without the signature image, as
    the export prints consents), and whether and when a practitioner reviewed it."""
    reviewed = ({"at": _local(intake.reviewed_at), "by": _user(intake.reviewed_by)}
                if intake.reviewed_at is not None else None)
    if intake.text_version not in intake_record.WORDINGS:
        # Signed in a wording this version does not hold: named with its fingerprint, its answers not reworded.
        return {"public_id": str(intake.public_id), "channel": intake_record.CHANNEL_WORDS.get(intake.channel, intake.channel),
                "submitted_at": _local(intake.submitted_at), "text_version": intake.text_version, "sha256": intake.sha256,
                "reviewed": reviewed, "not_printed": intake_record.missing(intake)}
    return {**intake_record.intake_values(intake, with_signature=False), "reviewed": reviewed, "not_printed": None}


def export_values(session: Session, patient: Patient, volume: Volume | None = None,
                  every: list[Volume] | None = None) -> dict[str, Any]:
    """Everything the record holds about one patient, as one plain dict (the PDF and the JSON both print it).

    With a volume, only that volume's part of the record (see the module's docstring), and what the volume is.
    """
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
    photos = export_photos(session, patient.id)
    intakes = signed_intakes(session, patient.id)
    if volume is not None:
        planned = {plan.id: _in_plan(session, plan, [r for r in records if r.plan_id == plan.id]) for plan in plans}
        if volume.plan_id is None:  # volume 1: all but the plans' courses
            in_plans = set().union(*planned.values())
            plans, records = [], []
            photos = [ph for ph in photos if ph["visit"]["public_id"] not in in_plans]
        else:
            plans = [plan for plan in plans if plan.public_id == volume.plan_id]
            records = [r for r in records if r.plan_id == plans[0].id]
            photos = [ph for ph in photos if ph["visit"]["public_id"] in planned[plans[0].id]]
            consultations, consents, documents, intakes = [], [], [], []
    values = {
        "schema": EXPORT_SCHEMA,
        "schema_version": EXPORT_SCHEMA_VERSION,
        "language": LANGUAGE,
        "notes": "Dates are ISO 8601; times carry the clinic's UTC offset. Records are named by their public ids only.",
        "patient": patient_values(patient),
        "intakes": [intake_export_values(i) for i in intakes],
        "consultations": [consultation_values(c) for c in consultations],
        "treatment_plans": [plan_values(p) for p in plans],
        "consents": [consent_values(c, with_signature=False) for c in consents],
        "sessions": [session_values(r, sorted(aftercare.get(str(r.public_id), []), key=lambda d: d.version)) for r in records],
        "issued_documents": [issued_values(d) for d in documents],
        "photos": photos,
    }
    if volume is not None:
        values["volume"] = _volume_values(volume, every or [volume])
    return values


def build(session: Session, record: Patient | TreatmentPlan, issued_on: date | None = None) -> DocumentSpec:
    """A patient's whole record for an access request: a readable PDF and the same data as JSON; or one volume of it.

    From the patient: the whole record, or volume 1 when the record comes in volumes; from a plan: that plan's volume.
    """
    patient = record if isinstance(record, Patient) else session.get(Patient, record.patient_id)
    every = volumes(session, patient)
    wanted = None if isinstance(record, Patient) else record.public_id
    volume = next((v for v in every if v.plan_id == wanted), None)
    data = export_values(session, patient, volume, every)
    # The photos' small copies are the one thing the PDF prints that the JSON does not hold (photos.export says why).
    context = {"record": data, "photo_images": export_image_sources(session, data["photos"]),
               "volume": data.get("volume"), "summary": f"Patient record export for {patient.full_name}"}
    title, stem = "Your patient record", f"patient-record-{slug(patient.full_name)}"
    if volume is not None:
        title += f", volume {volume.number} of {volume.of}"
        stem += f"-volume-{volume.number}-of-{volume.of}"
        context["summary"] += f", volume {volume.number} of {volume.of}"
    spec = DocumentSpec(TYPE.kind, str(record.public_id), patient.id, TYPE.template, title,
                        context, f"{LANGUAGE}-export-{EXPORT_SCHEMA_VERSION}", stem)
    spec.json_data = export_json(data)
    return spec


FITS_ONE_EXPORT = ("This patient's record fits one export: issue the patient record export from the patient's page "
                   "(it is issued in volumes, one for each treatment plan, only when the record has more than "
                   f"{SESSIONS_PER_VOLUME} sessions across several plans).")


def missing(record: Patient | TreatmentPlan) -> str | None:
    """Nothing for the patient; for a plan, the refusal when the record is not issued in volumes."""
    if isinstance(record, Patient):
        return None
    session = object_session(record)
    patient = session.get(Patient, record.patient_id) if session is not None else None
    if patient is None or not any(v.plan_id == record.public_id for v in volumes(session, patient)):
        return FITS_ONE_EXPORT
    return None


class ExportType(DocumentType):
    """The export's type: made from the patient (the whole record, or volume 1) or from one of their plans (its volume)."""

    def load(self, session: Session, public_id: uuid.UUID) -> Any:
        """The patient with this public id, else the treatment plan with it (a volume), else SourceNotFound."""
        try:
            return super().load(session, public_id)
        except SourceNotFound:
            plan = session.scalars(select(TreatmentPlan).where(TreatmentPlan.public_id == public_id)).first()
            if plan is None:
                raise
            return plan

    def offers(self, session: Session, record: Any) -> tuple[Offer, ...]:
        """The whole export, or each volume when the record comes in volumes."""
        every = volumes(session, record)
        if not every:
            return super().offers(session, record)
        return tuple(Offer(v.label, f"Issue volume {v.number} of {v.of} to the patient", v.plan_id or record.public_id)
                     for v in every)

    def page_record(self, session: Session, source_id: uuid.UUID | str) -> uuid.UUID | str:
        """The patient's public id, also for a plan's volume (the volumes are offered on the patient's page)."""
        patient = session.scalar(select(Patient.public_id).join(TreatmentPlan, TreatmentPlan.patient_id == Patient.id)
                                 .where(TreatmentPlan.public_id == uuid.UUID(str(source_id))))
        return patient or source_id


TYPE = ExportType(
    code="patient-export",
    label="Patient record export",
    number_prefix="PX",
    source=Patient,
    source_name="patient",
    template="patient_export.html",
    for_patient=True,
    build=build,
    missing=missing,
)
