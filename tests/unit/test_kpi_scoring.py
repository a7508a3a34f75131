"""KPI scoring against kpi.md; every golden number is worked out by hand in a comment."""

from __future__ import annotations

import copy

import pytest

from app.domain.kpi import (
    DEFAULT_SCHEMES,
    DIMENSIONS,
    METRICS,
    METRICS_BY_KEY,
    SCHEME_KEYS,
    InvalidScheme,
    RawFigure,
    Ranking,
    Scheme,
    SchemeMetric,
    compute_card,
    gap,
    has_data,
    meets_target,
    promotion_priority,
    rank_totals,
    round_half_up,
    scheme_from_dict,
    scheme_to_dict,
    score_metric,
    streak_months,
    validate_scheme,
)

# kpi.md's mid-field table: metric → (weight, target, floor).
MID_FIELD_TABLE = {
    "first_contact_minutes": (10, 30, 240),
    "arrival_minutes": (5, 240, 1440),
    "first_time_fix_rate": (15, 85, 50),
    "repeat_repair_rate": (5, 5, 20),
    "service_minutes": (5, 90, 240),
    "nps": (30, 50, 0),
    "complaints": (10, 0, 3),
    "trainings_attended": (3, 1, 0),
    "knowledge_items": (4, 1, 0),
    "case_quality": (3, 4, 2),
    "checklist_completion_rate": (4, 100, 80),
    "safety_incidents": (3, 0, 2),
    "process_violations": (1, 0, 3),
    "false_reports": (2, 0, 2),
}


def mid_field() -> Scheme:
    return scheme_from_dict(DEFAULT_SCHEMES["mid-field"])


def one_metric_scheme(key: str, target: float, floor: float, pass_score: float = 80) -> Scheme:
    return Scheme("mid-field", pass_score, (SchemeMetric(key, 100, target, floor),))


def rows(card):
    return {row.key: row for row in card.metrics}


def weights(scheme_key: str) -> dict[str, float]:
    return {m["key"]: m["weight"] for m in DEFAULT_SCHEMES[scheme_key]["metrics"]}


# --- Catalogue -----------------------------------------------------------------------


def test_catalogue_lists_the_fifteen_metrics_in_table_order():
    assert [m.key for m in METRICS] == [
        "first_contact_minutes", "arrival_minutes", "dispatch_minutes", "service_minutes",
        "first_time_fix_rate", "repeat_repair_rate", "nps", "complaints",
        "trainings_attended", "knowledge_items", "case_quality",
        "checklist_completion_rate", "safety_incidents", "process_violations",
        "false_reports",
    ]  # fmt: skip
    assert {m.dimension for m in METRICS} == set(DIMENSIONS)
    assert METRICS_BY_KEY["case_quality"].unit == "1–5"
    assert METRICS_BY_KEY["nps"].unit == "points"
    assert {m.key for m in METRICS if m.kind == "count"} == {
        "complaints", "trainings_attended", "knowledge_items",
        "safety_incidents", "process_violations", "false_reports",
    }  # fmt: skip
    assert {m.key for m in METRICS if m.better == "higher"} == {
        "first_time_fix_rate", "nps", "trainings_attended", "knowledge_items",
        "case_quality", "checklist_completion_rate",
    }  # fmt: skip


# --- Metric scores and gaps ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (85, 100.0),  # at target
        (90, 100.0),  # past target
        (84, 97.142857),  # (84-50)/(85-50)*100 = 34/35*100 = 97.142857
        (51, 2.857143),  # (51-50)/35*100 = 2.857143
        (50, 0.0),  # at floor
        (40, 0.0),  # past floor
    ],
)
def test_score_higher_is_better(value, expected):
    # first_time_fix_rate in mid-field: target 85, floor 50.
    assert score_metric("higher", value, 85, 50) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, 100.0),  # at target
        (20, 100.0),  # past target
        (31, 99.523810),  # (240-31)/(240-30)*100 = 209/210*100 = 99.523810
        (239, 0.476190),  # (240-239)/210*100 = 0.476190
        (240, 0.0),  # at floor
        (300, 0.0),  # past floor
    ],
)
def test_score_lower_is_better(value, expected):
    # first_contact_minutes in mid-field: target 30, floor 240.
    assert score_metric("lower", value, 30, 240) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("better", "value", "target", "expected"),
    [
        ("higher", 0, 1, 1),  # no approved item, target 1 → 1 more to go
        ("higher", 84, 85, 1),
        ("higher", 90, 85, 0),  # met
        ("lower", 51, 30, 21),  # 51 - 30
        ("lower", 20, 30, 0),  # met
        ("lower", 2, 0, 2),  # two complaints against a target of none
    ],
)
def test_gap_is_distance_to_target_in_the_unit(better, value, target, expected):
    assert gap(better, value, target) == expected


# --- Rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "places", "expected"),
    [
        (0.125, 2, 0.13),  # half goes up, not to even (0.12)
        (2.675, 2, 2.68),  # stored as 2.67499…, rounded as written
        (1.005, 2, 1.01),
        (79.995, 2, 80.0),
        (79.994, 2, 79.99),
        (-0.125, 2, -0.13),  # half away from zero
        (0.25, 1, 0.3),
        (80, 2, 80.0),
        (None, 2, None),
    ],
)
def test_round_half_up(x, places, expected):
    assert round_half_up(x, places) == expected


def test_meets_target_compares_the_rounded_total():
    assert meets_target(79.995, 80)  # 79.995 → 80.00 ≥ 80
    assert not meets_target(79.994, 80)  # 79.994 → 79.99 < 80
    assert meets_target(80, 80)
    assert not meets_target(None, 0)


def test_card_meets_target_on_a_rounded_boundary():
    # One metric of weight 100, target 100, floor 0: score = (79.995-0)/(100-0)*100 = 79.995;
    # total = 100×79.995/100 = 79.995 → 80.00, which meets a pass score of 80.
    scheme = one_metric_scheme("checklist_completion_rate", 100, 0)
    card = compute_card(scheme, {"checklist_completion_rate": RawFigure(79.995, 10)}, True)
    assert card.total == 80.0
    assert card.meets_target is True
    # 79.994 → 79.99, short of 80.
    card = compute_card(scheme, {"checklist_completion_rate": RawFigure(79.994, 10)}, True)
    assert card.total == 79.99
    assert card.meets_target is False


# --- has_data ------------------------------------------------------------------------


def test_count_metrics_have_data_only_when_active():
    complaints = METRICS_BY_KEY["complaints"]
    assert has_data(complaints, RawFigure(0, 0), True, 1)
    # A month on leave is no month at all, not a month of zero complaints.
    assert not has_data(complaints, RawFigure(0, 0), False, 1)


def test_mean_and_rate_metrics_need_min_samples():
    nps = METRICS_BY_KEY["nps"]
    assert not has_data(nps, RawFigure(100, 2), True)  # default min_samples for nps is 3
    assert has_data(nps, RawFigure(100, 3), True)
    assert has_data(nps, RawFigure(100, 1), True, 1)
    service = METRICS_BY_KEY["service_minutes"]
    assert has_data(service, RawFigure(60, 1), True)  # default 1
    assert not has_data(service, RawFigure(None, 0), True)


# --- The KPI card --------------------------------------------------------------------


def test_full_mid_field_card_shares_out_the_weight_of_metrics_without_data():
    raw = {
        "first_contact_minutes": RawFigure(51, 4),  # (240-51)/(240-30)*100 = 189/210*100 = 90
        "arrival_minutes": RawFigure(None, 0),  # no data: its weight 5 is shared out
        "dispatch_minutes": RawFigure(20, 4),  # weight 0, not in the scheme: shown, unscored
        "service_minutes": RawFigure(120, 5),  # (240-120)/(240-90)*100 = 120/150*100 = 80
        "first_time_fix_rate": RawFigure(75, 8),  # (75-50)/(85-50)*100 = 500/7 = 71.428571
        "repeat_repair_rate": RawFigure(12.5, 8),  # (20-12.5)/(20-5)*100 = 7.5/15*100 = 50
        "nps": RawFigure(100, 2),  # 2 responses < min_samples 3: no data, weight 30 shared
        "complaints": RawFigure(1, 1),  # (3-1)/(3-0)*100 = 200/3 = 66.666667
        "trainings_attended": RawFigure(0, 0),  # at floor 0 → 0
        "knowledge_items": RawFigure(2, 2),  # past target 1 → 100
        "case_quality": RawFigure(3.5, 2),  # (3.5-2)/(4-2)*100 = 75
        "checklist_completion_rate": RawFigure(90, 8),  # (90-80)/(100-80)*100 = 50
        "safety_incidents": RawFigure(0, 0),  # at target 0 → 100
        "process_violations": RawFigure(0, 0),  # → 100
        "false_reports": RawFigure(1, 1),  # (2-1)/(2-0)*100 = 50
    }
    card = compute_card(mid_field(), raw, active=True)
    by_key = rows(card)

    assert [row.key for row in card.metrics] == [m.key for m in METRICS]
    assert by_key["first_contact_minutes"].score == 90.0
    assert by_key["first_contact_minutes"].gap == 21.0  # 51 - 30
    assert by_key["first_time_fix_rate"].score == 71.43  # 71.428571 → 71.43
    assert by_key["first_time_fix_rate"].gap == 10.0  # 85 - 75
    assert by_key["complaints"].score == 66.67  # 66.666667 → 66.67
    assert by_key["case_quality"].gap == 0.5  # 4 - 3.5
    assert by_key["knowledge_items"].gap == 0.0  # met

    arrival = by_key["arrival_minutes"]
    assert (arrival.has_data, arrival.value, arrival.score, arrival.gap) == (False,) + (None,) * 3
    assert (arrival.weight, arrival.target, arrival.floor) == (5, 240, 1440)
    nps = by_key["nps"]
    assert (nps.has_data, nps.value, nps.score, nps.n) == (False, None, None, 2)
    dispatch = by_key["dispatch_minutes"]
    assert (dispatch.has_data, dispatch.value, dispatch.weight) == (True, 20.0, 0)
    assert (dispatch.target, dispatch.floor, dispatch.score, dispatch.gap) == (None,) * 4
    assert (dispatch.dimension, dispatch.unit, dispatch.better) == ("response", "min", "lower")

    # Dimensions, weighted means over weight > 0 with data:
    # response     = 10×90 / 10 = 90                      (arrival has no data)
    # efficiency   = (5×80 + 15×71.428571 + 5×50) / 25 = 1721.428571/25 = 68.857143 → 68.86
    # satisfaction = 10×66.666667 / 10 = 66.67            (nps has no data)
    # knowledge    = (3×0 + 4×100 + 3×75) / 10 = 625/10 = 62.5
    # compliance   = (4×50 + 3×100 + 1×100 + 2×50) / 10 = 700/10 = 70
    assert card.dimensions == {
        "response": 90.0,
        "efficiency": 68.86,
        "satisfaction": 66.67,
        "knowledge": 62.5,
        "compliance": 70.0,
    }
    # Total: weights with data 100 - 5 (arrival) - 30 (nps) = 65;
    # Σ w×s = 900 + 1721.428571 + 666.666667 + 625 + 700 = 4613.095238
    # (exactly 96875/21); 4613.095238 / 65 = 70.970696 → 70.97 < 80.
    assert card.total == 70.97
    assert card.meets_target is False
    assert card.pass_score == 80
    assert card.scheme == "mid-field"


def test_card_rounds_value_score_and_gap():
    # nps 100×(4-1)/7 = 42.857143 → 42.86; score 42.857143/50×100 = 85.714286 → 85.71;
    # gap 50 - 42.857143 = 7.142857 → 7.14.
    nps = rows(compute_card(mid_field(), {"nps": RawFigure(300 / 7, 7)}, True))["nps"]
    assert (nps.value, nps.score, nps.gap, nps.n) == (42.86, 85.71, 7.14, 7)
    assert (nps.weight, nps.target, nps.floor) == (30, 50, 0)


def test_dimension_without_data_is_none():
    # Active with only a training on record: counts have data (missing ones are 0 records),
    # means and rates do not.
    card = compute_card(mid_field(), {"trainings_attended": RawFigure(2, 2)}, active=True)
    # response (first contact, arrival) and efficiency (all means/rates) have nothing.
    # satisfaction = complaints 0 → 100; knowledge = (3×100 + 4×0)/7 = 300/7 = 42.857 → 42.86
    # (case_quality has no data); compliance: checklist no data, counts 0 → 100.
    assert card.dimensions == {
        "response": None,
        "efficiency": None,
        "satisfaction": 100.0,
        "knowledge": 42.86,
        "compliance": 100.0,
    }
    # Total over complaints 10, trainings 3, items 4, safety 3, violations 1, false 2:
    # (10×100 + 3×100 + 4×0 + 3×100 + 1×100 + 2×100) / 23 = 1900/23 = 82.608696 → 82.61
    assert card.total == 82.61
    assert card.meets_target is True
    assert rows(card)["complaints"].value == 0.0


def test_total_is_none_when_nothing_has_data():
    # Inactive: counts have no data even when given, and no mean reaches min_samples.
    raw = {"complaints": RawFigure(0, 0), "nps": RawFigure(100, 2)}
    card = compute_card(mid_field(), raw, active=False)
    assert card.total is None
    assert card.meets_target is False
    assert card.dimensions == dict.fromkeys(DIMENSIONS)
    assert len(card.metrics) == 15
    assert all(not row.has_data and row.score is None for row in card.metrics)


def test_weight_zero_metric_listed_in_scheme_is_scored_but_not_counted():
    scheme = Scheme(
        "mid-field",
        80,
        (
            SchemeMetric("nps", 100, 50, 0),
            SchemeMetric("dispatch_minutes", 0, 60, 120),
        ),
    )
    raw = {"nps": RawFigure(50, 10), "dispatch_minutes": RawFigure(90, 3)}
    card = compute_card(scheme, raw, True)
    # dispatch (120-90)/(120-60)*100 = 50, shown with its gap 90-60 = 30, but weight 0;
    # total = 100×100/100 = 100 and response (only dispatch, weight 0) stays None.
    assert (rows(card)["dispatch_minutes"].score, rows(card)["dispatch_minutes"].gap) == (50, 30)
    assert card.total == 100.0
    assert card.dimensions["response"] is None


# --- Ranks and bonus -----------------------------------------------------------------


def test_ranks_share_ties_on_rounded_totals_and_ties_at_the_cut_off_all_qualify():
    totals = {
        1: 95.0,
        2: 89.996,  # → 90.00
        3: 90.004,  # → 90.00, tied with 2
        4: 85.0,
        5: 80.0,
        6: 70.0,
        7: 60.0,
        8: 50.0,
        9: 40.0,
        10: 30.0,
        11: None,
    }
    result = rank_totals(totals)
    # 10 ranked → cut-off max(1, ⌊0.2×10⌋) = 2; 2 and 3 have 1 strictly higher → rank 2.
    assert result[1] == Ranking(1, 10, True)
    assert result[2] == Ranking(2, 10, True)
    assert result[3] == Ranking(2, 10, True)
    assert result[4] == Ranking(4, 10, False)  # 3 strictly higher
    assert result[10] == Ranking(10, 10, False)
    assert result[11] == Ranking(None, 10, False)


def test_small_groups_still_have_one_bonus():
    # 3 ranked → max(1, ⌊0.2×3⌋) = max(1, 0) = 1.
    assert rank_totals({1: 90, 2: 80, 3: 70}) == {
        1: Ranking(1, 3, True),
        2: Ranking(2, 3, False),
        3: Ranking(3, 3, False),
    }
    # Tied at the top of 3: both rank 1, both qualify.
    assert [r.bonus_eligible for r in rank_totals({1: 90, 2: 90, 3: 70}).values()] == [
        True,
        True,
        False,
    ]


def test_fifteen_ranked_give_three_bonuses():
    # ⌊0.2×15⌋ = 3 exactly (float 0.2×15 would be 3.0000000000000004, still 3).
    result = rank_totals({i: 100 - i for i in range(1, 16)})
    assert [i for i, r in result.items() if r.bonus_eligible] == [1, 2, 3]


def test_nobody_ranked():
    assert rank_totals({}) == {}
    assert rank_totals({1: None}) == {1: Ranking(None, 0, False)}


# --- Streaks and promotion -----------------------------------------------------------


@pytest.mark.parametrize(
    ("months", "streak"),
    [
        ([True, True, True], 3),
        ([False, True, True, True], 3),
        ([True, None, True, True], 2),  # a month with no total ends the streak
        ([True, True, False, True], 1),
        ([True, True, True, False], 0),  # this month missed
        ([True, True, True, None], 0),
        ([], 0),
    ],
)
def test_streak_months(months, streak):
    assert streak_months(months) == streak


def test_promotion_priority_from_three_months():
    assert not promotion_priority(2)
    assert promotion_priority(3)
    assert promotion_priority(7)
    assert promotion_priority(streak_months([True, True, True]))


# --- Scheme validation ---------------------------------------------------------------


def mid_field_dict() -> dict:
    return copy.deepcopy(DEFAULT_SCHEMES["mid-field"])


def index_of(data: dict, key: str) -> int:
    return next(i for i, m in enumerate(data["metrics"]) if m["key"] == key)


def test_valid_scheme_has_no_errors():
    assert validate_scheme(mid_field_dict()) == {}


def test_unknown_metric_key():
    data = mid_field_dict()
    data["metrics"][3]["key"] = "speed"
    assert list(validate_scheme(data)) == ["metrics.3.key"]


def test_repeated_metric_key():
    data = mid_field_dict()
    # service_minutes renamed first_contact_minutes: both "lower", weights still sum to 100.
    i = index_of(data, "service_minutes")
    data["metrics"][i]["key"] = "first_contact_minutes"
    errors = validate_scheme(data)
    assert list(errors) == [f"metrics.{i}.key"]
    assert "more than once" in errors[f"metrics.{i}.key"][0]


def test_negative_weight():
    data = mid_field_dict()
    data["metrics"][0]["weight"] = -5  # first contact 10 → -5, nps 30 → 45: still sums to 100
    data["metrics"][index_of(data, "nps")]["weight"] = 45
    assert list(validate_scheme(data)) == ["metrics.0.weight"]


def test_weights_must_sum_to_100():
    data = mid_field_dict()
    data["metrics"][0]["weight"] = 11  # 101 in all
    assert list(validate_scheme(data)) == ["metrics"]
    assert "101" in validate_scheme(data)["metrics"][0]


def test_min_samples_below_one():
    data = mid_field_dict()
    data["metrics"][index_of(data, "nps")]["min_samples"] = 0
    assert list(validate_scheme(data)) == [f"metrics.{index_of(data, 'nps')}.min_samples"]


@pytest.mark.parametrize(
    ("pass_score", "errors"), [(-1, ["pass_score"]), (0, []), (100, []), (101, ["pass_score"])]
)
def test_pass_score_range(pass_score, errors):
    data = mid_field_dict()
    data["pass_score"] = pass_score
    assert list(validate_scheme(data)) == errors


@pytest.mark.parametrize(
    ("key", "target", "floor"),
    [
        ("nps", 50, 50),  # higher: floor level with target
        ("nps", 50, 60),  # higher: floor above target
        ("first_contact_minutes", 30, 30),  # lower: floor level with target
        ("first_contact_minutes", 30, 20),  # lower: floor below target
    ],
)
def test_floor_must_be_strictly_on_the_worse_side(key, target, floor):
    data = mid_field_dict()
    i = index_of(data, key)
    data["metrics"][i].update(target=target, floor=floor)
    assert list(validate_scheme(data)) == [f"metrics.{i}.floor"]


def test_scheme_from_dict_refuses_an_invalid_scheme():
    data = mid_field_dict()
    data["pass_score"] = 120
    with pytest.raises(InvalidScheme) as refused:
        scheme_from_dict(data)
    assert list(refused.value.errors) == ["pass_score"]
    assert refused.value.code == "INVALID_SCHEME"


def test_scheme_dict_round_trip_fills_default_min_samples():
    data = mid_field_dict()
    for m in data["metrics"]:
        del m["min_samples"]
    scheme = scheme_from_dict(data)
    assert scheme.metric("nps").min_samples == 3
    assert scheme.metric("complaints").min_samples == 1
    assert scheme_to_dict(scheme) == DEFAULT_SCHEMES["mid-field"]


# --- Default schemes -----------------------------------------------------------------


def test_there_is_one_valid_default_per_scheme_key():
    assert tuple(DEFAULT_SCHEMES) == SCHEME_KEYS
    for key, data in DEFAULT_SCHEMES.items():
        assert data["key"] == key
        assert validate_scheme(data) == {}, key
        assert data["pass_score"] == 80
        assert sum(m["weight"] for m in data["metrics"]) == 100
        for m in data["metrics"]:
            assert m["min_samples"] == (3 if m["key"] == "nps" else 1)
            assert m["weight"] > 0  # metrics of weight 0 are left out
        assert "dispatch_minutes" not in weights(key)


def test_mid_field_is_exactly_the_table():
    data = DEFAULT_SCHEMES["mid-field"]
    assert {m["key"]: (m["weight"], m["target"], m["floor"]) for m in data["metrics"]} == (
        MID_FIELD_TABLE
    )
    assert [m["key"] for m in data["metrics"]] == list(MID_FIELD_TABLE)


@pytest.mark.parametrize("key", SCHEME_KEYS)
def test_satisfaction_weighs_40_in_every_default(key):
    assert weights(key)["nps"] + weights(key)["complaints"] == 40


@pytest.mark.parametrize("level", ["junior", "mid", "senior"])
def test_remote_defaults_weigh_first_contact_not_arrival_or_service(level):
    remote, field = weights(f"{level}-remote"), weights(f"{level}-field")
    assert "arrival_minutes" not in remote
    assert "service_minutes" not in remote
    assert remote["first_contact_minutes"] > field["first_contact_minutes"]


def dimension_weight(scheme_key: str, dimension: str) -> float:
    return sum(
        w for k, w in weights(scheme_key).items() if METRICS_BY_KEY[k].dimension == dimension
    )


@pytest.mark.parametrize("work", ["field", "remote"])
def test_levels_move_efficiency_weight(work):
    mid, junior, senior = f"mid-{work}", f"junior-{work}", f"senior-{work}"
    assert dimension_weight(junior, "efficiency") < dimension_weight(mid, "efficiency")
    assert dimension_weight(junior, "compliance") > dimension_weight(mid, "compliance")
    assert weights(junior)["trainings_attended"] > weights(mid)["trainings_attended"]
    assert dimension_weight(senior, "efficiency") < dimension_weight(mid, "efficiency")
    assert dimension_weight(senior, "knowledge") > dimension_weight(mid, "knowledge")
    senior_items = next(
        m for m in DEFAULT_SCHEMES[senior]["metrics"] if m["key"] == "knowledge_items"
    )
    assert senior_items["target"] == 2
