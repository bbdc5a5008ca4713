"""how each patient answer was confirmed: one by one, or with all the patient's No answers at once

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 08:45:00

`consultation_intake_answers.confirmation` says how the practitioner confirmed the patient's answer:
"one_by_one" (on the question itself) or "all_nos" (with the form's "I have gone through all the
patient's No answers with them" box, or the patient page's button that opens the form with it
ticked); who and when are the row's changed_by and changed_at. Rows recorded before this column hold
"" (not recorded). A plain ADD COLUMN on both databases: the table's lock triggers (0020) stay.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

TABLE = "consultation_intake_answers"


def upgrade():
    op.add_column(TABLE, sa.Column('confirmation', sa.String(length=20), nullable=False, server_default=''))


def downgrade():
    op.drop_column(TABLE, 'confirmation')
