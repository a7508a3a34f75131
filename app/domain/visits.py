"""A visit's life: its statuses and the moves between them (api.md, Visits).

    flagged ─ approve ─▶ approved ─ reject (new evidence) ─▶ rejected
    flagged, verified ─ reject ─▶ rejected ─ dispute (once) ─▶ disputed
    disputed ─ approve or reject (final) ─▶ approved or rejected

A new flag on a verified or approved visit sends it back to flagged. Pure transitions:
each takes the visit's state and answers the next one or raises the broken rule; the
services (app/services/visits.py, visit_flags.py) load, store and audit.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import Conflict, Forbidden

# The status of a check-in: flagged when any flag was raised, else verified.
FLAGGED, VERIFIED = "flagged", "verified"
# ?status= made only of these is the supervisor's queue, listed oldest first.
QUEUE_STATUSES = frozenset({"flagged", "disputed"})
# Which decision each status allows; a disputed visit's decision is final.
ALLOWED_DECISIONS: dict[str, frozenset[str]] = {
    "flagged": frozenset({"approve", "reject"}),
    "verified": frozenset({"reject"}),
    "approved": frozenset({"reject"}),
    "disputed": frozenset({"approve", "reject"}),
}
DECIDED_STATUS = {"approve": "approved", "reject": "rejected"}
# A new flag sends a visit that had passed back to the supervisor's queue.
REOPENED_BY_NEW_FLAG = frozenset({"verified", "approved"})


def checked_in_status(flags: Sequence[str]) -> str:
    return FLAGGED if flags else VERIFIED


@dataclass(frozen=True)
class Decided:
    """A visit after a decision: its status, whether the decision is final, and when it
    was rejected (None unless rejected)."""

    status: str
    final: bool
    rejected_at: datetime | None


def decide(status: str, final: bool, decision: str, own_visit: bool, now: datetime) -> Decided:
    """Approve or reject a visit in `status` (`final`: a dispute was decided already)."""
    if own_visit:
        raise Forbidden("Nobody verifies their own visit.")
    # After the final decision on a dispute only new evidence (a new flag) reopens it.
    if final and status != FLAGGED:
        raise Conflict("The decision on this dispute was final.", code="DECISION_FINAL")
    if decision not in ALLOWED_DECISIONS.get(status, frozenset()):
        raise Conflict(f"A {status} visit cannot be given the decision '{decision}'.")
    return Decided(DECIDED_STATUS[decision], final or status == "disputed",
                   now if decision == "reject" else None)


def dispute(status: str, already_disputed: bool) -> str:
    """The engineer contests a rejection, once; the status it then has."""
    if already_disputed:
        raise Conflict("This visit was already disputed.", code="ALREADY_DISPUTED")
    if status != "rejected":
        raise Conflict(f"Only a rejected visit may be disputed; this one is {status}.")
    return "disputed"


@dataclass(frozen=True)
class Raised:
    """A visit's flags and status after flags were raised on it; `new`: those it lacked."""

    flags: list[str]
    new: list[str]
    status: str


def raise_flags(status: str, flags: Sequence[str] | None, raised: Iterable[str]) -> Raised:
    """Flags only accumulate (those the visit lacks are added, in order), and any raised
    flag returns a verified or approved visit to flagged: new evidence, even when the
    flag's name is one it had before (a second reused photo after an approval, say)."""
    wanted = list(dict.fromkeys(raised))
    current = list(flags or [])
    if not wanted:
        return Raised(current, [], status)
    new = [flag for flag in wanted if flag not in current]
    return Raised([*current, *new], new,
                  FLAGGED if status in REOPENED_BY_NEW_FLAG else status)
