"""patients: names stored without bidi override and isolate characters

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 05:35:00

From this revision a typed name loses the bidirectional override and isolate characters (U+202A-U+202E,
U+2066-U+2069), which can make one name display as another (docs/security.md). Names stored before keep
them until this revision takes them out, with the folded search columns made from the names. Only the
characters go: a name holding none is not touched. The downgrade changes nothing (the characters are not
kept anywhere to put back, and no code needs them).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# Written out here, not imported, so that this revision does the same whatever the code says later.
BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
COLUMNS = ('given_name', 'family_name', 'preferred_name', 'given_name_search', 'family_name_search')


def upgrade():
    bind = op.get_bind()
    patients = sa.table('patients', sa.column('id', sa.Integer), *(sa.column(name, sa.String) for name in COLUMNS))
    for row in bind.execute(sa.select(patients)).mappings():
        changed = {name: row[name].translate(BIDI_CONTROLS).strip() for name in COLUMNS
                   if row[name] and row[name].translate(BIDI_CONTROLS) != row[name]}
        if changed:
            bind.execute(sa.update(patients).where(patients.c.id == row['id']).values(**changed))


def downgrade():
    pass
