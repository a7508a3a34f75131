"""Fixtures: the app on a freshly migrated, empty database, SQLite and PostgreSQL.

Every test that uses the `app` fixture runs twice, once per database. The schema is
built by the migrations once per run and database. The tests of one worker share one app
per database (SQLite: a copy of the migrated file; PostgreSQL: the run's own database),
whose tables are emptied and ids restarted after each test; a test marked
`@pytest.mark.config(...)` gets an app of its own. Without a reachable PostgreSQL the
PostgreSQL half is skipped with a message, except under CI=true, where it fails.
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.config import TestConfig
from app.extensions import db, limiter
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


TABLES = db.metadata.sorted_tables
# One statement naming the tables that hold rows.
FIND_FILLED = " UNION ALL ".join(
    f"SELECT '{table.name}' WHERE EXISTS (SELECT 1 FROM \"{table.name}\")" for table in TABLES)


def _empty_tables(kind: str) -> None:
    """Delete every row of the app's tables and restart their ids, in one transaction;
    only the tables holding rows are touched (most tests fill a handful)."""
    with db.engine.begin() as conn:
        filled = {row[0] for row in conn.exec_driver_sql(FIND_FILLED)}
        if "users" in filled:  # users name a home site, sites name their creator
            conn.exec_driver_sql("UPDATE users SET home_site_id = NULL WHERE home_site_id IS NOT NULL")
        # Children before parents; on small tables DELETE is much cheaper than TRUNCATE.
        for table in reversed(TABLES):
            if table.name in filled:
                conn.exec_driver_sql(f'DELETE FROM "{table.name}"')
        if kind == "sqlite":
            if conn.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first():
                conn.exec_driver_sql("DELETE FROM sqlite_sequence")
        else:
            conn.exec_driver_sql(
                "SELECT setval(format('%%I.%%I', schemaname, sequencename)::regclass, 1, false) "
                "FROM pg_sequences WHERE last_value IS NOT NULL")


class SharedApp:
    """The app the tests of one worker and database share: built once (building one
    costs about 0.1 s, mostly the OpenAPI document), emptied and reset after each test."""

    def __init__(self, kind: str, target, root: Path) -> None:
        self.kind = kind
        if kind == "sqlite":
            path = root / "fieldproof.db"
            shutil.copyfile(target, path)
            target = f"sqlite:///{path}"
        self.app = create_app(TestConfig(root / "instance", SQLALCHEMY_DATABASE_URI=target))
        self.app.test_client_class = IsolatedClient
        self.config = dict(self.app.config)
        self.view_functions = dict(self.app.view_functions)
        self.rules = len(list(self.app.url_map.iter_rules()))
        # One Limiter serves every app of the process and keeps the storage of the app
        # initialised last: this app's own is put back before each of its tests.
        self.limiter_state = (limiter._storage, limiter._limiter)

    def begin(self, photo_dir: Path) -> Flask:
        limiter._storage, limiter._limiter = self.limiter_state
        limiter.reset()
        self.app.config["PHOTO_DIR"] = str(photo_dir)
        self.app.extensions.pop("photo_storage", None)
        return self.app

    def end(self) -> None:
        try:
            db.session.remove()
            _empty_tables(self.kind)
            if self.kind == "sqlite":
                db.engine.dispose()  # a restore may have put another file in its place
        finally:
            self.app.config.clear()
            self.app.config.update(self.config)
            if self.app.view_functions != self.view_functions:  # a test replaced a view
                self.app.view_functions.clear()
                self.app.view_functions.update(self.view_functions)
            self.app.extensions.pop("photo_storage", None)
        # Routes and hooks cannot be taken back: a test that adds them needs its own app.
        assert len(list(self.app.url_map.iter_rules())) == self.rules, "mark the test @pytest.mark.config()"


@pytest.fixture(scope="session")
def shared_app(database, tmp_path_factory):
    kind, target = database
    shared = SharedApp(kind, target, tmp_path_factory.mktemp(f"shared-{kind}"))
    yield shared
    with shared.app.app_context():
        db.engine.dispose()


def _check_kpi_store(request) -> None:
    """After every test, the stored KPI figures equal a full recomputation from the
    records (what `flask kpi-verify` checks), whatever the test did through the app."""
    if request.node.get_closest_marker("kpi_store_unchecked"):
        return
    from flask import current_app

    from app.services.kpi import store

    db.session.rollback()
    problems = store.verify(current_app.config["TIMEZONE"])
    db.session.rollback()
    assert not problems, "the KPI store differs from the records:\n" + "\n".join(problems)


@pytest.fixture
def app(request, database, shared_app, tmp_path):
    """The app on an empty migrated database. Tests share one app per worker and
    database; `@pytest.mark.config(NAME=value)` gives the test an app of its own with
    those settings (also for a test that adds routes)."""
    kind, target = database
    marker = request.node.get_closest_marker("config")
    if marker is None:
        application = shared_app.begin(tmp_path / "photos")
        with application.app_context():
            yield application
            try:
                _check_kpi_store(request)
            finally:
                shared_app.end()
        return
    if kind == "sqlite":
        path = tmp_path / "fieldproof.db"
        shutil.copyfile(target, path)
        target = f"sqlite:///{path}"
    application = create_app(
        TestConfig(tmp_path / "instance", SQLALCHEMY_DATABASE_URI=target, **marker.kwargs)
    )
    application.test_client_class = IsolatedClient
    with application.app_context():
        yield application
        try:
            _check_kpi_store(request)
        finally:
            db.session.remove()
        if kind == "postgresql":
            _empty_tables(kind)
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


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    """A real S3 server (SeaweedFS) on loopback for this worker's tests. Skipped with the
    reason when it cannot start here, except under CI=true, where that fails."""
    from tests.seaweedfs import Unavailable, start_seaweedfs

    try:
        server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    except Unavailable as exc:
        message = f"No S3 server for the tests: {exc}"
        if IN_CI:
            pytest.fail(message + "\nCI=true requires it.", pytrace=False)
        pytest.skip(message)
    yield server
    server.stop()


@pytest.fixture
def s3_photos(app, seaweedfs):
    """The test's app keeps its photos in a new bucket of the S3 server; the bucket's
    name is answered. (The shared app's settings are put back after the test.)"""
    bucket = seaweedfs.bucket()
    app.config.update(seaweedfs.settings(bucket))
    app.extensions.pop("photo_storage", None)
    yield bucket
    seaweedfs.drop(bucket)


@pytest.fixture(params=["local", "s3"])
def photo_backend(request, app) -> str:
    """Run the test with photos on the disk and again in an S3 bucket."""
    if request.param == "s3":
        request.getfixturevalue("s3_photos")
    return request.param
