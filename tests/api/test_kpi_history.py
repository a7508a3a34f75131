"""GET /kpi/engineers/{id}/history (workday.md): the last months of an engineer's card,
oldest first, the current month last and live, closed months exactly as frozen; scoped
like the card; 1 to 24 months."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.services.kpi import periods
from tests.api.test_app import assert_problem
from tests.support import ApiClient

CARD_KEYS = ("period", "scheme", "live", "frozen", "total_score", "pass_score", "meets_target",
             "dimensions")


def as_user(app, user) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def month(app, back: int) -> periods.Period:
    tz = app.config["TIMEZONE"]
    return periods.shift(periods.current(tz), -back, tz)


def work_in(factory, engineer, site, period: periods.Period, hours: int = 1, fixed: bool = True):
    """A field job of `engineer` on the month's first day: dispatched, contacted, visited
    for `hours` and closed, so that the month has figures."""
    start = max(period.start, datetime.now(UTC) - timedelta(days=400)) + timedelta(minutes=5)
    job = factory.job(site=site, engineer=engineer, status="closed", reported_at=start,
                      assigned_at=start + timedelta(minutes=10),
                      first_contact_at=start + timedelta(minutes=20),
                      closed_at=start + timedelta(hours=hours, minutes=40), fixed=fixed,
                      checklist_complete=True)
    factory.visit(job, engineer, at=start + timedelta(minutes=30), minutes=hours * 60)
    return job


@pytest.fixture
def six_months(app, org, factory):
    """eng_a1 and eng_a2 worked in each of the last six months; the four oldest are closed."""
    site = factory.site()
    for back in range(6):
        period = month(app, back)
        work_in(factory, org["eng_a1"], site, period, hours=1 + back % 3, fixed=back % 2 == 0)
        work_in(factory, org["eng_a2"], site, period, hours=2)
    db.session.commit()
    admin = as_user(app, org["admin"])
    for back in (5, 4, 3, 2):
        response = admin.post(f"kpi/periods/{month(app, back).key}/close")
        assert response.status_code == 200, response.get_data(as_text=True)
    return [month(app, back).key for back in range(5, -1, -1)]


def card(client, engineer, period: str) -> dict:
    response = client.get(f"kpi/engineers/{engineer.id}?period={period}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {key: response.get_json()[key] for key in CARD_KEYS}


def history(client, engineer, query: str = "") -> dict:
    response = client.get(f"kpi/engineers/{engineer.id}/history{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_six_months_oldest_first_each_exactly_its_card(app, org, six_months):
    client = as_user(app, org["eng_a1"])
    body = history(client, org["eng_a1"], "?months=6")
    assert (body["engineer_id"], body["months"]) == (org["eng_a1"].id, 6)
    assert [item["period"] for item in body["items"]] == six_months
    assert [(i["frozen"], i["live"]) for i in body["items"]] == [(True, False)] * 4 + [(False, False), (False, True)]
    for item in body["items"]:
        assert item == card(client, org["eng_a1"], item["period"])
    assert all(item["total_score"] is not None for item in body["items"])
    assert set(body["items"][0]["dimensions"]) == {"response", "efficiency", "satisfaction",
                                                   "knowledge", "compliance"}


def test_the_default_is_six_months(app, org, six_months):
    client = as_user(app, org["sup_a"])
    assert history(client, org["eng_a1"]) == history(client, org["eng_a1"], "?months=6")


def test_closed_months_stay_frozen_while_open_months_move(app, org, factory, six_months):
    client = as_user(app, org["admin"])
    before = history(client, org["eng_a1"])["items"]
    site = factory.site()
    for back in (4, 1, 0):  # a closed month, the open previous one and the current one
        work_in(factory, org["eng_a1"], site, month(app, back), hours=9, fixed=False)
    db.session.commit()
    after = history(client, org["eng_a1"])["items"]
    assert after[:4] == before[:4]
    assert after[4]["total_score"] != before[4]["total_score"]
    assert after[5]["total_score"] != before[5]["total_score"]
    for item in after:
        assert item == card(client, org["eng_a1"], item["period"])


def test_one_month_is_the_current_one_and_24_reach_back_two_years(app, org, six_months):
    client = as_user(app, org["eng_a1"])
    [only] = history(client, org["eng_a1"], "?months=1")["items"]
    assert only["period"] == six_months[-1] and only["live"] is True
    items = history(client, org["eng_a1"], "?months=24")["items"]
    assert [i["period"] for i in items] == [month(app, back).key for back in range(23, -1, -1)]
    # Months without any record: no total, as the card for them.
    assert items[0]["total_score"] is None and items[0] == card(client, org["eng_a1"], items[0]["period"])


def test_an_engineer_without_a_card_in_a_closed_month_gets_an_empty_frozen_one(app, org, factory, six_months):
    newcomer = factory.user("engineer", supervisor=org["sup_a"])
    db.session.commit()
    client = as_user(app, org["sup_a"])
    items = history(client, newcomer)["items"]
    assert [(i["frozen"], i["total_score"]) for i in items[:4]] == [(True, None)] * 4
    for item in items:
        assert item == card(client, newcomer, item["period"])


@pytest.mark.parametrize("who, status", [
    ("eng_a1", 200), ("eng_a2", 404), ("eng_b1", 404), ("sup_a", 200), ("sup_b", 404), ("admin", 200),
])
def test_history_is_scoped_like_the_card(app, org, who, status):
    response = as_user(app, org[who]).get(f"kpi/engineers/{org['eng_a1'].id}/history")
    assert response.status_code == status
    if status == 404:
        assert_problem(response, 404, "NOT_FOUND")


def test_history_of_someone_not_an_engineer_or_unknown_is_404(app, org):
    admin = as_user(app, org["admin"])
    for target in (org["sup_a"].id, 999_999, 2**31):
        assert_problem(admin.get(f"kpi/engineers/{target}/history"), 404, "NOT_FOUND")


def test_history_needs_a_sign_in(client, org):
    assert_problem(client.get(f"kpi/engineers/{org['eng_a1'].id}/history"), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("months", ["0", "25", "-1", "1.5", "six", "", "99999999999"])
def test_months_is_1_to_24(app, org, months):
    problem = assert_problem(as_user(app, org["eng_a1"]).get(
        f"kpi/engineers/{org['eng_a1'].id}/history?months={months}"), 422, "VALIDATION_ERROR")
    assert "months" in problem["errors"]


def test_history_costs_the_same_statements_for_6_and_24_months(app, org, six_months):
    from tests.support import statements_of

    client = as_user(app, org["sup_a"])
    client.get(f"kpi/engineers/{org['eng_a1'].id}/history")  # the token's first use is stamped once
    six, _ = statements_of(client, f"kpi/engineers/{org['eng_a1'].id}/history?months=6")
    all_24, page = statements_of(client, f"kpi/engineers/{org['eng_a1'].id}/history?months=24")
    assert len(page["items"]) == 24 and six == all_24, (six, all_24)
