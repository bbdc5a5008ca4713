"""consultation started from a patient intake: which intake, and each patient answer beside the confirmed one

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 08:00:00

`consultations.intake_id` names the patient intake a consultation was started from (NULL for one
recorded without). `consultation_intake_answers` keeps, per screening question the patient answered,
the patient's answer (its code and its date as the patient gave it, "about March 2026") beside the
value the practitioner confirmed, whether that was a correction, the reason, who and when. The rows
are part of what the consultation says, so they lock with it exactly as its concerns, areas and
flags do (migration 0007): once a signed treatment session relied on the consultation, INSERT,
UPDATE and DELETE are refused, and on SQLite a REPLACE over a locked row too (as migration 0016).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

TABLE = "consultation_intake_answers"
LOCKED = "a consultation relied on by a signed treatment session is locked: record a new consultation instead"
REFUSED = "a locked or append-only row cannot be replaced"
CONSULTATION_LOCKED = "(SELECT locked_at FROM consultations WHERE id = {row}.consultation_id) IS NOT NULL"


def _sqlite_statements():
    for op_name, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        yield (f"CREATE TRIGGER {TABLE}_locked_{op_name.lower()} BEFORE {op_name} ON {TABLE} "
               f"WHEN {CONSULTATION_LOCKED.format(row=row)} BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")
    same_key = "(o.id = NEW.id) OR (o.consultation_id = NEW.consultation_id AND o.question = NEW.question)"
    locked = CONSULTATION_LOCKED.format(row="o")
    yield (f"CREATE TRIGGER {TABLE}_no_replace BEFORE INSERT ON {TABLE} "
           f"WHEN EXISTS (SELECT 1 FROM {TABLE} AS o WHERE ({same_key}) AND ({locked})) "
           f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")
    yield (f"CREATE TRIGGER {TABLE}_no_replace_update BEFORE UPDATE ON {TABLE} "
           f"WHEN EXISTS (SELECT 1 FROM {TABLE} AS o WHERE o.rowid != OLD.rowid AND ({same_key}) AND ({locked})) "
           f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")


def upgrade():
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=60), nullable=False),
    sa.Column('patient_answer', sa.String(length=20), nullable=False),
    sa.Column('patient_when', sa.String(length=60), nullable=False),
    sa.Column('patient_date', sa.Date(), nullable=True),
    sa.Column('confirmed_value', sa.String(length=40), nullable=False),
    sa.Column('confirmed_date', sa.Date(), nullable=True),
    sa.Column('corrected', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_consultation_intake_answers_consultation_id_consultations')),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_consultation_intake_answers_changed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_intake_answers')),
    sa.UniqueConstraint('consultation_id', 'question', name='uq_consultation_intake_answers_consultation_id'),
    )
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # A plain ADD COLUMN: a batch rebuild of consultations would drop its lock triggers.
        op.execute("ALTER TABLE consultations ADD COLUMN intake_id INTEGER "
                   "CONSTRAINT fk_consultations_intake_id_patient_intakes REFERENCES patient_intakes (id)")
        for statement in _sqlite_statements():
            op.execute(statement)
    else:
        op.add_column('consultations', sa.Column('intake_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_consultations_intake_id_patient_intakes', 'consultations', 'patient_intakes', ['intake_id'], ['id'])
        # The function migration 0007 made for the consultation's other rows: refused once the consultation is locked.
        op.execute(f"CREATE TRIGGER {TABLE}_locked BEFORE INSERT OR UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION consultation_children_locked()")
    op.create_index('ix_consultations_intake_id', 'consultations', ['intake_id'], unique=False)


def downgrade():
    bind = op.get_bind()
    op.drop_index('ix_consultations_intake_id', table_name='consultations')
    if bind.dialect.name == 'sqlite':
        for name in ("locked_insert", "locked_update", "locked_delete", "no_replace", "no_replace_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_{name}")
        op.execute("ALTER TABLE consultations DROP COLUMN intake_id")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_locked ON {TABLE}")
        op.drop_constraint('fk_consultations_intake_id_patient_intakes', 'consultations', type_='foreignkey')
        op.drop_column('consultations', 'intake_id')
    op.drop_table(TABLE)
