"""Every way one feature plugs into another: named blinker signals, declared here and nowhere else.

Features depend one way (patients <- intake <- consultations <- plans <- consents <- treatments <- photos <- documents),
so a lower feature never calls a higher one: it sends a signal declared here, and the higher feature
answers through a receiver it connects in its own package, when the package is loaded (its
`__init__`; documents' `receivers.connect()` runs when its blueprint loads). `grep -rn <signal name>`
finds the sender and every receiver.

Following "sign a session" to "the aftercare is archived":
  1. grep session_signed;
  2. practitioner/treatments/views.py, sign(): the session is signed and committed, then
     `send_guarded(signals.session_signed, record, ...)` calls each receiver;
  3. practitioner/documents/receivers.py, issue_aftercare(): `services.issue_now(... AFTERCARE ...)`
     builds, renders and archives the PDF with its hash, and returns the message the practitioner sees.

Receivers are module-level functions connected with `weak=False`; blinker's connect is idempotent,
so however many apps a process creates (the tests make one per test), each is connected once.
Blinker keeps receivers in no particular order, so `answers` and `send_guarded` take them in the
features' order, then by module name: a page comes out the same every time.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from blinker import Namespace, Signal

_signals = Namespace()

session_signed = _signals.signal("session-signed", doc="""\
Sent by treatments' sign view after a session is signed and the signature committed.
Sender: the TreatmentSession. Keyword arguments: `actor` (the signing User), `ip_address` (str).
Receivers return a `Notice` for the practitioner, or None. Documents' receiver issues the aftercare.
The signature stands whatever a receiver does: send it with `send_guarded`, which reports a receiver
that raises instead of letting it undo the page; a receiver that fails says so in a warning Notice.""")

patient_timeline = _signals.signal("patient-timeline", doc="""\
Sent by patients' detail page (practitioner.patients.timeline.entries_for) to build the timeline.
Sender: the Patient. Keyword arguments: `session` (the database Session), `clinical` (bool: whether
the viewer may see clinical records). Receivers return a list of
practitioner.patients.timeline.TimelineEntry (empty when they have nothing, or `clinical` is False).
Consultations, plans, consents, treatments and documents each answer with their own records.""")

record_documents = _signals.signal("record-documents", doc="""\
Sent by a lower feature's page for one of its records (patient, consultation, plan, consent, session),
through the `record_documents(record)` template global and the templates/_record_documents.html partial.
Sender: the record. No keyword arguments. Receivers return a `DocumentsBox` (the documents issued
from that record, and the kinds that can be made from it), or None when they make nothing from it.
Documents' receiver answers; the lower page names no document kind.""")

content_awaiting_review = _signals.signal("content-awaiting-review", doc="""\
Sent by the admin settings page (the `content_awaiting_review()` template global).
Sender: None. No keyword arguments. Receivers return a list of `ContentNote`: patient-facing content
marked as not yet backed by the clinic's sourced reference. Documents answers for the aftercare notes.""")

record_sections = _signals.signal("record-sections", doc="""\
Sent by a lower feature's page for one of its records (a consultation's page, a plan's page), through
the `record_sections(record)` template global. Sender: the record. No keyword arguments. Receivers
return the HTML of their own section for that record (rendered from their own partial, as Markup),
or None when they add nothing to that kind of record. Plans and consents answer on a consultation's
page; treatments answers on a plan's page. The lower page names no higher feature's template.""")

#: Every plug point, by name (a test checks each has a receiver once the app is built).
ALL = (session_signed, patient_timeline, record_documents, content_awaiting_review, record_sections)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """A message for the practitioner, flashed with its category ("success", "warning")."""

    message: str
    category: str = "success"


@dataclass(frozen=True)
class IssuedEntry:
    """One issued document, as a record's Documents box lists it."""

    title: str
    url: str
    json_url: str | None
    version: int
    phrase: str  # what happened to it: "given to the patient" / "saved to the clinic file"
    number: str
    issued_at: datetime
    issued_by: str
    large_print: bool = False


@dataclass(frozen=True)
class DocumentAction:
    """A document that can be made from the record: preview it, and issue it when it is ready."""

    label: str
    preview_url: str
    issue_label: str
    issue_url: str | None = None  # None: not ready to issue (the preview still shows what is missing)


@dataclass(frozen=True)
class DocumentJobState:
    """A document being made in the background from the record: "preparing", "failed" (with Try again) or "done"."""

    state: str
    message: str
    status_url: str | None = None  # while preparing: polled by the page (JSON)
    retry_url: str | None = None  # when failed: POST to try again


@dataclass(frozen=True)
class DocumentsBox:
    """A record's Documents box: what was issued from it and what can be made from it."""

    anchor: str  # unique on the page: the heading's id is "docs-title-<anchor>"
    empty: str  # said when nothing was issued yet
    issued: tuple[IssuedEntry, ...] = ()
    actions: tuple[DocumentAction, ...] = field(default_factory=tuple)
    jobs: tuple[DocumentJobState, ...] = ()  # documents being made in the background, and how the last one ended


@dataclass(frozen=True)
class ContentNote:
    """A piece of patient-facing content awaiting the clinic's medical review."""

    title: str
    block: str
    file: str
    note: str


def answers(signal: Signal, sender: Any, **kwargs: Any) -> list[Any]:
    """Send the signal and return the receivers' answers in a fixed order, Nones left out.

    The order is the features' order (FEATURE_ORDER: a plan's section before a consent's, as a
    practitioner works through them), then the receiver's module and name.
    """
    replies = sorted(signal.send(sender, **kwargs), key=lambda reply: _order(reply[0]))
    return [value for _, value in replies if value is not None]


def send_guarded(signal: Signal, sender: Any, *, on_failure: Callable[[], Any] | None = None,
                 **kwargs: Any) -> tuple[list[Any], list[Callable[..., Any]]]:
    """Call every receiver even if one raises: (the answers that came back, the receivers that failed).

    For a signal sent after the sender's own work is committed: a failing receiver must not undo
    that work or hide the other receivers. Each failure is logged with its stack but without the
    exception's message, which may quote patient data; then `on_failure` runs (the sender's
    rollback of what the receiver left half done) before the next receiver.
    """
    values: list[Any] = []
    failed: list[Callable[..., Any]] = []
    for receiver in sorted(signal.receivers_for(sender), key=_order):
        try:
            value = receiver(sender, **kwargs)
        except Exception as exc:  # noqa: BLE001  (reported below; the sender's own work stands)
            failed.append(receiver)
            log_failure(f"receiver {_name(receiver)} of {signal.name}", exc)
            if on_failure is not None:
                on_failure()
            continue
        if value is not None:
            values.append(value)
    return values, failed


def log_failure(what: str, exc: BaseException, record_id: object = "") -> None:
    """Log a failure with where it happened (the stack) and its type, never its message (it may hold patient data)."""
    stack = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
    log.error("%s failed%s: %s (message withheld: it may name the patient)\n%s",
              what, f" for {record_id}" if record_id else "", type(exc).__name__, stack)


def documents_boxes(record: Any) -> list[DocumentsBox]:
    """For a page of a lower feature: the Documents boxes of one of its records (template global `record_documents`)."""
    return answers(record_documents, record)


def sections(record: Any) -> list[Any]:
    """For a page of a lower feature: the sections higher features add to one of its records (template global `record_sections`)."""
    return answers(record_sections, record)


def content_notes() -> list[ContentNote]:
    """For the admin settings page: every content note awaiting medical review (template global `content_awaiting_review`)."""
    return [note for notes in answers(content_awaiting_review, None) for note in notes]


def template_globals() -> dict[str, Callable[..., Any]]:
    """The senders page templates call, by the names the templates use."""
    return {"record_documents": documents_boxes, "content_awaiting_review": content_notes, "record_sections": sections}


#: The features from lowest to highest (the dependency rule's order).
FEATURE_ORDER = ("patients", "intake", "consultations", "plans", "consents", "treatments", "photos", "documents")


def _order(receiver: Callable[..., Any]) -> tuple[int, str]:
    parts = getattr(receiver, "__module__", "").split(".")
    feature = parts[1] if len(parts) > 1 else ""
    return (FEATURE_ORDER.index(feature) if feature in FEATURE_ORDER else len(FEATURE_ORDER), _name(receiver))


def _name(receiver: Callable[..., Any]) -> str:
    return f"{getattr(receiver, '__module__', '')}.{getattr(receiver, '__qualname__', repr(receiver))}"
