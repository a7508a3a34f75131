"""Job categories and their close checklists: the defaults in code, overridden or
extended by stored rows."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

import sqlalchemy as sa

from app.domain.jobs import DEFAULT_CATEGORIES, CategoryRule, is_key
from app.errors import Invalid
from app.extensions import db
from app.models import Category, User
from app.services import audit


def _rule(row: Category) -> CategoryRule:
    return CategoryRule(row.key, row.name, tuple(row.checklist), row.signature_required)


def category_rule(key: str) -> CategoryRule | None:
    """The category as configured now: its stored row, else the default, else None."""
    row = db.session.get(Category, key)
    return _rule(row) if row is not None else DEFAULT_CATEGORIES.get(key)


def require_category(key: str, field: str = "category") -> CategoryRule:
    """The category named by a request, or 422 on `field`."""
    rule = category_rule(key)
    if rule is None:
        raise Invalid(f"There is no category {key!r}.", {field: ["Unknown category."]})
    return rule


def list_categories() -> list[CategoryRule]:
    """Every category, by key (a handful of rows: read whole)."""
    rules = dict(DEFAULT_CATEGORIES)
    rules.update((row.key, _rule(row)) for row in db.session.scalars(sa.select(Category)))
    return [rules[key] for key in sorted(rules)]


def put_category(actor: User, key: str, data: dict[str, Any]) -> tuple[CategoryRule, bool]:
    """Create or replace a category whole; the change is audited with before and after.
    Also says whether the key was new (neither stored nor a default)."""
    if not is_key(key):
        raise Invalid("A category key is snake_case, at most 40 characters.",
                      {"key": ["Use snake_case, at most 40 characters."]})
    before = category_rule(key)
    row = db.session.get(Category, key) or Category(key=key)
    row.name = data["name"]
    row.checklist = list(data["checklist"])
    row.signature_required = data["signature_required"]
    db.session.add(row)
    db.session.flush()
    after = _rule(row)
    audit.record(actor.id, "category.update", "category", None, {
        "key": key,
        "from": _audit_form(before),
        "to": _audit_form(after),
    })
    return after, before is None


def _audit_form(rule: CategoryRule | None) -> dict[str, Any] | None:
    if rule is None:
        return None
    values = asdict(rule)
    values["checklist"] = list(rule.checklist)
    del values["key"]
    return values
