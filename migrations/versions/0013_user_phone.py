"""a user's phone: where a supervisor calls an engineer (tap to call), set by an admin or
by the user themselves

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


# In place on both databases: a batch copy of users would drop the table every other
# refers to, which SQLite refuses while their rows do (SQLite drops a plain column
# in place since 3.35).


def upgrade():
    op.add_column('users', sa.Column('phone', sa.String(length=32), nullable=True))


def downgrade():
    op.drop_column('users', 'phone')
