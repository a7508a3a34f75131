"""The weekly report's arithmetic: ISO weeks, and a group's figure pooled from its
engineers' raw KPI figures (the very figures their cards are scored from).

A mean or a rate is pooled by weighting each engineer's value with the `n` records
behind it (sum of value × n over sum of n: exactly the mean over all the records); a
count is summed. The month's target of a group is the mean of its engineers' scheme
targets (a count's target is per engineer, so the group's is their sum).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from app.domain.calendar import year_within
from app.domain.kpi import METRICS_BY_KEY, RawFigure

WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")  # ASCII digits, whole string

# The KPI metrics the report shows, in its order: first-time fix, the response times,
# satisfaction.
REPORT_METRICS = ("first_time_fix_rate", "first_contact_minutes", "dispatch_minutes",
                  "arrival_minutes", "nps", "complaints")
# How many engineers furthest below target the report names.
BELOW_TARGET_SHOWN = 5


def week_monday(text: str) -> date | None:
    """The Monday of ISO week `YYYY-Www` (years 2000–2099), or None if it is no such week."""
    found = WEEK_PATTERN.fullmatch(text or "")
    if not found:
        return None
    year, week = int(found.group(1)), int(found.group(2))
    if not year_within(year):
        return None
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:  # week 00, or 53 in a year of 52
        return None


def week_key(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year:04d}-W{week:02d}"


def previous_monday(monday: date) -> date:
    return monday - timedelta(days=7)


def pooled(metric: str, figures: Iterable[RawFigure]) -> RawFigure:
    """One figure for a group from its members' figures of the same metric."""
    figures = [f for f in figures if f.n and f.value is not None]
    n = sum(f.n for f in figures)
    if METRICS_BY_KEY[metric].kind == "count":
        return RawFigure(float(sum(f.value for f in figures)), n)
    if n == 0:
        return RawFigure(None, 0)
    return RawFigure(sum(f.value * f.n for f in figures) / n, n)


def group_target(metric: str, targets: Iterable[float]) -> float | None:
    """The group's target for a month from its engineers' scheme targets (None: no scheme
    of theirs lists the metric)."""
    targets = list(targets)
    if not targets:
        return None
    if METRICS_BY_KEY[metric].kind == "count":
        return float(sum(targets))
    return sum(targets) / len(targets)


def change(current: float | None, previous: float | None) -> float | None:
    """The week's figure minus the previous week's (None when either has no figure)."""
    if current is None or previous is None:
        return None
    return current - previous


def furthest_below(totals: dict[int, tuple[float | None, float]],
                   limit: int = BELOW_TARGET_SHOWN) -> list[tuple[int, float]]:
    """(engineer, points below the pass mark) of those with a total under their pass
    mark, furthest first (ties by id), at most `limit`."""
    below = [(e, pass_score - total) for e, (total, pass_score) in totals.items()
             if total is not None and total < pass_score]
    below.sort(key=lambda item: (-item[1], item[0]))
    return below[:limit]
