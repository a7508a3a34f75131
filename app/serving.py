"""What gunicorn answers by itself, before the app sees a request (a request line or a
header over gunicorn's limits, a malformed request), as the app's problem documents.

gunicorn writes those errors with `gunicorn.util.write_error`, an HTML page; api.md says
no error ever returns an HTML page. `install_problem_pages()` (gunicorn.conf.py's
`on_starting`) puts `write_problem` in its place, in the master before the workers fork.
"""
from __future__ import annotations

import json
import socket

from app.errors import DEFAULT_CODES, PROBLEM_MIMETYPE, TITLES

# The statuses gunicorn answers by itself that the app has no code for.
SERVER_CODES = {
    414: "URI_TOO_LONG",
    417: "EXPECTATION_FAILED",
    431: "HEADERS_TOO_LARGE",
    501: "NOT_IMPLEMENTED",
}
SERVER_DETAILS = {
    400: "The request is not valid HTTP.",
    414: "The request line (method and path) is too long.",
    431: "A request header, or the headers together, are too large.",
    500: "The server met an unexpected error; nothing was saved.",
}


def problem_bytes(status: int, reason: str) -> bytes:
    """The whole HTTP answer for a request gunicorn refused, as a problem document. The
    refusal's own message is left out: it may echo back what the client sent."""
    code = SERVER_CODES.get(status) or DEFAULT_CODES.get(status, "ERROR")
    body = json.dumps({
        "type": "urn:fieldproof:problem:" + code.lower().replace("_", "-"),
        "title": TITLES.get(status, reason),
        "status": status,
        "detail": SERVER_DETAILS.get(status, reason),
        "code": code,
    }).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: {PROBLEM_MIMETYPE}\r\nContent-Length: {len(body)}\r\n"
            "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n\r\n")
    return head.encode("latin-1") + body


def write_problem(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's signature, writing a problem document instead."""
    from gunicorn import util

    util.write_nonblock(sock, problem_bytes(int(status_int), str(reason)))


def install_problem_pages() -> None:
    from gunicorn import util

    util.write_error = write_problem
