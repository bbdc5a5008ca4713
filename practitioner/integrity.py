"""Everything signed, issued or audited, checked against what was sealed when it was made (`flask audit-verify`).

The checks (docs/integrity.md): the audit chain (keyed, numbered without gaps, linked, its head in the
database), the head recorded outside the database (instance/audit-head.json, moved forward after every
audited write by practitioner/audit_head.py, so deleting the newest rows and moving the database's head
back is found), every signed session and its addenda, every consent, every signed patient intake and
every issued document against their SHA-256 and the audit row that sealed them, every signing or issuing
audit row against a record that still exists, and every photo's bytes. This module sits above the
features (like cli.py): no feature imports it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner import audit, audit_head

HEAD_FILE_NAME = audit_head.HEAD_FILE_NAME
head_file = audit_head.head_file
read_head = audit_head.read_head


@dataclass(frozen=True)
class Finding:
    """One thing that does not match what was sealed: what it is, and how it differs."""

    what: str
    problem: str

    def __str__(self) -> str:
        return f"{self.what}: {self.problem}"


@dataclass
class Summary:
    """What was checked, and everything found wrong."""

    audit_rows: int = 0
    sessions: int = 0
    consents: int = 0
    intakes: int = 0
    documents: int = 0
    photos: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        """Nothing found wrong."""
        return not self.findings


def record_head(path: Path | None, report: audit.ChainReport) -> None:
    """Record a verified chain's head outside the database (only ever forward: audited writes move it too)."""
    if path is not None:
        audit_head.write_forward(path, report.last_event_id, report.last_hash, report.keyed_from_id)


def _head_findings(session: Session, report: audit.ChainReport, recorded: dict | None) -> Iterator[Finding]:
    if recorded is None:
        return
    if recorded.get("unreadable"):
        yield Finding("the recorded audit head", "the file outside the database cannot be read")
        return
    if recorded.get("keyed_from_id") != report.keyed_from_id:
        yield Finding("the audit chain's start of keying", f"moved from row {recorded.get('keyed_from_id')} to row "
                                                           f"{report.keyed_from_id} (rows before it are not keyed)")
    last = recorded.get("last_event_id")
    if last is None:
        return
    if report.last_event_id is None or last > report.last_event_id:
        yield Finding("the newest audit rows", f"rows {(report.last_event_id or 0) + 1} to {last} are missing: the head "
                                               f"recorded outside the database was row {last}")
        return
    table = audit.AuditEvent.__table__
    stored = session.scalar(select(table.c.hash).where(table.c.id == last))
    if stored is None or not hmac.compare_digest(stored, str(recorded.get("last_hash", ""))):
        yield Finding(f"audit row {last}", "differs from the head recorded outside the database (the chain was rewritten)")


def _session_findings(session: Session, summary: Summary) -> Iterator[Finding]:
    from practitioner.treatments import services as treatments
    from practitioner.treatments.models import TreatmentSession

    for record in session.scalars(select(TreatmentSession).where(TreatmentSession.signed_at.is_not(None))
                                  .order_by(TreatmentSession.id)):
        summary.sessions += 1
        for problem in treatments.integrity_problems(session, record):
            yield Finding(f"session {record.public_id}", problem)


def _consent_findings(session: Session, summary: Summary) -> Iterator[Finding]:
    from practitioner.consents import services as consents
    from practitioner.consents.models import Consent

    for consent in session.scalars(select(Consent).order_by(Consent.id)):
        summary.consents += 1
        for problem in consents.integrity_problems(session, consent):
            yield Finding(f"consent {consent.public_id}", problem)


def _intake_findings(session: Session, summary: Summary) -> Iterator[Finding]:
    """Every signed patient intake against its SHA-256 and its sealing audit row: two statements for all of them.

    Named by the patient's record number and the day it was submitted, never by its answers.
    """
    from sqlalchemy.orm import contains_eager, undefer

    from practitioner.dates import day_month_year, to_clinic_time
    from practitioner.intake import services as intake
    from practitioner.intake.models import PatientIntake
    from practitioner.patients.models import Patient

    sealed = None
    for record in session.scalars(
            select(PatientIntake).join(PatientIntake.patient).where(PatientIntake.status == "submitted")
            .order_by(PatientIntake.id)
            .options(contains_eager(PatientIntake.patient).load_only(Patient.record_number),
                     undefer(PatientIntake.signature_png))):
        summary.intakes += 1
        if sealed is None:  # only when there is one to check
            sealed = audit.sealed_details_all(session, intake.ACTION_SUBMITTED)
        for problem in intake.integrity_problems(record, sealed):
            submitted = day_month_year(to_clinic_time(record.submitted_at).date()) if record.submitted_at else "an unknown day"
            yield Finding(f"the intake of patient {record.patient.record_number} submitted on {submitted}", problem)


def _document_findings(session: Session, summary: Summary) -> Iterator[Finding]:
    from practitioner.documents import services as documents
    from practitioner.documents.models import IssuedDocument

    for issued in session.scalars(select(IssuedDocument).order_by(IssuedDocument.id)):
        summary.documents += 1
        copies = (False, True) if issued.json_data else (False,)
        for json_copy in copies:
            try:
                documents.checked_bytes(session, issued, json_copy=json_copy)
            except documents.DocumentAltered:
                yield Finding(f"document {issued.number} ({issued.public_id})",
                              f"its stored {'JSON' if json_copy else 'PDF'} does not match the SHA-256 recorded when it was issued")


def _orphan_findings(session: Session) -> Iterator[Finding]:
    """Signing and issuing rows whose record is gone (deleted, or no longer signed)."""
    from practitioner.consents.models import Consent
    from practitioner.documents.models import IssuedDocument
    from practitioner.intake import services as intake
    from practitioner.intake.models import PatientIntake
    from practitioner.treatments.models import TreatmentSession

    table = audit.AuditEvent.__table__
    present = {
        "session.sign": {f"session:{p}" for p in session.scalars(
            select(TreatmentSession.public_id).where(TreatmentSession.signed_at.is_not(None)))},
        "consent.sign": {f"consent:{p}" for p in session.scalars(select(Consent.public_id))},
        "document.issue": {f"document:{p}" for p in session.scalars(select(IssuedDocument.public_id))},
        intake.ACTION_SUBMITTED: {f"intake:{p}" for p in session.scalars(
            select(PatientIntake.public_id).where(PatientIntake.status == "submitted"))},
    }
    for action, targets in present.items():
        for event_id, target in session.execute(select(table.c.id, table.c.target).where(table.c.action == action)
                                                .order_by(table.c.id)):
            if target not in targets:
                yield Finding(target.replace(":", " ", 1), f"audit row {event_id} ({action}) names it, but the record is "
                                                           "missing or no longer signed")


def _photo_findings(session: Session, summary: Summary) -> Iterator[Finding]:
    from practitioner.photos.services import verify_images

    for checked, problem in verify_images(session):
        summary.photos = checked
        if problem is not None:
            yield Finding(f"photo {problem.photo_public_id} of patient {problem.record_number}", problem.problem)


def verify_all(session: Session, *, update_head: bool = True) -> Summary:
    """Run every check; when all pass, record the chain's head outside the database for the next run."""
    audit_head.flush()  # this process's own newest rows first
    summary = Summary()
    findings = summary.findings
    report = audit.verify_chain(session)
    summary.audit_rows = report.rows_checked
    if not report.intact:
        where = f"audit row {report.broken_event_id}" if report.broken_event_id is not None else "the audit chain's end"
        findings.append(Finding(where, report.problem))
    path = head_file()
    findings.extend(_head_findings(session, report, read_head(path)))
    findings.extend(_session_findings(session, summary))
    findings.extend(_consent_findings(session, summary))
    findings.extend(_intake_findings(session, summary))
    findings.extend(_document_findings(session, summary))
    findings.extend(_orphan_findings(session))
    findings.extend(_photo_findings(session, summary))
    if update_head and not findings:
        record_head(path, report)
    return summary
