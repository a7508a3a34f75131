"""Customer complaints about a job: recorded and resolved by the back office, counted
against the job's engineer (kpi.md `complaints`)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.domain import jobs as rules
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Complaint, Job, User
from app.models.types import utcnow
from app.scope import get_visible, jobs_changeable, jobs_visible
from app.services import audit
from app.services.jobs import thresholds

# A complaint is listed with the engineer of its job, whom it counts against.
COMPLAINT_ROW = (Complaint, Job.engineer_id)


def complaints_visible(user: User) -> sa.Select:
    """Complaints within scope: those on the jobs the user may see."""
    return sa.select(*COMPLAINT_ROW).join(Job, Job.id == Complaint.job_id).where(jobs_visible(user))


def get_complaint(viewer: User, complaint_id: int, lock: bool = False) -> sa.Row:
    """(complaint, engineer_id) within the viewer's scope; 404 otherwise."""
    query = complaints_visible(viewer).where(Complaint.id == complaint_id)
    if lock:
        query = query.with_for_update(of=Complaint).execution_options(populate_existing=True)
    row = db.session.execute(query).one_or_none()
    if row is None:
        raise NotFound(f"No complaint {complaint_id}.")
    return row


def create_complaint(actor: User, job_id: int, data: dict[str, Any]) -> sa.Row:
    job = get_visible(Job, job_id, jobs_changeable(actor))
    now = utcnow()
    received_at = data.get("received_at") or now
    rules.check_received_at(received_at, job.reported_at, now, thresholds())
    complaint = Complaint(job_id=job.id, detail=data["detail"], received_at=received_at,
                          created_by_id=actor.id)
    db.session.add(complaint)
    db.session.flush()
    return get_complaint(actor, complaint.id)


def resolve_complaint(actor: User, complaint_id: int, resolution: str) -> sa.Row:
    row = get_complaint(actor, complaint_id, lock=True)
    complaint = row.Complaint
    if complaint.resolved_at is not None:
        raise Conflict("The complaint is resolved already.")
    complaint.resolution, complaint.resolved_at, complaint.resolved_by_id = resolution, utcnow(), actor.id
    db.session.flush()
    audit.record(actor.id, "complaint.resolve", "complaint", complaint.id,
                 {"job_id": complaint.job_id, "resolution": resolution})
    return row


def list_complaints(viewer: User, args: dict[str, Any]) -> sa.Select:
    query = complaints_visible(viewer).order_by(Complaint.id.desc())
    if "engineer_id" in args:
        query = query.where(Job.engineer_id == args["engineer_id"])
    if "job_id" in args:
        query = query.where(Complaint.job_id == args["job_id"])
    if "from_" in args:
        query = query.where(Complaint.received_at >= args["from_"])
    if "to" in args:
        query = query.where(Complaint.received_at < args["to"])
    if "resolved" in args:
        resolved = Complaint.resolved_at.is_not(None)
        query = query.where(resolved if args["resolved"] else sa.not_(resolved))
    return query
