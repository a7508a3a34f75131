"""Visits as the API shows them: each with the evidence a decision needs beside it (its
site, job, engineer, the photos' thumbnails, the engineer's recent flag history), read in
a fixed number of statements whatever the number of visits. Dumped by schemas.py."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Job, Photo, Site, User, Visit
from app.models.sql import FLAG_HISTORY_COUNTS, FLAG_HISTORY_RECENT
from app.models.types import utcnow

HISTORY_DAYS = 30
THUMB_URL = "/api/v1/photos/{id}/thumb"


class VisitView:
    """A visit with what a decision needs beside it: its site, job, engineer, the photos'
    thumbnails and the engineer's recent flag history (None in a check-in's or
    check-out's answer, which leaves them out). Reads through to the visit."""

    def __init__(self, visit: Visit, site: Site | None, job: Any, engineer: Any,
                 photos: list[dict[str, Any]] | None = None,
                 engineer_history: dict[str, Any] | None = None) -> None:
        self.visit = visit
        self.site = site
        self.job = job
        self.engineer = engineer
        self.photos = photos
        self.engineer_history = engineer_history

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "visit":
            raise AttributeError(name)
        return getattr(self.visit, name)

    @property
    def check_in(self) -> dict[str, Any]:
        v = self.visit
        return {"lat": v.in_lat, "lon": v.in_lon, "accuracy_m": v.in_accuracy_m,
                "client_time": v.in_client_time, "server_time": v.in_server_time,
                "distance_m": v.in_distance_m, "mock_location": v.in_mock, "flags": v.in_flags}

    @property
    def check_out(self) -> dict[str, Any] | None:
        v = self.visit
        if v.out_client_time is None:
            return None
        return {"lat": v.out_lat, "lon": v.out_lon, "accuracy_m": v.out_accuracy_m,
                "client_time": v.out_client_time, "server_time": v.out_server_time,
                "distance_m": v.out_distance_m, "mock_location": bool(v.out_mock),
                "flags": v.out_flags or []}


def present(visits: list[Visit]) -> list[VisitView]:
    """The visits with their evidence: six statements whatever their number."""
    if not visits:
        return []
    sites = _by_id(Site, {v.site_id for v in visits})
    jobs = {row.id: row for row in db.session.execute(
        sa.select(Job.id, Job.title, Job.status).where(Job.id.in_({v.job_id for v in visits})))}
    engineers = {row.id: row for row in db.session.execute(
        sa.select(User.id, User.name).where(User.id.in_({v.engineer_id for v in visits})))}
    photos = _photos(visits)
    history = _flag_history({v.engineer_id for v in visits})
    return [
        VisitView(
            v, sites.get(v.site_id), jobs.get(v.job_id), engineers.get(v.engineer_id),
            [p for p in photos if p["visit_id"] == v.id or p["job_id"] == v.job_id],
            history[v.engineer_id],
        )
        for v in visits
    ]


def present_one(visit: Visit) -> VisitView:
    return present([visit])[0]


def _by_id(model: type, ids: set[int]) -> dict[int, Any]:
    return {row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}


def _photos(visits: list[Visit]) -> list[dict[str, Any]]:
    """The photos tied to these visits or uploaded to their jobs (thumbnail URLs only)."""
    rows = db.session.execute(
        sa.select(Photo.id, Photo.job_id, Photo.visit_id, Photo.kind, Photo.flags, Photo.created_at)
        .where(sa.or_(Photo.visit_id.in_({v.id for v in visits}),
                      Photo.job_id.in_({v.job_id for v in visits})))
        .order_by(Photo.id)
    )
    return [_photo_item(row) for row in rows]


def _photo_item(row: Any) -> dict[str, Any]:
    return {"id": row.id, "job_id": row.job_id, "visit_id": row.visit_id, "kind": row.kind,
            "flags": row.flags or [], "created_at": row.created_at,
            "thumb_url": THUMB_URL.format(id=row.id)}


def _flag_history(engineer_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Per engineer: visits, flagged, rejected and disputed counts over the last
    HISTORY_DAYS (by check-in time), and their HISTORY_RECENT latest flagged visits."""
    since = utcnow() - timedelta(days=HISTORY_DAYS)
    history = {
        engineer_id: {"days": HISTORY_DAYS, "visits": 0, "flagged": 0, "rejected": 0,
                      "disputed": 0, "recent_flagged": []}
        for engineer_id in engineer_ids
    }
    ids = sorted(engineer_ids)
    conn = db.session.connection()
    counts = conn.execute(FLAG_HISTORY_COUNTS, {"engineer_ids": ids, "since": since})
    for engineer_id, visits, n_flagged, rejected, disputed in counts:
        history[engineer_id].update(visits=visits, flagged=int(n_flagged),
                                    rejected=int(rejected), disputed=int(disputed))
    for row in conn.execute(FLAG_HISTORY_RECENT, {"engineer_ids": ids}):
        history[row.engineer_id]["recent_flagged"].append({
            "id": row.id, "job_id": row.job_id, "status": row.status, "flags": row.flags,
            "client_time": row.in_client_time,
        })
    return history
