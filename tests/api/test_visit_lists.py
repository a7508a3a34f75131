"""GET /visits for the working day (workday.md): an engineer's own visits newest first
("My visits"), and the supervisor's triage filters `flag` (repeatable), `engineer_id`,
`older_than_h` and `sort` (oldest, most_flags), each validated, at a fixed cost."""
from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.support import ApiClient, statements_of


def ago(**delta: float):
    return utcnow() - timedelta(**delta)


def as_user(app, user) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def queue(factory, org):
    """Visits of the team (eng_a1, eng_a2) and of another team (eng_b1), named by what
    they are: ages in hours and flags chosen so that every filter and sort differs."""
    def visit(engineer, hours, status="flagged", flags=()):
        job = factory.job(engineer=engineer)
        return factory.visit(job, at=ago(hours=hours), status=status, flags=list(flags))

    made = {
        "a1_fence_old": visit(org["eng_a1"], 50, flags=["OUTSIDE_GEOFENCE"]),
        "a1_three_flags": visit(org["eng_a1"], 30, flags=["LOW_ACCURACY", "CLOCK_SKEW", "SHORT_VISIT"]),
        "a2_mock_new": visit(org["eng_a2"], 2, flags=["MOCK_LOCATION", "LOW_ACCURACY"]),
        "a2_disputed": visit(org["eng_a2"], 80, status="disputed", flags=["SHORT_VISIT"]),
        "a1_clean": visit(org["eng_a1"], 10, status="verified"),
        "a1_rejected": visit(org["eng_a1"], 40, status="rejected", flags=["MOCK_LOCATION"]),
        "b1_fence": visit(org["eng_b1"], 60, flags=["OUTSIDE_GEOFENCE"]),
    }
    db.session.commit()
    return {name: v.id for name, v in made.items()}


def test_an_engineer_lists_their_own_visits_newest_first_with_every_status(app, org, queue):
    mine = ids(as_user(app, org["eng_a1"]).get("visits"))
    # Newest first by creation: the order the fixture made them in, reversed.
    assert mine == [queue["a1_rejected"], queue["a1_clean"], queue["a1_three_flags"], queue["a1_fence_old"]]
    body = as_user(app, org["eng_a1"]).get("visits?status=rejected").get_json()
    assert [(v["id"], v["status"]) for v in body["items"]] == [(queue["a1_rejected"], "rejected")]


def test_an_engineer_cannot_list_another_engineers_visits(app, org, queue):
    assert ids(as_user(app, org["eng_a1"]).get(f"visits?engineer_id={org['eng_a2'].id}")) == []
    assert ids(as_user(app, org["eng_b1"]).get("visits")) == [queue["b1_fence"]]


def test_the_queue_is_oldest_first_by_default(app, org, queue):
    queued = ids(as_user(app, org["sup_a"]).get("visits?status=flagged,disputed"))
    assert queued == [queue["a2_disputed"], queue["a1_fence_old"], queue["a1_three_flags"], queue["a2_mock_new"]]


def test_flag_filters_on_any_of_the_flags_given(app, org, queue):
    sup = as_user(app, org["sup_a"])
    assert ids(sup.get("visits?status=flagged,disputed&flag=MOCK_LOCATION")) == [queue["a2_mock_new"]]
    assert ids(sup.get("visits?status=flagged,disputed&flag=SHORT_VISIT&flag=OUTSIDE_GEOFENCE")) == [
        queue["a2_disputed"], queue["a1_fence_old"], queue["a1_three_flags"]]
    assert ids(sup.get("visits?flag=MOCK_LOCATION&sort=oldest")) == [queue["a1_rejected"], queue["a2_mock_new"]]
    assert ids(sup.get("visits?flag=MOCK_LOCATION&flag=MOCK_LOCATION")) == [queue["a1_rejected"], queue["a2_mock_new"]]
    assert ids(sup.get("visits?flag=NO_CHECKOUT")) == []


def test_engineer_id_and_older_than_filter_the_queue(app, org, queue):
    sup = as_user(app, org["sup_a"])
    base = "visits?status=flagged,disputed"
    assert ids(sup.get(f"{base}&engineer_id={org['eng_a2'].id}")) == [queue["a2_disputed"], queue["a2_mock_new"]]
    assert ids(sup.get(f"{base}&older_than_h=24")) == [queue["a2_disputed"], queue["a1_fence_old"], queue["a1_three_flags"]]
    assert ids(sup.get(f"{base}&older_than_h=31")) == [queue["a2_disputed"], queue["a1_fence_old"]]
    assert ids(sup.get(f"{base}&older_than_h=0")) == ids(sup.get(base))
    assert ids(sup.get(f"{base}&older_than_h=24&engineer_id={org['eng_a1'].id}&flag=CLOCK_SKEW")) == [
        queue["a1_three_flags"]]
    # Another team's engineer: nothing, as if they had no visits.
    assert ids(sup.get(f"{base}&engineer_id={org['eng_b1'].id}")) == []


def test_older_than_counts_from_the_check_in(app, org, factory):
    job = factory.job(engineer=org["eng_a1"])
    older = factory.visit(job, at=ago(hours=5, minutes=1), status="flagged", flags=["LOW_ACCURACY"])
    factory.visit(job, at=ago(hours=4, minutes=59), status="flagged", flags=["LOW_ACCURACY"])
    db.session.commit()
    assert ids(as_user(app, org["sup_a"]).get("visits?status=flagged&older_than_h=5")) == [older.id]


def test_most_flags_first_then_oldest(app, org, queue):
    sup = as_user(app, org["sup_a"])
    assert ids(sup.get("visits?status=flagged,disputed&sort=most_flags")) == [
        queue["a1_three_flags"], queue["a2_mock_new"], queue["a2_disputed"], queue["a1_fence_old"]]
    assert ids(sup.get("visits?status=flagged,disputed&sort=oldest")) == ids(sup.get("visits?status=flagged,disputed"))
    # Any list may be sorted: all of the team's visits, oldest first.
    assert ids(sup.get("visits?sort=oldest"))[:2] == [queue["a2_disputed"], queue["a1_fence_old"]]


def test_an_admin_filters_everyone(app, org, queue):
    admin = as_user(app, org["admin"])
    assert ids(admin.get("visits?status=flagged&flag=OUTSIDE_GEOFENCE")) == [queue["b1_fence"], queue["a1_fence_old"]]


@pytest.mark.parametrize("query, field", [
    ("flag=NOT_A_FLAG", "flag"), ("flag=low_accuracy", "flag"), ("flag=", "flag"),
    ("flag=LOW_ACCURACY&flag=NOPE", "flag"),
    ("older_than_h=-1", "older_than_h"), ("older_than_h=1.5", "older_than_h"),
    ("older_than_h=abc", "older_than_h"), ("older_than_h=8785", "older_than_h"),
    ("older_than_h=99999999999999999999", "older_than_h"),
    ("sort=newest", "sort"), ("sort=", "sort"), ("sort=MOST_FLAGS", "sort"),
    ("engineer_id=0", "engineer_id"), ("engineer_id=2147483648", "engineer_id"),
])
def test_bad_filters_are_refused(app, org, query, field):
    problem = assert_problem(as_user(app, org["sup_a"]).get(f"visits?{query}"), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]


@pytest.mark.parametrize("query", [
    "visits?flag=LOW_ACCURACY&flag=MOCK_LOCATION&sort=most_flags&",
    "visits?status=flagged&older_than_h=1&sort=oldest&",
])
def test_a_filtered_page_costs_the_same_statements_for_2_and_20_visits(app, org, factory, query):
    for n in range(24):
        job = factory.job(engineer=(org["eng_a1"], org["eng_a2"])[n % 2])
        factory.visit(job, at=ago(hours=n + 2), status="flagged",
                      flags=["LOW_ACCURACY", "MOCK_LOCATION"][: 1 + n % 2])
    db.session.commit()
    client = as_user(app, org["sup_a"])
    client.get("visits")  # the token's first use is stamped once; then pages are comparable
    small, small_page = statements_of(client, query + "per_page=2")
    large, large_page = statements_of(client, query + "per_page=20")
    assert len(small_page["items"]) == 2 and len(large_page["items"]) == 20
    assert small == large and large <= 14, (small, large)
