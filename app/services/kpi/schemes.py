"""KPI schemes: the six defaults, each replaceable whole by an admin (audited)."""
from __future__ import annotations

import copy
import json
from typing import Any

import sqlalchemy as sa

from app.domain.kpi import (
    DEFAULT_SCHEMES,
    DIMENSIONS,
    METRICS,
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


def scheme_key_of(engineer: Any) -> str:
    """The scheme an engineer is judged by: their level and work type now."""
    return f"{engineer.level or 'mid'}-{engineer.work_type or 'field'}"


def _row_dict(row: KpiScheme) -> dict[str, Any]:
    return {"key": row.key, "pass_score": row.pass_score, "metrics": copy.deepcopy(row.metrics)}


def scheme_dicts() -> dict[str, dict[str, Any]]:
    """Every scheme in force, by key (a stored change overrides the default); one query."""
    schemes = copy.deepcopy(DEFAULT_SCHEMES)
    for row in db.session.scalars(sa.select(KpiScheme).where(KpiScheme.key.in_(SCHEME_KEYS))):
        schemes[row.key] = _row_dict(row)
    return schemes


_BUILT: dict[str, Scheme] = {}  # schemes by their JSON: built (and validated) once


def _built(data: dict[str, Any]) -> Scheme:
    text = json.dumps(data, sort_keys=True)
    scheme = _BUILT.get(text)
    if scheme is None:
        if len(_BUILT) > 256:
            _BUILT.clear()
        scheme = _BUILT[text] = scheme_from_dict(data)
    return scheme


# Every stored row (at most the six schemes): read on every write that moves a figure,
# so without an IN list to expand; a key no scheme has is left out below.
_STORED = sa.select(KpiScheme.key, KpiScheme.pass_score, KpiScheme.metrics)
_KNOWN = frozenset(SCHEME_KEYS)
_DEFAULTS: dict[str, Scheme] = {}


def _defaults() -> dict[str, Scheme]:
    if not _DEFAULTS:
        _DEFAULTS.update({key: _built(data) for key, data in DEFAULT_SCHEMES.items()})
    return _DEFAULTS


def schemes_in_force() -> dict[str, Scheme]:
    """Every scheme in force as a Scheme (one query; schemes are immutable, so the same
    JSON gives the same object every time)."""
    schemes = dict(_defaults())
    for key, pass_score, metrics in db.session.connection().execute(_STORED):
        if key in _KNOWN:
            schemes[key] = scheme_from_row(key, pass_score, metrics)
    return schemes


def scheme_key_sql(users: sa.FromClause) -> sa.ColumnElement[str]:
    """`scheme_key_of` in SQL, to read an engineer's stored scheme in the same statement."""
    return (sa.func.coalesce(users.c.level, "mid") + "-"
            + sa.func.coalesce(users.c.work_type, "field"))


def scheme_from_row(key: str, pass_score: Any, metrics: Any) -> Scheme:
    """The scheme `key` in force, from its stored row's columns (both None when it has
    none: its default)."""
    if pass_score is None and metrics is None:
        return _defaults()[key]
    return _built({"key": key, "pass_score": pass_score, "metrics": metrics})


def metric_definitions() -> dict[str, Any]:
    """The dimensions and the metrics (kpi.md's table) in their order: what a scheme may
    weigh and a review may set a target for."""
    return {"dimensions": list(DIMENSIONS),
            "items": [{"key": m.key, "dimension": m.dimension, "unit": m.unit, "better": m.better,
                       "kind": m.kind} for m in METRICS]}


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
