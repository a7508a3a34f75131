"""The dispatch suggestion rule (app/domain/dispatch.py), with distances worked out by hand.

Every point lies on the equator, where the WGS-84 geodesic between two points is the arc
of the equatorial circle: a · Δλ, with a = 6 378 137 m. So 0.01° of longitude is
6 378 137 × 0.01 × π / 180 = 1 113.19 m, 0.005° is 556.60 m, 0.02° is 2 226.39 m.
"""
from __future__ import annotations

import math

import pytest

from app.domain.dispatch import HOME_SITE, LAST_POSITION, Candidate, Suggestion, suggest

A = 6_378_137.0
SITE = (0.0, 0.0)


def east(degrees: float) -> tuple[float, float]:
    return (0.0, degrees)


def by_hand(degrees: float) -> int:
    return round(A * math.radians(degrees))


def test_the_hand_figures():
    assert (by_hand(0.005), by_hand(0.01), by_hand(0.02)) == (557, 1113, 2226)


def test_nearest_first_from_the_last_position():
    order = suggest(SITE, [
        Candidate(1, "Far", east(0.02), None, 0),
        Candidate(2, "Near", east(0.005), None, 3),
        Candidate(3, "Middle", east(-0.01), None, 0),
    ])
    assert order == [
        Suggestion(2, "Near", 557, LAST_POSITION, 3),
        Suggestion(3, "Middle", 1113, LAST_POSITION, 0),
        Suggestion(1, "Far", 2226, LAST_POSITION, 0),
    ]


def test_the_last_position_wins_over_the_home_site():
    [only] = suggest(SITE, [Candidate(1, "Moved", east(0.02), east(0.005), 0)])
    assert (only.distance_m, only.source) == (2226, LAST_POSITION)


def test_the_home_site_stands_in_when_no_position_is_known():
    order = suggest(SITE, [
        Candidate(1, "Seen", east(0.01), None, 0),
        Candidate(2, "At home", None, east(0.005), 0),
    ])
    assert [(s.engineer_id, s.distance_m, s.source) for s in order] == [
        (2, 557, HOME_SITE), (1, 1113, LAST_POSITION)]


def test_at_the_same_distance_the_fewer_open_jobs_today_go_first():
    order = suggest(SITE, [
        Candidate(1, "Busy", east(0.01), None, 4),
        Candidate(2, "Free", east(-0.01), None, 1),
        Candidate(3, "Home, free", None, east(0.01), 0),
    ])
    assert [(s.engineer_id, s.distance_m, s.open_jobs_today) for s in order] == [
        (3, 1113, 0), (2, 1113, 1), (1, 1113, 4)]


def test_distance_comes_before_load():
    order = suggest(SITE, [Candidate(1, "Near, busy", east(0.005), None, 9),
                           Candidate(2, "Far, free", east(0.02), None, 0)])
    assert [s.engineer_id for s in order] == [1, 2]


def test_engineers_with_neither_come_last_by_load_then_name():
    order = suggest(SITE, [
        Candidate(1, "zoe", None, None, 0),
        Candidate(2, "Far", east(0.02), None, 5),
        Candidate(3, "Adam", None, None, 0),
        Candidate(4, "Busy", None, None, 2),
    ])
    assert [(s.engineer_id, s.distance_m, s.source) for s in order] == [
        (2, 2226, LAST_POSITION), (3, None, None), (1, None, None), (4, None, None)]


def test_full_ties_end_on_the_name_then_the_id():
    order = suggest(SITE, [Candidate(9, "Li", east(0.01), None, 1), Candidate(4, "Li", east(0.01), None, 1),
                           Candidate(5, "Chen", east(0.01), None, 1)])
    assert [s.engineer_id for s in order] == [5, 4, 9]


def test_a_position_at_the_site_is_zero_metres():
    [only] = suggest(SITE, [Candidate(1, "Here", SITE, None, 0)])
    assert only.distance_m == 0


@pytest.mark.parametrize("candidates", [[]])
def test_nobody_to_suggest(candidates):
    assert suggest(SITE, candidates) == []
