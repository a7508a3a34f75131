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


class Watched(QueuedWriterConnection):
    """Records its statements, and whether the process's turn was held at each."""

    def __init__(self, *args, **kwargs) -> None:
        self.seen: list[tuple[str, bool]] = []
        super().__init__(*args, **kwargs)

    def execute(self, sql, *args):
        self.seen.append((sql, WRITERS.lock.locked()))
        return super().execute(sql, *args)

    def checkpoints(self) -> list[tuple[str, bool]]:
        return [(sql, held) for sql, held in self.seen if "wal_checkpoint" in sql]


def watched(path) -> Watched:
    return sqlite3.connect(path, factory=Watched, isolation_level=None,
                           check_same_thread=False)


def test_sqlites_own_checkpoint_is_only_a_net_on_the_apps_connections(app, path):
    from app.extensions import db
    from app.sqlite_writers import AUTOCHECKPOINT_PAGES

    assert AUTOCHECKPOINT_PAGES == 10_000
    assert queued(path).execute("PRAGMA wal_autocheckpoint").fetchone() == (10_000,)
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
        assert isinstance(conn.connection.driver_connection, QueuedWriterConnection)


def test_every_nth_write_checkpoints_once_its_turn_is_given_back(path, monkeypatch):
    monkeypatch.setattr("app.sqlite_writers.CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(WRITERS, "commits", 0)
    connection = watched(path)
    size = path.stat().st_size
    for n in range(7):
        if n == 4:  # a write of its own, without the turn (a command's): counted too
            connection.execute("BEGIN")
        else:
            connection.begin_write(1)
        connection.execute("INSERT INTO t VALUES (?)", (n,))
        if n == 1:  # a write undone is not counted
            connection.rollback()
            connection.begin_write(1)
            connection.execute("INSERT INTO t VALUES (?)", (n,))
        connection.commit()
        connection.execute("BEGIN")
        connection.execute("SELECT count(*) FROM t").fetchall()
        connection.commit()  # a read: not counted
        if n < 2:
            # Until then the writes stay in the WAL: the database's file has not grown.
            assert path.stat().st_size == size
            assert connection.checkpoints() == []
    # The 3rd and the 6th, PASSIVE (never waiting), neither with the turn held; the
    # pages were then copied over.
    assert connection.checkpoints() == [("PRAGMA wal_checkpoint(PASSIVE)", False)] * 2
    assert path.stat().st_size > size
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 7
    assert WRITERS.commits == 1


def test_a_checkpoint_the_connections_own_reading_stops_is_tried_at_the_next_write(
        path, monkeypatch, caplog):
    monkeypatch.setattr("app.sqlite_writers.CHECKPOINT_EVERY", 1)
    monkeypatch.setattr(WRITERS, "commits", 0)
    connection = watched(path)
    connection.execute("INSERT INTO t VALUES (0)")  # a row to read
    connection.execute("INSERT INTO t VALUES (0)")
    reading = connection.execute("SELECT n FROM t")
    reading.fetchone()  # a statement still under way
    connection.begin_write(1)
    connection.execute("INSERT INTO t VALUES (1)")
    with caplog.at_level("WARNING", logger="app.sqlite_writers"):
        connection.commit()  # SQLite: "database table is locked"; the commit stands
    assert len(connection.checkpoints()) == 1 and WRITERS.commits >= 1
    assert "checkpoint failed" not in caplog.text and not WRITERS.lock.locked()
    reading.fetchall()
    connection.begin_write(1)
    connection.execute("INSERT INTO t VALUES (2)")
    connection.commit()
    assert len(connection.checkpoints()) == 2 and WRITERS.commits == 0
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 4


@pytest.mark.parametrize("error", [sqlite3.OperationalError("disk I/O error"),
                                   sqlite3.DatabaseError("database disk image is malformed")])
def test_a_checkpoint_that_fails_otherwise_is_logged_and_the_commit_stands(
        path, monkeypatch, caplog, error):
    class Failing(QueuedWriterConnection):
        def execute(self, sql, *args):
            if sql.startswith("PRAGMA wal_checkpoint"):
                raise error
            return super().execute(sql, *args)

    monkeypatch.setattr("app.sqlite_writers.CHECKPOINT_EVERY", 1)
    connection = sqlite3.connect(path, factory=Failing, isolation_level=None)
    connection.begin_write(1)
    connection.execute("INSERT INTO t VALUES (1)")
    with caplog.at_level("WARNING", logger="app.sqlite_writers"):
        connection.commit()
    assert not WRITERS.lock.locked()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 1
    assert f"checkpoint failed: {error}" in caplog.text
