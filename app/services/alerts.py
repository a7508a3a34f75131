"""Early warnings (kpi.md): raising them, the watch list, listing, dismissing (with a
note) and turning them into review action items (workday.md).

Raising is idempotent: every alert carries a `dedupe_key` (unique in the table) and is
inserted with INSERT … ON CONFLICT (dedupe_key) DO NOTHING, so that the same alert
raised twice, even by two requests at once, is one row. Keys:
`NEGATIVE_FEEDBACK:feedback:<id>`, `KEYWORD:feedback:<id>`,
`KEYWORD:job-description:<id>`, `KEYWORD:job-resolution:<id>`, `SLA_RISK:job:<id>`,
`FLAG_PATTERN:engineer:<id>:<start date of the FLAG_PATTERN_DAYS bucket>`.

Entry points for the other areas: `raise_feedback_alerts(feedback)` after a feedback is
saved, `raise_job_text_alerts(job)` after a job's description or resolution is saved,
`raise_flag_pattern_alert(engineer_id, now)` after a visit is flagged or rejected, and
`scan_alerts(now)` (the `scan-alerts` command) for overdue first contacts and flag patterns.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from app import settings
from app.domain.alerts import (
    DEFAULT_WATCH_LIST,
    FLAG_PATTERN_STATUSES,
    KEYWORD_SOURCES,
    OPEN_JOB_STATUSES,
    alert_reason,
    clean_term,
    contact_due_at,
    dedupe_key,
    flag_bucket_start,
    flag_pattern_params,
    flag_window,
    is_negative_score,
    keyword_params,
    match_terms,
    negative_feedback_params,
    overdue_cutoffs,
    sla_limits,
    sla_risk_params,
)
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import Alert, Feedback, Job, Review, ReviewActionItem, Setting, User, Visit
from app.models.prepared import prepared
from app.models.types import utcnow
from app.scope import get_visible, jobs_visible, owned_by_visible
from app.services import audit
from app.services.open_visits import flag_stale_open_visits

log = logging.getLogger(__name__)

WATCH_LIST_KEY = "alert_watch_list"
INSERT_BATCH = 500
# GET /alerts evaluates overdue first contacts before answering; it raises at most this
# many per request (the scan-alerts command has no cap), so that a large backlog cannot
# stall a read.
SLA_BATCHES_PER_READ = 4


# --- scope ---------------------------------------------------------------------------

def alerts_visible(user: User) -> sa.ColumnElement[bool]:
    """Alerts a user may see: an admin all; a supervisor those on their team's engineers,
    and those without an engineer (a keyword in an unassigned job's description) on a job
    they can see; an engineer none."""
    if user.role == "admin":
        return sa.true()
    if user.role != "supervisor":
        return sa.false()
    job_seen = sa.exists().where(Job.id == Alert.job_id, jobs_visible(user))
    return sa.or_(
        owned_by_visible(user, Alert.engineer_id),
        sa.and_(Alert.engineer_id.is_(None), job_seen),
    )


# --- raising -------------------------------------------------------------------------

def _row(kind: str, key: str, params: dict[str, Any], *, engineer_id: int | None = None,
         job_id: int | None = None, visit_id: int | None = None,
         feedback_id: int | None = None, matched: list[str] | None = None,
         at: datetime | None = None) -> dict[str, Any]:
    """An alert's row: its reason worded from `params` (domain.alerts.alert_reason)."""
    return {"kind": kind, "dedupe_key": key, "detail": alert_reason(kind, params),
            "params": params, "engineer_id": engineer_id, "job_id": job_id,
            "visit_id": visit_id, "feedback_id": feedback_id, "matched": matched or [],
            "created_at": at or utcnow(), "dismissed_at": None, "dismissed_by_id": None,
            "dismiss_note": None, "action_item_id": None}


def _dialect_insert():
    """INSERT with ON CONFLICT, which PostgreSQL and SQLite both have."""
    return postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _insert_alerts(rows: list[dict[str, Any]]) -> list[int]:
    """Insert the alerts not raised yet; returns the ids of those inserted now."""
    if not rows:
        return []
    db.session.flush()
    table = Alert.__table__
    insert = _dialect_insert()
    ids: list[int] = []
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start:start + INSERT_BATCH]
        # Skipping known keys first spares PostgreSQL's id sequence on repeated raises;
        # ON CONFLICT settles a race with another transaction.
        known = set(db.session.scalars(
            sa.select(Alert.dedupe_key).where(Alert.dedupe_key.in_([r["dedupe_key"] for r in batch]))
        ))
        fresh = list({r["dedupe_key"]: r for r in batch if r["dedupe_key"] not in known}.values())
        if not fresh:
            continue
        statement = (
            insert(table).on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
            .returning(table.c.id)
        )
        # executemany: SQLAlchemy batches the rows into multi-row INSERTs ("insertmanyvalues").
        ids += db.session.scalars(statement, fresh).all()
    return ids


def _alerts(ids: list[int]) -> list[Alert]:
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Alert).where(Alert.id.in_(ids)).order_by(Alert.id)))


def raise_feedback_alerts(feedback: Feedback) -> list[Alert]:
    """NEGATIVE_FEEDBACK for a score of 0–6, KEYWORD for watch-list terms in the comment."""
    db.session.flush()
    job = db.session.get(Job, feedback.job_id)
    where = {"engineer_id": job.engineer_id if job else None, "job_id": feedback.job_id,
             "feedback_id": feedback.id}
    rows = []
    if is_negative_score(feedback.score):
        rows.append(_row(
            "NEGATIVE_FEEDBACK", dedupe_key("NEGATIVE_FEEDBACK", "feedback", feedback.id),
            negative_feedback_params(feedback.job_id, feedback.id, feedback.score, feedback.comment),
            **where,
        ))
    terms = match_terms(feedback.comment, watch_list())
    if terms:
        rows.append(_row(
            "KEYWORD", dedupe_key("KEYWORD", "feedback", feedback.id),
            keyword_params("feedback", feedback.job_id, terms, feedback.comment, feedback.id),
            matched=terms, **where,
        ))
    return _alerts(_insert_alerts(rows))


JOB_TEXT_FIELDS = (("description", "job-description"), ("resolution", "job-resolution"))


def raise_job_text_alerts(job: Job) -> list[Alert]:
    """KEYWORD alerts for watch-list terms in a job's description and resolution (one
    per job and field)."""
    db.session.flush()
    return _alerts(_insert_alerts(_job_text_rows([job], watch_list())))


def raise_imported_job_alerts(jobs: Iterable[Any]) -> int:
    """raise_job_text_alerts for jobs inserted together (anything with the job's id,
    engineer_id, description and resolution); how many alerts were raised."""
    return len(_insert_alerts(_job_text_rows(jobs, watch_list())))


def _job_text_rows(jobs: Iterable[Any], terms_list: list[str]) -> list[dict[str, Any]]:
    rows = []
    for job in jobs:
        for field, subject in JOB_TEXT_FIELDS:
            text = getattr(job, field)
            terms = match_terms(text, terms_list)
            if terms:
                rows.append(_row(
                    "KEYWORD", dedupe_key("KEYWORD", subject, job.id),
                    keyword_params(KEYWORD_SOURCES[subject], job.id, terms, text),
                    engineer_id=job.engineer_id, job_id=job.id, matched=terms,
                ))
    return rows


def _overdue_jobs(now: datetime, viewer: User | None, limit: int) -> list[sa.Row]:
    cutoffs = overdue_cutoffs(now, sla_limits(settings.current().config))
    raised = sa.exists().where(Alert.kind == "SLA_RISK", Alert.job_id == Job.id)
    query = (
        sa.select(Job.id, Job.engineer_id, Job.priority, Job.assigned_at)
        .where(
            Job.status.in_(OPEN_JOB_STATUSES),
            Job.first_contact_at.is_(None),
            Job.assigned_at.is_not(None),
            sa.or_(*(sa.and_(Job.priority == p, Job.assigned_at < cutoff)
                     for p, cutoff in cutoffs.items())),
            ~raised,
        )
        .order_by(Job.assigned_at, Job.id)
        .limit(limit)
    )
    if viewer is not None:
        query = query.where(owned_by_visible(viewer, Job.engineer_id))
    return list(db.session.execute(query))


def scan_sla_alerts(now: datetime, viewer: User | None = None,
                    max_batches: int | None = None) -> int:
    """SLA_RISK for every open job whose first-contact limit has passed by `now` (within
    `viewer`'s scope when given); returns how many were raised."""
    limits = sla_limits(settings.current().config)
    raised, batches = 0, 0
    while max_batches is None or batches < max_batches:
        jobs = _overdue_jobs(now, viewer, INSERT_BATCH)
        rows = [
            _row("SLA_RISK", dedupe_key("SLA_RISK", "job", job.id),
                 sla_risk_params(job.id, job.priority, limits[job.priority],
                                 contact_due_at(job.assigned_at, job.priority, limits)),
                 engineer_id=job.engineer_id, job_id=job.id, at=now)
            for job in jobs
        ]
        inserted = len(_insert_alerts(rows))
        raised, batches = raised + inserted, batches + 1
        if len(jobs) < INSERT_BATCH or inserted == 0:
            break
    return raised


def _flag_events(now: datetime) -> sa.ColumnElement[bool]:
    """Visits flagged (by check-in time) or rejected (by the decision) in the window."""
    window = flag_window(now, int(settings.current()["FLAG_PATTERN_DAYS"]))
    return _flag_events_between(window.start, window.end)


def _flag_events_between(start: Any, end: Any) -> sa.ColumnElement[bool]:
    def within(column):
        return column.between(start, end)

    return sa.or_(
        sa.and_(Visit.status == "flagged", within(Visit.in_client_time)),
        sa.and_(
            Visit.status.in_([s for s in FLAG_PATTERN_STATUSES if s != "flagged"]),
            sa.or_(within(Visit.rejected_at),
                   sa.and_(Visit.rejected_at.is_(None), within(Visit.in_client_time))),
        ),
    )


def _raise_flag_patterns(now: datetime, engineer_id: int | None = None) -> list[int]:
    days = int(settings.current()["FLAG_PATTERN_DAYS"])
    threshold = int(settings.current()["FLAG_PATTERN_COUNT"])
    events = _flag_events(now)
    counts = sa.select(Visit.engineer_id).where(events).group_by(Visit.engineer_id).having(
        sa.func.count(Visit.id) >= threshold
    )
    if engineer_id is not None:
        counts = counts.where(Visit.engineer_id == engineer_id)
    engineers = set(db.session.scalars(counts))
    if not engineers:
        return []
    window = flag_window(now, days)
    # At most one alert per engineer within any FLAG_PATTERN_DAYS.
    engineers -= set(db.session.scalars(
        sa.select(Alert.engineer_id).where(
            Alert.kind == "FLAG_PATTERN", Alert.engineer_id.in_(engineers),
            Alert.created_at > window.start,
        )
    ))
    visits: dict[int, list[int]] = defaultdict(list)
    for row in db.session.execute(
        sa.select(Visit.engineer_id, Visit.id)
        .where(events, Visit.engineer_id.in_(engineers)).order_by(Visit.id)
    ):
        visits[row.engineer_id].append(row.id)
    bucket = flag_bucket_start(now, days)
    rows = [
        # The latest visit is the one an alert links to; params name them all.
        _row("FLAG_PATTERN", dedupe_key("FLAG_PATTERN", "engineer", engineer, bucket),
             flag_pattern_params(ids, days, now), engineer_id=engineer, visit_id=ids[-1], at=now)
        for engineer, ids in sorted(visits.items())
    ]
    return _insert_alerts(rows)


# One engineer's flag events in a window, counted by one prepared statement: a flagged
# check-in asks it first (inside SQLite's write lock), and most find too few.
_START, _END = sa.bindparam("start"), sa.bindparam("end")
_FLAG_EVENTS_OF_ONE = sa.select(sa.func.count(Visit.id)).where(
    Visit.engineer_id == sa.bindparam("engineer_id"), _flag_events_between(_START, _END))


def raise_flag_pattern_alert(engineer_id: int, now: datetime) -> Alert | None:
    """FLAG_PATTERN for this engineer if the pattern holds at `now` and none was raised in
    the last FLAG_PATTERN_DAYS; the new alert, or None."""
    window = flag_window(now, int(settings.current()["FLAG_PATTERN_DAYS"]))
    events = prepared(_FLAG_EVENTS_OF_ONE).scalar(db.session.connection(), {
        "engineer_id": engineer_id, "start": window.start, "end": window.end})
    if events < int(settings.current()["FLAG_PATTERN_COUNT"]):
        return None
    alerts = _alerts(_raise_flag_patterns(now, engineer_id))
    return alerts[0] if alerts else None


def scan_flag_pattern_alerts(now: datetime) -> int:
    return len(_raise_flag_patterns(now))


def scan_alerts(now: datetime) -> dict[str, int]:
    """The time-based warnings, for everyone: visits left open (NO_CHECKOUT, which may
    complete a flag pattern), overdue first contacts and flag patterns; how many raised."""
    stale = flag_stale_open_visits(now)
    return {"NO_CHECKOUT": stale, "SLA_RISK": scan_sla_alerts(now),
            "FLAG_PATTERN": scan_flag_pattern_alerts(now)}


# --- the watch list ------------------------------------------------------------------

def watch_list() -> list[str]:
    """The configured terms, or the defaults of kpi.md until an admin replaces them."""
    value = db.session.scalar(sa.select(Setting.value).where(Setting.key == WATCH_LIST_KEY))
    return list(value) if value else list(DEFAULT_WATCH_LIST)


def replace_watch_list(actor: User, terms: list[str]) -> list[str]:
    """Replace the whole list (validated by the schema); audited `watch_list.update`."""
    terms = [clean_term(term) for term in terms]
    before = watch_list()
    insert = _dialect_insert()
    now = utcnow()
    statement = insert(Setting.__table__).values(key=WATCH_LIST_KEY, value=terms, updated_at=now)
    # An upsert, so that two admins saving at once cannot collide on the first save.
    db.session.execute(statement.on_conflict_do_update(
        index_elements=[Setting.__table__.c.key],
        set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
    ))
    audit.record(actor.id, "watch_list.update", "setting", None, {
        "key": WATCH_LIST_KEY, "terms": terms,
        "added": [t for t in terms if t not in before],
        "removed": [t for t in before if t not in terms],
    })
    return terms


# --- reading and dismissing ----------------------------------------------------------

def list_alerts(viewer: User, args: dict[str, Any]) -> sa.Select:
    """Evaluate overdue first contacts in the viewer's scope, then list alerts newest first."""
    _evaluate_sla(viewer)
    query = sa.select(Alert).where(alerts_visible(viewer)).order_by(
        Alert.created_at.desc(), Alert.id.desc()
    )
    if args.get("kind"):
        query = query.where(Alert.kind.in_(args["kind"]))
    if args.get("engineer_id") is not None:
        query = query.where(Alert.engineer_id == args["engineer_id"])
    if args.get("job_id") is not None:
        query = query.where(Alert.job_id == args["job_id"])
    if args.get("dismissed") is not None:
        dismissed = Alert.dismissed_at.is_not(None)
        query = query.where(dismissed if args["dismissed"] else ~dismissed)
    if args.get("from_") is not None:
        query = query.where(Alert.created_at >= args["from_"])
    if args.get("to") is not None:
        query = query.where(Alert.created_at < args["to"])
    return query


def _evaluate_sla(viewer: User) -> None:
    """Raise due SLA alerts before a read. A read must still answer if the write lock is
    busy (SQLite under load): then the scan-alerts command or the next read raises them."""
    try:
        with db.session.begin_nested():
            scan_sla_alerts(utcnow(), viewer, max_batches=SLA_BATCHES_PER_READ)
    except sa.exc.OperationalError:
        log.warning("SLA evaluation skipped on a read: database busy", exc_info=True)


def dismiss_alert(actor: User, alert_id: int, note: str | None = None) -> Alert:
    """Dismiss once, with an optional note: a second dismissal keeps the first time, who
    made it and their note."""
    alert = get_visible(Alert, alert_id, alerts_visible(actor))
    if _dismiss(actor, alert, note):
        audit.record(actor.id, "alert.dismiss", "alert", alert.id,
                     {"kind": alert.kind, "engineer_id": alert.engineer_id, "job_id": alert.job_id,
                      "note": note})
    return alert


def _dismiss(actor: User, alert: Alert, note: str | None) -> bool:
    """Dismiss the alert unless it already is (one UPDATE, so that two dismissals at once
    make one); whether this call dismissed it."""
    result = db.session.execute(
        sa.update(Alert).where(Alert.id == alert.id, Alert.dismissed_at.is_(None))
        .values(dismissed_at=utcnow(), dismissed_by_id=actor.id, dismiss_note=note)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(alert)
    return bool(result.rowcount)


def action_item_from_alert(actor: User, alert_id: int, data: dict[str, Any]) -> Alert:
    """Turn an alert into an action item of a review of its engineer (a review the actor
    may see: their team's, any for an admin); the alert is dismissed by it. Audited."""
    alert = db.session.scalar(
        sa.select(Alert).where(Alert.id == alert_id, alerts_visible(actor)).with_for_update()
    )
    if alert is None:
        raise NotFound(f"No alert {alert_id}.")
    if alert.action_item_id is not None:
        raise Conflict("This alert was already turned into an action item.")
    if alert.engineer_id is None:
        raise Conflict("This alert concerns no engineer, so no review of theirs can take it.")
    review = db.session.scalar(sa.select(Review).where(
        Review.id == data["review_id"], Review.engineer_id == alert.engineer_id,
        owned_by_visible(actor, Review.engineer_id)))
    if review is None:
        raise Invalid("review_id must name a review of this alert's engineer in your team.",
                      {"review_id": ["Not a review of this alert's engineer in your team."]})
    item = ReviewActionItem(review_id=review.id, title=data["title"], due_date=data["due_date"])
    db.session.add(item)
    db.session.flush()
    alert.action_item_id = item.id
    db.session.flush()
    _dismiss(actor, alert, None)
    audit.record(actor.id, "alert.action_item", "alert", alert.id, {
        "kind": alert.kind, "engineer_id": alert.engineer_id, "review_id": review.id,
        "item_id": item.id, "title": item.title, "due_date": item.due_date.isoformat(),
    })
    return alert
