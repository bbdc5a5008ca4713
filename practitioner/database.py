"""Declarative base, shared column types and mixins, SQLite connection settings, and the two
helpers that keep concurrent writers apart the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Date, DateTime, Enum, ForeignKey, MetaData, Select, String, TypeDecorator, Uuid, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, registry
from practitioner.unit_of_work import commit_audit_of_read

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT_MS = 15_000


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always handed back timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use utcnow()")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Base of every model: named constraints (so migrations can alter them) and typed columns."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            date: Date(),
            str: String(255),
            uuid.UUID: Uuid(),
        },
    )


class PublicIdMixin:
    """An opaque UUID for URLs; the integer key never leaves the database."""

    public_id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)

    @classmethod
    def by_public_id(cls, public_id: uuid.UUID) -> Select[Any]:
        """The statement for the row with this public id, loaded as the model loads it: `db.one_or_404(X.by_public_id(id))`."""
        return select(cls).where(cls.public_id == public_id)


class AuditedMixin:
    """Who created and last changed a row, and when (UTC)."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"), nullable=True)

    @declared_attr
    def updated_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("users.id"), nullable=True)



@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL, foreign keys and a busy timeout on every SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # The driver's own transaction handling starts transactions lazily and deferred; we
    # take over (see _sqlite_on_begin) so that writers queue instead of failing.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    if mode != "memory":
        cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


# Reads do not queue behind writers. A request that only reads (GET, HEAD: see
# `security.init_app`) begins its transactions DEFERRED: in WAL mode it reads a snapshot beside a
# writer and takes no lock. Everything else begins IMMEDIATE: a deferred transaction that reads
# and then writes fails at once with "database is locked" when another writer committed since its
# snapshot (SQLite cannot upgrade a stale snapshot, and the busy timeout does not apply), so a
# writer takes the write lock up front and concurrent writers wait in turn. The few writes a
# read-only request makes (a view's audit row, a sign-in session's last-seen time) run in their own
# short IMMEDIATE transaction through `write_step`; any other write in a read-only request is a
# bug, refused before it reaches the database (`_refuse_stray_writes`).
# Measured (bench/bench_load.py, 60 s, 12 clients, gunicorn 3x4): with every request IMMEDIATE,
# 72 % of server time was spent waiting for the write lock and p95 was 1.1-1.4 s.
_reads_only: ContextVar[bool] = ContextVar("practitioner_reads_only", default=False)
_writing: ContextVar[bool] = ContextVar("practitioner_writing", default=False)
_WRITE_STATEMENT = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


class WriteInReadOnlyRequest(RuntimeError):
    """A read-only (GET or HEAD) request tried to write outside `write_step`."""


def set_reads_only(value: bool) -> None:
    """Mark the current request as read-only (its transactions begin DEFERRED) or not."""
    _reads_only.set(value)


def reads_only() -> bool:
    """Whether the current request is read-only and not inside a `write_step`."""
    return _reads_only.get() and not _writing.get()


@contextmanager
def write_step(session: Session) -> Iterator[None]:
    """A write made while handling a read-only request, in its own short write transaction.

    In a read-only request: the reading so far is committed (it wrote nothing), the block runs in
    a new IMMEDIATE transaction and is committed when it ends (rolled back if it raises). Anywhere
    else the block is simply part of the current transaction, which the caller commits.
    """
    if not reads_only():
        yield
        return
    commit_audit_of_read(session)
    token = _writing.set(True)
    try:
        yield
        commit_audit_of_read(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        _writing.reset(token)


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn: Any) -> None:
    """Start SQLite transactions DEFERRED in read-only requests, IMMEDIATE everywhere else."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN" if reads_only() else "BEGIN IMMEDIATE")


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_stray_writes(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    if reads_only() and _WRITE_STATEMENT.match(statement):
        raise WriteInReadOnlyRequest(
            f"A GET or HEAD request tried to write outside write_step: {statement[:80]!r}"
        )


def serialize_writers(session: Session, name: str) -> None:
    """Hold a lock called `name` until the transaction ends, for read-then-write work such as
    choosing the next free number: the next writer waits, then sees what this one wrote.

    SQLite needs nothing more: every writing transaction already holds its single write lock
    (`BEGIN IMMEDIATE`). PostgreSQL runs writers side by side, so there it is a transaction-level
    advisory lock; without it two writers read the same "next" value and one fails on the
    unique constraint.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))


def insert_if_absent(session: Session, model: Any, **values: Any) -> None:
    """INSERT a row unless one with the same primary key exists (`ON CONFLICT DO NOTHING`).

    For rows made on first use (the audit chain head, the clinic's settings): when two writers
    make it at once, PostgreSQL has the second wait for the first and then do nothing, where a
    plain INSERT would fail on the primary key. Read the row afterwards (with `populate_existing`
    or `session.get`). Column defaults apply as for any insert.
    """
    table = model.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - Practitioner runs on SQLite and PostgreSQL
        raise NotImplementedError(f"insert_if_absent on {dialect}")
    keys = [column.name for column in table.primary_key.columns]
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=keys))


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic hook: write UTCDateTime as a plain timezone-aware DateTime in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def code_enum(name: str, values: tuple[str, ...], length: int = 30) -> Enum:
    """A column type for a fixed list of lower-case codes, checked by the database (no native enum to migrate)."""
    return Enum(*values, name=name, native_enum=False, length=length, create_constraint=True)


def assign_changed(obj: Any, values: dict[str, Any], fields: tuple[str, ...], text_fields: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Set each listed field present in `values` (None becomes "" for text columns); return the names that changed."""
    changed: set[str] = set()
    for name in fields:
        if name not in values:
            continue
        new = values[name]
        if name in text_fields and new is None:
            new = ""
        if getattr(obj, name) != new:
            setattr(obj, name, new)
            changed.add(name)
    return changed
