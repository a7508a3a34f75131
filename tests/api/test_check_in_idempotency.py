"""The check-in's Idempotency-Key, recorded with the visit in the check-in's own
transaction (app/idempotency.py, `with_its_effects`): replay, reuse, a duplicate in
flight, a key recorded meanwhile by another request, nothing half-written after a
failure, and the statements one check-in costs."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import g

from app import idempotency
from app.extensions import db
from app.models import IdempotencyRecord, Job, Visit
from app.models.sql import key_lock
from app.models.types import utcnow
from app.services import visits as visit_service
from app.services.kpi import store as kpi_store
from tests.api.test_app import assert_problem
from tests.api.test_visits import as_user, check_in_body, eng, job, site  # noqa: F401  (fixtures)

# One keyed check-in by bearer token (not flagged, its arrival kept in the KPI store):
# the caller with the record of the key (PostgreSQL: and its advisory lock); the job
# (PostgreSQL: with the KPI schemes' shared lock); the position history; the visit; the
# job started (PostgreSQL: in the visit's statement); the key recorded with the answer;
# the month's KPI row with the engineer's scheme (PostgreSQL: locked by an upsert), its
# arrival aggregate, the row written. SQLite reads the caller outside a transaction (no
# BEGIN counted), and the job's site there too (its distance worked out before the write
# lock), then begins the write with BEGIN IMMEDIATE on its driver.
STATEMENTS = {"sqlite": 10, "postgresql": 8}


def records() -> int:
    return db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id)))


def visits() -> int:
    return db.session.scalar(sa.select(sa.func.count(Visit.id)))


def job_status(job_id: int) -> str:
    return db.session.scalar(sa.select(Job.status).where(Job.id == job_id))


def post(client, job, site, key, **fields):
    """A check-in made the same each time (its client_time too), sent with `key`."""
    body = {"job_id": job.id, "lat": site.lat, "lon": site.lon, "accuracy_m": 10.0,
            "client_time": "2026-01-01T00:00:00+00:00"}
    body.update(client_time=(utcnow() - timedelta(minutes=1)).replace(second=0, microsecond=0).isoformat())
    body.update(fields)
    return client.post("visits/check-in", json=body, headers={"Idempotency-Key": key})


def test_a_check_in_costs_a_fixed_number_of_statements(app, org, factory, site):
    first, second = (factory.job(site=site, engineer=org["eng_a1"]) for _ in range(2))
    db.session.commit()
    client = as_user(app, org["eng_a1"])
    # An hour before: the token's use is noted, and the check-in below is not flagged.
    earlier = check_in_body(first, site, at=utcnow() - timedelta(hours=1))
    assert client.post("visits/check-in", json=earlier).status_code == 201
    body = check_in_body(second, site, 20)
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.post("visits/check-in", json=body,
                               headers={"Idempotency-Key": str(uuid.uuid4())})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["flags"] == [], response.get_json()
    assert len(seen) == STATEMENTS[db.engine.dialect.name], "\n".join(s[:80] for s in seen)
    assert response.get_json()["flags"] == []


def test_a_repeat_replays_the_check_in(eng, job, site):
    key = str(uuid.uuid4())
    first = post(eng, job, site, key)
    second = post(eng, job, site, key)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert visits() == 1 and records() == 1
    stored = db.session.scalars(sa.select(IdempotencyRecord)).one()
    assert stored.response_status == 201


def test_the_same_key_with_another_check_in_is_refused(eng, job, site):
    key = str(uuid.uuid4())
    assert post(eng, job, site, key).status_code == 201
    assert_problem(post(eng, job, site, key, accuracy_m=12.0), 422, "IDEMPOTENCY_KEY_REUSED")
    assert visits() == 1 and records() == 1


def test_a_failed_check_in_records_no_key_and_may_be_retried(eng, job, site):
    key = str(uuid.uuid4())
    assert_problem(post(eng, job, site, key, accuracy_m=-1), 422, "VALIDATION_ERROR")
    assert records() == 0 and visits() == 0
    assert post(eng, job, site, key).status_code == 201
    assert visits() == 1 and records() == 1


def _recorded_meanwhile(monkeypatch, status: int | None, body: str = '{"id": 0}'):
    """Another request records the key between this one's look-up and its insert."""
    # The token's use noted already: sign-in and the look-up hold no write lock.
    db.session.execute(sa.text("UPDATE api_tokens SET last_used_at = :now"), {"now": utcnow()})
    db.session.commit()
    looked_up = idempotency._looked_up

    def interfering(user_id, key, print_, row):
        answer = looked_up(user_id, key, print_, row)
        assert answer is None and g.idempotency_pending is not None
        with db.engine.begin() as other:
            other.execute(sa.insert(IdempotencyRecord.__table__).values(
                user_id=user_id, key=key, fingerprint=print_, created_at=utcnow(),
                response_status=status, response_body=None if status is None else body,
                response_headers={"Location": "/api/v1/visits/0"} if status else None))
        return None

    monkeypatch.setattr(idempotency, "_looked_up", interfering)


def test_a_key_recorded_meanwhile_undoes_the_check_in_and_replays(eng, job, site, monkeypatch):
    _recorded_meanwhile(monkeypatch, 201)
    response = post(eng, job, site, str(uuid.uuid4()))
    assert response.status_code == 201
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.get_json() == {"id": 0}
    db.session.expire_all()
    assert visits() == 0 and records() == 1
    assert job_status(job.id) == "assigned"


def test_a_key_claimed_meanwhile_undoes_the_check_in_with_409(eng, job, site, monkeypatch):
    _recorded_meanwhile(monkeypatch, None)
    assert_problem(post(eng, job, site, str(uuid.uuid4())), 409, "IDEMPOTENCY_IN_PROGRESS")
    db.session.expire_all()
    assert visits() == 0 and records() == 1
    assert job_status(job.id) == "assigned"


def test_a_duplicate_in_flight_gets_409_at_once_on_postgresql(app, org, eng, job, site):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take turns: a duplicate finds the key recorded (above)")
    key = str(uuid.uuid4())
    with db.engine.connect() as other:  # the first request, still in its transaction
        other.execute(sa.select(sa.func.pg_advisory_xact_lock(key_lock(org["eng_a1"].id, key))))
        assert_problem(post(eng, job, site, key), 409, "IDEMPOTENCY_IN_PROGRESS")
        other.rollback()
    assert visits() == 0 and records() == 0
    assert post(eng, job, site, key).status_code == 201


@pytest.mark.parametrize("where", ["check-in", "commit"])
def test_a_failure_midway_leaves_nothing(eng, job, site, monkeypatch, where):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    if where == "check-in":  # after the visit is inserted, before the job is started
        monkeypatch.setattr(visit_service.kpi_store, "touch", broken)
    else:  # the KPI rows written at commit, after the key is recorded
        monkeypatch.setattr(kpi_store, "_write", broken)
    key = str(uuid.uuid4())
    assert_problem(post(eng, job, site, key), 500, "INTERNAL_ERROR")
    db.session.expire_all()
    assert visits() == 0 and records() == 0
    assert job_status(job.id) == "assigned"
    monkeypatch.undo()
    assert post(eng, job, site, key).status_code == 201
    assert visits() == 1 and records() == 1 and job_status(job.id) == "in_progress"


def test_an_expired_key_checks_in_again_and_its_record_is_the_new_one(eng, job, factory, org,
                                                                       site):
    """Past IDEMPOTENCY_TTL_S a key counts no more: the check-in acts again (another job
    here, so another body), and the old record is replaced in the check-in's own
    transaction."""
    key = str(uuid.uuid4())
    assert post(eng, job, site, key).status_code == 201
    db.session.execute(sa.update(IdempotencyRecord).values(
        created_at=utcnow() - timedelta(hours=73)))
    other = factory.job(site=site, engineer=org["eng_a1"], reported_at=utcnow() - timedelta(days=1))
    db.session.commit()
    again = post(eng, other, site, key)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert "Idempotent-Replayed" not in again.headers
    assert visits() == 2 and records() == 1
    record = db.session.scalar(sa.select(IdempotencyRecord))
    assert record.response_body == again.get_data(as_text=True)
    assert utcnow() - record.created_at < timedelta(minutes=1)


def test_an_abandoned_claim_is_taken_over_and_a_failed_check_in_leaves_it(app, eng, job, site,
                                                                          org):
    """A claim of the same request with no answer, older than the lease (a worker of an
    earlier release died before committing): a check-in that fails leaves it as it was;
    one that succeeds replaces it with its answer."""
    key = str(uuid.uuid4())
    body = {"job_id": job.id, "lat": site.lat, "lon": site.lon, "accuracy_m": 10.0,
            "client_time": (utcnow() - timedelta(minutes=1)).replace(microsecond=0).isoformat()}
    with app.test_request_context("/api/v1/visits/check-in", method="POST", json=body):
        print_ = idempotency.fingerprint()
    claim = IdempotencyRecord(user_id=org["eng_a1"].id, key=key, fingerprint=print_,
                              created_at=utcnow() - timedelta(minutes=6))
    db.session.add(claim)
    db.session.commit()
    claim_id = claim.id
    job.status = "cancelled"
    db.session.commit()
    refused = eng.post("visits/check-in", json=body, headers={"Idempotency-Key": key})
    assert_problem(refused, 409, "JOB_CLOSED")
    assert db.session.scalars(sa.select(IdempotencyRecord.id)).all() == [claim_id]
    job.status = "assigned"
    db.session.commit()
    done = eng.post("visits/check-in", json=body, headers={"Idempotency-Key": key})
    assert done.status_code == 201, done.get_data(as_text=True)
    record = db.session.scalar(sa.select(IdempotencyRecord))
    assert record.response_status == 201 and utcnow() - record.created_at < timedelta(minutes=1)
    assert visits() == 1 and records() == 1
