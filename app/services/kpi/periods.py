"""Periods: calendar months in the organisation's time zone, as UTC bounds.

Every figure compares UTC columns with bounds computed here, so that SQLite and
PostgreSQL agree without any database time-zone function.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.domain import calendar
from app.errors import Invalid

PERIOD_PATTERN = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # ASCII digits, whole string


@dataclass(frozen=True, order=True)
class Period:
    """A month `YYYY-MM` and its [start, end) in UTC for the zone it was resolved in."""

    key: str
    start: datetime
    end: datetime

    @property
    def year(self) -> int:
        return int(self.key[:4])

    @property
    def month(self) -> int:
        return int(self.key[5:])


def _month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


def month(year: int, month_no: int, timezone: str) -> Period:
    """The month as a Period in `timezone` (an IANA name)."""
    zone = ZoneInfo(timezone)
    next_year, next_month = (year + 1, 1) if month_no == 12 else (year, month_no + 1)
    return Period(
        f"{year:04d}-{month_no:02d}",
        _month_start(year, month_no, zone),
        _month_start(next_year, next_month, zone),
    )


def current(timezone: str, now: datetime | None = None) -> Period:
    """The month that `now` (default: the present) falls in, in `timezone`."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone))
    return month(local.year, local.month, timezone)


def shift(period: Period, months: int, timezone: str) -> Period:
    """The month `months` after (negative: before) `period`."""
    index = period.year * 12 + period.month - 1 + months
    return month(index // 12, index % 12 + 1, timezone)


def parse(text: str, timezone: str, field: str = "period") -> Period:
    """`YYYY-MM` as a Period; 422 on any other shape."""
    found = PERIOD_PATTERN.fullmatch(text or "")
    if not found or not calendar.FIRST_YEAR <= int(found.group(1)) <= calendar.LAST_YEAR:
        raise Invalid("Give the period as YYYY-MM.",
                      {field: [f"Must be a month YYYY-MM {calendar.SPAN_TEXT}."]})
    return month(int(found.group(1)), int(found.group(2)), timezone)


def resolve(text: str | None, timezone: str) -> Period:
    """The period asked for, or the current month; 422 for a month still to come."""
    now = current(timezone)
    if text is None:
        return now
    period = parse(text, timezone)
    if period.key > now.key:
        raise Invalid("That month has not begun.", {"period": [f"Must not be after {now.key}."]})
    return period
