"""Customer feedback: signed single-use links, the public rating, the scoped list.

A link's token is signed with the app's SECRET_KEY (salt "feedback-link") and carries
the link's id and a random nonce; only the token's SHA-256 digest is stored. The
signature is checked before the database is asked anything, so that a forged or
random token costs no lookup.

A link may be made once the job is closed, or earlier as soon as it has a visit that
has not been judged a false report (`verified`, `flagged` or `approved`): the customer
rates right after the visit, while the engineer is still there to show the QR code.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from app import settings
from app.errors import Conflict, Forbidden, Gone, NotFound
from app.extensions import db
from app.models import Feedback, FeedbackLink, Job, Site, User, Visit
from app.models.types import utcnow
from app.scope import get_visible, jobs_visible, owned_by_visible
from app.services import alerts

SALT = "feedback-link"
# A real token is about 80 characters; anything much longer is not worth verifying.
MAX_TOKEN_LENGTH = 200
# Visits not (yet) judged a false report: a customer may rate the job after one of them.
RATEABLE_VISIT_STATUSES = ("verified", "flagged", "approved")
DEFAULT_RATE_LIMIT = "30 per minute"


# --- tokens (no database) ----------------------------------------------------------

def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def sign_token(secret_key: str, link_id: int) -> str:
    """A URL-safe token naming the link, unguessable thanks to its 128-bit nonce."""
    return _serializer(secret_key).dumps([link_id, secrets.token_urlsafe(16)])


def read_token(secret_key: str, token: str) -> int | None:
    """The link id of a token signed with this key, or None for anything forged."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        payload = _serializer(secret_key).loads(token)
    except BadSignature:
        return None
    if (
        not isinstance(payload, list) or len(payload) != 2
        or type(payload[0]) is not int or not isinstance(payload[1], str)
    ):
        return None
    return payload[0]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def display_name(name: str | None) -> str | None:
    """What a customer sees of the engineer: the first word of a spaced name
    ("Alice Smith" → "Alice"), or the name as stored (王伟)."""
    if not name or not name.strip():
        return None
    return name.split()[0]


# --- making a link -----------------------------------------------------------------

def issue_link(actor: User, job_id: int) -> tuple[FeedbackLink, str]:
    """A new link for the job's customer, replacing any unused one; returns it and its token."""
    # Serialise link-making per job (PostgreSQL; SQLite writers are serial anyway),
    # so that two engineers tapping at once leave one live link.
    db.session.execute(sa.select(Job.id).where(Job.id == job_id).with_for_update())
    job = get_visible(Job, job_id, jobs_visible(actor))
    _check_may_issue(actor, job)
    _check_job_takes_link(job)
    now = utcnow()
    db.session.execute(
        sa.update(FeedbackLink)
        .where(FeedbackLink.job_id == job.id, FeedbackLink.used_at.is_(None),
               FeedbackLink.replaced_at.is_(None), FeedbackLink.expires_at > now)
        .values(replaced_at=now)
        .execution_options(synchronize_session=False)
    )
    days = int(settings.current()["FEEDBACK_LINK_DAYS"])
    # The token names the link's id, known only after the insert: a random
    # placeholder digest (matching no token) fills the column until then.
    link = FeedbackLink(job_id=job.id, digest=secrets.token_hex(32), created_by_id=actor.id,
                        created_at=now, expires_at=now + timedelta(days=days))
    db.session.add(link)
    db.session.flush()
    token = sign_token(settings.current().secret_key, link.id)
    link.digest = token_digest(token)
    db.session.flush()
    return link, token


def link_url(token: str, host_url: str) -> str:
    """The customer's page for the token: PUBLIC_BASE_URL (or `host_url`, the address the
    request came to) + f/<token>."""
    base = settings.current().get("PUBLIC_BASE_URL") or host_url
    return base.rstrip("/") + "/f/" + token


def _check_may_issue(actor: User, job: Job) -> None:
    """E: the job's engineer; S: that engineer's supervisor; A. A supervisor may see
    jobs they created or that nobody has yet, but makes links only for their team."""
    if actor.role != "supervisor":
        return  # an engineer sees only their own jobs; an admin every job
    in_team = db.session.scalar(
        sa.select(Job.id).where(Job.id == job.id, owned_by_visible(actor, Job.engineer_id))
    )
    if in_team is None:
        raise Forbidden("Only the job's engineer, their supervisor or an admin may make its feedback link.")


def _check_job_takes_link(job: Job) -> None:
    if job.status == "cancelled":
        raise Conflict("The job was cancelled; it takes no feedback.", code="JOB_CLOSED")
    if db.session.scalar(sa.select(Feedback.id).where(Feedback.job_id == job.id)) is not None:
        raise Conflict("The customer has already rated this job; a job takes one feedback.")
    if job.status == "closed" or (job.mode == "remote" and job.first_contact_at is not None):
        return
    visited = db.session.scalar(
        sa.select(Visit.id)
        .where(Visit.job_id == job.id, Visit.status.in_(RATEABLE_VISIT_STATUSES))
        .limit(1)
    )
    if visited is None:
        raise Conflict("A feedback link is made after a visit (a check-in that was not "
                       "rejected), after the first contact of a remote job, or once the job "
                       "is closed; this job has none of these yet.")


# --- the public side ---------------------------------------------------------------

def open_link(token: str) -> dict[str, Any]:
    """What the customer's page shows: the job, the site and the engineer's first name."""
    row = _usable_link(token, utcnow())
    return {
        "job": {"title": row.Job.title},
        "site": {"name": row.Site.name, "address": row.Site.address},
        "engineer": {"name": display_name(row.engineer_name)},
        "expires_at": row.FeedbackLink.expires_at,
    }


def submit_feedback(token: str, data: dict[str, Any], rater: User | None = None) -> Feedback:
    """The customer's rating; the link is used up in the same transaction. A request
    signed in to an account (`rater`: the engineer's phone, a supervisor's laptop) is
    refused: the rating is the customer's, from their own phone (403 RATING_BY_STAFF)."""
    now = utcnow()
    row = _usable_link(token, now)
    if rater is not None:
        raise Forbidden("A signed-in account cannot rate a visit; the customer rates it "
                        "from their own phone.", code="RATING_BY_STAFF")
    link = row.FeedbackLink
    # Two submissions at once: the row lock makes the second wait and then find
    # the link used (rowcount 0), so exactly one of them writes feedback.
    claimed = db.session.execute(
        sa.update(FeedbackLink)
        .where(FeedbackLink.id == link.id, FeedbackLink.used_at.is_(None),
               FeedbackLink.replaced_at.is_(None), FeedbackLink.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise _used("This link has just been used.")
    feedback = Feedback(job_id=link.job_id, link_id=link.id, score=data["score"],
                        comment=data.get("comment") or None, submitted_at=now)
    try:
        # A second live link of the same job (made while this one was being used)
        # meets the unique job_id here: answer as for a used link, not with a 500.
        with db.session.begin_nested():
            db.session.add(feedback)
    except sa.exc.IntegrityError:
        raise _used("This job has already been rated.") from None
    alerts.raise_feedback_alerts(feedback)  # NEGATIVE_FEEDBACK, KEYWORD (kpi.md)
    return feedback


def _usable_link(token: str, now: datetime) -> sa.Row:
    """The link of a genuine token with its job, site and engineer, or 404 / 410."""
    link_id = read_token(settings.current().secret_key, token)
    if link_id is None:
        raise _unknown()
    row = db.session.execute(
        sa.select(FeedbackLink, Job, Site, User.name.label("engineer_name"),
                  Feedback.id.label("feedback_id"))
        .join(Job, Job.id == FeedbackLink.job_id)
        .join(Site, Site.id == Job.site_id)
        .outerjoin(User, User.id == Job.engineer_id)
        .outerjoin(Feedback, Feedback.job_id == Job.id)
        .where(FeedbackLink.digest == token_digest(token))
    ).first()
    if row is None or row.FeedbackLink.id != link_id:
        raise _unknown()
    link = row.FeedbackLink
    if link.used_at is not None or row.feedback_id is not None:
        raise _used("This link has already been used; thank you for your feedback.")
    if link.replaced_at is not None:
        raise _used("This link was replaced by a newer one; use the latest link you received.")
    if row.Job.status == "cancelled":
        raise Gone("This job was cancelled; the link no longer works.", code="LINK_EXPIRED")
    if link.expires_at <= now:
        raise Gone("This link has expired.", code="LINK_EXPIRED")
    return row


def _unknown() -> NotFound:
    return NotFound("No such feedback link.")


def _used(detail: str) -> Gone:
    return Gone(detail, code="LINK_USED")


# --- the back office -----------------------------------------------------------------

def list_feedback(viewer: User, args: dict[str, Any]) -> sa.Select:
    """Feedback on jobs whose engineer the viewer may see, newest first, with the job."""
    query = (
        sa.select(Feedback, Job)
        .join(Job, Job.id == Feedback.job_id)
        .where(owned_by_visible(viewer, Job.engineer_id))
        .order_by(Feedback.submitted_at.desc(), Feedback.id.desc())
    )
    if "engineer_id" in args:
        query = query.where(Job.engineer_id == args["engineer_id"])
    if "job_id" in args:
        query = query.where(Feedback.job_id == args["job_id"])
    if "from_" in args:
        query = query.where(Feedback.submitted_at >= args["from_"])
    if "to" in args:
        query = query.where(Feedback.submitted_at < args["to"])
    return query


def get_feedback(viewer: User, feedback_id: int) -> sa.Row:
    row = db.session.execute(
        sa.select(Feedback, Job)
        .join(Job, Job.id == Feedback.job_id)
        .where(Feedback.id == feedback_id, owned_by_visible(viewer, Job.engineer_id))
    ).first()
    if row is None:
        raise NotFound(f"No feedback {feedback_id}.")
    return row


def public_rate_limit() -> str:
    """Requests per client address on the two public routes (FEEDBACK_RATE_LIMIT)."""
    return settings.current().get("FEEDBACK_RATE_LIMIT") or DEFAULT_RATE_LIMIT
