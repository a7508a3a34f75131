"""Rules about people's roles and teams."""
from __future__ import annotations

from typing import Any

# What a non-admin may change on their own account.
SELF_EDITABLE = frozenset({"name", "password", "current_password", "locale"})


def role_field_errors(changes: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Engineers need a level and a work type; only engineers have a supervisor."""
    merged = {**(current or {}), **changes}
    errors: dict[str, list[str]] = {}
    if merged.get("role") == "engineer":
        for name in ("level", "work_type"):
            if not merged.get(name):
                errors[name] = ["Required for engineers."]
    elif merged.get("role") and changes.get("supervisor_id") is not None:
        errors["supervisor_id"] = ["Only engineers have a supervisor."]
    return errors
