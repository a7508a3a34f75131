"""Flags added to a visit after the fact (a photo uploaded later, a visit left open)."""
from __future__ import annotations

from collections.abc import Iterable

from app.extensions import db
from app.models import Visit
from app.models.types import utcnow

# A new flag sends a visit that had passed back to the supervisor's queue.
REOPENED_BY_NEW_FLAG = frozenset({"verified", "approved"})


def raise_visit_flags(visit: Visit, flags: Iterable[str]) -> list[str]:
    """Add the flags the visit does not have yet; returns those that were new."""
    new = [flag for flag in dict.fromkeys(flags) if flag not in (visit.flags or [])]
    if not new:
        return []
    visit.flags = [*(visit.flags or []), *new]  # a new list, so that the JSON column is saved
    if visit.status in REOPENED_BY_NEW_FLAG:
        visit.status = "flagged"
    if visit.status == "flagged":
        from app.services import alerts  # alerts read visits; imported late to avoid a cycle

        db.session.flush()
        alerts.raise_flag_pattern_alert(visit.engineer_id, utcnow())
    return new
