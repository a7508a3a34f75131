"""The Flask extensions, created unbound and bound in the application factory."""
from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from flask import has_request_context, request
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


@sa.event.listens_for(sa.engine.Engine, "begin")
def _sqlite_begin(conn) -> None:
    """Start write requests with BEGIN IMMEDIATE on SQLite.

    A deferred transaction that reads and then writes cannot wait for a concurrent
    writer in WAL mode (SQLITE_BUSY_SNAPSHOT fails at once, whatever the busy
    timeout); taking the write lock up front makes such requests queue instead.
    """
    if conn.dialect.name != "sqlite":
        return
    immediate = has_request_context() and request.method in UNSAFE_METHODS
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
