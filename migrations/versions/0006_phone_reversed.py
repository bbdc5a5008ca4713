"""patients.phone_reversed: indexed search by the last digits of a phone number

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_reversed', sa.String(length=40), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_patients_phone_reversed'), ['phone_reversed'], unique=False)
    # Fill it for the patients already registered (SQLite has no reverse(), so in Python, in batches).
    bind = op.get_bind()
    patients = sa.table('patients', sa.column('id', sa.Integer), sa.column('phone_digits', sa.String),
                        sa.column('phone_reversed', sa.String))
    last_id = 0
    while True:
        rows = bind.execute(sa.select(patients.c.id, patients.c.phone_digits).where(patients.c.id > last_id)
                            .order_by(patients.c.id).limit(5000)).all()
        if not rows:
            break
        bind.execute(patients.update().where(patients.c.id == sa.bindparam('pid')).values(phone_reversed=sa.bindparam('reversed')),
                     [{'pid': row.id, 'reversed': (row.phone_digits or '')[::-1]} for row in rows])
        last_id = rows[-1].id


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_phone_reversed'))
        batch_op.drop_column('phone_reversed')
