"""/users: creating people, scoped reads, changes by admins and by the people themselves."""
from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.extensions import db
from app.models import ApiToken, AuditEntry, User, UserSession
from app.services import users as users_service
from tests.api.test_app import assert_problem
from tests.support import PASSWORD, ApiClient, statements_of

NEW_PASSWORD = "a brand new secret"
UNKNOWN_ID = 999_999


# --- helpers -----------------------------------------------------------------------

def new_user_body(**fields: Any) -> dict[str, Any]:
    """A valid POST /users body; a field given as None is left out."""
    body = {"email": "new.person@example.com", "name": "New Person", "password": "x" * 10,
            "role": "engineer", "level": "junior", "work_type": "field"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def audit_entries(action_prefix: str = "user.") -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.startswith(action_prefix)).order_by(AuditEntry.id)
    ))


def stored(user: User) -> User:
    """The user as the database has it now."""
    db.session.expire_all()
    return db.session.get(User, user.id)


def snapshot(user: User) -> dict[str, Any]:
    row = stored(user)
    return {c.key: getattr(row, c.key) for c in User.__table__.columns}


def ids(response) -> set[int]:
    return {item["id"] for item in response.get_json()["items"]}


def resolve(org: dict[str, User], value: Any) -> Any:
    """A user named in a parametrize list ("@sup_a") becomes that user's id."""
    return org[value[1:]].id if isinstance(value, str) and value.startswith("@") else value


def signed_in(app, user: User, how: str = "cookie") -> ApiClient:
    client = ApiClient(app.test_client())
    if how == "token":
        return client.use_token(user)
    assert client.login(user).status_code == 200
    return client


@pytest.fixture
def admin(client, org) -> ApiClient:
    client.login(org["admin"])
    return client


# --- who may use which route --------------------------------------------------------

@pytest.mark.parametrize("who, method, path, csrf, status, code", [
    (None, "POST", "users", True, 401, "UNAUTHORIZED"),
    ("sup_a", "POST", "users", True, 403, "FORBIDDEN"),
    ("eng_a1", "POST", "users", True, 403, "FORBIDDEN"),
    ("admin", "POST", "users", False, 403, "CSRF_FAILED"),
    (None, "GET", "users", True, 401, "UNAUTHORIZED"),
    ("eng_a1", "GET", "users", True, 403, "FORBIDDEN"),
    (None, "GET", "users/{eng_a1}", True, 401, "UNAUTHORIZED"),
    (None, "PATCH", "users/{eng_a1}", True, 401, "UNAUTHORIZED"),
    ("eng_a1", "PATCH", "users/{eng_a1}", False, 403, "CSRF_FAILED"),
])
def test_route_access(client, org, who, method, path, csrf, status, code):
    if who:
        client.login(org[who])
    path = path.format(eng_a1=org["eng_a1"].id)
    body = {"POST": new_user_body(), "PATCH": {"name": "Changed"}}.get(method)
    before = snapshot(org["eng_a1"])
    assert_problem(client.open(method, path, json=body, csrf=csrf), status, code)
    assert user_count() == 7 and snapshot(org["eng_a1"]) == before
    assert audit_entries() == []


# --- POST /users ---------------------------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    ({"supervisor_id": "@sup_a", "locale": "zh-CN"},
     {"role": "engineer", "level": "junior", "work_type": "field", "locale": "zh-CN"}),
    ({"role": "supervisor", "level": None, "work_type": None},
     {"role": "supervisor", "level": None, "work_type": None, "supervisor_id": None}),
    ({"role": "admin", "level": None, "work_type": None, "password": "x" * 10},
     {"role": "admin", "level": None, "work_type": None, "supervisor_id": None}),
])
def test_admin_creates_user(admin, org, fields, expected):
    fields = {"email": "New.Person@Example.COM", "password": "ten chars!", **fields}
    body = new_user_body(**{k: resolve(org, v) for k, v in fields.items()})
    response = admin.post("users", json=body)

    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/users/{data['id']}")
    assert data["email"] == "new.person@example.com"
    assert data["active"] is True and data["created_at"].endswith("Z")
    assert {k: data[k] for k in expected} == {k: resolve(org, v) for k, v in expected.items()}
    assert "password" not in data and "password_hash" not in data
    assert data["supervisor_id"] == body.get("supervisor_id")

    row = db.session.get(User, data["id"])
    assert row.email == "new.person@example.com"
    assert row.password_hash != body["password"]
    assert check_password_hash(row.password_hash, body["password"])
    [entry] = audit_entries()
    assert (entry.action, entry.actor_id, entry.target_type, entry.target_id) == (
        "user.create", org["admin"].id, "user", row.id)
    assert entry.detail == {"email": "new.person@example.com", "role": row.role,
                            "supervisor_id": row.supervisor_id}
    # The new account can sign in with the password it was given.
    assert ApiClient(admin.client.application.test_client()).login(
        "new.person@example.com", body["password"]).status_code == 200


@pytest.mark.parametrize("email", ["eng.a1@example.com", "ENG.A1@Example.com"])
def test_create_with_taken_email_is_409(admin, org, email):
    assert_problem(admin.post("users", json=new_user_body(email=email)), 409, "CONFLICT")
    assert user_count() == 7 and audit_entries() == []


@pytest.mark.parametrize("fields, error_fields", [
    ({"level": None}, {"level"}),
    ({"work_type": None}, {"work_type"}),
    ({"level": None, "work_type": None}, {"level", "work_type"}),
    ({"supervisor_id": "@eng_b1"}, {"supervisor_id"}),
    ({"supervisor_id": "@inactive_sup"}, {"supervisor_id"}),
    ({"supervisor_id": "@admin"}, {"supervisor_id"}),
    ({"supervisor_id": UNKNOWN_ID}, {"supervisor_id"}),
    ({"supervisor_id": 2**31}, {"supervisor_id"}),  # beyond any id: no 500 from the driver
    ({"role": "supervisor", "level": None, "work_type": None, "supervisor_id": "@sup_a"},
     {"supervisor_id"}),
    ({"role": "admin", "level": None, "work_type": None, "supervisor_id": "@sup_a"},
     {"supervisor_id"}),
    ({"role": "supervisor", "level": "mid", "work_type": "field"}, {"level", "work_type"}),
    ({"password": "x" * 9}, {"password"}),
    ({"email": "not-an-email"}, {"email"}),
    ({"email": None}, {"email"}),
    ({"name": ""}, {"name"}),
    ({"name": "   "}, {"name"}),
    ({"role": "owner"}, {"role"}),
    ({"level": "expert"}, {"level"}),
    ({"work_type": "hybrid"}, {"work_type"}),
    ({"locale": "fr"}, {"locale"}),
    ({"is_admin": True}, {"is_admin"}),
])
def test_create_rejects_invalid_body(admin, org, factory, fields, error_fields):
    org["inactive_sup"] = factory.user("supervisor", active=False)
    db.session.commit()
    body = new_user_body(**{k: resolve(org, v) for k, v in fields.items()})
    problem = assert_problem(admin.post("users", json=body), 422, "VALIDATION_ERROR")
    assert set(problem["errors"]) == error_fields
    assert user_count() == 8 and audit_entries() == []


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_email_taken_by_a_concurrent_request_is_409(admin, org, monkeypatch, method):
    # Another request takes the email between the check and the write: the unique index decides.
    monkeypatch.setattr(users_service, "_check_email_free", lambda *args: None)
    if method == "POST":
        response = admin.post("users", json=new_user_body(email="eng.a1@example.com"))
    else:
        response = admin.patch(f"users/{org['eng_a2'].id}", json={"email": "eng.a1@example.com"})
    assert_problem(response, 409, "CONFLICT")
    assert user_count() == 7 and stored(org["eng_a2"]).email == "eng.a2@example.com"
    assert audit_entries() == []


# --- GET /users ----------------------------------------------------------------------

@pytest.mark.parametrize("who, query, expected", [
    ("admin", "", {"admin", "sup_a", "sup_b", "eng_a1", "eng_a2", "eng_b1", "loner"}),
    ("admin", "?role=supervisor", {"sup_a", "sup_b"}),
    ("admin", "?role=engineer", {"eng_a1", "eng_a2", "eng_b1", "loner"}),
    ("admin", "?role=admin", {"admin"}),
    ("sup_a", "", {"eng_a1", "eng_a2"}),
    ("sup_a", "?role=engineer", {"eng_a1", "eng_a2"}),
    ("sup_a", "?role=supervisor", set()),
    ("sup_b", "", {"eng_b1"}),
])
def test_list_is_scoped_and_filtered(client, org, who, query, expected):
    client.login(org[who])
    response = client.get("users" + query)
    assert response.status_code == 200
    data = response.get_json()
    assert ids(response) == {org[name].id for name in expected}
    assert (data["page"], data["per_page"], data["total"]) == (1, 50, len(expected))


def test_list_pages_newest_first(admin, org):
    everyone = sorted((u.id for u in org.values()), reverse=True)
    pages = [admin.get(f"users?per_page=3&page={n}").get_json() for n in (1, 2, 3, 4)]
    assert [[u["id"] for u in p["items"]] for p in pages] == [
        everyone[0:3], everyone[3:6], everyone[6:], []]
    assert [(p["page"], p["per_page"], p["total"]) for p in pages] == [(n, 3, 7) for n in (1, 2, 3, 4)]


@pytest.mark.parametrize("query, field", [
    ("per_page=201", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"),
    ("role=owner", "role"),
])
def test_list_rejects_bad_query(admin, query, field):
    problem = assert_problem(admin.get("users?" + query), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]


def test_list_accepts_200_per_page(admin):
    assert admin.get("users?per_page=200").get_json()["per_page"] == 200


# --- GET /users/{id} -----------------------------------------------------------------

@pytest.mark.parametrize("who, target, status", [
    ("eng_a1", "eng_a1", 200), ("eng_a1", "eng_a2", 404), ("eng_a1", "eng_b1", 404),
    ("eng_a1", "sup_a", 404), ("loner", "loner", 200),
    ("sup_a", "eng_a1", 200), ("sup_a", "eng_a2", 200), ("sup_a", "sup_a", 200),
    ("sup_a", "eng_b1", 404), ("sup_a", "loner", 404), ("sup_a", "sup_b", 404),
    ("sup_a", "admin", 404),
    *[("admin", name, 200) for name in ("admin", "sup_a", "eng_a1", "eng_b1", "loner")],
    ("admin", UNKNOWN_ID, 404), ("eng_a1", UNKNOWN_ID, 404),
])
def test_get_one_is_scoped(client, org, who, target, status):
    client.login(org[who])
    response = client.get(f"users/{resolve(org, '@' + target if target in org else target)}")
    if status == 404:
        assert_problem(response, 404, "NOT_FOUND")
        return
    assert response.status_code == 200
    user = org[target]
    assert response.get_json() | {"created_at": None} == {
        "id": user.id, "email": user.email, "name": user.name, "role": user.role,
        "level": user.level, "work_type": user.work_type, "supervisor_id": user.supervisor_id,
        "home_site_id": None,
        "locale": None, "phone": None, "active": True, "created_at": None}


# --- PATCH /users/{id} by an admin ---------------------------------------------------

@pytest.mark.parametrize("target, fields, action, change", [
    ("eng_a1", {"role": "admin"}, "user.role_change", ("role", "engineer", "admin")),
    ("eng_a1", {"level": "senior"}, "user.level_change", ("level", "mid", "senior")),
    ("eng_a1", {"work_type": "remote"}, "user.work_type_change", ("work_type", "field", "remote")),
    ("eng_a1", {"supervisor_id": "@sup_b"}, "user.team_change", ("supervisor_id", "@sup_a", "@sup_b")),
    ("loner", {"supervisor_id": "@sup_a"}, "user.team_change", ("supervisor_id", None, "@sup_a")),
    ("eng_a1", {"supervisor_id": None}, "user.team_change", ("supervisor_id", "@sup_a", None)),
    ("eng_a1", {"active": False}, "user.active_change", ("active", True, False)),
    ("eng_a1", {"email": "New.Address@Example.com"}, "user.email_change",
     ("email", "eng.a1@example.com", "new.address@example.com")),
    ("lone_sup", {"role": "engineer", "level": "senior", "work_type": "remote"},
     "user.role_change", ("role", "supervisor", "engineer")),
    ("lone_sup", {"role": "admin"}, "user.role_change", ("role", "supervisor", "admin")),
])
def test_admin_changes_user_and_it_is_audited(admin, org, factory, target, fields, action, change):
    org["lone_sup"] = factory.user("supervisor")
    db.session.commit()
    user = org[target]
    response = admin.patch(f"users/{user.id}", json={k: resolve(org, v) for k, v in fields.items()})

    assert response.status_code == 200, response.get_json()
    name, old, new = (change[0], *(resolve(org, v) for v in change[1:]))
    assert response.get_json()[name] == new
    assert getattr(stored(user), name) == new
    entries = [e for e in audit_entries() if e.action == action]
    assert len(entries) == 1
    assert (entries[0].actor_id, entries[0].target_type, entries[0].target_id) == (
        org["admin"].id, "user", user.id)
    assert entries[0].detail == {name: {"from": old, "to": new}}


def test_role_change_away_from_engineer_clears_and_audits_team(admin, org):
    response = admin.patch(f"users/{org['eng_a1'].id}", json={"role": "supervisor"})
    assert response.status_code == 200
    data = response.get_json()
    assert (data["role"], data["level"], data["work_type"], data["supervisor_id"]) == (
        "supervisor", None, None, None)
    row = stored(org["eng_a1"])
    assert (row.role, row.level, row.work_type, row.supervisor_id) == ("supervisor", None, None, None)
    details = {e.action: e.detail for e in audit_entries()}
    assert details == {
        "user.role_change": {"role": {"from": "engineer", "to": "supervisor"}},
        "user.level_change": {"level": {"from": "mid", "to": None}},
        "user.work_type_change": {"work_type": {"from": "field", "to": None}},
        "user.team_change": {"supervisor_id": {"from": org["sup_a"].id, "to": None}},
    }


def test_patch_without_change_writes_no_audit(admin, org):
    user = org["eng_a1"]
    response = admin.patch(f"users/{user.id}", json={"level": "mid", "supervisor_id": org["sup_a"].id})
    assert response.status_code == 200
    assert audit_entries() == []


@pytest.mark.parametrize("target, fields, status, error_fields", [
    ("admin", {"active": False}, 422, {"active"}),
    ("sup_a", {"role": "engineer", "level": "mid", "work_type": "field"}, 409, None),
    ("sup_a", {"role": "admin"}, 409, None),
    ("lone_sup", {"role": "engineer"}, 422, {"level", "work_type"}),
    ("lone_sup", {"role": "engineer", "level": "mid"}, 422, {"work_type"}),
    ("admin", {"role": "engineer", "work_type": "field"}, 422, {"level"}),
    ("eng_a1", {"level": None}, 422, {"level"}),
    ("eng_a1", {"level": "expert"}, 422, {"level"}),
    ("lone_sup", {"level": "senior"}, 422, {"level"}),
    ("lone_sup", {"work_type": "field"}, 422, {"work_type"}),
    ("eng_a1", {"role": "admin", "level": "senior"}, 422, {"level"}),
    ("eng_a1", {"name": " "}, 422, {"name"}),
    ("lone_sup", {"supervisor_id": "@sup_a"}, 422, {"supervisor_id"}),
    ("lone_sup", {"role": "engineer", "level": "mid", "work_type": "field",
                  "supervisor_id": "@lone_sup"}, 422, {"supervisor_id"}),
    ("eng_a1", {"supervisor_id": "@eng_b1"}, 422, {"supervisor_id"}),
    ("eng_a1", {"supervisor_id": "@inactive_sup"}, 422, {"supervisor_id"}),
    ("eng_a1", {"supervisor_id": UNKNOWN_ID}, 422, {"supervisor_id"}),
    ("eng_a1", {"supervisor_id": 2**31}, 422, {"supervisor_id"}),
    ("eng_a1", {"email": "SUP.B@example.com"}, 409, None),
    ("eng_a1", {"password": "x" * 9}, 422, {"password"}),
    ("eng_a1", {"is_admin": True}, 422, {"is_admin"}),
    (UNKNOWN_ID, {"name": "Nobody"}, 404, None),
])
def test_admin_patch_refused(admin, org, factory, target, fields, status, error_fields):
    org["lone_sup"] = factory.user("supervisor")
    org["inactive_sup"] = factory.user("supervisor", active=False)
    db.session.commit()
    before = {name: snapshot(user) for name, user in org.items()}
    response = admin.patch(f"users/{resolve(org, '@' + target if target in org else target)}",
                           json={k: resolve(org, v) for k, v in fields.items()})
    code = {404: "NOT_FOUND", 409: "CONFLICT", 422: "VALIDATION_ERROR"}[status]
    problem = assert_problem(response, status, code)
    if error_fields:
        assert set(problem["errors"]) == error_fields
    assert {name: snapshot(user) for name, user in org.items()} == before
    assert audit_entries() == []


# --- PATCH /users/{id} by the user themself -------------------------------------------

def test_engineer_changes_own_name_and_locale(client, org):
    user = org["eng_a1"]
    client.login(user)
    response = client.patch(f"users/{user.id}", json={"name": "  Ada Lovelace ", "locale": "zh-CN"})
    assert response.status_code == 200
    assert (response.get_json()["name"], response.get_json()["locale"]) == ("Ada Lovelace", "zh-CN")
    row = stored(user)
    assert (row.name, row.locale, row.role) == ("Ada Lovelace", "zh-CN", "engineer")
    assert audit_entries() == []  # name and locale are not audited


@pytest.mark.parametrize("fields", [
    {"role": "admin"}, {"supervisor_id": "@sup_b"}, {"supervisor_id": None}, {"active": False},
    {"level": "senior"}, {"work_type": "remote"}, {"email": "me@example.com"},
])
def test_engineer_cannot_change_protected_fields(client, org, fields):
    user = org["eng_a1"]
    client.login(user)
    before = snapshot(user)
    body = {"name": "Sneaky", **{k: resolve(org, v) for k, v in fields.items()}}
    problem = assert_problem(client.patch(f"users/{user.id}", json=body), 422, "VALIDATION_ERROR")
    assert set(problem["errors"]) == set(fields)
    assert snapshot(user) == before
    assert audit_entries() == []


@pytest.mark.parametrize("who, target, status, code", [
    ("eng_a1", "eng_a2", 404, "NOT_FOUND"),
    ("eng_a1", "eng_b1", 404, "NOT_FOUND"),
    ("eng_a1", "sup_a", 404, "NOT_FOUND"),
    ("sup_a", "eng_a1", 403, "FORBIDDEN"),
    ("sup_a", "eng_b1", 404, "NOT_FOUND"),
    ("sup_a", "loner", 404, "NOT_FOUND"),
])
def test_non_admin_cannot_patch_someone_else(client, org, who, target, status, code):
    client.login(org[who])
    before = snapshot(org[target])
    assert_problem(client.patch(f"users/{org[target].id}", json={"name": "X"}), status, code)
    assert snapshot(org[target]) == before


@pytest.mark.parametrize("current_password", [None, "", "not my password"])
def test_password_change_needs_current_password(client, org, current_password):
    user = org["eng_a1"]
    client.login(user)
    body = {"password": NEW_PASSWORD, "current_password": current_password}
    body = {k: v for k, v in body.items() if v is not None}
    problem = assert_problem(client.patch(f"users/{user.id}", json=body), 422, "VALIDATION_ERROR")
    assert set(problem["errors"]) == {"current_password"}
    assert check_password_hash(stored(user).password_hash, PASSWORD)
    assert audit_entries() == []


def test_guessing_the_current_password_counts_against_the_login_limits(client, org):
    user = org["eng_a1"]
    client.login(user)
    guess = {"password": NEW_PASSWORD, "current_password": "a guess"}
    statuses = [client.patch(f"users/{user.id}", json=guess).status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]
    # Even the right password is refused now, here and at the login.
    right = {"password": NEW_PASSWORD, "current_password": PASSWORD}
    assert_problem(client.patch(f"users/{user.id}", json=right), 429, "RATE_LIMITED")
    other = ApiClient(client.client.application.test_client())
    assert_problem(other.login(user), 429, "RATE_LIMITED")
    assert check_password_hash(stored(user).password_hash, PASSWORD)
    # Other changes of one's own record need no password and go on.
    assert client.patch(f"users/{user.id}", json={"locale": "en"}).status_code == 200


@pytest.mark.parametrize("who", ["eng_a1", "sup_a", "admin"])
def test_own_password_change_keeps_this_session_and_ends_the_others(app, org, who):
    user = org[who]
    earlier = signed_in(app, user)
    by_token = signed_in(app, user, "token")
    current = signed_in(app, user)

    response = current.patch(f"users/{user.id}",
                             json={"password": NEW_PASSWORD, "current_password": PASSWORD})
    assert response.status_code == 200
    assert current.get("auth/me").status_code == 200
    assert current.patch(f"users/{user.id}", json={"locale": "en"}).status_code == 200
    assert_problem(earlier.get("auth/me"), 401, "UNAUTHORIZED")
    assert_problem(by_token.get("auth/me"), 401, "UNAUTHORIZED")
    assert check_password_hash(stored(user).password_hash, NEW_PASSWORD)
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id)).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))) == 1
    [entry] = audit_entries()
    assert (entry.action, entry.actor_id, entry.target_id, entry.detail) == (
        "user.password_change", user.id, user.id, {"by_admin": False})
    assert_problem(ApiClient(app.test_client()).login(user), 401, "INVALID_CREDENTIALS")
    assert ApiClient(app.test_client()).login(user, NEW_PASSWORD).status_code == 200


# --- Password resets and deactivation by an admin: every session ends at once ---------

def _assert_signed_out_everywhere(user: User, *clients: ApiClient) -> None:
    for other in clients:
        assert_problem(other.get("auth/me"), 401, "UNAUTHORIZED")
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id)).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None))) == 0
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id)).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))) == 0


def test_admin_resets_password_without_current_and_ends_all_sessions(app, admin, org):
    user = org["eng_a1"]
    by_cookie, by_token = signed_in(app, user), signed_in(app, user, "token")
    response = admin.patch(f"users/{user.id}", json={"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert "password" not in response.get_json()
    _assert_signed_out_everywhere(user, by_cookie, by_token)
    assert admin.get("auth/me").status_code == 200  # the admin's own session is untouched
    [entry] = audit_entries()
    assert (entry.action, entry.actor_id, entry.target_id, entry.detail) == (
        "user.password_change", org["admin"].id, user.id, {"by_admin": True})
    assert_problem(ApiClient(app.test_client()).login(user), 401, "INVALID_CREDENTIALS")
    assert ApiClient(app.test_client()).login(user, NEW_PASSWORD).status_code == 200


def test_deactivation_ends_sessions_and_sign_in(app, admin, org):
    user = org["eng_a1"]
    by_cookie, by_token = signed_in(app, user), signed_in(app, user, "token")
    response = admin.patch(f"users/{user.id}", json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    _assert_signed_out_everywhere(user, by_cookie, by_token)
    assert_problem(ApiClient(app.test_client()).login(user), 403, "ACCOUNT_DISABLED")
    # History stays: the row is kept and an admin still sees it.
    assert admin.get(f"users/{user.id}").get_json()["active"] is False
    assert admin.get("users?active=false").get_json()["total"] == 1

    assert admin.patch(f"users/{user.id}", json={"active": True}).status_code == 200
    assert ApiClient(app.test_client()).login(user).status_code == 200
    assert [(e.action, e.detail["active"]["to"]) for e in audit_entries()] == [
        ("user.active_change", False), ("user.active_change", True)]


def test_the_list_costs_the_same_statements_however_many_users(client, org, factory):
    client.use_token(org["admin"])
    client.get("users")  # the token's first use is recorded once
    before, page = statements_of(client, "users")
    assert page["total"] == len(org)
    for _ in range(5):
        factory.user("engineer", supervisor=org["sup_b"])
    db.session.commit()
    after, page = statements_of(client, "users")
    assert page["total"] == len(org) + 5 and len(page["items"]) == len(org) + 5
    assert before == after


# --- an engineer's home site (dispatch suggestions) ---------------------------------------

def test_an_engineer_is_given_a_home_site_audited(admin, org, factory):
    site = factory.site()
    db.session.commit()
    created = admin.post("users", json=new_user_body(email="home@example.com", home_site_id=site.id))
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["home_site_id"] == site.id == stored(db.session.get(User, created.get_json()["id"])).home_site_id
    user = org["eng_a1"]
    response = admin.patch(f"users/{user.id}", json={"home_site_id": site.id})
    assert response.status_code == 200 and response.get_json()["home_site_id"] == site.id
    [entry] = [e for e in audit_entries() if e.action == "user.home_site_change"]
    assert entry.detail == {"home_site_id": {"from": None, "to": site.id}} and entry.target_id == user.id
    assert admin.patch(f"users/{user.id}", json={"home_site_id": None}).get_json()["home_site_id"] is None
    assert stored(user).home_site_id is None


def test_leaving_the_engineer_role_clears_the_home_site(admin, org, factory):
    site = factory.site()
    org["eng_a1"].home_site_id = site.id
    db.session.commit()
    response = admin.patch(f"users/{org['eng_a1'].id}", json={"role": "admin"})
    assert response.status_code == 200 and response.get_json()["home_site_id"] is None


@pytest.mark.parametrize("target, value, status", [
    ("eng_a1", UNKNOWN_ID, 422), ("eng_a1", 2**31, 422), ("eng_a1", 0, 422), ("eng_a1", "1", 422),
    ("eng_a1", 1.5, 422), ("sup_a", "@site", 422), ("admin", "@site", 422),
])
def test_a_bad_home_site_is_refused(admin, org, factory, target, value, status):
    site = factory.site()
    db.session.commit()
    value = site.id if value == "@site" else value
    problem = assert_problem(admin.patch(f"users/{org[target].id}", json={"home_site_id": value}),
                             status, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["home_site_id"]
    assert stored(org[target]).home_site_id is None
    role = {"eng_a1": {}, "sup_a": {"role": "supervisor"}, "admin": {"role": "admin"}}[target]
    if role:
        role.update(level=None, work_type=None)
    body = {**new_user_body(home_site_id=value), **role}
    problem = assert_problem(admin.post("users", json={k: v for k, v in body.items() if v is not None}),
                             422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["home_site_id"]


def test_an_engineer_may_not_set_their_own_home_site(client, org, factory):
    site = factory.site()
    db.session.commit()
    client.login(org["eng_a1"])
    problem = assert_problem(client.patch(f"users/{org['eng_a1'].id}", json={"home_site_id": site.id}),
                             422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["home_site_id"]
    assert stored(org["eng_a1"]).home_site_id is None


# --- a user's phone (the supervisor's tap to call) -------------------------------------------

# The rule of a site's contact_phone (app/api/common.py PhoneNumber), held for users too.
GOOD_PHONES = ["+862161234567", "+8613900000004", "13812345678", "021-6123 4567", "0216 123 4567",
               "110", "+" + "1" * 15, "1" * 32]
BAD_PHONES = [
    "+0123456",             # no country code starts with 0
    "+1234567890123456",    # E.164: at most 15 digits
    "+86 21 6123 4567",     # E.164 has no spaces
    "1" * 33,               # longer than 32
    "021--6123", "-6123", "6123 x", "tel:6123", "(021) 6123", "call me", "abc",
    "１３８１２３４５６７８",  # full-width digits
    13812345678,            # a number, not text
]
PHONE_MESSAGE = "Give the number in E.164 (+862161234567) or as local digits (021-6123 4567)."


def phone_entries() -> list[AuditEntry]:
    return [e for e in audit_entries() if e.action == "user.phone_change"]


@pytest.mark.parametrize("phone", GOOD_PHONES)
def test_admin_sets_any_users_phone_audited(admin, org, phone):
    user = org["eng_a1"]
    response = admin.patch(f"users/{user.id}", json={"phone": f" {phone} "})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == phone
    assert stored(user).phone == phone
    [entry] = phone_entries()
    assert (entry.actor_id, entry.target_type, entry.target_id, entry.detail) == (
        org["admin"].id, "user", user.id, {"phone": {"from": None, "to": phone}})
    # Read back by the engineer's supervisor and by the engineer.
    for who in ("sup_a", "eng_a1"):
        reader = ApiClient(admin.client.application.test_client())
        reader.login(org[who])
        assert reader.get(f"users/{user.id}").get_json()["phone"] == phone


def test_admin_creates_a_user_with_a_phone(admin, org):
    response = admin.post("users", json=new_user_body(phone="+8613900000042"))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["phone"] == "+8613900000042"
    assert db.session.get(User, response.get_json()["id"]).phone == "+8613900000042"
    blank = admin.post("users", json=new_user_body(email="blank@example.com", phone="  "))
    assert blank.status_code == 201 and blank.get_json()["phone"] is None


@pytest.mark.parametrize("phone", BAD_PHONES)
def test_a_bad_phone_is_refused_as_a_sites_is(admin, org, factory, phone):
    """The same rule and the same words as a site's contact_phone, on PATCH and POST."""
    site = factory.site()
    db.session.commit()
    user = org["eng_a1"]
    before = snapshot(user)
    problem = assert_problem(admin.patch(f"users/{user.id}", json={"phone": phone}), 422, "VALIDATION_ERROR")
    site_problem = assert_problem(admin.patch(f"sites/{site.id}", json={"contact_phone": phone}),
                                  422, "VALIDATION_ERROR")
    assert problem["errors"] == {"phone": site_problem["errors"]["contact_phone"]}
    if isinstance(phone, str) and len(phone) <= 32:
        assert problem["errors"] == {"phone": [PHONE_MESSAGE]}
    problem = assert_problem(admin.post("users", json=new_user_body(phone=phone)), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["phone"]
    assert snapshot(user) == before and user_count() == len(org)
    assert phone_entries() == []


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_an_empty_phone_clears_it_as_a_sites_does(admin, org, empty):
    user = org["eng_a1"]
    user.phone = "13812345678"
    db.session.commit()
    response = admin.patch(f"users/{user.id}", json={"phone": empty})
    assert response.status_code == 200 and response.get_json()["phone"] is None
    assert stored(user).phone is None
    [entry] = phone_entries()
    assert entry.detail == {"phone": {"from": "13812345678", "to": None}}
    # Cleared again: nothing changes, nothing is audited.
    assert admin.patch(f"users/{user.id}", json={"phone": ""}).status_code == 200
    assert len(phone_entries()) == 1


@pytest.mark.parametrize("who", ["eng_a1", "sup_a", "admin"])
def test_anyone_sets_their_own_phone_audited(client, org, who):
    user = org[who]
    client.login(user)
    response = client.patch(f"users/{user.id}", json={"phone": "+8613900000007"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == "+8613900000007"
    assert client.get("auth/me").get_json()["user"]["phone"] == "+8613900000007"
    assert stored(user).phone == "+8613900000007"
    [entry] = phone_entries()
    assert (entry.actor_id, entry.target_id, entry.detail) == (
        user.id, user.id, {"phone": {"from": None, "to": "+8613900000007"}})
    assert assert_problem(client.patch(f"users/{user.id}", json={"phone": "call me"}), 422,
                          "VALIDATION_ERROR")["errors"] == {"phone": [PHONE_MESSAGE]}
    assert stored(user).phone == "+8613900000007"
    cleared = client.patch(f"users/{user.id}", json={"phone": None})
    assert cleared.status_code == 200 and cleared.get_json()["phone"] is None
    assert [e.detail for e in phone_entries()][-1] == {"phone": {"from": "+8613900000007", "to": None}}


@pytest.mark.parametrize("who, target, status, code", [
    ("sup_a", "eng_a1", 403, "FORBIDDEN"),   # their own engineer: only an admin sets it
    ("sup_a", "eng_b1", 404, "NOT_FOUND"),   # another team's
    ("sup_a", "sup_b", 404, "NOT_FOUND"),
    ("sup_a", "admin", 404, "NOT_FOUND"),
    ("eng_a1", "eng_a2", 404, "NOT_FOUND"),
    ("eng_a1", "sup_a", 404, "NOT_FOUND"),
    ("eng_b1", "eng_a1", 404, "NOT_FOUND"),
    (None, "eng_a1", 401, "UNAUTHORIZED"),
])
def test_nobody_else_sets_someones_phone(client, org, who, target, status, code):
    if who:
        client.login(org[who])
    before = snapshot(org[target])
    assert_problem(client.patch(f"users/{org[target].id}", json={"phone": "+8613900000099"}), status, code)
    assert snapshot(org[target]) == before
    assert phone_entries() == []


def test_openapi_shows_the_phone(client):
    schemas = client.client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("User", "UserCreate", "UserPatch"):
        phone = schemas[name]["properties"]["phone"]
        assert phone["type"] == "string" and phone.get("nullable") is True, (name, phone)
    assert schemas["UserCreate"]["properties"]["phone"]["maxLength"] == 32
    assert "E.164" in schemas["UserPatch"]["properties"]["phone"]["description"]
    assert "phone" not in schemas["UserCreate"].get("required", [])
