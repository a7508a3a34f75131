"""Rules about people's roles and teams."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from app.domain.errors import Forbidden, Invalid

# What a non-admin may change on their own account.
SELF_EDITABLE = frozenset({"name", "password", "current_password", "locale", "phone"})


# Fields that only an engineer has; cleared when someone stops being an engineer.
ENGINEER_ONLY = ("level", "work_type", "supervisor_id", "home_site_id")
_ENGINEER_ONLY_ERRORS = {
    "level": "Only engineers have a level.",
    "work_type": "Only engineers have a work type.",
    "supervisor_id": "Only engineers have a supervisor.",
    "home_site_id": "Only engineers have a home site.",
}


def role_field_errors(changes: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Engineers need a level and a work type; only engineers have a level, a work type
    or a supervisor (given to anyone else, it would be dropped without a word)."""
    merged = {**(current or {}), **changes}
    errors: dict[str, list[str]] = {}
    if merged.get("role") == "engineer":
        for name in ("level", "work_type"):
            if not merged.get(name):
                errors[name] = ["Required for engineers."]
    elif merged.get("role"):
        for name in ENGINEER_ONLY:
            if changes.get(name) is not None:
                errors[name] = [_ENGINEER_ONLY_ERRORS[name]]
    return errors


# --- changing a user (services/users.update_user loads, checks the database, stores) ---


def check_who_may_change(actor_role: str, is_self: bool, fields: Iterable[str]) -> None:
    """An admin changes anyone; anyone else only themselves, and only SELF_EDITABLE."""
    if actor_role == "admin":
        return
    if not is_self:
        raise Forbidden("Only an admin may change another user.")
    extra = sorted(set(fields) - SELF_EDITABLE)
    if extra:
        raise Invalid("You may change only your name, password, locale and phone.",
                      {name: ["Unknown field."] for name in extra})


def check_change(user_id: int, is_self: bool, changes: Mapping[str, Any],
                 current: Mapping[str, Any]) -> None:
    """The rules of a change that need nothing but the user (`current`: role, level,
    work_type): nobody deactivates themselves, the fields fit the role, nobody
    supervises themselves."""
    if is_self and changes.get("active") is False:
        raise Invalid("You cannot deactivate yourself.", {"active": ["You cannot deactivate yourself."]})
    errors = role_field_errors(
        {k: changes[k] for k in ("role", "level", "work_type", "supervisor_id", "home_site_id")
         if k in changes}, dict(current)
    )
    if errors:
        raise Invalid("The user's fields do not fit the role.", errors)
    if "supervisor_id" in changes and changes["supervisor_id"] == user_id:
        raise Invalid("Nobody supervises themselves.", {"supervisor_id": ["Nobody supervises themselves."]})


def stops_supervising(current_role: str, changes: Mapping[str, Any]) -> bool:
    """A supervisor given another role (who must have no team left)."""
    return current_role == "supervisor" and changes.get("role", current_role) != "supervisor"


def cleared_on_role(role: str) -> tuple[str, ...]:
    """The fields emptied for someone who is (or stops being) anything but an engineer."""
    return () if role == "engineer" else ENGINEER_ONLY
