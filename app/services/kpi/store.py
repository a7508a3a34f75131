"""The KPI store: every engineer's raw figures by month, kept exact with the records.

A live card carries the engineer's organisation-wide rank, so it needs every engineer's
figures for the month; computed from the records, that is the whole organisation's
aggregates on every request. Here each (engineer, month) keeps, by family of metrics
(figures.FAMILIES), the family's record count and each metric's [value, n] exactly as the
family's SQL aggregate gives them, and a card or the board reads one row per engineer.

How a write keeps it right. Each write notes what it touched (`Touched`, kept in the
session's `info`): a job, training, case or compliance event, or directly an
(engineer, time, families). At every flush the (engineer, month) pairs a touched record
counted in *before* the change are read from the database; at commit, those it counts in
*after*. Then, in the same transaction, the rows of all those pairs are locked (in key
order, so that two writers never deadlock), their families recomputed from the records
and written back (`apply`). A figure is never added to or subtracted from: it is always
the aggregate of the records as the writing transaction sees them, after it holds the
row, so concurrent writers to one engineer's month take turns and the second one counts
the first one's records (PostgreSQL's read-committed statements each see what was
committed before them; SQLite has one writer at a time). A job is the unit of the eight
job families because a visit, a decision, a feedback, a complaint or a repeat job can
move a figure of the job's month (the first counted visit, the visits counted for
first-time fix, the repeat-repair link) — and a later job can change an earlier job's
month.

The busy writes say precisely what they touch and skip the job's history: a check-in
that is not flagged adds its arrival (`touch`), and a check-out that flags nothing anew
adds its service time. Writes made with SQL rather than the ORM name their jobs
(`touch_jobs`). `rebuild` computes every row from the records (the seed, an upgraded
database, a new time zone); `verify` compares the rows with a full recomputation.

Flask-free: the caller passes the organisation's time zone.
"""
from __future__ import annotations

import json
import random
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.domain.kpi import DIMENSIONS, RawFigure, Scheme, compute_card, round_half_up
from app.extensions import db
from app.models import (
    Complaint,
    ComplianceEvent,
    Feedback,
    Job,
    KnowledgeItem,
    KpiFigures,
    KpiMonthVersions,
    KpiPeriod,
    KpiScheme,
    KpiStoreState,
    Training,
    TrainingAttendee,
    User,
    Visit,
)
from app.models.performance import VERSION_SHARDS
from app.models.prepared import prepared
from app.services.kpi import periods
from app.services.kpi.figures import (
    FAMILY_BY_NAME,
    EngineerFigures,
    Figures,
    family_figures,
    raw_figures,
)
from app.services.kpi.periods import Period
from app.services.kpi.schemes import (
    scheme_from_row,
    scheme_key_of,
    scheme_key_sql,
    schemes_in_force,
)

INFO_KEY = "kpi_touched"
WROTE_KEY = "kpi_wrote"  # the transaction has written rows not yet committed
JOB_FAMILIES = ("contact", "dispatch", "arrival", "service", "closed", "feedback",
                "complaints", "rejected")
Key = tuple[int, str]  # (engineer id, period key)
Payload = dict[str, Any]  # one family: {"r": records, "m": {metric: [value, n]}}

# The columns whose change can move a figure; any other change to a record is ignored.
JOB_COLUMNS = frozenset({"engineer_id", "status", "first_contact_at", "assigned_at",
                         "reported_at", "closed_at", "fixed", "mode", "checklist_complete",
                         "repeat_of_id"})
VISIT_COLUMNS = frozenset({"status", "engineer_id", "job_id", "in_client_time",
                           "out_client_time", "rejected_at"})
FEEDBACK_COLUMNS = frozenset({"job_id", "score", "submitted_at"})
COMPLAINT_COLUMNS = frozenset({"job_id", "received_at"})
TRAINING_COLUMNS = frozenset({"held_at", "attendees"})
ATTENDEE_COLUMNS = frozenset({"training_id", "user_id"})
CASE_COLUMNS = frozenset({"author_id", "status", "reviewed_at", "quality", "kind"})
EVENT_COLUMNS = frozenset({"engineer_id", "occurred_at", "kind"})
USER_COLUMNS = frozenset({"level", "work_type", "role"})
# What a board shows of a person, or who sees them on it (besides their scores).
ROSTER_COLUMNS = USER_COLUMNS | {"name", "active", "supervisor_id"}


@dataclass
class Touched:
    """What a transaction's writes may have changed, until it commits.

    `times` are (engineer id, time, families) pairs not yet put in months (the time zone
    is known at commit); `jobs` … `events` the records to read the pairs of again at
    commit; `pending` new objects whose ids the flush gives."""

    times: set[tuple[int, datetime, tuple[str, ...]]] = field(default_factory=set)
    jobs: set[int] = field(default_factory=set)
    trainings: set[int] = field(default_factory=set)
    cases: set[int] = field(default_factory=set)
    events: set[int] = field(default_factory=set)
    pending: list[Any] = field(default_factory=list)
    rescore_engineers: set[int] = field(default_factory=set)
    rescore_schemes: set[str] = field(default_factory=set)
    roster: bool = False  # who is on a board, or how they are shown, may have changed

    def __bool__(self) -> bool:
        return bool(self.times or self.jobs or self.trainings or self.cases or self.events
                    or self.pending or self.rescore_engineers or self.rescore_schemes
                    or self.roster)


def touched(session: Session) -> Touched:
    found = session.info.get(INFO_KEY)
    if found is None:
        found = session.info[INFO_KEY] = Touched()
    return found


def forget(session: Session) -> None:
    session.info.pop(INFO_KEY, None)
    session.info.pop(WROTE_KEY, None)


def wrote(session: Session) -> bool:
    """Whether this transaction has written rows or the state that it has not committed
    (what it reads then is its own view, not what others see)."""
    return bool(session.info.get(WROTE_KEY))


# --- What a write touched ----------------------------------------------------------------


def touch(session: Session, engineer_id: int | None, at: datetime | None,
          families: tuple[str, ...]) -> None:
    """The families of the engineer's month that `at` falls in may have changed."""
    if engineer_id is not None and at is not None:
        touched(session).times.add((engineer_id, at, families))


def touch_jobs(session: Session, job_ids: Iterable[int]) -> None:
    """Jobs changed with SQL rather than the ORM: read where they count now (before the
    change), and again at commit."""
    ids = set(job_ids)
    if ids:
        found = touched(session)
        found.times |= _job_times(session.connection(), ids)
        found.jobs |= ids


def _changed(obj: Any, columns: frozenset[str]) -> set[str]:
    state = sa.inspect(obj)
    return {name for name in columns if state.attrs[name].history.has_changes()}


def note_flush(session: Session) -> None:
    """Before a flush: note the records it will change, with where they counted so far."""
    found = touched(session)
    jobs: set[int] = set()
    trainings: set[int] = set()
    cases: set[int] = set()
    events: set[int] = set()
    for obj in session.new:
        if isinstance(obj, (Job, Visit, Feedback, Complaint, Training, TrainingAttendee,
                            KnowledgeItem, ComplianceEvent)):
            found.pending.append(obj)
        elif isinstance(obj, KpiScheme):
            found.rescore_schemes.add(obj.key)
        elif isinstance(obj, (User, KpiPeriod)):
            found.roster = True
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, KpiScheme):
            found.rescore_schemes.add(obj.key)
        elif isinstance(obj, User) and obj.id is not None:
            if _changed(obj, USER_COLUMNS):
                found.rescore_engineers.add(obj.id)
            if obj in session.deleted or _changed(obj, ROSTER_COLUMNS):
                found.roster = True
        elif isinstance(obj, KpiPeriod):
            found.roster = True
    for obj, deleted in [(o, False) for o in session.dirty] + [(o, True) for o in session.deleted]:
        if isinstance(obj, Job):
            if deleted or _changed(obj, JOB_COLUMNS):
                jobs.add(obj.id)
        elif isinstance(obj, Visit):
            changed = set() if deleted else _changed(obj, VISIT_COLUMNS)
            if changed == {"out_client_time"}:
                # A check-out that leaves the status as it was: its service time only.
                before = sa.inspect(obj).attrs.out_client_time.history.deleted
                for at in [obj.out_client_time, *before]:
                    touch(session, obj.engineer_id, at, ("service",))
            elif deleted or changed:
                jobs.add(obj.job_id)
                jobs.update(sa.inspect(obj).attrs.job_id.history.deleted or ())
        elif isinstance(obj, (Feedback, Complaint)):
            columns = FEEDBACK_COLUMNS if isinstance(obj, Feedback) else COMPLAINT_COLUMNS
            if deleted or _changed(obj, columns):
                jobs.add(obj.job_id)
                jobs.update(sa.inspect(obj).attrs.job_id.history.deleted or ())
        elif isinstance(obj, Training):
            if deleted or _changed(obj, TRAINING_COLUMNS):
                trainings.add(obj.id)
        elif isinstance(obj, TrainingAttendee):
            if deleted or _changed(obj, ATTENDEE_COLUMNS):
                # The training's attendees as the database holds them before this flush
                # (this one among them) are read below.
                trainings.add(obj.training_id)
        elif isinstance(obj, KnowledgeItem):
            if deleted or _changed(obj, CASE_COLUMNS):
                cases.add(obj.id)
        elif isinstance(obj, ComplianceEvent):
            if deleted or _changed(obj, EVENT_COLUMNS):
                events.add(obj.id)
    conn = session.connection() if (jobs or trainings or cases or events) else None
    jobs.discard(None)
    if jobs:
        found.times |= _job_times(conn, jobs)
        found.jobs |= jobs
    if trainings:
        found.times |= _training_times(conn, trainings)
        found.trainings |= trainings
    if cases:
        found.times |= _case_times(conn, cases)
        found.cases |= cases
    if events:
        found.times |= _event_times(conn, events)
        found.events |= events


# --- Where records count: (engineer, time, families) --------------------------------------

_CHUNK = 500


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(ids)
    for i in range(0, len(ordered), _CHUNK):
        yield ordered[i:i + _CHUNK]


def _job_times(conn: sa.Connection, job_ids: set[int]) -> set[tuple[int, datetime, tuple[str, ...]]]:
    """Every (engineer, time) a figure of these jobs is filed under: the job's engineer
    at each of its times and its visits', feedback's and complaints' times; each visit's
    engineer at its check-out and rejection; and the engineer of the job each repeats at
    that job's close (its repeat-repair rate)."""
    result: set[tuple[int, datetime, tuple[str, ...]]] = set()
    for ids in _chunks(job_ids):
        jobs = conn.execute(sa.select(Job.id, Job.engineer_id, Job.first_contact_at,
                                      Job.assigned_at, Job.closed_at, Job.repeat_of_id)
                            .where(Job.id.in_(ids))).all()
        engineer = {row.id: row.engineer_id for row in jobs}
        repeats = {row.repeat_of_id for row in jobs if row.repeat_of_id is not None}
        times: list[tuple[int | None, datetime | None]] = []
        for row in jobs:
            times += [(row.engineer_id, row.first_contact_at), (row.engineer_id, row.assigned_at),
                      (row.engineer_id, row.closed_at)]
        for row in conn.execute(sa.select(Visit.job_id, Visit.engineer_id, Visit.in_client_time,
                                          Visit.out_client_time, Visit.rejected_at)
                                .where(Visit.job_id.in_(ids))):
            times += [(engineer.get(row.job_id), row.in_client_time),
                      (row.engineer_id, row.out_client_time), (row.engineer_id, row.rejected_at)]
        for row in conn.execute(sa.select(Feedback.job_id, Feedback.submitted_at)
                                .where(Feedback.job_id.in_(ids))):
            times.append((engineer.get(row.job_id), row.submitted_at))
        for row in conn.execute(sa.select(Complaint.job_id, Complaint.received_at)
                                .where(Complaint.job_id.in_(ids))):
            times.append((engineer.get(row.job_id), row.received_at))
        if repeats:
            for row in conn.execute(sa.select(Job.engineer_id, Job.closed_at)
                                    .where(Job.id.in_(sorted(repeats)))):
                times.append((row.engineer_id, row.closed_at))
        result |= {(e, at, JOB_FAMILIES) for e, at in times if e is not None and at is not None}
    return result


def _training_times(conn: sa.Connection, training_ids: set[int]) -> set[tuple[int, datetime, tuple[str, ...]]]:
    rows = conn.execute(
        sa.select(TrainingAttendee.user_id, Training.held_at)
        .join(Training, Training.id == TrainingAttendee.training_id)
        .where(Training.id.in_(sorted(training_ids))))
    return {(user_id, at, ("trainings",)) for user_id, at in rows}


def _case_times(conn: sa.Connection, case_ids: set[int]) -> set[tuple[int, datetime, tuple[str, ...]]]:
    rows = conn.execute(sa.select(KnowledgeItem.author_id, KnowledgeItem.reviewed_at)
                        .where(KnowledgeItem.id.in_(sorted(case_ids)),
                               KnowledgeItem.reviewed_at.is_not(None)))
    return {(author, at, ("knowledge",)) for author, at in rows}


def _event_times(conn: sa.Connection, event_ids: set[int]) -> set[tuple[int, datetime, tuple[str, ...]]]:
    rows = conn.execute(sa.select(ComplianceEvent.engineer_id, ComplianceEvent.occurred_at)
                        .where(ComplianceEvent.id.in_(sorted(event_ids))))
    return {(engineer, at, ("compliance",)) for engineer, at in rows}


# --- Months -------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def month_key(at: datetime, timezone: str) -> str:
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(_zone(timezone))
    return f"{local.year:04d}-{local.month:02d}"


@lru_cache(maxsize=512)
def _period(key: str, timezone: str) -> Period:
    return periods.month(int(key[:4]), int(key[5:]), timezone)


# --- At commit: lock, recompute, write ---------------------------------------------------


def apply(session: Session, timezone: str, lookback: timedelta | None = None) -> int:
    """Bring the rows of everything touched since the last commit up to date, in this
    transaction; returns how many (engineer, month) rows were written. `lookback`: the
    settings' bound on how far a job's visit lies after its close
    (app.domain.jobs.visit_after_close_max); without it the arrivals read every job of
    their engineers."""
    found = session.info.pop(INFO_KEY, None)
    if not found:
        return 0
    session.info[WROTE_KEY] = True
    conn = session.connection()
    for obj in found.pending:
        if isinstance(obj, Job):
            found.jobs.add(obj.id)
        elif isinstance(obj, (Visit, Feedback, Complaint)):
            found.jobs.add(obj.job_id)
        elif isinstance(obj, Training):
            found.trainings.add(obj.id)
        elif isinstance(obj, TrainingAttendee):
            found.trainings.add(obj.training_id)
        elif isinstance(obj, KnowledgeItem):
            found.cases.add(obj.id)
        elif isinstance(obj, ComplianceEvent):
            found.events.add(obj.id)
    if found.roster or found.rescore_engineers or found.rescore_schemes:
        bump_state(conn, timezone)
    if found.rescore_engineers or found.rescore_schemes:
        _rescore(conn, found.rescore_engineers, found.rescore_schemes)
    times = set(found.times)
    found.jobs.discard(None)
    if found.jobs:
        times |= _job_times(conn, found.jobs)
    if found.trainings:
        times |= _training_times(conn, found.trainings)
    if found.cases:
        times |= _case_times(conn, found.cases)
    if found.events:
        times |= _event_times(conn, found.events)
    wanted: dict[Key, set[str]] = defaultdict(set)
    for engineer_id, at, families in times:
        wanted[(engineer_id, month_key(at, timezone))].update(families)
    if not wanted:
        return 0
    keys = sorted(wanted)
    _share_schemes(conn)
    stored, schemes = _lock(conn, keys)
    if lookback is not None and any("arrival" in names for names in wanted.values()):
        lookback = arrivals_lookback(conn, lookback, timezone)
    fresh = _recompute(wanted, timezone, lookback)
    rows = []
    for key in keys:
        figures = {name: payload for name, payload in stored.get(key, {}).items()
                   if name not in wanted[key]}
        figures.update(fresh.get(key, {}))
        rows.append({"period": key[1], "engineer_id": key[0], "figures": figures})
    _score(conn, rows, schemes)
    _write(conn, rows, set(stored))
    claim_state(conn, timezone)
    return len(rows)


# --- Scores kept with the figures ----------------------------------------------------------

# A scheme or an engineer's level changing rescores the rows; a writer scores its rows with
# the schemes it reads after this lock, so that neither can score with what the other is
# replacing (PostgreSQL; SQLite has one writer at a time).
_SCHEMES_LOCK = 0x4B5049  # "KPI"


_SHARED_IN = "kpi_schemes_shared_in"  # conn.info: the transaction that took it


def _share_schemes(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql" and conn.info.get(_SHARED_IN) is not conn.get_transaction():
        conn.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _SCHEMES_LOCK})


@lru_cache(maxsize=8)
def _sharing(query: sa.Select) -> sa.Select:
    return query.add_columns(sa.func.pg_advisory_xact_lock_shared(_SCHEMES_LOCK).label("kpi_schemes"))


def sharing_schemes(conn: sa.Connection, query: sa.Select) -> sa.Select:
    """`query`, on PostgreSQL taking the schemes' shared lock as well, for a write that
    will come to `apply` in this transaction: one statement fewer there. Call
    `schemes_shared` once it has run and returned a row."""
    return _sharing(query) if conn.dialect.name == "postgresql" else query


def schemes_shared(conn: sa.Connection) -> None:
    """This transaction holds the schemes' shared lock (taken by a `sharing_schemes` query)."""
    if conn.dialect.name == "postgresql":
        conn.info[_SHARED_IN] = conn.get_transaction()


def _hold_schemes(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMES_LOCK})


def score_columns(scheme: Scheme, figures: dict[str, Payload]) -> dict[str, Any]:
    """The stored score columns of a month's figures under a scheme."""
    found = engineer_figures(figures)
    scores = compute_card(scheme, found.raw, found.active, rows=False)
    return {"scheme_key": scheme.key, "active": found.active, "total_score": scores.total,
            "meets_target": scores.meets_target,
            **{d: scores.dimensions.get(d) for d in DIMENSIONS}}


def _schemes_of(conn: sa.Connection, engineer_ids: Iterable[int]) -> dict[int, Scheme]:
    """Each engineer's scheme now: their level and work type read in this transaction,
    after the schemes' shared lock (`_share_schemes`), never as sign-in loaded them
    before it, so that a change of level committed meanwhile, whose rescoring this
    write's row must not undo, is the one scored with."""
    schemes = schemes_in_force()
    rows = conn.execute(_SCHEME_KEYS_OF, {"ids": sorted(set(engineer_ids))})
    return {row.id: schemes[scheme_key_of(row)] for row in rows}


_TABLE = KpiFigures.__table__
_USERS = User.__table__
_SCHEME_KEYS_OF = sa.select(_USERS.c.id, _USERS.c.level, _USERS.c.work_type).where(
    _USERS.c.id.in_(sa.bindparam("ids", expanding=True)))


def _score(conn: sa.Connection, rows: list[dict[str, Any]],
           known: dict[int, Scheme] | None = None) -> None:
    """Score the rows with each engineer's scheme (`known`: read already, by `_lock`)."""
    schemes = dict(known or {})
    missing = {r["engineer_id"] for r in rows} - set(schemes)
    if missing:
        schemes.update(_schemes_of(conn, missing))
    for row in rows:
        row.update(score_columns(schemes[row["engineer_id"]], row["figures"]))


def _rescore(conn: sa.Connection, engineer_ids: set[int], scheme_keys: set[str]) -> None:
    """Score again the open months of these engineers and of the engineers judged by
    these schemes (after a change of scheme, level or work type)."""
    _hold_schemes(conn)
    closed = sa.select(KpiPeriod.period)
    which = []
    if engineer_ids:
        which.append(_TABLE.c.engineer_id.in_(sorted(engineer_ids)))
    if scheme_keys:
        which.append(_TABLE.c.scheme_key.in_(sorted(scheme_keys)))
        # And every engineer now judged by such a scheme, whatever their rows were scored
        # under.
        which.append(_TABLE.c.engineer_id.in_(_engineers_of(scheme_keys)))
    query = (_FIGURES_OF.where(sa.or_(*which), _TABLE.c.period.not_in(closed))
             .order_by(_TABLE.c.period, _TABLE.c.engineer_id))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    rows = [{"engineer_id": e, "period": p, "figures": _loaded(f)} for e, p, f in conn.execute(query)]
    if rows:
        _score(conn, rows)
        _write(conn, rows, {(r["engineer_id"], r["period"]) for r in rows})


def _engineers_of(scheme_keys: set[str]) -> sa.Select:
    query = sa.select(User.id).where(User.role == "engineer")
    conditions = []
    for key in scheme_keys:
        level, _, work_type = key.partition("-")
        level_is = (sa.or_(User.level == level, User.level.is_(None)) if level == "mid"
                    else User.level == level)
        type_is = (sa.or_(User.work_type == work_type, User.work_type.is_(None))
                   if work_type == "field" else User.work_type == work_type)
        conditions.append(sa.and_(level_is, type_is))
    return query.where(sa.or_(*conditions))


_FIGURES_OF = sa.select(_TABLE.c.engineer_id, _TABLE.c.period, _TABLE.c.figures)


def _key_in(keys: Sequence[Key]) -> sa.ColumnElement[bool]:
    return sa.tuple_(_TABLE.c.engineer_id, _TABLE.c.period).in_(list(keys))


def _lock(conn: sa.Connection,
          keys: list[Key]) -> tuple[dict[Key, dict[str, Payload]], dict[int, Scheme]]:
    """The rows of these keys as stored, locked for this transaction on PostgreSQL (a row
    not there yet is made first, so that a concurrent writer waits for it too): there one
    INSERT … ON CONFLICT DO UPDATE that leaves a row as it is and returns it, locked, in
    the order of _rescore's lock (month, then engineer), so that two writers never
    deadlock. With them, in the same statement, the scheme of each engineer they return
    (see `_schemes_of`); on SQLite a single month is read from its engineer, so that the
    scheme comes back even when the row is not there yet."""
    if conn.dialect.name == "postgresql":
        made = [{"engineer_id": e, "period": p, "figures": {}, "active": False,
                 "meets_target": False} for e, p in sorted(keys, key=lambda key: (key[1], key[0]))]
        # One month (a check-in's): one row's statement, run as prepared.
        rows = prepared(_LOCK_ROWS).rows(conn, made[0]) if len(made) == 1 else conn.execute(
            _LOCK_ROWS, made)
    elif len(keys) == 1:  # a check-in's or a check-out's month: no IN list to expand
        rows = prepared(_MONTH_OF_ONE).rows(
            conn, {"engineer_id": keys[0][0], "period": keys[0][1]})
    else:
        rows = conn.execute(_FIGURES_WITH_SCHEMES.where(_key_in(keys)))
    stored, schemes = {}, {}
    for row in rows:
        if row.period is not None:
            stored[(row.engineer_id, row.period)] = _loaded(row.figures)
        if row.scheme is not None:
            schemes[row.engineer_id] = scheme_from_row(row.scheme, row.pass_score, row.metrics)
    return stored, schemes


_SCHEMES = KpiScheme.__table__


def _scheme_columns(engineer_id: sa.ColumnElement[int]) -> list[sa.Label]:
    """The engineer's scheme key and their scheme's stored columns (None without a stored
    row), as subqueries of a statement that names the engineer."""
    user = _USERS.alias("scheme_user")
    key = (sa.select(scheme_key_sql(user)).where(user.c.id == engineer_id)
           .correlate_except(user).scalar_subquery())
    return [key.label("scheme"),
            *(sa.select(column).where(_SCHEMES.c.key == key).scalar_subquery().label(column.name)
              for column in (_SCHEMES.c.pass_score, _SCHEMES.c.metrics))]


def _lock_rows() -> sa.Insert:
    from sqlalchemy.dialects.postgresql import insert

    return (insert(_TABLE)
            .on_conflict_do_update(index_elements=[_TABLE.c.period, _TABLE.c.engineer_id],
                                   set_={"figures": _TABLE.c.figures})
            .returning(_TABLE.c.engineer_id, _TABLE.c.period, _TABLE.c.figures,
                       # The row named as the statement's target: SQLAlchemy correlates
                       # subqueries with a SELECT's FROM, not with an INSERT's table.
                       *_scheme_columns(sa.literal_column(f"{_TABLE.name}.engineer_id"))))


_LOCK_ROWS = _lock_rows()
_FIGURES_WITH_SCHEMES = sa.select(_TABLE.c.engineer_id, _TABLE.c.period, _TABLE.c.figures,
                                  *_scheme_columns(_TABLE.c.engineer_id))
_MONTH_OF_ONE = (
    sa.select(_USERS.c.id.label("engineer_id"), _TABLE.c.period, _TABLE.c.figures,
              *_scheme_columns(_USERS.c.id))
    .select_from(_USERS.outerjoin(_TABLE, sa.and_(_TABLE.c.engineer_id == _USERS.c.id,
                                                  _TABLE.c.period == sa.bindparam("period"))))
    .where(_USERS.c.id == sa.bindparam("engineer_id"))
)


def _loaded(value: Any) -> dict[str, Payload]:
    if isinstance(value, str):  # a driver that hands JSON back as text
        value = json.loads(value)
    return value or {}


_SCORE_COLUMNS = ("scheme_key", "active", "total_score", "meets_target", *DIMENSIONS)


def version_step() -> int:
    """How much a version grows with a write: at least 1, so that a row's version only
    grows (the sum of a month's versions moves with every committed write), and random,
    so that two databases' histories do not add up to the same sums."""
    return random.randint(1, 2**20)


def _write(conn: sa.Connection, rows: list[dict[str, Any]], existing: set[Key]) -> None:
    # In the order of the shards of kpi_month_versions that the database's trigger moves
    # with each row (on PostgreSQL each stays locked until the commit): two writers then
    # never wait for each other's shards in opposite orders.
    rows = sorted(rows, key=lambda r: (r["period"], r["engineer_id"] % VERSION_SHARDS,
                                       r["engineer_id"]))
    updates = [r for r in rows if (r["engineer_id"], r["period"]) in existing]
    inserts = [r for r in rows if (r["engineer_id"], r["period"]) not in existing]
    if updates:
        prepared(_UPDATE_ROW).run(conn, [
            {"b_engineer": r["engineer_id"], "b_period": r["period"], "b_figures": r["figures"],
             "b_step": version_step(), **{f"b_{c}": r[c] for c in _SCORE_COLUMNS}}
            for r in updates])
    if inserts:
        prepared(_INSERT_ROW).run(conn, [{**r, "version": version_step()} for r in inserts])


# Built once: a check-in writes its month through them.
_UPDATE_ROW = (sa.update(_TABLE)
               .where(_TABLE.c.engineer_id == sa.bindparam("b_engineer"),
                      _TABLE.c.period == sa.bindparam("b_period"))
               .values(figures=sa.bindparam("b_figures"),
                       version=_TABLE.c.version + sa.bindparam("b_step"),
                       **{c: sa.bindparam(f"b_{c}") for c in _SCORE_COLUMNS}))
_INSERT_ROW = sa.insert(_TABLE)


def _payload(records: int, raw: dict[str, RawFigure]) -> Payload:
    return {"r": records, "m": {metric: [f.value, f.n] for metric, f in raw.items()}}


def _recompute(wanted: dict[Key, set[str]], timezone: str,
               lookback: timedelta | None = None) -> dict[Key, dict[str, Payload]]:
    """The families wanted of each key, from the records: per month, one statement per
    family for all the engineers that want it."""
    by_month: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for (engineer_id, period_key), families in wanted.items():
        for name in families:
            by_month[period_key][name].add(engineer_id)
    result: dict[Key, dict[str, Payload]] = defaultdict(dict)
    for period_key, families in by_month.items():
        period = _period(period_key, timezone)
        # Engineers wanting the same families share each statement.
        groups: dict[frozenset[int], list[str]] = defaultdict(list)
        for name, engineers in families.items():
            groups[frozenset(engineers)].append(name)
        for engineers, names in groups.items():
            chosen = [FAMILY_BY_NAME[n] for n in sorted(names)]
            for engineer_id, key, name, records, raw in family_figures(
                    [period], engineers, chosen, lookback):
                result[(engineer_id, key)][name] = _payload(records, raw)
    return result


# --- Reading ------------------------------------------------------------------------------


def _settle(timezone: str) -> None:
    """Bring the rows this transaction's own writes touched up to date before reading:
    its reads count its records too."""
    if db.session.info.get(INFO_KEY):
        db.session.flush()
        apply(db.session, timezone)


def settled_unwritten(timezone: str) -> bool:
    """After settling this transaction's own writes: whether it has written none (what
    it reads is then what every other transaction can read once committed)."""
    if db.session.new or db.session.dirty or db.session.deleted:
        db.session.flush()
    _settle(timezone)
    return not wrote(db.session)


def readable(timezone: str) -> bool:
    """Whether the rows may be read for figures in `timezone` (see KpiStoreState)."""
    state = db.session.connection().execute(
        sa.select(KpiStoreState.timezone, KpiStoreState.ready).where(KpiStoreState.id == 1)
    ).first()
    return state is None or readable_state(state.timezone, state.ready, timezone)


def readable_state(stored_timezone: str | None, ready: bool | None, timezone: str) -> bool:
    """`readable` from a state already read (both None: there is no state row)."""
    if stored_timezone is None and ready is None:
        return True
    return bool(ready) and stored_timezone == timezone


def engineer_figures(figures: dict[str, Payload]) -> EngineerFigures:
    """A stored row as raw_figures gives it."""
    found = EngineerFigures()
    for name, payload in figures.items():
        if payload["r"] and FAMILY_BY_NAME[name].activity:
            found.active = True
        for metric, (value, n) in payload["m"].items():
            found.raw[metric] = RawFigure(value, n)
    return found


def figures(months: Sequence[Period], timezone: str,
            engineer_ids: Iterable[int] | None = None, known_readable: bool = False) -> Figures:
    """Raw figures by (engineer id, period key) as raw_figures gives them, read from the
    store (one statement), or from the records while the store is not readable
    (`known_readable`: the caller has just read that it is, in this transaction)."""
    months = list(months)
    ids = None if engineer_ids is None else sorted(set(engineer_ids))
    if not months or ids == []:
        return {}
    _settle(timezone)
    if not known_readable and not readable(timezone):
        return raw_figures(months, ids)
    query = _FIGURES_OF.where(_TABLE.c.period.in_([p.key for p in months]))
    if ids is not None:
        query = query.where(_TABLE.c.engineer_id.in_(ids))
    result: Figures = {}
    for engineer_id, period_key, stored in db.session.connection().execute(query):
        stored = _loaded(stored)
        if stored:
            result[(engineer_id, period_key)] = engineer_figures(stored)
    return result


# Up to this many engineers are named in a statement; more (a board) read the months'
# rows whole and pick theirs (a list of thousands of ids costs more to send and bind).
FEW = 200


class StoredScores(NamedTuple):
    """A month's scores as a row keeps them."""

    scheme_key: str | None
    active: bool
    total_score: float | None
    meets_target: bool
    dimensions: dict[str, float | None]


_SCORES_OF = sa.select(_TABLE.c.engineer_id, _TABLE.c.scheme_key, _TABLE.c.active,
                       _TABLE.c.total_score, _TABLE.c.meets_target,
                       *(_TABLE.c[d] for d in DIMENSIONS)).where(
    _TABLE.c.period == sa.bindparam("period"))


def month_scores(period: Period, timezone: str) -> dict[int, StoredScores] | None:
    """Every engineer's stored scores of the month (one statement), or None while the
    store is not readable."""
    _settle(timezone)
    if not readable(timezone):
        return None
    result = {}
    for row in db.session.connection().execute(_SCORES_OF, {"period": period.key}).all():
        result[row[0]] = StoredScores(row[1], row[2], row[3], row[4],
                                      dict(zip(DIMENSIONS, row[5:])))
    return result


def meets_targets(months: Sequence[Period], timezone: str,
                  engineer_ids: Iterable[int]) -> dict[Key, bool] | None:
    """Stored meets_target by (engineer, month) for those with a row (one statement), or
    None while the store is not readable."""
    _settle(timezone)
    if not readable(timezone):
        return None
    wanted = set(engineer_ids)
    query = sa.select(_TABLE.c.engineer_id, _TABLE.c.period, _TABLE.c.meets_target).where(
        _TABLE.c.period.in_([p.key for p in months]))
    if len(wanted) <= FEW:
        query = query.where(_TABLE.c.engineer_id.in_(sorted(wanted)))
    rows = db.session.connection().execute(query).all()
    return {(e, p): bool(meets) for e, p, meets in rows if e in wanted}


_RANKED = (
    sa.select(sa.func.count(),
              sa.func.coalesce(sa.func.sum(sa.case(
                  (_TABLE.c.total_score > sa.bindparam("total"), 1), else_=0)), 0))
    .select_from(_TABLE.join(User.__table__, User.__table__.c.id == _TABLE.c.engineer_id))
    .where(_TABLE.c.period == sa.bindparam("period"), _TABLE.c.active.is_(True),
           _TABLE.c.total_score.is_not(None), User.__table__.c.role == "engineer")
)


def rank_among(period: Period, total: float | None) -> tuple[int, int]:
    """(engineers ranked in the month, how many of them have a total above `total`), from
    the stored totals: a rank without scoring everyone."""
    ranked, higher = db.session.connection().execute(
        _RANKED, {"period": period.key, "total": round_half_up(total) if total is not None
                  else 10**9}).one()
    return int(ranked), int(higher)


# --- Building and checking ----------------------------------------------------------------


_TIMES = (Job.first_contact_at, Job.assigned_at, Job.closed_at, Visit.in_client_time,
          Visit.out_client_time, Visit.rejected_at, Feedback.submitted_at, Complaint.received_at,
          Training.held_at, KnowledgeItem.reviewed_at, ComplianceEvent.occurred_at)


def months_with_records(timezone: str) -> list[Period]:
    """Every month from the first record's to the last one's (or this month)."""
    first = last = None
    for column in _TIMES:
        low, high = db.session.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
        if low is not None:
            first = low if first is None or low < first else first
            last = high if last is None or high > last else last
    now = periods.current(timezone)
    if first is None:
        return []
    start = _period(month_key(first, timezone), timezone)
    end = max(now, _period(month_key(last, timezone), timezone))
    result = [start]
    while result[-1].key < end.key:
        result.append(periods.shift(result[-1], 1, timezone))
    return result


def expected(months: Sequence[Period]) -> dict[Key, dict[str, Payload]]:
    """What the store should hold for these months, from the records."""
    result: dict[Key, dict[str, Payload]] = defaultdict(dict)
    for engineer_id, key, name, records, raw in family_figures(months):
        result[(engineer_id, key)][name] = _payload(records, raw)
    return result


def rebuild(timezone: str) -> int:
    """Every row computed afresh from the records, in this transaction; the store is then
    readable for `timezone`. Returns the number of rows."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        # Writers wait until the rows are rebuilt, then recompute theirs on top.
        conn.exec_driver_sql("LOCK TABLE kpi_figures IN EXCLUSIVE MODE")
    conn.execute(sa.delete(_TABLE))
    rows = [{"engineer_id": e, "period": p, "figures": figures}
            for (e, p), figures in sorted(expected(months_with_records(timezone)).items())]
    _score(conn, rows)
    for row in rows:
        row["version"] = version_step()
    for i in range(0, len(rows), 1000):
        conn.execute(sa.insert(_TABLE), rows[i:i + 1000])
    # The versions' shards counted afresh from the rows: a rebuild puts them right too.
    conn.execute(sa.delete(_MONTHS))
    conn.execute(sa.insert(_MONTHS).from_select(["period", "shard", "rows", "version"],
                                                _COUNTED_VERSIONS))
    bump_state(conn, timezone)
    conn.execute(sa.update(KpiStoreState.__table__).where(KpiStoreState.id == 1)
                 .values(timezone=timezone, ready=True))
    return len(rows)


def _same(a: Payload | None, b: Payload | None) -> bool:
    if a is None or b is None:
        return a is b
    if a["r"] != b["r"] or set(a["m"]) != set(b["m"]):
        return False
    for metric, (value, n) in a["m"].items():
        other, other_n = b["m"][metric]
        if n != other_n or (value is None) != (other is None):
            return False
        if value is not None and (round_half_up(value) != round_half_up(other)
                                  or abs(value - other) > 1e-9 * max(1.0, abs(value))):
            return False
    return True


def verify(timezone: str, months: Sequence[Period] | None = None) -> list[str]:
    """Differences between the stored rows and the records, one sentence each (none:
    the store is exact). Values are compared as computed (to 1e-9 relative, the order of
    a floating-point sum) and as shown (to 0.01, rounded half up)."""
    problems = []
    if not readable(timezone):
        problems.append(f"The store is not built for {timezone}: run flask kpi-rebuild.")
    conn = db.session.connection()
    problems += _version_problems(conn, None if months is None else [p.key for p in months])
    months = months_with_records(timezone) if months is None else list(months)
    if not months:
        return problems
    want = expected(months)
    have: dict[Key, dict[str, Payload]] = {}
    scored: dict[Key, dict[str, Any]] = {}
    query = sa.select(_TABLE).where(_TABLE.c.period.in_([p.key for p in months]))
    for row in conn.execute(query).mappings():
        key = (row["engineer_id"], row["period"])
        have[key] = _loaded(row["figures"])
        scored[key] = {c: row[c] for c in _SCORE_COLUMNS}
    for key in sorted(set(want) | set(have)):
        a, b = have.get(key, {}), want.get(key, {})
        for name in sorted(set(a) | set(b)):
            if not _same(a.get(name), b.get(name)):
                problems.append(f"engineer {key[0]}, {key[1]}, {name}: stored "
                                f"{json.dumps(a.get(name))}, from the records {json.dumps(b.get(name))}")
    # The scores of open months, under each engineer's scheme now.
    closed = set(conn.scalars(sa.select(KpiPeriod.period)))
    open_keys = [key for key in scored if key[1] not in closed]
    schemes = _schemes_of(conn, (e for e, _ in open_keys)) if open_keys else {}
    for key in sorted(open_keys):
        if key[0] not in schemes:
            continue
        should = score_columns(schemes[key[0]], want.get(key, {}))
        if should != scored[key]:
            problems.append(f"engineer {key[0]}, {key[1]}, scores: stored {scored[key]}, "
                            f"from the records {should}")
    return problems


def _version_problems(conn: sa.Connection, period_keys: list[str] | None) -> list[str]:
    """kpi_month_versions against the rows whose versions it counts and sums (kept by
    migration 0015's triggers), for these months or every month."""
    counted = _COUNTED_VERSIONS
    kept = sa.select(_MONTHS.c.period, _MONTHS.c.shard, _MONTHS.c.rows, _MONTHS.c.version)
    if period_keys is not None:
        counted = counted.where(_TABLE.c.period.in_(period_keys))
        kept = kept.where(_MONTHS.c.period.in_(period_keys))
    want = {(p, int(k)): (int(n), int(v)) for p, k, n, v in conn.execute(counted)}
    have = {(p, int(k)): (int(n), int(v)) for p, k, n, v in conn.execute(kept) if n or v}
    return [f"{period}, versions of shard {k}: kept {have.get((period, k), (0, 0))} "
            f"(rows, sum), the rows' {want.get((period, k), (0, 0))}"
            for period, k in sorted(set(want) | set(have))
            if want.get((period, k), (0, 0)) != have.get((period, k), (0, 0))]


def bump_state(conn: sa.Connection, timezone: str) -> None:
    """Move the state's version (recording the state as `claim_state` does if there is
    none yet): who is on a board, or what the rows hold, changed in this transaction."""
    step = version_step()
    table = KpiStoreState.__table__
    conn.execute(_new_state(conn, timezone, version=step)
                 .on_conflict_do_update(index_elements=[table.c.id],
                                        set_={"version": table.c.version + step}))


def _new_state(conn: sa.Connection, timezone: str, **values: Any) -> Any:
    """The state's row as `claim_state` records it, to insert on the connection's dialect
    (ON CONFLICT to follow)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(KpiStoreState.__table__).values(id=1, timezone=timezone, ready=True, **values)


_STATE = KpiStoreState.__table__
_CLOSED_AND_STATE = sa.union_all(
    sa.select(_STATE.c.version, sa.cast(sa.null(), sa.String(7))).where(_STATE.c.id == 1),
    sa.select(sa.cast(sa.null(), sa.BigInteger), KpiPeriod.__table__.c.period).where(
        KpiPeriod.__table__.c.period.in_(sa.bindparam("months", expanding=True))))
_MONTHS = KpiMonthVersions.__table__
_SHARD = _TABLE.c.engineer_id % VERSION_SHARDS
# kpi_month_versions counted from the rows, as migration 0015's triggers count them: a
# row with a version (every row the store writes; one made with version 0 by its lock
# counts once written).
_COUNTED_VERSIONS = (
    sa.select(_TABLE.c.period, _SHARD, sa.func.count(), sa.func.sum(_TABLE.c.version))
    .where(_TABLE.c.version > 0).group_by(_TABLE.c.period, _SHARD))
# The count and sum of the open months' versions, as kept by shard: the numbers
# _COUNTED_VERSIONS adds up from their rows, read from 64 rows a month.
_VERSIONS = sa.select(
    sa.func.coalesce(sa.func.sum(_MONTHS.c.rows), 0),
    sa.func.coalesce(sa.func.sum(_MONTHS.c.version), 0),
    sa.select(_STATE.c.version).where(_STATE.c.id == 1).scalar_subquery(),
    sa.select(_STATE.c.timezone).where(_STATE.c.id == 1).scalar_subquery(),
    sa.select(_STATE.c.ready).where(_STATE.c.id == 1).scalar_subquery(),
).where(_MONTHS.c.period.in_(sa.bindparam("open", expanding=True)))
# Per database: the months of a window found closed, with the state's version then (a
# month closed moves it, so while it has not moved they are still the closed ones).
_CLOSED_SEEN: weakref.WeakKeyDictionary[sa.Engine, dict[tuple[str, ...], tuple[Any, frozenset[str]]]] = \
    weakref.WeakKeyDictionary()


def versions(months: Sequence[str], month: str) -> tuple | None:
    """What a board of `month` depends on beyond the settings: the count and sum of the
    versions of the rows of those of `months` not closed, the state (version, time zone,
    ready), and whether `month` is closed. Equal answers mean that no write that could
    change the board has been committed in between. One statement while no month has
    been closed since the last call (two otherwise); None if months kept being closed
    while reading."""
    conn = db.session.connection()
    seen_by_window = _CLOSED_SEEN.setdefault(conn.engine, {})
    window = tuple(months)
    seen = seen_by_window.get(window)
    for _ in range(2):
        if seen is None:
            rows = conn.execute(_CLOSED_AND_STATE, {"months": list(window)}).all()
            version = next((row[0] for row in rows if row[1] is None), None)
            seen = (version, frozenset(row[1] for row in rows if row[1] is not None))
        count, total, version, timezone, ready = conn.execute(
            _VERSIONS, {"open": [m for m in window if m not in seen[1]]}).one()
        if version == seen[0]:
            if len(seen_by_window) > 64:
                seen_by_window.clear()
            seen_by_window[window] = seen
            return count, total, version, timezone, ready, month in seen[1]
        seen = None
    return None


_NAMES: weakref.WeakKeyDictionary[sa.Engine, str] = weakref.WeakKeyDictionary()


def database_name(conn: sa.Connection) -> str:
    """The connection's database, named by its URL (without its password); worked out
    once per engine: a check-in asks twice."""
    name = _NAMES.get(conn.engine)
    if name is None:
        name = _NAMES[conn.engine] = conn.engine.url.render_as_string(hide_password=True)
    return name


# The arrivals' lookback in force, by database, as last read committed: (lookback, when
# read by time.monotonic()). Read again after LOOKBACK_READ_AGAIN_S, so that a process
# started before the settings were raised by another one follows within that time.
_LOOKBACKS: dict[str, tuple[timedelta, float]] = {}
LOOKBACK_READ_AGAIN_S = 60
_STORED_LOOKBACK = sa.select(KpiStoreState.__table__.c.arrivals_lookback_s).where(
    KpiStoreState.__table__.c.id == 1)


def arrivals_lookback(conn: sa.Connection, configured: timedelta, timezone: str) -> timedelta:
    """The lookback the arrivals read with: the largest of this process's settings' and
    the one kept (KpiStoreState.arrivals_lookback_s: the largest any process's settings
    have given, or the records' own when the database was upgraded, migration 0016). A
    job closed under larger settings thus stays in reach after they are lowered.

    Raised in this transaction when the settings' is larger (a new database, or settings
    raised): rare, and then, on PostgreSQL, the state's row is locked after the month's
    rows, the order a rescore takes them in reverse (a deadlock PostgreSQL would end by
    failing one of them, answered 503 DATABASE_BUSY and sent again). A value is kept for
    the process only once read committed."""
    name = database_name(conn)
    now = time.monotonic()
    known = _LOOKBACKS.get(name)
    if known is not None and known[0] >= configured and now - known[1] < LOOKBACK_READ_AGAIN_S:
        return known[0]
    stored = conn.execute(_STORED_LOOKBACK).scalar()
    seconds = int(configured.total_seconds())
    if stored is not None and stored >= seconds:
        _LOOKBACKS[name] = (timedelta(seconds=stored), now)
        return timedelta(seconds=stored)
    table = KpiStoreState.__table__
    kept = table.c.arrivals_lookback_s
    raised = _new_state(conn, timezone, arrivals_lookback_s=seconds).on_conflict_do_update(
        index_elements=[table.c.id],
        set_={"arrivals_lookback_s": sa.case((kept >= seconds, kept), else_=seconds)})
    return timedelta(seconds=conn.execute(raised.returning(kept)).scalar_one())


_CLAIMED: set[tuple[str, str]] = set()  # (database, time zone) this process has recorded


def claim_state(conn: sa.Connection, timezone: str) -> None:
    """Record the time zone the rows are kept in, unless a state is recorded already: a
    later change of time zone then reads from the records until `rebuild`. Once per
    process and database (the time zone is a setting: a change restarts the process)."""
    claim = (database_name(conn), timezone)
    if claim in _CLAIMED:
        return
    _CLAIMED.add(claim)
    conn.execute(_new_state(conn, timezone).on_conflict_do_nothing())
