"""The append-only, hash-chained audit trail: who did what, to which patient, when, and how it went.

Each row's hash is an HMAC-SHA256 keyed with a secret kept outside the database (`audit_key`), so
someone holding only the database file cannot recompute the chain after changing a row. Rows are
numbered without gaps (the id is taken from the locked head, never from the database's counter).
Rows written before the key existed (before migration 0016) keep their plain SHA-256 and are
checked as such; `audit_chain_head.keyed_from_id` names the first keyed row. See docs/integrity.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from flask import current_app

from sqlalchemy import ForeignKey, Index, String, Text, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from practitioner import audit_head
from practitioner.database import Base, insert_if_absent, reads_only, utcnow, write_step

GENESIS_HASH = "0" * 64

OUTCOME_SUCCESS = "success"
OUTCOME_FAILURE = "failure"
OUTCOME_DENIED = "denied"


HASHED_FIELDS = (
    "id", "at", "actor_id", "actor_label", "action", "patient_id",
    "target", "outcome", "detail", "ip_address", "prev_hash",
)


AUDIT_KEY_FILE_NAME = "audit.key"
TAMPER_WARNING = ("This record does not match what was signed on {signed_on}: it may have been changed outside "
                  "Practitioner. Tell the clinic's administrator.")


def audit_key() -> bytes:
    """The secret that keys the chain: PRACTITIONER_AUDIT_KEY, else instance/audit.key (made 0600 on first use)."""
    app = current_app._get_current_object()
    key = app.extensions.get("practitioner.audit_key")
    if key is None:
        key = _load_key(app.config.get("AUDIT_KEY"), app.config.get("AUDIT_KEY_FILE")
                        or str(Path(app.instance_path) / AUDIT_KEY_FILE_NAME))
        app.extensions["practitioner.audit_key"] = key
    return key


def _load_key(configured: str | None, path: str) -> bytes:
    if configured:
        return str(configured).encode()
    try:
        # O_EXCL: two processes starting at once make one key; the other reads it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = Path(path).read_text(encoding="ascii").strip()
        if not key:
            raise RuntimeError(f"The audit key file {path} is empty: restore it from the backup kept apart from the database.")
        return key.encode()
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
    return Path(path).read_text(encoding="ascii").strip().encode()


def keyed_hash(canonical: bytes, key: bytes | None = None) -> str:
    """HMAC-SHA256 of a row's canonical bytes with the audit key."""
    return hmac.new(key if key is not None else audit_key(), canonical, hashlib.sha256).hexdigest()


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """Serialise the hashed fields the same way on every database and Python version."""
    values = {name: fields[name] for name in HASHED_FIELDS}
    values["at"] = values["at"].astimezone(timezone.utc).isoformat(timespec="microseconds")
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class AuditEvent(Base):
    """One audited action. Rows are only ever inserted; database triggers refuse changes."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_actor_label_at", "action", "actor_label", "at"),
        Index("ix_audit_events_patient_id_id", "patient_id", "id"),
        Index("ix_audit_events_actor_id_id", "actor_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    action: Mapped[str] = mapped_column(String(60))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), nullable=True)
    target: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(20), default=OUTCOME_SUCCESS)
    detail: Mapped[str] = mapped_column(Text, default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    actor = relationship("User", lazy="raise")
    patient = relationship("Patient", lazy="raise")

    def canonical(self) -> bytes:
        """The exact bytes the hash covers: every field but the hash itself."""
        return canonical_bytes({name: getattr(self, name) for name in HASHED_FIELDS})

    def compute_hash(self) -> str:
        """HMAC-SHA256 (audit key) of the canonical content, which includes the previous row's hash."""
        return keyed_hash(self.canonical())

    @property
    def detail_items(self) -> dict[str, Any]:
        """The detail as a mapping, for display."""
        if not self.detail:
            return {}
        try:
            value = json.loads(self.detail)
        except ValueError:
            return {"note": self.detail}
        return value if isinstance(value, dict) else {"note": value}

    @property
    def detail_text(self) -> dict[str, str]:
        """The detail in words for the audit trail page: lists joined, yes/no for flags, never a Python repr."""
        return {key: _in_words(value) for key, value in self.detail_items.items()}


def _in_words(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_in_words(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key} {_in_words(item)}" for key, item in value.items())
    return str(value)


class AuditChainHead(Base):
    """A single row holding the newest hash; locking it serialises appends on every database."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int | None] = mapped_column(nullable=True)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    # The first row hashed with the audit key (rows before it were written before the key existed).
    keyed_from_id: Mapped[int | None] = mapped_column(nullable=True, default=1)


def append(
    session: Session,
    action: str,
    *,
    actor: Any = None,
    actor_label: str | None = None,
    patient: Any = None,
    target: str = "",
    outcome: str = OUTCOME_SUCCESS,
    detail: dict[str, Any] | None = None,
    ip_address: str = "",
) -> AuditEvent:
    """Add one audit row to the session, chained to the newest; the caller commits.

    `patient` is the Patient the action concerns, or only its id when the caller has not loaded it.

    In a read-only request (a page view, a reprint) the row is written and committed at once in
    its own short write transaction (`write_step`), so reading pages never queue for the lock; inside
    `one_write_for_page` it is kept and written with the page's other rows when the block ends (the
    row returned then has no id or hash yet).
    """
    batch = _page_rows.get()
    if batch is not None and reads_only():
        fields = _fields(action, actor=actor, actor_label=actor_label, patient=patient, target=target, outcome=outcome,
                         detail=detail, ip_address=ip_address)
        batch.append(fields)
        return AuditEvent(**{**fields, "patient_id": _patient_id(fields["patient_id"])})
    with write_step(session):
        return _append(session, action, actor=actor, actor_label=actor_label, patient=patient, target=target,
                       outcome=outcome, detail=detail, ip_address=ip_address)


_page_rows: ContextVar[list[dict[str, Any]] | None] = ContextVar("practitioner_audit_page_rows", default=None)


@contextmanager
def one_write_for_page(session: Session) -> Iterator[None]:
    """The audit rows a read-only page appends inside this block, written together when it ends.

    A patient's page appends the view of the record and, when it shows photos, a row naming them: one
    short write transaction for both (one wait for SQLite's write lock, one read of the chain's head,
    one INSERT), instead of one each. The rows are written even when the block raises (what was read
    is audited, as before). Outside a read-only request each row is appended at once, as `append` does.
    """
    if not reads_only() or _page_rows.get() is not None:
        yield
        return
    rows: list[dict[str, Any]] = []
    token = _page_rows.set(rows)
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        _page_rows.reset(token)
        if rows:
            if failed:
                session.rollback()  # the failed read's transaction, so the rows can still be written
            with write_step(session):
                _append_rows(session, rows)


def _append(
    session: Session,
    action: str,
    *,
    actor: Any,
    actor_label: str | None,
    patient: Any,
    target: str,
    outcome: str,
    detail: dict[str, Any] | None,
    ip_address: str,
) -> AuditEvent:
    # A patient registered in this transaction gets its id from the flush in _append_rows, before the row names it.
    fields = _fields(action, actor=actor, actor_label=actor_label, patient=patient, target=target, outcome=outcome,
                     detail=detail, ip_address=ip_address)
    return _append_rows(session, [fields])[0]


def _fields(action: str, *, actor: Any, actor_label: str | None, patient: Any, target: str, outcome: str,
            detail: dict[str, Any] | None, ip_address: str) -> dict[str, Any]:
    """A row's own fields (everything but its place in the chain: id, at, prev_hash, hash)."""
    return {
        "actor_id": getattr(actor, "id", None),
        "actor_label": actor_label if actor_label is not None else (getattr(actor, "email", "") or ""),
        "action": action,
        "patient_id": patient,  # its id, or the Patient (a patient registered just now has its id after the flush)
        "target": target,
        "outcome": outcome,
        "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str) if detail else "",
        "ip_address": ip_address or "",
    }


def _patient_id(patient: Any) -> int | None:
    return patient if patient is None or isinstance(patient, int) else getattr(patient, "id", None)


def _append_rows(session: Session, rows: list[dict[str, Any]]) -> list[AuditEvent]:
    """Chain rows (their own fields, `_fields`) after the newest, in order; one head read, one INSERT, one head move."""
    # Core statements built once (no ORM unit of work for a row that is only ever inserted): every page
    # view appends one, so this is on the busiest write path. Whatever the session has pending is
    # flushed first, as the ORM's autoflush did, so the row can name a patient registered just now.
    session.flush()
    head = session.execute(_LOCKED_HEAD).first()
    if head is None:
        # The very first append: another writer may be making the head at this moment.
        insert_if_absent(session, AuditChainHead, id=1, last_event_id=None, last_hash=GENESIS_HASH, keyed_from_id=1)
        head = session.execute(_LOCKED_HEAD).one()
    # The id is taken from the locked head rather than from the insert, so the hash can be
    # computed before the row is written: the row is never updated afterwards.
    last_id, last_hash, now, key = head.last_event_id or 0, head.last_hash, utcnow(), audit_key()
    chained = []
    for fields in rows:
        values = {**fields, "id": last_id + 1, "at": now, "prev_hash": last_hash, "patient_id": _patient_id(fields["patient_id"])}
        values["hash"] = last_hash = keyed_hash(canonical_bytes(values), key)
        last_id = values["id"]
        chained.append(values)
    session.execute(_INSERT_EVENT, chained if len(chained) > 1 else chained[0])
    session.execute(_MOVE_HEAD, {"new_id": last_id, "new_hash": last_hash})
    # Recorded outside the database once this transaction commits (practitioner/audit_head.py).
    audit_head.note_append(session, last_id, last_hash, head.keyed_from_id)
    # A head this session loaded earlier (verify_chain's) must not keep the old values (expire_on_commit is off).
    loaded_head = session.identity_map.get(session.identity_key(AuditChainHead, 1))
    if loaded_head is not None:
        set_committed_value(loaded_head, "last_event_id", last_id)
        set_committed_value(loaded_head, "last_hash", last_hash)
    return [AuditEvent(**values) for values in chained]


_HEAD = AuditChainHead.__table__
# Locking the head serialises appends (on SQLite the write lock is already held: BEGIN IMMEDIATE).
_LOCKED_HEAD = select(_HEAD.c.last_event_id, _HEAD.c.last_hash, _HEAD.c.keyed_from_id).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENT = insert(AuditEvent.__table__)
_MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1)
              .values(last_event_id=bindparam("new_id"), last_hash=bindparam("new_hash")))


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the chain: intact, or the first row that breaks it."""

    rows_checked: int
    broken_event_id: int | None = None
    problem: str = ""
    last_event_id: int | None = None
    last_hash: str = GENESIS_HASH
    keyed_from_id: int = 1

    @property
    def intact(self) -> bool:
        """No break found."""
        return self.broken_event_id is None and not self.problem


def _rows_in_order(session: Session, batch: int = 5000) -> Iterator[Mapping[str, Any]]:
    table = AuditEvent.__table__
    last_id = 0
    while True:
        rows = session.execute(
            select(table).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).mappings().all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]


def verify_chain(session: Session, *, key: bytes | None = None) -> ChainReport:
    """Recompute every hash in order (keyed from the head's `keyed_from_id` on); name the first row that is
    wrong, missing from the numbering, or unlinked, and say when the head does not match the newest row."""
    key = key if key is not None else audit_key()
    head = session.get(AuditChainHead, 1)
    keyed_from = (head.keyed_from_id if head is not None else None) or 1
    previous = GENESIS_HASH
    count = 0
    last_id: int | None = None
    for row in _rows_in_order(session):
        count += 1
        if row["id"] != (last_id or 0) + 1:
            return ChainReport(count, row["id"], keyed_from_id=keyed_from,
                               problem=f"rows {(last_id or 0) + 1} to {row['id'] - 1} are missing (the rows are numbered without gaps)")
        if row["prev_hash"] != previous:
            return ChainReport(count, row["id"], keyed_from_id=keyed_from,
                               problem="its link to the previous row is broken (a row was removed or altered)")
        canonical = canonical_bytes(row)
        expected = keyed_hash(canonical, key) if row["id"] >= keyed_from else hashlib.sha256(canonical).hexdigest()
        if not hmac.compare_digest(expected, row["hash"]):
            return ChainReport(count, row["id"], keyed_from_id=keyed_from,
                               problem="its content does not match its keyed hash (the row was modified, "
                                       "or the chain was recomputed without the audit key)")
        previous = row["hash"]
        last_id = row["id"]
    if head is not None and (head.last_hash != previous or head.last_event_id != last_id):
        return ChainReport(count, None, "the newest rows are missing: the chain head does not match the last row",
                           keyed_from_id=keyed_from)
    return ChainReport(count, last_event_id=last_id, last_hash=previous, keyed_from_id=keyed_from)


def sealed_details(session: Session, action: str, target: str, *, patient_id: int | None = None,
                   prefetched: SealedDetails | None = None) -> list[dict[str, Any]]:
    """The details of the `action` rows on `target` whose own keyed hash holds, oldest first.

    Used to re-check a signed record against what its audit row sealed when it was made: that row cannot be
    rewritten without the audit key (the whole chain is checked by `flask audit-verify`). `prefetched`: the
    rows of many records read at once (`sealed_details_for`), so a document printing many asks nothing more.
    """
    if prefetched is not None:
        return prefetched.get((action, target), [])
    table = AuditEvent.__table__
    query = select(table).where(table.c.action == action, table.c.target == target).order_by(table.c.id)
    if patient_id is not None:
        query = query.where(table.c.patient_id == patient_id)
    return _intact_details(session, query).get((action, target), [])


SealedDetails = dict[tuple[str, str], list[dict[str, Any]]]


def sealed_details_for(session: Session, patient_id: int, actions: Iterable[str], targets: Iterable[str]) -> SealedDetails:
    """`sealed_details` of every (action, target) given, for one patient's records, in one statement."""
    table = AuditEvent.__table__
    targets = sorted(set(targets))
    if not targets:
        return {}
    query = (select(table).where(table.c.patient_id == patient_id, table.c.action.in_(sorted(set(actions))),
                                 table.c.target.in_(targets)).order_by(table.c.id))
    return _intact_details(session, query)


def sealed_details_all(session: Session, action: str) -> SealedDetails:
    """`sealed_details` of every record sealed by `action`, every patient's, in one statement (`flask audit-verify`)."""
    table = AuditEvent.__table__
    return _intact_details(session, select(table).where(table.c.action == action).order_by(table.c.id))


def _intact_details(session: Session, query: Any) -> SealedDetails:
    head = session.get(AuditChainHead, 1)
    keyed_from = (head.keyed_from_id if head is not None else None) or 1
    key = audit_key()
    details: SealedDetails = {}
    for row in session.execute(query).mappings():
        canonical = canonical_bytes(row)
        expected = keyed_hash(canonical, key) if row["id"] >= keyed_from else hashlib.sha256(canonical).hexdigest()
        if hmac.compare_digest(expected, row["hash"]):
            try:
                value = json.loads(row["detail"]) if row["detail"] else {}
            except ValueError:
                value = {}
            details.setdefault((row["action"], row["target"]), []).append(value if isinstance(value, dict) else {})
    return details


def utc_text(moment: datetime) -> str:
    """A stored moment as UTC ISO text for a content hash (a naive value read back from SQLite is UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).isoformat(timespec="microseconds")
