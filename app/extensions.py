"""The Flask extensions, created unbound and bound in the application factory."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import g, has_request_context, request
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
    if g.get("sqlite_read_first") == "armed":  # read_before_writing
        g.sqlite_read_first = "began"
        conn.exec_driver_sql("BEGIN")
        return
    dbapi_connection = conn.connection.driver_connection
    if isinstance(dbapi_connection, QueuedWriterConnection):
        dbapi_connection.begin_write(dbapi_connection.write_timeout)
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
