"""SQL helpers: the statements of the busiest reads and writes, built once (a statement
made anew each time costs more to build than to run), and the dialect's JSON array SQL.

Used by app/services/visits.py (check-in and check-out), app/services/auth.py and
app/idempotency.py (the check-in's caller read with the record of its Idempotency-Key),
app/services/open_visits.py (NO_CHECKOUT), app/api/visits/presenters.py (the engineer's
flag history) and app/services/photos.py (the candidates of a duplicate photo).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from app.imaging import BANDS, band_probes, dhash_bands
from app.models.jobs import Job
from app.models.records import IdempotencyRecord
from app.models.sites import Site
from app.models.visits import Photo, Visit

# How many of an engineer's latest flagged visits FLAG_HISTORY_RECENT reads.
HISTORY_RECENT = 5

_jobs, _sites, _visits = Job.__table__, Site.__table__, Visit.__table__
# The statements of a check-in, built once: it is the busiest write of the day, and a
# statement made anew each time costs more to build than to run.
CHECK_IN_JOB = (
    sa.select(_jobs.c.id, _jobs.c.title, _jobs.c.status, _jobs.c.reported_at, _jobs.c.site_id,
              _jobs.c.mode, _sites.c.name.label("site_name"), _sites.c.lat, _sites.c.lon,
              _sites.c.radius_m)
    .join(_sites, _sites.c.id == _jobs.c.site_id)
    .where(_jobs.c.id == sa.bindparam("job_id"), _jobs.c.engineer_id == sa.bindparam("engineer_id"))
    # Locked so that two check-ins on one job (a double tap, a replay) cannot both pass.
    .with_for_update(of=_jobs)
)
INSERT_VISIT = sa.insert(_visits).returning(_visits.c.id)
JOB_STARTED = (
    sa.update(_jobs).where(_jobs.c.id == sa.bindparam("job_id"), _jobs.c.status == "assigned")
    .values(status="in_progress")
)
# PostgreSQL: the visit inserted and its job started in one statement, one round trip
# fewer on the busiest write (SQLite runs no data-modifying WITH: JOB_STARTED after). Its
# values are all named: SQLAlchemy would give the UPDATE of jobs every parameter that
# names one of its columns (site_id, status …) as well.
CHECK_IN_COLUMNS = ("job_id", "site_id", "engineer_id", "status", "flags", "in_lat", "in_lon",
                    "in_accuracy_m", "in_client_time", "in_server_time", "in_distance_m",
                    "in_mock", "in_flags", "check_in_note", "decision_final", "created_at")
INSERT_VISIT_STARTING_JOB = (
    sa.insert(_visits)
    .values({name: sa.bindparam(f"visit_{name}", type_=_visits.c[name].type)
             for name in CHECK_IN_COLUMNS})
    .returning(_visits.c.id)
    .add_cte(sa.update(_jobs)
             .where(_jobs.c.id == sa.bindparam("visit_job_id"), _jobs.c.status == "assigned")
             .values(status="in_progress",
                     updated_at=sa.bindparam("visit_created_at", type_=_jobs.c.updated_at.type))
             .returning(_jobs.c.id)
             .cte("started"))
)
_records = IdempotencyRecord.__table__


def key_lock(user_id: Any, key: Any) -> sa.ColumnElement[int]:
    """The PostgreSQL advisory lock (a bigint) of a user's Idempotency-Key."""
    return sa.func.hashtextextended(sa.cast(user_id, sa.Text) + ":" + key, 0)


KEY_RECORD_COLUMNS = ("id", "fingerprint", "response_status", "response_body",
                      "response_headers", "created_at")


def with_key_record(query: sa.Select, user_id: sa.ColumnElement[int], dialect: str) -> sa.Select:
    """`query`, which reads one user (the caller), with the record of their Idempotency-Key
    (`:key`) joined, its columns named `key_<column>`, and on PostgreSQL the key's
    advisory lock tried (`key_locked`): sign-in and the key's look-up in one statement
    (app/idempotency.py `look_up_for` reads them)."""
    record = _records.alias("key_record")
    key = sa.bindparam("key", type_=sa.String)
    locked = (sa.func.pg_try_advisory_xact_lock(key_lock(user_id, key))
              if dialect == "postgresql" else sa.true())
    return (query.add_columns(locked.label("key_locked"),
                              *(record.c[name].label(f"key_{name}") for name in KEY_RECORD_COLUMNS))
            .outerjoin(record, sa.and_(record.c.user_id == user_id, record.c.key == key)))


VISIT_JOB = sa.select(_jobs.c.id, _jobs.c.title, _jobs.c.status).where(
    _jobs.c.id == sa.bindparam("job_id"))


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


def position_history_statement(open_visits: bool) -> sa.CompoundSelect:
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


POSITION_HISTORY = position_history_statement(open_visits=False)
CHECK_IN_HISTORY = position_history_statement(open_visits=True)


def flag_history_statements() -> tuple[sa.Select, sa.Select]:
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


FLAG_HISTORY_COUNTS, FLAG_HISTORY_RECENT = flag_history_statements()


# --- JSON arrays in SQL, per dialect ---------------------------------------------------


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


# --- Photos that may repeat an upload ---------------------------------------------------

# Beyond this radius the probe lists grow past a few thousand values; a setting that
# loose (PHOTO_DHASH_MAX_DISTANCE >= 16) scans the other jobs' photos instead.
_MAX_PROBE_RADIUS = 3


def duplicate_candidates(job_id: int, sha256: str, dhash: int, max_distance: int) -> sa.Select:
    """(sha256, dhash) of the other jobs' photos that may repeat this one: the same
    SHA-256 (its index) or a band within reach (the band indexes). Each index lookup
    is exact, so the database reads only those rows; the domain rule then decides."""
    query = sa.select(Photo.sha256, Photo.dhash).where(Photo.job_id != job_id)
    if max_distance // BANDS > _MAX_PROBE_RADIUS:
        return query
    columns = (Photo.dhash_band0, Photo.dhash_band1, Photo.dhash_band2, Photo.dhash_band3)
    return query.where(sa.or_(
        Photo.sha256 == sha256,
        *(column.in_(band_probes(band, max_distance))
          for column, band in zip(columns, dhash_bands(dhash))),
    ))
