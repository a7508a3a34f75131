"""gunicorn's own refusals written as problem documents (app/serving.py), without a server;
tests/system/test_server_edges.py sends them through a real one."""
from __future__ import annotations

import json
import socket
from datetime import date

import pytest

from app.domain import calendar
from app.serving import install_problem_pages, problem_bytes, write_problem


def parse(raw: bytes) -> tuple[str, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return status, headers, json.loads(body)


@pytest.mark.parametrize("status, reason, code", [
    (400, "Bad Request", "MALFORMED_REQUEST"),
    (403, "Forbidden", "FORBIDDEN"),
    (414, "URI Too Long", "URI_TOO_LONG"),
    (417, "Expectation Failed", "EXPECTATION_FAILED"),
    (431, "Request Header Fields Too Large", "HEADERS_TOO_LARGE"),
    (500, "Internal Server Error", "INTERNAL_ERROR"),
    (501, "Not Implemented", "NOT_IMPLEMENTED"),
])
def test_each_refusal_is_a_problem_document(status, reason, code):
    line, headers, body = parse(problem_bytes(status, reason))
    assert line == f"HTTP/1.1 {status} {reason}"
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Connection"] == "close" and headers["X-Content-Type-Options"] == "nosniff"
    assert body["status"] == status and body["code"] == code
    assert body["type"] == "urn:fieldproof:problem:" + code.lower().replace("_", "-")
    assert body["title"] and body["detail"]


def test_the_refusal_never_echoes_what_the_client_sent():
    left, right = socket.socketpair()
    try:
        write_problem(left, 400, "Bad Request", "Invalid header value '<script>alert(1)</script>'")
        left.close()
        raw = b"".join(iter(lambda: right.recv(65536), b""))
    finally:
        right.close()
    assert b"<script>" not in raw and b"<html" not in raw.lower()
    assert parse(raw)[2]["code"] == "MALFORMED_REQUEST"


def test_installing_replaces_gunicorns_html_writer(monkeypatch):
    from gunicorn import util

    monkeypatch.setattr(util, "write_error", util.write_error)
    install_problem_pages()
    assert util.write_error is write_problem


def test_the_calendar_span():
    assert calendar.year_within(2000) and calendar.year_within(2099)
    assert not calendar.year_within(1999) and not calendar.year_within(2100)
    assert calendar.day_within(date(2099, 12, 31)) and not calendar.day_within(date(1999, 12, 31))
