"""Compliance events: safety incidents and process violations (kpi.md: safety_incidents,
process_violations, on `occurred_at`).

The engineer's supervisor (or an admin) records, corrects and removes them; each of
these is audited. Everyone sees the events of the engineers in their scope.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app import settings
from app.errors import Invalid
from app.extensions import db
from app.models import ComplianceEvent, User
from app.models.types import utcnow
from app.scope import get_visible, owned_by_visible
from app.services import audit

FIELDS = ("engineer_id", "kind", "severity", "occurred_at", "note")


def ensure_not_future(field: str, at: datetime) -> None:
    """Records of what happened may not lie in the future (beyond the clock tolerance)."""
    if at > utcnow() + timedelta(seconds=settings.current()["CLOCK_AHEAD_TOLERANCE_S"]):
        raise Invalid(f"{field} may not lie in the future.", {field: ["May not lie in the future."]})


def events_visible(user: User) -> sa.ColumnElement[bool]:
    return owned_by_visible(user, ComplianceEvent.engineer_id)


def get_event(viewer: User, event_id: int) -> ComplianceEvent:
    return get_visible(ComplianceEvent, event_id, events_visible(viewer))


def record_event(actor: User, data: dict[str, Any]) -> ComplianceEvent:
    _check(actor, data)
    event = ComplianceEvent(created_by_id=actor.id, **{name: data[name] for name in FIELDS})
    db.session.add(event)
    db.session.flush()
    audit.record(actor.id, "compliance.create", "compliance_event", event.id, {"after": snapshot(event)})
    return event


def update_event(actor: User, event_id: int, data: dict[str, Any]) -> ComplianceEvent:
    event = get_event(actor, event_id)
    _check(actor, data)
    before = snapshot(event)
    for name, value in data.items():
        setattr(event, name, value)
    audit.record_changes(actor.id, "compliance.update", "compliance_event", event.id, before, snapshot(event))
    db.session.flush()
    return event


def delete_event(actor: User, event_id: int) -> None:
    event = get_event(actor, event_id)
    audit.record(actor.id, "compliance.delete", "compliance_event", event.id, {"before": snapshot(event)})
    db.session.delete(event)
    db.session.flush()


def list_events(viewer: User, args: dict[str, Any]) -> sa.Select:
    query = sa.select(ComplianceEvent).where(events_visible(viewer)).order_by(ComplianceEvent.id.desc())
    if args.get("engineer_id") is not None:
        query = query.where(ComplianceEvent.engineer_id == args["engineer_id"])
    if args.get("kind"):
        query = query.where(ComplianceEvent.kind.in_(args["kind"]))
    if args.get("from_") is not None:
        query = query.where(ComplianceEvent.occurred_at >= args["from_"])
    if args.get("to") is not None:
        query = query.where(ComplianceEvent.occurred_at < args["to"])
    return query


def snapshot(event: ComplianceEvent) -> dict[str, Any]:
    """What an audit entry keeps of an event."""
    return {"engineer_id": event.engineer_id, "kind": event.kind, "severity": event.severity,
            "occurred_at": event.occurred_at.isoformat(), "note": event.note}


def _check(actor: User, data: dict[str, Any]) -> None:
    if "occurred_at" in data:
        ensure_not_future("occurred_at", data["occurred_at"])
    if "engineer_id" in data:
        engineer = db.session.scalar(sa.select(User.id).where(
            User.id == data["engineer_id"], User.role == "engineer", User.active.is_(True),
            owned_by_visible(actor, User.id)))
        if engineer is None:
            who = "an active engineer of your team" if actor.role == "supervisor" else "an active engineer"
            raise Invalid(f"engineer_id must name {who}.", {"engineer_id": [f"Not {who}."]})
