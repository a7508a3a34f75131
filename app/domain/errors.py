"""Domain errors: a broken rule with its HTTP status and stable code.

No Flask here: the domain and the services raise these, and app/errors.py turns them
into problem documents once, at the edge.
"""
from __future__ import annotations

from typing import Any


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
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        if status:
            self.status = status
        self.errors = errors
        self.headers = headers or {}
        # Members of the problem document beyond the standard ones (`missing`, say).
        self.extra = extra or {}


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
