"""GET /jobs/{id}/assignment-suggestions (workday.md, Dispatch): the team's engineers
nearest first, from their last known position (latest check-in, check-out or photo fix)
or their home site, then the fewer open jobs today; the rest last. Distances by hand:
every point lies on the equator, where the geodesic is 6 378 137 m × Δλ (radians):
0.005° = 557 m, 0.01° = 1 113 m, 0.02° = 2 226 m, 0.03° = 3 340 m."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.api.test_verification_queue import make_photo
from tests.support import ApiClient


def ago(**delta: float):
    return utcnow() - timedelta(**delta)


def as_user(app, user) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def at_equator(factory, degrees: float):
    return factory.site(lat=0.0, lon=degrees)


@pytest.fixture
def world(org, factory):
    """A new job at (0°, 0°) and sup_a's team placed around it."""
    site = at_equator(factory, 0.0)
    job = factory.job(site=site, created_by=org["sup_a"])
    a1, a2 = org["eng_a1"], org["eng_a2"]
    # eng_a1: checked in 0.005° east yesterday, checked out 0.01° east 20 minutes ago:
    # the check-out is the later fix (1 113 m). Two open jobs today, one scheduled tomorrow
    # (not today's), one closed (not open).
    worked = factory.job(site=at_equator(factory, 0.01), engineer=a1, status="in_progress")
    factory.visit(worked, at=ago(days=1), minutes=None, in_lat=0.0, in_lon=0.005)
    factory.visit(worked, at=ago(minutes=80), minutes=60, in_lat=0.0, in_lon=0.02,
                  out_lat=0.0, out_lon=0.01)
    factory.job(site=site, engineer=a1, scheduled_for=utcnow().date())
    factory.job(site=site, engineer=a1, scheduled_for=utcnow().date() + timedelta(days=2))
    factory.job(site=site, engineer=a1, status="closed")
    # eng_a2: a visit 0.02° west an hour ago, then a photo with a position 0.005° west
    # uploaded 10 minutes ago (557 m); a photo without a position later still.
    elsewhere = factory.job(site=at_equator(factory, -0.02), engineer=a2, status="in_progress")
    factory.visit(elsewhere, at=ago(hours=1), minutes=30, in_lat=0.0, in_lon=-0.02,
                  out_lat=0.0, out_lon=-0.02)
    make_photo(elsewhere, gps_lat=0.0, gps_lon=-0.005, created_at=ago(minutes=10))
    make_photo(elsewhere, created_at=ago(minutes=1))
    # A home site 0.03° east and no fix (3 340 m); an engineer with neither; one inactive.
    home = factory.user("engineer", supervisor=org["sup_a"], name="Homebody",
                        home_site_id=at_equator(factory, 0.03).id)
    nowhere = factory.user("engineer", supervisor=org["sup_a"], name="Newcomer")
    factory.user("engineer", supervisor=org["sup_a"], name="Left", active=False)
    # Another team's engineer right at the site: suggested to an admin only.
    near_b = factory.job(site=site, engineer=org["eng_b1"], status="in_progress")
    factory.visit(near_b, at=ago(minutes=30), minutes=10)
    db.session.commit()
    return {"job": job, "home": home, "nowhere": nowhere}


def suggestions(client, job) -> list[tuple]:
    response = client.get(f"jobs/{job.id}/assignment-suggestions")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["job_id"] == job.id
    return [(i["engineer_id"], i["distance_m"], i["from"], i["open_jobs_today"]) for i in body["items"]]


def test_the_team_in_the_order_of_the_rule_with_its_figures(app, org, world):
    assert suggestions(as_user(app, org["sup_a"]), world["job"]) == [
        (org["eng_a2"].id, 557, "last_position", 1),
        (org["eng_a1"].id, 1113, "last_position", 2),
        (world["home"].id, 3340, "home_site", 0),
        (world["nowhere"].id, None, None, 0),
    ]


def test_the_position_time_is_shown_for_a_last_position(app, org, world):
    items = as_user(app, org["sup_a"]).get(f"jobs/{world['job'].id}/assignment-suggestions").get_json()["items"]
    by_engineer = {i["engineer_id"]: i for i in items}
    assert by_engineer[org["eng_a2"].id]["position_at"].endswith("Z")
    assert by_engineer[world["home"].id]["position_at"] is None
    assert by_engineer[org["eng_a2"].id]["name"] == org["eng_a2"].name


def test_an_admin_is_offered_every_active_engineer(app, org, world):
    order = suggestions(as_user(app, org["admin"]), world["job"])
    assert order[0] == (org["eng_b1"].id, 0, "last_position", 1)
    assert {o[0] for o in order} == {org[k].id for k in ("eng_a1", "eng_a2", "eng_b1", "loner")} | {
        world["home"].id, world["nowhere"].id}


def test_the_job_itself_is_not_counted_in_its_engineers_load(app, org, world):
    job = world["job"]
    client = as_user(app, org["sup_a"])
    assert client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a2"].id}).status_code == 200
    assert suggestions(client, job)[0] == (org["eng_a2"].id, 557, "last_position", 1)


def test_a_closed_or_cancelled_job_has_no_suggestions(app, org, factory):
    client = as_user(app, org["sup_a"])
    for status in ("closed", "cancelled"):
        job = factory.job(engineer=org["eng_a1"], status=status)
        db.session.commit()
        assert_problem(client.get(f"jobs/{job.id}/assignment-suggestions"), 409, "JOB_CLOSED")


def test_a_team_of_nobody_is_an_empty_list(app, org, factory):
    lonely = factory.user("supervisor")
    job = factory.job()
    db.session.commit()
    assert suggestions(as_user(app, lonely), job) == []


@pytest.mark.parametrize("who, status", [
    ("eng_a1", 403), ("sup_b", 404), ("sup_a", 200), ("admin", 200),
])
def test_scope_of_another_teams_job(app, org, factory, who, status):
    """A job of sup_a's team: sup_b may not dispatch it (404), engineers may not ask (403)."""
    job = factory.job(engineer=org["eng_a1"])
    db.session.commit()
    response = as_user(app, org[who]).get(f"jobs/{job.id}/assignment-suggestions")
    assert response.status_code == status


def test_unknown_job_and_anonymous(app, client, org):
    assert_problem(as_user(app, org["admin"]).get("jobs/999999/assignment-suggestions"), 404, "NOT_FOUND")
    assert_problem(client.get("jobs/1/assignment-suggestions"), 401, "UNAUTHORIZED")


def test_statements_do_not_grow_with_the_team(app, org, factory, world):
    from tests.support import statements_of

    client = as_user(app, org["sup_a"])
    client.get(f"jobs/{world['job'].id}/assignment-suggestions")
    before, _ = statements_of(client, f"jobs/{world['job'].id}/assignment-suggestions")
    for n in range(10):
        engineer = factory.user("engineer", supervisor=org["sup_a"])
        job = factory.job(engineer=engineer, status="in_progress")
        factory.visit(job, at=ago(hours=n + 1))
    db.session.commit()
    after, page = statements_of(client, f"jobs/{world['job'].id}/assignment-suggestions")
    assert len(page["items"]) == 14 and after == before <= 6, (before, after)
