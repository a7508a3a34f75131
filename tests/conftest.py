"""Fixtures: an app per test on a freshly migrated database, SQLite and PostgreSQL.

Every test that uses the `app` fixture runs twice, once per database. The schema is
built by the migrations once per run and database; each test then gets an empty copy
(SQLite: a copy of the migrated file; PostgreSQL: the run's own database, emptied after
each test). Without a reachable PostgreSQL the PostgreSQL half is skipped with a message,
except under CI=true, where it fails.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import TestConfig
from app.extensions import db
from tests.support import ApiClient, Factory, IsolatedClient

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(TestConfig(instance, SQLALCHEMY_DATABASE_URI=url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request, tmp_path_factory):
    """The migrated database of this run: ("sqlite", template file) or ("postgresql", url)."""
    instance = tmp_path_factory.mktemp("migrate")
    if request.param == "sqlite":
        template = instance / "template.db"
        _migrate(f"sqlite:///{template}", instance)
        engine = sa.create_engine(f"sqlite:///{template}")
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        yield "sqlite", template
        return

    admin_engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        admin_engine.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc.orig.__class__.__name__})"
        if IN_CI:
            pytest.fail(message + "; CI=true requires it.", pytrace=False)
        pytest.skip(message + "; the PostgreSQL half of the suite is skipped. "
                    "Set TEST_POSTGRES_URL to run it.")
    name = f"fieldproof_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _migrate(url, instance)
        yield "postgresql", url
    finally:
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_engine.dispose()


@pytest.fixture
def app(request, database, tmp_path):
    """The app on an empty migrated database; `@pytest.mark.config(NAME=value)` overrides settings."""
    kind, target = database
    marker = request.node.get_closest_marker("config")
    overrides = dict(marker.kwargs) if marker else {}
    if kind == "sqlite":
        path = tmp_path / "fieldproof.db"
        shutil.copyfile(target, path)
        url = f"sqlite:///{path}"
    else:
        url = target
    application = create_app(
        TestConfig(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=url, **overrides)
    )
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        db.session.remove()
        if kind == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        db.engine.dispose()


@pytest.fixture
def factory(app) -> Factory:
    return Factory()


@pytest.fixture
def client(app) -> ApiClient:
    return ApiClient(app.test_client())


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def org(factory):
    """A small organisation: an admin, two supervisors with two engineers each, a loner."""
    admin = factory.user("admin", email="admin@example.com")
    sup_a = factory.user("supervisor", email="sup.a@example.com")
    sup_b = factory.user("supervisor", email="sup.b@example.com")
    eng_a1 = factory.user("engineer", supervisor=sup_a, email="eng.a1@example.com")
    eng_a2 = factory.user("engineer", supervisor=sup_a, email="eng.a2@example.com")
    eng_b1 = factory.user("engineer", supervisor=sup_b, email="eng.b1@example.com")
    loner = factory.user("engineer", supervisor=None, email="loner@example.com")
    db.session.commit()
    return {"admin": admin, "sup_a": sup_a, "sup_b": sup_b, "eng_a1": eng_a1,
            "eng_a2": eng_a2, "eng_b1": eng_b1, "loner": loner}
