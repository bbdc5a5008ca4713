"""tamper evidence: REPLACE refused over locked rows; the audit chain keyed from here on

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:20:00

SQLite's REPLACE (and INSERT OR REPLACE, UPDATE OR REPLACE) resolves a key conflict by deleting the
old row without firing its delete triggers, so the triggers that lock signed records did not stop a
signed session, a consent, an addendum, an issued document or an audit row being rewritten. Each
locked or append-only table gets two more triggers: an INSERT, or an UPDATE that would take the key
(the id, the public id, any unique column) of a row that is locked, is refused before SQLite gets to
resolve the conflict. PostgreSQL has no REPLACE; INSERT ... ON CONFLICT DO UPDATE fires the update
triggers already there, which refuse it (tests/test_integrity.py checks both).

The audit chain is keyed from this revision on (HMAC-SHA256, the key kept outside the database; see
docs/integrity.md). The rows already written keep their plain SHA-256: the migration has no key to
re-hash them with, and re-hashing would vouch for rows nobody can vouch for. `keyed_from_id` on the
chain's head names the first keyed row, so the old rows stay verifiable as they were.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

SESSION_SIGNED = "(SELECT signed_at FROM treatment_sessions WHERE id = o.session_id) IS NOT NULL"
CONSULTATION_LOCKED = "(SELECT locked_at FROM consultations WHERE id = o.consultation_id) IS NOT NULL"
ALWAYS = "1"
# Each locked or append-only table, and when one of its existing rows (alias o) is locked.
LOCKED_WHEN = {
    "treatment_sessions": "o.signed_at IS NOT NULL",
    "session_zones": SESSION_SIGNED,
    "session_products": SESSION_SIGNED,
    "session_adverse_events": SESSION_SIGNED,
    "session_rescreen_flags": SESSION_SIGNED,
    "session_acknowledged_warnings": SESSION_SIGNED,
    "session_addenda": ALWAYS,
    "consents": ALWAYS,
    "consultations": "o.locked_at IS NOT NULL",
    "consultation_concerns": CONSULTATION_LOCKED,
    "consultation_areas": CONSULTATION_LOCKED,
    "consultation_scar_counts": CONSULTATION_LOCKED,
    "screening_flags": CONSULTATION_LOCKED,
    "consultation_answer_changes": ALWAYS,
    "issued_documents": ALWAYS,
    "audit_events": ALWAYS,
    "photos": SESSION_SIGNED,
    "photo_images": ("(SELECT t.signed_at FROM photos p JOIN treatment_sessions t ON t.id = p.session_id "
                     "WHERE p.id = o.photo_id) IS NOT NULL"),
    "photo_consent_withdrawals": ALWAYS,
}
REFUSED = "a locked or append-only row cannot be replaced"


def _keys(inspector, table: str) -> list[list[str]]:
    """The primary key and every unique constraint or unique index of the table, each as its columns."""
    keys = [inspector.get_pk_constraint(table)["constrained_columns"]]
    keys += [u["column_names"] for u in inspector.get_unique_constraints(table)]
    keys += [i["column_names"] for i in inspector.get_indexes(table) if i.get("unique")]
    unique: list[list[str]] = []
    for key in keys:
        if key and all(key) and key not in unique:
            unique.append(key)
    return unique


def _same_key(keys: list[list[str]]) -> str:
    return " OR ".join("(" + " AND ".join(f"o.{column} = NEW.{column}" for column in key) + ")" for key in keys)


def _sqlite_statements(inspector):
    for table, locked in LOCKED_WHEN.items():
        same_key = _same_key(_keys(inspector, table))
        yield (f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
               f"WHEN EXISTS (SELECT 1 FROM {table} AS o WHERE ({same_key}) AND ({locked})) "
               f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")
        yield (f"CREATE TRIGGER {table}_no_replace_update BEFORE UPDATE ON {table} "
               f"WHEN EXISTS (SELECT 1 FROM {table} AS o WHERE o.rowid != OLD.rowid AND ({same_key}) AND ({locked})) "
               f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        inspector = sa.inspect(bind)
        for statement in _sqlite_statements(inspector):
            op.execute(statement)
    op.add_column('audit_chain_head', sa.Column('keyed_from_id', sa.Integer(), nullable=True))
    op.execute("UPDATE audit_chain_head SET keyed_from_id = COALESCE(last_event_id, 0) + 1")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        for table in LOCKED_WHEN:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace_update")
    op.drop_column('audit_chain_head', 'keyed_from_id')
