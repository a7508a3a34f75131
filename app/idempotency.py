"""`Idempotency-Key` on every POST, PUT and PATCH, implemented once for all routes.

The first request with a key claims it in a committed row of its own, so that a
concurrent duplicate sees the claim and gets 409. The response of a successful request
is written into that row in the request's own transaction, together with its effects:
either both are committed or neither is. So a claim left without a response (the worker
died) means nothing was committed, and after `IDEMPOTENCY_LEASE_S` it may be taken over.
A request that fails deletes its claim, so the same key can be tried again. Records
are kept IDEMPOTENCY_TTL_S (72 hours), then no longer answer and are deleted.

A route marked `with_its_effects` (the check-in, the busiest write) records its key in
its own transaction instead, in one statement with its answer: the key is looked up in
the statement that reads the caller (`look_up_for`; on PostgreSQL taking a
transaction-scoped advisory lock on the user and key in the same statement: a duplicate
that finds the lock taken gets 409 at once), and the record is inserted with the
response at the end, before the one commit.
Should the insert meet the key recorded meanwhile (SQLite's writers take turns after the
lookup; on PostgreSQL a request that committed between the lookup's snapshot and its
lock), everything is rolled back and the stored record answers: a replay if complete,
else 409. So only one request acts, and a failure anywhere leaves nothing at all.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import Response, current_app, g, request
from flask_login import current_user
from sqlalchemy.dialects import postgresql, sqlite

from app.api.security import check_csrf
from app.errors import Conflict, DomainError, Invalid, problem
from app.extensions import commit_keeping_loaded, db
from app.models import IdempotencyRecord
from app.models.prepared import prepared
from app.models.sql import KEY_RECORD_COLUMNS
from app.models.types import utcnow

HEADER = "Idempotency-Key"
METHODS = frozenset({"POST", "PUT", "PATCH"})
KEY_FORMAT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
KEPT_HEADERS = ("Location",)


def fingerprint() -> str:
    """Method, path, and the canonical JSON body (or the form fields and file digests)."""
    parts: list[Any] = [request.method, request.path]
    if request.mimetype == "multipart/form-data":
        parts.append(sorted(request.form.items(multi=True)))
        files = []
        for name, upload in request.files.items(multi=True):
            digest = hashlib.sha256()
            for chunk in iter(lambda: upload.stream.read(1 << 20), b""):
                digest.update(chunk)
            upload.stream.seek(0)
            files.append((name, digest.hexdigest()))
        parts.append(sorted(files))
    else:
        raw = request.get_data(cache=True)
        try:
            parts.append(json.loads(raw) if raw else None)
        except (ValueError, RecursionError):  # not JSON: the route refuses it, keyed or not
            parts.append(raw.decode("latin-1"))
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # A lone surrogate has no UTF-8 form; the route refuses it, but the key is claimed first.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


_records = IdempotencyRecord.__table__
# Built once: the claim runs on every keyed request, and a statement made anew each time
# costs more to build than to run.
# Records past their time are deleted in bulk every PURGE_EVERY claims (by the claim's
# id), from the created_at index; one met before that is deleted when its key comes back.
PURGE_EVERY = 256
_PURGE = sa.delete(_records).where(_records.c.created_at < sa.bindparam("cutoff"))
_DROP = sa.delete(_records).where(_records.c.id == sa.bindparam("record_id"),
                                  _records.c.created_at < sa.bindparam("cutoff"))
_FIND = sa.select(
    _records.c.id, _records.c.fingerprint, _records.c.response_status,
    _records.c.response_body, _records.c.response_headers, _records.c.created_at,
).where(_records.c.user_id == sa.bindparam("user_id"), _records.c.key == sa.bindparam("key"))
_CLAIM = {
    name: dialect_insert(_records).on_conflict_do_nothing().returning(_records.c.id)
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_TAKE_OVER = sa.update(_records).where(
    _records.c.id == sa.bindparam("record_id"), _records.c.response_status.is_(None),
    _records.c.created_at < sa.bindparam("lease_cutoff"),
).values(created_at=sa.bindparam("now"))
_STORE = sa.update(_records).where(_records.c.id == sa.bindparam("record_id")).values(
    response_status=sa.bindparam("status"), response_body=sa.bindparam("body"),
    response_headers=sa.bindparam("headers", type_=_records.c.response_headers.type),
)
# The records of routes marked `with_its_effects`: the key looked up with the caller (on
# PostgreSQL with its advisory lock, app.models.sql.with_key_record), then recorded
# complete in one statement.
_RECORD = {
    name: dialect_insert(_records).on_conflict_do_nothing().returning(_records.c.id)
    for name, dialect_insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}
_DROP_ANY = sa.delete(_records).where(_records.c.id == sa.bindparam("record_id"))
_RELEASE = sa.delete(_records).where(_records.c.id == sa.bindparam("record_id"),
                                     _records.c.response_status.is_(None))


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse at start-up times that would let two requests with one key both act: a
    record deleted (IDEMPOTENCY_TTL_S) before its claim may be taken over
    (IDEMPOTENCY_LEASE_S) frees the key of a request still in flight."""
    lease, ttl = config["IDEMPOTENCY_LEASE_S"], config["IDEMPOTENCY_TTL_S"]
    if lease <= 0:
        raise ValueError(f"IDEMPOTENCY_LEASE_S must be positive, not {lease}.")
    if ttl <= lease:
        raise ValueError(f"IDEMPOTENCY_TTL_S ({ttl}) must be longer than IDEMPOTENCY_LEASE_S ({lease}).")


def _claim(user_id: int, key: str, print_: str) -> Response | None:
    """Claim the key, or answer for it: a replay, 409 while in flight, 422 if reused."""
    now = utcnow()
    lease = timedelta(seconds=current_app.config["IDEMPOTENCY_LEASE_S"])
    ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_S"])
    session = db.session
    conn = session.connection()
    claim = {"user_id": user_id, "key": key, "fingerprint": print_, "created_at": now}
    cutoff = now - ttl
    # INSERT … ON CONFLICT DO NOTHING: the key is ours when a row comes back. A
    # concurrent claim of the same key still in its transaction makes this one wait for
    # it, then find it below.
    record_id, record = conn.execute(_CLAIM[conn.dialect.name], claim).scalar(), None
    for _ in range(2):  # again if the record went meanwhile (its time was up, or purged)
        if record_id is not None:
            break
        record = conn.execute(_FIND, {"user_id": user_id, "key": key}).one_or_none()
        if record is not None and record.created_at >= cutoff:
            break  # a live record answers for the key
        if record is not None:  # its time is up: gone, unless taken over meanwhile
            conn.execute(_DROP, {"record_id": record.id, "cutoff": cutoff})
        record_id, record = conn.execute(_CLAIM[conn.dialect.name], claim).scalar(), None
    if record_id is not None:
        if record_id % PURGE_EVERY == 0:
            conn.execute(_PURGE, {"cutoff": cutoff})
        commit_keeping_loaded()  # the claim on its own; the user stays loaded
        g.idempotency_record_id = record_id
        return None
    if record is None:  # released by a request that failed meanwhile: the client may retry
        session.commit()
        raise _in_progress()
    if record.fingerprint != print_:
        raise _reused()
    if record.response_status is not None:
        response = _replayed(record)
        session.commit()
        return response
    # In flight, or abandoned by a worker that died before committing anything.
    taken = conn.execute(_TAKE_OVER, {
        "record_id": record.id, "lease_cutoff": now - lease, "now": now}).rowcount
    commit_keeping_loaded()  # the claim on its own; the user stays loaded
    if not taken:
        raise _in_progress()
    g.idempotency_record_id = record.id
    return None


def before_request() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method not in METHODS or key is None or _with_its_effects():
        return None  # none, or the route looks its key up itself (`look_up_for`)
    if not current_user.is_authenticated:
        return None  # the route answers 401, or is public and single-use by itself
    _check_format(key)
    check_csrf()
    return _claim(current_user.id, key, fingerprint())


def _check_format(key: str) -> None:
    if not KEY_FORMAT.match(key):
        raise Invalid("Idempotency-Key must be 1 to 100 letters, digits or -_.: (a UUID).",
                      {HEADER: ["Not a valid key."]})


def request_key() -> str | None:
    """The request's Idempotency-Key when it has a well-formed one (a malformed one is
    refused by `look_up_for`, once the caller is known)."""
    key = request.headers.get(HEADER)
    return key if key is not None and KEY_FORMAT.match(key) else None


def look_up_for(user_id: int, keyed_row: Any) -> Response | None:
    """For a route that records its key with its effects, called by the route once it
    knows its caller (before_request leaves it): the key checked as before_request checks
    it, then answered for from `keyed_row`, the caller's row read with the record of
    `request_key()` (app.models.sql.with_key_record): a replay, 409 or 422, or None to
    let the route act, keeping the key to record with its answer (`store_response`)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    _check_format(key)
    check_csrf()
    return _looked_up(user_id, key, fingerprint(), keyed_row)


# --- Routes that record their key with their effects -----------------------------------

MARK = "_idempotency_with_its_effects"
_marked: dict[tuple[str | None, str], bool] = {}


def with_its_effects(view):
    """Mark a route (a view, or a MethodView's method) whose Idempotency-Key is recorded
    in the request's own transaction, with its answer: for a route whose effects are all
    in the database and that commits once, as the check-in. Such a route looks its key
    up itself, once it knows its caller (`look_up_for`)."""
    setattr(view, MARK, True)
    return view


def _with_its_effects() -> bool:
    marker = (request.endpoint, request.method)
    found = _marked.get(marker)
    if found is None:
        view = current_app.view_functions.get(request.endpoint or "")
        view_class = getattr(view, "view_class", None)
        if view_class is not None:
            view = getattr(view_class, request.method.lower(), None)
        found = _marked[marker] = bool(getattr(view, MARK, False))
    return found


def _in_progress() -> Conflict:
    return Conflict("A request with this Idempotency-Key is being processed.",
                    code="IDEMPOTENCY_IN_PROGRESS")


def _reused() -> Invalid:
    return Invalid("This Idempotency-Key was used for a different request.",
                   {HEADER: ["Used before with another method, path or body."]},
                   code="IDEMPOTENCY_KEY_REUSED")


class _Record(NamedTuple):
    id: int
    fingerprint: str
    response_status: int | None
    response_body: str | None
    response_headers: dict | None
    created_at: datetime


def _looked_up(user_id: int, key: str, print_: str, row: Any) -> Response | None:
    """`look_up_for`'s answer from a row of `with_key_record`."""
    now = utcnow()
    record = None if row.key_id is None else _Record(
        *(getattr(row, f"key_{name}") for name in KEY_RECORD_COLUMNS))
    locked = row.key_locked
    if record is not None:
        answer = _answer_of(record, print_, now)
        if answer is not None:
            return answer
        if not locked:
            raise _in_progress()
        # Its time is up (or it is a claim abandoned past its lease): gone, deleted with
        # the request's writes (on SQLite this read is not in the write transaction).
        g.idempotency_stale_record = record.id
    elif not locked:
        raise _in_progress()
    g.idempotency_pending = {"user_id": user_id, "key": key, "fingerprint": print_,
                             "created_at": now}
    return None


def _answer_of(record, print_: str, now) -> Response | None:
    """What a record found answers: its replay, 422 if reused, 409 while in progress;
    None when it no longer counts (past its time, or a claim past its lease)."""
    cutoff = now - timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_S"])
    if record.created_at < cutoff:
        return None
    if record.fingerprint != print_:
        raise _reused()
    if record.response_status is not None:
        response = _replayed(record)
        db.session.rollback()
        return response
    # A claim committed on its own (the other routes' way): in flight, or abandoned.
    lease = timedelta(seconds=current_app.config["IDEMPOTENCY_LEASE_S"])
    if record.created_at >= now - lease:
        raise _in_progress()
    return None


def _record_with_answer(pending: dict[str, Any], values: dict[str, Any]) -> Response | None:
    """Insert the key's record with its answer, in the request's transaction; None when
    done, or the answer of the record another request stored meanwhile (all undone)."""
    conn = db.session.connection()
    stale = g.pop("idempotency_stale_record", None)
    if stale is not None:
        prepared(_DROP_ANY).run(conn, {"record_id": stale})
    record_id = prepared(_RECORD[conn.dialect.name]).scalar(conn, {**pending, **values})
    if record_id is not None:
        if record_id % PURGE_EVERY == 0:
            cutoff = pending["created_at"] - timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_S"])
            conn.execute(_PURGE, {"cutoff": cutoff})
        return None
    db.session.rollback()  # nothing of this request stays
    record = db.session.connection().execute(
        _FIND, {"user_id": pending["user_id"], "key": pending["key"]}).one_or_none()
    try:
        answer = None if record is None else _answer_of(record, pending["fingerprint"], utcnow())
        if answer is None:
            raise _in_progress()
    except DomainError as error:
        answer = problem(error.status, error.code, error.detail, error.errors)
    finally:
        db.session.rollback()
    return answer


def withhold(*fields: str) -> None:
    """Keep these fields of this request's JSON answer out of its idempotency record: a
    secret shown once (an API token) is never stored, and a replay answers it as null."""
    g.idempotency_withheld = fields


def seal(*fields: str, headers: tuple[str, ...] = ()) -> None:
    """Keep these fields (and headers) of this request's answer encrypted in its record,
    with a key derived from SECRET_KEY: a replay answers them as they were, while a
    reader of the database alone cannot use them (a customer's feedback link). Should
    SECRET_KEY change meanwhile, a replay answers them as null."""
    g.idempotency_sealed = (fields, headers)


SEALED_PREFIX = "sealed:"
SEALED_MARK = "X-Sealed-Fields"  # kept among a record's headers, never answered


def _fernet():
    from cryptography.fernet import Fernet

    key = hashlib.sha256(b"fieldproof idempotency seal\0" + current_app.secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _sealed(value: str) -> str:
    return SEALED_PREFIX + _fernet().encrypt(value.encode()).decode()


def _unsealed(value: Any) -> Any:
    from cryptography.fernet import InvalidToken

    if not isinstance(value, str) or not value.startswith(SEALED_PREFIX):
        return value
    try:
        return _fernet().decrypt(value[len(SEALED_PREFIX):].encode()).decode()
    except InvalidToken:  # another SECRET_KEY: the secret is lost, as if withheld
        return None


def _replayed(record) -> Response:
    body, headers = record.response_body, dict(record.response_headers or {})
    sealed = headers.pop(SEALED_MARK, None)  # the names of the sealed fields, if any
    if sealed is not None:
        if sealed:
            answer = json.loads(body)
            for name in sealed.split(","):
                answer[name] = _unsealed(answer.get(name))
            body = current_app.json.response(answer).get_data(as_text=True)
        headers = {name: _unsealed(value) for name, value in headers.items()}
    response = Response(body, status=record.response_status, mimetype="application/json")
    for name, value in headers.items():
        if value is not None:
            response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def store_response(response: Response) -> Response | None:
    """Write a successful (2xx) response into the claim, in the request's transaction;
    the caller commits it with the request's effects. For a route that records its key
    with its effects, the record is inserted now; should another request have recorded
    the key meanwhile, all is undone and its answer (a replay, 409 or 422) returned."""
    record_id = g.get("idempotency_record_id")
    pending = g.get("idempotency_pending")
    if record_id is None and pending is None:
        return None
    body = response.get_data(as_text=True)
    headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
    withheld = g.get("idempotency_withheld")
    sealed_fields, sealed_headers = g.get("idempotency_sealed", ((), ()))
    if withheld or sealed_fields:
        answer = json.loads(body)
        answer.update(dict.fromkeys(withheld or ()))
        for name in sealed_fields:
            if isinstance(answer.get(name), str):
                answer[name] = _sealed(answer[name])
        body = current_app.json.response(answer).get_data(as_text=True)
    if sealed_fields or sealed_headers:
        headers = {name: _sealed(value) if name in sealed_headers else value
                   for name, value in headers.items()}
        headers[SEALED_MARK] = ",".join(sealed_fields)
    values = {"response_status": response.status_code, "response_body": body,
              "response_headers": headers}
    if pending is not None:
        return _record_with_answer(pending, values)
    db.session.connection().execute(_STORE, {
        "record_id": record_id, "status": values["response_status"], "body": body,
        "headers": headers,
    })
    return None


def release_failed_claim() -> None:
    """After a failed request (rolled back): free the key so the client may retry."""
    record_id = g.pop("idempotency_record_id", None)
    if record_id is None:
        return
    db.session.rollback()
    db.session.execute(_RELEASE, {"record_id": record_id})
    db.session.commit()
