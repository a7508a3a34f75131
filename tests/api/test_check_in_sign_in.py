"""The check-in finds its caller itself, in one statement without the ORM
(app/api/security.py `caller`): it must answer exactly as every other route's sign-in
(Flask-Login's loaders) does, for every kind of credential, and keep the sign-in's
last-used time as they do."""
from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_limiter import ApplicationLimit
from geopy.distance import geodesic

from app import _database_busy
from app.extensions import db, limiter
from app.models import prepared as prepared_module
from app.models import ApiToken, IdempotencyRecord, Site, User, UserSession, Visit
from app.models.types import utcnow
from app.services import visits as visit_service
from tests.api.test_app import assert_problem
from tests.api.test_visits import as_user, check_in_body, job, site  # noqa: F401  (fixtures)
from tests.support import ApiClient


def visits() -> int:
    return db.session.scalar(sa.select(sa.func.count(Visit.id)))


def records() -> int:
    return db.session.scalar(sa.select(sa.func.count(IdempotencyRecord.id)))


def both(client: ApiClient, job, site, **kwargs) -> tuple[int, int]:
    """The check-in's status, and that of another route reading the same credentials."""
    checked_in = client.post("visits/check-in", json=check_in_body(job, site), **kwargs)
    return checked_in.status_code, client.get("auth/me").status_code


def test_a_revoked_token_or_a_disabled_engineer_is_refused_as_everywhere(app, org, job, site):
    engineer = as_user(app, org["eng_a1"])
    db.session.execute(sa.update(ApiToken).values(revoked_at=utcnow()))
    db.session.commit()
    assert both(engineer, job, site) == (401, 401)
    engineer = as_user(app, org["eng_a1"])
    db.session.execute(sa.update(User).where(User.id == org["eng_a1"].id).values(active=False))
    db.session.commit()
    assert both(engineer, job, site) == (401, 401)
    assert visits() == 0


def test_an_ended_or_expired_session_is_refused_as_everywhere(app, client, org, job, site):
    assert client.login(org["eng_a1"]).status_code == 200
    db.session.execute(sa.update(UserSession).values(
        last_seen_at=utcnow() - app.config["PERMANENT_SESSION_LIFETIME"] - timedelta(minutes=1)))
    db.session.commit()
    assert both(client, job, site) == (401, 401)
    assert client.login(org["eng_a1"]).status_code == 200
    db.session.execute(sa.update(UserSession).values(ended_at=utcnow()))
    db.session.commit()
    assert both(client, job, site) == (401, 401)
    assert client.login(org["eng_a1"]).status_code == 200
    db.session.execute(sa.update(User).where(User.id == org["eng_a1"].id).values(active=False))
    db.session.commit()
    assert both(client, job, site) == (401, 401)
    assert visits() == 0


def test_a_token_is_read_when_the_session_no_longer_signs_in(app, client, org, job, site):
    """Flask-Login's order: the session's user first, then the bearer token."""
    assert client.login(org["eng_a1"]).status_code == 200
    db.session.execute(sa.update(UserSession).values(ended_at=utcnow()))
    db.session.commit()
    client.use_token(org["eng_a1"])
    assert both(client, job, site, csrf=False) == (201, 200)


def test_a_session_signs_in_before_a_token_of_someone_else(app, client, org, job, site):
    assert client.login(org["eng_a1"]).status_code == 200
    client.use_token(org["sup_a"])  # a supervisor's token beside the engineer's session
    assert both(client, job, site) == (201, 200)
    assert db.session.scalar(sa.select(Visit.engineer_id)) == org["eng_a1"].id


def test_a_remember_cookie_is_read_as_flask_login_reads_it(app, client, org, job, site):
    """This app never sets one. Sent (forged here), Flask-Login reads it instead of the
    bearer token, and it signs nobody in; a live session still signs in before it."""
    engineer = as_user(app, org["eng_a1"])
    engineer.client.set_cookie("remember_token", "1|forged")
    assert both(engineer, job, site) == (401, 401)
    assert client.login(org["eng_a1"]).status_code == 200
    client.client.set_cookie("remember_token", "1|forged")
    assert both(client, job, site) == (201, 200)


def test_a_wrong_role_is_403_and_a_bad_key_422_first_as_before_request_does(app, org, job, site):
    supervisor = as_user(app, org["sup_a"])
    response = supervisor.post("visits/check-in", json=check_in_body(job, site))
    assert_problem(response, 403, "FORBIDDEN")
    response = supervisor.post("visits/check-in", json=check_in_body(job, site),
                               headers={"Idempotency-Key": "not a key!"})
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert response.get_json()["errors"] == {"Idempotency-Key": ["Not a valid key."]}
    response = supervisor.post("visits/check-in", json=check_in_body(job, site),
                               headers={"Idempotency-Key": "a-good-key"})
    assert_problem(response, 403, "FORBIDDEN")
    anonymous = ApiClient(app.test_client())
    response = anonymous.post("visits/check-in", json=check_in_body(job, site),
                              headers={"Idempotency-Key": "not a key!"})
    assert_problem(response, 401, "UNAUTHORIZED")
    assert visits() == 0 and records() == 0


def test_a_cookie_check_in_without_its_csrf_header_is_403_even_with_a_key(client, org, job, site):
    assert client.login(org["eng_a1"]).status_code == 200
    response = client.post("visits/check-in", json=check_in_body(job, site), csrf=False,
                           headers={"Idempotency-Key": "a-cookie-key"})
    assert_problem(response, 403, "CSRF_FAILED")
    assert visits() == 0 and records() == 0


@pytest.mark.parametrize("by", ["token", "session"])
def test_the_last_used_time_is_kept_as_by_every_route(app, client, org, factory, site, by):
    first, second = (factory.job(site=site, engineer=org["eng_a1"]) for _ in range(2))
    db.session.commit()
    if by == "token":
        engineer, model, column = as_user(app, org["eng_a1"]), ApiToken, ApiToken.last_used_at
    else:
        assert client.login(org["eng_a1"]).status_code == 200
        engineer, model, column = client, UserSession, UserSession.last_seen_at
    long_ago = utcnow() - timedelta(hours=1)
    db.session.execute(sa.update(model).values({column: long_ago}))
    db.session.commit()
    assert engineer.post("visits/check-in", json=check_in_body(first, site)).status_code == 201
    db.session.expire_all()
    noted = db.session.scalar(sa.select(column))
    assert utcnow() - noted < timedelta(minutes=1)
    # Within SESSION_TOUCH_INTERVAL (5 minutes) it is left as it is.
    assert engineer.post("visits/check-in", json=check_in_body(second, site)).status_code == 201
    db.session.expire_all()
    assert db.session.scalar(sa.select(column)) == noted
    # A check-in refused undoes it, as every refused request does.
    db.session.execute(sa.update(model).values({column: long_ago}))
    db.session.commit()
    response = engineer.post("visits/check-in", json=check_in_body(second, site))
    assert_problem(response, 409, "VISIT_ALREADY_OPEN")
    db.session.expire_all()
    assert db.session.scalar(sa.select(column)) == long_ago


def test_the_check_in_is_documented_as_before(client):
    """Its flask-smorest decorators document it (app/api_base.py `documented_as`)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/visits/check-in"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/VisitCheckIn"}
    created = operation["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/VisitAnswer"}
    assert "422" in operation["responses"]
    assert operation["summary"] == "Check in at the site of one of your jobs (engineer)."


def test_no_rate_limit_reaches_the_check_in_not_even_one_for_the_whole_app(
        app, org, factory, site, monkeypatch):
    manager = limiter.limit_manager  # the one limiter of every app: restored afterwards
    monkeypatch.setattr(manager, "_application_limits", manager._application_limits)
    manager.set_application_limits([ApplicationLimit("2 per minute").bind(limiter)])
    engineer = as_user(app, org["eng_a1"])
    jobs = [factory.job(site=site, engineer=org["eng_a1"], reported_at=utcnow() - timedelta(days=1))
            for _ in range(4)]
    db.session.commit()
    assert [engineer.get("auth/me").status_code for _ in range(3)] == [200, 200, 429]
    answers = [engineer.post("visits/check-in", json=check_in_body(made, site)) for made in jobs]
    assert [answer.status_code for answer in answers] == [201] * 4
    assert not any("X-RateLimit-Limit" in answer.headers for answer in answers)
    assert visits() == 4
    assert_problem(engineer.get("auth/me"), 429, "RATE_LIMITED")


def _sqlite_only() -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's one write lock")


def test_on_sqlite_the_caller_is_read_before_the_write_lock_is_taken(app, org, job, site,
                                                                    monkeypatch):
    """The caller (with the key's record) is read outside any transaction; every later
    statement runs in the write transaction, its turn held (app/extensions.py
    `read_then_write`). Seen where the statements reach the driver, so that they take
    the path they take in service (a listener of the engine would reroute them)."""
    _sqlite_only()
    client = as_user(app, org["eng_a1"])
    body = check_in_body(job, site)
    seen = []
    on_driver = prepared_module._on_driver

    def state(conn, plan, bound, many):
        driver = conn.connection.driver_connection
        seen.append((" ".join(plan.sql.split()[:3]), driver.in_transaction,
                     driver.holds_write_turn))
        return on_driver(conn, plan, bound, many)

    monkeypatch.setattr(prepared_module, "_on_driver", state)
    response = client.post("visits/check-in", json=body,
                           headers={"Idempotency-Key": "read-then-write"})
    assert response.status_code == 201, response.get_data(as_text=True)
    # The caller, then the job's site (its distance worked out before the lock).
    assert seen[:2] == [("SELECT users.id, users.name,", False, False),
                        ("SELECT jobs.id, jobs.title,", False, False)], seen
    assert len(seen) > 6 and all(began and turn for _, began, turn in seen[2:]), seen


def test_a_site_moved_between_the_distance_worked_out_and_the_check_in_counts(
        app, org, job, site, monkeypatch):
    """The distance worked out before the write lock is only a kept answer: a site moved
    meanwhile (an admin's edit committed in between) gives the check-in the distance to
    where the site is now, and its geofence flag."""
    client = as_user(app, org["eng_a1"])
    body = check_in_body(job, site)
    site_id, moved_to = site.id, (site.lat + 0.01, site.lon)
    ahead = visit_service.before_checking_in

    def then_moved(engineer_id, data):
        ahead(engineer_id, data)
        with db.engine.begin() as other:  # as another request would, committed
            other.execute(sa.update(Site).where(Site.id == site_id).values(lat=moved_to[0]))

    monkeypatch.setattr(visit_service, "before_checking_in", then_moved)
    response = client.post("visits/check-in", json=body)
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()
    expected = geodesic((body["lat"], body["lon"]), moved_to).meters
    assert answer["check_in"]["distance_m"] == pytest.approx(expected, abs=1e-6)
    assert answer["check_in"]["distance_m"] > 1000
    assert "OUTSIDE_GEOFENCE" in answer["flags"]


@pytest.mark.config(SQLITE_BUSY_TIMEOUT_MS=300)
def test_on_sqlite_a_replay_or_a_refusal_never_waits_for_the_write_lock(app, org, factory, site):
    """While another process holds the database's write lock, a replay, a refused body
    and a missing sign-in are still answered: none of them takes the lock (a check-in
    that must write waits for it, and fails after the busy timeout, then answers 503)."""
    _sqlite_only()
    first, second = (factory.job(site=site, engineer=org["eng_a1"],
                                 reported_at=utcnow() - timedelta(days=1)) for _ in range(2))
    db.session.commit()
    client = as_user(app, org["eng_a1"])
    again, bad, new = (check_in_body(first, site), check_in_body(second, site, accuracy_m=-1),
                       check_in_body(second, site))
    done = client.post("visits/check-in", json=again, headers={"Idempotency-Key": "once"})
    assert done.status_code == 201
    db.session.remove()
    other = sqlite3.connect(db.engine.url.database)
    other.execute("BEGIN IMMEDIATE")  # as another process would hold it
    try:
        replay = client.post("visits/check-in", json=again, headers={"Idempotency-Key": "once"})
        refused = client.post("visits/check-in", json=bad, headers={"Idempotency-Key": "refused"})
        anonymous = ApiClient(app.test_client()).post("visits/check-in", json=new)
        waiting = client.post("visits/check-in", json=new, headers={"Idempotency-Key": "waits"})
    finally:
        other.rollback()
        other.close()
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == done.get_json()
    assert_problem(refused, 422, "VALIDATION_ERROR")
    assert_problem(anonymous, 401, "UNAUTHORIZED")
    assert_problem(waiting, 503, "DATABASE_BUSY")
    assert waiting.headers["Retry-After"] == "1"
    assert visits() == 1 and records() == 1


def test_a_locked_database_is_told_apart_from_other_errors_however_it_is_raised():
    """By the driver (the check-in's BEGIN IMMEDIATE on leaving `read_then_write`) or
    wrapped by SQLAlchemy (every other route's first statement): 503 either way."""
    locked = sqlite3.OperationalError("database is locked")
    assert _database_busy(locked)
    assert _database_busy(sa.exc.OperationalError("BEGIN IMMEDIATE", {}, locked))
    assert not _database_busy(sqlite3.OperationalError("no such table: visits"))
    assert not _database_busy(sa.exc.OperationalError("SELECT 1", {}, RuntimeError("locked")))
    assert not _database_busy(ValueError("database is locked"))
