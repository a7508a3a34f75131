"""The flags of verification.md, at and around every threshold. No application needed."""
from __future__ import annotations

import ast
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import verification as v
from app.domain.verification import (
    CLOCK_SKEW,
    DUPLICATE_COORDINATES,
    DUPLICATE_PHOTO,
    FLAG_ORDER,
    IMPOSSIBLE_TRAVEL,
    LATE_SYNC,
    LOW_ACCURACY,
    MOCK_LOCATION,
    OUTSIDE_GEOFENCE,
    OVERLAPPING_VISIT,
    PHOTO_LOCATION_MISMATCH,
    PHOTO_TIME_MISMATCH,
    SHORT_VISIT,
    Fix,
    OfflineActionTooOld,
    PositionEvent,
    Site,
    Thresholds,
)

T = Thresholds()
NOW = datetime(2026, 11, 3, 8, 0, tzinfo=timezone.utc)
SITE = Site(lat=52.370216, lon=4.895168, radius_m=150)
# Just inside / just outside a metre boundary. geographiclib round-trips to nanometres,
# so a centimetre is a safe margin on either side.
EPS_M = 0.01


def at(distance: float, bearing: float = 90, origin: Site | PositionEvent = SITE) -> tuple[float, float]:
    """A point at an exact geodesic distance from ``origin``."""
    point = geodesic(meters=distance).destination((origin.lat, origin.lon), bearing)
    return point.latitude, point.longitude


def fix(
    lat: float = SITE.lat,
    lon: float = SITE.lon,
    accuracy_m: float = 10,
    client_time: datetime = NOW,
    mock_location: bool = False,
) -> Fix:
    return Fix(lat, lon, accuracy_m, client_time, mock_location)


def check_in(
    f: Fix,
    server_time: datetime = NOW,
    site: Site = SITE,
    previous: PositionEvent | None = None,
    earlier: list[PositionEvent] | None = None,
    open_visit_elsewhere: bool = False,
    t: Thresholds = T,
) -> list[str]:
    flags, _ = v.check_in_flags(
        f, server_time, site, previous, earlier or [], open_visit_elsewhere, t
    )
    return flags


# --- Thresholds and distance -----------------------------------------------------------


def test_threshold_defaults_are_the_spec_table():
    assert Thresholds() == Thresholds(
        geofence_default_radius_m=150,
        gps_max_accuracy_m=100,
        max_travel_kmh=200,
        travel_min_distance_m=1000,
        clock_ahead_tolerance_s=300,
        late_sync_s=21600,
        offline_max_age_s=259200,
        min_visit_s=300,
        photo_max_distance_m=500,
        photo_time_tolerance_s=7200,
        photo_dhash_max_distance=6,
        open_visit_alert_s=43200,
    )


def test_thresholds_from_settings_reads_upper_case_names_and_keeps_defaults():
    t = Thresholds.from_settings({"GPS_MAX_ACCURACY_M": 50.0, "MIN_VISIT_S": 60, "OTHER": 1})
    assert t == replace(Thresholds(), gps_max_accuracy_m=50.0, min_visit_s=60)


def test_thresholds_from_the_same_settings_are_built_once_and_follow_a_change():
    settings_ = {"GPS_MAX_ACCURACY_M": 50.0, "MIN_VISIT_S": 60}
    first = Thresholds.from_settings(settings_)
    assert Thresholds.from_settings(dict(settings_)) is first
    settings_["MIN_VISIT_S"] = 90
    changed = Thresholds.from_settings(settings_)
    assert changed.min_visit_s == 90 and first.min_visit_s == 60
    # A value that cannot be kept as a key is still read, every time.
    unkept = Thresholds.from_settings({"MIN_VISIT_S": 60, "MAX_TRAVEL_KMH": [1]})
    assert unkept.max_travel_kmh == [1]


def test_a_distance_kept_is_the_distance_worked_out():
    """distance_m keeps its answers (the check-in works its distance out before its
    write lock): a kept one is exactly the geodesic's, and other points are their own."""
    lat, lon = at(777.25)
    v.distance_m.cache_clear()
    first = v.distance_m(SITE.lat, SITE.lon, lat, lon)
    assert v.distance_m(SITE.lat, SITE.lon, lat, lon) == first
    assert v.distance_m.cache_info().hits == 1
    assert first == geodesic((SITE.lat, SITE.lon), (lat, lon)).meters
    assert v.distance_m(SITE.lat, SITE.lon, lat, lon + 1e-7) != first


def test_distance_is_geodesic_metres():
    lat, lon = at(1234.5)
    assert v.distance_m(SITE.lat, SITE.lon, lat, lon) == pytest.approx(1234.5, abs=1e-6)
    # Amsterdam to Paris, about 430 km on the ellipsoid.
    assert v.distance_m(52.370216, 4.895168, 48.856613, 2.352222) == pytest.approx(
        430_000, rel=0.01
    )


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        Fix(SITE.lat, SITE.lon, 10, datetime(2026, 11, 3, 8, 0))
    with pytest.raises(ValueError):
        PositionEvent(SITE.lat, SITE.lon, datetime(2026, 11, 3, 8, 0))


# --- OUTSIDE_GEOFENCE and LOW_ACCURACY -------------------------------------------------


@pytest.mark.parametrize(
    ("accuracy", "allowed"),
    [
        (20, 170),  # the fence widens by the fix's accuracy
        (100, 250),  # up to the trusted accuracy exactly
        (100.01, 250),  # and no further: the accuracy is capped
        (5000, 250),  # a huge claimed accuracy cannot stretch the fence
    ],
)
def test_geofence_boundary_with_accuracy_capping(accuracy, allowed):
    inside = fix(*at(allowed - EPS_M), accuracy_m=accuracy)
    outside = fix(*at(allowed + EPS_M, bearing=200), accuracy_m=accuracy)
    assert OUTSIDE_GEOFENCE not in check_in(inside)
    assert OUTSIDE_GEOFENCE in check_in(outside)


def test_geofence_uses_the_sites_own_radius():
    site = Site(SITE.lat, SITE.lon, radius_m=40)
    assert OUTSIDE_GEOFENCE not in check_in(fix(*at(49.99), accuracy_m=10), site=site)
    assert OUTSIDE_GEOFENCE in check_in(fix(*at(50.01), accuracy_m=10), site=site)


def test_check_in_returns_the_distance_to_the_site():
    _, distance = v.check_in_flags(fix(*at(321.0)), NOW, SITE, None, [], False, T)
    assert distance == pytest.approx(321.0, abs=1e-6)


def test_on_the_site_raises_nothing():
    assert check_in(fix()) == []


@pytest.mark.parametrize(("accuracy", "flagged"), [(99.99, False), (100, False), (100.01, True)])
def test_low_accuracy(accuracy, flagged):
    assert (LOW_ACCURACY in check_in(fix(accuracy_m=accuracy))) is flagged


def test_mock_location():
    assert check_in(fix(mock_location=True)) == [MOCK_LOCATION]
    assert MOCK_LOCATION not in check_in(fix(mock_location=False))


# --- IMPOSSIBLE_TRAVEL -----------------------------------------------------------------


def _travel(distance: float, seconds: float, t: Thresholds = T) -> bool:
    """Whether a check-in `distance` m away from an event `seconds` earlier is flagged."""
    previous = PositionEvent(SITE.lat, SITE.lon, NOW - timedelta(seconds=seconds))
    return IMPOSSIBLE_TRAVEL in check_in(fix(*at(distance, origin=previous)), previous=previous, t=t)


def test_travel_just_below_and_above_the_speed_limit():
    # 2000 m at 200 km/h takes 36 s.
    assert not _travel(2000, 36.01)  # 199.94 km/h
    assert _travel(2000, 35.99)  # 200.06 km/h


def test_short_hops_never_count_as_travel():
    assert not _travel(1000 - EPS_M, 1)  # 3600 km/h, but below 1000 m
    assert _travel(1000 + EPS_M, 1)


@pytest.mark.parametrize("seconds", [0, -60])
def test_no_time_between_events_is_infinite_speed(seconds):
    assert _travel(1000 + EPS_M, seconds)
    assert not _travel(1000 - EPS_M, seconds)


def test_travel_limits_are_configurable():
    t = replace(T, max_travel_kmh=100, travel_min_distance_m=500)
    assert _travel(600, 21.5, t)  # 100.47 km/h
    assert not _travel(600, 21.7, t)  # 99.54 km/h


def test_no_previous_event_no_travel():
    assert IMPOSSIBLE_TRAVEL not in check_in(fix(*at(50_000)), previous=None)


def test_previous_event_is_the_latest_at_or_before_the_fix():
    first = PositionEvent(1, 1, NOW - timedelta(hours=3))
    latest = PositionEvent(2, 2, NOW - timedelta(hours=1))
    same_time = PositionEvent(3, 3, NOW)
    later = PositionEvent(4, 4, NOW + timedelta(minutes=1))
    assert v.previous_event([later, latest, first], NOW) == latest
    assert v.previous_event([first, same_time, later], NOW) == same_time
    assert v.previous_event([later], NOW) is None
    assert v.previous_event([], NOW) is None


# --- DUPLICATE_COORDINATES -------------------------------------------------------------


def test_exact_repeat_of_earlier_coordinates():
    earlier = [PositionEvent(52.123456, 4.654321, NOW - timedelta(days=2))]
    assert DUPLICATE_COORDINATES in check_in(fix(52.123456, 4.654321), earlier=earlier)


def test_coordinates_equal_to_six_decimals_are_a_repeat():
    # They differ only in the 7th decimal and round to the same 6 decimals.
    earlier = [PositionEvent(52.1234561, 4.6543214, NOW - timedelta(days=2))]
    assert DUPLICATE_COORDINATES in check_in(fix(52.1234563, 4.6543211), earlier=earlier)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (52.1234566, 4.6543211),  # the latitude rounds to ...457, not ...456
        (52.1234561, 4.6543216),  # the longitude rounds to ...322, not ...321
        (52.123457, 4.654321),  # the sixth decimal differs
    ],
)
def test_coordinates_different_at_six_decimals_are_not(lat, lon):
    earlier = [PositionEvent(52.1234561, 4.6543211, NOW - timedelta(days=2))]
    assert DUPLICATE_COORDINATES not in check_in(fix(lat, lon), earlier=earlier)


def test_the_same_time_is_the_same_event_not_a_repeat():
    earlier = [PositionEvent(52.123456, 4.654321, NOW)]
    assert DUPLICATE_COORDINATES not in check_in(fix(52.123456, 4.654321), earlier=earlier)


# --- CLOCK_SKEW, LATE_SYNC, OFFLINE_ACTION_TOO_OLD -------------------------------------


@pytest.mark.parametrize(
    ("ahead", "flagged"),
    [
        (timedelta(seconds=300), False),
        (timedelta(seconds=300, microseconds=1), True),
        (timedelta(seconds=301), True),
        (timedelta(seconds=-3600), False),  # behind is LATE_SYNC's business
    ],
)
def test_clock_skew(ahead, flagged):
    assert (CLOCK_SKEW in check_in(fix(client_time=NOW + ahead), server_time=NOW)) is flagged


@pytest.mark.parametrize(("late", "flagged"), [(21599, False), (21600, False), (21601, True)])
def test_late_sync(late, flagged):
    client_time = NOW - timedelta(seconds=late)
    assert (LATE_SYNC in check_in(fix(client_time=client_time), server_time=NOW)) is flagged


def test_offline_action_at_the_maximum_age_is_accepted():
    v.ensure_not_too_old(NOW - timedelta(seconds=259200), NOW, T)
    v.ensure_not_too_old(NOW + timedelta(hours=1), NOW, T)  # ahead is CLOCK_SKEW's business


def test_offline_action_older_than_the_maximum_age_is_refused():
    with pytest.raises(OfflineActionTooOld) as caught:
        v.ensure_not_too_old(NOW - timedelta(seconds=259201), NOW, T)
    assert caught.value.code == "OFFLINE_ACTION_TOO_OLD"
    assert caught.value.age == timedelta(seconds=259201)


@pytest.mark.parametrize(("ahead_s", "refused"), [(86399, False), (86400, False), (86401, True),
                                                 (10**9, True)])
def test_a_client_time_more_than_a_day_ahead_is_refused(ahead_s, refused):
    """Up to CLOCK_AHEAD_MAX_S ahead is a clock set forward (flagged CLOCK_SKEW); beyond,
    no phone's drift explains it and it is refused rather than stored."""
    client_time = NOW + timedelta(seconds=ahead_s)
    if refused:
        with pytest.raises(v.ClientTimeFarAhead) as caught:
            v.ensure_not_far_ahead(client_time, NOW, T)
        assert caught.value.code == "VALIDATION_ERROR" and "86400" in caught.value.detail
    else:
        v.ensure_not_far_ahead(client_time, NOW, T)
    v.ensure_not_far_ahead(NOW - timedelta(days=3650), NOW, T)  # behind is the offline rule's


# --- OVERLAPPING_VISIT, SHORT_VISIT, NO_CHECKOUT ---------------------------------------


def test_overlapping_visit_on_check_in():
    assert check_in(fix(), open_visit_elsewhere=True) == [OVERLAPPING_VISIT]
    assert check_in(fix(), open_visit_elsewhere=False) == []


def _check_out(duration_s: float, f: Fix | None = None) -> list[str]:
    f = f or fix(client_time=NOW + timedelta(seconds=duration_s))
    flags, _ = v.check_out_flags(f, NOW, f.client_time, SITE, None, [], T)
    return flags


@pytest.mark.parametrize(("duration", "flagged"), [(299, True), (299.999, True), (300, False), (301, False)])
def test_short_visit(duration, flagged):
    assert (SHORT_VISIT in _check_out(duration)) is flagged


def test_check_out_applies_the_position_and_time_rules_but_not_overlap():
    f = Fix(*at(1000), accuracy_m=150, client_time=NOW + timedelta(hours=1), mock_location=True)
    previous = PositionEvent(SITE.lat, SITE.lon, NOW)
    flags, distance = v.check_out_flags(
        f, NOW, f.client_time + timedelta(hours=7), SITE, previous, [], T
    )
    assert flags == [OUTSIDE_GEOFENCE, LOW_ACCURACY, MOCK_LOCATION, LATE_SYNC]
    assert distance == pytest.approx(1000, abs=1e-6)
    assert OVERLAPPING_VISIT not in flags


def test_check_out_too_fast_from_the_check_in():
    previous = PositionEvent(SITE.lat, SITE.lon, NOW)
    f = fix(*at(5000), client_time=NOW + timedelta(seconds=600))  # 30 km/h: fine
    assert IMPOSSIBLE_TRAVEL not in v.check_out_flags(f, NOW, f.client_time, SITE, previous, [], T)[0]
    f = fix(*at(50_000), client_time=NOW + timedelta(seconds=600))  # 300 km/h
    assert IMPOSSIBLE_TRAVEL in v.check_out_flags(f, NOW, f.client_time, SITE, previous, [], T)[0]


@pytest.mark.parametrize(("open_for", "stale"), [(43199, False), (43200, True), (43201, True)])
def test_no_checkout_after_twelve_hours_open(open_for, stale):
    assert v.is_stale_open_visit(NOW, NOW + timedelta(seconds=open_for), T) is stale


def test_every_flag_once_in_the_specs_order():
    previous = PositionEvent(*at(100_000), NOW - timedelta(hours=8))
    lat, lon = at(5000)
    earlier = [
        PositionEvent(lat, lon, NOW - timedelta(days=1)),
        PositionEvent(lat, lon, NOW - timedelta(days=2)),
    ]
    # Behind the server by 7 h: LATE_SYNC; and a 100 km jump in 1 s of client time.
    f = Fix(lat, lon, 500, NOW - timedelta(hours=8) + timedelta(seconds=1), True)
    flags = check_in(
        f, server_time=NOW + timedelta(hours=-1), previous=previous, earlier=earlier,
        open_visit_elsewhere=True,
    )
    assert flags == [
        OUTSIDE_GEOFENCE,
        LOW_ACCURACY,
        MOCK_LOCATION,
        IMPOSSIBLE_TRAVEL,
        DUPLICATE_COORDINATES,
        LATE_SYNC,
        OVERLAPPING_VISIT,
    ]
    skewed = check_in(fix(client_time=NOW + timedelta(hours=1)), server_time=NOW)
    assert skewed == [CLOCK_SKEW]
    assert list(FLAG_ORDER) == sorted(FLAG_ORDER, key=FLAG_ORDER.index)
    assert len(set(FLAG_ORDER)) == 13


# --- Photos ----------------------------------------------------------------------------


def test_hamming():
    assert v.hamming(0, 0) == 0
    assert v.hamming(0b1011, 0b0001) == 2
    assert v.hamming(0, 2**64 - 1) == 64


@pytest.mark.parametrize(("bits", "duplicate"), [(0, True), (6, True), (7, False), (64, False)])
def test_duplicate_photo_by_dhash_distance(bits, duplicate):
    mine = 0xF0F0_F0F0_F0F0_F0F0
    other = mine ^ ((1 << bits) - 1)  # flip the lowest `bits` bits
    assert v.hamming(mine, other) == bits
    assert v.duplicate_photo("a" * 64, mine, [("b" * 64, other)], T) is duplicate


def test_duplicate_photo_by_sha256_whatever_the_dhash():
    assert v.duplicate_photo("a" * 64, 0, [("b" * 64, 2**64 - 1), ("a" * 64, 2**64 - 1)], T)
    assert not v.duplicate_photo("a" * 64, 0, [], T)


@pytest.mark.parametrize(
    ("distance", "mismatch"),
    [(499.99, False), (500 - EPS_M / 10, False), (500 + EPS_M, True), (501, True)],
)
def test_photo_location_mismatch(distance, mismatch):
    assert v.photo_location_mismatch(at(distance), SITE, T) is mismatch


def test_photo_without_gps_raises_nothing():
    assert v.photo_location_mismatch(None, SITE, T) is False


WINDOW = (NOW, NOW + timedelta(hours=2))


@pytest.mark.parametrize(
    ("taken", "mismatch"),
    [
        (NOW - timedelta(seconds=7200), False),  # first check-in minus the tolerance
        (NOW - timedelta(seconds=7201), True),
        (NOW + timedelta(hours=1), False),
        (NOW + timedelta(hours=2, seconds=7200), False),  # last check-out plus it
        (NOW + timedelta(hours=2, seconds=7201), True),
    ],
)
def test_photo_time_against_the_visits(taken, mismatch):
    uploaded = NOW + timedelta(days=1)  # irrelevant when there are visits
    assert v.photo_time_mismatch(taken, WINDOW, uploaded, T) is mismatch


@pytest.mark.parametrize(
    ("offset", "mismatch"),
    [(-7201, True), (-7200, False), (0, False), (7200, False), (7201, True)],
)
def test_photo_time_without_visits_is_against_the_upload(offset, mismatch):
    taken = NOW + timedelta(seconds=offset)
    assert v.photo_time_mismatch(taken, None, NOW, T) is mismatch


def test_photo_without_time_raises_nothing():
    assert v.photo_time_mismatch(None, WINDOW, NOW, T) is False
    assert v.photo_time_mismatch(None, None, NOW, T) is False


def test_photo_time_in_another_zone_is_compared_as_an_instant():
    taken = datetime(2026, 11, 3, 11, 0, tzinfo=timezone(timedelta(hours=8)))  # 03:00Z
    assert v.photo_time_mismatch(taken, WINDOW, NOW, T) is True
    taken = datetime(2026, 11, 3, 16, 0, tzinfo=timezone(timedelta(hours=8)))  # 08:00Z
    assert v.photo_time_mismatch(taken, WINDOW, NOW, T) is False


def test_visit_window():
    uploaded = NOW + timedelta(hours=10)
    closed = [
        (NOW + timedelta(hours=1), NOW + timedelta(hours=2)),
        (NOW, NOW + timedelta(minutes=30)),
    ]
    assert v.visit_window(closed, uploaded) == (NOW, NOW + timedelta(hours=2))
    still_open = [*closed, (NOW + timedelta(hours=3), None)]
    assert v.visit_window(still_open, uploaded) == (NOW, uploaded)
    assert v.visit_window([], uploaded) is None


def test_photo_flags_in_order():
    flags = v.photo_flags(
        sha256="a" * 64,
        dhash=0,
        others=[("a" * 64, 1)],
        gps=at(10_000),
        site=SITE,
        taken_at=NOW - timedelta(days=30),
        visit_window=WINDOW,
        uploaded_at=NOW,
        t=T,
    )
    assert flags == [DUPLICATE_PHOTO, PHOTO_LOCATION_MISMATCH, PHOTO_TIME_MISMATCH]
    clean = v.photo_flags(
        sha256="a" * 64, dhash=0, others=[], gps=None, site=SITE, taken_at=None,
        visit_window=None, uploaded_at=NOW, t=T,
    )
    assert clean == []


# --- The domain stays pure -------------------------------------------------------------


def test_domain_module_imports_neither_flask_nor_sqlalchemy():
    source = Path(v.__file__).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"flask", "flask_sqlalchemy", "sqlalchemy", "werkzeug"}


# --- the sphere's shortcut for IMPOSSIBLE_TRAVEL -------------------------------------

def _geodesic_only_travel(previous: PositionEvent, fix: Fix, t: Thresholds) -> bool:
    """The rule as verification.md words it, with the geodesic every time."""
    travelled = geodesic((previous.lat, previous.lon), (fix.lat, fix.lon)).meters
    if travelled < t.travel_min_distance_m:
        return False
    seconds = (fix.client_time - previous.client_time).total_seconds()
    if seconds <= 0:
        return True
    return travelled * 3600 > t.max_travel_kmh * 1000 * seconds


latitudes = st.floats(-89.9, 89.9, allow_nan=False)
longitudes = st.floats(-180, 180, allow_nan=False)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(latitudes, longitudes, latitudes, longitudes)
def test_the_sphere_stays_within_its_margin_of_the_geodesic(lat1, lon1, lat2, lon2):
    exact = geodesic((lat1, lon1), (lat2, lon2)).meters
    sphere = v.sphere_distance_m(lat1, lon1, lat2, lon2)
    slack = v.SPHERE_SLACK_M
    assert sphere / v.SPHERE_MARGIN - slack <= exact <= sphere * v.SPHERE_MARGIN + slack


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(latitudes, longitudes, latitudes, longitudes)
def test_the_shared_calculator_gives_a_new_geodesics_metres_exactly(lat1, lon1, lat2, lon2):
    assert v.distance_m(lat1, lon1, lat2, lon2) == geodesic((lat1, lon1), (lat2, lon2)).meters


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(
    lat=st.floats(-80, 80, allow_nan=False), lon=st.floats(-179, 179, allow_nan=False),
    # Mostly near the 1 km and 200 km/h thresholds, some far from them.
    dlat=st.one_of(st.floats(-0.02, 0.02), st.floats(-1, 1)),
    dlon=st.one_of(st.floats(-0.02, 0.02), st.floats(-1, 1)),
    seconds=st.one_of(st.integers(-60, 0), st.integers(1, 60), st.integers(1, 3600)),
)
def test_impossible_travel_answers_as_the_geodesic_alone_would(lat, lon, dlat, dlon, seconds):
    previous = PositionEvent(lat, lon, NOW)
    fix = Fix(lat + dlat, lon + dlon, 10, NOW + timedelta(seconds=seconds))
    assert v._impossible_travel(previous, fix, T) == _geodesic_only_travel(previous, fix, T)


@pytest.mark.parametrize("metres", [T.travel_min_distance_m - EPS_M, T.travel_min_distance_m + EPS_M])
@pytest.mark.parametrize("seconds", [0, 17, 18, 19])  # 1 km at 200 km/h takes 18 s
def test_impossible_travel_at_the_thresholds_is_the_geodesics(metres, seconds):
    # A point `metres` due north of the site by the geodesic.
    north = geodesic(meters=metres).destination((SITE.lat, SITE.lon), 0)
    previous = PositionEvent(SITE.lat, SITE.lon, NOW)
    fix = Fix(north.latitude, north.longitude, 10, NOW + timedelta(seconds=seconds))
    assert v._impossible_travel(previous, fix, T) == _geodesic_only_travel(previous, fix, T)
    expected = metres >= T.travel_min_distance_m and (seconds <= 0 or metres * 3600 > 200_000 * seconds)
    assert v._impossible_travel(previous, fix, T) == expected
