"""Domain errors and their one HTTP shape: RFC 9457 problem details with a stable code."""
from __future__ import annotations

from typing import Any

from flask import Response, json
from werkzeug.exceptions import HTTPException

PROBLEM_MIMETYPE = "application/problem+json"

# Default code for each status when nothing more specific was given.
DEFAULT_CODES = {
    400: "MALFORMED_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    410: "GONE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
}

TITLES = {
    400: "Malformed request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}


class DomainError(Exception):
    """A rule of the product was broken; carries the status and the stable code."""

    status = 409
    code = "CONFLICT"

    def __init__(
        self,
        detail: str,
        code: str | None = None,
        status: int | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors
        self.headers = headers or {}


class NotFound(DomainError):
    status, code = 404, "NOT_FOUND"


class Forbidden(DomainError):
    status, code = 403, "FORBIDDEN"


class Unauthorized(DomainError):
    status, code = 401, "UNAUTHORIZED"


class Conflict(DomainError):
    status, code = 409, "CONFLICT"


class Invalid(DomainError):
    """A validation failure found beyond the schema (needs the database, say)."""

    status, code = 422, "VALIDATION_ERROR"

    def __init__(self, detail: str, errors: dict[str, Any] | None = None, code: str | None = None):
        super().__init__(detail, code=code, errors=errors)


class Gone(DomainError):
    status, code = 410, "GONE"


def problem(
    status: int,
    code: str | None = None,
    detail: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The one error response of the product."""
    code = code or DEFAULT_CODES.get(status, "ERROR")
    body: dict[str, Any] = {
        "type": "urn:fieldproof:problem:" + code.lower().replace("_", "-"),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or TITLES.get(status, "Error"),
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_webargs(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {...}}); clients want the fields."""
    flat: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[location] = errors
    return flat


def http_exception_problem(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    if status == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(error.valid_methods)
    if status == 429:
        retry = getattr(error, "retry_after", None)
        headers.setdefault("Retry-After", str(retry or 60))
    errors = None
    detail = data.get("message") or error.description
    if "messages" in data:
        errors = _flatten_webargs(data["messages"])
        if status == 400:
            detail = "The request body is not valid JSON."
            errors = None
        else:
            detail = "The request did not pass validation."
    if status == 500:
        detail = "The server met an unexpected error; nothing was saved."
    return problem(status, data.get("code"), detail, errors, headers)
