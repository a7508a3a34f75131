"""Assignment suggestions: the engineers a dispatcher may send to a job, in the order of
the rule in app/domain/dispatch.py, with the figures it ordered them by.

Three statements whatever the team's size: the job with its site, the engineers with
their home site and their last known position (each source read by its index, newest
row first), and their open jobs today.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app import settings
from app.domain import jobs as job_rules
from app.domain.dispatch import Candidate, suggest
from app.errors import NotFound
from app.extensions import db
from app.models import Job, Photo, Site, User, Visit
from app.models.types import utcnow
from app.scope import jobs_changeable


def _latest(time: Any, lat: Any, lon: Any, engineer: Any, where: list[Any]) -> list[sa.ScalarSelect]:
    """(time, lat, lon) of the engineer's latest row of one source, as three scalar
    subqueries on the same index (engineer, time)."""
    def of(column: Any) -> sa.ScalarSelect:
        return (sa.select(column).where(engineer == User.id, *where)
                .order_by(time.desc()).limit(1).scalar_subquery())
    return [of(time), of(lat), of(lon)]


_HOME = aliased(Site)
_SOURCES = (
    # Check-ins, check-outs, and photos whose file carried a position.
    (Visit.in_client_time, Visit.in_lat, Visit.in_lon, Visit.engineer_id, []),
    (Visit.out_client_time, Visit.out_lat, Visit.out_lon, Visit.engineer_id,
     [Visit.out_client_time.is_not(None)]),
    (Photo.created_at, Photo.gps_lat, Photo.gps_lon, Photo.uploaded_by_id,
     [Photo.gps_lat.is_not(None), Photo.gps_lon.is_not(None)]),
)


def _engineers(actor: User) -> sa.Select:
    """The active engineers the actor may dispatch to (their team; everyone for an admin),
    with their home site's position and their latest fix of each source."""
    columns = [column for source in _SOURCES for column in _latest(*source)]
    query = (
        sa.select(User.id, User.name, _HOME.lat, _HOME.lon, *columns)
        .outerjoin(_HOME, _HOME.id == User.home_site_id)
        .where(User.role == "engineer", User.active.is_(True))
    )
    if actor.role != "admin":
        query = query.where(User.supervisor_id == actor.id)
    return query


def _today() -> date:
    return utcnow().astimezone(settings.current().zone).date()


def _open_jobs_today(engineer_ids: list[int], job_id: int) -> dict[int, int]:
    """Per engineer: their other open jobs due today (scheduled for today or earlier, or
    not scheduled) — what they already carry today."""
    if not engineer_ids:
        return {}
    rows = db.session.execute(
        sa.select(Job.engineer_id, sa.func.count())
        .where(Job.engineer_id.in_(engineer_ids), Job.status.in_(sorted(job_rules.OPEN_STATUSES)),
               Job.id != job_id,
               sa.or_(Job.scheduled_for.is_(None), Job.scheduled_for <= _today()))
        .group_by(Job.engineer_id)
    )
    return dict(rows.all())


def _last_position(row: sa.Row) -> tuple[tuple[float, float] | None, Any]:
    """The latest of the three sources' fixes (and when it was taken)."""
    fixes = [row[i:i + 3] for i in range(4, 13, 3)]
    known = [(at, lat, lon) for at, lat, lon in fixes if at is not None and lat is not None]
    if not known:
        return None, None
    at, lat, lon = max(known, key=lambda fix: fix[0])
    return (lat, lon), at


def assignment_suggestions(actor: User, job_id: int) -> dict[str, Any]:
    """GET /jobs/{id}/assignment-suggestions: for a job the actor may dispatch (404
    otherwise; 409 JOB_CLOSED once closed or cancelled)."""
    found = db.session.execute(
        sa.select(Job.id, Job.status, Site.id, Site.lat, Site.lon)
        .join(Site, Site.id == Job.site_id).where(Job.id == job_id, jobs_changeable(actor))
    ).one_or_none()
    if found is None:
        raise NotFound(f"No job {job_id}.")
    job_id, status, site_id, site_lat, site_lon = found
    job_rules.ensure_open(status)
    rows = db.session.execute(_engineers(actor)).all()
    load = _open_jobs_today([row.id for row in rows], job_id)
    candidates, seen_at = [], {}
    for row in rows:
        position, seen_at[row.id] = _last_position(row)
        home = (row.lat, row.lon) if row.lat is not None else None
        candidates.append(Candidate(row.id, row.name, position, home, load.get(row.id, 0)))
    items = [
        {"engineer_id": s.engineer_id, "name": s.name, "distance_m": s.distance_m,
         "from": s.source, "position_at": seen_at[s.engineer_id] if s.source == "last_position" else None,
         "open_jobs_today": s.open_jobs_today}
        for s in suggest((site_lat, site_lon), candidates)
    ]
    return {"job_id": job_id, "site_id": site_id, "items": items}
