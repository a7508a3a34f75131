"""ticket intake: service-desk sources, their deliveries, a job's source and ticket id

A job taken in from a service desk (by the signed webhook or a CSV import) keeps the
source's key and the ticket's id there; one unique index on the pair makes a ticket
delivered twice, even at the same moment, one job.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 15:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('intake_sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret_ciphertext', sa.Text(), nullable=False),
    sa.Column('previous_secret_ciphertext', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('secret_rotated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_intake_sources_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_sources')),
    sa.UniqueConstraint('key', name=op.f('uq_intake_sources_key'))
    )
    op.create_table('intake_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('source_key', sa.String(length=40), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Enum('created', 'duplicate', 'refused', name='delivery_outcome', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('body_sha256', sa.String(length=64), nullable=False),
    sa.Column('body_bytes', sa.Integer(), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_intake_deliveries_job_id_jobs')),
    sa.ForeignKeyConstraint(['source_id'], ['intake_sources.id'], name=op.f('fk_intake_deliveries_source_id_intake_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_deliveries'))
    )
    with op.batch_alter_table('intake_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_deliveries_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_deliveries_received_at'), ['received_at'], unique=False)
        batch_op.create_index('ix_intake_deliveries_source_received', ['source_id', 'received_at'], unique=False)
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_jobs_source_external', ['source', 'external_id'], unique=True)



def downgrade():
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_source_external')
        batch_op.drop_column('external_id')
        batch_op.drop_column('source')
    with op.batch_alter_table('intake_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_intake_deliveries_source_received')
        batch_op.drop_index(batch_op.f('ix_intake_deliveries_received_at'))
        batch_op.drop_index(batch_op.f('ix_intake_deliveries_job_id'))
    op.drop_table('intake_deliveries')
    op.drop_table('intake_sources')
