"""Context builders: models in, plain values out (strings, numbers, dates, lists, dicts) for report templates.

Each builder returns a DocumentSpec: the template, title, context, content version and file
name of one document. Nothing here renders, and no ORM object leaves this module.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload, selectinload

from practitioner.admin.models import ClinicSettings
from practitioner.admin.services import current_aftercare_policy, get_settings
from practitioner.clinical.aftercare import SessionFacts, assemble_aftercare
from practitioner.plans.models import TreatmentPlan
from practitioner.documents.models import DocumentKind, IssuedDocument
from practitioner.treatments.models import TreatmentSession

REPORTS_DIR = Path(__file__).resolve().parent.parent.parent / "reports"
CONTENT_DIR = REPORTS_DIR / "content"
NUMBER_PREFIX = {
    DocumentKind.TREATMENT_GUIDE: "TG", DocumentKind.AFTERCARE: "AC", DocumentKind.CONSENT_FORM: "CF",
    DocumentKind.CONSULTATION_SUMMARY: "CS", DocumentKind.SESSION_RECORD: "SR", DocumentKind.PATIENT_EXPORT: "PX",
}


class SourceNotFound(LookupError):
    """No record of that kind has this public id."""


class NotReady(ValueError):
    """The record cannot make this document yet (for example, an unsigned session's aftercare)."""


@dataclass
class DocumentSpec:
    """Everything needed to render and archive one document, as plain values."""

    kind: DocumentKind
    source_id: str
    patient_id: int
    template: str
    title: str
    context: dict[str, Any]
    content_version: str
    filename_stem: str
    version: int = 1
    number: str = ""
    paper: str = "A4"
    logo_png: bytes | None = None
    json_data: bytes | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def slug(text: str) -> str:
    """A file-name-safe lower-case form of a name."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", folded).strip("-")[:40] or "patient"


def clinic_values(settings: ClinicSettings) -> dict[str, Any]:
    """The clinic as every document's letterhead shows it."""
    return {
        "name": settings.name,
        "address_lines": [line.strip() for line in (settings.address or "").splitlines() if line.strip()],
        "phone": settings.phone,
        "email": settings.email,
        "out_of_hours": settings.out_of_hours,
    }


def next_version(session: Session, kind: DocumentKind, source_id: str) -> int:
    """The version a new issue of this document would get."""
    latest = session.scalar(select(func.max(IssuedDocument.version)).where(IssuedDocument.kind == kind, IssuedDocument.source_id == source_id))
    return (latest or 0) + 1


_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")
_EDITION = re.compile(r"(?:^|-)(\d{4})\.(\d{2})(?:-(\d+))?(?:\+[0-9a-f]+)?$")


def readable_edition(content_version: str) -> str:
    """The content version as a patient can read it: 'en-2026.11+3f2a...' -> 'November 2026 edition'.

    The exact version (with the hash of the blocks used) stays in the archive; the page shows it once, readably.
    """
    found = _EDITION.search(content_version)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        # An undated layout version ('en-export-1.0', 'en-record-1'): its name and number, without the language code.
        plain = re.sub(r"^[a-z]{2,3}-", "", content_version.split("+", 1)[0])
        name, _, number = plain.rpartition("-")
        return f"{name} layout, version {number}" if name and number else plain
    year, month, revision = found.groups()
    edition = f"{_MONTH_NAMES[int(month) - 1]} {year} edition"
    return f"{edition}, revision {revision}" if revision and revision != "1" else edition


def finish(session: Session, spec: DocumentSpec, issued_on: date) -> DocumentSpec:
    """Number the document, add the clinic letterhead, paper size and logo, and the document block."""
    settings = get_settings(session)
    spec.version = next_version(session, spec.kind, spec.source_id)
    spec.number = f"{NUMBER_PREFIX[spec.kind]}-{issued_on:%Y%m%d}-{spec.source_id.replace('-', '')[:6].upper()}-{spec.version}"
    spec.paper = settings.paper_size.value
    spec.logo_png = settings.logo_png
    spec.context.setdefault("clinic", clinic_values(settings))
    spec.context["document"] = {"number": spec.number, "content_version": spec.content_version,
                                "edition": readable_edition(spec.content_version), "issued_on": issued_on,
                                "summary": spec.context.get("summary", spec.title)}
    spec.context.pop("summary", None)
    return spec


def _session_or_raise(session: Session, public_id: uuid.UUID, *options: Any) -> TreatmentSession:
    record = session.scalars(select(TreatmentSession).where(TreatmentSession.public_id == public_id).options(*options)).first()
    if record is None:
        raise SourceNotFound("No session has this id.")
    return record


# What the aftercare reads of a session, and nothing more: the models' default eager loads would
# also fetch the consent, the addenda, the plan's zones and the consultation's screening rows,
# twice over (29 statements, about 10 ms of a 230 ms render).
# Loaded by key (selectin), never joined: joins from the sessions table make SQLite build the
# join for every row of the table (measured: a 34 ms build at 100,000 sessions, 4 ms by key).
_AFTERCARE_LOADS = (
    lazyload("*"),
    selectinload(TreatmentSession.patient).lazyload("*"),
    selectinload(TreatmentSession.practitioner).lazyload("*"),
    selectinload(TreatmentSession.plan).lazyload("*"),
    selectinload(TreatmentSession.plan).selectinload(TreatmentPlan.consultation).lazyload("*"),
    selectinload(TreatmentSession.zones),
    selectinload(TreatmentSession.products),
    selectinload(TreatmentSession.adverse_events),
)


def aftercare_spec(session: Session, public_id: uuid.UUID, issued_on: date | None = None) -> DocumentSpec:
    """Aftercare instructions assembled from a signed session's record; dates outside the issue date's year print their year."""
    record = _session_or_raise(session, public_id, *_AFTERCARE_LOADS)
    if not record.is_signed:
        raise NotReady("Aftercare is issued from a signed session: sign the session record first.")
    settings = get_settings(session)
    consultation = record.plan.consultation
    facts = SessionFacts(
        modality=record.plan.modality,
        session_date=record.session_date,
        zones=tuple((z.zone, float(z.depth_mm)) for z in record.zones),
        products_applied=tuple(p.name for p in record.products),
        fitzpatrick=consultation.fitzpatrick or record.patient.fitzpatrick,
        cold_sore_history=bool(consultation.cold_sore_history),
        adverse_events=tuple(e.kind for e in record.adverse_events),
        patient_name=record.patient.full_name,
        practitioner_name=record.practitioner.name,
        session_number=record.sequence,
        sessions_planned=record.plan.sessions_planned,
        next_appointment=record.next_appointment_on if record.next_appointment_on and record.next_appointment_on > record.session_date else None,
        interval_weeks=record.plan.interval_weeks,
        clinic_name=settings.name,
        clinic_phone=(settings.phone or "").strip() or "the clinic",  # a preview only: issuing needs the phone
        clinic_out_of_hours=settings.out_of_hours or "your local urgent care service",
        issued_on=issued_on,
    )
    aftercare = assemble_aftercare(facts, current_aftercare_policy(session), CONTENT_DIR)
    blocks = [
        {"id": b.id, "kind": b.kind, "title": b.title, "paragraphs": list(b.paragraphs), "items": list(b.items), "when": b.when,
         "until": b.until, "expect": list(b.expect), "do": list(b.do), "avoid": list(b.avoid)}
        for b in aftercare.blocks
    ]
    context = {
        "patient": {"name": record.patient.full_name},
        "treatment": {"date": record.session_date, "practitioner": record.practitioner.name, "session_number": record.sequence,
                      "session_count": record.plan.sessions_planned, "modality": record.plan.modality},
        "blocks": blocks,
        "summary": f"Aftercare for {record.patient.full_name} after treatment on {record.session_date:%-d %B %Y}",
    }
    return DocumentSpec(DocumentKind.AFTERCARE, str(record.public_id), record.patient_id, "aftercare.html", "Aftercare instructions",
                        context, aftercare.content_version, f"aftercare-{slug(record.patient.full_name)}-{record.session_date.isoformat()}")


BUILDERS: dict[DocumentKind, Callable[[Session, uuid.UUID, date | None], DocumentSpec]] = {
    DocumentKind.AFTERCARE: aftercare_spec,
}
