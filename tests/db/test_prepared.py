"""Prepared statements (app/models/prepared.py) answer exactly as SQLAlchemy does, store
exactly what it stores, and fall back to it wherever they cannot run on the driver."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import IdempotencyRecord, Job, Visit
from app.models.prepared import DRIVERS, Prepared, prepared
from app.models.sql import CHECK_IN_HISTORY, CHECK_IN_JOB, INSERT_VISIT, JOB_STARTED
from app.models.types import utcnow

JOBS, VISITS, RECORDS = Job.__table__, Visit.__table__, IdempotencyRecord.__table__


def _direct() -> bool:
    return db.engine.dialect.driver in DRIVERS


def _visit(job, engineer_id, at, **values):
    return {"job_id": job.id, "site_id": job.site_id, "engineer_id": engineer_id,
            "status": "verified", "flags": [], "in_lat": 31.2304, "in_lon": 121.4737,
            "in_accuracy_m": 8.5, "in_client_time": at, "in_server_time": at,
            "in_distance_m": 12.25, "in_mock": False, "in_flags": [], "check_in_note": None,
            "decision_final": False, "created_at": at, **values}


def test_rows_read_are_those_sqlalchemy_reads_with_the_same_types(app, org, factory):
    engineer = org["eng_a1"]
    job = factory.job(engineer=engineer)
    at = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    conn = db.session.connection()
    visit_id = prepared(INSERT_VISIT).scalar(
        conn, _visit(job, engineer.id, at, flags=["LOW_ACCURACY"]))
    params = {"job_id": job.id, "engineer_id": engineer.id}
    assert prepared(CHECK_IN_JOB).first(conn, params) == conn.execute(CHECK_IN_JOB, params).first()
    found = prepared(CHECK_IN_JOB).first(conn, params)
    assert (found.id, found.status, found.reported_at) == (job.id, job.status, job.reported_at)
    assert found.reported_at.tzinfo is not None
    history = {"engineer_id": engineer.id, "at": at + timedelta(minutes=1),
               "lat_low": 31.2, "lat_high": 31.3, "lon_low": 121.4, "lon_high": 121.5}
    mine = prepared(CHECK_IN_HISTORY).rows(conn, history)
    theirs = conn.execute(CHECK_IN_HISTORY, history).all()
    assert [tuple(r) for r in mine] == [tuple(r) for r in theirs]
    assert {(r.kind, r.client_time) for r in mine} >= {("previous", at), ("near", at)}
    assert ("open", visit_id) in {(r.kind, r.visit_id) for r in mine}
    # The stored row is the one SQLAlchemy reads back: the time to the microsecond, in
    # UTC, the JSON a list.
    stored = db.session.get(Visit, visit_id)
    assert (stored.in_client_time, stored.flags, stored.in_mock) == (at, ["LOW_ACCURACY"], False)
    assert stored.in_distance_m == 12.25


def test_a_missing_row_and_a_scalar(app, org):
    conn = db.session.connection()
    assert prepared(CHECK_IN_JOB).first(conn, {"job_id": 10**9, "engineer_id": 1}) is None
    assert prepared(CHECK_IN_JOB).rows(conn, {"job_id": 10**9, "engineer_id": 1}) == []
    assert prepared(CHECK_IN_JOB).scalar(conn, {"job_id": 10**9, "engineer_id": 1}) is None


def test_the_statement_s_own_values_and_the_columns_python_defaults(app, org, factory):
    """JOB_STARTED carries its statuses itself, and jobs.updated_at is set by its
    Python-side onupdate: both are given, as SQLAlchemy gives them."""
    job = factory.job(engineer=org["eng_a1"], status="assigned")
    before = utcnow()
    conn = db.session.connection()
    assert prepared(JOB_STARTED).run(conn, {"job_id": job.id}) == 1
    assert prepared(JOB_STARTED).run(conn, {"job_id": job.id}) == 0  # not assigned any more
    status, updated_at = conn.execute(
        sa.select(JOBS.c.status, JOBS.c.updated_at).where(JOBS.c.id == job.id)).one()
    assert status == "in_progress" and updated_at >= before


def test_in_lists_of_any_length_and_a_literal_one(app, org, factory):
    jobs = [factory.job(engineer=org["eng_a1"]) for _ in range(3)]
    ids = sa.bindparam("ids", expanding=True)
    statement = (sa.select(JOBS.c.id).where(JOBS.c.id.in_(ids),
                                            sa.func.lower(JOBS.c.status).in_(["new", "assigned"]))
                 .order_by(JOBS.c.id))
    mine = Prepared(statement)
    conn = db.session.connection()
    for chosen in ([jobs[0].id], [j.id for j in jobs], [], [jobs[2].id, jobs[0].id], [jobs[1].id]):
        expected = conn.execute(statement, {"ids": chosen}).scalars().all()
        assert [r.id for r in mine.rows(conn, {"ids": chosen})] == expected
        assert expected == sorted(chosen)


def test_beside_an_in_list_every_other_value_is_converted_as_sqlalchemy_converts_it(
        app, org, factory):
    """An IN list's plan converts the other parameters too: a time compared with stored
    times is given as they are stored (the driver's own rendering would miss the edge)."""
    at = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    jobs = [factory.job(engineer=org["eng_a1"], reported_at=at + timedelta(hours=h))
            for h in range(3)]
    start = sa.bindparam("start")
    statement = (sa.select(JOBS.c.id)
                 .where(JOBS.c.reported_at >= start,
                        JOBS.c.status.in_(sa.bindparam("statuses", expanding=True)))
                 .order_by(JOBS.c.id))
    conn = db.session.connection()
    for statuses in (["assigned"], ["new", "assigned", "closed"]):
        params = {"start": at, "statuses": statuses}
        expected = conn.execute(statement, params).scalars().all()
        assert prepared(statement).rows(conn, params) == [(j.id,) for j in jobs] == [
            (job_id,) for job_id in expected]


def test_several_rows_of_parameters_at_once(app, org, factory):
    job = factory.job(engineer=org["eng_a1"])
    at = datetime(2031, 6, 1, 9, 0, tzinfo=UTC)
    insert = Prepared(sa.insert(VISITS))
    conn = db.session.connection()
    rows = [_visit(job, org["eng_a1"].id, at + timedelta(minutes=k)) for k in range(3)]
    counted = insert.run(conn, rows)
    assert counted == 3 or not _direct()
    # Rows naming different columns are each inserted with their own.
    rows = [_visit(job, org["eng_a1"].id, at + timedelta(hours=1)),
            {k: v for k, v in _visit(job, org["eng_a1"].id, at + timedelta(hours=2)).items()
             if k != "check_in_note"}]
    counted = insert.run(conn, rows)  # one statement each
    assert counted == 2 or not _direct()
    assert insert.run(conn, []) == 0
    times = conn.execute(sa.select(VISITS.c.in_client_time).where(VISITS.c.job_id == job.id)
                         .order_by(VISITS.c.in_client_time)).scalars().all()
    assert times == [at, at + timedelta(minutes=1), at + timedelta(minutes=2),
                     at + timedelta(hours=1), at + timedelta(hours=2)]


def test_the_database_s_errors_are_sqlalchemy_s(app, org):
    """A constraint broken on the driver raises SQLAlchemy's IntegrityError, as every
    handler of the app expects; the transaction can be rolled back as usual."""
    user_id = org["eng_a1"].id
    record = {"user_id": user_id, "key": "k-1", "fingerprint": "f", "created_at": utcnow()}
    insert = Prepared(sa.insert(RECORDS))
    conn = db.session.connection()
    insert.run(conn, record)
    with pytest.raises(sa.exc.IntegrityError):
        insert.run(conn, record)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RECORDS)
                             .where(RECORDS.c.key == "k-1")) == 0


def test_a_missing_parameter_is_refused_before_the_database(app, org):
    with pytest.raises(sa.exc.ArgumentError if _direct() else sa.exc.StatementError):
        prepared(CHECK_IN_JOB).first(db.session.connection(), {"job_id": 1})


def test_a_listener_of_the_engine_sees_every_statement(app, org, factory):
    """With a listener on the cursor's executions (a test counting statements), the
    statement runs through SQLAlchemy: nothing is hidden from it."""
    job = factory.job(engineer=org["eng_a1"])
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        row = prepared(CHECK_IN_JOB).first(db.session.connection(),
                                           {"job_id": job.id, "engineer_id": org["eng_a1"].id})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert row.id == job.id
    assert len(seen) == 1 and seen[0].startswith("SELECT jobs.id")


def test_statements_rendered_at_execution_are_refused(app):
    if not _direct():
        pytest.skip("only SQLite's and psycopg's drivers run prepared statements")
    literal = sa.select(JOBS.c.id).where(JOBS.c.id.in_(sa.bindparam("ids", literal_execute=True,
                                                                     expanding=True)))
    with pytest.raises(TypeError):
        Prepared(literal).rows(db.session.connection(), {"ids": [1]})


def test_on_both_drivers_the_statement_skips_sqlalchemy_s_execution(app, org, factory):
    """What the module is for: on SQLite's and psycopg's drivers, within a transaction,
    the statement goes to the driver without SQLAlchemy's execution around it."""
    job = factory.job(engineer=org["eng_a1"])
    executed = []

    def seen(conn, clauseelement, *args):
        executed.append(clauseelement)

    conn = db.session.connection()
    sa.event.listen(db.engine, "before_execute", seen)
    try:
        row = prepared(CHECK_IN_JOB).first(conn, {"job_id": job.id,
                                                  "engineer_id": org["eng_a1"].id})
    finally:
        sa.event.remove(db.engine, "before_execute", seen)
    assert row.id == job.id
    assert executed == []


def test_columns_converted_as_the_driver_s_type_codes_ask(app, org, factory):
    """On PostgreSQL an average is NUMERIC whatever the statement calls it: a column
    typed Float is converted from the Decimal the driver gives, as SQLAlchemy converts
    it (from the type code in the cursor's description); a Numeric stays Decimal."""
    for _ in range(3):
        factory.job(engineer=org["eng_a1"])
    statement = sa.select(
        sa.type_coerce(sa.func.avg(JOBS.c.id), sa.Float).label("mean"),
        sa.cast(sa.func.avg(JOBS.c.id), sa.Numeric(12, 2)).label("exact"),
        sa.func.max(JOBS.c.reported_at).label("latest"),
    ).where(JOBS.c.engineer_id == sa.bindparam("engineer_id"))
    conn = db.session.connection()
    params = {"engineer_id": org["eng_a1"].id}
    expected = conn.execute(statement, params).one()
    for _ in range(2):  # the first execution works the conversions out, the second reuses them
        mine = prepared(statement).first(conn, params)
        assert tuple(mine) == tuple(expected)
        assert [type(value) for value in mine] == [type(value) for value in expected]
    assert type(mine.mean) is float


def test_a_lost_connection_is_invalidated_as_sqlalchemy_invalidates_it(app, org, factory):
    """A connection the server dropped fails the statement with SQLAlchemy's error,
    marked as a disconnect, and is not given back to the pool: the next transaction
    works on a fresh one."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a SQLite file cannot be taken away from its connection")
    job = factory.job(engineer=org["eng_a1"])
    params = {"job_id": job.id, "engineer_id": org["eng_a1"].id}
    db.session.commit()
    conn = db.session.connection()
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with db.engine.connect() as other:
        other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(sa.exc.OperationalError) as raised:
        prepared(CHECK_IN_JOB).first(conn, params)
    assert raised.value.connection_invalidated
    db.session.rollback()
    assert prepared(CHECK_IN_JOB).first(db.session.connection(), params).id == job.id


def test_a_json_none_is_stored_as_sqlalchemy_stores_it(app, org):
    """JSON's null, not SQL's NULL: the bind conversion runs for None too."""
    conn = db.session.connection()
    at = utcnow()
    row = {"user_id": org["eng_a1"].id, "fingerprint": "f", "created_at": at,
           "response_status": 201, "response_body": "{}", "response_headers": None}
    conn.execute(sa.insert(RECORDS), {**row, "key": "theirs"})
    prepared(sa.insert(RECORDS)).run(conn, {**row, "key": "mine"})
    stored = dict(conn.execute(sa.select(
        RECORDS.c.key, sa.cast(RECORDS.c.response_headers, sa.Text)).where(
        RECORDS.c.key.in_(["mine", "theirs"]))).all())
    assert stored["mine"] == stored["theirs"] == "null"


def test_parameter_names_sqlalchemy_escapes_and_a_percent_sign_in_the_sql(app, org, factory):
    job = factory.job(engineer=org["eng_a1"])
    statement = (sa.select(JOBS.c.id, sa.literal_column("'100%'").label("share"))
                 .where(JOBS.c.id == sa.bindparam("the job.id"),
                        JOBS.c.engineer_id == sa.bindparam("engineer [id]")))
    params = {"the job.id": job.id, "engineer [id]": org["eng_a1"].id}
    conn = db.session.connection()
    expected = conn.execute(statement, params).one()
    assert tuple(prepared(statement).first(conn, params)) == tuple(expected) == (job.id, "100%")
