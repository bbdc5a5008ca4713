"""patient_intakes: the health questions a patient answers on the clinic's tablet or by a one-time link

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 07:40:00

Once submitted, an intake is kept exactly as signed: the database refuses any UPDATE that changes
anything but the review (reviewed_at, reviewed_by_id, set once, and the row's updated_at/_by), any
DELETE, and, on SQLite, any REPLACE over it (INSERT OR REPLACE / UPDATE OR REPLACE resolve a key
conflict by deleting the old row without firing its delete trigger, so a key taken over is refused
first, as 0016 does for the other locked tables). PostgreSQL has no REPLACE; INSERT ... ON CONFLICT
DO UPDATE fires the update trigger, which refuses it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

LOCKED = "a submitted intake is kept exactly as signed: it cannot be changed or deleted"
REFUSED = "a locked or append-only row cannot be replaced"
# Every column fixed once the intake is submitted (all but the review and the row's updated_at/_by).
FIXED = ("id", "public_id", "patient_id", "channel", "started_by_id", "created_at", "created_by_id", "expires_at",
         "token_hash", "dob_failures", "verified_at", "draft", "status", "abandoned_at", "submitted_at",
         "text_version", "answers_json", "signature_png", "sha256")
# The keys a REPLACE could take over (primary key and unique columns).
KEYS = (("id",), ("public_id",), ("token_hash",))


def _sqlite_statements():
    changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in FIXED)
    yield ("CREATE TRIGGER patient_intakes_locked BEFORE UPDATE ON patient_intakes "
           f"WHEN OLD.submitted_at IS NOT NULL AND (OLD.reviewed_at IS NOT NULL OR {changed}) "
           f"BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")
    yield ("CREATE TRIGGER patient_intakes_locked_delete BEFORE DELETE ON patient_intakes "
           f"WHEN OLD.submitted_at IS NOT NULL BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")
    same_key = " OR ".join("(" + " AND ".join(f"o.{c} = NEW.{c}" for c in key) + ")" for key in KEYS)
    yield ("CREATE TRIGGER patient_intakes_no_replace BEFORE INSERT ON patient_intakes "  # nosec B608  # names are this file's constants
           f"WHEN EXISTS (SELECT 1 FROM patient_intakes AS o WHERE ({same_key}) AND o.submitted_at IS NOT NULL) "
           f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")
    yield ("CREATE TRIGGER patient_intakes_no_replace_update BEFORE UPDATE ON patient_intakes "  # nosec B608  # names are this file's constants
           f"WHEN EXISTS (SELECT 1 FROM patient_intakes AS o WHERE o.rowid != OLD.rowid AND ({same_key}) "
           f"AND o.submitted_at IS NOT NULL) BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")


def _postgresql_statements():
    changed = " OR ".join(f"NEW.{column} IS DISTINCT FROM OLD.{column}" for column in FIXED)
    yield ("CREATE FUNCTION patient_intakes_locked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           "IF OLD.submitted_at IS NOT NULL THEN "
           f"IF TG_OP = 'DELETE' THEN RAISE EXCEPTION '{LOCKED}'; END IF; "
           f"IF OLD.reviewed_at IS NOT NULL OR {changed} THEN RAISE EXCEPTION '{LOCKED}'; END IF; "
           "END IF; "
           "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; $$")
    yield ("CREATE TRIGGER patient_intakes_locked BEFORE UPDATE OR DELETE ON patient_intakes "
           "FOR EACH ROW EXECUTE FUNCTION patient_intakes_locked()")


def upgrade():
    op.create_table('patient_intakes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.Enum('tablet', 'link', name='intake_channel', native_enum=False, create_constraint=True, length=10), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('dob_failures', sa.Integer(), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('draft', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'submitted', 'abandoned', name='intake_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('abandoned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('text_version', sa.String(length=40), nullable=True),
    sa.Column('answers_json', sa.Text(), nullable=True),
    sa.Column('signature_png', sa.LargeBinary(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('public_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(status = 'submitted') = (submitted_at IS NOT NULL)", name=op.f('ck_patient_intakes_submitted_when_status')),
    sa.CheckConstraint('dob_failures >= 0', name=op.f('ck_patient_intakes_dob_failures_not_negative')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_patient_intakes_created_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_intakes_patient_id_patients')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_patient_intakes_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_patient_intakes_started_by_id_users')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_patient_intakes_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_intakes')),
    sa.UniqueConstraint('public_id', name=op.f('uq_patient_intakes_public_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_patient_intakes_token_hash'))
    )
    with op.batch_alter_table('patient_intakes', schema=None) as batch_op:
        batch_op.create_index('ix_patient_intakes_patient_id_status', ['patient_id', 'status'], unique=False)

    bind = op.get_bind()
    statements = _sqlite_statements() if bind.dialect.name == 'sqlite' else _postgresql_statements()
    for statement in statements:
        op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS patient_intakes_locked ON patient_intakes")
        op.execute("DROP FUNCTION IF EXISTS patient_intakes_locked()")
    # SQLite drops a table's triggers with the table.
    with op.batch_alter_table('patient_intakes', schema=None) as batch_op:
        batch_op.drop_index('ix_patient_intakes_patient_id_status')
    op.drop_table('patient_intakes')
