"""The span of time the product takes: a time or a month outside it is a typing error,
a broken clock or an attack, never a record.

Every time, day and month the API takes is bounded to it (by the year as written, in
its own offset), so that no arithmetic on a stored time (a month's end, a look-back, a
time zone's offset) can leave the calendar.
"""
from __future__ import annotations

from datetime import date

FIRST_YEAR = 2000
LAST_YEAR = 2099
SPAN_TEXT = f"from {FIRST_YEAR} to {LAST_YEAR}"


def year_within(year: int) -> bool:
    """Whether a year, as a time or a day is written, is in the span."""
    return FIRST_YEAR <= year <= LAST_YEAR


def day_within(day: date) -> bool:
    return year_within(day.year)
