"""The append-only, hash-chained audit trail: who did what, to which patient, when, and how it went."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from sqlalchemy import ForeignKey, Index, String, Text, bindparam, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value

from practitioner.database import Base, insert_if_absent, utcnow, write_step

GENESIS_HASH = "0" * 64

OUTCOME_SUCCESS = "success"
OUTCOME_FAILURE = "failure"
OUTCOME_DENIED = "denied"


HASHED_FIELDS = (
    "id", "at", "actor_id", "actor_label", "action", "patient_id",
    "target", "outcome", "detail", "ip_address", "prev_hash",
)


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
        """SHA-256 of the canonical content, which includes the previous row's hash."""
        return hashlib.sha256(self.canonical()).hexdigest()

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
    its own short write transaction (`write_step`), so reading pages never queue for the lock.
    """
    with write_step(session):
        return _append(session, action, actor=actor, actor_label=actor_label, patient=patient, target=target,
                       outcome=outcome, detail=detail, ip_address=ip_address)


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
    # Core statements built once (no ORM unit of work for a row that is only ever inserted): every page
    # view appends one, so this is on the busiest write path. Whatever the session has pending is
    # flushed first, as the ORM's autoflush did, so the row can name a patient registered just now.
    session.flush()
    head = session.execute(_LOCKED_HEAD).first()
    if head is None:
        # The very first append: another writer may be making the head at this moment.
        insert_if_absent(session, AuditChainHead, id=1, last_event_id=None, last_hash=GENESIS_HASH)
        head = session.execute(_LOCKED_HEAD).one()
    # The id is taken from the locked head rather than from the insert, so the hash can be
    # computed before the row is written: the row is never updated afterwards.
    values = {
        "id": (head.last_event_id or 0) + 1,
        "at": utcnow(),
        "actor_id": getattr(actor, "id", None),
        "actor_label": actor_label if actor_label is not None else (getattr(actor, "email", "") or ""),
        "action": action,
        "patient_id": patient if isinstance(patient, int) else getattr(patient, "id", None),
        "target": target,
        "outcome": outcome,
        "detail": json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str) if detail else "",
        "ip_address": ip_address or "",
        "prev_hash": head.last_hash,
    }
    values["hash"] = hashlib.sha256(canonical_bytes(values)).hexdigest()
    session.execute(_INSERT_EVENT, values)
    session.execute(_MOVE_HEAD, {"new_id": values["id"], "new_hash": values["hash"]})
    # A head this session loaded earlier (verify_chain's) must not keep the old values (expire_on_commit is off).
    loaded_head = session.identity_map.get(session.identity_key(AuditChainHead, 1))
    if loaded_head is not None:
        set_committed_value(loaded_head, "last_event_id", values["id"])
        set_committed_value(loaded_head, "last_hash", values["hash"])
    return AuditEvent(**values)


_HEAD = AuditChainHead.__table__
# Locking the head serialises appends (on SQLite the write lock is already held: BEGIN IMMEDIATE).
_LOCKED_HEAD = select(_HEAD.c.last_event_id, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENT = insert(AuditEvent.__table__)
_MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1)
              .values(last_event_id=bindparam("new_id"), last_hash=bindparam("new_hash")))


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the chain: intact, or the first row that breaks it."""

    rows_checked: int
    broken_event_id: int | None = None
    problem: str = ""

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


def verify_chain(session: Session) -> ChainReport:
    """Recompute every hash in order; name the first row whose content or link is wrong."""
    previous = GENESIS_HASH
    count = 0
    last_id: int | None = None
    for row in _rows_in_order(session):
        count += 1
        if row["prev_hash"] != previous:
            return ChainReport(count, row["id"], "its link to the previous row is broken (a row was removed or altered)")
        if hashlib.sha256(canonical_bytes(row)).hexdigest() != row["hash"]:
            return ChainReport(count, row["id"], "its content does not match its hash (the row was modified)")
        previous = row["hash"]
        last_id = row["id"]
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.last_hash != previous or head.last_event_id != last_id):
        return ChainReport(count, None, "the newest rows are missing: the chain head does not match the last row")
    return ChainReport(count)
