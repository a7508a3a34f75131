"""Scope in one table: every route × who asks → the status they get.

Actors: anonymous; the engineer concerned (eng_a1); an engineer of the same team
(eng_a2); an engineer of another team (eng_b1); the supervisor of the team (sup_a);
another supervisor (sup_b); an admin. A route missing from the table fails the suite.
"""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ApiToken
from tests.support import ApiClient

ACTORS = ("anonymous", "eng_a1", "eng_a2", "eng_b1", "sup_a", "sup_b", "admin")
ENGINEERS_403 = {"eng_a1": 403, "eng_a2": 403, "eng_b1": 403}


def expect(anonymous=401, **statuses) -> dict[str, int]:
    """Statuses by actor; `everyone` sets the signed-in default."""
    everyone = statuses.pop("everyone", None)
    table = {actor: everyone for actor in ACTORS[1:]}
    table.update(statuses)
    table["anonymous"] = anonymous
    assert None not in table.values(), table
    return table


SITE_BODY = {"name": "N", "customer_name": "C", "address": "A", "lat": 31.2, "lon": 121.4}
CSV = "name,customer_name,address,lat,lon\nN,C,A,31.2,121.4\n"

# (method, URL rule, concrete path with placeholders, request kwargs, expected statuses)
MATRIX = [
    ("GET", "/api/v1/auth/me", "auth/me", {}, expect(everyone=200)),
    ("POST", "/api/v1/auth/logout", "auth/logout", {}, expect(everyone=204)),
    ("GET", "/api/v1/auth/tokens", "auth/tokens", {}, expect(everyone=200)),
    ("POST", "/api/v1/auth/tokens", "auth/tokens", {"json": {"name": "n"}}, expect(everyone=201)),
    ("DELETE", "/api/v1/auth/tokens/<int:token_id>", "auth/tokens/{token_of_eng_a1}", {},
     expect(everyone=404, eng_a1=204)),
    ("GET", "/api/v1/users", "users", {}, expect(everyone=200, **ENGINEERS_403)),
    ("POST", "/api/v1/users", "users",
     {"json": {"email": "new@example.com", "name": "New", "password": "long enough pw",
               "role": "supervisor"}},
     expect(everyone=403, admin=201)),
    ("GET", "/api/v1/users/<int:user_id>", "users/{eng_a1}", {},
     expect(everyone=404, eng_a1=200, sup_a=200, admin=200)),
    ("PATCH", "/api/v1/users/<int:user_id>", "users/{eng_a1}", {"json": {"name": "Renamed"}},
     expect(everyone=404, eng_a1=200, sup_a=403, admin=200)),
    ("GET", "/api/v1/sites", "sites", {}, expect(everyone=200)),
    ("POST", "/api/v1/sites", "sites", {"json": SITE_BODY}, expect(everyone=201, **ENGINEERS_403)),
    ("GET", "/api/v1/sites/<int:site_id>", "sites/{site}", {}, expect(everyone=200)),
    ("PATCH", "/api/v1/sites/<int:site_id>", "sites/{site}", {"json": {"name": "X"}},
     expect(everyone=200, **ENGINEERS_403)),
    ("POST", "/api/v1/sites/import", "sites/import",
     {"data": CSV, "content_type": "text/csv"}, expect(everyone=403, admin=201)),
    ("GET", "/api/v1/audit", "audit", {}, expect(everyone=403, admin=200)),
]

# Routes anyone may call, and the documentation.
PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("GET", "/api/v1/docs/assets/<path:name>"),
}

CASES = [
    pytest.param(method, path, kwargs, actor, statuses[actor], id=f"{method} {rule} as {actor}")
    for method, rule, path, kwargs, statuses in MATRIX
    for actor in ACTORS
]


@pytest.fixture
def world(app, org, factory):
    site = factory.site()
    ApiClient(app.test_client()).use_token(org["eng_a1"])
    token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == org["eng_a1"].id))
    return {"site": site.id, "eng_a1": org["eng_a1"].id, "token_of_eng_a1": token_id}


@pytest.mark.parametrize("method, path, kwargs, actor, status", CASES)
def test_route_answers_each_actor_by_scope(app, org, world, method, path, kwargs, actor, status):
    client = ApiClient(app.test_client())
    if actor != "anonymous":
        client.use_token(org[actor])
    kwargs = dict(kwargs)
    if "data" in kwargs:
        kwargs["data"] = io.BytesIO(kwargs["data"].encode())
    response = client.open(method, path.format(**world), **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)


def test_every_route_is_in_the_matrix(app):
    covered = {(method, rule) for method, rule, *_ in MATRIX} | PUBLIC
    served = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served - covered == set(), "add these routes to MATRIX"
    assert covered - served == set(), "MATRIX names routes the app does not serve"
