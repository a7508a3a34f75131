"""Verification of field work: the flags of verification.md, as pure functions.

A flag never blocks an engineer; it sends the visit to the supervisor's queue with the
evidence beside it. This module only decides *which* flags a check-in, a check-out or a
photo raises. Loading the engineer's earlier events, persisting the flags and moving the
visit between statuses belong to the services, so every rule here can be tested with
plain values and no application.

All times are timezone-aware datetimes; all distances are geodesic metres on WGS-84.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import lru_cache
from math import asin, cos, radians, sin, sqrt
from typing import Any

from geopy.distance import geodesic

# --- Flag names (verification.md). Stored on visits and photos; never rename. ---------
OUTSIDE_GEOFENCE = "OUTSIDE_GEOFENCE"
LOW_ACCURACY = "LOW_ACCURACY"
MOCK_LOCATION = "MOCK_LOCATION"
IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
DUPLICATE_COORDINATES = "DUPLICATE_COORDINATES"
CLOCK_SKEW = "CLOCK_SKEW"
LATE_SYNC = "LATE_SYNC"
OVERLAPPING_VISIT = "OVERLAPPING_VISIT"
SHORT_VISIT = "SHORT_VISIT"
# Raised by the services on the *open* visit, either when is_stale_open_visit() says so
# or when the same engineer checks in elsewhere (check_in_flags then gives the new visit
# OVERLAPPING_VISIT).
NO_CHECKOUT = "NO_CHECKOUT"
DUPLICATE_PHOTO = "DUPLICATE_PHOTO"
PHOTO_LOCATION_MISMATCH = "PHOTO_LOCATION_MISMATCH"
PHOTO_TIME_MISMATCH = "PHOTO_TIME_MISMATCH"

# The order of the specification's tables. Flags are always returned in this order so
# that stored lists, API responses and tests do not depend on evaluation order.
FLAG_ORDER: tuple[str, ...] = (
    OUTSIDE_GEOFENCE,
    LOW_ACCURACY,
    MOCK_LOCATION,
    IMPOSSIBLE_TRAVEL,
    DUPLICATE_COORDINATES,
    CLOCK_SKEW,
    LATE_SYNC,
    OVERLAPPING_VISIT,
    SHORT_VISIT,
    NO_CHECKOUT,
    DUPLICATE_PHOTO,
    PHOTO_LOCATION_MISMATCH,
    PHOTO_TIME_MISMATCH,
)

# Coordinates are compared to this many decimals (about 0.1 m): real fixes jitter
# beyond it, so an exact repeat was replayed or typed.
COORDINATE_DECIMALS = 6


@dataclass(frozen=True)
class Thresholds:
    """The configurable thresholds of verification.md, named after their settings."""

    geofence_default_radius_m: float = 150
    gps_max_accuracy_m: float = 100
    max_travel_kmh: float = 200
    travel_min_distance_m: float = 1000
    clock_ahead_tolerance_s: float = 300
    clock_ahead_max_s: float = 86400
    late_sync_s: float = 21600
    offline_max_age_s: float = 259200
    min_visit_s: float = 300
    photo_max_distance_m: float = 500
    photo_time_tolerance_s: float = 7200
    photo_dhash_max_distance: int = 6
    open_visit_alert_s: float = 43200

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Thresholds:
        """Build from a mapping keyed by the setting names (e.g. ``app.config``).

        A setting missing from the mapping keeps the specification's default. The same
        values give the same (frozen) thresholds, built once.
        """
        values = tuple((name, settings[key]) for name, key in _setting_names(cls)
                       if key in settings)
        try:
            return _thresholds_of(cls, values)
        except TypeError:  # a value that cannot be hashed: built, not kept
            return cls(**dict(values))


@lru_cache(maxsize=16)
def _setting_names(cls: type) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, f.name.upper()) for f in fields(cls))


@lru_cache(maxsize=64)
def _thresholds_of(cls: type, values: tuple[tuple[str, Any], ...]) -> Any:
    return cls(**dict(values))


# One calculator for every distance: a new geodesic() builds its ellipsoid's series
# coefficients each time, which costs as much as the distance itself.
_WGS84 = geodesic()


@lru_cache(maxsize=4096)
def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance in metres between two WGS-84 points. Kept for the points last
    asked (a pure function of them): a caller may work it out ahead, where it holds no
    lock, and the rules then find it."""
    return _WGS84.measure((lat1, lon1), (lat2, lon2)) * 1000  # as geodesic(...).meters


# The distance on a sphere of the Earth's mean radius is within 0.6 % of the WGS-84
# geodesic (the ellipsoid's flattening is 1/298), and costs a tenth of it: a rule that
# only compares a distance with a threshold asks the sphere first, and the geodesic
# only when the answer lies within this margin (and a millimetre, for the rounding of
# points a hair apart).
SPHERE_MARGIN = 1.01
SPHERE_SLACK_M = 0.001
MEAN_EARTH_RADIUS_M = 6_371_008.8


def sphere_distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres on the mean-radius sphere."""
    phi1, phi2 = radians(lat1), radians(lat2)
    h = sin((phi2 - phi1) / 2) ** 2 + cos(phi1) * cos(phi2) * sin(radians(lon2 - lon1) / 2) ** 2
    return 2 * MEAN_EARTH_RADIUS_M * asin(min(1.0, sqrt(h)))


@dataclass(frozen=True)
class Fix:
    """A position reported by the phone for a check-in or check-out.

    ``client_time`` is when the phone took the fix; an offline action replayed later
    keeps it. It must be timezone-aware.
    """

    lat: float
    lon: float
    accuracy_m: float
    client_time: datetime
    mock_location: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.client_time, "client_time")


@dataclass(frozen=True)
class PositionEvent:
    """An earlier check-in or check-out of the same engineer (any job, any visit)."""

    lat: float
    lon: float
    client_time: datetime

    def __post_init__(self) -> None:
        _require_aware(self.client_time, "client_time")


@dataclass(frozen=True)
class Site:
    """Where a job is done: the centre of its geofence and the fence's radius."""

    lat: float
    lon: float
    radius_m: float


class OfflineActionTooOld(Exception):
    """An action replayed from the phone's offline queue is older than allowed.

    The edge maps ``code`` to its HTTP status (422 in api.md); the domain knows no HTTP.
    """

    code = "OFFLINE_ACTION_TOO_OLD"

    def __init__(self, age: timedelta, max_age: timedelta) -> None:
        self.detail = (
            f"The action was made {int(age.total_seconds())} s ago; actions older than "
            f"{int(max_age.total_seconds())} s are refused."
        )
        super().__init__(self.detail)
        self.age = age
        self.max_age = max_age


def ensure_not_too_old(client_time: datetime, server_time: datetime, t: Thresholds) -> None:
    """Refuse an action whose ``client_time`` is more than ``offline_max_age_s`` old.

    Exactly ``offline_max_age_s`` old is still accepted (the spec says "older than").
    """
    age = server_time - client_time
    max_age = timedelta(seconds=t.offline_max_age_s)
    if age > max_age:
        raise OfflineActionTooOld(age, max_age)


class ClientTimeFarAhead(Exception):
    """A ``client_time`` so far ahead of the server's clock that no phone's drift explains
    it: refused (422), not stored as CLOCK_SKEW, since a visit dated years ahead would
    keep its job from ever being closed."""

    code = "VALIDATION_ERROR"

    def __init__(self, max_ahead: timedelta) -> None:
        self.detail = (f"client_time is more than {int(max_ahead.total_seconds())} s ahead "
                       "of the server's clock; set the phone's clock and try again.")
        super().__init__(self.detail)


def ensure_not_far_ahead(client_time: datetime, server_time: datetime, t: Thresholds) -> None:
    """Refuse a ``client_time`` more than ``clock_ahead_max_s`` ahead of the server (less
    is accepted and flagged CLOCK_SKEW beyond ``clock_ahead_tolerance_s``)."""
    max_ahead = timedelta(seconds=t.clock_ahead_max_s)
    if client_time - server_time > max_ahead:
        raise ClientTimeFarAhead(max_ahead)


def previous_event(events: Iterable[PositionEvent], at: datetime) -> PositionEvent | None:
    """The latest of ``events`` whose ``client_time`` is at or before ``at``, if any.

    This is the event IMPOSSIBLE_TRAVEL compares a new fix against. It is chosen by
    ``client_time``, not by arrival order, because offline actions arrive late.
    """
    candidates = [e for e in events if e.client_time <= at]
    if not candidates:
        return None
    return max(candidates, key=lambda e: e.client_time)


def check_in_flags(
    fix: Fix,
    server_time: datetime,
    site: Site,
    previous_event: PositionEvent | None,
    earlier_events: Iterable[PositionEvent],
    open_visit_elsewhere: bool,
    t: Thresholds,
) -> tuple[list[str], float]:
    """The flags a check-in raises, in FLAG_ORDER, and its distance to the site in metres.

    ``previous_event`` is the engineer's latest check-in or check-out with
    ``client_time`` <= ``fix.client_time`` (see :func:`previous_event`), or None.
    ``earlier_events`` are all the engineer's recorded check-ins and check-outs, for
    DUPLICATE_COORDINATES. ``open_visit_elsewhere`` is true when the engineer still has
    a visit open at a different site; the services then also put NO_CHECKOUT on that
    open visit.
    """
    flags, distance = _position_flags(fix, server_time, site, previous_event, earlier_events, t)
    if open_visit_elsewhere:
        flags.add(OVERLAPPING_VISIT)
    return _ordered(flags), distance


def check_out_flags(
    fix: Fix,
    check_in_time: datetime,
    server_time: datetime,
    site: Site,
    previous_event: PositionEvent | None,
    earlier_events: Iterable[PositionEvent],
    t: Thresholds,
) -> tuple[list[str], float]:
    """The flags a check-out raises, in FLAG_ORDER, and its distance to the site in metres.

    Same position and time rules as :func:`check_in_flags` (``previous_event`` chosen
    the same way, usually this visit's check-in), plus SHORT_VISIT when the visit lasted
    less than ``min_visit_s`` by client times. ``check_in_time`` is the check-in's
    ``client_time``.
    """
    flags, distance = _position_flags(fix, server_time, site, previous_event, earlier_events, t)
    if fix.client_time - check_in_time < timedelta(seconds=t.min_visit_s):
        flags.add(SHORT_VISIT)
    return _ordered(flags), distance


def is_stale_open_visit(check_in_time: datetime, now: datetime, t: Thresholds) -> bool:
    """Whether a visit still open at ``now`` deserves NO_CHECKOUT.

    True once the visit has been open for at least ``open_visit_alert_s`` ("still open
    12 h after its check-in" includes the twelfth hour itself). ``check_in_time`` is the
    check-in's ``client_time``, when the engineer said the work began.
    """
    return now - check_in_time >= timedelta(seconds=t.open_visit_alert_s)


def _position_flags(
    fix: Fix,
    server_time: datetime,
    site: Site,
    previous: PositionEvent | None,
    earlier_events: Iterable[PositionEvent],
    t: Thresholds,
) -> tuple[set[str], float]:
    """The rules shared by check-in and check-out: place, fix quality, travel, clocks."""
    flags: set[str] = set()
    distance = distance_m(fix.lat, fix.lon, site.lat, site.lon)

    # A poor fix widens the fence by its accuracy, but only up to the accuracy we trust,
    # so that claiming a 5 km accuracy cannot stretch the fence to cover anywhere.
    if distance > site.radius_m + min(fix.accuracy_m, t.gps_max_accuracy_m):
        flags.add(OUTSIDE_GEOFENCE)
    if fix.accuracy_m > t.gps_max_accuracy_m:
        flags.add(LOW_ACCURACY)
    if fix.mock_location:
        flags.add(MOCK_LOCATION)
    if previous is not None and _impossible_travel(previous, fix, t):
        flags.add(IMPOSSIBLE_TRAVEL)
    if _repeats_coordinates(fix, earlier_events):
        flags.add(DUPLICATE_COORDINATES)
    if fix.client_time > server_time + timedelta(seconds=t.clock_ahead_tolerance_s):
        flags.add(CLOCK_SKEW)
    if server_time - fix.client_time > timedelta(seconds=t.late_sync_s):
        flags.add(LATE_SYNC)
    return flags, distance


def _impossible_travel(previous: PositionEvent, fix: Fix, t: Thresholds) -> bool:
    """Distance >= travel_min_distance_m covered faster than max_travel_kmh (by the
    geodesic; the sphere settles the clear cases, see SPHERE_MARGIN)."""
    seconds = (fix.client_time - previous.client_time).total_seconds()
    rough = sphere_distance_m(previous.lat, previous.lon, fix.lat, fix.lon) * SPHERE_MARGIN + SPHERE_SLACK_M
    if rough < t.travel_min_distance_m or (
            seconds > 0 and rough * 3600 <= t.max_travel_kmh * 1000 * seconds):
        return False
    travelled = distance_m(previous.lat, previous.lon, fix.lat, fix.lon)
    # Short hops are GPS noise between neighbouring sites, whatever the time between.
    if travelled < t.travel_min_distance_m:
        return False
    if seconds <= 0:
        # Being in two places at once (or going back in time) is infinitely fast.
        return True
    # km/h = (m / 1000) / (s / 3600); multiplied out so the exact boundary is not lost
    # to a division's rounding.
    return travelled * 3600 > t.max_travel_kmh * 1000 * seconds


def _repeats_coordinates(fix: Fix, earlier_events: Iterable[PositionEvent]) -> bool:
    """Whether an event at another time has the very same coordinates to 6 decimals."""
    key = _coordinate_key(fix.lat, fix.lon)
    return any(
        e.client_time != fix.client_time and _coordinate_key(e.lat, e.lon) == key
        for e in earlier_events
    )


def _coordinate_key(lat: float, lon: float) -> tuple[float, float]:
    return round(lat, COORDINATE_DECIMALS), round(lon, COORDINATE_DECIMALS)


# --- Photos ----------------------------------------------------------------------------


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two perceptual hashes."""
    return (a ^ b).bit_count()


def duplicate_photo(
    sha256: str, dhash: int, others: Iterable[tuple[str, int]], t: Thresholds
) -> bool:
    """Whether the photo repeats one attached to *another* job.

    ``others`` are ``(sha256, dhash)`` of the photos of other jobs; the same photo on
    its own job (a retry, a before/after pair of a still scene) is not evidence of reuse.
    The difference hash also catches a re-encoded, resized or re-compressed copy.
    """
    return any(
        other_sha == sha256 or hamming(dhash, other_dhash) <= t.photo_dhash_max_distance
        for other_sha, other_dhash in others
    )


def photo_location_mismatch(
    gps: tuple[float, float] | None, site: Site, t: Thresholds
) -> bool:
    """Whether the photo's EXIF position is farther than photo_max_distance_m from the site.

    Phones and browsers often strip location, so a missing position raises nothing.
    """
    if gps is None:
        return False
    return distance_m(gps[0], gps[1], site.lat, site.lon) > t.photo_max_distance_m


def visit_window(
    visits: Iterable[tuple[datetime, datetime | None]], uploaded_at: datetime
) -> tuple[datetime, datetime] | None:
    """The span of a job's visits for PHOTO_TIME_MISMATCH, or None without visits.

    ``visits`` are ``(check_in client_time, check_out client_time or None)``. The window
    runs from the first check-in to the last check-out; while a visit is still open the
    work goes on, so the window reaches the upload time instead.
    """
    visits = list(visits)
    if not visits:
        return None
    start = min(check_in for check_in, _ in visits)
    check_outs = [check_out for _, check_out in visits if check_out is not None]
    if len(check_outs) < len(visits):
        end = max([uploaded_at, *check_outs])
    else:
        end = max(check_outs)
    return start, end


def photo_time_mismatch(
    taken_at: datetime | None,
    visit_window: tuple[datetime, datetime] | None,
    uploaded_at: datetime,
    t: Thresholds,
) -> bool:
    """Whether the photo's EXIF time lies outside the job's visits, give or take tolerance.

    ``visit_window`` is ``(first check-in, last check-out or upload time)`` (see
    :func:`visit_window`); for a job without visits it is None and the photo is compared
    with ``uploaded_at`` instead. ``taken_at`` must be aware: the caller applies the EXIF
    offset or the organisation's TIMEZONE. A missing time raises nothing. Being exactly
    ``photo_time_tolerance_s`` away is still inside.
    """
    if taken_at is None:
        return False
    tolerance = timedelta(seconds=t.photo_time_tolerance_s)
    if visit_window is None:
        return abs(taken_at - uploaded_at) > tolerance
    start, end = visit_window
    return not (start - tolerance <= taken_at <= end + tolerance)


def photo_flags(
    *,
    sha256: str,
    dhash: int,
    others: Iterable[tuple[str, int]],
    gps: tuple[float, float] | None,
    site: Site,
    taken_at: datetime | None,
    visit_window: tuple[datetime, datetime] | None,
    uploaded_at: datetime,
    t: Thresholds,
) -> list[str]:
    """All the photo flags of verification.md, in FLAG_ORDER."""
    flags: set[str] = set()
    if duplicate_photo(sha256, dhash, others, t):
        flags.add(DUPLICATE_PHOTO)
    if photo_location_mismatch(gps, site, t):
        flags.add(PHOTO_LOCATION_MISMATCH)
    if photo_time_mismatch(taken_at, visit_window, uploaded_at, t):
        flags.add(PHOTO_TIME_MISMATCH)
    return _ordered(flags)


def _ordered(flags: Iterable[str]) -> list[str]:
    present = set(flags)
    return [flag for flag in FLAG_ORDER if flag in present]


def _require_aware(value: datetime, name: str) -> None:
    # A naive time cannot be compared with the server's clock; the API rejects such
    # times, so one reaching the domain is a bug to surface, not to guess about.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
