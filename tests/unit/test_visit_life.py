"""A visit's life (app/domain/visits.py): every status against every move, as tables."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.domain import visits as life
from app.domain.errors import Conflict, Forbidden

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
STATUSES = ("verified", "flagged", "approved", "rejected", "disputed")

# (status, final already, decision) → (status, final) after it, or the broken rule's code.
DECISIONS = [
    ("flagged", False, "approve", ("approved", False)),
    ("flagged", False, "reject", ("rejected", False)),
    ("verified", False, "reject", ("rejected", False)),
    ("verified", False, "approve", "CONFLICT"),
    ("approved", False, "reject", ("rejected", False)),
    ("approved", False, "approve", "CONFLICT"),
    ("rejected", False, "approve", "CONFLICT"),
    ("rejected", False, "reject", "CONFLICT"),
    ("disputed", False, "approve", ("approved", True)),
    ("disputed", False, "reject", ("rejected", True)),
    # After the final decision on a dispute only a new flag reopens the visit.
    ("approved", True, "reject", "DECISION_FINAL"),
    ("rejected", True, "approve", "DECISION_FINAL"),
    ("flagged", True, "approve", ("approved", True)),
    ("flagged", True, "reject", ("rejected", True)),
    ("flagged", False, "escalate", "CONFLICT"),
]


@pytest.mark.parametrize("status, final, decision, expected", DECISIONS)
def test_decisions(status, final, decision, expected):
    if isinstance(expected, str):
        with pytest.raises(Conflict) as raised:
            life.decide(status, final, decision, own_visit=False, now=NOW)
        assert raised.value.code == expected and raised.value.status == 409
        return
    decided = life.decide(status, final, decision, own_visit=False, now=NOW)
    assert (decided.status, decided.final) == expected
    assert decided.rejected_at == (NOW if decision == "reject" else None)


def test_every_allowed_decision_is_in_the_table():
    tabled = {(s, d) for s, final, d, out in DECISIONS if not final and not isinstance(out, str)}
    allowed = {(s, d) for s, ds in life.ALLOWED_DECISIONS.items() for d in ds}
    assert tabled == allowed


@pytest.mark.parametrize("status", STATUSES)
def test_nobody_decides_their_own_visit(status):
    with pytest.raises(Forbidden):
        life.decide(status, False, "reject", own_visit=True, now=NOW)


# (status, disputed before) → the status after a dispute, or the broken rule's code.
DISPUTES = [
    ("rejected", False, "disputed"),
    ("rejected", True, "ALREADY_DISPUTED"),
    ("flagged", False, "CONFLICT"),
    ("verified", False, "CONFLICT"),
    ("approved", False, "CONFLICT"),
    ("disputed", False, "CONFLICT"),
    ("approved", True, "ALREADY_DISPUTED"),
]


@pytest.mark.parametrize("status, disputed, expected", DISPUTES)
def test_disputes(status, disputed, expected):
    if expected == "disputed":
        assert life.dispute(status, disputed) == "disputed"
        return
    with pytest.raises(Conflict) as raised:
        life.dispute(status, disputed)
    assert raised.value.code == expected


# (status, flags held, flags raised) → (flags, new, status) after.
RAISES = [
    ("verified", [], ["NO_CHECKOUT"], (["NO_CHECKOUT"], ["NO_CHECKOUT"], "flagged")),
    ("approved", ["GPS_LOW_ACCURACY"], ["PHOTO_REUSED"],
     (["GPS_LOW_ACCURACY", "PHOTO_REUSED"], ["PHOTO_REUSED"], "flagged")),
    # New evidence under a name the visit had already still reopens it.
    ("approved", ["PHOTO_REUSED"], ["PHOTO_REUSED"], (["PHOTO_REUSED"], [], "flagged")),
    ("rejected", ["A"], ["B", "B", "A"], (["A", "B"], ["B"], "rejected")),
    ("disputed", [], ["A"], (["A"], ["A"], "disputed")),
    ("flagged", None, ["A", "B"], (["A", "B"], ["A", "B"], "flagged")),
    # Nothing raised: nothing changes, not even a verified visit's status.
    ("verified", ["A"], [], (["A"], [], "verified")),
]


@pytest.mark.parametrize("status, held, raised, expected", RAISES)
def test_raising_flags(status, held, raised, expected):
    before = None if held is None else list(held)
    after = life.raise_flags(status, held, iter(raised))
    assert (after.flags, after.new, after.status) == expected
    assert held == before  # the visit's own list is never changed in place


@pytest.mark.parametrize("flags, status", [([], "verified"), (["NO_CHECKOUT"], "flagged")])
def test_a_check_in_is_flagged_when_any_flag_was_raised(flags, status):
    assert life.checked_in_status(flags) == status


def test_queue_statuses_reopen_to_the_queue():
    assert life.REOPENED_BY_NEW_FLAG.isdisjoint(life.QUEUE_STATUSES)
    assert life.FLAGGED in life.QUEUE_STATUSES
