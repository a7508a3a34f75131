"""/visits check-in and check-out: every flag of verification.md through the API, every
validation rule (with nothing written), NO_CHECKOUT on visits left open, and scope."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from geopy.distance import geodesic

from app.extensions import db
from app.models import Job, Site, User, Visit
from app.models.types import utcnow
from app.services import open_visits
from tests.api.test_app import assert_problem
from tests.support import ApiClient

UNKNOWN_ID = 999_999


# --- helpers -----------------------------------------------------------------------

def iso(moment: datetime) -> str:
    return moment.isoformat()


def ago(**delta: float) -> datetime:
    return utcnow() - timedelta(**delta)


def point(site: Site, metres: float, bearing: float = 90) -> tuple[float, float]:
    """A position at an exact geodesic distance from the site."""
    p = geodesic(meters=metres).destination((site.lat, site.lon), bearing)
    return p.latitude, p.longitude


def fix(site: Site, metres: float = 0, bearing: float = 90, at: datetime | None = None,
        **fields: Any) -> dict[str, Any]:
    """A check-out body: a position `metres` from the site, taken at `at` (a minute ago)."""
    lat, lon = point(site, metres, bearing) if metres else (site.lat, site.lon)
    body = {"lat": lat, "lon": lon, "accuracy_m": 10.0, "client_time": iso(at or ago(minutes=1))}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


def check_in_body(job: Job, site: Site, metres: float = 0, **fields: Any) -> dict[str, Any]:
    return {"job_id": job.id, **fix(site, metres, **fields)}


def as_user(app, user: User) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def visit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Visit.id)))


def stored(model, object_id: int):
    db.session.expire_all()
    return db.session.get(model, object_id)


@pytest.fixture
def site(factory) -> Site:
    made = factory.site(lat=31.2304, lon=121.4737, radius_m=150)
    db.session.commit()
    return made


@pytest.fixture
def job(factory, org, site) -> Job:
    """Assigned to eng_a1, reported two days ago (so that older offline actions fit)."""
    made = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    return made


@pytest.fixture
def eng(app, org) -> ApiClient:
    return as_user(app, org["eng_a1"])


def check_in(eng: ApiClient, job: Job, site: Site, metres: float = 0, status: int = 201,
             **fields: Any) -> dict[str, Any]:
    response = eng.post("visits/check-in", json=check_in_body(job, site, metres, **fields))
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


# --- check-in: the visit, its position and the job ----------------------------------

def test_check_in_at_the_site_is_verified_and_starts_the_job(eng, org, job, site):
    client_time = ago(minutes=2).replace(microsecond=0)
    response = eng.post("visits/check-in", json={
        "job_id": job.id, "lat": site.lat, "lon": site.lon, "accuracy_m": 12.5,
        "client_time": iso(client_time)})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/visits/{body['id']}")
    assert body["job_id"] == job.id and body["site_id"] == site.id
    assert body["engineer_id"] == org["eng_a1"].id
    assert body["status"] == "verified" and body["flags"] == []
    assert body["check_out"] is None
    check = body["check_in"]
    assert (check["lat"], check["lon"], check["accuracy_m"]) == (site.lat, site.lon, 12.5)
    assert check["client_time"] == client_time.replace(tzinfo=None).isoformat() + "Z"
    assert check["server_time"].endswith("Z") and check["distance_m"] == pytest.approx(0, abs=0.01)
    assert check["mock_location"] is False and check["flags"] == []
    for name in ("decision_note", "decided_at", "decided_by_id", "rejected_at",
                 "dispute_note", "disputed_at"):
        assert body[name] is None
    assert body["decision_final"] is False
    assert body["site"] == {"id": site.id, "name": site.name, "lat": site.lat, "lon": site.lon,
                            "radius_m": 150}
    row = stored(Visit, body["id"])
    assert row.in_client_time == client_time and row.in_flags == [] and row.out_flags is None
    assert stored(Job, job.id).status == "in_progress"


def test_check_in_with_an_offset_is_stored_and_shown_in_utc(eng, job, site):
    moment = ago(minutes=5).replace(microsecond=0)
    shanghai = moment.astimezone(timezone(timedelta(hours=8)))
    body = check_in(eng, job, site, client_time=shanghai.isoformat())
    assert shanghai.isoformat().endswith("+08:00")
    assert body["check_in"]["client_time"] == moment.replace(tzinfo=None).isoformat() + "Z"
    assert stored(Visit, body["id"]).in_client_time == moment


def test_second_check_in_on_a_started_job_leaves_it_in_progress(eng, job, site):
    first = check_in(eng, job, site, at=ago(minutes=40))
    eng.post(f"visits/{first['id']}/check-out", json=fix(site, 3, at=ago(minutes=30)))
    check_in(eng, job, site, 4, at=ago(minutes=10))
    assert stored(Job, job.id).status == "in_progress"


# --- each flag -----------------------------------------------------------------------

@pytest.mark.parametrize("metres, accuracy, flags", [
    (100, 10, []),                     # inside the 150 m fence
    (155, 10, []),                     # outside the radius, but within radius + accuracy
    (170, 10, ["OUTSIDE_GEOFENCE"]),
    (1000, 10, ["OUTSIDE_GEOFENCE"]),
    (0, 150, ["LOW_ACCURACY"]),        # a poor fix at the site: only LOW_ACCURACY
    (240, 150, ["LOW_ACCURACY"]),      # the fence widens by at most GPS_MAX_ACCURACY_M ...
    (260, 150, ["OUTSIDE_GEOFENCE", "LOW_ACCURACY"]),  # ... and no further
])
def test_geofence_and_accuracy_flags(eng, job, site, metres, accuracy, flags):
    body = check_in(eng, job, site, metres, accuracy_m=accuracy)
    assert body["flags"] == flags and body["check_in"]["flags"] == flags
    assert body["status"] == ("flagged" if flags else "verified")
    assert body["check_in"]["distance_m"] == pytest.approx(metres, abs=0.01)
    row = stored(Visit, body["id"])
    assert row.in_flags == flags and row.flags == flags
    assert row.in_distance_m == pytest.approx(metres, abs=0.01)


def test_mock_location_is_flagged_and_kept(eng, job, site):
    body = check_in(eng, job, site, mock_location=True)
    assert body["flags"] == ["MOCK_LOCATION"] and body["status"] == "flagged"
    assert body["check_in"]["mock_location"] is True
    assert stored(Visit, body["id"]).in_mock is True


def test_clock_set_forward_is_clock_skew(eng, job, site):
    body = check_in(eng, job, site, at=utcnow() + timedelta(minutes=10))
    assert body["flags"] == ["CLOCK_SKEW"] and body["status"] == "flagged"


def test_clock_slightly_ahead_is_tolerated(eng, job, site):
    assert check_in(eng, job, site, at=utcnow() + timedelta(minutes=3))["flags"] == []


@pytest.mark.parametrize("hours, flags", [(5, []), (7, ["LATE_SYNC"])])
def test_an_old_offline_check_in_is_late_sync(eng, job, site, hours, flags):
    body = check_in(eng, job, site, at=ago(hours=hours))
    assert body["flags"] == flags
    # The phone's time is kept; the server's is when it arrived.
    row = stored(Visit, body["id"])
    assert row.in_server_time - row.in_client_time >= timedelta(hours=hours)


@pytest.fixture
def far_job(factory, org, site) -> tuple[Job, Site]:
    """A second job of eng_a1, at a site 50 km away."""
    lat, lon = point(site, 50_000, bearing=0)
    far = factory.site(lat=lat, lon=lon)
    made = factory.job(site=far, engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    return made, far


@pytest.mark.parametrize("minutes_between, flagged", [(10, True), (60, False)])
def test_impossible_travel_between_two_jobs(eng, job, site, far_job, minutes_between, flagged):
    """50 km in 10 minutes is 300 km/h (> MAX_TRAVEL_KMH 200); in an hour, 50 km/h."""
    other_job, far = far_job
    first = check_in(eng, job, site, 5, at=ago(minutes=100))
    eng.post(f"visits/{first['id']}/check-out", json=fix(site, 6, at=ago(minutes=90)))
    body = check_in(eng, other_job, far, 7, at=ago(minutes=90 - minutes_between))
    assert ("IMPOSSIBLE_TRAVEL" in body["flags"]) is flagged
    assert body["flags"] == (["IMPOSSIBLE_TRAVEL"] if flagged else [])


def test_impossible_travel_is_judged_against_the_previous_event_by_client_time(
        eng, org, factory, job, site, far_job):
    """An offline check-in replayed late is compared with the event just before it in
    client time, not with the event that happened to arrive last."""
    other_job, far = far_job
    replayed_job = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    # At the far site from 5 hours ago to 4 hours ago.
    first = check_in(eng, other_job, far, 3, at=ago(hours=5))
    eng.post(f"visits/{first['id']}/check-out", json=fix(far, 4, at=ago(hours=4)))
    # At the near site half an hour ago: 50 km in 3.5 hours is fine.
    second = check_in(eng, job, site, 5, at=ago(minutes=30))
    assert second["flags"] == []
    eng.post(f"visits/{second['id']}/check-out", json=fix(site, 6, at=ago(minutes=20)))
    # Replayed now, a check-in near a minute after leaving the far site: the event just
    # before it is that check-out 50 km away (the near check-out arrived last but is later).
    body = check_in(eng, replayed_job, site, 7, at=ago(hours=4) + timedelta(minutes=1))
    assert body["flags"] == ["IMPOSSIBLE_TRAVEL"]


def test_duplicate_coordinates_of_an_earlier_event(eng, org, factory, job, site):
    """The very same coordinates (to 6 decimals) at another time were replayed or typed."""
    second = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(days=2))
    third = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    lat, lon = 31.2305001, 121.4738004
    first = check_in(eng, job, site, lat=lat, lon=lon, at=ago(minutes=90))
    assert first["flags"] == []
    eng.post(f"visits/{first['id']}/check-out", json=fix(site, 20, at=ago(minutes=80)))
    # Equal once rounded to 6 decimals (31.2305, 121.4738): a duplicate.
    body = check_in(eng, second, site, lat=31.2304998, lon=121.4738001, at=ago(minutes=60))
    assert body["flags"] == ["DUPLICATE_COORDINATES"] and body["status"] == "flagged"
    eng.post(f"visits/{body['id']}/check-out", json=fix(site, 30, at=ago(minutes=50)))
    # A tenth of a metre away (the 6th decimal differs): a real, jittering fix.
    assert check_in(eng, third, site, lat=31.230502, lon=lon, at=ago(minutes=40))["flags"] == []


def test_duplicate_coordinates_of_another_engineer_do_not_count(app, org, factory, eng, job, site):
    other_job = factory.job(site=site, engineer=org["eng_a2"], reported_at=ago(days=2))
    db.session.commit()
    check_in(as_user(app, org["eng_a2"]), other_job, site, lat=31.2306, lon=121.4739,
             at=ago(minutes=30))
    assert check_in(eng, job, site, lat=31.2306, lon=121.4739, at=ago(minutes=20))["flags"] == []


def test_check_in_elsewhere_overlaps_and_flags_the_open_visit_no_checkout(
        eng, org, factory, job, site):
    near_lat, near_lon = point(site, 3000)
    elsewhere = factory.site(lat=near_lat, lon=near_lon)
    other_job = factory.job(site=elsewhere, engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    first = check_in(eng, job, site, at=ago(minutes=120))
    assert first["status"] == "verified"
    body = check_in(eng, other_job, elsewhere, at=ago(minutes=30))
    assert body["flags"] == ["OVERLAPPING_VISIT"] and body["status"] == "flagged"
    old = stored(Visit, first["id"])
    assert old.flags == ["NO_CHECKOUT"] and old.status == "flagged"
    assert old.in_flags == []  # what the check-in raised is kept apart
    # The open visit is still open: nobody closes it but its engineer.
    assert old.out_client_time is None


def test_a_second_job_at_the_same_site_is_no_overlap(eng, org, factory, job, site):
    other_job = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    first = check_in(eng, job, site, at=ago(minutes=30))
    assert check_in(eng, other_job, site, 2, at=ago(minutes=20))["flags"] == []
    assert stored(Visit, first["id"]).flags == []


# --- check-out ------------------------------------------------------------------------

def test_check_out_fills_the_check_out_and_keeps_a_verified_visit_verified(eng, job, site):
    visit = check_in(eng, job, site, at=ago(minutes=40))
    out_time = ago(minutes=5).replace(microsecond=0)
    response = eng.post(f"visits/{visit['id']}/check-out",
                        json=fix(site, 20, at=out_time, accuracy_m=8))
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "verified" and body["flags"] == []
    out = body["check_out"]
    assert out["client_time"] == out_time.replace(tzinfo=None).isoformat() + "Z"
    assert out["accuracy_m"] == 8 and out["distance_m"] == pytest.approx(20, abs=0.01)
    assert out["flags"] == [] and out["mock_location"] is False
    row = stored(Visit, visit["id"])
    assert row.out_client_time == out_time and row.out_flags == []


def test_short_visit_is_flagged_at_check_out(eng, job, site):
    visit = check_in(eng, job, site, at=ago(minutes=5))
    body = eng.post(f"visits/{visit['id']}/check-out", json=fix(site, 10, at=ago(minutes=3))).get_json()
    assert body["flags"] == ["SHORT_VISIT"] and body["status"] == "flagged"
    assert body["check_out"]["flags"] == ["SHORT_VISIT"] and body["check_in"]["flags"] == []


def test_check_out_flags_join_the_check_in_flags(eng, job, site):
    visit = check_in(eng, job, site, 1000, at=ago(minutes=60))
    assert visit["flags"] == ["OUTSIDE_GEOFENCE"]
    body = eng.post(f"visits/{visit['id']}/check-out",
                    json=fix(site, 10, at=ago(minutes=58), mock_location=True)).get_json()
    assert body["check_out"]["flags"] == ["MOCK_LOCATION", "SHORT_VISIT"]
    assert body["flags"] == ["OUTSIDE_GEOFENCE", "MOCK_LOCATION", "SHORT_VISIT"]
    assert body["status"] == "flagged"


def test_a_flagged_visit_never_returns_to_verified_at_a_clean_check_out(eng, job, site):
    visit = check_in(eng, job, site, mock_location=True, at=ago(minutes=60))
    body = eng.post(f"visits/{visit['id']}/check-out", json=fix(site, 10, at=ago(minutes=20))).get_json()
    assert body["check_out"]["flags"] == []
    assert body["flags"] == ["MOCK_LOCATION"] and body["status"] == "flagged"


def test_an_approved_visit_goes_back_to_the_queue_on_a_check_out_flag(eng, org, factory, job, site):
    visit = factory.visit(job, at=ago(minutes=4), minutes=None, status="approved",
                          flags=["LOW_ACCURACY"], in_flags=["LOW_ACCURACY"])
    db.session.commit()
    body = eng.post(f"visits/{visit.id}/check-out", json=fix(site, 10, at=ago(minutes=1))).get_json()
    assert body["flags"] == ["LOW_ACCURACY", "SHORT_VISIT"] and body["status"] == "flagged"


def test_impossible_travel_at_check_out(eng, job, site):
    visit = check_in(eng, job, site, at=ago(minutes=30))
    body = eng.post(f"visits/{visit['id']}/check-out",
                    json=fix(site, 20_000, at=ago(minutes=25))).get_json()
    assert "IMPOSSIBLE_TRAVEL" in body["check_out"]["flags"]
    assert "OUTSIDE_GEOFENCE" in body["check_out"]["flags"]


def test_check_out_at_the_check_in_coordinates_is_a_duplicate(eng, job, site):
    visit = check_in(eng, job, site, lat=31.23041, lon=121.47371, at=ago(minutes=30))
    body = eng.post(f"visits/{visit['id']}/check-out",
                    json=fix(site, lat=31.23041, lon=121.47371, at=ago(minutes=10))).get_json()
    assert body["check_out"]["flags"] == ["DUPLICATE_COORDINATES"]


def test_second_check_out_is_visit_closed(eng, job, site):
    visit = check_in(eng, job, site, at=ago(minutes=40))
    assert eng.post(f"visits/{visit['id']}/check-out", json=fix(site, at=ago(minutes=10))).status_code == 200
    before = stored(Visit, visit["id"]).out_client_time
    assert_problem(eng.post(f"visits/{visit['id']}/check-out", json=fix(site, 2)), 409, "VISIT_CLOSED")
    assert stored(Visit, visit["id"]).out_client_time == before


def test_check_out_before_the_check_in_is_refused(eng, job, site):
    visit = check_in(eng, job, site, at=ago(minutes=40))
    body = assert_problem(eng.post(f"visits/{visit['id']}/check-out",
                                   json=fix(site, at=ago(minutes=41))), 422, "VALIDATION_ERROR")
    assert "client_time" in body["errors"]
    assert stored(Visit, visit["id"]).out_client_time is None


def test_check_out_at_the_check_in_time_is_accepted_as_a_short_visit(eng, job, site):
    at = ago(minutes=40)
    visit = check_in(eng, job, site, at=at)
    body = eng.post(f"visits/{visit['id']}/check-out", json=fix(site, 3, at=at)).get_json()
    assert body["flags"] == ["SHORT_VISIT"]


def test_check_out_older_than_the_offline_limit_is_refused(eng, org, factory, job, site):
    visit = factory.visit(job, at=ago(hours=80), minutes=None)
    db.session.commit()
    assert_problem(eng.post(f"visits/{visit.id}/check-out", json=fix(site, at=ago(hours=73))),
                   422, "OFFLINE_ACTION_TOO_OLD")
    assert stored(Visit, visit.id).out_client_time is None


def test_check_out_of_someone_elses_visit_is_not_found(app, org, factory, eng, site):
    other = factory.visit(factory.job(site=site, engineer=org["eng_a2"]), minutes=None)
    db.session.commit()
    assert_problem(eng.post(f"visits/{other.id}/check-out", json=fix(site)), 404, "NOT_FOUND")
    assert_problem(eng.post(f"visits/{UNKNOWN_ID}/check-out", json=fix(site)), 404, "NOT_FOUND")
    assert stored(Visit, other.id).out_client_time is None


@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_only_engineers_check_in_and_out(app, org, factory, job, site, who):
    visit = factory.visit(job, minutes=None)
    db.session.commit()
    client = as_user(app, org[who])
    assert_problem(client.post("visits/check-in", json=check_in_body(job, site)), 403, "FORBIDDEN")
    assert_problem(client.post(f"visits/{visit.id}/check-out", json=fix(site)), 403, "FORBIDDEN")
    assert visit_count() == 1


@pytest.mark.parametrize("change, field", [
    ({"lat": 90.0001}, "lat"), ({"lat": -91}, "lat"), ({"lon": 180.5}, "lon"),
    ({"lon": -181}, "lon"), ({"accuracy_m": 0}, "accuracy_m"), ({"accuracy_m": -3}, "accuracy_m"),
    ({"accuracy_m": float("inf")}, "accuracy_m"), ({"lat": float("nan")}, "lat"),
    ({"lat": "north"}, "lat"), ({"lat": True}, "lat"), ({"lat": None}, "lat"),
    ({"lat": ...}, "lat"), ({"lon": ...}, "lon"), ({"accuracy_m": ...}, "accuracy_m"),
    ({"client_time": ...}, "client_time"), ({"client_time": "2026-11-03T08:15:00"}, "client_time"),
    ({"client_time": "yesterday"}, "client_time"), ({"mock_location": "yes"}, "mock_location"),
    ({"mock_location": 1}, "mock_location"), ({"status": "verified"}, "status"),
    ({"engineer_id": 1}, "engineer_id"),
])
def test_check_out_validation_writes_nothing(eng, factory, job, site, change, field):
    visit = factory.visit(job, at=ago(minutes=30), minutes=None)
    db.session.commit()
    body = assert_problem(eng.post(f"visits/{visit.id}/check-out", json=fix(site, **change)),
                          422, "VALIDATION_ERROR")
    assert field in body["errors"]
    row = stored(Visit, visit.id)
    assert row.out_client_time is None and row.flags == [] and row.status == "verified"


# --- check-in refusals ------------------------------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"lat": 90.5}, "lat"), ({"lat": -90.5}, "lat"), ({"lon": 180.01}, "lon"),
    ({"lon": -180.01}, "lon"), ({"accuracy_m": 0}, "accuracy_m"),
    ({"accuracy_m": -1}, "accuracy_m"), ({"accuracy_m": float("inf")}, "accuracy_m"),
    ({"accuracy_m": float("nan")}, "accuracy_m"), ({"lon": float("-inf")}, "lon"),
    ({"lat": ...}, "lat"), ({"lon": ...}, "lon"), ({"accuracy_m": ...}, "accuracy_m"),
    ({"client_time": ...}, "client_time"), ({"client_time": "2026-11-03T08:15:00"}, "client_time"),
    ({"client_time": 1700000000}, "client_time"), ({"job_id": ...}, "job_id"),
    ({"job_id": "1"}, "job_id"), ({"job_id": 0}, "job_id"), ({"job_id": 1.5}, "job_id"),
    ({"job_id": 2**31}, "job_id"),  # beyond any id: no 500 from the driver
    ({"mock_location": "true"}, "mock_location"), ({"mock_location": None}, "mock_location"),
    ({"engineer_id": 2}, "engineer_id"), ({"status": "approved"}, "status"),
    ({"flags": []}, "flags"),
])
def test_check_in_validation_writes_nothing(eng, job, site, change, field):
    body = {**check_in_body(job, site), **change}
    body = {k: v for k, v in body.items() if v is not ...}
    problem = assert_problem(eng.post("visits/check-in", json=body), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert visit_count() == 0 and stored(Job, job.id).status == "assigned"


def test_check_in_needs_a_json_body(eng, job):
    assert_problem(eng.post("visits/check-in", data="lat=1", content_type="text/plain"),
                   415, "UNSUPPORTED_MEDIA_TYPE")
    assert_problem(eng.post("visits/check-in", data="{", content_type="application/json"),
                   400, "MALFORMED_REQUEST")
    assert visit_count() == 0


def test_check_in_on_a_job_not_assigned_to_you_is_not_found(eng, org, factory, site):
    jobs = [
        factory.job(site=site, engineer=org["eng_a2"]),  # a teammate's
        factory.job(site=site, engineer=org["eng_b1"]),  # another team's
        factory.job(site=site),                          # not assigned yet
    ]
    db.session.commit()
    for job in jobs:
        assert_problem(eng.post("visits/check-in", json=check_in_body(job, site)), 404, "NOT_FOUND")
    assert_problem(eng.post("visits/check-in", json={**check_in_body(jobs[0], site), "job_id": UNKNOWN_ID}),
                   404, "NOT_FOUND")
    assert visit_count() == 0


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_check_in_on_a_closed_or_cancelled_job_is_job_closed(eng, job, site, status):
    row = db.session.get(Job, job.id)
    row.status = status
    db.session.commit()
    assert_problem(eng.post("visits/check-in", json=check_in_body(job, site)), 409, "JOB_CLOSED")
    assert visit_count() == 0 and stored(Job, job.id).status == status


def test_check_in_before_the_job_was_reported_is_refused(eng, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(hours=1))
    db.session.commit()
    body = assert_problem(eng.post("visits/check-in",
                                   json=check_in_body(job, site, at=ago(hours=1, seconds=1))),
                          422, "VALIDATION_ERROR")
    assert "client_time" in body["errors"]
    assert visit_count() == 0 and stored(Job, job.id).status == "assigned"


@pytest.mark.config(OFFLINE_MAX_AGE_S=3600)
def test_offline_max_age_is_configurable(eng, job, site):
    assert_problem(eng.post("visits/check-in", json=check_in_body(job, site, at=ago(minutes=61))),
                   422, "OFFLINE_ACTION_TOO_OLD")
    assert check_in(eng, job, site, at=ago(minutes=59))["flags"] == []


def test_check_in_older_than_the_offline_limit_is_refused(eng, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], reported_at=ago(days=5))
    db.session.commit()
    body = assert_problem(eng.post("visits/check-in", json=check_in_body(job, site, at=ago(hours=72, minutes=1))),
                          422, "OFFLINE_ACTION_TOO_OLD")
    assert "client_time" in body["errors"]
    assert visit_count() == 0
    # Just inside the limit: accepted, and flagged as a late sync.
    assert check_in(eng, job, site, at=ago(hours=71, minutes=59))["flags"] == ["LATE_SYNC"]


def test_check_in_with_a_visit_already_open_on_the_job_is_refused(eng, job, site):
    first = check_in(eng, job, site, at=ago(minutes=30))
    assert_problem(eng.post("visits/check-in", json=check_in_body(job, site, at=ago(minutes=20))),
                   409, "VISIT_ALREADY_OPEN")
    assert visit_count() == 1 and stored(Visit, first["id"]).flags == []
    # Once checked out, a new visit on the same job is fine.
    eng.post(f"visits/{first['id']}/check-out", json=fix(site, 2, at=ago(minutes=15)))
    check_in(eng, job, site, 3, at=ago(minutes=10))
    assert visit_count() == 2


# --- NO_CHECKOUT on visits left open ----------------------------------------------------

def test_visits_left_open_are_flagged_no_checkout_when_read(app, org, factory, job):
    stale = factory.visit(job, at=ago(hours=12, minutes=1), minutes=None)
    fresh = factory.visit(factory.job(engineer=org["eng_a1"]), at=ago(hours=11, minutes=59), minutes=None)
    closed = factory.visit(factory.job(engineer=org["eng_a1"]), at=ago(hours=20), minutes=30)
    rejected = factory.visit(factory.job(engineer=org["eng_a1"]), at=ago(hours=30), minutes=None,
                             status="rejected", flags=["MOCK_LOCATION"])
    db.session.commit()
    items = {v["id"]: v for v in as_user(app, org["sup_a"]).get("visits").get_json()["items"]}
    assert items[stale.id]["flags"] == ["NO_CHECKOUT"] and items[stale.id]["status"] == "flagged"
    assert items[fresh.id]["flags"] == [] and items[fresh.id]["status"] == "verified"
    assert items[closed.id]["flags"] == []
    # A rejected visit keeps its status; the flag is added all the same.
    assert items[rejected.id]["flags"] == ["MOCK_LOCATION", "NO_CHECKOUT"]
    assert items[rejected.id]["status"] == "rejected"
    # Reading again adds nothing twice.
    again = as_user(app, org["eng_a1"]).get(f"visits/{stale.id}").get_json()
    assert again["flags"] == ["NO_CHECKOUT"]
    assert stored(Visit, stale.id).flags == ["NO_CHECKOUT"]


def test_reading_one_visit_flags_it_no_checkout(app, org, factory, job):
    stale = factory.visit(job, at=ago(hours=13), minutes=None, status="approved",
                          flags=["LOW_ACCURACY"])
    db.session.commit()
    body = as_user(app, org["eng_a1"]).get(f"visits/{stale.id}").get_json()
    assert body["flags"] == ["LOW_ACCURACY", "NO_CHECKOUT"] and body["status"] == "flagged"


def test_a_read_that_flags_survives_a_write_committed_meanwhile(app, org, factory, job):
    """GET /visits writes NO_CHECKOUT. On SQLite a read cannot become a write once another
    request has committed since it began (SQLITE_BUSY_SNAPSHOT): another writer commits
    right after the read's first look, and the read still answers 200 with the flag."""
    stale_id = factory.visit(job, at=ago(hours=13), minutes=None).id
    other_id = factory.job(engineer=org["eng_a2"]).id
    db.session.commit()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    committed = []

    def another_writer(conn, cursor, statement, parameters, context, executemany):
        if not committed and statement.lstrip().upper().startswith("SELECT VISITS.ID") \
                and "LIMIT" in statement.upper():
            committed.append(True)
            engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
            with engine.begin() as writer:
                writer.execute(sa.update(Job).where(Job.id == other_id).values(title="Moved"))
            engine.dispose()

    client = as_user(app, org["sup_a"])
    assert client.get("auth/me").status_code == 200  # the token's use recorded: a pure read next
    sa.event.listen(db.engine, "after_cursor_execute", another_writer)
    try:
        response = client.get("visits")
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", another_writer)
    assert committed, "the other writer ran between the look and the update"
    assert response.status_code == 200, response.get_data(as_text=True)
    items = {v["id"]: v for v in response.get_json()["items"]}
    assert items[stale_id]["flags"] == ["NO_CHECKOUT"]
    assert stored(Visit, stale_id).flags == ["NO_CHECKOUT"]
    assert stored(Job, other_id).title == "Moved"


@pytest.mark.config(OPEN_VISIT_ALERT_S=600)
def test_flag_stale_open_visits_for_the_command_line(app, org, factory, job):
    stale = [factory.visit(job, at=ago(minutes=11), minutes=None),
             factory.visit(factory.job(engineer=org["eng_b1"]), at=ago(minutes=30), minutes=None)]
    fresh = factory.visit(factory.job(engineer=org["eng_a2"]), at=ago(minutes=9), minutes=None)
    db.session.commit()
    assert open_visits.flag_stale_open_visits(utcnow()) == 2
    assert open_visits.flag_stale_open_visits(utcnow()) == 0
    db.session.commit()
    assert [stored(Visit, v.id).flags for v in stale] == [["NO_CHECKOUT"], ["NO_CHECKOUT"]]
    assert [stored(Visit, v.id).status for v in stale] == ["flagged", "flagged"]
    assert stored(Visit, fresh.id).flags == []
    # At the later time given, the third is stale too.
    assert open_visits.flag_stale_open_visits(utcnow() + timedelta(minutes=2)) == 1


def test_a_check_out_after_no_checkout_keeps_the_flag(eng, factory, job, site):
    visit = factory.visit(job, at=ago(hours=14), minutes=None)
    db.session.commit()
    assert eng.get(f"visits/{visit.id}").get_json()["flags"] == ["NO_CHECKOUT"]
    body = eng.post(f"visits/{visit.id}/check-out", json=fix(site, 5)).get_json()
    assert body["flags"][0] == "NO_CHECKOUT" and body["status"] == "flagged"
    assert body["check_out"] is not None


# --- reading: scope ----------------------------------------------------------------------

def test_each_reader_sees_the_visits_in_scope(app, org, factory, site):
    mine = factory.visit(factory.job(site=site, engineer=org["eng_a1"]))
    teammate = factory.visit(factory.job(site=site, engineer=org["eng_a2"]))
    other_team = factory.visit(factory.job(site=site, engineer=org["eng_b1"]))
    loner = factory.visit(factory.job(site=site, engineer=org["loner"]))
    db.session.commit()
    expected = {
        "eng_a1": {mine.id}, "eng_a2": {teammate.id}, "eng_b1": {other_team.id},
        "sup_a": {mine.id, teammate.id}, "sup_b": {other_team.id},
        "admin": {mine.id, teammate.id, other_team.id, loner.id}, "loner": {loner.id},
    }
    everything = {mine.id, teammate.id, other_team.id, loner.id}
    for who, visible in expected.items():
        client = as_user(app, org[who])
        listed = client.get("visits").get_json()
        assert {v["id"] for v in listed["items"]} == visible and listed["total"] == len(visible), who
        for visit_id in everything:
            response = client.get(f"visits/{visit_id}")
            if visit_id in visible:
                assert response.status_code == 200 and response.get_json()["id"] == visit_id
            else:
                assert_problem(response, 404, "NOT_FOUND")


def test_reading_needs_sign_in(client, factory, org, job):
    visit = factory.visit(job)
    db.session.commit()
    assert_problem(client.get("visits"), 401, "UNAUTHORIZED")
    assert_problem(client.get(f"visits/{visit.id}"), 401, "UNAUTHORIZED")
    assert_problem(client.post("visits/check-in", json={}), 401, "UNAUTHORIZED")


def test_cookie_sessions_need_the_csrf_header_to_check_in(client, org, job, site):
    assert client.login(org["eng_a1"]).status_code == 200
    response = client.post("visits/check-in", json=check_in_body(job, site), csrf=False)
    assert_problem(response, 403, "CSRF_FAILED")
    assert visit_count() == 0
    assert client.post("visits/check-in", json=check_in_body(job, site)).status_code == 201


def test_a_replayed_check_in_with_its_idempotency_key_creates_one_visit(eng, job, site):
    body = check_in_body(job, site)
    headers = {"Idempotency-Key": "2b1f6a1e-check-in"}
    first = eng.post("visits/check-in", json=body, headers=headers)
    second = eng.post("visits/check-in", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert visit_count() == 1


# --- the check-in's note ---------------------------------------------------------------

def test_a_check_in_note_is_stored_and_shown_to_the_supervisor(app, eng, org, job, site):
    body = check_in(eng, job, site, metres=2300, note="  The gate is on the north road.  ")
    assert body["status"] == "flagged" and "OUTSIDE_GEOFENCE" in body["flags"]
    assert body["check_in_note"] == "The gate is on the north road."
    assert stored(Visit, body["id"]).check_in_note == "The gate is on the north road."
    supervisor = as_user(app, org["sup_a"])
    queued = supervisor.get("visits?status=flagged").get_json()["items"]
    assert [(v["id"], v["check_in_note"]) for v in queued] == [(body["id"], "The gate is on the north road.")]
    assert supervisor.get(f"visits/{body['id']}").get_json()["check_in_note"] == "The gate is on the north road."


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_check_in_without_a_note_shows_none(eng, job, site, note):
    body = check_in(eng, job, site, **({} if note is None else {"note": note}))
    assert body["check_in_note"] is None and stored(Visit, body["id"]).check_in_note is None


def test_a_check_in_note_of_500_characters_is_taken(eng, job, site):
    assert check_in(eng, job, site, note="路" * 500)["check_in_note"] == "路" * 500


@pytest.mark.parametrize("note", ["x" * 501, 12, ["late"], {"a": 1}, "bad\x00note", True])
def test_a_bad_check_in_note_is_refused_and_nothing_written(eng, job, site, note):
    response = eng.post("visits/check-in", json=check_in_body(job, site, note=note))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "note" in problem["errors"] or "_schema" in problem["errors"]
    assert visit_count() == 0 and stored(Job, job.id).status == "assigned"
