"""Trainings and who attended them (kpi.md: trainings_attended, on `held_at`).

A supervisor records a training of their team's engineers, an admin one of anyone's.
Engineers see the trainings they attended; a supervisor those that one of their team
attended and those they recorded; an admin all. A training is corrected or removed by
an admin, by the supervisor who recorded it, or by one who supervises every attendee;
each correction is audited with the figures before and after.
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from app.errors import Forbidden, Invalid
from app.extensions import db
from app.models import Training, TrainingAttendee, User
from app.scope import get_visible, owned_by_visible
from app.services import audit
from app.services.compliance import ensure_not_future

FIELDS = ("title", "held_at", "hours")


def trainings_visible(user: User) -> sa.ColumnElement[bool]:
    """Trainings attended by someone in the user's scope, and those the user recorded."""
    if user.role == "admin":
        return sa.true()
    attended = sa.select(TrainingAttendee.training_id).where(
        owned_by_visible(user, TrainingAttendee.user_id))
    return sa.or_(Training.id.in_(attended), Training.created_by_id == user.id)


def get_training(viewer: User, training_id: int) -> Training:
    return get_visible(Training, training_id, trainings_visible(viewer))


def create_training(actor: User, data: dict[str, Any]) -> Training:
    ensure_not_future("held_at", data["held_at"])
    attendee_ids = list(dict.fromkeys(data["attendee_ids"]))
    _check_new_attendees(actor, attendee_ids)
    training = Training(title=data["title"], held_at=data["held_at"], hours=data["hours"],
                        created_by_id=actor.id,
                        attendees=[TrainingAttendee(user_id=i) for i in attendee_ids])
    db.session.add(training)
    db.session.flush()
    audit.record(actor.id, "training.create", "training", training.id, {"after": snapshot(training)})
    return training


def update_training(actor: User, training_id: int, data: dict[str, Any]) -> Training:
    training = _editable(actor, training_id)
    if "held_at" in data:
        ensure_not_future("held_at", data["held_at"])
    before = snapshot(training)
    for name in FIELDS:
        if name in data:
            setattr(training, name, data[name])
    if "attendee_ids" in data:
        wanted = list(dict.fromkeys(data["attendee_ids"]))
        # Those already listed may stay (an engineer who has left still attended).
        _check_new_attendees(actor, [i for i in wanted if i not in before["attendee_ids"]])
        kept = {a.user_id: a for a in training.attendees}
        training.attendees = [kept.get(i) or TrainingAttendee(user_id=i) for i in wanted]
    db.session.flush()
    audit.record_changes(actor.id, "training.update", "training", training.id, before, snapshot(training))
    return training


def delete_training(actor: User, training_id: int) -> None:
    training = _editable(actor, training_id)
    audit.record(actor.id, "training.delete", "training", training.id, {"before": snapshot(training)})
    db.session.delete(training)
    db.session.flush()


def list_trainings(viewer: User, args: dict[str, Any]) -> sa.Select:
    query = sa.select(Training).where(trainings_visible(viewer)).order_by(Training.id.desc())
    if args.get("from_") is not None:
        query = query.where(Training.held_at >= args["from_"])
    if args.get("to") is not None:
        query = query.where(Training.held_at < args["to"])
    if args.get("engineer_id") is not None:
        query = query.where(Training.id.in_(
            sa.select(TrainingAttendee.training_id).where(TrainingAttendee.user_id == args["engineer_id"])))
    return query


def snapshot(training: Training) -> dict[str, Any]:
    """What an audit entry keeps of a training."""
    return {"title": training.title, "held_at": training.held_at.isoformat(),
            "hours": str(Decimal(training.hours).quantize(Decimal("0.01"))),
            "attendee_ids": sorted(training.attendee_ids)}


def _editable(actor: User, training_id: int) -> Training:
    """A visible training the actor may change: 403 when seen but not theirs to change."""
    training = get_training(actor, training_id)
    if actor.role == "admin" or training.created_by_id == actor.id:
        return training
    outside_team = db.session.scalar(
        sa.select(sa.func.count()).select_from(TrainingAttendee).join(User, User.id == TrainingAttendee.user_id)
        .where(TrainingAttendee.training_id == training.id,
               sa.or_(User.supervisor_id.is_(None), User.supervisor_id != actor.id)))
    if outside_team:
        raise Forbidden("Only an admin, the supervisor who recorded this training or one who "
                        "supervises every attendee may change it.")
    return training


def _check_new_attendees(actor: User, user_ids: Iterable[int]) -> None:
    """Attendees are active engineers, of the actor's team for a supervisor (422 otherwise,
    without telling an unknown id from another team's engineer)."""
    user_ids = list(user_ids)
    if not user_ids:
        return
    valid = set(db.session.scalars(
        sa.select(User.id).where(User.id.in_(user_ids), User.role == "engineer",
                                 User.active.is_(True), owned_by_visible(actor, User.id))))
    bad = [str(i) for i in user_ids if i not in valid]
    if bad:
        who = "active engineers of your team" if actor.role == "supervisor" else "active engineers"
        raise Invalid(f"Attendees must be {who}.",
                      {"attendee_ids": [f"Not one of the {who}: {', '.join(bad)}."]})
