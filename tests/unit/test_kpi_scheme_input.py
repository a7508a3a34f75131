"""validate_scheme on input a JSON body can carry (fixed: a huge integer raised OverflowError)."""
from __future__ import annotations

import copy

import pytest

from app.domain.kpi import DEFAULT_SCHEMES, validate_scheme


def mid_field() -> dict:
    return copy.deepcopy(DEFAULT_SCHEMES["mid-field"])


@pytest.mark.parametrize("field", ["weight", "target", "floor"])
@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), "5", None, [1]])
def test_values_that_are_not_finite_numbers_are_errors_not_crashes(field, value):
    data = mid_field()
    data["metrics"][0][field] = value
    assert "must be a number" in validate_scheme(data)[f"metrics.0.{field}"]


@pytest.mark.parametrize("value", [10**400, "80", None, True])
def test_pass_score_must_be_a_number(value):
    data = mid_field()
    data["pass_score"] = value
    assert list(validate_scheme(data)) == ["pass_score"]


def test_items_and_lists_of_the_wrong_shape():
    data = mid_field()
    data["metrics"][0] = "nps"
    assert "metrics.0" in validate_scheme(data)
    assert list(validate_scheme({**mid_field(), "metrics": {"nps": 100}})) == ["metrics"]
    assert "key" in validate_scheme({**mid_field(), "key": "expert-field"})


def test_a_scheme_with_huge_targets_scores_without_crashing():
    # Valid (floor below target for a "higher" metric), if absurd: 1e300 points of nps.
    # The score is (42 − (−1e300)) / (1e300 − (−1e300)) × 100 = 50 (to float precision);
    # the gap 1e300 − 42 = 1e300 has no hundredths to round.
    from app.domain.kpi import RawFigure, compute_card, round_half_up, scheme_from_dict

    data = {"key": "mid-field", "pass_score": 50,
            "metrics": [{"key": "nps", "weight": 100, "target": 1e300, "floor": -1e300}]}
    assert validate_scheme(data) == {}
    card = compute_card(scheme_from_dict(data), {"nps": RawFigure(42.0, 5)}, True)
    nps = next(m for m in card.metrics if m.key == "nps")
    assert (nps.score, nps.gap, card.total, card.meets_target) == (50.0, 1e300, 50.0, True)
    assert round_half_up(float("inf")) == float("inf")
    assert round_half_up(2.0**53 + 2) == 2.0**53 + 2
    assert round_half_up(123456789.125) == 123456789.13
