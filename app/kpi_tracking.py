"""The KPI store kept in every transaction: the session's hooks.

Each flush notes what it changes (app.services.kpi.store.note_flush); each commit first
brings the touched (engineer, month) rows up to date in the same transaction
(store.apply), so that no commit leaves a stored figure behind its records.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.session import Session

from app import settings
from app.domain.jobs import visit_after_close_max
from app.services.kpi import store

def _before_flush(session, flush_context, instances) -> None:
    store.note_flush(session)


def _before_commit(session) -> None:
    session.flush()  # before_commit comes before the commit's own flush
    if not session.info.get(store.INFO_KEY):
        return
    found = settings.current()
    store.apply(session, found.timezone, visit_after_close_max(found.thresholds))


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or undone
        store.forget(session)


def install() -> None:
    """Listen on every session of the app's class (once per process)."""
    if not sa.event.contains(Session, "before_flush", _before_flush):
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "before_commit", _before_commit)
        sa.event.listen(Session, "after_transaction_end", _after_transaction_end)
