"""KPI store versions: each row's version moves with every write to it, the state's with
every change of who is on the board; a covering index of a month's scores

A board is worked out again only when the versions of its months, or the state's, have
moved (app.services.kpi.cards); the index lets the board and the versions be read
without the rows' figures.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

SCORES = ['period', 'engineer_id', 'version', 'scheme_key', 'active', 'total_score',
          'meets_target', 'response', 'efficiency', 'satisfaction', 'knowledge', 'compliance']


def upgrade():
    op.add_column('kpi_figures', sa.Column('version', sa.BigInteger(), nullable=False,
                                           server_default='0'))
    op.add_column('kpi_store_state', sa.Column('version', sa.BigInteger(), nullable=False,
                                               server_default='0'))
    op.create_index('ix_kpi_figures_scores', 'kpi_figures', SCORES, unique=False)


def downgrade():
    op.drop_index('ix_kpi_figures_scores', table_name='kpi_figures')
    op.drop_column('kpi_store_state', 'version')
    op.drop_column('kpi_figures', 'version')
