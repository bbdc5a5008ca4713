"""sign_in_failure_counts: failed sign-ins counted per account, per address and per pair, in a bounded table

Revision ID: 0014_s3
Revises: 0013
Create Date: 2026-12-06 05:15:00

Failures used to be counted from the audit trail, one audit row per failure, so a flood of wrong
passwords grew the audit table without bound and five failures by anyone locked the owner out.
One counter row per key (scope 'account', 'address' or 'pair'), reset when its last failure has left
the window and pruned after it; the audit trail keeps one row per burst.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_s3'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_failure_counts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('denied_audited', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure_counts')),
    sa.UniqueConstraint('scope', 'key', name='uq_sign_in_failure_counts_scope_key'),
    )
    with op.batch_alter_table('sign_in_failure_counts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failure_counts_last_at'), ['last_at'], unique=False)


def downgrade():
    with op.batch_alter_table('sign_in_failure_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failure_counts_last_at'))
    op.drop_table('sign_in_failure_counts')
