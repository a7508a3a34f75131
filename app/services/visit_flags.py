"""Flags added to a visit after the fact (a photo uploaded later, a visit left elsewhere
open); the rule (flags accumulate, new evidence reopens) is app/domain/visits.py."""
from __future__ import annotations

from collections.abc import Iterable

from app.domain import visits as life
from app.extensions import db
from app.models import Visit
from app.models.types import utcnow
from app.services import alerts


def raise_visit_flags(visit: Visit, flags: Iterable[str]) -> list[str]:
    """Raise flags on a visit: those it lacks are added, and any raised flag returns a
    verified or approved visit to `flagged`. Returns the flags that were new."""
    flags = list(flags)
    if not flags:
        return []
    raised = life.raise_flags(visit.status, visit.flags, flags)
    if raised.new:
        visit.flags = raised.flags  # a new list, so that the JSON column is saved
    if raised.status != visit.status:
        visit.status = raised.status
    if visit.status == life.FLAGGED:
        db.session.flush()
        alerts.raise_flag_pattern_alert(visit.engineer_id, utcnow())
    return raised.new
