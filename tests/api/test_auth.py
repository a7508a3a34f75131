"""Sign-in, sessions, CSRF, personal API tokens and login limits."""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.config import Config
from app.extensions import db
from app.models import ApiToken, UserSession
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.support import PASSWORD, ApiClient

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def session_cookie(client: ApiClient) -> str:
    cookie = client.client.get_cookie("fieldproof_session")
    return cookie.value if cookie else ""


def test_login_returns_user_and_csrf_and_a_safe_cookie(client, org):
    response = client.login(org["eng_a1"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["id"] == org["eng_a1"].id and body["user"]["role"] == "engineer"
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 1


def test_cookie_is_secure_over_https(app, org):
    client = app.test_client()
    response = client.post("/api/v1/auth/login", base_url="https://localhost",
                           json={"email": org["eng_a1"].email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Secure" in response.headers["Set-Cookie"]


def test_email_is_case_insensitive(client, org):
    assert client.login(org["eng_a1"].email.upper()).status_code == 200


def test_wrong_email_and_wrong_password_look_the_same(client, org):
    wrong_password = client.login(org["eng_a1"], "not the password")
    wrong_email = client.login("nobody@example.com")
    for response in (wrong_password, wrong_email):
        assert_problem(response, 401, "INVALID_CREDENTIALS")
    assert wrong_password.get_json() == wrong_email.get_json()
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 0


def test_disabled_account_cannot_sign_in(client, org):
    org["eng_a1"].active = False
    db.session.commit()
    assert_problem(client.login(org["eng_a1"]), 403, "ACCOUNT_DISABLED")
    # A wrong password on a disabled account still says only "wrong credentials".
    assert_problem(client.login(org["eng_a1"], "wrong password!"), 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize("body, field", [
    ({"email": "a@b.c"}, "password"),
    ({"password": "x"}, "email"),
    ({"email": "", "password": "x"}, "email"),
    ({"email": "a@b.c", "password": "x", "remember": True}, "remember"),
])
def test_login_validation(client, body, field):
    problem = assert_problem(client.post("auth/login", json=body), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]


def test_me_and_anonymous(client, org):
    assert_problem(client.get("auth/me"), 401, "UNAUTHORIZED")
    client.login(org["sup_a"])
    body = client.get("auth/me").get_json()
    assert body["user"]["email"] == org["sup_a"].email and body["csrf_token"] == client.csrf


def test_login_renews_the_session(app, client, org):
    client.login(org["eng_a1"])
    first = session_cookie(client)
    client.login(org["eng_a1"])
    assert session_cookie(client) != first
    # The cookie of the earlier sign-in no longer works.
    replay = app.test_client()
    replay.set_cookie("fieldproof_session", first)
    assert replay.get("/api/v1/auth/me").status_code == 401
    assert client.get("auth/me").status_code == 200
    ended = db.session.scalars(sa.select(UserSession.ended_at).order_by(UserSession.id)).all()
    assert ended[0] is not None and ended[1] is None


def test_logout_ends_the_session_on_the_server(app, client, org):
    client.login(org["eng_a1"])
    cookie = session_cookie(client)
    assert client.post("auth/logout").status_code == 204
    assert client.get("auth/me").status_code == 401
    replay = app.test_client()
    replay.set_cookie("fieldproof_session", cookie)
    assert replay.get("/api/v1/auth/me").status_code == 401


def test_logout_needs_sign_in(client):
    assert_problem(client.post("auth/logout"), 401, "UNAUTHORIZED")


def test_session_lasts_14_days_from_last_use(client, org):
    client.login(org["eng_a1"])
    row = db.session.scalar(sa.select(UserSession))
    row.last_seen_at = utcnow() - timedelta(days=13, hours=23)
    db.session.commit()
    assert client.get("auth/me").status_code == 200
    db.session.expire_all()
    assert utcnow() - db.session.scalar(sa.select(UserSession)).last_seen_at < timedelta(minutes=1)
    row = db.session.scalar(sa.select(UserSession))
    row.last_seen_at = utcnow() - timedelta(days=14, minutes=1)
    db.session.commit()
    assert_problem(client.get("auth/me"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("header", [None, "", "wrong-token"])
def test_cookie_sessions_need_the_csrf_header_to_change_state(client, org, header):
    client.login(org["eng_a1"])
    headers = {} if header is None else {"X-CSRF-Token": header}
    response = client.post("auth/tokens", json={"name": "x"}, csrf=False, headers=headers)
    assert_problem(response, 403, "CSRF_FAILED")
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0
    # Reads need no header.
    assert client.get("auth/tokens").status_code == 200


def test_tokens_are_shown_once_stored_as_digest_and_revocable(app, client, org):
    client.login(org["eng_a1"])
    response = client.post("auth/tokens", json={"name": "laptop"})
    assert response.status_code == 201
    body = response.get_json()
    token = body["token"]
    assert token.startswith("fp_") and len(token) > 40 and body["name"] == "laptop"
    assert response.headers["Location"].endswith(f"/api/v1/auth/tokens/{body['id']}")
    row = db.session.get(ApiToken, body["id"])
    assert token not in (row.digest, row.prefix) and len(row.digest) == 64

    listed = client.get("auth/tokens").get_json()
    assert listed["total"] == 1 and "token" not in listed["items"][0]
    assert listed["items"][0]["prefix"] == token[:10]

    bearer = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    me = bearer.get("/api/v1/auth/me", headers=auth)
    assert me.status_code == 200 and me.get_json()["user"]["id"] == org["eng_a1"].id
    assert me.get_json()["csrf_token"] is None
    # A bearer request changes state without a CSRF header.
    assert bearer.post("/api/v1/auth/tokens", json={"name": "second"}, headers=auth).status_code == 201

    assert client.delete(f"auth/tokens/{body['id']}").status_code == 204
    assert_problem(bearer.get("/api/v1/auth/me", headers=auth), 401, "UNAUTHORIZED")
    assert_problem(client.delete(f"auth/tokens/{body['id']}"), 404, "NOT_FOUND")


def test_someone_elses_token_is_not_found(client, org):
    other = ApiClient(client.client.application.test_client()).use_token(org["eng_a2"])
    token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == org["eng_a2"].id))
    client.login(org["admin"])
    assert_problem(client.delete(f"auth/tokens/{token_id}"), 404, "NOT_FOUND")
    assert other.get("auth/me").status_code == 200


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer ", "Basic abc", "Bearer fp_" + "x" * 43])
def test_bad_bearer_tokens_are_401(client, header):
    assert_problem(client.get("auth/me", headers={"Authorization": header}), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x" * 101}, {"name": "a", "user_id": 1}])
def test_token_validation(client, org, body):
    client.login(org["eng_a1"])
    assert_problem(client.post("auth/tokens", json=body), 422, "VALIDATION_ERROR")


def test_default_password_hash_is_slow_and_salted(app):
    from werkzeug.security import generate_password_hash

    assert Config().PASSWORD_HASH_METHOD == "scrypt"
    first = generate_password_hash(PASSWORD, method=Config().PASSWORD_HASH_METHOD)
    second = generate_password_hash(PASSWORD, method=Config().PASSWORD_HASH_METHOD)
    assert first.startswith("scrypt:") and first != second
    assert check_password_hash(first, PASSWORD)


def _fail_logins(client, email: str, times: int, addr: str = "10.0.0.1") -> list[int]:
    return [
        client.client.post("/api/v1/auth/login", json={"email": email, "password": "wrong!"},
                           environ_base={"REMOTE_ADDR": addr}).status_code
        for _ in range(times)
    ]


def test_five_failures_per_account_then_429(client, org):
    email = org["eng_a1"].email
    assert _fail_logins(client, email, 5) == [401] * 5
    response = client.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD},
                                  environ_base={"REMOTE_ADDR": "10.0.0.2"})
    problem = assert_problem(response, 429, "RATE_LIMITED")
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert problem["detail"]
    # Another account from the same address is not blocked by this account's limit.
    assert client.login(org["eng_a2"]).status_code == 200


def test_failures_are_kept_in_the_database_as_digests_for_every_worker(client, org):
    """With no shared store configured, each failure is a committed row (seen by every
    process), keyed by the digest of the email or address, never the email itself."""
    from app.models import SignInFailure
    from app.services.auth import digest

    email = org["eng_a1"].email
    assert _fail_logins(client, email, 2, addr="10.7.7.7") == [401, 401]
    db.session.expire_all()
    rows = db.session.execute(sa.select(SignInFailure.scope, SignInFailure.key)).all()
    assert sorted(rows) == sorted([("account", digest(email)), ("address", digest("10.7.7.7"))] * 2)
    assert not any(email in key for _, key in rows)


def test_failures_counted_by_another_process_count_here(client, org):
    """A failure another worker recorded (a row it committed) refuses this one's sixth."""
    from app.models import SignInFailure
    from app.services.auth import digest

    email = org["eng_a1"].email
    with db.engine.begin() as conn:  # as another process would, outside this session
        conn.execute(sa.insert(SignInFailure), [
            {"scope": "account", "key": digest(email), "at": utcnow() - timedelta(minutes=m)}
            for m in (14, 10, 6, 2, 1)])
    response = client.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert_problem(response, 429, "RATE_LIMITED")
    # The oldest of the five leaves the window in about a minute.
    assert 50 <= int(response.headers["Retry-After"]) <= 62


def test_failures_older_than_the_window_neither_count_nor_stay(client, org):
    from app.models import SignInFailure
    from app.services.auth import digest

    email = org["eng_a1"].email
    with db.engine.begin() as conn:
        conn.execute(sa.insert(SignInFailure), [
            {"scope": "account", "key": digest(email), "at": utcnow() - timedelta(minutes=15, seconds=s)}
            for s in range(1, 6)])
    assert _fail_logins(client, email, 1) == [401]
    assert client.login(org["eng_a1"]).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(SignInFailure.id))) == 2  # the new pair only


def test_successful_logins_are_not_counted(client, org):
    for _ in range(8):
        assert client.login(org["eng_a1"]).status_code == 200


def test_twenty_failures_per_address_then_429(client, org):
    statuses = []
    for n in range(20):
        statuses += _fail_logins(client, f"someone{n}@example.com", 1, addr="10.9.9.9")
    assert statuses == [401] * 20
    response = client.client.post("/api/v1/auth/login",
                                  json={"email": org["eng_b1"].email, "password": PASSWORD},
                                  environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert_problem(response, 429, "RATE_LIMITED")
    other_address = client.client.post("/api/v1/auth/login",
                                       json={"email": org["eng_b1"].email, "password": PASSWORD},
                                       environ_base={"REMOTE_ADDR": "10.9.9.10"})
    assert other_address.status_code == 200


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


PREFIX = f"fieldproof-test-{uuid.uuid4().hex[:8]}"


@pytest.mark.redis
@pytest.mark.config(RATELIMIT_STORAGE_URI=REDIS_URL, RATELIMIT_KEY_PREFIX=PREFIX)
def test_login_limits_in_redis(client, org):
    import redis

    if not _redis_reachable():
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI=true requires it.")
        pytest.skip(message)
    server = redis.Redis.from_url(REDIS_URL)
    email = f"{uuid.uuid4().hex[:6]}-{org['eng_a1'].email}"
    try:
        assert _fail_logins(client, email, 5, addr="10.1.1.1") == [401] * 5
        assert _fail_logins(client, email, 1, addr="10.1.1.2") == [429]
        assert server.keys(f"*{PREFIX}*")
    finally:
        for key in server.scan_iter(f"*{PREFIX}*"):
            server.delete(key)


def test_a_replayed_token_creation_answers_the_same_token_without_the_secret(app, client, org):
    """The token is shown once and only its digest is stored: its request's idempotency
    record keeps the answer without it, and a replay answers the same record with null."""
    from app.models import IdempotencyRecord

    client.login(org["eng_a1"])
    headers = {"Idempotency-Key": "new-token-1"}
    first = client.post("auth/tokens", json={"name": "laptop"}, headers=headers)
    assert first.status_code == 201
    body = first.get_json()
    token = body["token"]
    assert token.startswith("fp_")
    (record,) = db.session.scalars(sa.select(IdempotencyRecord)).all()
    assert token not in record.response_body and token[10:30] not in record.response_body
    assert record.response_status == 201

    again = client.post("auth/tokens", json={"name": "laptop"}, headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == {**body, "token": None}
    assert again.headers["Location"] == first.headers["Location"]
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 1
    # The token shown the first time is the one that works.
    me = app.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["user"]["id"] == org["eng_a1"].id


@pytest.mark.parametrize("how", ["token", "cookie"])
@pytest.mark.parametrize("touch_due", [False, True])
def test_sign_in_of_a_change_does_not_hold_sqlite_write_lock_and_still_records_use(
        client, org, monkeypatch, how, touch_due):
    """A write request's sign-in reads in a read transaction it then ends (SQLite), so the
    write lock is first taken by the request's writes: not while its body is
    fingerprinted, unless the sign-in's last-used time is due (every few minutes), which
    is still written with the request's changes."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no database-wide write lock")
    from app import idempotency
    from app.sqlite_writers import WRITERS

    last = utcnow() - (timedelta(hours=1) if touch_due else timedelta(seconds=30))
    if how == "token":
        client.use_token(org["sup_a"])
        db.session.execute(sa.update(ApiToken).values(last_used_at=last))
    else:
        client.login(org["sup_a"])
        db.session.execute(sa.update(UserSession).values(last_seen_at=last))
    db.session.commit()
    seen = []
    real = idempotency.fingerprint

    def fingerprint():
        seen.append(WRITERS.lock.locked())
        return real()

    monkeypatch.setattr(idempotency, "fingerprint", fingerprint)
    response = client.post("sites", json={"name": "Depot", "customer_name": "Acme", "address": "1 Road",
                                          "lat": 31.2, "lon": 121.4, "radius_m": 100},
                           headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert seen == [touch_due]
    db.session.expire_all()
    column = ApiToken.last_used_at if how == "token" else UserSession.last_seen_at
    recorded = db.session.scalar(sa.select(column))
    assert utcnow() - recorded < timedelta(minutes=1) if touch_due else recorded == last
