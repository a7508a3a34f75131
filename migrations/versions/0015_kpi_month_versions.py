"""KPI month versions: each month's kpi_figures rows counted and their versions summed in
64 shards, kept by triggers on kpi_figures

A board is worked out again only when the count and sum of its open months' versions
have moved (app.services.kpi.cards); read from every engineer's row, that costs a few
milliseconds at 10,000 engineers. These sums are the same numbers, kept by the database
in the transaction of every write of a row (insert, update, delete, however it is
written), read from 64 rows a month. Shards by engineer, so that two writers of a month
wait for each other on PostgreSQL only when their engineers share a shard.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

SHARDS = 64  # app.models.performance.VERSION_SHARDS

# What a row adds to its shard: 1 to the count and its version to the sum, once it has a
# version (the store gives every row it writes one, of at least 1). A row made with
# version 0, as the store's lock makes a missing row on PostgreSQL before writing it,
# adds nothing until then, so that a writer's shard is locked only by its last write.
SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER kpi_month_versions_insert AFTER INSERT ON kpi_figures
    WHEN NEW.version > 0
    BEGIN
        INSERT INTO kpi_month_versions (period, shard, rows, version)
        VALUES (NEW.period, NEW.engineer_id % {SHARDS}, 1, NEW.version)
        ON CONFLICT (period, shard) DO UPDATE
        SET rows = rows + excluded.rows, version = version + excluded.version;
    END
    """,
    f"""
    CREATE TRIGGER kpi_month_versions_update AFTER UPDATE OF version ON kpi_figures
    WHEN NEW.period = OLD.period AND NEW.engineer_id = OLD.engineer_id
         AND NEW.version <> OLD.version
    BEGIN
        INSERT INTO kpi_month_versions (period, shard, rows, version)
        VALUES (NEW.period, NEW.engineer_id % {SHARDS},
                (NEW.version > 0) - (OLD.version > 0), NEW.version - OLD.version)
        ON CONFLICT (period, shard) DO UPDATE
        SET rows = rows + excluded.rows, version = version + excluded.version;
    END
    """,
    f"""
    CREATE TRIGGER kpi_month_versions_rekey AFTER UPDATE OF period, engineer_id ON kpi_figures
    WHEN NEW.period <> OLD.period OR NEW.engineer_id <> OLD.engineer_id
    BEGIN
        UPDATE kpi_month_versions SET rows = rows - 1, version = version - OLD.version
        WHERE period = OLD.period AND shard = OLD.engineer_id % {SHARDS} AND OLD.version > 0;
        INSERT INTO kpi_month_versions (period, shard, rows, version)
        SELECT NEW.period, NEW.engineer_id % {SHARDS}, 1, NEW.version WHERE NEW.version > 0
        ON CONFLICT (period, shard) DO UPDATE
        SET rows = rows + excluded.rows, version = version + excluded.version;
    END
    """,
    f"""
    CREATE TRIGGER kpi_month_versions_delete AFTER DELETE ON kpi_figures
    WHEN OLD.version > 0
    BEGIN
        UPDATE kpi_month_versions SET rows = rows - 1, version = version - OLD.version
        WHERE period = OLD.period AND shard = OLD.engineer_id % {SHARDS};
    END
    """,
]
SQLITE_NAMES = ["kpi_month_versions_insert", "kpi_month_versions_update",
                "kpi_month_versions_rekey", "kpi_month_versions_delete"]

# PostgreSQL: one function for every kind of write; an update that leaves the version as
# it is (the store's lock, INSERT … ON CONFLICT DO UPDATE SET figures = figures) touches
# no shard. The store writes a transaction's rows in the order of their shards, so that
# two writers never wait for each other's shards in opposite orders.
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION kpi_month_versions_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.period = OLD.period AND NEW.engineer_id = OLD.engineer_id THEN
        IF NEW.version <> OLD.version THEN
            INSERT INTO kpi_month_versions (period, shard, rows, version)
            VALUES (NEW.period, NEW.engineer_id % {SHARDS},
                    (NEW.version > 0)::int - (OLD.version > 0)::int, NEW.version - OLD.version)
            ON CONFLICT (period, shard) DO UPDATE
            SET rows = kpi_month_versions.rows + EXCLUDED.rows,
                version = kpi_month_versions.version + EXCLUDED.version;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.version > 0 THEN
        UPDATE kpi_month_versions SET rows = rows - 1, version = version - OLD.version
        WHERE period = OLD.period AND shard = OLD.engineer_id % {SHARDS};
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.version > 0 THEN
        INSERT INTO kpi_month_versions (period, shard, rows, version)
        VALUES (NEW.period, NEW.engineer_id % {SHARDS}, 1, NEW.version)
        ON CONFLICT (period, shard) DO UPDATE
        SET rows = kpi_month_versions.rows + 1,
            version = kpi_month_versions.version + EXCLUDED.version;
    END IF;
    RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGER = """
CREATE TRIGGER kpi_month_versions AFTER INSERT OR UPDATE OR DELETE ON kpi_figures
FOR EACH ROW EXECUTE FUNCTION kpi_month_versions_kept()
"""
# The rows there already, counted as the triggers count them.
BACKFILL = f"""
INSERT INTO kpi_month_versions (period, shard, rows, version)
SELECT period, engineer_id % {SHARDS}, count(*), sum(version)
FROM kpi_figures WHERE version > 0 GROUP BY period, engineer_id % {SHARDS}
"""


def upgrade():
    op.create_table(
        'kpi_month_versions',
        sa.Column('period', sa.String(length=7), nullable=False),
        sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('rows', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('version', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('period', 'shard', name=op.f('pk_kpi_month_versions')),
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("LOCK TABLE kpi_figures IN EXCLUSIVE MODE")  # no write between the two
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    op.execute(BACKFILL)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER kpi_month_versions ON kpi_figures")
        op.execute("DROP FUNCTION kpi_month_versions_kept()")
    else:
        for name in SQLITE_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table('kpi_month_versions')
