"""The span of time the product takes: a time or a month outside it is a typing error,
a broken clock or an attack, never a record.

Every time the API takes is bounded to it, so that no arithmetic on a stored time (a
month's end, a look-back, a time zone's offset) can leave the calendar.
"""
from __future__ import annotations

from datetime import UTC, date, datetime

FIRST_YEAR = 2000
LAST_YEAR = 2099
EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)  # exclusive
SPAN_TEXT = f"from {FIRST_YEAR} to {LAST_YEAR}"


def within(moment: datetime) -> bool:
    """Whether an aware time lies in the span."""
    return EARLIEST <= moment < LATEST


def day_within(day: date) -> bool:
    return FIRST_YEAR <= day.year <= LAST_YEAR
