"""treatment_sessions: today's re-screen answered explicitly (no default answer), and a Yes/No before each date

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 03:10:00

The five Yes/No re-screen answers become nullable (NULL: not answered yet), and each dated question
gets its explicit answer (had_sunburn, had_neurotoxin, had_filler, had_resurfacing). Existing rows keep
the answers they were saved with. A date given under the old form was a Yes; a blank date is left NULL,
on drafts (to be asked) and on signed sessions alike (shown as not asked as a question then), since the
old form never asked it as a question. Signed sessions stay locked by the same triggers, and their
stored SHA-256 still verifies (the signature's content leaves a Yes to its date).
"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


YES_NO = ("pregnant_now", "breastfeeding_now", "cold_sore_now", "anticoagulant_now", "isotretinoin_now")
DATED = {"had_sunburn": "sunburn_on", "had_neurotoxin": "neurotoxin_on", "had_filler": "filler_on",
         "had_resurfacing": "resurfacing_on"}
TABLE = "treatment_sessions"
COPY = "treatment_sessions_0012"


def _sqlite_rebuild(bind, edit) -> None:
    """Rebuild treatment_sessions with `edit` applied to its CREATE TABLE text, as SQLite's documented procedure does.

    SQLite changes NOT NULL only by copying the table. Dropping the old table drops its indexes and its lock
    triggers, so their SQL is read from sqlite_master first and run again, word for word, on the new table.
    Foreign keys are off while the table is swapped (session rows point at it); every reference is checked
    before they are switched back on. The switch is ignored inside a transaction, so the revisions before this
    one are committed first. legacy_alter_table keeps the rename from re-parsing the child tables' lock
    triggers, which name treatment_sessions (the new table has that name again once renamed).
    """
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:
        raw.commit()
    raw.execute("PRAGMA foreign_keys = OFF")
    raw.execute("PRAGMA legacy_alter_table = ON")
    try:
        raw.execute("BEGIN")
        create = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone()[0]
        kept = [row[0] for row in raw.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL "
            "ORDER BY type, name", (TABLE,))]
        header = re.compile(r'^CREATE TABLE "?treatment_sessions"? \(')
        if not header.match(create):
            raise RuntimeError(f"unexpected definition of {TABLE}: {create[:60]}")
        new = header.sub(f"CREATE TABLE {COPY} (", edit(create), count=1)
        columns = ", ".join(f'"{row[1]}"' for row in raw.execute(f"PRAGMA table_info({TABLE})"))
        raw.execute(new)
        raw.execute(f"INSERT INTO {COPY} ({columns}) SELECT {columns} FROM {TABLE}")
        raw.execute(f"DROP TABLE {TABLE}")
        raw.execute(f"ALTER TABLE {COPY} RENAME TO {TABLE}")
        for statement in kept:
            raw.execute(statement)
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"rebuilding {TABLE} broke {len(broken)} references, first {broken[0]}")
        raw.commit()
    except Exception:
        raw.rollback()
        raise
    finally:
        raw.execute("PRAGMA legacy_alter_table = OFF")
        raw.execute("PRAGMA foreign_keys = ON")


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    changed, count = re.subn(pattern, replacement, text)
    if count != 1:
        raise RuntimeError(f"expected one match of {pattern} in {TABLE}'s definition, found {count}")
    return changed


def _nullable(create: str) -> str:
    for name in YES_NO:
        create = _replace_once(create, rf'\b("?{name}"?) BOOLEAN NOT NULL', r'\1 BOOLEAN')
    return create


def _not_null(create: str) -> str:
    for name in YES_NO:
        create = _replace_once(create, rf'\b("?{name}"?) BOOLEAN(?! NOT NULL)', r'\1 BOOLEAN NOT NULL')
    return create


def _sessions(*names):
    return sa.table(TABLE, *(sa.column(name, sa.Boolean) for name in names), *(sa.column(day, sa.Date) for day in DATED.values()))


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Plain ADD COLUMN keeps the table (and so its triggers); the rebuild that follows carries the columns over.
        for name in DATED:
            op.execute(f"ALTER TABLE {TABLE} ADD COLUMN {name} BOOLEAN")

        _sqlite_rebuild(bind, _nullable)
        # Setting a signed session's Yes is an UPDATE its lock trigger refuses: lift exactly that trigger for these
        # statements and put the same one back (its SQL as stored).
        lock_sql = bind.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'treatment_sessions_locked'")).scalar_one()
        op.execute("DROP TRIGGER treatment_sessions_locked")
        _date_means_yes()
        op.execute(lock_sql)
    else:
        for name in YES_NO:
            op.alter_column(TABLE, name, existing_type=sa.Boolean(), nullable=True)
        for name in DATED:
            op.add_column(TABLE, sa.Column(name, sa.Boolean(), nullable=True))
        op.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER treatment_sessions_locked")
        _date_means_yes()
        op.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER treatment_sessions_locked")


def _date_means_yes() -> None:
    """A date given under the old form was a Yes; a blank date stays NULL (it was never asked as a question)."""
    sessions = _sessions(*DATED)
    for answer, day in DATED.items():
        op.execute(sessions.update().where(sessions.c[day].is_not(None)).values({answer: True}))


def _unanswered_means_no() -> None:
    """The old form read an unanswered question as No: drafts saved with one unanswered go back to that reading."""
    sessions = _sessions(*YES_NO)
    for name in YES_NO:
        op.execute(sessions.update().where(sessions.c[name].is_(None)).values({name: False}))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # Only drafts can hold an unanswered question (signing needs every one), so the lock trigger stays in place.
        _unanswered_means_no()
        for name in DATED:
            op.execute(f"ALTER TABLE {TABLE} DROP COLUMN {name}")
        _sqlite_rebuild(bind, _not_null)
    else:
        _unanswered_means_no()
        for name in DATED:
            op.drop_column(TABLE, name)
        for name in YES_NO:
            op.alter_column(TABLE, name, existing_type=sa.Boolean(), nullable=False)
