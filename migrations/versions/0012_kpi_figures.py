"""the KPI store: each engineer's raw figures by month, kept with the records

A card and the team board read these rows instead of aggregating the whole
organisation's records. A database that already holds records gets a state row that
says the store must be built (`flask kpi-rebuild`); until then figures are computed
from the records as before.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('kpi_figures',
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('engineer_id', sa.Integer(), nullable=False),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.Column('scheme_key', sa.String(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('total_score', sa.Float(), nullable=True),
    sa.Column('meets_target', sa.Boolean(), nullable=False),
    sa.Column('response', sa.Float(), nullable=True),
    sa.Column('efficiency', sa.Float(), nullable=True),
    sa.Column('satisfaction', sa.Float(), nullable=True),
    sa.Column('knowledge', sa.Float(), nullable=True),
    sa.Column('compliance', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['engineer_id'], ['users.id'], name=op.f('fk_kpi_figures_engineer_id_users')),
    sa.PrimaryKeyConstraint('period', 'engineer_id', name=op.f('pk_kpi_figures'))
    )
    with op.batch_alter_table('kpi_figures', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_figures_engineer', ['engineer_id', 'period'], unique=False)
    # Streaks read who met the target in closed months without the cards' large JSON.
    with op.batch_alter_table('kpi_cards', schema=None) as batch_op:
        batch_op.create_index('ix_kpi_cards_met', ['period', 'meets_target', 'engineer_id'], unique=False)
    state = op.create_table('kpi_store_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('ready', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_store_state'))
    )
    has_records = op.get_bind().execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM jobs) OR EXISTS (SELECT 1 FROM trainings)"
        " OR EXISTS (SELECT 1 FROM knowledge_items) OR EXISTS (SELECT 1 FROM compliance_events)"
    )).scalar()
    if has_records:
        op.bulk_insert(state, [{'id': 1, 'timezone': None, 'ready': False}])


def downgrade():
    with op.batch_alter_table('kpi_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_kpi_cards_met')
    op.drop_table('kpi_store_state')
    op.drop_table('kpi_figures')
