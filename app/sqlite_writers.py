"""SQLite's writers: the pragmas of every connection, and the queue in which the
writers of one process take their turn (QueuedWriterConnection, the connection class
app/__init__.py gives SQLite; the "begin" hook in app/extensions.py starts its writes),
and the WAL's checkpoints, which they run once their turn is over."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time

import sqlalchemy as sa


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event (app/extensions.py) decide how each transaction starts.
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
        self.commits = 0  # since the process's last checkpoint
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()
        self.commits = 0

    def committed(self) -> bool:
        """Count a write transaction committed (its turn still held); whether the
        process's checkpoint is due."""
        self.commits += 1
        if self.commits < CHECKPOINT_EVERY:
            return False
        self.commits = 0
        return True


WRITERS = WriterQueue()

# A process's write transactions between two of its checkpoints of the WAL (see
# QueuedWriterConnection.commit); a check-in's commit adds about a dozen pages to it, and
# SQLite's own automatic checkpoint comes after a thousand pages.
CHECKPOINT_EVERY = 100

log = logging.getLogger(__name__)


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions hold the process's place in
    WRITERS from BEGIN IMMEDIATE until they end, however they end.

    SQLite's automatic checkpoint is off on it: SQLite runs that checkpoint inside the
    COMMIT that fills the WAL past a thousand pages, with the WAL and the database synced
    to disk (milliseconds, about one commit in seventy of a check-in), and the process's
    turn would be held meanwhile, every writer queued behind it. Instead every
    CHECKPOINT_EVERY-th write transaction of the process, once committed and its turn
    given back, checkpoints what it can (PASSIVE: never waiting for a reader or a
    writer, which go on meanwhile)."""

    holds_write_turn = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.write_timeout = float(kwargs.get("timeout", 5.0))  # as the busy timeout
        self.execute("PRAGMA wal_autocheckpoint = 0")

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
        due = False
        try:
            super().commit()
            due = self.holds_write_turn and WRITERS.committed()
        finally:
            self._end_write()
        if due:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database, as far as no reader still
        needs them; a checkpoint that finds another one running leaves it to that one."""
        try:
            self.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        except sqlite3.OperationalError as exc:  # the commit stands whatever happens here
            if "locked" not in str(exc) and "busy" not in str(exc):
                log.warning("SQLite checkpoint failed: %s", exc)

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
