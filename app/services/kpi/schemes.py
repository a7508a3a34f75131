"""KPI schemes: the six defaults, each replaceable whole by an admin (audited)."""
from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa

from app.domain.kpi import (
    DEFAULT_SCHEMES,
    SCHEME_KEYS,
    Scheme,
    scheme_from_dict,
    scheme_to_dict,
    validate_scheme,
)
from app.errors import Invalid, NotFound
from app.extensions import db
from app.models import KpiScheme, User
from app.services import audit


def _row_dict(row: KpiScheme) -> dict[str, Any]:
    return {"key": row.key, "pass_score": row.pass_score, "metrics": copy.deepcopy(row.metrics)}


def scheme_dicts() -> dict[str, dict[str, Any]]:
    """Every scheme in force, by key (a stored change overrides the default); one query."""
    schemes = copy.deepcopy(DEFAULT_SCHEMES)
    for row in db.session.scalars(sa.select(KpiScheme).where(KpiScheme.key.in_(SCHEME_KEYS))):
        schemes[row.key] = _row_dict(row)
    return schemes


def schemes_in_force() -> dict[str, Scheme]:
    return {key: scheme_from_dict(data) for key, data in scheme_dicts().items()}


def list_schemes() -> list[dict[str, Any]]:
    """The six schemes in the order of kpi.md."""
    schemes = scheme_dicts()
    return [schemes[key] for key in SCHEME_KEYS]


def get_scheme(key: str) -> dict[str, Any]:
    if key not in SCHEME_KEYS:
        raise NotFound(f"No KPI scheme {key}.")
    row = db.session.get(KpiScheme, key)
    return _row_dict(row) if row else copy.deepcopy(DEFAULT_SCHEMES[key])


def update_scheme(actor: User, key: str, data: dict[str, Any]) -> dict[str, Any]:
    """Replace a scheme whole (kpi.md, Schemes); 422 with every broken rule."""
    before = get_scheme(key)  # 404 for an unknown key
    if "key" in data and data["key"] != key:
        raise Invalid("The body names another scheme than the URL.",
                      {"key": [f"Must be {key} (the scheme in the URL) or left out."]})
    candidate = {**data, "key": key}
    errors = validate_scheme(candidate)
    if errors:
        raise Invalid("The scheme breaks the rules of kpi.md.", errors)
    after = scheme_to_dict(scheme_from_dict(candidate))
    row = db.session.get(KpiScheme, key) or KpiScheme(key=key)
    row.pass_score = after["pass_score"]
    row.metrics = after["metrics"]
    row.updated_by_id = actor.id
    db.session.add(row)
    db.session.flush()
    audit.record(actor.id, "scheme.update", "kpi_scheme", None,
                 {"key": key, "before": before, "after": after})
    return after
