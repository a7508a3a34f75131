"""Raw KPI figures straight from the records, with SQL aggregates.

The fifteen metrics come from eleven *families*: one source query each (the records
whose defining time falls in the period, kpi.md's brackets), over which every metric of
the family is a per-record value. A mean is avg(value); a rate is avg of 100 or 0 per
record; nps is avg of +100, 0 or -100 per response; a count is count(value). The same
source gives the records behind a figure (`records_query`), so what the card shows and
what the records route lists cannot drift apart.

Every family is grouped by engineer and month in one statement, whatever the number of
engineers or months: `raw_figures()` runs exactly `len(FAMILIES)` statements. Months are
told apart by CASE over UTC bounds computed in Python, inside a subquery (a GROUP BY on
an expression with bound parameters is not portable).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import FunctionElement

from app.domain.kpi import METRICS_BY_KEY, RawFigure, round_half_up
from app.extensions import db
from app.models import (
    Complaint,
    ComplianceEvent,
    Feedback,
    Job,
    KnowledgeItem,
    Training,
    TrainingAttendee,
    Visit,
)
from app.models.prepared import prepared
from app.models.types import utc_text
from app.services.kpi.periods import Period

COUNTED_VISIT = ("verified", "approved")
CANCELLED = "cancelled"


# --- Portable minutes between two timestamps ---------------------------------------


class minutes_between(FunctionElement):  # noqa: N801  (used like a SQL function)
    """(end − start) in minutes as a float, on SQLite and PostgreSQL alike."""

    type = sa.Float()
    name = "minutes_between"
    inherit_cache = True


@compiles(minutes_between)
def _minutes_postgresql(element, compiler, **kw) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION) / 60.0)"


@compiles(minutes_between, "sqlite")
def _minutes_sqlite(element, compiler, **kw) -> str:
    # SQLite keeps UTC as text; julianday() reads it to the millisecond. Both are turned
    # back into whole milliseconds before subtracting, so that 37 min 25.5 s gives the
    # same double (37.425) as PostgreSQL and rounds the same way (37.43).
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return (f"((ROUND(julianday({end}) * 86400000.0) - ROUND(julianday({start}) * 86400000.0))"
            " / 60000.0)")


# --- Month buckets -------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """The months a statement looks at: each month's [start, end) and the [start, end)
    ranges of the WHERE clause (adjoining months merged), as values or as bind parameters.

    As bind parameters, one statement serves every month with the same shape, so that it
    is built once per process (`_statement`) rather than on every request."""

    months: tuple[tuple[Any, Any], ...]
    ranges: tuple[tuple[Any, Any], ...]


def _merged(periods: Sequence[Period]) -> list[tuple[int, int]]:
    """The periods as ranges of indexes (first, last), adjoining months merged."""
    order = sorted(range(len(periods)), key=lambda i: periods[i].start)
    merged: list[list[int]] = []
    for i in order:
        if merged and periods[merged[-1][1]].end == periods[i].start:
            merged[-1][1] = i
        else:
            merged.append([i, i])
    return [(first, last) for first, last in merged]


def _values(periods: Sequence[Period]) -> Bounds:
    return Bounds(tuple((p.start, p.end) for p in periods),
                  tuple((periods[f].start, periods[l].end) for f, l in _merged(periods)))


def _parameters(count: int, merged: Sequence[tuple[int, int]]) -> Bounds:
    months = tuple((sa.bindparam(f"period_{i}_start"), sa.bindparam(f"period_{i}_end"))
                   for i in range(count))
    return Bounds(months, tuple((months[f][0], months[l][1]) for f, l in merged))


def _within(column, bounds: Bounds) -> sa.ColumnElement[bool]:
    return sa.or_(*(sa.and_(column >= s, column < e) for s, e in bounds.ranges))


def _bucket(column, bounds: Bounds) -> sa.ColumnElement[Any]:
    """The index of the period the time falls in (the WHERE clause keeps it in one)."""
    if len(bounds.months) == 1:
        return sa.literal_column("0")
    return sa.case(
        *((sa.and_(column >= s, column < e), sa.literal_column(str(i)))
          for i, (s, e) in enumerate(bounds.months))
    )


ENGINEER_IDS = sa.bindparam("engineer_ids", expanding=True)
# The same parameter when it names at most FEW_ENGINEERS: a source may read their records
# another way (the arrivals: job by job).
FEW_ENGINEERS = 20
FEW_ENGINEER_IDS = sa.bindparam("engineer_ids", expanding=True)
# The same on PostgreSQL, whose arrivals then look each job's first counted visit up in
# a LATERAL subquery (SQLite has none).
FEW_ENGINEER_IDS_LATERAL = sa.bindparam("engineer_ids", expanding=True)


def _of(column, engineer_ids: Sequence[int] | sa.BindParameter | None) -> sa.ColumnElement[bool]:
    if engineer_ids is None:
        return column.is_not(None)
    if isinstance(engineer_ids, sa.BindParameter):
        return column.in_(engineer_ids)
    return column.in_(list(engineer_ids))


def _frame(engineer, time, periods, record_id, job_id) -> list[Any]:
    """The columns every source starts with."""
    return [
        engineer.label("engineer_id"),
        _bucket(time, periods).label("bucket"),
        record_id.label("id"),
        job_id.label("job_id"),
        time.label("at"),
    ]


# --- The families --------------------------------------------------------------------

Columns = Any  # a subquery's `.c`


@dataclass(frozen=True)
class MetricSource:
    """How one metric reads its family's records: a value per record (NULL: not counted)."""

    value: Callable[[Columns], sa.ColumnElement[Any]]


@dataclass(frozen=True)
class Family:
    """Records of one kind whose defining time falls in the period."""

    name: str
    record_type: str
    source: Callable[[Bounds, Any], sa.Select]  # (months, engineer ids or None)
    metrics: dict[str, MetricSource]
    facts: tuple[str, ...] = ()
    # Whether a record of this family makes the engineer active (kpi.md, Metrics).
    activity: bool = True


def _contact_source(periods, ids):
    t = Job.first_contact_at
    return sa.select(
        *_frame(Job.engineer_id, t, periods, Job.id, Job.id),
        Job.assigned_at.label("assigned_at"),
        minutes_between(Job.assigned_at, t).label("minutes"),
    ).where(_within(t, periods), Job.status != CANCELLED, _of(Job.engineer_id, ids))


def _dispatch_source(periods, ids):
    t = Job.assigned_at
    return sa.select(
        *_frame(Job.engineer_id, t, periods, Job.id, Job.id),
        Job.reported_at.label("reported_at"),
        minutes_between(Job.reported_at, t).label("minutes"),
    ).where(_within(t, periods), Job.status != CANCELLED, _of(Job.engineer_id, ids))


def _arrival_source(periods, ids):
    # The first counted visit of each field job (by check-in time, then id), whoever
    # made it; the job belongs to its engineer.
    if ids is FEW_ENGINEER_IDS or ids is FEW_ENGINEER_IDS_LATERAL:
        return _their_arrivals(periods, ids, lateral=ids is FEW_ENGINEER_IDS_LATERAL)
    t = Visit.in_client_time
    earlier = aliased(Visit)
    is_first = ~sa.exists().where(
        earlier.job_id == Visit.job_id,
        earlier.status.in_(COUNTED_VISIT),
        sa.or_(
            earlier.in_client_time < Visit.in_client_time,
            sa.and_(earlier.in_client_time == Visit.in_client_time, earlier.id < Visit.id),
        ),
    )
    # For more engineers (a team's), their jobs lead too, and the status is compared
    # through lower() so that no index on it is preferred.
    counted = Visit.status.in_(COUNTED_VISIT)
    theirs = []
    if ids is not None:
        counted = sa.func.lower(Visit.status).in_(COUNTED_VISIT)
        theirs = [Visit.job_id.in_(sa.select(Job.id).where(_of(Job.engineer_id, ids)))]
    return (
        sa.select(*_arrival_columns(periods))
        .join(Job, Job.id == Visit.job_id)
        .where(
            counted, _within(t, periods), Job.mode == "field",
            Job.status != CANCELLED, _of(Job.engineer_id, ids), is_first, *theirs,
        )
    )


def _arrival_columns(periods, t=Visit.in_client_time, visit_id=Visit.id) -> list[Any]:
    return [*_frame(Job.engineer_id, t, periods, Job.id, Job.id),
            visit_id.label("visit_id"),
            Job.reported_at.label("reported_at"),
            minutes_between(Job.reported_at, t).label("minutes")]


# The jobs a few engineers' arrivals read: those still open and those closed since this
# time (family_figures' `lookback`).
ARRIVALS_CLOSED_FROM = sa.bindparam("arrivals_closed_from")
# No lookback: every job (no job was closed before this).
EVERY_CLOSE = datetime(1970, 1, 1, tzinfo=UTC)


def _their_arrivals(periods, ids, lateral: bool = False):
    """The arrivals of a few engineers' jobs (a card's, or the store's recompute after a
    check-in): their jobs lead, each one's first counted visit found by its own index
    lookup, so that no plan starts from the month's visits of the whole organisation (to
    statistics gathered before it, a month just begun looks empty, and such a plan costs
    more with every visit). On SQLite the lookup is a correlated subquery in the join;
    PostgreSQL could still hash the month's visits against it when it expects many jobs
    of the engineer (seen with one engineer holding a tenth of all jobs), so there
    (`lateral`) it is a LATERAL subquery, which only a loop over the jobs can run.

    Only their jobs still open or closed since ARRIVALS_CLOSED_FROM are read (two ranges
    of the engineer-and-close index), so that the cost follows the month's work rather
    than each engineer's whole history."""
    # (The status compared through lower(): only the job's index can serve the lookup.)
    counted = sa.func.lower(Visit.status).in_(COUNTED_VISIT)
    in_order = (Visit.in_client_time, Visit.id)

    def theirs(closed: sa.ColumnElement[bool]) -> sa.Select:
        if lateral:
            first = (sa.select(Visit.id.label("visit_id"), Visit.in_client_time.label("at"))
                     .where(Visit.job_id == Job.id, counted).order_by(*in_order).limit(1)
                     .lateral("first_visit"))
            query = (sa.select(*_arrival_columns(periods, first.c.at, first.c.visit_id))
                     .select_from(Job).join(first, sa.true()))
            at = first.c.at
        else:
            first = (sa.select(Visit.id).where(Visit.job_id == Job.id, counted)
                     .order_by(*in_order).limit(1).correlate(Job).scalar_subquery())
            query = (sa.select(*_arrival_columns(periods))
                     .select_from(Job).join(Visit, Visit.id == first))
            at = Visit.in_client_time
        return query.where(_of(Job.engineer_id, ids), closed, Job.mode == "field",
                           Job.status != CANCELLED, _within(at, periods))
    return sa.union_all(theirs(Job.closed_at.is_(None)),
                        theirs(Job.closed_at >= ARRIVALS_CLOSED_FROM))


def _service_source(periods, ids):
    t = Visit.out_client_time
    return (
        sa.select(
            *_frame(Visit.engineer_id, t, periods, Visit.id, Visit.job_id),
            Visit.in_client_time.label("check_in_at"),
            minutes_between(Visit.in_client_time, t).label("minutes"),
        )
        .join(Job, Job.id == Visit.job_id)
        .where(Visit.status.in_(COUNTED_VISIT), _within(t, periods),
               Job.status != CANCELLED, _of(Visit.engineer_id, ids))
    )


def _closed_source(periods, ids):
    counted = aliased(Visit)
    repeat = aliased(Job)
    counted_visits = (
        sa.select(sa.func.count())
        .where(counted.job_id == Job.id, counted.status.in_(COUNTED_VISIT))
        .correlate(Job)
        .scalar_subquery()
    )
    repeat_job = (
        sa.select(sa.func.min(repeat.id))
        .where(repeat.repeat_of_id == Job.id, repeat.status != CANCELLED)
        .correlate(Job)
        .scalar_subquery()
    )
    t = Job.closed_at
    return sa.select(
        *_frame(Job.engineer_id, t, periods, Job.id, Job.id),
        Job.fixed.label("fixed"),
        Job.mode.label("mode"),
        counted_visits.label("counted_visits"),
        repeat_job.label("repeat_job_id"),
        Job.checklist_complete.label("checklist_complete"),
    ).where(_within(t, periods), Job.status != CANCELLED, _of(Job.engineer_id, ids))


def _feedback_source(periods, ids):
    t = Feedback.submitted_at
    return (
        sa.select(
            *_frame(Job.engineer_id, t, periods, Feedback.id, Feedback.job_id),
            Feedback.score.label("score"),
        )
        .join(Job, Job.id == Feedback.job_id)
        .where(_within(t, periods), Job.status != CANCELLED, _of(Job.engineer_id, ids))
    )


def _complaint_source(periods, ids):
    t = Complaint.received_at
    return (
        sa.select(
            *_frame(Job.engineer_id, t, periods, Complaint.id, Complaint.job_id),
            Complaint.resolved_at.label("resolved_at"),
        )
        .join(Job, Job.id == Complaint.job_id)
        .where(_within(t, periods), Job.status != CANCELLED, _of(Job.engineer_id, ids))
    )


def _training_source(periods, ids):
    t = Training.held_at
    return (
        sa.select(
            *_frame(TrainingAttendee.user_id, t, periods, Training.id, sa.null()),
            Training.title.label("title"),
        )
        .join(Training, Training.id == TrainingAttendee.training_id)
        .where(_within(t, periods), _of(TrainingAttendee.user_id, ids))
    )


def _knowledge_source(periods, ids):
    t = KnowledgeItem.reviewed_at
    return sa.select(
        *_frame(KnowledgeItem.author_id, t, periods, KnowledgeItem.id, KnowledgeItem.job_id),
        KnowledgeItem.kind.label("kind"),
        KnowledgeItem.title.label("title"),
        KnowledgeItem.quality.label("quality"),
    ).where(KnowledgeItem.status == "approved", _within(t, periods),
            _of(KnowledgeItem.author_id, ids))


def _compliance_source(periods, ids):
    t = ComplianceEvent.occurred_at
    return sa.select(
        *_frame(ComplianceEvent.engineer_id, t, periods, ComplianceEvent.id, sa.null()),
        ComplianceEvent.kind.label("kind"),
        ComplianceEvent.severity.label("severity"),
    ).where(_within(t, periods), _of(ComplianceEvent.engineer_id, ids))


def _rejected_source(periods, ids):
    t = Visit.rejected_at
    return (
        sa.select(
            *_frame(Visit.engineer_id, t, periods, Visit.id, Visit.job_id),
            Visit.in_client_time.label("check_in_at"),
        )
        .join(Job, Job.id == Visit.job_id)
        .where(Visit.status == "rejected", _within(t, periods),
               Job.status != CANCELLED, _of(Visit.engineer_id, ids))
    )


def _minutes(c):
    return c.minutes


def _one(condition: Callable[[Columns], sa.ColumnElement[bool]] | None = None):
    """A count metric: 1 per record (meeting `condition`)."""
    if condition is None:
        return lambda c: sa.literal_column("1")
    return lambda c: sa.case((condition(c), sa.literal_column("1")))


def _percent(condition: Callable[[Columns], sa.ColumnElement[bool]]):
    """A rate: 100 for a record meeting `condition`, 0 otherwise; the mean is the rate."""
    return lambda c: sa.case((condition(c), sa.literal_column("100.0")),
                             else_=sa.literal_column("0.0"))


def _first_time_fix(c):
    return sa.and_(c.fixed.is_(True), sa.or_(c.mode == "remote", c.counted_visits == 1))


def _nps_points(c):
    return sa.case((c.score >= 9, sa.literal_column("100.0")),
                   (c.score <= 6, sa.literal_column("-100.0")),
                   else_=sa.literal_column("0.0"))


FAMILIES: tuple[Family, ...] = (
    Family("contact", "job", _contact_source,
           {"first_contact_minutes": MetricSource(_minutes)},
           facts=("assigned_at",)),
    Family("dispatch", "job", _dispatch_source,
           {"dispatch_minutes": MetricSource(_minutes)},
           facts=("reported_at",), activity=False),
    Family("arrival", "job", _arrival_source,
           {"arrival_minutes": MetricSource(_minutes)},
           facts=("visit_id", "reported_at"), activity=False),
    Family("service", "visit", _service_source,
           {"service_minutes": MetricSource(_minutes)},
           facts=("check_in_at",)),
    Family("closed", "job", _closed_source,
           {"first_time_fix_rate": MetricSource(_percent(_first_time_fix)),
            "repeat_repair_rate": MetricSource(_percent(lambda c: c.repeat_job_id.is_not(None))),
            "checklist_completion_rate": MetricSource(
                _percent(lambda c: c.checklist_complete.is_(True)))},
           facts=("fixed", "mode", "counted_visits", "repeat_job_id", "checklist_complete")),
    Family("feedback", "feedback", _feedback_source,
           {"nps": MetricSource(_nps_points)}, facts=("score",)),
    Family("complaints", "complaint", _complaint_source,
           {"complaints": MetricSource(_one())}, facts=("resolved_at",)),
    Family("trainings", "training", _training_source,
           {"trainings_attended": MetricSource(_one())}, facts=("title",)),
    Family("knowledge", "knowledge_item", _knowledge_source,
           {"knowledge_items": MetricSource(_one()),
            "case_quality": MetricSource(lambda c: c.quality)},
           facts=("kind", "title", "quality")),
    Family("compliance", "compliance_event", _compliance_source,
           {"safety_incidents": MetricSource(_one(lambda c: c.kind == "safety_incident")),
            "process_violations": MetricSource(_one(lambda c: c.kind == "process_violation"))},
           facts=("kind", "severity")),
    Family("rejected", "visit", _rejected_source,
           {"false_reports": MetricSource(_one())}, facts=("check_in_at",)),
)
FAMILY_OF_METRIC: dict[str, Family] = {key: f for f in FAMILIES for key in f.metrics}
FAMILY_BY_NAME: dict[str, Family] = {f.name: f for f in FAMILIES}
assert set(FAMILY_OF_METRIC) == set(METRICS_BY_KEY), "every metric has exactly one family"


# --- Figures -------------------------------------------------------------------------


@dataclass
class EngineerFigures:
    """One engineer's raw figures for one month, and whether they were active in it."""

    raw: dict[str, RawFigure] = field(default_factory=dict)
    active: bool = False


Figures = dict[tuple[int, str], EngineerFigures]


def _aggregate(family: Family, bounds: Bounds, engineer_ids) -> sa.Select:
    sub = family.source(bounds, engineer_ids).subquery(family.name)
    columns: list[Any] = [sub.c.engineer_id, sub.c.bucket, sa.func.count().label("records")]
    for key, metric in family.metrics.items():
        value = metric.value(sub.c)
        if METRICS_BY_KEY[key].kind == "count":
            columns.append(sa.func.count(value).label(f"{key}__value"))
        else:
            columns.append(sa.func.avg(value).label(f"{key}__value"))
        columns.append(sa.func.count(value).label(f"{key}__n"))
    return sa.select(*columns).group_by(sub.c.engineer_id, sub.c.bucket)


_STATEMENTS: dict[tuple[str, int, tuple[tuple[int, int], ...], bool | None, bool],
                  sa.Select] = {}


def _statement(family: Family, count: int, merged: tuple[tuple[int, int], ...],
               engineers: int | None, dialect: str = "sqlite") -> sa.Select:
    """The family's aggregate for `count` months merged as `merged`, for everyone (None)
    or for the engineers of the ENGINEER_IDS parameter: built once per shape, then only
    its parameters change."""
    few = engineers is not None and engineers <= FEW_ENGINEERS
    lateral = few and dialect == "postgresql"
    key = (family.name, count, merged, None if engineers is None else few, lateral)
    statement = _STATEMENTS.get(key)
    if statement is None:
        if len(_STATEMENTS) >= 1024:  # shapes are few; this only bounds the memory
            _STATEMENTS.clear()
        ids = (None if engineers is None else FEW_ENGINEER_IDS_LATERAL if lateral
               else FEW_ENGINEER_IDS if few else ENGINEER_IDS)
        statement = _STATEMENTS[key] = _aggregate(family, _parameters(count, merged), ids)
    return statement


FamilyRow = tuple[int, str, str, int, dict[str, RawFigure]]


def family_figures(periods: Sequence[Period], engineer_ids: Iterable[int] | None = None,
                   families: Sequence[Family] = FAMILIES,
                   lookback: timedelta | None = None) -> Iterator[FamilyRow]:
    """(engineer id, period key, family name, records, {metric: RawFigure}) for every
    engineer with a record of the family in a period (or only `engineer_ids`), in one
    statement per family.

    `lookback`: how long before the first period's start a job can have been closed and
    still have a visit in a period (app.domain.jobs.visit_after_close_max); a few
    engineers' arrivals then leave out the jobs closed before that."""
    periods = list(periods)
    ids = None if engineer_ids is None else sorted(set(engineer_ids))
    if not periods or ids == []:
        return
    merged = tuple(_merged(periods))
    params: dict[str, Any] = {}
    for i, p in enumerate(periods):
        params[f"period_{i}_start"], params[f"period_{i}_end"] = p.start, p.end
    if ids is not None:
        params["engineer_ids"] = ids
    keys = [p.key for p in periods]
    conn = db.session.connection()
    # A few engineers' figures (a check-in's, in the write lock): prepared
    # (app/models/prepared.py).
    few = ids is not None and len(ids) <= FEW_ENGINEERS
    closed_from = EVERY_CLOSE if lookback is None else min(p.start for p in periods) - lookback
    for family in families:
        statement = _statement(family, len(periods), merged, None if ids is None else len(ids),
                               conn.dialect.name)
        metrics = tuple(family.metrics)
        # By position (_aggregate's columns): engineer_id, bucket, records, then each
        # metric's value and n. A board reads a thousand engineers' rows per family.
        values = params
        if few and family.source is _arrival_source:
            values = {**params, "arrivals_closed_from": closed_from}
        for row in (prepared(statement).rows(conn, values) if few
                    else conn.execute(statement, values).all()):
            raw = {}
            for i, metric in enumerate(metrics, 1):
                value, n = row[2 * i + 1], int(row[2 * i + 2])
                raw[metric] = RawFigure(None if value is None or n == 0 else float(value), n)
            yield row[0], keys[int(row[1])], family.name, int(row[2]), raw


def raw_figures(periods: Sequence[Period], engineer_ids: Iterable[int] | None = None,
                families: Sequence[Family] = FAMILIES) -> Figures:
    """Raw figures by (engineer id, period key), for every engineer with a record
    (or only `engineer_ids`), in one statement per family."""
    result: Figures = {}
    for engineer_id, period_key, name, records, raw in family_figures(
            periods, engineer_ids, families):
        entry = result.get((engineer_id, period_key))
        if entry is None:
            entry = result[(engineer_id, period_key)] = EngineerFigures()
        if records and FAMILY_BY_NAME[name].activity:
            entry.active = True
        entry.raw.update(raw)
    return result


# --- Records behind a figure ---------------------------------------------------------


def records_query(metric: str, periods: Sequence[Period],
                  engineer_ids: Sequence[int] | None) -> sa.Select:
    """The records behind `metric`, newest first: engineer_id, bucket, type, id, job_id,
    at, value and the family's facts."""
    family = FAMILY_OF_METRIC[metric]
    sub = family.source(_values(list(periods)), engineer_ids).subquery(family.name)
    value = family.metrics[metric].value(sub.c)
    return (
        sa.select(
            sub.c.engineer_id, sub.c.bucket, sub.c.id, sub.c.job_id, sub.c.at,
            value.label("value"), *(sub.c[name] for name in family.facts),
        )
        .where(value.is_not(None))
        .order_by(sub.c.at.desc(), sub.c.id.desc())
    )


def _fact(value: Any) -> Any:
    return utc_text(value) if isinstance(value, datetime) else value


def record_dict(metric: str, row: Any) -> dict[str, Any]:
    """A record row as the records route shows it (times in facts written as UTC `Z`)."""
    family = FAMILY_OF_METRIC[metric]
    value = row["value"]
    return {
        "type": family.record_type,
        "id": row["id"],
        "job_id": row["job_id"],
        "at": row["at"],
        "value": round_half_up(float(value)) if value is not None else None,
        "facts": {name: _fact(row[name]) for name in family.facts},
    }
