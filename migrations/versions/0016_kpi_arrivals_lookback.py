"""KPI store: the arrivals' lookback in force, the largest any process has used

A month's arrivals of one engineer read only the jobs still open or closed since the
month's start less this lookback (app.domain.jobs.visit_after_close_max, from
OFFLINE_MAX_AGE_S and CLOCK_AHEAD_MAX_S). Kept, and only ever raised, so that lowering
either setting does not leave out a job whose records were accepted under the larger one.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('kpi_store_state', sa.Column('arrivals_lookback_s', sa.BigInteger(),
                                               nullable=True))


def downgrade():
    op.drop_column('kpi_store_state', 'arrivals_lookback_s')
