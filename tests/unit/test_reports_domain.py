"""The weekly report's arithmetic, without the app."""
from __future__ import annotations

from datetime import date

import pytest

from app.domain.kpi import RawFigure
from app.domain.reports import change, furthest_below, group_target, pooled, week_key, week_monday


@pytest.mark.parametrize("text, monday", [
    ("2026-W49", date(2026, 11, 30)), ("2026-W01", date(2025, 12, 29)),
    ("2020-W53", date(2020, 12, 28)), ("2000-W01", date(2000, 1, 3)),
])
def test_week_monday(text, monday):
    assert week_monday(text) == monday
    assert week_key(monday) == text


@pytest.mark.parametrize("text", ["2021-W53", "2026-W00", "2026-W54", "1999-W52", "2100-W01",
                                  "2026-W4", "2026W49", "", "２０２６-W49", "2026-W49 "])
def test_not_a_week(text):
    assert week_monday(text) is None


def test_rates_and_means_pool_by_their_records():
    # 50 % of 2 and 100 % of 1: 2 of 3.
    assert pooled("first_time_fix_rate", [RawFigure(50.0, 2), RawFigure(100.0, 1)]) == \
        RawFigure(pytest.approx(200 / 3), 3)
    assert pooled("nps", [RawFigure(None, 0)]) == RawFigure(None, 0)
    assert pooled("complaints", [RawFigure(2.0, 2), RawFigure(1.0, 1)]) == RawFigure(3.0, 3)
    assert pooled("complaints", []) == RawFigure(0.0, 0)


def test_group_target_and_change():
    assert group_target("first_time_fix_rate", [80.0, 90.0]) == 85.0
    assert group_target("complaints", [1.0, 2.0]) == 3.0
    assert group_target("nps", []) is None
    assert change(75.0, 50.0) == 25.0 and change(None, 3.0) is None


def test_furthest_below_target():
    totals = {1: (50.0, 60.0), 2: (30.0, 60.0), 3: (70.0, 60.0), 4: (None, 60.0), 5: (30.0, 60.0)}
    assert furthest_below(totals) == [(2, 30.0), (5, 30.0), (1, 10.0)]
    assert furthest_below(totals, limit=1) == [(2, 30.0)]
