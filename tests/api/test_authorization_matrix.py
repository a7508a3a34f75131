"""Scope in one table: every route × who asks → the status they get.

Actors: anonymous; the engineer concerned (eng_a1); an engineer of the same team
(eng_a2); an engineer of another team (eng_b1); the supervisor of the team (sup_a);
another supervisor (sup_b); an admin. A route missing from the table fails the suite.
"""
from __future__ import annotations

import importlib
import io
import pkgutil

import pytest

import tests.api.matrix as matrix_package
from tests.api.matrix import ACTORS
from tests.support import ApiClient

MODULES = [
    importlib.import_module(f"tests.api.matrix.{info.name}")
    for info in pkgutil.iter_modules(matrix_package.__path__)
]
MATRIX = [row for module in MODULES for row in module.ROWS]

# Routes anyone may call, and the documentation; modules add theirs as PUBLIC_ROUTES.
PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("GET", "/api/v1/docs/assets/<path:name>"),
}.union(*(getattr(module, "PUBLIC_ROUTES", set()) for module in MODULES))

CASES = [
    pytest.param(method, path, kwargs, actor, statuses[actor], id=f"{method} {rule} as {actor}")
    for method, rule, path, kwargs, statuses in MATRIX
    for actor in ACTORS
]


@pytest.fixture
def world(app, org, factory):
    ids: dict = {}
    for module in MODULES:
        if hasattr(module, "world"):
            ids.update(module.world(app, org, factory))
    return ids


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
