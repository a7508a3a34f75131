"""kpi_month_versions: a month's kpi_figures rows counted and their versions summed by
shard, kept by the database's triggers (migration 0015) through every insert, update and
delete of a row, however it is written; read by the board in place of every row; checked
by `flask kpi-verify` and put right by `flask kpi-rebuild`. Both databases."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from app.extensions import db
from app.models import KpiFigures, KpiMonthVersions, User
from app.models.performance import VERSION_SHARDS
from app.models.types import utcnow
from app.services.kpi import store

MONTHS = KpiMonthVersions.__table__
ROWS = KpiFigures.__table__


def kept() -> dict[str, tuple[int, int]]:
    """(rows, sum of versions) by month, as the shards keep them (emptied months left out)."""
    found = db.session.execute(
        sa.select(MONTHS.c.period, sa.func.sum(MONTHS.c.rows), sa.func.sum(MONTHS.c.version))
        .group_by(MONTHS.c.period)).all()
    return {period: (int(n), int(v)) for period, n, v in found if n or v}


def row(engineer_id: int, period: str, version: int) -> dict:
    return {"engineer_id": engineer_id, "period": period, "figures": {}, "version": version}


def test_the_shards_follow_every_write_of_a_row(app, org):
    a, b = org["eng_a1"].id, org["eng_b1"].id
    before = kept()
    db.session.execute(sa.insert(ROWS), [row(a, "2031-01", 5), row(b, "2031-01", 7)])
    assert kept() == {**before, "2031-01": (2, 5 + 7)}
    # An update of the version moves the sum by its step; one that leaves it (the store's
    # lock on PostgreSQL, a figure rewritten in place) moves nothing.
    db.session.execute(sa.update(ROWS).where(ROWS.c.engineer_id == a)
                       .values(version=ROWS.c.version + 3))
    db.session.execute(sa.update(ROWS).where(ROWS.c.engineer_id == b).values(figures={"x": 1}))
    assert kept()["2031-01"] == (2, 8 + 7)
    # A row moved to another month, or another engineer of another shard, leaves one
    # and joins the other.
    db.session.execute(sa.update(ROWS).where(ROWS.c.engineer_id == a, ROWS.c.period == "2031-01")
                       .values(period="2031-02"))
    assert (kept()["2031-01"], kept()["2031-02"]) == ((1, 7), (1, 8))
    db.session.execute(sa.update(ROWS).where(ROWS.c.engineer_id == b, ROWS.c.period == "2031-01")
                       .values(engineer_id=org["eng_a2"].id))
    assert kept()["2031-01"] == (1, 7)
    # A row made with version 0 (the store's lock on PostgreSQL makes a missing row so)
    # counts from its first version on.
    db.session.execute(sa.insert(ROWS), [row(b, "2031-01", 0)])
    assert kept()["2031-01"] == (1, 7)
    db.session.execute(sa.update(ROWS).where(ROWS.c.engineer_id == b, ROWS.c.period == "2031-01")
                       .values(version=ROWS.c.version + 4))
    assert kept()["2031-01"] == (2, 7 + 4)
    assert store._version_problems(db.session.connection(), None) == []
    # Deleted, the months are as before.
    db.session.execute(sa.delete(ROWS).where(ROWS.c.period.in_(["2031-01", "2031-02"])))
    assert kept() == before
    db.session.commit()
    assert kept() == before and store._version_problems(db.session.connection(), None) == []


def test_the_shards_are_the_sums_the_board_read_from_the_rows(app, org):
    engineers = [org[name].id for name in ("eng_a1", "eng_a2", "eng_b1")]
    db.session.execute(sa.insert(ROWS), [row(e, p, 11 * e + len(p) + k)
                                         for k, p in enumerate(["2031-03", "2031-04"])
                                         for e in engineers])
    db.session.commit()
    count, total, *_ = db.session.connection().execute(
        store._VERSIONS, {"open": ["2031-03", "2031-04", "2031-05"]}).one()
    rows = db.session.execute(
        sa.select(sa.func.count(), sa.func.sum(ROWS.c.version))
        .where(ROWS.c.period.in_(["2031-03", "2031-04", "2031-05"]))).one()
    assert (int(count), int(total)) == (int(rows[0]), int(rows[1])) == (
        6, sum(11 * e + 7 + k for k in (0, 1) for e in engineers))
    db.session.execute(sa.delete(ROWS).where(ROWS.c.period.in_(["2031-03", "2031-04"])))
    db.session.commit()


def test_verify_names_a_shard_that_disagrees_and_a_rebuild_puts_it_right(app, org, factory, runner):
    job = factory.job(engineer=org["eng_a1"])
    factory.visit(job)
    db.session.commit()
    assert runner.invoke(args=["kpi-verify"]).exit_code == 0
    period, shard = db.session.execute(sa.select(MONTHS.c.period, MONTHS.c.shard)).first()
    db.session.execute(sa.update(MONTHS).where(MONTHS.c.period == period, MONTHS.c.shard == shard)
                       .values(version=MONTHS.c.version + 1))
    db.session.commit()
    problems = store.verify(app.config["TIMEZONE"])
    db.session.rollback()
    assert len(problems) == 1 and f"{period}, versions of shard {shard}" in problems[0]
    result = runner.invoke(args=["kpi-verify"])
    assert result.exit_code == 1 and "1 difference(s)" in result.output
    assert runner.invoke(args=["kpi-rebuild"]).exit_code == 0
    assert runner.invoke(args=["kpi-verify"]).exit_code == 0


@pytest.mark.config()  # a database of its own: it goes down a migration and up again
def test_the_migration_counts_the_rows_already_there(app):
    now = utcnow()
    db.session.execute(sa.insert(User), [{
        "email": f"m{i}@example.com", "name": f"M{i}", "password_hash": "x", "role": "engineer",
        "created_at": now, "updated_at": now} for i in range(3)])
    ids = list(db.session.scalars(sa.select(User.id).order_by(User.id)))
    db.session.execute(sa.insert(ROWS), [row(e, "2031-06", 100 + e) for e in ids])
    db.session.commit()
    db.session.remove()
    downgrade(revision="0014")
    db.engine.dispose()
    assert "kpi_month_versions" not in sa.inspect(db.engine).get_table_names()
    with db.engine.begin() as conn:  # written while no trigger keeps the sums
        conn.execute(sa.update(ROWS).where(ROWS.c.engineer_id == ids[0]).values(version=1000))
    upgrade()
    db.engine.dispose()
    assert kept() == {"2031-06": (3, 1000 + 100 + ids[1] + 100 + ids[2])}
    db.session.execute(sa.update(ROWS).where(ROWS.c.engineer_id == ids[1])
                       .values(version=ROWS.c.version + 1))
    assert kept() == {"2031-06": (3, 1000 + 100 + ids[1] + 1 + 100 + ids[2])}
    db.session.rollback()


def test_a_transaction_s_rows_are_written_in_the_order_of_their_shards():
    """On PostgreSQL each shard a write moves stays locked until the commit: taken in one
    order by every writer, two writers never wait for each other's in opposite orders."""
    class Recorder:  # a PostgreSQL connection, as far as the store can tell
        dialect = SimpleNamespace(name="postgresql", driver="psycopg")

        def __init__(self):
            self.calls = []

        def in_transaction(self):  # its statements then go through `execute`
            return False

        def execute(self, statement, parameters):
            self.calls.append([(p["b_period"], p["b_engineer"]) for p in parameters])
            return SimpleNamespace(rowcount=len(parameters))

    shards = VERSION_SHARDS
    # Engineer order and shard order disagree: 1 + shards is in shard 1, 2 in shard 2.
    keys = [(2, "2031-08"), (1 + shards, "2031-08"), (1, "2031-07"), (shards + 2, "2031-07")]
    rows = [{"engineer_id": e, "period": p, "figures": {}, "scheme_key": None, "active": False,
             "total_score": None, "meets_target": False,
             **dict.fromkeys(("response", "efficiency", "satisfaction", "knowledge", "compliance"))}
            for e, p in keys]
    conn = Recorder()
    store._write(conn, rows, set(keys))
    assert conn.calls == [[("2031-07", 1), ("2031-07", shards + 2), ("2031-08", 1 + shards),
                           ("2031-08", 2)]]


def test_kpi_verify_reads_one_snapshot_while_others_write(app, org, factory, runner):
    """A server in service writes while kpi-verify reads: a write committed between two of
    its statements is seen by neither (PostgreSQL: one REPEATABLE READ snapshot; SQLite:
    its one read transaction), never as a difference of its own."""
    job = factory.job(engineer=org["eng_a1"])
    factory.visit(job)
    db.session.commit()
    engineer, period = db.session.execute(sa.select(ROWS.c.engineer_id, ROWS.c.period)).first()
    db.session.remove()
    written = []

    def write_meanwhile(conn, cursor, statement, parameters, context, executemany):
        counting = "FROM kpi_figures WHERE kpi_figures.version >" in " ".join(statement.split())
        if written or not counting:
            return
        written.append(True)  # after the rows are counted, before the shards are read
        with db.engine.connect() as other:
            other.execute(sa.update(ROWS)
                          .where(ROWS.c.engineer_id == engineer, ROWS.c.period == period)
                          .values(version=ROWS.c.version + 5))
            other.commit()

    sa.event.listen(db.engine, "after_cursor_execute", write_meanwhile)
    try:
        result = runner.invoke(args=["kpi-verify"])
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", write_meanwhile)
    assert written and result.exit_code == 0, result.output
    assert runner.invoke(args=["kpi-verify"]).exit_code == 0


def test_writers_at_once_all_commit_and_the_sums_stay_exact(app, factory):
    """PostgreSQL: transactions that each write the months of a few engineers of crossing
    shards, six at once, all commit, and every shard's sums are exactly the rows' (the
    triggers add to a shard in place, never from a value read before). The order in which
    a transaction locks its shards is shown above."""
    import random
    import threading

    from app.models import ComplianceEvent

    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): there is no lock order to keep")
    engineers = [factory.user("engineer").id for _ in range(VERSION_SHARDS + 8)]
    db.session.commit()
    db.session.remove()
    errors, start = [], threading.Barrier(6)

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with app.app_context():
                start.wait(10)
                for _ in range(25):
                    for engineer in rng.sample(engineers, 3):
                        db.session.add(ComplianceEvent(
                            engineer_id=engineer, kind="process_violation", severity="low",
                            occurred_at=utcnow(), note="Seen on site"))
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ComplianceEvent)) == 6 * 25 * 3
    assert store._version_problems(db.session.connection(), None) == []
