"""document_jobs: documents issued off the request path (the aftercare at signing), claimed by any web process

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 04:20:00

One row per document to issue in the background. A web process claims a job with one UPDATE that
only succeeds while the job is still claimable (pending and due, or running past its deadline), so
two workers or two servers never render it twice; a failed attempt is retried after `run_after`;
after the last attempt the job is 'failed' with its reason in words, and can be tried again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('source_id', sa.String(length=36), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('large_print', sa.Boolean(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=False),
    sa.Column('state', sa.Enum('pending', 'running', 'done', 'failed', name='jobstate', native_enum=False, length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=80), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('issued_document_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['issued_document_id'], ['issued_documents.id'], name=op.f('fk_document_jobs_issued_document_id_issued_documents')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_document_jobs_patient_id_patients')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_document_jobs_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_jobs')),
    sa.UniqueConstraint('public_id', name=op.f('uq_document_jobs_public_id'))
    )
    with op.batch_alter_table('document_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_document_jobs_state_run_after', ['state', 'run_after'], unique=False)
        batch_op.create_index('ix_document_jobs_kind_source_id', ['kind', 'source_id'], unique=False)


def downgrade():
    with op.batch_alter_table('document_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_document_jobs_kind_source_id')
        batch_op.drop_index('ix_document_jobs_state_run_after')
    op.drop_table('document_jobs')
