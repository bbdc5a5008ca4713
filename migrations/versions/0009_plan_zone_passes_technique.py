"""plan_zones: the planned passes and technique of each zone (optional)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TECHNIQUES = ('glide', 'stamp', 'cross_hatch')
CHECK = 'ck_plan_zones_technique'


def upgrade():
    # Both nullable: a plan made before this, or one where the practitioner leaves them open, names none.
    op.add_column('plan_zones', sa.Column('passes', sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite cannot add a constraint to a table, but it takes one written with the new column.
        listed = ', '.join(f"'{t}'" for t in TECHNIQUES)
        op.execute(f'ALTER TABLE plan_zones ADD COLUMN technique VARCHAR(20) CONSTRAINT {CHECK} CHECK (technique IN ({listed}))')
    else:
        op.add_column('plan_zones', sa.Column('technique', sa.String(length=20), nullable=True))
        op.create_check_constraint(op.f(CHECK), 'plan_zones', sa.column('technique').in_(TECHNIQUES))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column whose only constraint is its own CHECK.
        op.execute('ALTER TABLE plan_zones DROP COLUMN technique')
        op.execute('ALTER TABLE plan_zones DROP COLUMN passes')
    else:
        op.drop_constraint(op.f(CHECK), 'plan_zones', type_='check')
        op.drop_column('plan_zones', 'technique')
        op.drop_column('plan_zones', 'passes')
