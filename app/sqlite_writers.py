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
        self.commits = 0  # the writes committed since the process's last checkpoint
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()
        self.commits = 0

    def committed(self) -> bool:
        """Count a transaction that wrote; whether the process's checkpoint is due. (A
        count lost to two threads at once only delays the checkpoint by one.)"""
        self.commits += 1
        return self.commits >= CHECKPOINT_EVERY

    def checkpointed(self) -> None:
        self.commits = 0


WRITERS = WriterQueue()

# A process's write transactions between two of its checkpoints of the WAL (see
# QueuedWriterConnection.commit): a check-in's commit adds about two dozen pages to it.
CHECKPOINT_EVERY = 100
# SQLite's own checkpoint, inside a COMMIT, only once the WAL holds this many pages (its
# default is a thousand): a net under the app's, for a single transaction of many pages.
AUTOCHECKPOINT_PAGES = 10_000

log = logging.getLogger(__name__)


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions hold the process's place in
    WRITERS from BEGIN IMMEDIATE until they end, however they end.

    The WAL is checkpointed by the app rather than by SQLite: SQLite runs its automatic
    checkpoint inside the COMMIT that fills the WAL past a thousand pages, with the WAL
    and the database synced to disk (milliseconds, about one check-in in forty), and
    the process's turn would be held meanwhile, every writer queued behind it. Instead
    every CHECKPOINT_EVERY-th transaction of the process that wrote (with its turn or
    not: a command's, a sign-in's last use), once committed and its turn given back,
    checkpoints what it can (PASSIVE: never waiting for a reader or a writer, which go
    on meanwhile). SQLite's own stays as a net, at AUTOCHECKPOINT_PAGES."""

    holds_write_turn = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.write_timeout = float(kwargs.get("timeout", 5.0))  # as the busy timeout
        self.execute(f"PRAGMA wal_autocheckpoint = {AUTOCHECKPOINT_PAGES}")
        self.changes_counted = self.total_changes

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
            due = self._wrote() and WRITERS.committed()
        finally:
            self._end_write()
        if due:
            self.checkpoint()

    def _wrote(self) -> bool:
        """Whether rows were written since the last transaction counted."""
        changes = self.total_changes
        if changes == self.changes_counted:
            return False
        self.changes_counted = changes
        return True

    def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the database, as far as no reader still
        needs them. A checkpoint that finds another one running, or this connection
        still reading (SQLite's "database table is locked"), is tried again at the next
        write; the commit stands whatever happens here."""
        try:
            # The row is (busy, pages in the WAL, pages copied); reading all ends the statement.
            busy = self.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0][0]
        except sqlite3.Error as exc:
            if "locked" not in str(exc):
                log.warning("SQLite checkpoint failed: %s", exc)
            return
        if not busy:
            WRITERS.checkpointed()

    def rollback(self) -> None:
        try:
            super().rollback()
            self.changes_counted = self.total_changes  # rows undone: nothing to copy
        finally:
            self._end_write()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._end_write()
