"""KPI store: the arrivals' lookback in force, the largest any process has used

A month's arrivals of one engineer read only the jobs still open or closed since the
month's start less this lookback (app.domain.jobs.visit_after_close_max, from
OFFLINE_MAX_AGE_S and CLOCK_AHEAD_MAX_S). Kept, and only ever raised, so that lowering
either setting does not leave out a job whose records were accepted under the larger one.
A database upgraded with records starts from the records' own: the largest time by which
a visit's check-in follows its job's close, a day more (records accepted under larger
settings, or under earlier rules, are covered too).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:30:00

"""
import math

from alembic import op
import sqlalchemy as sa

from app.models.types import UTCDateTime


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

DAY_S = 86400  # app.domain.jobs.VISIT_AFTER_CLOSE_MARGIN


def upgrade():
    op.add_column('kpi_store_state', sa.Column('arrivals_lookback_s', sa.BigInteger(),
                                               nullable=True))
    jobs = sa.table('jobs', sa.column('id', sa.Integer), sa.column('closed_at', UTCDateTime()))
    visits = sa.table('visits', sa.column('job_id', sa.Integer),
                      sa.column('in_client_time', UTCDateTime()))
    bind = op.get_bind()
    gaps = bind.execute(
        sa.select(visits.c.in_client_time, jobs.c.closed_at)
        .join(jobs, jobs.c.id == visits.c.job_id)
        .where(jobs.c.closed_at.is_not(None), visits.c.in_client_time > jobs.c.closed_at))
    gap = max(((checked_in - closed).total_seconds() for checked_in, closed in gaps), default=None)
    if gap is None:
        return
    seconds = math.ceil(gap) + DAY_S
    state = sa.table('kpi_store_state', sa.column('id', sa.Integer),
                     sa.column('timezone', sa.String), sa.column('ready', sa.Boolean),
                     sa.column('arrivals_lookback_s', sa.BigInteger))
    updated = bind.execute(sa.update(state).where(state.c.id == 1)
                           .values(arrivals_lookback_s=seconds)).rowcount
    if not updated:  # records without a state: read from the records until rebuilt
        op.bulk_insert(state, [{'id': 1, 'timezone': None, 'ready': False,
                                'arrivals_lookback_s': seconds}])


def downgrade():
    op.drop_column('kpi_store_state', 'arrivals_lookback_s')
