"""Making documents: build the plain context, render outside any transaction, archive what was issued."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, time, timezone
from functools import cache
from typing import Callable

from sqlalchemy import Select, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from practitioner import audit
from practitioner.auth.models import User
from practitioner.database import utcnow
from practitioner.dates import day_month_year, to_clinic_time
from practitioner.admin.services import get_settings
from practitioner.documents import kinds
from practitioner.documents.kinds import DocumentSpec, NotReady, SourceNotFound  # noqa: F401  (callers catch them from here too)
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.documents.pdf.pool import render_pdf
from practitioner.documents.pdf.worker import AttachedFile
from practitioner.errors import NotAllowed
from practitioner.patients.models import Patient
from practitioner.per_request import remembered
from practitioner.unit_of_work import CommitReason, commit_exception


def build(session: Session, kind: DocumentKind, source_id: uuid.UUID, issued_on: date) -> DocumentSpec:
    """The document's spec from the database (a read: the caller ends the transaction before rendering).

    SourceNotFound when no record of the kind's source has this id; NotReady when the record cannot make it yet.
    """
    document_type = kinds.get(kind)
    if kind.value in PRINTS_THE_SIGNED_RECORD:
        refuse_if_altered(session, document_type.source, source_id)
    return document_type.make(session, source_id, issued_on)


# The kinds that print a signed record itself: its hash is re-checked by `build` before each one is made. (The
# aftercare, the export and the others that print signed records: `refuse_if_prints_altered`, below.)
PRINTS_THE_SIGNED_RECORD = frozenset({"session-record", "consent-form", "intake-record"})


class RecordAltered(NotReady):
    """The signed record no longer matches what was signed: it is not printed."""


def refuse_if_altered(session: Session, source: type, source_id: uuid.UUID) -> None:
    """RecordAltered when the source is a signed session, consent or intake that no longer matches its signature."""
    from practitioner.consents import services as consents
    from practitioner.consents.models import Consent
    from practitioner.documents.kinds import intake_record
    from practitioner.intake.models import PatientIntake
    from practitioner.treatments import services as treatments
    from practitioner.treatments.models import TreatmentSession

    checks = {TreatmentSession: (treatments.integrity_problems, treatments.tamper_warning),
              Consent: (consents.integrity_problems, consents.tamper_warning),
              PatientIntake: (intake_record.integrity_problems, intake_record.tamper_warning)}
    if source not in checks:
        return
    record = session.scalar(source.by_public_id(source_id))
    problems, warning = checks[source]
    if record is not None and problems(session, record):
        raise RecordAltered("Not printed. " + warning(record))


def build_to_print(session: Session, kind: DocumentKind, source_id: uuid.UUID, issued_on: date) -> DocumentSpec:
    """`build`, once every signed record the document prints has been re-checked (`refuse_if_prints_altered`):
    what previews, issues and the document jobs render."""
    refuse_if_prints_altered(session, kind, source_id)
    return build(session, kind, source_id, issued_on)


# The signed records each kind prints besides its own source (which `build` checks for the kinds above): the
# aftercare's session, the export's sessions, consents and signed intakes, a consultation summary's consents, the
# sessions a progress sheet lists. Each is checked against its stored SHA-256 and its sealing audit row before the render,
# in a fixed number of statements however many it prints (the session's rows by key, then one audit query).
# Kept out of `build`, which reads only what the document prints (tests/documents/test_issuing.py).
PRINTED_SIGNED_RECORDS = {"aftercare": "session", "patient-export": "patient", "consultation-summary": "consultation",
                          "progress-sheet": "plan"}
SEALED_ACTIONS = ("session.sign", "session.addendum", "consent.sign")


def refuse_if_prints_altered(session: Session, kind: DocumentKind, source_id: uuid.UUID) -> None:
    """RecordAltered, naming the record, when a signed session, consent or intake the document prints no longer
    matches what was signed (the red integrity warning of the session's and consent's pages): it is not printed."""
    from practitioner.consents import services as consents
    from practitioner.documents.kinds import intake_record
    from practitioner.intake import services as intake_services
    from practitioner.treatments import services as treatments

    if PRINTED_SIGNED_RECORDS.get(kind.value) == "patient":  # any volume of the export: the patient's whole record is checked
        source_id = uuid.UUID(str(kinds.get(kind).page_record(session, source_id)))
    records, signed_consents = printed_signed_records(session, kind, source_id)
    intakes = printed_signed_intakes(session, kind, source_id)
    if not records and not signed_consents and not intakes:
        return
    patient_id = (records or signed_consents or intakes)[0].patient_id
    targets = ([f"session:{r.public_id}" for r in records] + [f"consent:{c.public_id}" for c in signed_consents]
               + [f"intake:{i.public_id}" for i in intakes])
    sealed = audit.sealed_details_for(session, patient_id, (*SEALED_ACTIONS, intake_services.ACTION_SUBMITTED), targets)
    for intake in intakes:
        if intake_services.integrity_problems(intake, sealed):
            raise RecordAltered(f"Not printed. {intake_record.tamper_warning(intake)} The record that changed: the health "
                                f"questionnaire signed on {day_month_year(to_clinic_time(intake.submitted_at).date())}.")
    for record in records:
        if treatments.integrity_problems(session, record, sealed):
            raise RecordAltered(f"Not printed. {treatments.tamper_warning(record)} The record that changed: session "
                                f"{record.sequence} of {day_month_year(record.session_date)}.")
    for consent in signed_consents:
        if consents.integrity_problems(session, consent, sealed):
            raise RecordAltered(f"Not printed. {consents.tamper_warning(consent)} The record that changed: the consent "
                                f"signed on {day_month_year(to_clinic_time(consent.signed_at).date())}.")


def printed_signed_records(session: Session, kind: DocumentKind, source_id: uuid.UUID) -> tuple[list, list]:
    """The signed sessions and the consents a document of this kind prints, loaded with what their hashes cover."""
    from sqlalchemy.orm import lazyload, selectinload, undefer

    from practitioner.consents.models import Consent
    from practitioner.consultations.models import Consultation
    from practitioner.plans.models import TreatmentPlan
    from practitioner.treatments.models import TreatmentSession

    source = PRINTED_SIGNED_RECORDS.get(kind.value)
    if source is None:
        return [], []
    patient = select(Patient.id).where(Patient.public_id == source_id).scalar_subquery()
    session_where = {"session": TreatmentSession.public_id == source_id, "patient": TreatmentSession.patient_id == patient,
                     "plan": TreatmentSession.plan_id == select(TreatmentPlan.id).where(TreatmentPlan.public_id == source_id)
                     .scalar_subquery()}.get(source)
    consent_where = {"patient": Consent.patient_id == patient,
                     "consultation": Consent.consultation_id == select(Consultation.id).where(Consultation.public_id == source_id)
                     .scalar_subquery()}.get(source)
    records = [] if session_where is None else list(session.scalars(
        select(TreatmentSession).where(session_where, TreatmentSession.signed_at.is_not(None)).order_by(TreatmentSession.id)
        .options(
            # What the record's hash covers and no more, by key (never the session's default graph).
            lazyload("*"),
            selectinload(TreatmentSession.patient).lazyload("*"),
            selectinload(TreatmentSession.plan).lazyload("*"),
            selectinload(TreatmentSession.practitioner).lazyload("*"),
            selectinload(TreatmentSession.consent).load_only(Consent.id, Consent.public_id).lazyload("*"),
            selectinload(TreatmentSession.zones), selectinload(TreatmentSession.products),
            selectinload(TreatmentSession.adverse_events), selectinload(TreatmentSession.addenda).lazyload("*"),
            selectinload(TreatmentSession.rescreen_flag_rows), selectinload(TreatmentSession.acknowledged_warning_rows),
        )))
    found_consents = [] if consent_where is None else list(session.scalars(
        select(Consent).where(consent_where).order_by(Consent.id).options(lazyload("*"), undefer(Consent.signature_png))))
    return records, found_consents


def printed_signed_intakes(session: Session, kind: DocumentKind, source_id: uuid.UUID) -> list:
    """The signed intakes a document of this kind prints besides its own source (the export's whole record or its
    volume 1: made from the patient), with the signature their hash covers; one statement, none for other kinds."""
    from sqlalchemy.orm import lazyload, undefer

    from practitioner.intake.models import PatientIntake

    if PRINTED_SIGNED_RECORDS.get(kind.value) != "patient":
        return []
    patient = select(Patient.id).where(Patient.public_id == source_id).scalar_subquery()
    return list(session.scalars(
        select(PatientIntake).where(PatientIntake.patient_id == patient, PatientIntake.status == "submitted")
        .order_by(PatientIntake.id).options(lazyload("*"), undefer(PatientIntake.signature_png))))


class DocumentAltered(Exception):
    """An issued document's stored bytes no longer match the SHA-256 recorded when it was issued."""


def checked_bytes(session: Session, issued: IssuedDocument, *, json_copy: bool = False) -> bytes:
    """The stored bytes of an issued document, after checking them against their SHA-256 and the issue's audit row."""
    body = issued.json_data if json_copy else issued.pdf
    expected = issued.json_sha256 if json_copy else issued.pdf_sha256
    sealed = audit.sealed_details(session, "document.issue", f"document:{issued.public_id}", patient_id=issued.patient_id)
    if hashlib.sha256(body).hexdigest() != expected or not any(
            d.get("sha256") == issued.pdf_sha256 and d.get("json_sha256", issued.json_sha256) == issued.json_sha256 for d in sealed):
        raise DocumentAltered(f"Not reprinted: the stored copy of document {issued.number} does not match what was issued. "
                              "It may have been changed outside Practitioner. Tell the clinic's administrator.")
    return body


def render(spec: DocumentSpec, *, large_print: bool = False, owner: str = "") -> bytes:
    """The PDF bytes of a spec. Call with no database transaction open: rendering takes a while.

    `owner` (who asked, e.g. "user:12") is where the render process's fair queue puts this render: one person's
    previews and exports wait behind each other, not in front of someone else's (practitioner.documents.pdf.pool).
    """
    return render_pdf(spec.template, spec.context, title=spec.title, paper=spec.paper, large_print=large_print, logo_png=spec.logo_png,
                      attachments=attachments(spec, large_print), owner=owner)


def owner_of(actor: User) -> str:
    """The fair queue's key for a person's renders."""
    return f"user:{actor.id}"


def filename(spec: DocumentSpec, large_print: bool = False) -> str:
    """A sensible download name: kind, patient, date, version."""
    return f"{spec.filename_stem}-v{spec.version}{'-large-print' if large_print else ''}.pdf"


def attachments(spec: DocumentSpec, large_print: bool = False) -> tuple[AttachedFile, ...]:
    """The files carried inside the PDF: the export's JSON, under the name its download link gives it."""
    if not spec.json_data:
        return ()
    issued_on = spec.context["document"]["issued_on"]
    made = datetime.combine(issued_on, time(), tzinfo=timezone.utc)
    return (AttachedFile(name=filename(spec, large_print).removesuffix(".pdf") + ".json", data=spec.json_data,
                         description="The same record as this document, machine-readable (JSON)", modified=made),)


class IssueConflict(NotAllowed):
    """Two people issued the same document at the same moment."""


def archive(session: Session, spec: DocumentSpec, pdf: bytes, *, actor: User, large_print: bool = False, ip_address: str = "") -> IssuedDocument:
    """Keep exactly what the patient was given: the bytes, their SHA-256, the content version, who and when."""
    issued = IssuedDocument(
        patient_id=spec.patient_id, kind=spec.kind, source_id=spec.source_id, version=spec.version, number=spec.number,
        title=spec.title, filename=filename(spec, large_print), content_version=spec.content_version, large_print=large_print,
        pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest(), json_data=spec.json_data,
        json_sha256=hashlib.sha256(spec.json_data).hexdigest() if spec.json_data else "", issued_by_id=actor.id, issued_at=utcnow(),
    )
    session.add(issued)
    try:
        session.flush()
    except IntegrityError as exc:
        raise IssueConflict("Someone issued this document at the same moment. Reload the page: it is in the list.") from exc
    patient = session.get(Patient, spec.patient_id)
    audit.append(session, "document.issue", actor=actor, patient=patient, target=f"document:{issued.public_id}",
                 detail={"kind": spec.kind.value, "number": spec.number, "version": spec.version, "sha256": issued.pdf_sha256,
                         "content_version": spec.content_version,
                         **({"json_sha256": issued.json_sha256} if issued.json_sha256 else {})}, ip_address=ip_address)
    return issued


def issued_for_patient(session: Session, patient_id: int) -> list[IssuedDocument]:
    """Everything a patient was given, newest first (without loading the PDF bytes); read once per page (the timeline
    and the Documents box both list it)."""
    return remembered(("issued_for_patient", patient_id), lambda: list(session.scalars(_issued_for_patient(), {"patient_id": patient_id})))


@cache
def _issued_for_patient() -> Select[tuple[IssuedDocument]]:
    # Built once per process: every patient page runs it.
    return (select(IssuedDocument).where(IssuedDocument.patient_id == bindparam("patient_id"))
            .order_by(IssuedDocument.issued_at.desc(), IssuedDocument.id.desc()))


def issued_for_source(session: Session, kind: DocumentKind, source_id: str) -> list[IssuedDocument]:
    """Every issued version of one document, newest first."""
    return list(session.scalars(select(IssuedDocument).where(IssuedDocument.kind == kind, IssuedDocument.source_id == source_id)
                                .order_by(IssuedDocument.version.desc())))


def record_reprint(session: Session, issued: IssuedDocument, *, actor: User, ip_address: str = "") -> None:
    """A reprint shows a patient's document again: audited like a view."""
    audit.append(session, "document.reprint", actor=actor, patient=issued.patient_id,
                 target=f"document:{issued.public_id}", detail={"number": issued.number}, ip_address=ip_address)


class NoClinicPhone(NotReady):
    """A patient document would tell the patient to call a clinic with no phone number."""


NO_PHONE_MESSAGE = ("Not issued: the clinic has no phone number, and patient documents tell the patient whom to call. "
                    "An administrator can add it on the Clinic settings page (Clinic settings in the menu, /admin/settings).")


def check_can_issue(session: Session, kind: DocumentKind) -> None:
    """Refuse to issue a patient document while the clinic's phone number is not set."""
    if kind.for_patient and not (get_settings(session).phone or "").strip():
        raise NoClinicPhone(NO_PHONE_MESSAGE)


def issue_now(session: Session, kind: DocumentKind, source_id: uuid.UUID, *, actor: User, issued_on: date,
              large_print: bool = False, ip_address: str = "",
              with_archive: Callable[[IssuedDocument], None] | None = None) -> IssuedDocument:
    """Build, render with no transaction open, archive and commit: the whole issue in one call.

    `with_archive(issued)` runs in the archive's transaction (a background job marks itself done there, so a
    job is never left unfinished with its document archived).
    """
    spec = build_to_print(session, kind, source_id, issued_on)
    check_can_issue(session, kind)
    # End the read before rendering: on SQLite an open transaction holds the write lock.
    commit_exception(CommitReason.RENDER_THEN_ARCHIVE, session)
    pdf = render(spec, large_print=large_print, owner=owner_of(actor))
    issued = archive(session, spec, pdf, actor=actor, large_print=large_print, ip_address=ip_address)
    if with_archive is not None:
        with_archive(issued)
    commit_exception(CommitReason.RENDER_THEN_ARCHIVE, session)
    return issued
