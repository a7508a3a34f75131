"""The tamper-evident audit log: appended one entry at a time, each chained by SHA-256."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry
from app.models.types import utcnow

GENESIS = "0" * 64
# Any constant: PostgreSQL advisory locks take a bigint key.
_AUDIT_LOCK_KEY = 0x46504155


def _content(at: datetime, actor_id: int | None, action: str, target_type: str,
             target_id: int | None, detail: dict[str, Any]) -> str:
    return json.dumps(
        {
            "at": at.isoformat(timespec="microseconds"),
            "actor_id": actor_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "detail": detail,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def apply_changes(target: Any, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Set each attribute of `data` that differs on `target`; what changed, as the log
    records it: {name: {"from": before, "to": after}}."""
    changes = {}
    for name, value in data.items():
        before = getattr(target, name)
        if before != value:
            changes[name] = {"from": before, "to": value}
            setattr(target, name, value)
    return changes


def record(actor_id: int | None, action: str, target_type: str, target_id: int | None,
           detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append an entry in the caller's transaction (committed with the change it records)."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Serialise appends: two concurrent writers must not both chain to the same entry.
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    # SQLite write requests already hold the database's write lock (BEGIN IMMEDIATE).
    prev = db.session.scalar(sa.select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
    prev = prev or GENESIS
    at = utcnow()
    detail = json.loads(json.dumps(detail or {}, default=str))
    entry = AuditEntry(
        at=at, actor_id=actor_id, action=action, target_type=target_type,
        target_id=target_id, detail=detail, prev_hash=prev,
        hash=chain_hash(prev, _content(at, actor_id, action, target_type, target_id, detail)),
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def record_changes(actor_id: int | None, action: str, target_type: str, target_id: int | None,
                   before: dict[str, Any], after: dict[str, Any]) -> AuditEntry | None:
    """Audit a correction with the fields it changed, as they were and as they are;
    nothing when it changed nothing."""
    changed = [name for name in after if after[name] != before.get(name)]
    if not changed:
        return None
    return record(actor_id, action, target_type, target_id,
                  {"before": {n: before[n] for n in changed}, "after": {n: after[n] for n in changed}})


def first_broken(entries: Iterable[AuditEntry]) -> AuditEntry | None:
    """The first entry whose content or link does not match its hashes, if any."""
    prev = GENESIS
    for entry in entries:
        content = _content(entry.at, entry.actor_id, entry.action, entry.target_type,
                           entry.target_id, entry.detail)
        if entry.prev_hash != prev or entry.hash != chain_hash(prev, content):
            return entry
        prev = entry.hash
    return None


def verify_chain() -> AuditEntry | None:
    entries = db.session.scalars(
        sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    )
    try:
        return first_broken(entries)
    finally:
        entries.close()  # stopping early must still release the server-side cursor
