"""A photo storage whose writes last only if the database transaction commits.

Every key is remembered in the session before its file is written (a half-written file
goes too): a commit keeps the files, a root transaction that ends any other way (rolled
back, or closed unfinished) deletes them. So a photo's row and its files exist together
or not at all, whatever fails in between.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction

from app.extensions import db
from app.storage import PhotoStorage

log = logging.getLogger(__name__)

# Session.info key: (storage, key) of the files this transaction wrote.
WRITTEN = "photos.files_written"


class TransactionalStorage:
    """`storage`, its writes tied to `session`'s transaction."""

    def __init__(self, storage: PhotoStorage, session: Any) -> None:
        self.storage, self.session = storage, session

    def reserve(self, key: str) -> str:
        """Remember a file in the session before it is written."""
        self.session.info.setdefault(WRITTEN, []).append((self.storage, key))
        return key

    def put(self, key: str, data: bytes) -> None:
        self.storage.put(self.reserve(key), data)

    def put_in_background(self, key: str, data: bytes) -> BackgroundWrite:
        """Write in a thread (while the caller decodes the pixels, say)."""
        return BackgroundWrite(self.storage, self.reserve(key), data)


class BackgroundWrite:
    """A file written in a thread while its pixels are decoded (the decoder lets go of
    the GIL): the upload waits for the longer of the two, not for both. Writing a file
    and syncing it to disk costs about a sixth of the image work for a 12-megapixel
    photo."""

    def __init__(self, storage: PhotoStorage, key: str, data: bytes) -> None:
        self.storage, self.key = storage, key
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._write, args=(data,), name="photo-original",
                                       daemon=True)
        self.thread.start()

    def _write(self, data: bytes) -> None:
        try:
            self.storage.put(self.key, data)
        except BaseException as exc:  # raised by wait(), in the request's thread
            self.error = exc

    def wait(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error

    def discard(self) -> None:
        """The upload failed: wait for the write to end, then take the file away."""
        self.thread.join()
        try:
            self.storage.delete(self.key)
        except OSError:
            log.exception("could not delete photo file %s of a refused upload", self.key)


@sa.event.listens_for(db.session, "after_commit")
def _keep_written_files(session: Session) -> None:
    if not session.in_nested_transaction():  # a released savepoint decides nothing
        session.info.pop(WRITTEN, None)


@sa.event.listens_for(db.session, "after_transaction_end")
def _delete_uncommitted_files(session: Session, transaction: SessionTransaction) -> None:
    """A root transaction that ends without a commit (after_commit took the list off):
    rolled back or closed. after_soft_rollback alone would miss a session closed with
    its transaction still open."""
    if transaction.parent is not None:
        return
    for storage, key in session.info.pop(WRITTEN, ()):
        try:
            storage.delete(key)
        except OSError:  # the rollback goes on; the orphan is left for an operator
            log.exception("could not delete photo file %s of a rolled-back upload", key)
