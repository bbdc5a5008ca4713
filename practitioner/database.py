"""Declarative base, shared column types and mixins, and SQLite connection settings."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Date, DateTime, Enum, ForeignKey, MetaData, String, TypeDecorator, Uuid, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, registry

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


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn: Any) -> None:
    """Start SQLite transactions as IMMEDIATE.

    A deferred transaction that reads and then writes fails at once with "database is
    locked" when another writer got there first (the busy timeout does not apply to
    that upgrade). Taking the write lock up front makes concurrent writers wait in turn.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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
