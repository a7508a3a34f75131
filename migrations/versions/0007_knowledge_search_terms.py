"""knowledge search terms: one indexed row per term of a knowledge item

Chinese is written without spaces, so a knowledge item's text is split into words,
single CJK characters and CJK character pairs (app/domain/search.py); a search looks
each of its terms up through the index on (term, item_id), on SQLite and PostgreSQL
alike. Items written before this revision get their terms here.

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-25 15:00:00

"""
from alembic import op
import sqlalchemy as sa

from app.domain.search import stored_form, weighted_terms


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    terms = op.create_table('knowledge_terms',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('term', sa.String(length=40), nullable=False),
    sa.Column('weight', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['knowledge_items.id'], name=op.f('fk_knowledge_terms_item_id_knowledge_items'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('item_id', 'term', name=op.f('pk_knowledge_terms'))
    )
    with op.batch_alter_table('knowledge_terms', schema=None) as batch_op:
        batch_op.create_index('ix_knowledge_terms_term_item', ['term', 'item_id'], unique=False)
    _index_existing_items(terms)


def _index_existing_items(terms: sa.Table) -> None:
    items = sa.table('knowledge_items', sa.column('id', sa.Integer), sa.column('title'),
                     sa.column('symptom'), sa.column('cause'), sa.column('solution'),
                     sa.column('tags', sa.JSON), sa.column('search_terms'))
    conn = op.get_bind()
    last_id = 0
    while True:  # in batches, not the whole table at once
        rows = conn.execute(
            sa.select(items.c.id, items.c.title, items.c.symptom, items.c.cause,
                      items.c.solution, items.c.tags)
            .where(items.c.id > last_id).order_by(items.c.id).limit(500)
        ).all()
        if not rows:
            return
        for row in rows:
            weights = weighted_terms(row.title, row.tags or [], [row.symptom, row.cause, row.solution])
            conn.execute(sa.update(items).where(items.c.id == row.id)
                         .values(search_terms=stored_form(weights)))
            if weights:
                conn.execute(sa.insert(terms), [{"item_id": row.id, "term": term, "weight": weight}
                                                for term, weight in weights.items()])
        last_id = rows[-1].id


def downgrade():
    with op.batch_alter_table('knowledge_terms', schema=None) as batch_op:
        batch_op.drop_index('ix_knowledge_terms_term_item')

    op.drop_table('knowledge_terms')
