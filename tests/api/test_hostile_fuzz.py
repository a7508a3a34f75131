"""Every route of the OpenAPI document, sent bodies and queries built from hostile
strings: unpaired surrogates, NUL and other control characters, a megabyte of text,
right-to-left overrides, times at the ends of the calendar, and JSON nested a hundred
thousand deep. Each answer is a 4xx problem document or a success, never a server error.

A valid request is generated for each operation (schemathesis, positive mode); then each
of its strings, in the body and the query, is replaced by each hostile value in turn, so
that the value reaches as deep as a valid request would.
"""
from __future__ import annotations

import io
import json
import re
from typing import Any

import hypothesis
import schemathesis
from werkzeug.test import stream_encode_multipart

from tests.api.test_openapi_fuzz import SETTINGS, api_routes, caller, ends_own_access  # noqa: F401

HOSTILE = [
    "\ud800x",  # a lone high surrogate
    "x\udfff",  # a lone low surrogate
    "a\x00b",
    "a\x0bb\x1b[31m",
    "x" * 1_000_000,
    "\u202eevil\u202c",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "'; DROP TABLE jobs; --",
    "=HYPERLINK(\"http://evil\")",
]
NESTED = "[" * 100_000 + "]" * 100_000
SURROGATE = re.compile("[\ud800-\udfff]")


def replaced(value: Any, hostile: str) -> Any:
    """The value with every string (not bytes, not keys) replaced by `hostile`."""
    if isinstance(value, str):
        return hostile
    if isinstance(value, dict):
        return {key: replaced(item, hostile) for key, item in value.items()}
    if isinstance(value, list):
        return [replaced(item, hostile) for item in value]
    return value


def assert_client_error_or_success(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", what
        assert response.get_json()["status"] == response.status_code, what


def send(app, case, caller, body: Any, query: dict | None, raw: str | None = None):  # noqa: F811
    """The case's request through the test client: JSON written with escapes, so that a
    lone surrogate travels as `\\ud800` (as a browser's JSON.stringify would send it)."""
    kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {caller.token}"}}
    if raw is not None:
        kwargs.update(data=raw, content_type="application/json")
    elif isinstance(body, dict | list) and case.media_type == "application/json":
        kwargs.update(data=json.dumps(body), content_type="application/json")
    elif isinstance(body, dict) and case.media_type == "multipart/form-data":
        fields = {name: (io.BytesIO(value), "upload.bin") if isinstance(value, bytes) else value
                  for name, value in body.items()}
        stream, length, boundary = stream_encode_multipart(fields)
        kwargs.update(data=stream.read(), content_type=f"multipart/form-data; boundary={boundary}")
        stream.close()
    return app.test_client().open(case.formatted_path, method=case.method.upper(),
                                  query_string=query or None, **kwargs)


def hostile_requests(operation, app, caller) -> None:  # noqa: F811
    @hypothesis.settings(SETTINGS, max_examples=1, phases=[hypothesis.Phase.generate])
    @hypothesis.given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE))
    def run(case):
        if ends_own_access(case, caller):
            return
        body, query = case.body, case.query
        has_body = isinstance(body, dict | list)
        for hostile in HOSTILE:
            # A URL, a form or a file is UTF-8 bytes, which cannot hold a lone surrogate;
            # only JSON can name one (as an escape).
            json_only = bool(SURROGATE.search(hostile))
            in_body = has_body and (case.media_type == "application/json" or not json_only)
            in_query = bool(query) and not json_only
            if in_body or in_query:
                response = send(app, case, caller, replaced(body, hostile) if in_body else body,
                                replaced(query, hostile) if in_query else query)
                assert_client_error_or_success(response, f"{operation.label} with {hostile[:20]!r}")
        if case.method.upper() in {"POST", "PUT", "PATCH"} and case.media_type == "application/json":
            response = send(app, case, caller, None, query, raw=NESTED)
            assert_client_error_or_success(response, f"{operation.label} nested")

    run()


def test_hostile_strings_in_every_body_and_query_answer_no_server_error(app, caller):  # noqa: F811
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures, sent = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        sent += 1
        try:
            hostile_requests(operation, app, caller)
        except Exception as exc:  # every operation's, reported together
            failures.append(f"{operation.label}:\n{exc}")
    assert sent == len(api_routes(app))
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def test_the_replacement_reaches_every_string_but_not_the_keys():
    body = {"a": "x", "b": [{"c": "y", "d": 3, "e": None}], "f": True}
    assert replaced(body, "!") == {"a": "!", "b": [{"c": "!", "d": 3, "e": None}], "f": True}
    assert json.loads(json.dumps(replaced(body, "\ud800")))["a"] == "\ud800"
