"""treatment_sessions: who acknowledged the depth warnings, and when

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 01:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

FK = 'fk_treatment_sessions_warnings_acknowledged_by_id_users'


def upgrade():
    # Plain ALTER TABLE ... ADD COLUMN, never a batch rebuild: rebuilding treatment_sessions on SQLite would
    # drop the triggers that lock signed sessions.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE treatment_sessions ADD COLUMN warnings_acknowledged_by_id INTEGER '
                   f'CONSTRAINT {FK} REFERENCES users (id)')
    else:
        op.add_column('treatment_sessions', sa.Column('warnings_acknowledged_by_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK, 'treatment_sessions', 'users', ['warnings_acknowledged_by_id'], ['id'])
    op.add_column('treatment_sessions', sa.Column('warnings_acknowledged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a column that no index or trigger names (a foreign key on it included).
        op.execute('ALTER TABLE treatment_sessions DROP COLUMN warnings_acknowledged_at')
        op.execute('ALTER TABLE treatment_sessions DROP COLUMN warnings_acknowledged_by_id')
    else:
        op.drop_constraint(FK, 'treatment_sessions', type_='foreignkey')
        op.drop_column('treatment_sessions', 'warnings_acknowledged_at')
        op.drop_column('treatment_sessions', 'warnings_acknowledged_by_id')
