"""What only a real server shows: login limits shared by its worker processes, and the
answers gunicorn gives by itself (over-long request lines and headers) or the app gives to
a chunked body, all problem documents, never an HTML page."""
from __future__ import annotations

import http.client
import json

import pytest

from tests.support import PASSWORD

WORKERS = 4


def login(server, email: str, password: str = "wrong password!") -> int:
    return server.request("POST", "auth/login", json_body={"email": email, "password": password}).status


def assert_problem_document(response, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert isinstance(response.body, dict), response.body
    assert response.body["status"] == status and response.body["code"] == code
    assert {"type", "title", "detail"} <= set(response.body)


def test_login_limits_hold_for_the_whole_server_with_the_embedded_default(serve, org):
    """With several workers (each a process with counters of its own, were they kept in
    memory), the sixth wrong password for one account is already refused."""
    server = serve(workers=WORKERS, threads=2)
    assert len(server.worker_pids()) == WORKERS
    statuses = [login(server, org["eng_a1"].email) for _ in range(12)]
    assert statuses == [401] * 5 + [429] * 7
    assert login(server, org["eng_a1"].email, PASSWORD) == 429  # the right one too, for now
    assert login(server, org["eng_a2"].email, PASSWORD) == 200  # another account is not blocked


def test_the_address_limit_holds_for_the_whole_server(serve, org):
    server = serve(workers=WORKERS, threads=2)
    statuses = [login(server, f"nobody{i}@example.com") for i in range(24)]
    # Four accounts' worth of failures are left for the account limit: the address's
    # twenty come first, whichever worker answers.
    assert statuses == [401] * 20 + [429] * 4


@pytest.fixture
def server(serve, org):
    return serve(workers=2, threads=2)


def test_a_request_line_over_the_limit_is_a_problem_document(server):
    assert_problem_document(server.request("GET", "/api/v1/jobs/" + "x" * 6000), 414, "URI_TOO_LONG")


def test_a_header_over_the_limit_is_a_problem_document(server):
    response = server.request("GET", "auth/me", headers={"X-Big": "y" * 10_000})
    assert_problem_document(response, 431, "HEADERS_TOO_LARGE")


def test_a_malformed_request_line_is_a_problem_document(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", "/api/v1/auth/me", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", "a\x01b")  # a control character in a header value
        conn.endheaders()
        raw = conn.getresponse()
        body = raw.read()
    finally:
        conn.close()
    assert raw.status == 400 and raw.getheader("Content-Type").startswith("application/problem+json")
    assert json.loads(body)["code"] == "MALFORMED_REQUEST"


def test_a_chunked_json_body_over_the_limit_is_payload_too_large(server, org):
    from tests.system.conftest import tokens_for

    token = tokens_for([org["eng_a1"]])[org["eng_a1"].id]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    chunk = b"x" * (1 << 20)
    try:
        conn.putrequest("POST", "/api/v1/visits/check-in")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        try:
            conn.send(b'1\r\n{\r\n')
            for _ in range(26):
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading it all
        raw = conn.getresponse()
        body = raw.read()
    finally:
        conn.close()
    assert raw.status == 413, body[:300]
    assert raw.getheader("Content-Type").startswith("application/problem+json")
    assert json.loads(body)["code"] == "PAYLOAD_TOO_LARGE"
