"""The conventions every route shares: problem documents, headers, limits, OpenAPI."""
from __future__ import annotations

import sqlite3

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask, request
from flask_sqlalchemy.session import Session as AppSession

from app.extensions import db, leave_unlimited_alone, limiter
from app.models import Site

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status and body["code"] == code
    assert "<html" not in response.get_data(as_text=True).lower()
    return body


def test_unknown_route_is_a_problem_document(client):
    assert_problem(client.get("/api/v1/nowhere"), 404, "NOT_FOUND")
    assert_problem(client.get("/nowhere/at/all"), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow(client):
    response = client.open("DELETE", "/api/v1/sites")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


@pytest.mark.config()  # an app of its own: the test adds a route
def test_unexpected_error_is_500_problem_and_rolls_back(app, client, org):
    def explode():
        db.session.add(Site(name="x", customer_name="x", address="x", lat=0, lon=0, radius_m=150))
        db.session.flush()
        raise RuntimeError("boom")

    app.add_url_rule("/api/v1/test-explode", "explode", explode, methods=["GET"])
    body = assert_problem(client.get("/api/v1/test-explode"), 500, "INTERNAL_ERROR")
    assert "boom" not in body["detail"] and "Traceback" not in body["detail"]
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0


def test_malformed_json_is_400(client, org):
    client.login(org["admin"])
    assert_problem(client.post("sites", data="{bad", content_type="application/json"),
                   400, "MALFORMED_REQUEST")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/xml"])
def test_json_routes_refuse_other_media_types(client, org, content_type):
    client.login(org["admin"])
    response = client.post("sites", data="name=x", content_type=content_type)
    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_body_over_25_mb_is_413(client, org):
    client.login(org["admin"])
    big = b'{"name": "' + b"x" * (25 * 1024 * 1024) + b'"}'
    assert_problem(client.post("sites", data=big, content_type="application/json"),
                   413, "PAYLOAD_TOO_LARGE")


def test_unknown_fields_are_refused(client, org):
    client.login(org["admin"])
    body = {"name": "A", "customer_name": "B", "address": "C", "lat": 1, "lon": 2,
            "created_by_id": 1}
    problem = assert_problem(client.post("sites", json=body), 422, "VALIDATION_ERROR")
    assert problem["errors"] == {"created_by_id": ["Unknown field."]}


@pytest.mark.parametrize("path", ["/api/v1/sites", "/api/v1/nowhere", "/api/v1/openapi.json",
                                  "/api/v1/docs", "/"])
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_openapi_document_describes_the_routes(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/users", "/api/v1/users/{user_id}",
                 "/api/v1/sites", "/api/v1/sites/import", "/api/v1/audit"):
        assert path in paths
    assert set(paths["/api/v1/sites"]) >= {"get", "post"}
    # The docstring of each view is its summary.
    assert paths["/api/v1/sites"]["get"]["summary"].startswith("List sites")


def test_docs_page_has_no_inline_script(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "/api/v1/openapi.json" not in html
    for src in ("/api/v1/docs/assets/swagger-ui-bundle.js", "/api/v1/docs/assets/docs-init.js",
                "/api/v1/docs/assets/swagger-ui.css"):
        assert src in html
        asset = client.get(src)
        assert asset.status_code == 200
        asset.close()
    init = client.get("/api/v1/docs/assets/docs-init.js")
    assert b"/api/v1/openapi.json" in init.data
    init.close()
    assert client.get("/api/v1/docs/assets/../../../etc/passwd").status_code == 404


def test_root_serves_the_phone_app(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert b'src="/pwa/js/app.js"' in response.data


def test_times_come_back_in_utc_with_z(client, org):
    client.login(org["admin"])
    created = client.get(f"users/{org['admin'].id}").get_json()["created_at"]
    assert created.endswith("Z") and "+" not in created


@pytest.mark.parametrize("method, path, kwargs", [
    ("POST", "sites", {"json": {"name": "a\x00b", "customer_name": "C", "address": "A", "lat": 1, "lon": 2}}),
    ("GET", "sites?q=a%00b", {}),
    ("PATCH", "users/1", {"json": {"name": "x\x00"}}),
])
def test_nul_characters_are_refused_not_500(client, org, method, path, kwargs):
    client.login(org["admin"])
    assert_problem(client.open(method, path, **kwargs), 422, "VALIDATION_ERROR")
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0


@pytest.mark.parametrize("path", ["users/99999999999999999999999", "sites/2147483648", "jobs/4294967296"])
def test_ids_beyond_32_bits_are_404_not_500(client, org, path):
    client.login(org["admin"])
    assert_problem(client.get(path), 404, "NOT_FOUND")


def test_the_session_without_a_cookie_is_new_and_with_one_is_the_signed_one(app, client, org):
    """Without a session cookie (a bearer token's call) the session is opened new and
    empty, as Flask opens it; a signed cookie still opens what it holds, a forged one
    nothing."""
    interface = app.session_interface
    with app.test_request_context("/api/v1/auth/me"):
        fresh = interface.open_session(app, request)
        assert isinstance(fresh, interface.session_class)
        assert dict(fresh) == {} and not fresh.modified and not fresh.new
    cookie = interface.get_signing_serializer(app).dumps({"probe": 7})
    name = interface.get_cookie_name(app)
    with app.test_request_context("/api/v1/auth/me", headers={"Cookie": f"{name}={cookie}"}):
        assert dict(interface.open_session(app, request)) == {"probe": 7}
    with app.test_request_context("/api/v1/auth/me", headers={"Cookie": f"{name}=forged"}):
        assert dict(interface.open_session(app, request)) == {}
    assert client.login(org["eng_a1"]).status_code == 200
    assert client.get("auth/me").status_code == 200


@pytest.mark.config()
def test_a_locked_database_is_503_with_retry_after_and_rolls_back(app, client, org):
    """SQLite's write lock not had within the busy timeout: the request is refused as a
    busy service, to be retried, not as an error of the app; nothing is kept."""
    def locked():
        db.session.add(Site(name="x", customer_name="x", address="x", lat=0, lon=0, radius_m=150))
        db.session.flush()
        raise sa.exc.OperationalError("BEGIN IMMEDIATE", {},
                                      sqlite3.OperationalError("database is locked"))

    app.add_url_rule("/api/v1/test-locked", "locked", locked, methods=["POST"])
    response = client.post("/api/v1/test-locked")
    assert_problem(response, 503, "DATABASE_BUSY")
    assert response.headers["Retry-After"] == "1"
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0


RACES_LOST = [psycopg.errors.DeadlockDetected("deadlock detected"),
              psycopg.errors.SerializationFailure("could not serialize access"),
              psycopg.errors.LockNotAvailable("could not obtain lock on row")]


@pytest.mark.parametrize("lost", RACES_LOST, ids=lambda e: e.sqlstate)
@pytest.mark.config()
def test_a_transaction_postgresql_ended_for_anothers_sake_is_503_and_rolls_back(
        app, client, org, lost):
    """A deadlock, a serialization failure or a lock not available (PostgreSQL ends one of
    two transactions that raced): busy, to be retried, and nothing kept, whether it
    ends a statement of the route or the request's commit."""
    def in_the_route():
        db.session.add(Site(name="x", customer_name="x", address="x", lat=0, lon=0, radius_m=150))
        db.session.flush()
        raise sa.exc.OperationalError("UPDATE kpi_figures", {}, lost)

    made: list[Site] = []  # held: the session's identity map holds its objects weakly

    def at_commit():
        made.append(Site(name="y", customer_name="y", address="y", lat=0, lon=0, radius_m=150))
        db.session.add(made[-1])
        return {"ok": True}, 201

    app.add_url_rule("/api/v1/test-raced", "raced", in_the_route, methods=["POST"])
    app.add_url_rule("/api/v1/test-raced-at-commit", "raced_at_commit", at_commit,
                     methods=["POST"])
    response = client.post("/api/v1/test-raced")
    assert_problem(response, 503, "DATABASE_BUSY")
    assert response.headers["Retry-After"] == "1"
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0

    failed: list[bool] = []

    def before_commit(session):  # the first commit of a new site "y" only
        if not failed and made and made[-1] in session:
            failed.append(True)
            raise sa.exc.OperationalError("COMMIT", {}, lost)

    sa.event.listen(AppSession, "before_commit", before_commit)
    try:
        response = client.post("/api/v1/test-raced-at-commit")
        assert failed == [True], response.get_data(as_text=True)
        assert_problem(response, 503, "DATABASE_BUSY")
        assert response.headers["Retry-After"] == "1"
        assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0
        # Sent again, it is saved.
        assert client.post("/api/v1/test-raced-at-commit").status_code == 201
    finally:
        sa.event.remove(AppSession, "before_commit", before_commit)
    assert db.session.scalars(sa.select(Site.name)).all() == ["y"]


@pytest.mark.parametrize("error", [
    psycopg.errors.InternalError_("could not read block"),
    psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
    sqlite3.OperationalError("disk I/O error"),
], ids=["XX000", "57014", "sqlite-io"])
@pytest.mark.config()
def test_any_other_database_error_is_still_500_and_rolls_back(app, client, org, error):
    def broken():
        db.session.add(Site(name="x", customer_name="x", address="x", lat=0, lon=0, radius_m=150))
        db.session.flush()
        raise sa.exc.OperationalError("SELECT 1", {}, error)

    app.add_url_rule("/api/v1/test-broken", "broken", broken, methods=["POST"])
    assert_problem(client.post("/api/v1/test-broken"), 500, "INTERNAL_ERROR")
    assert db.session.scalar(sa.select(sa.func.count(Site.id))) == 0


def test_flask_still_tells_async_functions_apart(app):
    """The app keeps Flask's check of each view and hook (`FieldProofFlask.ensure_sync`):
    a plain function is itself, every time; an async one is still never run as one."""
    def plain():
        return "plain"

    async def coroutine():
        return "async"

    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    for _ in range(2):
        try:
            wrapped = app.ensure_sync(coroutine)
        except RuntimeError:  # Flask without its async extra refuses it outright
            continue
        assert wrapped is not coroutine


def test_the_rate_limiter_s_hooks_are_found_or_the_app_does_not_start(app):
    """`leave_unlimited_alone` wraps the limiter's three request hooks; should a version
    of Flask-Limiter register them otherwise, the app refuses to start rather than let
    the check-in pay for them again, or lose its limits elsewhere."""
    wrapped = [hook for hooks in (app.before_request_funcs, app.after_request_funcs,
                                  app.teardown_request_funcs)
               for hook in hooks[None] if hasattr(hook, "__wrapped__")
               and limiter in (getattr(hook.__wrapped__, "__self__", None),
                               *getattr(hook.__wrapped__, "args", ())[:1])]
    assert len(wrapped) == 3
    with pytest.raises(RuntimeError, match="0 of the rate limiter's 3"):
        leave_unlimited_alone(Flask("bare"))


def test_the_async_check_is_kept_per_function_not_per_request(app, client, org):
    """A MethodView's instance (and so its bound methods) is made anew for each request:
    the kept answers are its functions', and do not grow with the requests."""
    client.login(org["sup_a"])
    assert client.get("/api/v1/sites").status_code == 200
    kept = len(app.__dict__.get("_sync_checked", ()))
    for _ in range(5):
        assert client.get("/api/v1/sites").status_code == 200
    assert len(app.__dict__["_sync_checked"]) == kept
