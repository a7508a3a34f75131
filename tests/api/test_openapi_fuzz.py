"""Property-based fuzzing of the whole OpenAPI document (schemathesis).

Every operation of /api/v1/openapi.json gets generated requests, valid and invalid, sent
in-process to the app on the organisation of the authorization matrix (so that path ids
sometimes name real objects), as an admin, a supervisor and an engineer with a bearer token. Each
answer must be no server error and must match the schema the document gives for its
status. All failures of a run are reported together, one per operation.

Bounded and repeatable: a few examples per operation, derandomized generation, no
deadline, no example database on disk.

Nothing is left out but the requests that would lock the caller out for the rest of the
run (see `ends_own_access`). POST /auth/logout is fuzzed: with a bearer token it ends no
token. /auth/login answers 429 after a few tries, which is a documented problem document.
Uploads (photos, the sites CSV) are fuzzed like the rest, with small generated files.
"""
from __future__ import annotations

from dataclasses import dataclass

import flask
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from app.extensions import db
from app.services.auth import create_token
from tests.api.test_authorization_matrix import MODULES as MATRIX_MODULES

CHECKS = [not_a_server_error, response_schema_conformance]
EXAMPLES_PER_OPERATION = 6

SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    # A generated request is slow and often filtered by Hypothesis's standards, on purpose.
    suppress_health_check=list(hypothesis.HealthCheck),
    print_blob=False,
)


@dataclass(frozen=True)
class Caller:
    user_id: int
    token_id: int
    token: str


@pytest.fixture(params=["admin", "sup_a", "eng_a1"])
def caller(request, app, org, factory) -> Caller:
    """The organisation of the authorization matrix, and a token for one of its people."""
    for module in MATRIX_MODULES:
        if hasattr(module, "world"):
            module.world(app, org, factory)
    user = org[request.param]
    row, token = create_token(user, "fuzzing")
    db.session.commit()
    return Caller(user.id, row.id, token)


def ends_own_access(case, caller: Caller) -> bool:
    """Requests that would lock the caller out and turn the rest of the run into 401s:
    revoking the token in use, or disabling, demoting or re-passwording oneself."""
    path = case.operation.path
    if case.method == "DELETE" and path.endswith("/auth/tokens/{token_id}"):
        return case.path_parameters.get("token_id") == caller.token_id
    if case.method == "PATCH" and path.endswith("/users/{user_id}"):
        body = case.body if isinstance(case.body, dict) else {}
        return case.path_parameters.get("user_id") == caller.user_id and bool(
            {"active", "role", "password"} & set(body))
    return False


def fuzz_operation(operation, app, caller: Caller, settings: hypothesis.settings = SETTINGS) -> None:
    """Valid and invalid requests for one operation; raises on the first failing answer."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE),
    )

    @settings
    @hypothesis.given(case=strategy)
    def run(case):
        if ends_own_access(case, caller):
            return
        case.call_and_validate(
            session=app.test_client(),
            headers={"Authorization": f"Bearer {caller.token}"},
            checks=CHECKS,
        )

    run()


def api_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every route the OpenAPI document should describe."""
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint.split(".")[0] != "docs"
        and rule.endpoint != "api-docs.openapi_json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_no_server_error_and_every_answer_matches_its_schema(app, caller):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures = []
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # raises if the document has an operation it cannot read
        fuzzed += 1
        try:
            fuzz_operation(operation, app, caller)
        except (Exception, FailureGroup) as exc:  # every operation's, reported together
            failures.append(f"{operation.label}:\n{exc}")
    assert fuzzed == len(api_routes(app)), "every route of the API is in the document and fuzzed"
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("answer, finding", [
    (lambda: 1 / 0, "Server error"),
    (lambda: flask.jsonify({"user": "me"}), "Response violates schema"),
], ids=["server-error", "off-schema"])
def test_the_fuzzing_reports_a_server_error_and_an_answer_off_its_schema(
        app, org, answer, finding, monkeypatch):
    """The checks have teeth: /auth/me made to fail, or to answer off its schema, is reported."""
    row, token = create_token(org["admin"], "fuzzing")
    db.session.commit()
    monkeypatch.setitem(app.view_functions, "auth.MeView", answer)
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)["/api/v1/auth/me"]["GET"]
    with pytest.raises(FailureGroup) as found:
        fuzz_operation(operation, app, Caller(org["admin"].id, row.id, token),
                       hypothesis.settings(SETTINGS, phases=[hypothesis.Phase.generate]))
    assert finding in str(found.value)
