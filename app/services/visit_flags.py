"""Flags added to a visit after the fact (a photo uploaded later, a visit left open)."""
from __future__ import annotations

from collections.abc import Iterable

from app.extensions import db
from app.models import Visit
from app.models.types import utcnow

# A new flag sends a visit that had passed back to the supervisor's queue.
REOPENED_BY_NEW_FLAG = frozenset({"verified", "approved"})


def raise_visit_flags(visit: Visit, flags: Iterable[str]) -> list[str]:
    """Raise flags on a visit: those it lacks are added, and any raised flag returns a
    verified or approved visit to `flagged`. Returns the flags that were new."""
    raised = list(dict.fromkeys(flags))
    if not raised:
        return []
    new = [flag for flag in raised if flag not in (visit.flags or [])]
    if new:
        visit.flags = [*(visit.flags or []), *new]  # a new list, so that the JSON column is saved
    # New evidence sends a visit that had passed back to the queue, even when the flag's
    # name is one it had before (a second reused photo after an approval, say).
    if visit.status in REOPENED_BY_NEW_FLAG:
        visit.status = "flagged"
    if visit.status == "flagged":
        from app.services import alerts  # alerts read visits; imported late to avoid a cycle

        db.session.flush()
        alerts.raise_flag_pattern_alert(visit.engineer_id, utcnow())
    return new
