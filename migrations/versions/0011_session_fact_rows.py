"""treatment_sessions: re-screen flags and acknowledged warnings become child rows instead of JSON text

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 02:40:00

rescreen_flags (a JSON list of the screening engine's flags) and warnings_acknowledged (a JSON list of
warning texts) move to session_rescreen_flags and session_acknowledged_warnings, one row per item in
its original order, locked with the session by the same triggers as its zones, products and adverse
events. A signed session's stored SHA-256 still verifies: the hash input is built from the rows in
exactly the shape the JSON held (treatments.services.canonical_record).

Signed sessions are locked by triggers, and neither direction changes a locked row's content:
- upgrade inserts the child rows before their lock triggers exist, then drops the two columns (DDL
  fires no row trigger);
- downgrade adds the columns back and must write the JSON into signed rows, so it lifts the session
  lock trigger for that one statement per row and puts back the very same trigger afterwards.
An item in a shape the rows cannot hold exactly is refused with the session's id, never dropped.
"""
from datetime import date
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

LOCKED = "a signed treatment session is locked: add an addendum instead"
NEW_CHILDREN = ("session_rescreen_flags", "session_acknowledged_warnings")
FLAG_KEYS = {"code", "decision", "reason", "earliest_date"}
DECISIONS = ("proceed", "proceed_with_caution", "defer", "refer", "decline")


def _sqlite_child_triggers(table):
    for op_name, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        yield (f"CREATE TRIGGER {table}_locked_{op_name.lower()} BEFORE {op_name} ON {table} "
               f"WHEN (SELECT signed_at FROM treatment_sessions WHERE id = {row}.session_id) IS NOT NULL "
               f"BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")


def _postgresql_child_triggers(table):
    # session_children_locked() is revision 0003's: it reads NEW/OLD.session_id, whatever the child table.
    yield (f"CREATE TRIGGER {table}_locked BEFORE INSERT OR UPDATE OR DELETE ON {table} "
           f"FOR EACH ROW EXECUTE FUNCTION session_children_locked()")


def _flag_row(session_id, position, flag):
    """One stored flag as a row, refused unless the row gives back exactly the same JSON value."""
    if not isinstance(flag, dict) or not set(flag) <= FLAG_KEYS or not {"code", "decision", "reason"} <= set(flag) \
            or not all(isinstance(flag[key], str) for key in flag) or flag["decision"] not in DECISIONS:
        raise RuntimeError(f"treatment session {session_id}: re-screen flag {position} is not in the engine's shape "
                           f"({flag!r}); fix it by hand before upgrading, so its signed hash is not changed")
    earliest = flag.get("earliest_date")
    if earliest is not None and date.fromisoformat(earliest).isoformat() != earliest:
        raise RuntimeError(f"treatment session {session_id}: re-screen flag {position} has an earliest date "
                           f"{earliest!r} that is not a plain ISO date")
    return {"session_id": session_id, "position": position, "code": flag["code"], "decision": flag["decision"],
            "reason": flag["reason"], "earliest_date": date.fromisoformat(earliest) if earliest else None}


def _warning_row(session_id, position, text):
    if not isinstance(text, str):
        raise RuntimeError(f"treatment session {session_id}: acknowledged warning {position} is not text ({text!r})")
    return {"session_id": session_id, "position": position, "text": text}


def upgrade():
    bind = op.get_bind()
    # Every stored item is read and checked before anything changes, so a refusal leaves the database as it was.
    flag_rows, warning_rows = [], []
    stored = bind.execute(sa.text("SELECT id, rescreen_flags, warnings_acknowledged FROM treatment_sessions ORDER BY id"))
    for session_id, raw_flags, raw_warnings in stored:
        flag_rows += [_flag_row(session_id, i, flag) for i, flag in enumerate(json.loads(raw_flags or "[]"))]
        warning_rows += [_warning_row(session_id, i, text) for i, text in enumerate(json.loads(raw_warnings or "[]"))]

    flags = op.create_table(
        'session_rescreen_flags',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=60), nullable=False),
        sa.Column('decision', sa.Enum(*DECISIONS, name='rescreen_flag_decision', native_enum=False,
                                      create_constraint=True, length=30), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('earliest_date', sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'],
                                name=op.f('fk_session_rescreen_flags_session_id_treatment_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_session_rescreen_flags')),
    )
    op.create_index(op.f('ix_session_rescreen_flags_session_id'), 'session_rescreen_flags', ['session_id'], unique=False)
    op.create_index(op.f('ix_session_rescreen_flags_code'), 'session_rescreen_flags', ['code'], unique=False)
    warnings = op.create_table(
        'session_acknowledged_warnings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['session_id'], ['treatment_sessions.id'],
                                name=op.f('fk_session_acknowledged_warnings_session_id_treatment_sessions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_session_acknowledged_warnings')),
    )
    op.create_index(op.f('ix_session_acknowledged_warnings_session_id'), 'session_acknowledged_warnings', ['session_id'],
                    unique=False)

    # The rows go in before their lock triggers exist: a signed session's flags are copied, not changed.
    if flag_rows:
        op.bulk_insert(flags, flag_rows)
    if warning_rows:
        op.bulk_insert(warnings, warning_rows)

    child_triggers = _postgresql_child_triggers if bind.dialect.name == 'postgresql' else _sqlite_child_triggers
    for table in NEW_CHILDREN:
        for statement in child_triggers(table):
            op.execute(statement)

    # Plain ALTER TABLE ... DROP COLUMN (no batch rebuild, which on SQLite would drop the session's triggers).
    op.execute('ALTER TABLE treatment_sessions DROP COLUMN rescreen_flags')
    op.execute('ALTER TABLE treatment_sessions DROP COLUMN warnings_acknowledged')


def downgrade():
    bind = op.get_bind()
    postgresql = bind.dialect.name == 'postgresql'
    op.execute("ALTER TABLE treatment_sessions ADD COLUMN rescreen_flags TEXT NOT NULL DEFAULT '[]'")
    op.execute("ALTER TABLE treatment_sessions ADD COLUMN warnings_acknowledged TEXT NOT NULL DEFAULT '[]'")

    flags, warnings = {}, {}
    for session_id, code, decision, reason, earliest in bind.execute(sa.text(
            "SELECT session_id, code, decision, reason, earliest_date FROM session_rescreen_flags ORDER BY session_id, position")):
        flag = {"code": code, "decision": decision, "reason": reason}
        if earliest is not None:
            flag["earliest_date"] = (earliest if isinstance(earliest, date) else date.fromisoformat(earliest)).isoformat()
        flags.setdefault(session_id, []).append(flag)
    for session_id, text in bind.execute(sa.text(
            "SELECT session_id, text FROM session_acknowledged_warnings ORDER BY session_id, position")):
        warnings.setdefault(session_id, []).append(text)

    # Writing the JSON back into a signed session is an UPDATE its lock trigger refuses: lift exactly that trigger
    # for these statements and put the same one back (same SQL on SQLite; disabled, then enabled on PostgreSQL).
    if postgresql:
        op.execute("ALTER TABLE treatment_sessions DISABLE TRIGGER treatment_sessions_locked")
    else:
        lock_sql = bind.execute(sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'treatment_sessions_locked'")).scalar_one()
        op.execute("DROP TRIGGER treatment_sessions_locked")
    update = sa.text("UPDATE treatment_sessions SET rescreen_flags = :flags, warnings_acknowledged = :warnings WHERE id = :id")
    for session_id in sorted(set(flags) | set(warnings)):
        bind.execute(update, {"id": session_id, "flags": json.dumps(flags.get(session_id, [])),
                              "warnings": json.dumps(warnings.get(session_id, []))})
    if postgresql:
        op.execute("ALTER TABLE treatment_sessions ENABLE TRIGGER treatment_sessions_locked")
        # The columns had no server default before this revision.
        op.execute("ALTER TABLE treatment_sessions ALTER COLUMN rescreen_flags DROP DEFAULT")
        op.execute("ALTER TABLE treatment_sessions ALTER COLUMN warnings_acknowledged DROP DEFAULT")
    else:
        op.execute(lock_sql)

    for table in NEW_CHILDREN:
        if postgresql:
            op.execute(f"DROP TRIGGER {table}_locked ON {table}")
        else:
            for op_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_locked_{op_name}")
    op.drop_index(op.f('ix_session_acknowledged_warnings_session_id'), table_name='session_acknowledged_warnings')
    op.drop_table('session_acknowledged_warnings')
    op.drop_index(op.f('ix_session_rescreen_flags_code'), table_name='session_rescreen_flags')
    op.drop_index(op.f('ix_session_rescreen_flags_session_id'), table_name='session_rescreen_flags')
    op.drop_table('session_rescreen_flags')
