"""Whom to send to a job: the order in which a dispatcher is offered the team's engineers.

The rule (workday.md, "Dispatch"), in plain Python:
1. The distance from where the engineer is known to be to the job's site, nearest first:
   their last known position (the latest fix of a check-in, a check-out or a photo
   of theirs), or, when none is known, their home site.
2. Then the fewer open jobs they carry today, first.
3. Engineers with neither a position nor a home site come last (distance unknown),
   ordered by their open jobs today.
Ties end on the name, then the id, so that the order never depends on the database's.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from app.domain.verification import distance_m

LAST_POSITION = "last_position"
HOME_SITE = "home_site"
Source = Literal["last_position", "home_site"]
Point = tuple[float, float]


@dataclass(frozen=True)
class Candidate:
    """An engineer who may be sent, with what the rule reads of them."""

    engineer_id: int
    name: str
    last_position: Point | None
    home_site: Point | None
    open_jobs_today: int


@dataclass(frozen=True)
class Suggestion:
    engineer_id: int
    name: str
    distance_m: float | None
    source: Source | None
    open_jobs_today: int


def suggest(site: Point, candidates: Iterable[Candidate],
            distance: Callable[[float, float, float, float], float] = distance_m,
            ) -> list[Suggestion]:
    """The candidates in the order of the rule, each with the distance it was ordered by
    (geodesic metres, rounded to the metre) and where it was measured from."""
    suggestions = []
    for candidate in candidates:
        origin: Point | None
        source: Source | None
        if candidate.last_position is not None:
            origin, source = candidate.last_position, LAST_POSITION
        elif candidate.home_site is not None:
            origin, source = candidate.home_site, HOME_SITE
        else:
            origin, source = None, None
        metres = None if origin is None else round(distance(origin[0], origin[1], site[0], site[1]))
        suggestions.append(Suggestion(candidate.engineer_id, candidate.name, metres, source,
                                      candidate.open_jobs_today))
    return sorted(suggestions, key=_order)


def _order(s: Suggestion) -> tuple:
    return (s.distance_m is None, s.distance_m or 0, s.open_jobs_today, s.name.casefold(),
            s.engineer_id)
