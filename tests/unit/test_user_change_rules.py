"""Who may change a user, and which changes fit (app/domain/people.py), as tables."""
from __future__ import annotations

import pytest

from app.domain import people
from app.domain.errors import Forbidden, Invalid

ENGINEER = {"role": "engineer", "level": "L2", "work_type": "install"}
SUPERVISOR = {"role": "supervisor", "level": None, "work_type": None}

# (actor's role, changing themselves, fields) → None (allowed) or the error raised.
WHO = [
    ("admin", False, {"role", "email"}, None),
    ("admin", True, {"role"}, None),
    ("supervisor", False, {"name"}, Forbidden),
    ("engineer", False, {"name"}, Forbidden),
    ("engineer", True, {"name", "password", "current_password", "locale"}, None),
    ("engineer", True, {"phone"}, None),
    ("supervisor", True, {"phone"}, None),
    ("supervisor", False, {"phone"}, Forbidden),
    ("engineer", False, {"phone"}, Forbidden),
    ("admin", False, {"phone"}, None),
    ("engineer", True, {"name", "role"}, Invalid),
    ("supervisor", True, {"supervisor_id"}, Invalid),
]


@pytest.mark.parametrize("role, is_self, fields, error", WHO)
def test_who_may_change(role, is_self, fields, error):
    if error is None:
        people.check_who_may_change(role, is_self, fields)
        return
    with pytest.raises(error) as raised:
        people.check_who_may_change(role, is_self, fields)
    if error is Invalid:
        assert set(raised.value.errors) == set(fields) - people.SELF_EDITABLE


# (changing themselves, changes, current) → None, or the field the error names.
CHANGES = [
    (False, {"active": False}, ENGINEER, None),
    (True, {"active": False}, ENGINEER, "active"),
    (True, {"active": True}, ENGINEER, None),
    (False, {"role": "engineer"}, SUPERVISOR, "level"),
    (False, {"role": "engineer", "level": "L1", "work_type": "repair"}, SUPERVISOR, None),
    (False, {"level": "L3"}, SUPERVISOR, "level"),
    (False, {"role": "supervisor", "supervisor_id": 3}, ENGINEER, "supervisor_id"),
    (False, {"role": "supervisor", "supervisor_id": None}, ENGINEER, None),
    (False, {"supervisor_id": 7}, ENGINEER, "supervisor_id"),  # user 7 is the one changed
    (False, {"supervisor_id": 3}, ENGINEER, None),
]


@pytest.mark.parametrize("is_self, changes, current, field", CHANGES)
def test_changes_that_fit(is_self, changes, current, field):
    if field is None:
        people.check_change(7, is_self, changes, current)
        return
    with pytest.raises(Invalid) as raised:
        people.check_change(7, is_self, changes, current)
    assert field in raised.value.errors


@pytest.mark.parametrize("role, changes, stops", [
    ("supervisor", {"role": "engineer"}, True),
    ("supervisor", {"role": "admin"}, True),
    ("supervisor", {"role": "supervisor"}, False),
    ("supervisor", {"name": "X"}, False),
    ("engineer", {"role": "admin"}, False),
])
def test_a_supervisor_given_another_role_stops_supervising(role, changes, stops):
    assert people.stops_supervising(role, changes) is stops


@pytest.mark.parametrize("role, cleared", [
    ("engineer", ()), ("supervisor", people.ENGINEER_ONLY), ("admin", people.ENGINEER_ONLY),
])
def test_only_an_engineer_keeps_the_engineer_fields(role, cleared):
    assert people.cleared_on_role(role) == cleared
