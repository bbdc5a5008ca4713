"""The patient record export: for the patient (an access request), their whole record as a PDF with the same data as JSON inside it.

A record too large to render as one document in time is issued in volumes (`volumes`; docs/documents.md, "The
patient record export in volumes"). First the record-wide volumes: the health questionnaires the patient signed
(submitted intakes; drafts and withdrawn ones are not part of the record), consultations with their consents and
photographs, review visits outside a plan with their photographs, and the documents issued, in date order, cut into
parts packed to a render budget by a measured cost model (`COST_MS`, `VOLUME_BUDGET_MS`); part 1, volume 1, also
holds the patient's details. Then one volume per treatment plan, with its sessions and photographs (a plan holds at
most twelve sessions, within the session limits). Nothing caps consultations, intakes or documents per patient (a
regular patient has years of visits), so the record-wide part is cut as plans are. A record whose whole estimate fits
the budget, with no more than twelve sessions across its plans, stays one export.

Volume 1 is made from the patient (its source id is the patient's public id, as the single export's); a plan's
volume from the plan; a later record-wide part from its first record (a consultation, a signed intake, a review visit
or a document issued), so each volume keeps its own versions and number. Every volume lists all of them, and carries
its own part of the record as JSON, with the patient's details.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Integer, String, bindparam, cast, func, literal, null, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
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
from practitioner.dates import day_month_year, to_clinic_time
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


#: The most sessions one export prints when the record has several plans: a plan's most (treatment_plans.sessions_planned
#: is 1 to 12). A record of more, across several plans, is issued in volumes whatever it weighs (as before the cost model).
SESSIONS_PER_VOLUME = 12

#: What an item adds to an export's render, in milliseconds on the bench machine (bench/bench_export_item_costs.py, a
#: shared 2-core machine at load average 5 to 9, rounded up; the model in docs/documents.md): a fixed part for each
#: item, and each byte (UTF-8) of its free text. Bytes, not characters: a text in another script takes two to four
#: bytes a character and costs the render more (it looks for the fonts of each script). Photographs are printed
#: small, each a fixed cost. The volumes are packed by this estimate, worked out from lengths and counts in one
#: statement, so a record of short notes stays one export where a record of the same items at every limit does not.
COST_MS = {
    "details": 500,  # the patient's details at every limit, the front matter, the closing
    "consultation": 450,
    "consent": 250,
    "intake": 100,
    "review": 50,
    # A photograph's stored 480 px thumbnail is embedded as it is, one grid a row: 14 to 30 ms of render CPU a photo
    # (bench/bench_export_photos.py, 0 to 144 in a plan volume, two runs: 30 ms at load average 6.3 to 5.5, cpu speed
    # line 33.5 ms; 14 ms at load average 3.7 to 3.0, cpu speed line 90.8 ms; bench/RESULTS.md), so 40: the worst
    # run's figure and a third more. (It was 200, from bench_export_item_costs.py's wall time a photo, 0.09-0.21 s.)
    "photo": 40,
    "document": 20,  # a row of the documents-issued list
    "plan": 50,
    "session": 400,
    "addendum": 10,
}
PER_BYTE_MS = 0.02
#: A signed intake's answers, counted as stored (JSON, with its keys), cost more a byte: they print as many small
#: table cells (the corpus's hostile intake, 9,844 bytes, rendered in 0.44 to 0.93 s; a realistic one, 2,770 bytes,
#: in about 0.2 s).
PER_INTAKE_BYTE_MS = 0.08
#: The most one volume is packed to, and the most one export may weigh before it is issued in volumes. The goal is
#: under 10 s for any document; at every limit a volume of this weight rendered in at most about 7 s (RESULTS.md).
VOLUME_BUDGET_MS = 7000


@dataclass(frozen=True)
class Volume:
    """One volume of a patient's export: its number, how many there are, and what it holds.

    A plan's volume names its plan (`plan_id`); a record-wide volume (details and documents in part 1, then
    consultations with their consents, signed intakes and photographs outside a plan, in date order) holds the
    public ids in `holds` (None: all of them) and is part `part` of `parts`.
    """

    number: int
    of: int
    plan_id: uuid.UUID | None
    plan_number: int  # the plan's place among the patient's plans (0 for a record-wide volume)
    covers: str  # what it holds, in words
    part: int = 1
    parts: int = 1
    holds: frozenset[str] | None = None
    first_item: uuid.UUID | None = None  # the first record a record-wide part after the first holds: its source id
    weight_ms: float = 0.0  # what it is estimated to cost to render (COST_MS)

    @property
    def source_id(self) -> uuid.UUID | None:
        """The public id the volume is made from: the plan's, the first record of a later part's, None for volume 1 (the patient's)."""
        return self.plan_id if self.plan_id is not None else (self.first_item if self.part > 1 else None)

    @property
    def label(self) -> str:
        """As the Documents box offers it (lower-cased there after "Preview ", so no names or months here)."""
        if self.plan_id is not None:
            holds = f"treatment plan {self.plan_number} of {self.of - self.parts}"
        elif self.parts == 1:
            holds = "details, consultations, consents"
        else:
            holds = f"{'details, ' if self.part == 1 else ''}consultations, consents, part {self.part} of {self.parts}"
        return f"Patient record export, volume {self.number} of {self.of} ({holds})"

    @property
    def contents(self) -> tuple[str, ...]:
        """The record's parts (the JSON's keys) this volume prints."""
        if self.plan_id is not None:
            return ("treatment_plans", "sessions", "photos")
        return (("patient",) if self.part == 1 else ()) + ("intakes", "consultations", "consents", "photos", "issued_documents")


def volumes(session: Session, patient: Patient) -> list[Volume]:
    """The volumes a patient's export is issued in; empty when the record fits one export.

    One statement, asked once per page (the patient's Documents box asks it for its offers and their jobs).
    """
    return remembered(("export_volumes", patient.id), lambda: _volumes(session, patient))


@dataclass(frozen=True)
class _Item:
    """One record-wide item (a consultation with its consents and photos, a signed intake, a review visit outside a
    plan with its photos) or one plan, with what it is estimated to add to a render."""

    kind: str
    public_id: uuid.UUID
    day: date
    order: tuple[date, int, int]
    cost_ms: float
    sessions: int = 0
    label: str = ""


class _bytes(FunctionElement):  # noqa: N801  (an SQL function's name)
    """The UTF-8 bytes of a text: octet_length() on PostgreSQL, length(CAST(x AS BLOB)) on SQLite (before 3.43)."""

    type = Integer()
    name = "octet_length"
    inherit_cache = True


@compiles(_bytes)
def _octet_length(element: Any, compiler: Any, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(_bytes, "sqlite")
def _sqlite_bytes(element: Any, compiler: Any, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def _length(*columns: Any) -> Any:
    total = func.coalesce(_bytes(columns[0]), 0)
    for column in columns[1:]:
        total = total + func.coalesce(_bytes(column), 0)
    return total


def _sum(expression: Any, *where: Any, join: Any = None) -> Any:
    query = select(func.coalesce(func.sum(expression), 0))
    if join is not None:
        query = query.join(*join)
    return query.where(*where).scalar_subquery()


def _count(model: Any, *where: Any, join: Any = None) -> Any:
    query = select(func.count()).select_from(model)
    if join is not None:
        query = query.join(*join)
    return query.where(*where).scalar_subquery()


def _items_statement() -> Any:
    """The patient's plans and record-wide items with their lengths and counts: one statement (a UNION ALL of five)."""
    from practitioner.consultations.models import ScreeningFlag, ScreeningOverride
    from practitioner.photos.models import Photo
    from practitioner.treatments.models import Addendum, SessionAdverseEvent, SessionProduct

    patient = bindparam("patient_id")
    no_day, no_moment, no_label = cast(null(), Date), cast(null(), DateTime), cast(null(), String)
    in_plan = (TreatmentSession, TreatmentSession.id == Addendum.session_id)
    plans = select(
        literal("plan").label("kind"), TreatmentPlan.public_id.label("public_id"), TreatmentPlan.first_session_on.label("day"),
        no_moment.label("moment"), TreatmentPlan.id.label("row"), TreatmentPlan.modality.label("label"),
        _count(TreatmentSession, TreatmentSession.plan_id == TreatmentPlan.id).label("sessions"),
        _count(Addendum, TreatmentSession.plan_id == TreatmentPlan.id, join=in_plan).label("extras"),
        (_sum(_length(TreatmentSession.changes_since_consultation, TreatmentSession.new_medicines,
                      TreatmentSession.post_care_products, TreatmentSession.clinical_note, TreatmentSession.override_reason,
                      TreatmentSession.supervisor), TreatmentSession.plan_id == TreatmentPlan.id)
         + _sum(_length(Addendum.reason, Addendum.text), TreatmentSession.plan_id == TreatmentPlan.id, join=in_plan)
         + _sum(_length(SessionProduct.name, SessionProduct.lot), TreatmentSession.plan_id == TreatmentPlan.id,
                join=(TreatmentSession, TreatmentSession.id == SessionProduct.session_id))
         + _sum(_length(SessionAdverseEvent.detail, SessionAdverseEvent.action_taken), TreatmentSession.plan_id == TreatmentPlan.id,
                join=(TreatmentSession, TreatmentSession.id == SessionAdverseEvent.session_id))
         + _length(TreatmentPlan.notes)).label("text_bytes"),
        (_count(Photo, TreatmentSession.plan_id == TreatmentPlan.id, join=(TreatmentSession, TreatmentSession.id == Photo.session_id))
         + _count(Photo, ReviewVisit.plan_id == TreatmentPlan.id, join=(ReviewVisit, ReviewVisit.id == Photo.review_visit_id)))
        .label("photos"),
    ).where(TreatmentPlan.patient_id == patient)
    consultations = select(
        literal("consultation"), Consultation.public_id, Consultation.consultation_date, no_moment, Consultation.id, no_label,
        literal(0), _count(Consent, Consent.consultation_id == Consultation.id),
        (_length(Consultation.notes, Consultation.skin_notes, Consultation.device_name)
         + _sum(_length(ScreeningOverride.reason), ScreeningOverride.consultation_id == Consultation.id)
         + _sum(_length(ScreeningFlag.reason), ScreeningFlag.consultation_id == Consultation.id)
         + _sum(_length(Consent.content_text), Consent.consultation_id == Consultation.id)),
        _count(Photo, Photo.consultation_id == Consultation.id),
    ).where(Consultation.patient_id == patient)
    intakes = select(
        literal("intake"), PatientIntake.public_id, no_day, PatientIntake.submitted_at, PatientIntake.id, no_label, literal(0),
        literal(0), _length(PatientIntake.answers_json), literal(0),
    ).where(PatientIntake.patient_id == patient, PatientIntake.status == "submitted")
    reviews = select(
        literal("review"), ReviewVisit.public_id, ReviewVisit.visit_date, no_moment, ReviewVisit.id, no_label, literal(0),
        literal(0), _length(ReviewVisit.notes), _count(Photo, Photo.review_visit_id == ReviewVisit.id),
    ).where(ReviewVisit.patient_id == patient, ReviewVisit.plan_id.is_(None))
    documents = select(
        literal("document"), IssuedDocument.public_id, no_day, IssuedDocument.issued_at, IssuedDocument.id, no_label, literal(0),
        literal(0), literal(0), literal(0),
    ).where(IssuedDocument.patient_id == patient)
    return union_all(plans, consultations, intakes, reviews, documents)


_ITEMS = _items_statement()  # built once: every patient page asks it
_KIND_ORDER = {"intake": 0, "consultation": 1, "review": 2, "document": 3, "plan": 4}  # on one day: the questionnaire first


def _item(row: Any) -> _Item:
    day = row.day if row.moment is None else to_clinic_time(row.moment).date()
    text_bytes, photos = float(row.text_bytes or 0), float(row.photos or 0)
    if row.kind == "plan":
        cost = (COST_MS["plan"] + row.sessions * COST_MS["session"] + row.extras * COST_MS["addendum"]
                + text_bytes * PER_BYTE_MS + photos * COST_MS["photo"])
    elif row.kind == "intake":
        cost = COST_MS["intake"] + text_bytes * PER_INTAKE_BYTE_MS
    elif row.kind == "consultation":
        cost = COST_MS["consultation"] + row.extras * COST_MS["consent"] + text_bytes * PER_BYTE_MS + photos * COST_MS["photo"]
    elif row.kind == "document":
        cost = COST_MS["document"]
    else:
        cost = COST_MS["review"] + text_bytes * PER_BYTE_MS + photos * COST_MS["photo"]
    return _Item(row.kind, row.public_id, day, (day, _KIND_ORDER[row.kind], row.row), cost, row.sessions or 0, row.label or "")


def _volumes(session: Session, patient: Patient) -> list[Volume]:
    every = sorted((_item(row) for row in session.execute(_ITEMS, {"patient_id": patient.id})), key=lambda item: item.order)
    plans = [item for item in every if item.kind == "plan"]
    items = [item for item in every if item.kind != "plan"]
    fixed = COST_MS["details"]
    many_sessions = len(plans) >= 2 and sum(plan.sessions for plan in plans) > SESSIONS_PER_VOLUME
    if not many_sessions and fixed + sum(item.cost_ms for item in every) <= VOLUME_BUDGET_MS:
        return []
    parts = _packed(items, VOLUME_BUDGET_MS - fixed, VOLUME_BUDGET_MS)
    count = len(parts) + len(plans)
    record_wide = [Volume(number, count, None, 0, _covers(part, number, len(parts)), number, len(parts),
                          frozenset(str(item.public_id) for item in part), part[0].public_id if part else None,
                          sum(item.cost_ms for item in part) + (fixed if number == 1 else 0))
                   for number, part in enumerate(parts, start=1)]
    return [*record_wide,
            *(Volume(len(parts) + number, count, plan.public_id, number,
                     f"treatment plan {number} of {len(plans)}: {MODALITY_LABELS.get(plan.label, plan.label)}, "
                     f"from {day_month_year(plan.day)}, with its sessions and photographs", 1, len(parts),
                     weight_ms=plan.cost_ms)
              for number, plan in enumerate(plans, start=1))]


def _packed(items: list[_Item], first_budget: float, budget: float) -> list[list[_Item]]:
    """The record-wide items in date order, cut into parts of at most `budget` (the first, beside the details, of
    `first_budget`); an item heavier than a part alone has a part of its own. Always one part."""
    parts: list[list[_Item]] = [[]]
    weight = 0.0
    for item in items:
        room = first_budget if len(parts) == 1 else budget
        if parts[-1] and weight + item.cost_ms > room:
            parts.append([])
            weight = 0.0
        parts[-1].append(item)
        weight += item.cost_ms
    return parts


WHOLE_RECORD_WIDE = ("your details, consultations, signed consents, the health questionnaires you signed, the photographs "
                     "taken outside a treatment plan, and the documents issued to you")


def _covers(part: list[_Item], number: int, parts: int) -> str:
    if parts == 1:
        return WHOLE_RECORD_WIDE
    lead = "your details, and " if number == 1 else ""
    first, last = (day_month_year(part[0].day), day_month_year(part[-1].day)) if part else ("", "")
    dates = "" if not part else f", dated {first}" if first == last else f", dated {first} to {last}"
    return (f"{lead}your consultations, signed consents, health questionnaires you signed, photographs taken outside "
            f"a treatment plan and documents issued to you{dates} (part {number} of {parts})")


def _volume_values(volume: Volume, every: list[Volume]) -> dict[str, Any]:
    return {"number": volume.number, "of": volume.of, "covers": volume.covers, "holds": list(volume.contents),
            "part": volume.part if volume.plan_id is None else None, "parts": volume.parts,
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
        if volume.plan_id is None:  # a record-wide volume: all but the plans' courses (in part, when cut in parts)
            in_plans = set().union(*planned.values())
            plans, records = [], []
            photos = [ph for ph in photos if ph["visit"]["public_id"] not in in_plans]
            if volume.holds is not None:
                held = volume.holds
                consultations = [c for c in consultations if str(c.public_id) in held]
                kept = {c.id for c in consultations}
                consents = [c for c in consents if c.consultation_id in kept]
                intakes = [i for i in intakes if str(i.public_id) in held]
                photos = [ph for ph in photos if ph["visit"]["public_id"] in held]
                documents = [d for d in documents if str(d.public_id) in held]
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


#: What a volume's source may be, besides the patient (volume 1, or the whole export): a plan (its volume), or the first
#: record of a record-wide part after the first (a consultation, a signed intake, a review visit outside a plan or a
#: document issued).
VOLUME_SOURCES = (TreatmentPlan, Consultation, PatientIntake, ReviewVisit, IssuedDocument)
Source = Patient | TreatmentPlan | Consultation | PatientIntake | ReviewVisit | IssuedDocument


def build(session: Session, record: Source, issued_on: date | None = None) -> DocumentSpec:
    """A patient's whole record for an access request: a readable PDF and the same data as JSON; or one volume of it.

    From the patient: the whole record, or volume 1 when the record comes in volumes; from a plan: that plan's volume;
    from the first record of a later record-wide part: that part's volume.
    """
    patient = record if isinstance(record, Patient) else session.get(Patient, record.patient_id)
    every = volumes(session, patient)
    wanted = None if isinstance(record, Patient) else record.public_id
    volume = next((v for v in every if v.source_id == wanted), None)
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
                   "(it is issued in volumes only when the whole record is too large to prepare as one document in time).")
NOT_A_VOLUME = ("This is not one of the volumes this patient's record export is issued in now (the volumes move when a "
                "record dated earlier is added): issue the export from the patient's page, which offers each volume "
                "as the record stands.")


def missing(record: Source) -> str | None:
    """Nothing for the patient; for any other source, the refusal when it does not start a volume of the export."""
    if isinstance(record, Patient):
        return None
    session = object_session(record)
    patient = session.get(Patient, record.patient_id) if session is not None else None
    every = volumes(session, patient) if patient is not None else []
    if any(v.source_id == record.public_id for v in every):
        return None
    return NOT_A_VOLUME if every else FITS_ONE_EXPORT


def _patient_of(source_id: uuid.UUID, models: tuple[type, ...]) -> Any:
    """The patient's public id for a source of one of `models` (the statement; NULL for none)."""
    ids = [select(model.patient_id).where(model.public_id == source_id).scalar_subquery() for model in models]
    return select(Patient.public_id).where(Patient.id == func.coalesce(
        select(Patient.id).where(Patient.public_id == source_id).scalar_subquery(), *ids))


class ExportType(DocumentType):
    """The export's type: made from the patient (the whole record, or volume 1), from one of their plans (its volume)
    or from the first record of a later record-wide part (that part's volume)."""

    def load(self, session: Session, public_id: uuid.UUID) -> Any:
        """The patient with this public id, else the plan, consultation, signed intake, review visit or issued document
        with it (a volume's source, or a refusal from `missing`), else SourceNotFound."""
        try:
            return super().load(session, public_id)
        except SourceNotFound:
            for model in VOLUME_SOURCES:
                found = session.scalars(select(model).where(model.public_id == public_id)).first()
                if found is not None:
                    return found
            raise

    def offers(self, session: Session, record: Any) -> tuple[Offer, ...]:
        """The whole export, or each volume when the record comes in volumes."""
        every = volumes(session, record)
        if not every:
            return super().offers(session, record)
        return tuple(Offer(v.label, f"Issue volume {v.number} of {v.of} to the patient", v.source_id or record.public_id)
                     for v in every)

    def page_record(self, session: Session, source_id: uuid.UUID | str) -> uuid.UUID | str:
        """The patient's public id, for every volume (the volumes are offered on the patient's page): one statement, two
        for a part that starts with an intake."""
        key = uuid.UUID(str(source_id))
        patient = session.scalar(_patient_of(key, tuple(m for m in VOLUME_SOURCES if m is not PatientIntake)))
        if patient is None:  # a part that starts with a signed intake (asked apart: checking the export reads intakes once)
            patient = session.scalar(_patient_of(key, (PatientIntake,)))
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
