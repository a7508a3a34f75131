"""NO_CHECKOUT on visits left open: raised on all of them in one UPDATE (the time-based
scan in app/services/alerts.py, and before visits are read in app/services/visits.py).

No alert is raised here (the scan counts flag patterns itself), so that alerts can use
this module without a cycle.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app import settings
from app.domain import visits as life
from app.domain.verification import NO_CHECKOUT
from app.extensions import db, in_write_request
from app.models import Visit
from app.models.sql import json_array_append, json_array_contains
from app.services.kpi import store as kpi_store


def flag_stale_open_visits(now: datetime, where: sa.ColumnElement[bool] | None = None) -> int:
    """Raise NO_CHECKOUT on every visit still open OPEN_VISIT_ALERT_S after its check-in
    (optionally only those matching `where`); returns how many were flagged.

    One cheap indexed look first, so that a read finding nothing stale writes nothing;
    then one UPDATE for all of them, never one per visit. The UPDATE bypasses the
    session: visits already loaded in it are stale afterwards.
    """
    # The SQL form of verification.is_stale_open_visit: open for at least open_visit_alert_s.
    cutoff = now - timedelta(seconds=settings.current().thresholds.open_visit_alert_s)
    stale = [
        Visit.out_client_time.is_(None),
        Visit.in_client_time <= cutoff,
        sa.not_(json_array_contains(Visit.flags, NO_CHECKOUT)),
    ]
    if where is not None:
        stale.append(where)
    if db.session.scalar(sa.select(Visit.id).where(*stale).limit(1)) is None:
        return 0
    # A counted visit flagged here stops counting: its job's figures move.
    reopened = sa.select(Visit.job_id).where(
        *stale, Visit.status.in_(sorted(life.REOPENED_BY_NEW_FLAG))).distinct()
    update = sa.update(Visit).where(*stale).values(
        flags=json_array_append(Visit.flags, NO_CHECKOUT),
        status=sa.case((Visit.status.in_(sorted(life.REOPENED_BY_NEW_FLAG)), life.FLAGGED),
                       else_=Visit.status),
    ).execution_options(synchronize_session=False)
    if db.session.get_bind().dialect.name == "sqlite" and not in_write_request():
        # A SQLite read cannot become a write once another request has committed since
        # it began (SQLITE_BUSY_SNAPSHOT, at once): then the update starts afresh.
        try:
            with db.session.begin_nested():
                kpi_store.touch_jobs(db.session, db.session.scalars(reopened))
                return db.session.execute(update).rowcount
        except sa.exc.OperationalError:
            db.session.rollback()
    kpi_store.touch_jobs(db.session, db.session.scalars(reopened))
    return db.session.execute(update).rowcount
