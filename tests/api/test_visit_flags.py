"""Flags raised on a visit after the fact send it back to the queue."""
from __future__ import annotations

import pytest

from app.services.visit_flags import raise_visit_flags


@pytest.mark.parametrize("status", ["verified", "approved"])
def test_a_new_flag_sends_a_passed_visit_back_to_the_queue(org, factory, status):
    visit = factory.visit(factory.job(engineer=org["eng_a1"]), status=status)
    assert raise_visit_flags(visit, ["DUPLICATE_PHOTO", "DUPLICATE_PHOTO"]) == ["DUPLICATE_PHOTO"]
    assert visit.status == "flagged" and visit.flags == ["DUPLICATE_PHOTO"]


def test_a_repeated_flag_after_an_approval_reopens_the_visit(org, factory):
    """A second reused photo after the supervisor approved the first is new evidence."""
    visit = factory.visit(factory.job(engineer=org["eng_a1"]), status="approved",
                          flags=["DUPLICATE_PHOTO"])
    assert raise_visit_flags(visit, ["DUPLICATE_PHOTO"]) == []
    assert visit.status == "flagged" and visit.flags == ["DUPLICATE_PHOTO"]


@pytest.mark.parametrize("status", ["rejected", "disputed", "flagged"])
def test_other_statuses_keep_theirs(org, factory, status):
    visit = factory.visit(factory.job(engineer=org["eng_a1"]), status=status)
    raise_visit_flags(visit, ["PHOTO_TIME_MISMATCH"])
    assert visit.status == status and visit.flags == ["PHOTO_TIME_MISMATCH"]


def test_no_flags_change_nothing(org, factory):
    visit = factory.visit(factory.job(engineer=org["eng_a1"]), status="approved")
    assert raise_visit_flags(visit, []) == []
    assert visit.status == "approved" and visit.flags == []
