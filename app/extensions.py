"""The Flask extensions, created unbound and bound in the application factory."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
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


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below decide how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # NORMAL is durable across a crash of the process in WAL mode; only power loss
    # can lose the latest commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class WriterQueue:
    """The writers of one process, let into SQLite one at a time in the order they came.

    SQLite admits one writer at a time; a writer that finds the database taken sleeps in
    SQLite's busy handler (in steps of 1, 2, 5, 10 … 100 ms) and the database often stands
    idle meanwhile, which under load halves the writes per second and stretches the
    slowest ones to seconds. The threads of a process therefore queue here instead and
    go in the moment the previous writer commits or rolls back; only the writers of other
    processes still meet the busy handler.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()


WRITERS = WriterQueue()


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions hold the process's place in
    WRITERS from BEGIN IMMEDIATE until they end, however they end."""

    holds_write_turn = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.write_timeout = float(kwargs.get("timeout", 5.0))  # as the busy timeout

    def begin_write(self, timeout: float) -> None:
        if not WRITERS.lock.acquire(timeout=timeout):
            raise sqlite3.OperationalError("database is locked (no turn to write in time)")
        self.holds_write_turn = True
        try:
            self._begin_immediate(time.monotonic() + timeout)
        except BaseException:
            self._end_write()
            raise

    def _begin_immediate(self, deadline: float) -> None:
        """BEGIN IMMEDIATE, waiting for a writer of another process by polling every
        fraction of a millisecond rather than in the busy handler's long steps."""
        pause = 0.0002
        self.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 1.5, 0.002)
        finally:
            self.execute(f"PRAGMA busy_timeout = {int(self.write_timeout * 1000)}")

    def _end_write(self) -> None:
        if self.holds_write_turn:
            self.holds_write_turn = False
            WRITERS.lock.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._end_write()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._end_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_write()


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
    on PostgreSQL, or when a transaction was already open.
    """
    if not in_write_request():
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
