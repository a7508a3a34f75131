"""Use cases on work orders: create (with repeat-repair detection), list, change,
cancel, dispatch, first contact and close."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app import settings
from app.domain import jobs as rules
from app.domain.verification import Thresholds
from app.errors import Invalid, NotFound
from app.extensions import db
from app.models import Job, Photo, Site, User, Visit
from app.models.types import UTCDateTime, utcnow
from app.scope import jobs_changeable, jobs_visible, supervises
from app.services import alerts, audit
from app.services.categories import require_category


def thresholds() -> Thresholds:
    return settings.current().thresholds


def job_for_change(actor: User, job_id: int) -> Job:
    """The job within the actor's scope (404 outside it), its row locked until the
    commit so that two changes of state cannot both pass the same check."""
    job = db.session.scalar(
        sa.select(Job).where(Job.id == job_id, jobs_changeable(actor))
        .with_for_update(of=Job).execution_options(populate_existing=True)
    )
    if job is None:
        raise NotFound(f"No job {job_id}.")
    return job


def _dispatchable_engineer(actor: User, engineer_id: int) -> User:
    """An active engineer the actor may dispatch to: any for an admin, their own team's
    for a supervisor; 422 otherwise (without saying which of the two it was)."""
    engineer = db.session.get(User, engineer_id)
    if (engineer is None or engineer.role != "engineer" or not engineer.active
            or not supervises(actor, engineer)):
        raise Invalid("engineer_id must name an active engineer you may dispatch to.",
                      {"engineer_id": ["Not an active engineer you may dispatch to."]})
    return engineer


# --- create and list ------------------------------------------------------------------

def create_job(actor: User | None, data: dict[str, Any]) -> Job:
    """A new job. Without an actor it was taken in from a service desk (`data` then
    carries its `source` and `external_id`), created by nobody and assigned to nobody."""
    now = utcnow()
    if db.session.get(Site, data["site_id"]) is None:
        raise Invalid(f"There is no site {data['site_id']}.", {"site_id": ["Unknown site."]})
    require_category(data["category"])
    reported_at = data.get("reported_at") or now
    rules.check_reported_at(reported_at, now, thresholds())
    engineer = _dispatchable_engineer(actor, data["engineer_id"]) if data.get("engineer_id") else None
    job = Job(
        site_id=data["site_id"], title=data["title"], description=data.get("description"),
        category=data["category"], priority=data["priority"], mode=data.get("mode", "field"),
        asset_ref=data.get("asset_ref"), reported_at=reported_at,
        scheduled_for=data.get("scheduled_for"), created_by_id=actor.id if actor else None,
        status="new", source=data.get("source"), external_id=data.get("external_id"),
    )
    job.repeat_of_id = detect_repeat(job)
    db.session.add(job)
    db.session.flush()
    if actor is not None and engineer is not None:
        # reported_at may lie up to the clock tolerance ahead: a dispatch never precedes it.
        _assign(actor, job, engineer, max(now, reported_at))
    alerts.raise_job_text_alerts(job)
    return job


def detect_repeat(job: Job) -> int | None:
    """The job a new job repeats (api.md), from its site's recently closed jobs."""
    subject = Job.category == job.category
    if job.asset_ref:
        subject = sa.or_(subject, Job.asset_ref == job.asset_ref)
    candidates = db.session.execute(
        sa.select(Job.id, Job.asset_ref, Job.category, Job.closed_at).where(
            Job.site_id == job.site_id,
            Job.status == "closed",
            Job.closed_at < job.reported_at,
            Job.closed_at >= job.reported_at - rules.REPEAT_WINDOW,
            subject,
        )
    )
    return rules.repeat_of(job.asset_ref, job.category, job.reported_at,
                           (rules.ClosedJob(*row) for row in candidates))


_LIST_COLUMNS: dict[str, list[sa.ColumnElement]] = {}


def _list_columns(dialect: str) -> list[sa.ColumnElement]:
    """The jobs table's columns as the list reads them. Converting values costs a page of
    50 jobs more than anything else, and the list only writes them out again: enums come
    as text, and on SQLite times and dates as the text stored (job_item writes both)."""
    if dialect not in _LIST_COLUMNS:
        columns = []
        for column in Job.__table__.c:
            if isinstance(column.type, sa.Enum):
                column = sa.type_coerce(column, sa.String()).label(column.name)
            elif dialect == "sqlite" and isinstance(column.type, (UTCDateTime, sa.Date)):
                column = sa.type_coerce(column, sa.String()).label(column.name)
            columns.append(column)
        _LIST_COLUMNS[dialect] = columns
    return _LIST_COLUMNS[dialect]


def list_jobs(viewer: User, args: dict[str, Any]) -> sa.Select:
    """The jobs in scope, newest first, as plain rows of the jobs table (a page of 50 is
    read for display only, so no ORM object is made for each); see _list_columns."""
    columns = _list_columns(db.session.get_bind().dialect.name)
    query = sa.select(*columns).where(jobs_visible(viewer)).order_by(Job.id.desc())
    if args.get("status"):
        query = query.where(Job.status.in_(args["status"]))
    for name in ("engineer_id", "site_id", "scheduled_for"):
        if name in args:
            query = query.where(getattr(Job, name) == args[name])
    if "from_" in args:
        query = query.where(Job.reported_at >= args["from_"])
    if "to" in args:
        query = query.where(Job.reported_at < args["to"])
    return query


# --- change and cancel ----------------------------------------------------------------

def update_job(actor: User, job_id: int, data: dict[str, Any]) -> Job:
    """Change a job's description; every changed field is audited with from and to.
    A repeat_of_id chosen by hand must be another visible job at the same site, closed
    before this one was reported."""
    job = job_for_change(actor, job_id)
    if "category" in data:
        require_category(data["category"])
    if data.get("repeat_of_id") is not None:
        _check_repeat_target(actor, job, data["repeat_of_id"])
    changes = audit.apply_changes(job, data)
    if changes:
        db.session.flush()
        audit.record(actor.id, "job.update", "job", job.id, changes)
    if "description" in changes:
        alerts.raise_job_text_alerts(job)
    return job


def _check_repeat_target(actor: User, job: Job, target_id: int) -> None:
    target = db.session.execute(
        sa.select(Job.site_id, Job.status, Job.closed_at)
        .where(Job.id == target_id, jobs_visible(actor))
    ).one_or_none()
    problem = "There is no such job." if target is None else rules.repeat_target_error(
        job.id, job.site_id, job.reported_at, target_id, *target)
    if problem:
        raise Invalid(problem, {"repeat_of_id": [problem]})


def cancel_job(actor: User, job_id: int, reason: str) -> Job:
    job = job_for_change(actor, job_id)
    rules.ensure_open(job.status)
    before = job.status
    job.status, job.cancelled_at, job.cancel_reason = "cancelled", utcnow(), reason
    db.session.flush()
    audit.record(actor.id, "job.cancel", "job", job.id,
                 {"status": {"from": before, "to": "cancelled"}, "reason": reason})
    return job


# --- dispatch -------------------------------------------------------------------------

def assign_job(actor: User, job_id: int, engineer_id: int, at: datetime | None) -> Job:
    """Dispatch a job: the first assignment sets assigned_at (the customer's wait starts
    counting from the report to it); a reassignment keeps it and is audited."""
    job = job_for_change(actor, job_id)
    rules.ensure_open(job.status)
    engineer = _dispatchable_engineer(actor, engineer_id)
    now = utcnow()
    at = at or now
    rules.check_assignment_time(at, job.reported_at, now, thresholds())
    _assign(actor, job, engineer, at)
    return job


def _assign(actor: User, job: Job, engineer: User, at: datetime) -> None:
    if job.assigned_at is None:
        job.engineer_id, job.assigned_at = engineer.id, at
        if job.status == "new":
            job.status = "assigned"
        db.session.flush()
        audit.record(actor.id, "job.assign", "job", job.id, {"engineer_id": engineer.id, "at": at})
    elif job.engineer_id != engineer.id:
        before, job.engineer_id = job.engineer_id, engineer.id
        db.session.flush()
        audit.record(actor.id, "job.reassign", "job", job.id,
                     {"engineer_id": {"from": before, "to": engineer.id}, "at": at})


# --- the engineer's actions -----------------------------------------------------------

def record_contact(engineer: User, job_id: int, at: datetime | None) -> Job:
    """The first customer contact; a later call changes nothing and answers with the job."""
    job = job_for_change(engineer, job_id)
    if job.first_contact_at is not None:
        return job
    rules.ensure_open(job.status)
    now = utcnow()
    at = at or now
    rules.check_contact_time(at, job.assigned_at or job.reported_at, now, thresholds())
    job.first_contact_at = at
    db.session.flush()
    return job


def close_job(engineer: User, job_id: int, data: dict[str, Any]) -> Job:
    """Close a job. Checks in this order: scope (404), open (409 JOB_CLOSED), the request
    against the job (422: time bounds, then an answer to an item the checklist lacks),
    then what the close requires, all of it at once (409 CLOSE_REQUIREMENTS_UNMET with
    `missing`: the visit, the after photo, the signature, each unanswered item)."""
    job = job_for_change(engineer, job_id)
    rules.ensure_open(job.status)
    evidence, last_check_out = _close_evidence(job.id)
    now = utcnow()
    closed_at = data.get("client_time") or now
    rules.check_close_time(closed_at, now, last_check_out, thresholds())
    category = require_category(job.category)
    complete = rules.check_checklist(data["checklist"], category.checklist)
    rules.check_close_requirements(evidence, job.mode, category.signature_required,
                                   category.checklist, data["checklist"])
    job.status, job.closed_at = "closed", closed_at
    job.resolution, job.fixed = data["resolution"], data["fixed"]
    job.checklist, job.checklist_complete = dict(data["checklist"]), complete
    db.session.flush()
    alerts.raise_job_text_alerts(job)
    return job


def _close_evidence(job_id: int) -> tuple[rules.CloseEvidence, datetime | None]:
    """The job's photos and visits as a close needs them, in one statement."""
    def photos(kind: str):
        return (sa.select(sa.func.count(Photo.id))
                .where(Photo.job_id == job_id, Photo.kind == kind).scalar_subquery())

    completed = (sa.select(sa.func.count(Visit.id)).where(
        # A disputed visit is still a rejected one, waiting for the final decision.
        Visit.job_id == job_id, Visit.out_client_time.is_not(None),
        Visit.status.not_in(("rejected", "disputed")),
    ).scalar_subquery())
    # A check-out whose phone clock ran ahead counts at the server's time, so that a
    # close is never held back by a clock set forward (flagged CLOCK_SKEW on the visit).
    out_at = sa.case((Visit.out_server_time < Visit.out_client_time, Visit.out_server_time),
                     else_=Visit.out_client_time)
    last_out = sa.select(sa.func.max(out_at)).where(Visit.job_id == job_id).scalar_subquery()
    after, signature, visits, last = db.session.execute(
        sa.select(photos("after"), photos("signature"), completed, last_out)
    ).one()
    return rules.CloseEvidence(after, signature, visits), last
