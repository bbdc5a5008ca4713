"""screening answers nullable (no default answer), explicit yes/no before each date, consultation lock,
re-screen link, and the answer change history

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 01:40:00

Existing rows keep the answers they were saved with. The new Yes/No before each date question is
"Yes" where a date was given and NULL (not asked) where it was blank: under the old form a blank
date meant "never or not known", and the product no longer reads a blank as "never".
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


YES_NO_ANSWERS = (
    "pregnant", "breastfeeding", "active_infection", "active_cold_sore", "active_inflammatory_acne", "dermatosis_flare",
    "suspicious_lesion", "tattoo_or_pmu", "cold_sore_history", "keloid_history", "hypertrophic_scarring", "koebner_condition",
    "skin_cancer_in_area", "radiotherapy_to_area", "immunosuppressed", "autoimmune_collagen_vascular", "bleeding_disorder",
    "platelet_disorder", "bloodborne_infection", "implanted_electronic_device", "metal_implant_in_area", "smoker",
    "expectations_concern", "allergy_gold", "allergy_stainless_steel", "allergy_nickel", "allergy_topical_anaesthetic",
    "anticoagulant_prescribed",
)
CHOICE_ANSWERS = {
    "diabetes": sa.Enum('none', 'controlled', 'uncontrolled', name='diabetes', native_enum=False, create_constraint=True, length=20),
    "isotretinoin": sa.Enum('never', 'current', 'stopped', name='isotretinoin', native_enum=False, create_constraint=True, length=20),
}
# The new explicit question before each date, and its date.
DATED = {
    "had_sunburn": "sunburn_on",
    "took_nsaid_or_supplement": "nsaid_or_supplement_last_on",
    "used_topical_retinoid_or_acid": "topical_retinoid_or_acid_last_on",
    "had_neurotoxin": "neurotoxin_on",
    "had_filler_in_area": "filler_in_area_on",
    "had_resurfacing": "resurfacing_on",
}
# Tables whose rows are part of what a locked consultation says.
CHILDREN = ("consultation_concerns", "consultation_areas", "consultation_scar_counts", "screening_flags")
LOCKED = "a consultation relied on by a signed treatment session is locked: record a new consultation instead"
APPEND_ONLY = "changes to screening answers are append-only"


def _sqlite_statements():
    yield ("CREATE TRIGGER consultations_locked BEFORE UPDATE ON consultations WHEN OLD.locked_at IS NOT NULL "
           f"BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")
    yield ("CREATE TRIGGER consultations_locked_delete BEFORE DELETE ON consultations WHEN OLD.locked_at IS NOT NULL "
           f"BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")
    for table in CHILDREN:
        for op_name, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
            yield (f"CREATE TRIGGER {table}_locked_{op_name.lower()} BEFORE {op_name} ON {table} "
                   f"WHEN (SELECT locked_at FROM consultations WHERE id = {row}.consultation_id) IS NOT NULL "
                   f"BEGIN SELECT RAISE(ABORT, '{LOCKED}'); END")
    yield ("CREATE TRIGGER consultation_answer_changes_no_update BEFORE UPDATE ON consultation_answer_changes "
           f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    yield ("CREATE TRIGGER consultation_answer_changes_no_delete BEFORE DELETE ON consultation_answer_changes "
           f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def _postgresql_statements():
    yield ("CREATE FUNCTION consultations_locked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           f"IF OLD.locked_at IS NOT NULL THEN RAISE EXCEPTION '{LOCKED}'; END IF; "
           "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; $$")
    yield ("CREATE TRIGGER consultations_locked BEFORE UPDATE OR DELETE ON consultations "
           "FOR EACH ROW EXECUTE FUNCTION consultations_locked()")
    yield ("CREATE FUNCTION consultation_children_locked() RETURNS trigger LANGUAGE plpgsql AS $$ DECLARE cid integer; BEGIN "
           "IF TG_OP = 'INSERT' THEN cid := NEW.consultation_id; ELSE cid := OLD.consultation_id; END IF; "
           f"IF (SELECT locked_at FROM consultations WHERE id = cid) IS NOT NULL THEN RAISE EXCEPTION '{LOCKED}'; END IF; "
           "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END; $$")
    for table in CHILDREN:
        yield (f"CREATE TRIGGER {table}_locked BEFORE INSERT OR UPDATE OR DELETE ON {table} "
               "FOR EACH ROW EXECUTE FUNCTION consultation_children_locked()")
    yield ("CREATE FUNCTION consultation_answer_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
           f"RAISE EXCEPTION '{APPEND_ONLY}'; END; $$")
    yield ("CREATE TRIGGER consultation_answer_changes_append_only BEFORE UPDATE OR DELETE ON consultation_answer_changes "
           "FOR EACH ROW EXECUTE FUNCTION consultation_answer_changes_append_only()")


def _rebuilding_consultations(work) -> None:
    """Run `work`, which makes SQLite rebuild the consultations table, with foreign keys off.

    SQLite drops NOT NULL only by copying the table, dropping the old one and renaming the copy;
    with foreign keys on, dropping it fails while plans, consents and answers point at it, even
    deferred. The switch is ignored inside a transaction, so the migrations before this one are
    committed first; every reference is checked again before the keys are switched back on.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        work()
        return
    raw = bind.connection.dbapi_connection
    if raw.in_transaction:
        raw.commit()
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        work()
        broken = raw.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"rebuilding consultations broke {len(broken)} references, first {broken[0]}")
        if raw.in_transaction:
            raw.commit()
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _answers_nullable() -> None:
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        for name in YES_NO_ANSWERS:
            batch_op.alter_column(name, existing_type=sa.Boolean(), nullable=True)
        for name, type_ in CHOICE_ANSWERS.items():
            batch_op.alter_column(name, existing_type=type_, nullable=True)
        for name in DATED:
            batch_op.add_column(sa.Column(name, sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('supersedes_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_consultations_supersedes_id'), ['supersedes_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_consultations_supersedes_id_consultations'), 'consultations',
                                    ['supersedes_id'], ['id'])


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    _rebuilding_consultations(_answers_nullable)
    consultations = sa.table('consultations', *(sa.column(name, sa.Boolean) for name in DATED),
                             *(sa.column(day, sa.Date) for day in DATED.values()))
    for answer, day in DATED.items():
        op.execute(consultations.update().where(consultations.c[day].is_not(None)).values({answer: True}))

    op.create_table('consultation_answer_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consultation_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=60), nullable=False),
    sa.Column('old_value', sa.String(length=40), nullable=True),
    sa.Column('new_value', sa.String(length=40), nullable=True),
    sa.Column('changed_by_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_consultation_answer_changes_changed_by_id_users')),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_consultation_answer_changes_consultation_id_consultations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_answer_changes'))
    )
    with op.batch_alter_table('consultation_answer_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_answer_changes_consultation_id'), ['consultation_id'], unique=False)

    # Locked means locked in the database itself, not only in the app.
    for statement in _sqlite_statements() if sqlite else _postgresql_statements():
        op.execute(statement)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for table in CHILDREN:
            for op_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_locked_{op_name}")
        op.execute("DROP TRIGGER IF EXISTS consultations_locked")
        op.execute("DROP TRIGGER IF EXISTS consultations_locked_delete")
    else:
        for table in ("consultations", *CHILDREN):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_locked ON {table}")
        op.execute("DROP TRIGGER IF EXISTS consultation_answer_changes_append_only ON consultation_answer_changes")
        for function in ("consultations_locked", "consultation_children_locked", "consultation_answer_changes_append_only"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    with op.batch_alter_table('consultation_answer_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_answer_changes_consultation_id'))
    op.drop_table('consultation_answer_changes')

    # Answers left unanswered under the new form go back to the old form's reading of a blank.
    consultations = sa.table('consultations', *(sa.column(name, sa.Boolean) for name in YES_NO_ANSWERS),
                             sa.column('diabetes', sa.String), sa.column('isotretinoin', sa.String))
    for name in YES_NO_ANSWERS:
        op.execute(consultations.update().where(consultations.c[name].is_(None)).values({name: False}))
    op.execute(consultations.update().where(consultations.c.diabetes.is_(None)).values(diabetes='none'))
    op.execute(consultations.update().where(consultations.c.isotretinoin.is_(None)).values(isotretinoin='never'))
    _rebuilding_consultations(_answers_not_null)


def _answers_not_null() -> None:
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consultations_supersedes_id_consultations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_consultations_supersedes_id'))
        batch_op.drop_column('supersedes_id')
        batch_op.drop_column('locked_at')
        for name in DATED:
            batch_op.drop_column(name)
        for name, type_ in CHOICE_ANSWERS.items():
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        for name in YES_NO_ANSWERS:
            batch_op.alter_column(name, existing_type=sa.Boolean(), nullable=False)
