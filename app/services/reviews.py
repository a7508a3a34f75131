"""Monthly reviews (policy point 5): a one-to-one with a summary, an action plan and next
month's targets, acknowledged by the engineer, whose action items are ticked off."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app import settings
from app.errors import Conflict, Invalid, NotFound
from app.extensions import db
from app.models import Review, ReviewActionItem, User
from app.models.types import utcnow
from app.scope import get_visible, owned_by_visible, supervises
from app.services import audit

# PostgreSQL advisory lock namespace ("REVW") for one engineer's reviews.
_REVIEW_LOCK_NAMESPACE = 0x52455657


def current_period(now: datetime | None = None) -> str:
    """This month as `YYYY-MM` in the organisation's TIMEZONE."""
    zone = settings.current().zone
    return (now or utcnow()).astimezone(zone).strftime("%Y-%m")


def _reviewed_engineer(actor: User, engineer_id: int) -> User:
    """An engineer of the supervisor's team (any engineer for an admin); the same 422 for
    one that does not exist, so that nobody learns who exists outside their team."""
    engineer = db.session.get(User, engineer_id)
    if engineer is None or engineer.role != "engineer" or not supervises(actor, engineer):
        raise Invalid("engineer_id must name an engineer of your team.",
                      {"engineer_id": ["Must name an engineer of your team."]})
    return engineer


def _lock_reviews_of(engineer_id: int) -> None:
    """Serialise review creation per engineer, so that the one-per-period check holds
    under concurrency (SQLite write requests already hold the database's write lock)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, :id)"),
                           {"ns": _REVIEW_LOCK_NAMESPACE, "id": engineer_id})


def create_review(actor: User, data: dict[str, Any]) -> Review:
    engineer = _reviewed_engineer(actor, data["engineer_id"])
    if data["period"] > current_period():
        raise Invalid("A review is held for a month that has begun.",
                      {"period": ["Must not be in the future."]})
    _lock_reviews_of(engineer.id)
    taken = sa.select(Review.id).where(Review.engineer_id == engineer.id,
                                       Review.period == data["period"])
    if db.session.scalar(taken) is not None:
        raise Conflict(f"This engineer already has a review for {data['period']}.")
    review = Review(
        engineer_id=engineer.id, supervisor_id=actor.id, period=data["period"],
        summary=data["summary"], strengths=data.get("strengths") or None,
        improvements=data.get("improvements") or None, next_targets=data.get("next_targets"),
    )
    db.session.add(review)
    db.session.flush()
    items = [ReviewActionItem(review_id=review.id, title=item["title"], due_date=item["due_date"])
             for item in data["action_items"]]
    db.session.add_all(items)
    db.session.flush()
    audit.record(actor.id, "review.create", "review", review.id, {
        "engineer_id": engineer.id, "period": review.period,
        "action_items": len(items), "next_targets": review.next_targets,
    })
    return with_action_items([review])[0]


def list_reviews(viewer: User, args: dict[str, Any]) -> sa.Select:
    query = sa.select(Review).where(owned_by_visible(viewer, Review.engineer_id)).order_by(
        Review.created_at.desc(), Review.id.desc()
    )
    if args.get("engineer_id") is not None:
        query = query.where(Review.engineer_id == args["engineer_id"])
    if args.get("period"):
        query = query.where(Review.period == args["period"])
    return query


def with_action_items(reviews: list[Review]) -> list[Review]:
    """Attach each review's action items (`review.action_items`), for a page in one query."""
    by_review: dict[int, list[ReviewActionItem]] = defaultdict(list)
    if reviews:
        items = db.session.scalars(
            sa.select(ReviewActionItem)
            .where(ReviewActionItem.review_id.in_([r.id for r in reviews]))
            .order_by(ReviewActionItem.id)
        )
        for item in items:
            by_review[item.review_id].append(item)
    for review in reviews:
        review.action_items = by_review[review.id]  # type: ignore[attr-defined]
    return reviews


def with_action_items_page(page: dict[str, Any]) -> dict[str, Any]:
    with_action_items(page["items"])
    return page


def get_review(viewer: User, review_id: int) -> Review:
    review = get_visible(Review, review_id, owned_by_visible(viewer, Review.engineer_id))
    return with_action_items([review])[0]


def acknowledge(engineer: User, review_id: int) -> Review:
    """The reviewed engineer acknowledges; a second time keeps the first time."""
    review = get_visible(Review, review_id, owned_by_visible(engineer, Review.engineer_id))
    result = db.session.execute(
        sa.update(Review).where(Review.id == review.id, Review.acknowledged_at.is_(None))
        .values(acknowledged_at=utcnow()).execution_options(synchronize_session=False)
    )
    db.session.refresh(review)
    if result.rowcount:
        audit.record(engineer.id, "review.acknowledge", "review", review.id,
                     {"engineer_id": review.engineer_id, "period": review.period})
    return with_action_items([review])[0]


def set_action_item_done(actor: User, review_id: int, item_id: int, done: bool) -> Review:
    """Tick an action item off (or back on): stamped with when and by whom, audited."""
    review = get_visible(Review, review_id, owned_by_visible(actor, Review.engineer_id))
    item = db.session.scalar(sa.select(ReviewActionItem).where(
        ReviewActionItem.id == item_id, ReviewActionItem.review_id == review.id
    ))
    if item is None:
        raise NotFound(f"No action item {item_id} in review {review.id}.")
    if item.done != done:
        item.done = done
        item.done_at = utcnow() if done else None
        item.done_by_id = actor.id if done else None
        db.session.flush()
        audit.record(actor.id, "review.action_item", "review", review.id,
                     {"item_id": item.id, "title": item.title, "done": done})
    return with_action_items([review])[0]
