"""Visits: GPS check-in and check-out, the flags they raise, and the supervisor's decisions.

The rules (which flag, when) live in app/domain/verification.py, and a visit's statuses
and the moves between them in app/domain/visits.py; this module loads what they need
with a fixed handful of indexed queries (their statements: app/models/sql.py) and stores
the result. How a visit is shown: app/api/visits/presenters.py.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa

from app import settings
from app.domain import verification as rules
from app.domain import visits as life
from app.domain.verification import NO_CHECKOUT, Fix, OfflineActionTooOld, PositionEvent, Thresholds
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import Site, User, Visit
from app.models.prepared import prepared
from app.models.sql import (
    CHECK_IN_COLUMNS,
    CHECK_IN_HISTORY,
    CHECK_IN_JOB,
    INSERT_VISIT,
    INSERT_VISIT_STARTING_JOB,
    JOB_STARTED,
    POSITION_HISTORY,
    VISIT_JOB,
    json_array_contains,
)
from app.models.types import utcnow
from app.scope import owned_by_visible
from app.services import alerts, audit
from app.services.auth import Caller
from app.services.kpi import store as kpi_store
from app.services.open_visits import flag_stale_open_visits
from app.services.visit_flags import raise_visit_flags

CLOSED_JOB_STATUSES = frozenset({"closed", "cancelled"})
# A coordinate lies within half a unit of the 6th decimal of its rounded value; the SQL
# window (a whole unit either side) is a little wider, and the domain decides exactly.
COORDINATE_WINDOW = 10.0 ** -rules.COORDINATE_DECIMALS


def thresholds() -> Thresholds:
    return settings.current().thresholds


def visits_visible(user: User) -> sa.ColumnElement[bool]:
    """Visits within scope (app/scope.py), and always the caller's own: a supervisor who
    once checked in as an engineer still sees those visits (and may not decide them)."""
    clause = owned_by_visible(user, Visit.engineer_id)
    if user.role == "engineer":
        return clause
    return sa.or_(clause, Visit.engineer_id == user.id)


# --- check-in and check-out ------------------------------------------------------------


class CheckedIn(NamedTuple):
    """A check-in just stored: the visit's columns (with its id), and the site, job and
    engineer its answer names (VisitAnswerSchema; api/visits/schemas.checked_in_answer)."""

    visit: dict[str, Any]
    site: dict[str, Any]
    job: dict[str, Any]
    engineer: dict[str, Any]


def before_checking_in(engineer_id: int, data: dict[str, Any]) -> None:
    """What a check-in can work out before its write transaction, on SQLite where that
    transaction holds the database's one write lock: the fix's geodesic distance to the
    job's site, which the rules then find kept (`rules.distance_m`) unless the site has
    moved meanwhile. Nothing is decided here: the check-in reads its job again, locked
    (SQLite's FOR UPDATE is the write lock itself: this read takes none)."""
    conn = db.session.connection()
    if conn.dialect.name != "sqlite":  # no lock to spare; a statement more to pay
        return
    job = prepared(CHECK_IN_JOB).first(
        conn, {"job_id": data["job_id"], "engineer_id": engineer_id})
    if job is not None:
        rules.distance_m(data["lat"], data["lon"], job.lat, job.lon)


def check_in(engineer: User | Caller, data: dict[str, Any]) -> CheckedIn:
    """Record a check-in on one of the engineer's open jobs; flags never block it.

    The busiest write of the day, so it goes through the connection in four statements
    (the job, the engineer's history and open visits, the visit, the job started; the
    last two are one on PostgreSQL) and leaves the ORM out: on SQLite the write lock is
    held all along.
    """
    now, t = utcnow(), thresholds()
    fix = _fix(data)
    engineer_id = engineer.id
    conn = db.session.connection()
    # On PostgreSQL the KPI schemes' shared lock is taken in the same statement.
    job = prepared(kpi_store.sharing_schemes(conn, CHECK_IN_JOB)).first(
        conn, {"job_id": data["job_id"], "engineer_id": engineer_id})
    if job is None:
        raise NotFound(f"No job {data['job_id']} assigned to you.")
    kpi_store.schemes_shared(conn)
    if job.status in CLOSED_JOB_STATUSES:
        raise Conflict(f"Job {job.id} is {job.status}.", code="JOB_CLOSED")
    _ensure_not_too_old(fix.client_time, now, t)
    if fix.client_time < job.reported_at:
        raise Invalid("The check-in precedes the job's report.",
                      {"client_time": ["Must not be before the job's reported_at."]})
    previous, same_place, open_visits = _position_history(conn, engineer_id, fix, CHECK_IN_HISTORY)
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
        status=life.checked_in_status(flags), flags=list(flags),
        in_lat=fix.lat, in_lon=fix.lon, in_accuracy_m=fix.accuracy_m,
        in_client_time=fix.client_time, in_server_time=now, in_distance_m=distance,
        in_mock=fix.mock_location, in_flags=list(flags), check_in_note=data.get("note"),
        decision_final=False, created_at=now,
    )
    job_status = job.status
    if job_status == "assigned" and conn.dialect.name == "postgresql":
        visit["id"] = prepared(INSERT_VISIT_STARTING_JOB).scalar(conn, {
            f"visit_{name}": visit[name] for name in CHECK_IN_COLUMNS})
        job_status = "in_progress"
    else:
        visit["id"] = prepared(INSERT_VISIT).scalar(conn, visit)
    if not flags and job.mode == "field":
        # A counted check-in can be the job's arrival: the only figure it can move.
        kpi_store.touch(db.session, engineer_id, fix.client_time, ("arrival",))
    if elsewhere:
        for other in db.session.scalars(sa.select(Visit).where(Visit.id.in_(elsewhere))):
            # Checking in elsewhere while a visit is open means it was never checked out.
            raise_visit_flags(other, [NO_CHECKOUT])
        db.session.flush()
    if job_status == "assigned":
        prepared(JOB_STARTED).run(conn, {"job_id": job.id})
        job_status = "in_progress"
    if flags:
        alerts.raise_flag_pattern_alert(engineer_id, now)
    site = {"id": job.site_id, "name": job.site_name, "lat": job.lat, "lon": job.lon,
            "radius_m": job.radius_m}
    return CheckedIn(visit, site, {"id": job.id, "title": job.title, "status": job_status},
                     {"id": engineer_id, "name": engineer.name})


class CheckedOut(NamedTuple):
    """A check-out just stored: the visit, and the site, job and engineer its answer names."""

    visit: Visit
    site: Site
    job: Any
    engineer: dict[str, Any]


def check_out(engineer: User, visit_id: int, data: dict[str, Any]) -> CheckedOut:
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
    job = db.session.connection().execute(VISIT_JOB, {"job_id": visit.job_id}).one()
    return CheckedOut(visit, site, job, {"id": engineer.id, "name": engineer.name})


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


def _position_history(conn: sa.Connection, engineer_id: int, fix: Fix,
                      statement: sa.CompoundSelect = POSITION_HISTORY,
                      ) -> tuple[PositionEvent | None, list[PositionEvent], list[sa.Row]]:
    """For the flags of a new fix: the engineer's previous event (IMPOSSIBLE_TRAVEL) and
    their recorded events at about the same coordinates (DUPLICATE_COORDINATES; the SQL
    window is a little wider, and the domain compares to 6 decimals exactly); with
    CHECK_IN_HISTORY also their open visits (visit_id, job_id, site_id)."""
    lat_key = round(fix.lat, rules.COORDINATE_DECIMALS)
    lon_key = round(fix.lon, rules.COORDINATE_DECIMALS)
    rows = prepared(statement).rows(conn, {
        "engineer_id": engineer_id, "at": fix.client_time,
        "lat_low": lat_key - COORDINATE_WINDOW, "lat_high": lat_key + COORDINATE_WINDOW,
        "lon_low": lon_key - COORDINATE_WINDOW, "lon_high": lon_key + COORDINATE_WINDOW,
    })
    previous = rules.previous_event(
        (PositionEvent(r.lat, r.lon, r.client_time) for r in rows if r.kind == "previous"),
        fix.client_time)
    same_place = [PositionEvent(r.lat, r.lon, r.client_time) for r in rows if r.kind == "near"]
    return previous, same_place, [r for r in rows if r.kind == "open"]


# --- decisions -------------------------------------------------------------------------


def decide(supervisor: User, visit_id: int, decision: str, note: str | None) -> Visit:
    """Approve or reject a visit (its engineer's supervisor, an admin); audited."""
    visit = _get_visit(supervisor, visit_id, for_update=True)
    previous, now = visit.status, utcnow()
    decided = life.decide(previous, visit.decision_final, decision,
                          visit.engineer_id == supervisor.id, now)
    visit.status = decided.status
    visit.decision_note = note or None
    visit.decided_by_id, visit.decided_at = supervisor.id, now
    visit.rejected_at = decided.rejected_at
    if decided.final and not visit.decision_final:
        visit.decision_final = True
    if decision == "reject":
        db.session.flush()
        alerts.raise_flag_pattern_alert(visit.engineer_id, now)
    audit.record(supervisor.id, f"visit.{decision}", "visit", visit.id, {
        "note": note or None, "previous_status": previous, "status": visit.status,
        "flags": list(visit.flags or []), "final": visit.decision_final,
    })
    db.session.flush()
    return visit


def dispute(engineer: User, visit_id: int, note: str) -> Visit:
    """The engineer contests a rejection, once; the next decision is final. Audited."""
    visit = _get_visit(engineer, visit_id, for_update=True)
    status = life.dispute(visit.status, visit.disputed_at is not None)
    visit.status, visit.dispute_note, visit.disputed_at = status, note, utcnow()
    audit.record(engineer.id, "visit.dispute", "visit", visit.id, {
        "note": note, "previous_status": "rejected", "flags": list(visit.flags or []),
    })
    db.session.flush()
    return visit


def _get_visit(user: User, visit_id: int, for_update: bool = False) -> Visit:
    query = sa.select(Visit).where(Visit.id == visit_id, visits_visible(user))
    if for_update:
        query = query.with_for_update(of=Visit)
    visit = db.session.scalar(query)
    if visit is None:
        raise NotFound(f"No visit {visit_id}.")
    return visit


# --- reading (the route pages and presents: app/api/visits/presenters.py) ---------------


def list_visits(viewer: User, args: dict[str, Any]) -> sa.Select:
    """The visits in scope matching the filters, in the order asked (visits left open
    flagged NO_CHECKOUT first)."""
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
    sort = args.get("sort") or ("oldest" if statuses and set(statuses) <= life.QUEUE_STATUSES else None)
    if sort == "most_flags":
        query = query.order_by(sa.func.json_array_length(Visit.flags).desc(),
                               Visit.in_client_time, Visit.id)
    elif sort == "oldest":
        # The verification queue: whoever waited longest is decided first.
        query = query.order_by(Visit.in_client_time, Visit.id)
    else:
        query = query.order_by(Visit.id.desc())  # newest first by creation (api.md)
    return query


def get_visit(viewer: User, visit_id: int) -> Visit:
    """One visit in scope (flagged NO_CHECKOUT first if it was left open)."""
    flag_stale_open_visits(utcnow(), sa.and_(Visit.id == visit_id, visits_visible(viewer)))
    return _get_visit(viewer, visit_id)
