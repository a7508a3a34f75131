"""round_half_up rounds the digits of the shortest repr as text; it must give exactly
what the Decimal rule gives (kpi.md: rounded half-up to 2 decimals when returned)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.kpi import round_half_up


def by_decimal(x: float, places: int = 2) -> float:
    return float(Decimal(str(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(("x", "expected"), [
    (2.675, 2.68), (-2.675, -2.68), (0.125, 0.13), (-0.125, -0.13), (0.124999, 0.12),
    (1.005, 1.01), (37.425, 37.43), (99.995, 100.0), (-99.995, -100.0), (0.0, 0.0),
    (-0.0, 0.0), (100.0, 100.0), (85.71428571428571, 85.71), (1e-05, 0.0), (0.005, 0.01),
    (-0.004, -0.0), (123456789.125, 123456789.13), (2.0**53 - 1, 2.0**53 - 1),
])
def test_known_values(x, expected):
    assert round_half_up(x) == expected
    assert round_half_up(x) == by_decimal(x)


def test_floats_without_hundredths_are_kept():
    assert round_half_up(2.0**53) == 2.0**53
    assert round_half_up(1e300) == 1e300


def test_none_stays_none():
    assert round_half_up(None) is None


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15))
def test_same_as_decimal_for_any_float(x):
    assert round_half_up(x) == by_decimal(x)


@given(st.integers(min_value=-10**9, max_value=10**9), st.sampled_from([5, 4, 6, 49, 50, 51, 499, 501]))
def test_same_as_decimal_at_and_around_halves(hundredths, tail):
    x = float(f"{hundredths / 100:.2f}{tail}")
    assert round_half_up(x) == by_decimal(x)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
       st.integers(min_value=0, max_value=4))
def test_same_as_decimal_for_other_places(x, places):
    assert round_half_up(x, places) == by_decimal(x, places)
