"""The Flask extensions, created unbound and bound in the application factory."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial, wraps

import sqlalchemy as sa
from flask import Flask, g, has_request_context, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from app.api_base import FieldProofApi
from app.sqlite_writers import QueuedWriterConnection

# Stable constraint names, so that migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
api = FieldProofApi()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# Endpoints that no rate limit applies to, not even one set for the whole app: the
# limiter's request hooks do nothing for them (`leave_unlimited_alone`).
UNLIMITED_ENDPOINTS: set[str] = set()

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def in_write_request() -> bool:
    """Whether this runs for a request that may change data (POST, PUT, PATCH, DELETE)."""
    return has_request_context() and request.method in UNSAFE_METHODS


def commit_keeping_loaded() -> None:
    """Commit the session without expiring what it loaded (the signed-in user above all),
    which would otherwise be read again at its next use."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


@contextmanager
def read_before_writing() -> Iterator[None]:
    """Let the statements inside begin a write request's transaction as a read.

    On SQLite a write request's transaction takes the write lock from its first
    statement (below). Sign-in reads the user this way instead: when its statements
    began the transaction, that read-only transaction is ended on leaving (keeping what
    was loaded), and the request's writes then begin with BEGIN IMMEDIATE afresh, so the
    write lock is not held while the body is fingerprinted and parsed. Nothing changes
    on PostgreSQL, or when a transaction was already open. Inside another
    `read_before_writing`, it is that one's read.
    """
    if not in_write_request() or "sqlite_read_first" in g:
        yield
        return
    g.sqlite_read_first = "armed"
    try:
        yield
    finally:
        began = g.pop("sqlite_read_first", None) == "began"
    if began:
        commit_keeping_loaded()


@contextmanager
def read_then_write() -> Iterator[None]:
    """For a write that reads its caller first (the check-in): on SQLite the statements
    inside read outside any transaction (each its own snapshot, no BEGIN), and on
    leaving, the request's write transaction begins on that same connection with
    BEGIN IMMEDIATE, the write lock taken then. Against `read_before_writing`, the read
    transaction's BEGIN and COMMIT, a session commit and a second connection from the
    pool are spared; the route keeps for before it what must not hold the lock (the
    body's parsing). Nothing is begun when the block raises or has ended the session's
    transaction (a replay). Nothing changes on PostgreSQL, or when a transaction was
    already open.
    """
    if not in_write_request() or "sqlite_read_first" in g:
        yield
        return
    g.sqlite_read_first = "autocommit"
    try:
        yield
        conn = g.get("sqlite_reading_conn")
        if conn is not None and not conn.closed and conn.in_transaction():
            _begin_writing(conn)
    finally:
        g.pop("sqlite_read_first", None)
        g.pop("sqlite_reading_conn", None)


def _begin_writing(conn: sa.Connection) -> None:
    dbapi_connection = conn.connection.driver_connection
    if isinstance(dbapi_connection, QueuedWriterConnection):
        dbapi_connection.begin_write(dbapi_connection.write_timeout)
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(conn) -> None:
    """Start write requests with BEGIN IMMEDIATE on SQLite.

    A deferred transaction that reads and then writes cannot wait for a concurrent
    writer in WAL mode (SQLITE_BUSY_SNAPSHOT fails at once, whatever the busy
    timeout); taking the write lock up front makes such requests queue instead
    (in the process's WriterQueue first).
    """
    if conn.dialect.name != "sqlite":
        return
    if not in_write_request():
        conn.exec_driver_sql("BEGIN")
        return
    reading = g.get("sqlite_read_first")
    if reading == "armed":  # read_before_writing
        g.sqlite_read_first = "began"
        conn.exec_driver_sql("BEGIN")
        return
    if reading == "autocommit":  # read_then_write: BEGIN IMMEDIATE on leaving it
        g.sqlite_read_first = "began"
        g.sqlite_reading_conn = conn
        return
    _begin_writing(conn)


def leave_unlimited_alone(app: Flask) -> None:
    """Let the limiter's three request hooks (before, after and teardown, registered by
    `limiter.init_app`) do nothing for UNLIMITED_ENDPOINTS. Even with a request filter
    that exempts the endpoint, Flask-Limiter identifies the request, looks up the view's
    name, evaluates its meta limits and, after the response, its conditional deductions
    and headers, and resets its context: work the busiest write (the check-in) would pay
    for on every request, for no limit at all."""
    def is_limiters(hook: Callable) -> bool:
        if isinstance(hook, partial):
            return bool(hook.args) and hook.args[0] is limiter
        return getattr(hook, "__self__", None) is limiter

    def unless_unlimited(hook: Callable, passed: Callable) -> Callable:
        @wraps(hook)
        def run(*args):
            if request.endpoint in UNLIMITED_ENDPOINTS:
                return passed(*args)
            return hook(*args)
        return run

    found = 0
    for hooks, passed in ((app.before_request_funcs, lambda: None),
                          (app.after_request_funcs, lambda response: response),
                          (app.teardown_request_funcs, lambda error: None)):
        for index, hook in enumerate(hooks.get(None, [])):
            if is_limiters(hook):
                hooks[None][index] = unless_unlimited(hook, passed)
                found += 1
    if found != 3:  # a Flask-Limiter that registers its hooks otherwise: look again
        raise RuntimeError(f"Found {found} of the rate limiter's 3 request hooks.")
