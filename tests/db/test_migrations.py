"""The migrations build the schema the models describe, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.models import KpiStoreState
from app.models.types import utcnow


def _diff() -> list:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    assert _diff() == []


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


@pytest.mark.config()  # a database of its own: it drops every table on the way
def test_downgrade_to_empty_and_up_again(app):
    """Round trip on this test's own database: nothing is left behind, all comes back."""
    tables = set(db.metadata.tables)
    downgrade(revision="base")
    db.engine.dispose()
    remaining = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    assert remaining == set()
    upgrade()
    db.engine.dispose()
    assert tables <= set(sa.inspect(db.engine).get_table_names())
    assert _diff() == []


@pytest.mark.config()  # a database of its own: it is migrated down and up again
@pytest.mark.kpi_store_unchecked("a visit ten days after its job's close, as no rule allows")
def test_an_upgraded_database_keeps_the_lookback_its_records_need(app, factory, org):
    """Migration 0016 starts the arrivals' lookback from the records: a visit checked in
    10 days and 7 seconds after its job's close (as records accepted under larger
    settings may be) keeps 11 days and 7 seconds in force, whatever the settings say."""
    closed = utcnow().replace(microsecond=0) - timedelta(days=12)
    job = factory.job(engineer=org["eng_a1"], reported_at=closed - timedelta(days=1),
                      status="closed", closed_at=closed, fixed=True)
    factory.visit(job, at=closed + timedelta(days=10, seconds=7), minutes=None)
    db.session.commit()
    downgrade(revision="0015")
    db.engine.dispose()
    upgrade()
    db.engine.dispose()
    assert db.session.scalar(sa.select(KpiStoreState.arrivals_lookback_s)) == 11 * 86400 + 7
