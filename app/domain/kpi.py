"""KPI catalogue, scoring schemes and scores, as defined in the KPI spec (kpi.md).

Pay and promotion hang on these numbers, so the formulas live here in plain Python: the
services load raw figures (a value and the number of items behind it) from the database
and hand them in, and everything from a metric score to a bonus cut-off can be tested
without an app or a database.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

Better = Literal["higher", "lower"]
Kind = Literal["count", "mean", "rate"]

DIMENSIONS = ("response", "efficiency", "satisfaction", "knowledge", "compliance")
SCHEME_KEYS = (
    "junior-field",
    "mid-field",
    "senior-field",
    "junior-remote",
    "mid-remote",
    "senior-remote",
)
DEFAULT_PASS_SCORE = 80
BONUS_TOP_SHARE = 0.2
PROMOTION_STREAK_MONTHS = 3


# --- The metric catalogue ------------------------------------------------------------


@dataclass(frozen=True)
class MetricDef:
    """One metric of the spec's table: what it measures and which way is better."""

    key: str
    dimension: str
    unit: str
    better: Better
    kind: Kind


METRICS: tuple[MetricDef, ...] = (
    MetricDef("first_contact_minutes", "response", "min", "lower", "mean"),
    MetricDef("arrival_minutes", "response", "min", "lower", "mean"),
    MetricDef("dispatch_minutes", "response", "min", "lower", "mean"),
    MetricDef("service_minutes", "efficiency", "min", "lower", "mean"),
    MetricDef("first_time_fix_rate", "efficiency", "%", "higher", "rate"),
    MetricDef("repeat_repair_rate", "efficiency", "%", "lower", "rate"),
    MetricDef("nps", "satisfaction", "points", "higher", "rate"),
    MetricDef("complaints", "satisfaction", "count", "lower", "count"),
    MetricDef("trainings_attended", "knowledge", "count", "higher", "count"),
    MetricDef("knowledge_items", "knowledge", "count", "higher", "count"),
    MetricDef("case_quality", "knowledge", "1–5", "higher", "mean"),
    MetricDef("checklist_completion_rate", "compliance", "%", "higher", "rate"),
    MetricDef("safety_incidents", "compliance", "count", "lower", "count"),
    MetricDef("process_violations", "compliance", "count", "lower", "count"),
    MetricDef("false_reports", "compliance", "count", "lower", "count"),
)
METRICS_BY_KEY: dict[str, MetricDef] = {m.key: m for m in METRICS}


def default_min_samples(key: str) -> int:
    """The spec's default `min_samples`: 3 for nps (a couple of answers say little), else 1."""
    return 3 if key == "nps" else 1


# --- Schemes -------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemeMetric:
    """A metric's weight, target and floor in one scheme.

    `min_samples` left as None takes the metric's default (3 for nps, else 1).
    """

    key: str
    weight: float
    target: float
    floor: float
    min_samples: int | None = None

    def __post_init__(self) -> None:
        # The default depends on the key, which a plain field default cannot express.
        if self.min_samples is None:
            object.__setattr__(self, "min_samples", default_min_samples(self.key))


@dataclass(frozen=True)
class Scheme:
    """How one level and work type (`LEVEL-WORKTYPE`) is judged; unlisted metrics weigh 0."""

    key: str
    pass_score: float
    metrics: tuple[SchemeMetric, ...]

    def metric(self, key: str) -> SchemeMetric | None:
        """The scheme's entry for a metric, or None when the scheme does not list it."""
        return next((m for m in self.metrics if m.key == key), None)


class InvalidScheme(ValueError):
    """A scheme breaks a rule of the spec; `errors` maps field paths to messages."""

    code = "INVALID_SCHEME"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid KPI scheme")
        self.errors = errors


def _is_number(x: Any) -> bool:
    # bool is an int subclass, and NaN or infinity would slip through every comparison.
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:  # an integer beyond any float (JSON allows 400 digits)
        return False


def validate_scheme(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Check a scheme dict against the spec's rules; {} when valid, else field → messages.

    Fields are named like `pass_score`, `metrics` or `metrics.3.floor`.
    """
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if data.get("key") not in SCHEME_KEYS:
        add("key", f"must be one of {', '.join(SCHEME_KEYS)}")

    pass_score = data.get("pass_score")
    if not _is_number(pass_score):
        add("pass_score", "must be a number")
    elif not 0 <= pass_score <= 100:
        add("pass_score", "must be between 0 and 100")

    metrics = data.get("metrics")
    if not isinstance(metrics, list):
        add("metrics", "must be a list of metrics")
        return errors

    seen: set[str] = set()
    weights: list[float] = []
    for i, item in enumerate(metrics):
        path = f"metrics.{i}"
        if not isinstance(item, Mapping):
            add(path, "must be an object")
            continue

        key = item.get("key")
        definition = METRICS_BY_KEY.get(key) if isinstance(key, str) else None
        if definition is None:
            add(f"{path}.key", f"{key!r} is not a known metric")
        elif key in seen:
            add(f"{path}.key", f"{key} is listed more than once")
        else:
            seen.add(key)

        weight = item.get("weight")
        if not _is_number(weight):
            add(f"{path}.weight", "must be a number")
        else:
            weights.append(weight)
            if weight < 0:
                add(f"{path}.weight", "must not be negative")

        target, floor = item.get("target"), item.get("floor")
        for name, value in (("target", target), ("floor", floor)):
            if not _is_number(value):
                add(f"{path}.{name}", "must be a number")

        min_samples = item.get("min_samples", 1)
        if not isinstance(min_samples, int) or isinstance(min_samples, bool):
            add(f"{path}.min_samples", "must be a whole number")
        elif min_samples < 1:
            add(f"{path}.min_samples", "must be at least 1")

        # A floor level with the target would divide by zero; one on the better side
        # would score an improvement lower.
        if definition is not None and _is_number(target) and _is_number(floor):
            if definition.better == "higher" and not floor < target:
                add(f"{path}.floor", "must be below the target (higher is better)")
            if definition.better == "lower" and not floor > target:
                add(f"{path}.floor", "must be above the target (lower is better)")

    # Only a complete set of weights has a meaningful sum; a bad weight is reported above.
    if len(weights) == len(metrics) and not math.isclose(sum(weights), 100, abs_tol=1e-9):
        add("metrics", f"weights must sum to 100, not {sum(weights):g}")
    return errors


def scheme_from_dict(data: Mapping[str, Any]) -> Scheme:
    """Build a Scheme from its JSON shape; raises InvalidScheme when a rule is broken."""
    errors = validate_scheme(data)
    if errors:
        raise InvalidScheme(errors)
    return Scheme(
        key=data["key"],
        pass_score=data["pass_score"],
        metrics=tuple(
            SchemeMetric(m["key"], m["weight"], m["target"], m["floor"], m.get("min_samples"))
            for m in data["metrics"]
        ),
    )


def scheme_to_dict(scheme: Scheme) -> dict[str, Any]:
    """The scheme in the spec's JSON shape, `min_samples` always spelled out."""
    return {
        "key": scheme.key,
        "pass_score": scheme.pass_score,
        "metrics": [
            {
                "key": m.key,
                "weight": m.weight,
                "target": m.target,
                "floor": m.floor,
                "min_samples": m.min_samples,
            }
            for m in scheme.metrics
        ],
    }


# Default schemes. Targets and floors are mid-field's for every level (seniors are asked
# for two approved items a month); weights per scheme, a 0 meaning "not listed". Columns
# sum to 100 and satisfaction (nps + complaints) is 40 everywhere, after the case study.
# Juniors trade efficiency for compliance and trainings, seniors trade it for knowledge;
# remote work has no arrival or on-site time, so that weight goes to first contact.
_DEFAULT_TABLE: dict[str, tuple[float, float, tuple[int, int, int, int, int, int]]] = {
    #                             target floor   jr-f mid-f sr-f jr-r mid-r sr-r
    "first_contact_minutes":      (30,   240,   (10,  10,   10,  17,  20,   17)),
    "arrival_minutes":            (240,  1440,  (5,   5,    5,   0,   0,    0)),
    "first_time_fix_rate":        (85,   50,    (10,  15,   10,  10,  15,   10)),
    "repeat_repair_rate":         (5,    20,    (3,   5,    3,   3,   5,    3)),
    "service_minutes":            (90,   240,   (2,   5,    2,   0,   0,    0)),
    "nps":                        (50,   0,     (30,  30,   30,  30,  30,   30)),
    "complaints":                 (0,    3,     (10,  10,   10,  10,  10,   10)),
    "trainings_attended":         (1,    0,     (6,   3,    3,   6,   3,    3)),
    "knowledge_items":            (1,    0,     (4,   4,    9,   4,   4,    9)),
    "case_quality":               (4,    2,     (3,   3,    8,   3,   3,    8)),
    "checklist_completion_rate":  (100,  80,    (8,   4,    4,   8,   4,    4)),
    "safety_incidents":           (0,    2,     (5,   3,    3,   5,   3,    3)),
    "process_violations":         (0,    3,     (2,   1,    1,   2,   1,    1)),
    "false_reports":              (0,    2,     (2,   2,    2,   2,   2,    2)),
}  # fmt: skip
_SENIOR_TARGETS: dict[str, tuple[float, float]] = {"knowledge_items": (2, 0)}


def _default_scheme(key: str) -> dict[str, Any]:
    column = SCHEME_KEYS.index(key)
    metrics = []
    for metric_key, (target, floor, weights) in _DEFAULT_TABLE.items():
        if weights[column] == 0:
            continue
        if key.startswith("senior-"):
            target, floor = _SENIOR_TARGETS.get(metric_key, (target, floor))
        metrics.append(SchemeMetric(metric_key, weights[column], target, floor))
    return scheme_to_dict(Scheme(key, DEFAULT_PASS_SCORE, tuple(metrics)))


DEFAULT_SCHEMES: dict[str, dict[str, Any]] = {key: _default_scheme(key) for key in SCHEME_KEYS}


# --- Scoring -------------------------------------------------------------------------


@dataclass(frozen=True)
class RawFigure:
    """A metric's raw value for one engineer and period, and the `n` items behind it."""

    value: float | None
    n: int


_NO_FIGURE = RawFigure(None, 0)


@dataclass(frozen=True)
class CardMetric:
    """One metric row of the KPI card, rounded as returned."""

    key: str
    dimension: str
    unit: str
    better: Better
    value: float | None
    n: int
    has_data: bool
    target: float | None
    floor: float | None
    weight: float
    score: float | None
    gap: float | None


@dataclass(frozen=True)
class CardScores:
    """The scored part of a KPI card: all 15 metric rows, dimensions and the total."""

    scheme: str
    pass_score: float
    metrics: tuple[CardMetric, ...]
    dimensions: dict[str, float | None]
    total: float | None
    meets_target: bool


_NO_FRACTION = 2.0**53  # from here on every float is a whole number


def round_half_up(x: float | None, places: int = 2) -> float | None:
    """Round half away from zero, as the figure is written (None stays None).

    Going through str() rounds the shortest repr, so 2.675 (stored as 2.67499…) gives
    2.68 as a person would expect, and both implementations of the spec agree. The digits
    of that repr are rounded as text (a figure is rounded thousands of times per board);
    `_round_decimal` is the same rule through Decimal, for the forms the text path leaves.
    """
    if x is None:
        return None
    if not math.isfinite(x) or abs(x) >= _NO_FRACTION:
        # Nothing to round (a float this large has no hundredths), and quantize() would
        # overflow Decimal's default precision (a target of 1e300 is a valid scheme).
        return float(x)
    text = repr(float(x))
    whole, dot, fraction = text.partition(".")
    if not dot or "e" in fraction:
        return _round_decimal(x, places)
    if len(fraction) <= places:
        return float(x)  # already written with at most `places` decimals
    negative = whole.startswith("-")
    kept = int(whole.lstrip("-") + fraction[:places])
    if fraction[places] >= "5":  # the first digit dropped decides: half goes up
        kept += 1
    # An exact integer over a power of ten, divided once: the float nearest the decimal,
    # which is what float(Decimal(...)) gives too.
    value = kept / 10**places
    return -value if negative else value


def _round_decimal(x: float, places: int) -> float:
    return float(Decimal(str(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def has_data(
    metric_def: MetricDef, raw: RawFigure, active: bool, min_samples: int | None = None
) -> bool:
    """Whether a figure counts this period (`min_samples` None: the metric's default).

    A count only counts when the engineer was active, so a month on leave is no month at
    all rather than a perfect month of zero incidents; a mean or rate needs enough items.
    """
    if metric_def.kind == "count":
        return active
    if min_samples is None:
        min_samples = default_min_samples(metric_def.key)
    return raw.value is not None and raw.n >= min_samples


def score_metric(better: Better, value: float, target: float, floor: float) -> float:
    """Score 0–100: 100 at or past the target, 0 at or past the floor, linear between."""
    if better == "higher":
        if value >= target:
            return 100.0
        if value <= floor:
            return 0.0
        return (value - floor) / (target - floor) * 100
    if value <= target:
        return 100.0
    if value >= floor:
        return 0.0
    return (floor - value) / (floor - target) * 100


def gap(better: Better, value: float, target: float) -> float:
    """How far the value still is from the target, in the metric's unit; 0 when met."""
    return max(0.0, target - value) if better == "higher" else max(0.0, value - target)


def meets_target(total: float | None, pass_score: float) -> bool:
    """Whether a total passes; compared rounded, so 79.995 (shown as 80.00) passes 80."""
    rounded = round_half_up(total)
    return rounded is not None and rounded >= pass_score


def _weighted_mean(pairs: Sequence[tuple[float, float]]) -> float | None:
    # Added up in order from 0, as sum() would: the same floats, without generators (a
    # board computes this for every dimension of a thousand engineers).
    weight = weighted = 0
    for w, s in pairs:
        weight += w
        weighted += w * s
    return weighted / weight if weight else None


_PLANS: dict[int, tuple[Scheme, tuple[tuple[MetricDef, SchemeMetric | None], ...]]] = {}


def _plan(scheme: Scheme) -> tuple[tuple[MetricDef, SchemeMetric | None], ...]:
    """Every metric with the scheme's entry for it, worked out once per scheme object."""
    cached = _PLANS.get(id(scheme))
    if cached is not None and cached[0] is scheme:
        return cached[1]
    if len(_PLANS) > 256:
        _PLANS.clear()
    plan = tuple((definition, scheme.metric(definition.key)) for definition in METRICS)
    _PLANS[id(scheme)] = (scheme, plan)
    return plan


def compute_card(scheme: Scheme, raw: Mapping[str, RawFigure], active: bool,
                 rows: bool = True) -> CardScores:
    """Score one engineer's period under a scheme.

    `raw` maps metric keys to figures; a missing count is 0 records, a missing mean or rate
    has no data. Only metrics with weight > 0 and data enter the dimensions and total, so
    the weight of a metric without data is shared out among the others. With `rows`
    false the metric rows are left out (`metrics` is empty) and everything else is the
    same: what ranking a whole organisation needs, at a fraction of the cost.
    """
    metric_rows: list[CardMetric] = []
    scored: dict[str, list[tuple[float, float]]] = {d: [] for d in DIMENSIONS}
    for definition, entry in _plan(scheme):
        figure = raw.get(definition.key, _NO_FIGURE)
        with_data = has_data(definition, figure, active, entry.min_samples if entry else None)

        value = score = distance = None
        if with_data:
            value = figure.value if figure.value is not None else 0.0
            if entry is not None:
                score = score_metric(definition.better, value, entry.target, entry.floor)
                if rows:
                    distance = gap(definition.better, value, entry.target)
                if entry.weight > 0:
                    # Unrounded: the spec rounds only what is returned.
                    scored[definition.dimension].append((entry.weight, score))
        if not rows:
            continue
        metric_rows.append(
            CardMetric(
                key=definition.key,
                dimension=definition.dimension,
                unit=definition.unit,
                better=definition.better,
                value=round_half_up(value),
                n=figure.n,
                has_data=with_data,
                target=entry.target if entry else None,
                floor=entry.floor if entry else None,
                weight=entry.weight if entry else 0,
                score=round_half_up(score),
                gap=round_half_up(distance),
            )
        )

    total = round_half_up(_weighted_mean([p for pairs in scored.values() for p in pairs]))
    return CardScores(
        scheme=scheme.key,
        pass_score=scheme.pass_score,
        metrics=tuple(metric_rows),
        dimensions={d: round_half_up(_weighted_mean(pairs)) for d, pairs in scored.items()},
        total=total,
        meets_target=meets_target(total, scheme.pass_score),
    )


# --- Ranks, bonus and promotion ------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """An engineer's place among the organisation's ranked engineers in one period."""

    rank: int | None
    ranked: int
    bonus_eligible: bool


def bonus_cutoff(ranked: int, bonus_top_share: float = BONUS_TOP_SHARE) -> int:
    """The last rank that earns the bonus: max(1, ⌊share × ranked⌋)."""
    # Decimal so that a share such as 0.3 × 10 floors to 3, not to 2.9999…
    return max(1, math.floor(Decimal(str(bonus_top_share)) * ranked))


def rank_totals(
    totals: Mapping[int, float | None], bonus_top_share: float = BONUS_TOP_SHARE
) -> dict[int, Ranking]:
    """Rank engineers (id → total) on rounded totals; ties share a rank and all qualify."""
    rounded = {engineer: round_half_up(total) for engineer, total in totals.items()}
    ordered = sorted(t for t in rounded.values() if t is not None)
    ranked = len(ordered)
    cutoff = bonus_cutoff(ranked, bonus_top_share)

    rankings: dict[int, Ranking] = {}
    for engineer, total in rounded.items():
        if total is None:
            rankings[engineer] = Ranking(None, ranked, False)
            continue
        rank = 1 + ranked - bisect_right(ordered, total)  # 1 + number strictly higher
        rankings[engineer] = Ranking(rank, ranked, rank <= cutoff)
    return rankings


def streak_months(meets_by_month: Sequence[bool | None]) -> int:
    """Consecutive months meeting the target, counted back from the last (current) one.

    Months run oldest → newest; a month without a total (None) ends a streak like a miss.
    """
    streak = 0
    for meets in reversed(meets_by_month):
        if meets is not True:
            break
        streak += 1
    return streak


def promotion_priority(streak: int, months: int = PROMOTION_STREAK_MONTHS) -> bool:
    """Whether a streak is long enough to put the engineer first in line for promotion."""
    return streak >= months
