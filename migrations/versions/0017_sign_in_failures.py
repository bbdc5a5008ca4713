"""sign_in_failure_counts (failed sign-ins counted per account, address and pair, bounded); two-factor sign-in

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:15:00

Failures used to be counted from the audit trail, one audit row per failure, so a flood of wrong
passwords grew the audit table without bound and five failures by anyone locked the owner out.
One counter row per key (scope 'account', 'address' or 'pair'), reset when its last failure has left
the window and pruned after it; the audit trail keeps one row per burst.
Two-factor sign-in: the user's TOTP secret, when it was confirmed, the last time step used; one-time
recovery codes (hashed); the clinic setting that requires two-factor for everyone.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
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
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('require_two_factor', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))
    op.drop_table('recovery_codes')
    # Plain ALTER TABLE ... DROP COLUMN on both databases (as 0011 does). A batch rebuild on SQLite copies the
    # table and drops the old one, and DROP TABLE users fails with foreign keys on while any row points at a user
    # (the PRAGMA that would switch them off is ignored inside the migration's transaction).
    op.drop_column('clinic_settings', 'require_two_factor')
    op.drop_column('users', 'totp_last_step')
    op.drop_column('users', 'totp_enabled_at')
    op.drop_column('users', 'totp_secret')
    with op.batch_alter_table('sign_in_failure_counts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failure_counts_last_at'))
    op.drop_table('sign_in_failure_counts')
