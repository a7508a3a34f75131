"""The KPI store kept in every transaction: the session's hooks.

Each flush notes what it changes (app.services.kpi.store.note_flush); each commit first
brings the touched (engineer, month) rows up to date in the same transaction
(store.apply), so that no commit leaves a stored figure behind its records.
"""
from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask_sqlalchemy.session import Session

from app import settings
from app.domain.jobs import visit_after_close_max
from app.domain.verification import Thresholds
from app.services.kpi import store

def _before_flush(session, flush_context, instances) -> None:
    store.note_flush(session)


def _before_commit(session) -> None:
    session.flush()  # before_commit comes before the commit's own flush
    if not session.info.get(store.INFO_KEY):
        return
    found = settings.current()
    store.apply(session, found.timezone,
                _lookback(found["OFFLINE_MAX_AGE_S"], found["CLOCK_AHEAD_MAX_S"]))


@lru_cache(maxsize=8)
def _lookback(offline_max_age_s: float, clock_ahead_max_s: float) -> timedelta:
    """The settings' bound on how far a visit lies after its job's close, worked out once
    rather than in every commit's write."""
    return visit_after_close_max(Thresholds(offline_max_age_s=offline_max_age_s,
                                            clock_ahead_max_s=clock_ahead_max_s))


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: committed or undone
        store.forget(session)


def install() -> None:
    """Listen on every session of the app's class (once per process)."""
    if not sa.event.contains(Session, "before_flush", _before_flush):
        sa.event.listen(Session, "before_flush", _before_flush)
        sa.event.listen(Session, "before_commit", _before_commit)
        sa.event.listen(Session, "after_transaction_end", _after_transaction_end)
