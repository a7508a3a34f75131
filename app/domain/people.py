"""Rules about people's roles and teams."""
from __future__ import annotations

from typing import Any

# What a non-admin may change on their own account.
SELF_EDITABLE = frozenset({"name", "password", "current_password", "locale"})


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
