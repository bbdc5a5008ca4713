"""What a document kind declares (`DocumentType`) and what building one gives (`DocumentSpec`)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from practitioner.documents.kinds._common import finish


class KindCode(enum.StrEnum):
    """The base of DocumentKind (built in practitioner.documents.kinds from the kind modules' codes).

    A member is the code stored with every issued copy; everything else it says comes from the
    kind's DocumentType.
    """

    @property
    def document_type(self) -> DocumentType:
        """This kind's DocumentType, from the catalogue."""
        from practitioner.documents.kinds import get

        return get(self)

    @property
    def label(self) -> str:
        """As shown to people."""
        return self.document_type.label

    @property
    def for_patient(self) -> bool:
        """Given to the patient (guide, aftercare, consent, export); the others are for the clinic's file."""
        return self.document_type.for_patient

    @property
    def issue_label(self) -> str:
        """The button that issues it: given to the patient, or saved to the clinic's file."""
        return self.document_type.issue_label

    @property
    def issued_phrase(self) -> str:
        """How the timeline and the Documents list say what happened to an issued copy."""
        return self.document_type.issued_phrase


class SourceNotFound(LookupError):
    """No record of that kind has this public id."""


class NotReady(ValueError):
    """The record cannot make this document yet (for example, an unsigned session's aftercare)."""


class UnprintableText(NotReady):
    """A value holds a character no bundled font has: the document is not made (practitioner.documents.pdf.glyphs)."""


@dataclass
class DocumentSpec:
    """Everything needed to render and archive one document, as plain values."""

    kind: KindCode  # a DocumentKind
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


@dataclass(frozen=True)
class Offer:
    """One document a record's Documents box offers to preview and issue, made from the source with `source_id`.

    A kind offers the document made from the record itself; the patient record export offers one per volume
    when the record is too large for one (practitioner/documents/kinds/patient_export.py).
    """

    label: str
    issue_label: str
    source_id: uuid.UUID


def always_ready(record: Any) -> str | None:
    """The readiness check of a kind that any record of its source can make: nothing is missing."""
    return None


@dataclass(frozen=True)
class DocumentType:
    """One kind of document, declared once in its module under practitioner/documents/kinds/.

    `build(session, record, issued_on)` turns the loaded, ready record into a DocumentSpec of plain
    values; `missing(record)` says what the record lacks to make it (None when it is ready).
    """

    code: str  # the kind's code, stored with every issued copy (IssuedDocument.kind): never change it once issued
    label: str  # as shown to people
    number_prefix: str  # the start of every document number: "AC-20261206-1A2B3C-1"
    source: type  # the model it is made from, found by its public_id
    source_name: str  # how a refusal names that record: "No session has this id."
    template: str  # under reports/templates/
    for_patient: bool  # given to the patient; otherwise saved to the clinic's file
    build: Callable[[Session, Any, date | None], DocumentSpec]
    missing: Callable[[Any], str | None] = always_ready
    loads: tuple[Any, ...] = ()  # loader options for the source row (what build reads, and no more)

    @property
    def kind(self) -> KindCode:
        """The DocumentKind member of this type's code."""
        from practitioner.documents.kinds import DocumentKind

        return DocumentKind(self.code)

    @property
    def issue_label(self) -> str:
        """The button that issues it: given to the patient, or saved to the clinic's file."""
        if self.for_patient:
            return f"Issue {self.label.lower()} to the patient"
        return f"Save {self.label.lower()} to the file"

    @property
    def issued_phrase(self) -> str:
        """How the timeline and the Documents list say what happened to an issued copy."""
        return "given to the patient" if self.for_patient else "saved to the clinic file"

    def offers(self, session: Session, record: Any) -> tuple[Offer, ...]:
        """What this kind offers in the Documents box of `record` (one of its source): the document made from it."""
        return (Offer(self.label, self.issue_label, record.public_id),)

    def page_record(self, session: Session, source_id: uuid.UUID | str) -> uuid.UUID | str:
        """The public id of the record whose page offers the document made from `source_id`: the source itself."""
        return source_id

    def load(self, session: Session, public_id: uuid.UUID) -> Any:
        """The source record with this public id, or SourceNotFound."""
        model: Any = self.source
        record = session.scalars(select(model).where(model.public_id == public_id).options(*self.loads)).first()
        if record is None:
            raise SourceNotFound(f"No {self.source_name} has this id.")
        return record

    def spec(self, session: Session, public_id: uuid.UUID, issued_on: date | None = None) -> DocumentSpec:
        """Load the record, refuse it with NotReady if something is missing, and build its spec (not yet numbered)."""
        record = self.load(session, public_id)
        missing = self.missing(record)
        if missing:
            raise NotReady(missing)
        return self.build(session, record, issued_on)

    def make(self, session: Session, public_id: uuid.UUID, issued_on: date) -> DocumentSpec:
        """The spec, numbered, with the clinic letterhead and the document block: ready to render.

        UnprintableText when a value holds a character no bundled font has (it would print blank).
        """
        from practitioner.documents.pdf import glyphs

        spec = finish(session, self.spec(session, public_id, issued_on), issued_on, self.number_prefix)
        problem = glyphs.refusal(spec.context, spec.title)
        if problem:
            raise UnprintableText(problem)
        return spec
