"""Use cases on people: create, change, deactivate; every role change audited."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from app.domain import people as rules
from app.errors import Conflict, Invalid
from app.extensions import db
from app.models import Site, User
from app.scope import get_visible_user, users_visible
from app.services import audit
from app.services.auth import (
    check_login_limits,
    count_login_failure,
    end_other_sessions_and_tokens,
    hash_password,
    normalize_email,
)


def _check_supervisor(supervisor_id: int | None) -> None:
    if supervisor_id is None:
        return
    supervisor = db.session.get(User, supervisor_id)
    if supervisor is None or supervisor.role != "supervisor" or not supervisor.active:
        raise Invalid(
            "supervisor_id must name an active supervisor.",
            {"supervisor_id": ["Must name an active supervisor."]},
        )


def _check_home_site(site_id: int | None) -> None:
    if site_id is not None and db.session.get(Site, site_id) is None:
        raise Invalid("home_site_id must name a site.", {"home_site_id": ["Unknown site."]})


def _check_email_free(email: str, user_id: int | None = None) -> None:
    query = sa.select(User.id).where(User.email == email)
    if user_id is not None:
        query = query.where(User.id != user_id)
    if db.session.scalar(query) is not None:
        raise Conflict("A user with this email exists already.", code="CONFLICT")


def _flush_email_unique() -> None:
    """Write the row now; a concurrent request that took the same email in the meantime
    trips the unique index, which is the same conflict as the check above (not a 500)."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError as exc:
        db.session.rollback()
        raise Conflict("A user with this email exists already.", code="CONFLICT") from exc


def create_user(actor: User | None, data: dict[str, Any]) -> User:
    email = normalize_email(data["email"])
    _check_email_free(email)
    _check_supervisor(data.get("supervisor_id"))
    _check_home_site(data.get("home_site_id"))
    engineer = data["role"] == "engineer"
    user = User(
        email=email,
        name=data["name"].strip(),
        password_hash=hash_password(data["password"]),
        role=data["role"],
        level=data.get("level") if engineer else None,
        work_type=data.get("work_type") if engineer else None,
        supervisor_id=data.get("supervisor_id") if engineer else None,
        home_site_id=data.get("home_site_id") if engineer else None,
        locale=data.get("locale"),
        phone=data.get("phone"),
    )
    db.session.add(user)
    _flush_email_unique()
    audit.record(actor.id if actor else None, "user.create", "user", user.id,
                 {"email": email, "role": user.role, "supervisor_id": user.supervisor_id})
    db.session.flush()
    return user


def list_users(viewer: User, args: dict[str, Any]) -> sa.Select:
    query = sa.select(User).where(users_visible(viewer)).order_by(User.id.desc())
    if viewer.role == "supervisor":
        query = query.where(User.supervisor_id == viewer.id)
    if "role" in args:
        query = query.where(User.role == args["role"])
    if "active" in args:
        query = query.where(User.active == args["active"])
    return query


# Changes recorded in the audit log, with their action names.
AUDITED_FIELDS = {
    "role": "user.role_change",
    "level": "user.level_change",
    "work_type": "user.work_type_change",
    "supervisor_id": "user.team_change",
    "home_site_id": "user.home_site_change",
    "active": "user.active_change",
    "password": "user.password_change",
    "email": "user.email_change",
    "phone": "user.phone_change",
}


def update_user(actor: User, user_id: int, data: dict[str, Any], address: str | None = None,
                session_id: str | None = None) -> User:
    """Change a user. `address`: the client's (a password change counts against the login
    limits); `session_id`: the caller's browser session, kept when they change themselves."""
    user = get_visible_user(actor, user_id)
    is_self = user.id == actor.id
    rules.check_who_may_change(actor.role, is_self, data)
    if "password" in data and is_self:
        # Guessing the current password here is a sign-in by another door: it counts
        # against the same login limits as POST /auth/login.
        check_login_limits(user.email, address)
        current = data.get("current_password") or ""
        if not check_password_hash(user.password_hash, current):
            count_login_failure(user.email, address)
            raise Invalid("The current password is wrong.",
                          {"current_password": ["Give your current password to change it."]})
    rules.check_change(user.id, is_self, data,
                       {"role": user.role, "level": user.level, "work_type": user.work_type})
    if "supervisor_id" in data:
        _check_supervisor(data["supervisor_id"])
    _check_home_site(data.get("home_site_id"))
    if "email" in data:
        data["email"] = normalize_email(data["email"])
        _check_email_free(data["email"], user.id)
    if rules.stops_supervising(user.role, data):
        team = db.session.scalar(sa.select(sa.func.count()).where(User.supervisor_id == user.id))
        if team:
            raise Conflict("Move this supervisor's engineers to another supervisor first.")

    changes: dict[str, Any] = {}

    def change(name: str, value: Any) -> None:
        if getattr(user, name) != value:
            changes[name] = {"from": getattr(user, name), "to": value}
            setattr(user, name, value)

    for name, value in data.items():
        if name == "current_password":
            continue
        if name == "password":
            user.password_hash = hash_password(value)
            changes["password"] = True
            continue
        change(name, value.strip() if name == "name" else value)
    # Someone who stops being an engineer leaves their team: audited like any change.
    for name in rules.cleared_on_role(user.role):
        change(name, None)
    _flush_email_unique()

    if "password" in changes or changes.get("active", {}).get("to") is False:
        end_other_sessions_and_tokens(user, session_id if is_self else None)
    for name, detail in changes.items():
        if name in AUDITED_FIELDS:
            audit.record(actor.id, AUDITED_FIELDS[name], "user", user.id,
                         {name: detail} if name != "password" else {"by_admin": not is_self})
    db.session.flush()
    return user
