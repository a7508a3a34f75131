"""visit position and open-visit indexes

DUPLICATE_COORDINATES finds an engineer's earlier check-ins and check-outs at the same
position through (engineer_id, lat, lon); NO_CHECKOUT finds the visits still open since
before a cutoff through (out_client_time, in_client_time), without reading every visit
(app/services/visits.py).

Revision ID: 0003
Revises: 0004
Create Date: 2026-11-25 14:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_engineer_in_position', ['engineer_id', 'in_lat', 'in_lon'], unique=False)
        batch_op.create_index('ix_visits_engineer_out_position', ['engineer_id', 'out_lat', 'out_lon'], unique=False)
        batch_op.create_index('ix_visits_open', ['out_client_time', 'in_client_time'], unique=False)


def downgrade():
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_open')
        batch_op.drop_index('ix_visits_engineer_out_position')
        batch_op.drop_index('ix_visits_engineer_in_position')
