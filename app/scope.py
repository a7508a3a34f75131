"""Who may see what, decided in one place.

An engineer sees their own records, a supervisor those of the engineers whose
`supervisor_id` is theirs, an admin everything. Anything outside scope is answered
as if it did not exist (404), so that nobody learns what they may not see.
"""
from __future__ import annotations

from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import NotFound
from app.extensions import db
from app.models import User

T = TypeVar("T")


def team_ids(supervisor: User) -> sa.Select:
    """The ids of a supervisor's engineers, as a subquery."""
    return sa.select(User.id).where(User.supervisor_id == supervisor.id)


def owned_by_visible(user: User, engineer_column: InstrumentedAttribute) -> sa.ColumnElement[bool]:
    """A filter on records belonging to an engineer (`engineer_column`) within scope."""
    if user.role == "admin":
        return sa.true()
    if user.role == "supervisor":
        return engineer_column.in_(team_ids(user))
    return engineer_column == user.id


def sees_engineer(user: User, engineer_id: int, supervisor_id: int | None) -> bool:
    """`owned_by_visible` for an engineer already read, with their supervisor."""
    if user.role == "admin":
        return True
    if user.role == "supervisor":
        return supervisor_id == user.id
    return engineer_id == user.id


def jobs_visible(user: User) -> sa.ColumnElement[bool]:
    """Jobs: an engineer's own; a supervisor's team's, those they created, and every job
    not yet assigned (so that they can dispatch it); everything for an admin."""
    from app.models import Job

    if user.role == "admin":
        return sa.true()
    if user.role == "supervisor":
        return sa.or_(
            Job.engineer_id.in_(team_ids(user)),
            Job.created_by_id == user.id,
            Job.engineer_id.is_(None),
        )
    return Job.engineer_id == user.id


def jobs_changeable(user: User) -> sa.ColumnElement[bool]:
    """Jobs a user may change: a supervisor changes their team's jobs and dispatches
    unassigned ones; a job they created that another team now holds is theirs to read,
    not to change (that is the other supervisor's)."""
    from app.models import Job

    if user.role == "supervisor":
        return sa.or_(Job.engineer_id.in_(team_ids(user)), Job.engineer_id.is_(None))
    return jobs_visible(user)


def users_visible(user: User) -> sa.ColumnElement[bool]:
    """People a user may look up: themselves, and their team for a supervisor."""
    if user.role == "admin":
        return sa.true()
    if user.role == "supervisor":
        return sa.or_(User.id == user.id, User.supervisor_id == user.id)
    return User.id == user.id


def get_visible(model: type[T], object_id: int, clause: sa.ColumnElement[bool]) -> T:
    """The object with this id if `clause` lets the caller see it; 404 otherwise."""
    obj = db.session.scalar(sa.select(model).where(model.id == object_id, clause))  # type: ignore[attr-defined]
    if obj is None:
        raise NotFound(f"No {model.__name__.lower()} {object_id}.")
    return obj


def get_visible_user(viewer: User, user_id: int) -> User:
    return get_visible(User, user_id, users_visible(viewer))


def supervises(supervisor: User, engineer: User) -> bool:
    return supervisor.role == "admin" or (
        supervisor.role == "supervisor" and engineer.supervisor_id == supervisor.id
    )
