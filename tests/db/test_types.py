"""UTCDateTime (app/models/types.py) binds on SQLite in one step of its own, and what it
writes is exactly what SQLAlchemy's own chain writes (process_bind_param, then the
SQLite DATETIME's text); on other databases SQLAlchemy's chain is kept as it is."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app.models.types import UTCDateTime


def _theirs(dialect):
    """SQLAlchemy's own chain, as TypeDecorator builds it."""
    column = UTCDateTime()
    impl = column.impl_instance.dialect_impl(dialect).bind_processor(dialect)
    return lambda value: impl(column.process_bind_param(value, dialect))


def _times(n: int):
    rng = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5, minutes=-30)),
             timezone(timedelta(hours=14))]
    yield datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # no microseconds: still six digits
    yield datetime(1970, 1, 1, tzinfo=UTC)
    yield datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    yield datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC)  # a year of three digits: four
    yield datetime(2027, 1, 1, 4, 30, tzinfo=timezone(timedelta(hours=8)))  # the day before
    for _ in range(n):
        yield datetime(rng.randint(2, 9998), rng.randint(1, 12), rng.randint(1, 28),
                       rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                       rng.choice([0, rng.randint(0, 999_999)]), tzinfo=rng.choice(zones))


def test_sqlite_binds_in_one_step_what_sqlalchemy_binds():
    dialect = sqlite.dialect()
    ours, theirs = UTCDateTime().bind_processor(dialect), _theirs(dialect)
    assert ours.__qualname__.startswith("UTCDateTime.")
    for value in _times(5000):
        assert ours(value) == theirs(value), value
    assert ours(datetime(2027, 1, 1, 4, 30, tzinfo=timezone(timedelta(hours=8)))) == (
        "2026-12-31 20:30:00.000000")
    assert ours(None) is None


def test_a_naive_time_is_still_refused():
    ours = UTCDateTime().bind_processor(sqlite.dialect())
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 12, 7, 9, 0))


def test_another_storage_format_or_database_keeps_sqlalchemys_chain():
    class Seconds(UTCDateTime):
        impl = sqlite.DATETIME(truncate_microseconds=True)

    dialect = sqlite.dialect()
    processor = Seconds().bind_processor(dialect)
    assert not processor.__qualname__.startswith("UTCDateTime.")
    assert processor(datetime(2026, 12, 7, 9, 0, 1, 5, tzinfo=UTC)) == "2026-12-07 09:00:01"
    pg = postgresql.dialect()
    value = datetime(2026, 12, 7, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    bound = (UTCDateTime().bind_processor(pg) or (lambda v: v))(value)
    assert bound == value and bound.tzinfo is UTC


def test_what_is_stored_reads_back_the_same(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'types.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", UTCDateTime()))
    table.metadata.create_all(engine)
    values = list(_times(200))
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "at": v} for i, v in enumerate(values)])
        read = conn.execute(sa.select(table.c.at).order_by(table.c.id)).scalars().all()
        # Times compare in SQL as the text sorts: the same instant, the same text.
        latest = conn.execute(sa.select(sa.func.max(table.c.at))).scalar()
    assert read == values and all(v.tzinfo is UTC for v in read)
    assert latest == max(values)
    engine.dispose()
