"""KPI month indexes

The live KPI card ranks an engineer among the whole organisation, so every KPI figure
is aggregated for all engineers over one month at once. These indexes lead with the
time each figure is defined by (kpi.md, Metrics), so that such an aggregate reads the
month's rows only, on PostgreSQL too (which cannot skip through the (engineer_id, time)
indexes the per-engineer look-ups use), however many months the database holds.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_first_contact', ['first_contact_at'], unique=False)
        batch_op.create_index('ix_jobs_assigned', ['assigned_at'], unique=False)
        batch_op.create_index('ix_jobs_closed', ['closed_at'], unique=False)
    with op.batch_alter_table('knowledge_items', schema=None) as batch_op:
        batch_op.create_index('ix_knowledge_status_reviewed', ['status', 'reviewed_at'], unique=False)
    with op.batch_alter_table('compliance_events', schema=None) as batch_op:
        batch_op.create_index('ix_compliance_occurred', ['occurred_at'], unique=False)


def downgrade():
    with op.batch_alter_table('compliance_events', schema=None) as batch_op:
        batch_op.drop_index('ix_compliance_occurred')
    with op.batch_alter_table('knowledge_items', schema=None) as batch_op:
        batch_op.drop_index('ix_knowledge_status_reviewed')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_closed')
        batch_op.drop_index('ix_jobs_assigned')
        batch_op.drop_index('ix_jobs_first_contact')
