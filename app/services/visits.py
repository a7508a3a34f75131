"""Visits: GPS check-in and check-out, the flags they raise, and the supervisor's decisions.

The rules (which flag, when) live in app/domain/verification.py; this module loads what
they need with a fixed handful of indexed queries, stores the result, and moves a visit
between its statuses (api.md, Visits):

    flagged ─ approve ─▶ approved ─ reject (new evidence) ─▶ rejected
    flagged, verified ─ reject ─▶ rejected ─ dispute (once) ─▶ disputed
    disputed ─ approve or reject (final) ─▶ approved or rejected

A new flag on a verified or approved visit sends it back to flagged (visit_flags.py).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.api.common import paginate
from app.domain import verification as rules
from app.domain.verification import NO_CHECKOUT, Fix, OfflineActionTooOld, PositionEvent, Thresholds
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.extensions import db, in_write_request
from app.models import Job, Photo, Site, User, Visit
from app.models.types import utcnow
from app.scope import owned_by_visible
from app.services import alerts, audit
from app.services.kpi import store as kpi_store
from app.services.visit_flags import REOPENED_BY_NEW_FLAG, raise_visit_flags

CLOSED_JOB_STATUSES = frozenset({"closed", "cancelled"})
# ?status= made only of these is the supervisor's queue, listed oldest first.
QUEUE_STATUSES = frozenset({"flagged", "disputed"})
# Which decision each status allows; a disputed visit's decision is final.
ALLOWED_DECISIONS: dict[str, frozenset[str]] = {
    "flagged": frozenset({"approve", "reject"}),
    "verified": frozenset({"reject"}),
    "approved": frozenset({"reject"}),
    "disputed": frozenset({"approve", "reject"}),
}
DECIDED_STATUS = {"approve": "approved", "reject": "rejected"}
HISTORY_DAYS = 30
HISTORY_RECENT = 5
# A coordinate lies within half a unit of the 6th decimal of its rounded value; the SQL
# window (a whole unit either side) is a little wider, and the domain decides exactly.
COORDINATE_WINDOW = 10.0 ** -rules.COORDINATE_DECIMALS
THUMB_URL = "/api/v1/photos/{id}/thumb"


def thresholds() -> Thresholds:
    return Thresholds.from_settings(current_app.config)


def visits_visible(user: User) -> sa.ColumnElement[bool]:
    """Visits within scope (app/scope.py), and always the caller's own: a supervisor who
    once checked in as an engineer still sees those visits (and may not decide them)."""
    clause = owned_by_visible(user, Visit.engineer_id)
    if user.role == "engineer":
        return clause
    return sa.or_(clause, Visit.engineer_id == user.id)


# --- check-in and check-out ------------------------------------------------------------


_jobs, _sites, _visits = Job.__table__, Site.__table__, Visit.__table__
# The statements of a check-in, built once: it is the busiest write of the day, and a
# statement made anew each time costs more to build than to run.
_CHECK_IN_JOB = (
    sa.select(_jobs.c.id, _jobs.c.title, _jobs.c.status, _jobs.c.reported_at, _jobs.c.site_id,
              _jobs.c.mode, _sites.c.name.label("site_name"), _sites.c.lat, _sites.c.lon, _sites.c.radius_m)
    .join(_sites, _sites.c.id == _jobs.c.site_id)
    .where(_jobs.c.id == sa.bindparam("job_id"), _jobs.c.engineer_id == sa.bindparam("engineer_id"))
    # Locked so that two check-ins on one job (a double tap, a replay) cannot both pass.
    .with_for_update(of=_jobs)
)
_INSERT_VISIT = sa.insert(_visits).returning(_visits.c.id)
_JOB_STARTED = (
    sa.update(_jobs).where(_jobs.c.id == sa.bindparam("job_id"), _jobs.c.status == "assigned")
    .values(status="in_progress")
)
_VISIT_JOB = sa.select(_jobs.c.id, _jobs.c.title, _jobs.c.status).where(
    _jobs.c.id == sa.bindparam("job_id"))


class CheckedIn(NamedTuple):
    """A check-in just stored: the visit's columns (with its id), and the site, job and
    engineer its answer names (VisitAnswerSchema; api/visits/schemas.checked_in_answer)."""

    visit: dict[str, Any]
    site: dict[str, Any]
    job: dict[str, Any]
    engineer: dict[str, Any]


def check_in(engineer: User, data: dict[str, Any]) -> CheckedIn:
    """Record a check-in on one of the engineer's open jobs; flags never block it.

    The busiest write of the day, so it goes through the connection in four statements
    (the job, the engineer's history and open visits, the visit, the job started) and
    leaves the ORM out: on SQLite the write lock is held all along.
    """
    now, t = utcnow(), thresholds()
    fix = _fix(data)
    engineer_id = engineer.id
    conn = db.session.connection()
    job = conn.execute(_CHECK_IN_JOB, {"job_id": data["job_id"], "engineer_id": engineer_id}).first()
    if job is None:
        raise NotFound(f"No job {data['job_id']} assigned to you.")
    if job.status in CLOSED_JOB_STATUSES:
        raise Conflict(f"Job {job.id} is {job.status}.", code="JOB_CLOSED")
    _ensure_not_too_old(fix.client_time, now, t)
    if fix.client_time < job.reported_at:
        raise Invalid("The check-in precedes the job's report.",
                      {"client_time": ["Must not be before the job's reported_at."]})
    previous, same_place, open_visits = _position_history(conn, engineer_id, fix, _CHECK_IN_HISTORY)
    if any(visit.job_id == job.id for visit in open_visits):
        raise Conflict("You already have an open visit on this job; check out first.",
                       code="VISIT_ALREADY_OPEN")
    elsewhere = [visit.visit_id for visit in open_visits if visit.site_id != job.site_id]
    flags, distance = rules.check_in_flags(
        fix, now, rules.Site(job.lat, job.lon, job.radius_m), previous, same_place,
        bool(elsewhere), t,
    )
    visit = dict(
        job_id=job.id, site_id=job.site_id, engineer_id=engineer_id,
        status="flagged" if flags else "verified", flags=list(flags),
        in_lat=fix.lat, in_lon=fix.lon, in_accuracy_m=fix.accuracy_m,
        in_client_time=fix.client_time, in_server_time=now, in_distance_m=distance,
        in_mock=fix.mock_location, in_flags=list(flags), check_in_note=data.get("note"),
        decision_final=False, created_at=now,
    )
    visit["id"] = conn.execute(_INSERT_VISIT, visit).scalar_one()
    if not flags and job.mode == "field":
        # A counted check-in can be the job's arrival: the only figure it can move.
        kpi_store.touch(db.session, engineer_id, fix.client_time, ("arrival",))
    if elsewhere:
        for other in db.session.scalars(sa.select(Visit).where(Visit.id.in_(elsewhere))):
            # Checking in elsewhere while a visit is open means it was never checked out.
            raise_visit_flags(other, [NO_CHECKOUT])
        db.session.flush()
    job_status = job.status
    if job_status == "assigned":
        conn.execute(_JOB_STARTED, {"job_id": job.id})
        job_status = "in_progress"
    if flags:
        alerts.raise_flag_pattern_alert(engineer_id, now)
    site = {"id": job.site_id, "name": job.site_name, "lat": job.lat, "lon": job.lon,
            "radius_m": job.radius_m}
    return CheckedIn(visit, site, {"id": job.id, "title": job.title, "status": job_status},
                     {"id": engineer_id, "name": engineer.name})


def check_out(engineer: User, visit_id: int, data: dict[str, Any]) -> VisitView:
    """Close the engineer's own open visit; its new flags join those it already has."""
    now, t = utcnow(), thresholds()
    fix = _fix(data)
    visit = _get_visit(engineer, visit_id, for_update=True)
    if visit.out_client_time is not None:
        raise Conflict("This visit is already checked out.", code="VISIT_CLOSED")
    _ensure_not_too_old(fix.client_time, now, t)
    if fix.client_time < visit.in_client_time:
        raise Invalid("The check-out precedes the check-in.",
                      {"client_time": ["Must not be before the check-in's client_time."]})
    site = db.session.get(Site, visit.site_id)
    previous, same_place, _ = _position_history(db.session.connection(), engineer.id, fix)
    flags, distance = rules.check_out_flags(
        fix, visit.in_client_time, now, _fence(site), previous, same_place, t,
    )
    visit.out_lat, visit.out_lon, visit.out_accuracy_m = fix.lat, fix.lon, fix.accuracy_m
    visit.out_client_time, visit.out_server_time = fix.client_time, now
    visit.out_distance_m, visit.out_mock, visit.out_flags = distance, fix.mock_location, list(flags)
    # Flags only accumulate, so a flagged visit never drifts back to verified.
    raise_visit_flags(visit, flags)
    db.session.flush()
    job = db.session.connection().execute(_VISIT_JOB, {"job_id": visit.job_id}).one()
    return VisitView(visit, site, job, {"id": engineer.id, "name": engineer.name})


def _fix(data: dict[str, Any]) -> Fix:
    return Fix(data["lat"], data["lon"], data["accuracy_m"], data["client_time"],
               bool(data.get("mock_location", False)))


def _fence(site: Site) -> rules.Site:
    return rules.Site(site.lat, site.lon, site.radius_m)


def _ensure_not_too_old(client_time: datetime, now: datetime, t: Thresholds) -> None:
    """Within the offline window behind the server's clock, and not far ahead of it."""
    try:
        rules.ensure_not_too_old(client_time, now, t)
        rules.ensure_not_far_ahead(client_time, now, t)
    except (OfflineActionTooOld, rules.ClientTimeFarAhead) as exc:
        raise Invalid(exc.detail, {"client_time": [exc.detail]}, code=exc.code) from exc


def _null(type_: Any) -> sa.ColumnElement:
    # Cast: PostgreSQL takes a bare NULL in a subquery for text, which no UNION matches.
    return sa.cast(sa.null(), type_)


_NO_VISIT = (_null(sa.Integer).label("visit_id"), _null(sa.Integer).label("job_id"),
             _null(sa.Integer).label("site_id"))


def _events(kind: str, lat: sa.ColumnElement, lon: sa.ColumnElement,
            time: sa.ColumnElement, open_visits: bool) -> sa.Select:
    columns = [sa.literal_column(f"'{kind}'").label("kind"), lat.label("lat"),
               lon.label("lon"), time.label("client_time")]
    return sa.select(*columns, *(_NO_VISIT if open_visits else ()))


def _position_history_statement(open_visits: bool) -> sa.CompoundSelect:
    """The engineer's latest check-in and latest check-out at or before `at` (each read
    from its (engineer_id, client_time) index), and their events at about (lat, lon)
    (from the (engineer_id, lat, lon) indexes): one statement, one round trip. For a
    check-in (`open_visits`), also the engineer's visits not checked out (kind "open",
    from the open-visit index), in the same round trip."""
    v = _visits.c
    engineer, at = sa.bindparam("engineer_id"), sa.bindparam("at", type_=v.in_client_time.type)
    latest = [
        _events("previous", lat, lon, time, open_visits)
        .where(v.engineer_id == engineer, time <= at)
        .order_by(time.desc()).limit(1).subquery()
        for lat, lon, time in ((v.in_lat, v.in_lon, v.in_client_time),
                               (v.out_lat, v.out_lon, v.out_client_time))
    ]
    near = [
        _events("near", lat, lon, time, open_visits).where(
            v.engineer_id == engineer,
            lat.between(sa.bindparam("lat_low"), sa.bindparam("lat_high")),
            lon.between(sa.bindparam("lon_low"), sa.bindparam("lon_high")),
        )
        for lat, lon, time in ((v.in_lat, v.in_lon, v.in_client_time),
                               (v.out_lat, v.out_lon, v.out_client_time))
    ]
    parts = [*(sa.select(sub) for sub in latest), *near]
    if open_visits:
        parts.append(sa.select(
            sa.literal_column("'open'").label("kind"), _null(v.in_lat.type), _null(v.in_lon.type),
            _null(v.in_client_time.type), v.id, v.job_id, v.site_id,
        ).where(v.engineer_id == engineer, v.out_client_time.is_(None)))
    return sa.union_all(*parts)


_POSITION_HISTORY = _position_history_statement(open_visits=False)
_CHECK_IN_HISTORY = _position_history_statement(open_visits=True)


def _position_history(conn: sa.Connection, engineer_id: int, fix: Fix,
                      statement: sa.CompoundSelect = _POSITION_HISTORY,
                      ) -> tuple[PositionEvent | None, list[PositionEvent], list[sa.Row]]:
    """For the flags of a new fix: the engineer's previous event (IMPOSSIBLE_TRAVEL) and
    their recorded events at about the same coordinates (DUPLICATE_COORDINATES; the SQL
    window is a little wider, and the domain compares to 6 decimals exactly); with
    _CHECK_IN_HISTORY also their open visits (visit_id, job_id, site_id)."""
    lat_key = round(fix.lat, rules.COORDINATE_DECIMALS)
    lon_key = round(fix.lon, rules.COORDINATE_DECIMALS)
    rows = conn.execute(statement, {
        "engineer_id": engineer_id, "at": fix.client_time,
        "lat_low": lat_key - COORDINATE_WINDOW, "lat_high": lat_key + COORDINATE_WINDOW,
        "lon_low": lon_key - COORDINATE_WINDOW, "lon_high": lon_key + COORDINATE_WINDOW,
    }).all()
    previous = rules.previous_event(
        (PositionEvent(r.lat, r.lon, r.client_time) for r in rows if r.kind == "previous"),
        fix.client_time)
    same_place = [PositionEvent(r.lat, r.lon, r.client_time) for r in rows if r.kind == "near"]
    return previous, same_place, [r for r in rows if r.kind == "open"]


# --- decisions -------------------------------------------------------------------------


def decide(supervisor: User, visit_id: int, decision: str, note: str | None) -> VisitView:
    """Approve or reject a visit (its engineer's supervisor, an admin); audited."""
    visit = _get_visit(supervisor, visit_id, for_update=True)
    if visit.engineer_id == supervisor.id:
        raise Forbidden("Nobody verifies their own visit.")
    # After the final decision on a dispute only new evidence (a new flag) reopens it.
    if visit.decision_final and visit.status != "flagged":
        raise Conflict("The decision on this dispute was final.", code="DECISION_FINAL")
    if decision not in ALLOWED_DECISIONS.get(visit.status, frozenset()):
        raise Conflict(f"A {visit.status} visit cannot be given the decision '{decision}'.")
    previous, now = visit.status, utcnow()
    visit.status = DECIDED_STATUS[decision]
    visit.decision_note = note or None
    visit.decided_by_id, visit.decided_at = supervisor.id, now
    visit.rejected_at = now if decision == "reject" else None
    if previous == "disputed":
        visit.decision_final = True
    if decision == "reject":
        db.session.flush()
        alerts.raise_flag_pattern_alert(visit.engineer_id, now)
    audit.record(supervisor.id, f"visit.{decision}", "visit", visit.id, {
        "note": note or None, "previous_status": previous, "status": visit.status,
        "flags": list(visit.flags or []), "final": visit.decision_final,
    })
    db.session.flush()
    return present([visit])[0]


def dispute(engineer: User, visit_id: int, note: str) -> VisitView:
    """The engineer contests a rejection, once; the next decision is final. Audited."""
    visit = _get_visit(engineer, visit_id, for_update=True)
    if visit.disputed_at is not None:
        raise Conflict("This visit was already disputed.", code="ALREADY_DISPUTED")
    if visit.status != "rejected":
        raise Conflict(f"Only a rejected visit may be disputed; this one is {visit.status}.")
    visit.status, visit.dispute_note, visit.disputed_at = "disputed", note, utcnow()
    audit.record(engineer.id, "visit.dispute", "visit", visit.id, {
        "note": note, "previous_status": "rejected", "flags": list(visit.flags or []),
    })
    db.session.flush()
    return present([visit])[0]


def _get_visit(user: User, visit_id: int, for_update: bool = False) -> Visit:
    query = sa.select(Visit).where(Visit.id == visit_id, visits_visible(user))
    if for_update:
        query = query.with_for_update(of=Visit)
    visit = db.session.scalar(query)
    if visit is None:
        raise NotFound(f"No visit {visit_id}.")
    return visit


# --- NO_CHECKOUT on visits left open ---------------------------------------------------


class json_array_append(FunctionElement):
    """`column` (a JSON array) with `value` appended, in SQL."""

    type = sa.JSON()
    inherit_cache = True


class json_array_contains(FunctionElement):
    """Whether `column` (a JSON array) holds the string `value`, in SQL."""

    type = sa.Boolean()
    inherit_cache = True


@compiles(json_array_append, "sqlite")
def _append_sqlite(element, compiler, **kw):
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_insert({column}, '$[#]', {value})"


@compiles(json_array_append, "postgresql")
def _append_postgresql(element, compiler, **kw):
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(CAST({column} AS JSONB) || jsonb_build_array(CAST({value} AS TEXT)) AS JSON)"


@compiles(json_array_contains, "sqlite")
def _contains_sqlite(element, compiler, **kw):
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"


@compiles(json_array_contains, "postgresql")
def _contains_postgresql(element, compiler, **kw):
    column, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST({column} AS JSONB) @> jsonb_build_array(CAST({value} AS TEXT)))"


def flag_stale_open_visits(now: datetime, where: sa.ColumnElement[bool] | None = None) -> int:
    """Raise NO_CHECKOUT on every visit still open OPEN_VISIT_ALERT_S after its check-in
    (optionally only those matching `where`); returns how many were flagged.

    One cheap indexed look first, so that a read finding nothing stale writes nothing;
    then one UPDATE for all of them, never one per visit. The UPDATE bypasses the
    session: visits already loaded in it are stale afterwards.
    """
    # The SQL form of rules.is_stale_open_visit: open for at least open_visit_alert_s.
    cutoff = now - timedelta(seconds=thresholds().open_visit_alert_s)
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
        *stale, Visit.status.in_(sorted(REOPENED_BY_NEW_FLAG))).distinct()
    update = sa.update(Visit).where(*stale).values(
        flags=json_array_append(Visit.flags, NO_CHECKOUT),
        status=sa.case((Visit.status.in_(sorted(REOPENED_BY_NEW_FLAG)), "flagged"),
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


# --- reading, with the evidence a decision needs ----------------------------------------


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


def list_visits(viewer: User, args: dict[str, Any]) -> dict[str, Any]:
    """One page of visits in scope, each with its evidence, in a fixed number of statements."""
    scope = visits_visible(viewer)
    flag_stale_open_visits(utcnow(), scope)
    query = sa.select(Visit).where(scope)
    statuses = args.get("status")
    if statuses:
        query = query.where(Visit.status.in_(statuses))
    for name in ("engineer_id", "job_id"):
        if args.get(name) is not None:
            query = query.where(getattr(Visit, name) == args[name])
    if args.get("from_") is not None:
        query = query.where(Visit.in_client_time >= args["from_"])
    if args.get("to") is not None:
        query = query.where(Visit.in_client_time < args["to"])
    if args.get("flag"):
        query = query.where(sa.or_(*(json_array_contains(Visit.flags, flag)
                                     for flag in dict.fromkeys(args["flag"]))))
    if args.get("older_than_h") is not None:
        query = query.where(Visit.in_client_time <= utcnow() - timedelta(hours=args["older_than_h"]))
    sort = args.get("sort") or ("oldest" if statuses and set(statuses) <= QUEUE_STATUSES else None)
    if sort == "most_flags":
        query = query.order_by(sa.func.json_array_length(Visit.flags).desc(),
                               Visit.in_client_time, Visit.id)
    elif sort == "oldest":
        # The verification queue: whoever waited longest is decided first.
        query = query.order_by(Visit.in_client_time, Visit.id)
    else:
        query = query.order_by(Visit.id.desc())  # newest first by creation (api.md)
    page = paginate(query, args)
    page["items"] = present(page["items"])
    return page


def get_visit(viewer: User, visit_id: int) -> VisitView:
    """One visit in scope, with its evidence."""
    flag_stale_open_visits(utcnow(), sa.and_(Visit.id == visit_id, visits_visible(viewer)))
    return present([_get_visit(viewer, visit_id)])[0]


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


def _flag_history_statements() -> tuple[sa.Select, sa.Select]:
    """Per engineer (`engineer_ids`, expanding): the counts since `since`, and the
    HISTORY_RECENT latest flagged visits. Built once."""
    v = _visits.c
    engineers = sa.bindparam("engineer_ids", expanding=True)
    flagged = sa.func.json_array_length(v.flags) > 0

    def count_when(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    counts = (
        sa.select(v.engineer_id, sa.func.count(), count_when(flagged),
                  count_when(v.status == "rejected"), count_when(v.status == "disputed"))
        .where(v.engineer_id.in_(engineers),
               v.in_client_time >= sa.bindparam("since", type_=v.in_client_time.type))
        .group_by(v.engineer_id)
    )
    rank = sa.func.row_number().over(
        partition_by=v.engineer_id, order_by=(v.in_client_time.desc(), v.id.desc())
    ).label("rank")
    latest = (
        sa.select(v.id, v.engineer_id, v.job_id, v.status, v.flags, v.in_client_time, rank)
        .where(v.engineer_id.in_(engineers), flagged)
        .subquery()
    )
    recent = (
        sa.select(latest).where(latest.c.rank <= HISTORY_RECENT)
        .order_by(latest.c.engineer_id, latest.c.rank)
    )
    return counts, recent


_HISTORY_COUNTS, _HISTORY_RECENT = _flag_history_statements()


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
    counts = conn.execute(_HISTORY_COUNTS, {"engineer_ids": ids, "since": since})
    for engineer_id, visits, n_flagged, rejected, disputed in counts:
        history[engineer_id].update(visits=visits, flagged=int(n_flagged),
                                    rejected=int(rejected), disputed=int(disputed))
    for row in conn.execute(_HISTORY_RECENT, {"engineer_ids": ids}):
        history[row.engineer_id]["recent_flagged"].append({
            "id": row.id, "job_id": row.job_id, "status": row.status, "flags": row.flags,
            "client_time": row.in_client_time,
        })
    return history
