"""SQLite's writers of one process queue in WriterQueue (app/sqlite_writers.py): their turn
is held from BEGIN IMMEDIATE to the end of the transaction, however it ends, and a
writer of another connection is waited for, up to the busy timeout."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from app.sqlite_writers import WRITERS, QueuedWriterConnection


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "writers.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER)")
    return path


def queued(path, timeout: float = 5.0) -> QueuedWriterConnection:
    connection = sqlite3.connect(path, timeout=timeout, factory=QueuedWriterConnection,
                                 isolation_level=None, check_same_thread=False)
    assert connection.write_timeout == timeout
    return connection


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_the_turn_is_given_back_however_the_transaction_ends(path, end):
    connection = queued(path)
    connection.begin_write(1)
    assert connection.holds_write_turn and WRITERS.lock.locked()
    connection.execute("INSERT INTO t VALUES (1)")
    getattr(connection, end)()
    assert not WRITERS.lock.locked()
    # The busy timeout is back as it was set.
    if end != "close":
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (5000,)
        connection.close()
    rows = sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0]
    assert rows == (1 if end == "commit" else 0)


def test_threads_of_a_process_write_one_after_another(path):
    connections = [queued(path) for _ in range(8)]
    inside, most_inside = [0], [0]
    guard = threading.Lock()

    def write(connection):
        for _ in range(20):
            connection.begin_write(5)
            with guard:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            connection.execute("INSERT INTO t VALUES (1)")
            time.sleep(0.0005)
            with guard:
                inside[0] -= 1
            connection.commit()

    threads = [threading.Thread(target=write, args=(c,)) for c in connections]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside[0] == 1
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 160
    assert not WRITERS.lock.locked()


def test_a_writer_of_another_process_is_waited_for(path):
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # as another process would hold it
    threading.Timer(0.2, other.commit).start()
    connection = queued(path)
    started = time.monotonic()
    connection.begin_write(5)
    assert 0.15 < time.monotonic() - started < 2
    connection.execute("INSERT INTO t VALUES (1)")
    connection.commit()
    assert not WRITERS.lock.locked()


def test_a_writer_that_never_finishes_fails_the_wait_after_the_timeout(path):
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    connection = queued(path, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        connection.begin_write(connection.write_timeout)
    assert 0.25 < time.monotonic() - started < 2
    assert not connection.holds_write_turn and not WRITERS.lock.locked()
    other.rollback()


def test_no_turn_in_time_is_a_locked_database(path):
    holder = queued(path)
    holder.begin_write(1)
    waiter = queued(path)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        waiter.begin_write(0.2)
    assert not waiter.holds_write_turn
    holder.rollback()
    assert not WRITERS.lock.locked()


# --- checkpoints --------------------------------------------------------------------------


def test_sqlites_own_checkpoint_is_off_on_the_apps_connections(app, path):
    from app.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's connections")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        assert isinstance(conn.connection.driver_connection, QueuedWriterConnection)
    assert queued(path).execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)


def test_every_nth_write_checkpoints_once_its_turn_is_given_back(path, monkeypatch):
    monkeypatch.setattr("app.sqlite_writers.CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(WRITERS, "commits", 0)
    connection = queued(path)
    seen = []
    checkpoint = QueuedWriterConnection.checkpoint

    def watched(self):
        seen.append((WRITERS.lock.locked(), self.holds_write_turn, path.stat().st_size))
        checkpoint(self)

    monkeypatch.setattr(QueuedWriterConnection, "checkpoint", watched)
    size = path.stat().st_size
    for n in range(7):
        connection.begin_write(1)
        connection.execute("INSERT INTO t VALUES (?)", (n,))
        if n == 1:  # a write undone is not counted
            connection.rollback()
            connection.begin_write(1)
            connection.execute("INSERT INTO t VALUES (?)", (n,))
        connection.commit()
        connection.execute("SELECT count(*) FROM t").fetchone()  # a read: not counted
        connection.commit()
        if n < 2:
            # Until then the writes stay in the WAL: the database's file has not grown.
            assert path.stat().st_size == size
    # The 3rd and the 6th: neither with the turn held; the pages were then copied over.
    assert [(locked, held) for locked, held, _ in seen] == [(False, False)] * 2
    assert path.stat().st_size > size
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 7
    assert WRITERS.commits == 1


@pytest.mark.parametrize("error, logged", [("database is locked", False),
                                           ("disk I/O error", True)])
def test_a_checkpoint_that_fails_leaves_the_commit_standing(path, monkeypatch, caplog,
                                                            error, logged):
    class Failing(QueuedWriterConnection):
        def execute(self, sql, *args):
            if sql.startswith("PRAGMA wal_checkpoint"):
                raise sqlite3.OperationalError(error)
            return super().execute(sql, *args)

    monkeypatch.setattr("app.sqlite_writers.CHECKPOINT_EVERY", 1)
    connection = sqlite3.connect(path, factory=Failing, isolation_level=None)
    connection.begin_write(1)
    connection.execute("INSERT INTO t VALUES (1)")
    with caplog.at_level("WARNING", logger="app.sqlite_writers"):
        connection.commit()
    assert not WRITERS.lock.locked()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 1
    assert ("checkpoint failed" in caplog.text) is logged
