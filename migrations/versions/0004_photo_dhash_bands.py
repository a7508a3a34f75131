"""photo dhash bands: four indexed 16-bit bands of the difference hash

Near-duplicate photos (DUPLICATE_PHOTO) are looked up by band instead of by reading
every photo: two hashes within d bits of each other agree to within d // 4 bits on at
least one of the four bands (app/services/photos.py).

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-25 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0001'
branch_labels = None
depends_on = None

BANDS = [f"dhash_band{i}" for i in range(4)]


def upgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        for band in BANDS:
            batch_op.add_column(sa.Column(band, sa.Integer(), nullable=True))
    # Existing rows: band i is bits 63-16i .. 48-16i of the hash. The column holds the
    # hash in two's complement; the mask makes an arithmetic shift read like a logical one.
    photos = sa.table('photos', sa.column('dhash', sa.BigInteger()),
                      *(sa.column(band, sa.Integer()) for band in BANDS))
    op.execute(photos.update().values({
        # Inline numbers: PostgreSQL has bigint >> integer, but no bigint >> bigint.
        band: photos.c.dhash.op('>>')(sa.literal_column(str(48 - 16 * i))).op('&')(0xFFFF)
        for i, band in enumerate(BANDS)
    }))
    with op.batch_alter_table('photos', schema=None) as batch_op:
        for band in BANDS:
            batch_op.alter_column(band, existing_type=sa.Integer(), nullable=False)
            batch_op.create_index(batch_op.f(f'ix_photos_{band}'), [band], unique=False)


def downgrade():
    with op.batch_alter_table('photos', schema=None) as batch_op:
        for band in BANDS:
            batch_op.drop_index(batch_op.f(f'ix_photos_{band}'))
            batch_op.drop_column(band)
