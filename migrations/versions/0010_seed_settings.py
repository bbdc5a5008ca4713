"""the one-row settings tables get their row here, so reading them never writes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 02:20:00

The clinic's settings, screening policy and aftercare settings each hold a single row (id 1). Before this
revision the first read inserted it; now the migration seeds it with the defaults in force today
(docs/screening.md 'Policy', docs/aftercare.md aftercare policy) and the reading code only reads. A database that
already has a row keeps it as it is.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The values as they stood when the rows stopped being made on first read (written out here, not imported,
# so that this revision seeds the same row whatever the code says later).
ROWS = {
    'clinic_settings': {
        'name': 'My clinic', 'address': '', 'phone': '', 'out_of_hours': '', 'email': '', 'paper_size': 'A4',
        'logo_sha256': '',
    },
    'clinical_policy': {
        'min_age': 18, 'isotretinoin_washout_days': 180, 'neurotoxin_interval_days': 14, 'filler_interval_days': 14,
        'retinoid_window_days': 5, 'resurfacing_interval_days': 28, 'sunburn_window_days': 14,
        'prp_nsaid_window_days': 7, 'pih_risk_min_fitzpatrick': 4,
    },
    'aftercare_settings': {
        'makeup_hours': 24, 'makeup_hours_rf': 48, 'actives_days': 5, 'actives_days_rf': 7, 'actives_days_prp': 7,
        'exercise_hours': 72, 'prp_no_wash_hours': 6, 'sun_strict_days': 14, 'sunscreen_day0': 'mineral_spf30',
    },
}


def upgrade():
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    for table, values in ROWS.items():
        row = {'id': 1, **values, 'updated_at': now}
        columns = ', '.join(row)
        params = ', '.join(f':{name}' for name in row)
        # INSERT ... SELECT ... WHERE NOT EXISTS: the same statement on SQLite and PostgreSQL, and a row a
        # clinic already has (made on first read by the code before this revision) is left untouched.
        bind.execute(sa.text(f'INSERT INTO {table} ({columns}) SELECT {params} '
                             f'WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE id = 1)'), row)


def downgrade():
    # Nothing to undo: the code before this revision reads an existing row just as it reads one it made itself,
    # and deleting the row would throw away a clinic's own settings.
    pass
