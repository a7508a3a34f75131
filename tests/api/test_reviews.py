"""/reviews: monthly reviews with action items and next month's targets (api.md, KPIs,
reviews, alerts; README policy point 5)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Review, ReviewActionItem
from app.models.types import utcnow
from app.services.reviews import current_period
from tests.api.test_app import assert_problem

PERIOD = "2026-01"


def body(engineer, **changes: Any) -> dict[str, Any]:
    """A valid POST /reviews body for `engineer`; a value of ... drops the field."""
    data = {
        "engineer_id": engineer.id, "period": PERIOD,
        "summary": "Fast responses, two repeat repairs.",
        "strengths": "Customers like him.", "improvements": "Check the drain line.",
        "action_items": [{"title": "Shadow a senior on two HVAC jobs", "due_date": "2026-02-15"},
                         {"title": "Write up the drain-line case", "due_date": "2026-02-28"}],
        "next_targets": {"first_time_fix_rate": 90, "nps": 55.5},
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


def counts() -> tuple[int, int, int]:
    """(reviews, action items, review.* audit entries) as stored."""
    return (
        db.session.scalar(sa.select(sa.func.count(Review.id))),
        db.session.scalar(sa.select(sa.func.count(ReviewActionItem.id))),
        db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action.like("review.%"))),
    )


def audit_entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ))


def make_review(org, engineer="eng_a1", period=PERIOD, items=1, by="sup_a") -> Review:
    review = Review(engineer_id=org[engineer].id, supervisor_id=org[by].id, period=period,
                    summary=f"Review of {engineer} for {period}")
    db.session.add(review)
    db.session.flush()
    for n in range(items):
        db.session.add(ReviewActionItem(review_id=review.id, title=f"Item {n}", due_date=date(2026, 2, 1)))
    db.session.commit()
    return review


def item_ids(review: Review) -> list[int]:
    return list(db.session.scalars(
        sa.select(ReviewActionItem.id).where(ReviewActionItem.review_id == review.id).order_by(ReviewActionItem.id)
    ))


def next_month(period: str) -> str:
    year, month = map(int, period.split("-"))
    return f"{year + month // 12}-{month % 12 + 1:02d}"


# --- POST /reviews -------------------------------------------------------------------

def test_a_supervisor_holds_a_review_of_their_engineer(client, org):
    client.login(org["sup_a"])
    response = client.post("reviews", json=body(org["eng_a1"]))
    assert response.status_code == 201, response.json
    review = response.json
    assert response.headers["Location"].endswith(f"/api/v1/reviews/{review['id']}")
    assert review["engineer_id"] == org["eng_a1"].id
    assert review["supervisor_id"] == org["sup_a"].id
    assert review["period"] == PERIOD
    assert review["summary"] == "Fast responses, two repeat repairs."
    assert review["strengths"] == "Customers like him."
    assert review["improvements"] == "Check the drain line."
    assert review["next_targets"] == {"first_time_fix_rate": 90, "nps": 55.5}
    assert review["acknowledged_at"] is None
    assert review["created_at"].endswith("Z")
    assert [(i["title"], i["due_date"], i["done"], i["done_at"], i["done_by_id"]) for i in review["action_items"]] == [
        ("Shadow a senior on two HVAC jobs", "2026-02-15", False, None, None),
        ("Write up the drain-line case", "2026-02-28", False, None, None),
    ]
    assert counts() == (1, 2, 1)
    stored = db.session.get(Review, review["id"])
    assert (stored.engineer_id, stored.period, stored.next_targets) == (
        org["eng_a1"].id, PERIOD, {"first_time_fix_rate": 90, "nps": 55.5})
    [entry] = audit_entries("review.create")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "review", review["id"])
    assert entry.detail["engineer_id"] == org["eng_a1"].id and entry.detail["period"] == PERIOD
    assert entry.detail["action_items"] == 2
    # The Location answers.
    assert client.get(response.headers["Location"]).json == review


def test_optional_fields_and_no_action_items(client, org):
    client.login(org["sup_a"])
    response = client.post("reviews", json=body(org["eng_a1"], strengths=..., improvements=...,
                                                next_targets=..., action_items=[]))
    assert response.status_code == 201, response.json
    assert response.json["action_items"] == []
    assert response.json["strengths"] is None and response.json["next_targets"] is None
    assert counts() == (1, 0, 1)


def test_twenty_action_items_are_allowed(client, org):
    client.login(org["sup_a"])
    items = [{"title": f"Item {n}", "due_date": "2026-02-01"} for n in range(20)]
    response = client.post("reviews", json=body(org["eng_a1"], action_items=items))
    assert response.status_code == 201, response.json
    assert [i["title"] for i in response.json["action_items"]] == [f"Item {n}" for n in range(20)]


@pytest.mark.parametrize("engineer", ["eng_a1", "eng_b1", "loner"])
def test_an_admin_may_review_any_engineer(client, org, engineer):
    client.login(org["admin"])
    response = client.post("reviews", json=body(org[engineer]))
    assert response.status_code == 201, response.json
    assert response.json["supervisor_id"] == org["admin"].id
    assert counts() == (1, 2, 1)


@pytest.mark.parametrize("who, engineer_id", [
    ("sup_a", "@eng_b1"), ("sup_a", "@loner"), ("sup_b", "@eng_a1"),
    ("sup_a", "@sup_a"), ("sup_a", "@admin"), ("admin", "@sup_a"), ("sup_a", 999_999),
])
def test_only_an_engineer_of_ones_team_can_be_reviewed(client, org, who, engineer_id):
    client.login(org[who])
    target_id = org[engineer_id[1:]].id if isinstance(engineer_id, str) else engineer_id
    response = client.post("reviews", json=body(org["eng_a1"], engineer_id=target_id))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "engineer_id" in problem["errors"]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("who", ["eng_a1", "eng_a2"])
def test_engineers_may_not_hold_reviews(client, org, who):
    client.login(org[who])
    assert_problem(client.post("reviews", json=body(org["eng_a1"])), 403, "FORBIDDEN")
    assert counts() == (0, 0, 0)


def test_one_review_per_engineer_and_period(client, org):
    client.login(org["sup_a"])
    assert client.post("reviews", json=body(org["eng_a1"])).status_code == 201
    again = client.post("reviews", json=body(org["eng_a1"], summary="Second try"))
    assert_problem(again, 409, "CONFLICT")
    assert counts() == (1, 2, 1)
    # Another period, or another engineer in the same period, is fine.
    assert client.post("reviews", json=body(org["eng_a1"], period="2025-12")).status_code == 201
    assert client.post("reviews", json=body(org["eng_a2"])).status_code == 201
    client.login(org["admin"])
    assert_problem(client.post("reviews", json=body(org["eng_a1"])), 409, "CONFLICT")
    assert counts() == (3, 6, 3)


def test_the_current_month_may_be_reviewed_but_not_a_future_one(client, org):
    client.login(org["sup_a"])
    this_month = current_period()
    problem = assert_problem(client.post("reviews", json=body(org["eng_a1"], period=next_month(this_month))),
                             422, "VALIDATION_ERROR")
    assert "period" in problem["errors"]
    assert counts() == (0, 0, 0)
    assert client.post("reviews", json=body(org["eng_a1"], period=this_month)).status_code == 201


@pytest.mark.config(TIMEZONE="Asia/Shanghai")
def test_the_current_month_is_that_of_the_organisations_time_zone(app):
    assert current_period(datetime(2026, 1, 31, 15, 59, tzinfo=UTC)) == "2026-01"
    assert current_period(datetime(2026, 1, 31, 16, 0, tzinfo=UTC)) == "2026-02"  # midnight in Shanghai


LONG = "x" * 10_001


@pytest.mark.parametrize("changes, field", [
    ({"engineer_id": ...}, "engineer_id"),
    ({"engineer_id": "4"}, "engineer_id"),
    ({"engineer_id": 0}, "engineer_id"),
    ({"engineer_id": None}, "engineer_id"),
    ({"period": ...}, "period"),
    ({"period": "2026-13"}, "period"),
    ({"period": "2026-00"}, "period"),
    ({"period": "2026-1"}, "period"),
    ({"period": "26-01"}, "period"),
    ({"period": "2026-01-01"}, "period"),
    ({"period": 202601}, "period"),
    ({"summary": ...}, "summary"),
    ({"summary": "   "}, "summary"),
    ({"summary": LONG}, "summary"),
    ({"strengths": LONG}, "strengths"),
    ({"improvements": LONG}, "improvements"),
    ({"action_items": ...}, "action_items"),
    ({"action_items": "do better"}, "action_items"),
    ({"action_items": [{"title": f"I{n}", "due_date": "2026-02-01"} for n in range(21)]}, "action_items"),
    ({"action_items": [{"due_date": "2026-02-01"}]}, "action_items"),
    ({"action_items": [{"title": "  ", "due_date": "2026-02-01"}]}, "action_items"),
    ({"action_items": [{"title": "x" * 201, "due_date": "2026-02-01"}]}, "action_items"),
    ({"action_items": [{"title": "Read"}]}, "action_items"),
    ({"action_items": [{"title": "Read", "due_date": "2026-02-30"}]}, "action_items"),
    ({"action_items": [{"title": "Read", "due_date": "next week"}]}, "action_items"),
    ({"action_items": [{"title": "Read", "due_date": "2026-02-01T00:00:00Z"}]}, "action_items"),
    ({"action_items": [{"title": "Read", "due_date": "2026-02-01", "done": True}]}, "action_items"),
    ({"next_targets": {"speed": 3}}, "next_targets"),
    ({"next_targets": {"nps": "50"}}, "next_targets"),
    ({"next_targets": {"nps": True}}, "next_targets"),
    ({"next_targets": {"nps": None}}, "next_targets"),
    ({"next_targets": {"nps": 101}}, "next_targets"),
    ({"next_targets": {"nps": -101}}, "next_targets"),
    ({"next_targets": {"first_time_fix_rate": 100.5}}, "next_targets"),
    ({"next_targets": {"checklist_completion_rate": -1}}, "next_targets"),
    ({"next_targets": {"case_quality": 0.5}}, "next_targets"),
    ({"next_targets": {"case_quality": 6}}, "next_targets"),
    ({"next_targets": {"complaints": -1}}, "next_targets"),
    ({"next_targets": {"first_contact_minutes": -5}}, "next_targets"),
    ({"next_targets": [50]}, "next_targets"),
    ({"supervisor_id": 1}, "supervisor_id"),
    ({"engineer_id": 2**31}, "engineer_id"),
    ({"acknowledged_at": "2026-01-01T00:00:00Z"}, "acknowledged_at"),
])
def test_bad_input_is_refused_and_nothing_is_written(client, org, changes, field):
    client.login(org["sup_a"])
    problem = assert_problem(client.post("reviews", json=body(org["eng_a1"], **changes)), 422, "VALIDATION_ERROR")
    assert field in problem["errors"], problem
    assert counts() == (0, 0, 0)


def test_targets_at_the_edges_of_their_range_are_accepted(client, org):
    client.login(org["sup_a"])
    targets = {"nps": -100, "first_time_fix_rate": 100, "repeat_repair_rate": 0, "case_quality": 1,
               "complaints": 0, "first_contact_minutes": 20, "knowledge_items": 2}
    response = client.post("reviews", json=body(org["eng_a1"], next_targets=targets))
    assert response.status_code == 201, response.json
    assert response.json["next_targets"] == targets


def test_a_malformed_body_is_400_and_writes_nothing(client, org):
    client.login(org["sup_a"])
    response = client.post("reviews", data="{not json", content_type="application/json")
    assert_problem(response, 400, "MALFORMED_REQUEST")
    assert counts() == (0, 0, 0)


# --- acknowledge ---------------------------------------------------------------------

def test_the_engineer_acknowledges_once(client, org):
    review = make_review(org)
    client.login(org["eng_a1"])
    first = client.post(f"reviews/{review.id}/acknowledge")
    assert first.status_code == 200, first.json
    acknowledged = first.json["acknowledged_at"]
    assert acknowledged and acknowledged.endswith("Z")
    assert len(first.json["action_items"]) == 1
    again = client.post(f"reviews/{review.id}/acknowledge")
    assert again.status_code == 200 and again.json["acknowledged_at"] == acknowledged
    db.session.expire_all()
    assert db.session.get(Review, review.id).acknowledged_at is not None
    [entry] = audit_entries("review.acknowledge")
    assert (entry.actor_id, entry.target_id) == (org["eng_a1"].id, review.id)


@pytest.mark.parametrize("who, status", [("eng_a2", 404), ("eng_b1", 404), ("sup_a", 403), ("admin", 403)])
def test_only_the_reviewed_engineer_acknowledges(client, org, who, status):
    review = make_review(org)
    client.login(org[who])
    assert_problem(client.post(f"reviews/{review.id}/acknowledge"), status,
                   "NOT_FOUND" if status == 404 else "FORBIDDEN")
    db.session.expire_all()
    assert db.session.get(Review, review.id).acknowledged_at is None
    assert audit_entries("review.acknowledge") == []


def test_acknowledging_an_unknown_review_is_404(client, org):
    client.login(org["eng_a1"])
    assert_problem(client.post("reviews/999999/acknowledge"), 404, "NOT_FOUND")


# --- action items --------------------------------------------------------------------

def test_ticking_an_action_item_done_and_undone(client, org):
    review = make_review(org, items=2)
    first, second = item_ids(review)
    client.login(org["eng_a1"])
    before = utcnow()
    response = client.patch(f"reviews/{review.id}/action-items/{first}", json={"done": True})
    assert response.status_code == 200, response.json
    assert response.json["id"] == review.id
    ticked, untouched = response.json["action_items"]
    assert ticked["id"] == first and ticked["done"] is True and ticked["done_by_id"] == org["eng_a1"].id
    assert datetime.fromisoformat(ticked["done_at"].replace("Z", "+00:00")) >= before.replace(microsecond=0)
    assert (untouched["done"], untouched["done_at"], untouched["done_by_id"]) == (False, None, None)

    # Done again: nothing moves, nothing more is audited.
    again = client.patch(f"reviews/{review.id}/action-items/{first}", json={"done": True})
    assert again.json["action_items"][0] == ticked
    assert len(audit_entries("review.action_item")) == 1

    # The supervisor undoes it: the stamp is cleared.
    client.login(org["sup_a"])
    undone = client.patch(f"reviews/{review.id}/action-items/{first}", json={"done": False})
    assert undone.status_code == 200
    assert (undone.json["action_items"][0]["done"], undone.json["action_items"][0]["done_at"],
            undone.json["action_items"][0]["done_by_id"]) == (False, None, None)
    db.session.expire_all()
    item = db.session.get(ReviewActionItem, first)
    assert (item.done, item.done_at, item.done_by_id) == (False, None, None)
    entries = audit_entries("review.action_item")
    assert [(e.actor_id, e.target_id, e.detail["item_id"], e.detail["done"]) for e in entries] == [
        (org["eng_a1"].id, review.id, first, True), (org["sup_a"].id, review.id, first, False)]

    client.login(org["admin"])
    assert client.patch(f"reviews/{review.id}/action-items/{second}", json={"done": True}).status_code == 200
    db.session.expire_all()
    assert db.session.get(ReviewActionItem, second).done_by_id == org["admin"].id


def test_the_document_says_an_open_items_done_fields_are_null(client, org):
    """The answer for an item not yet done has done_at and done_by_id null, and the
    OpenAPI document must allow it (the fuzzing of the document found it did not)."""
    make_review(org)
    client.login(org["sup_a"])
    item = client.get("reviews").json["items"][0]["action_items"][0]
    assert (item["done"], item["done_at"], item["done_by_id"]) == (False, None, None)
    fields = client.get("openapi.json").json["components"]["schemas"]["ActionItem"]["properties"]
    assert fields["done_at"].get("nullable") is True and fields["done_by_id"].get("nullable") is True


@pytest.mark.parametrize("who", ["eng_a2", "eng_b1", "sup_b"])
def test_action_items_outside_scope_are_404(client, org, who):
    review = make_review(org)
    [item] = item_ids(review)
    client.login(org[who])
    assert_problem(client.patch(f"reviews/{review.id}/action-items/{item}", json={"done": True}), 404, "NOT_FOUND")
    db.session.expire_all()
    assert db.session.get(ReviewActionItem, item).done is False
    assert audit_entries("review.action_item") == []


def test_an_item_of_another_review_is_404(client, org):
    review = make_review(org)
    other = make_review(org, engineer="eng_a2")
    [foreign] = item_ids(other)
    client.login(org["sup_a"])
    assert_problem(client.patch(f"reviews/{review.id}/action-items/{foreign}", json={"done": True}), 404, "NOT_FOUND")
    assert_problem(client.patch(f"reviews/{review.id}/action-items/999999", json={"done": True}), 404, "NOT_FOUND")
    db.session.expire_all()
    assert db.session.get(ReviewActionItem, foreign).done is False


@pytest.mark.parametrize("payload", [{}, {"done": "yes"}, {"done": 1}, {"done": None},
                                     {"done": True, "title": "Renamed"}])
def test_an_action_item_change_needs_a_boolean_done(client, org, payload):
    review = make_review(org)
    [item] = item_ids(review)
    client.login(org["eng_a1"])
    assert_problem(client.patch(f"reviews/{review.id}/action-items/{item}", json=payload), 422, "VALIDATION_ERROR")
    db.session.expire_all()
    stored = db.session.get(ReviewActionItem, item)
    assert (stored.done, stored.title) == (False, "Item 0")
    assert audit_entries("review.action_item") == []


# --- reading -------------------------------------------------------------------------

@pytest.fixture
def reviews(org):
    return {
        "a1_jan": make_review(org, "eng_a1", "2026-01"),
        "a1_feb": make_review(org, "eng_a1", "2026-02", items=0),
        "a2_jan": make_review(org, "eng_a2", "2026-01", items=2),
        "b1_jan": make_review(org, "eng_b1", "2026-01", by="sup_b"),
        "loner_jan": make_review(org, "loner", "2026-01", by="admin"),
    }


@pytest.mark.parametrize("who, visible", [
    ("eng_a1", {"a1_jan", "a1_feb"}),
    ("eng_a2", {"a2_jan"}),
    ("eng_b1", {"b1_jan"}),
    ("loner", {"loner_jan"}),
    ("sup_a", {"a1_jan", "a1_feb", "a2_jan"}),
    ("sup_b", {"b1_jan"}),
    ("admin", {"a1_jan", "a1_feb", "a2_jan", "b1_jan", "loner_jan"}),
])
def test_each_user_lists_and_reads_the_reviews_in_scope(client, org, reviews, who, visible):
    client.login(org[who])
    listed = client.get("reviews")
    assert listed.status_code == 200
    assert {item["id"] for item in listed.json["items"]} == {reviews[k].id for k in visible}
    assert listed.json["total"] == len(visible)
    for key, review in reviews.items():
        response = client.get(f"reviews/{review.id}")
        if key in visible:
            assert response.status_code == 200 and response.json["id"] == review.id
        else:
            assert_problem(response, 404, "NOT_FOUND")


def test_the_list_is_newest_first_with_each_reviews_items(client, org, reviews):
    client.login(org["admin"])
    items = client.get("reviews").json["items"]
    assert [i["id"] for i in items] == sorted((r.id for r in reviews.values()), reverse=True)
    by_id = {i["id"]: i for i in items}
    assert [a["title"] for a in by_id[reviews["a2_jan"].id]["action_items"]] == ["Item 0", "Item 1"]
    assert by_id[reviews["a1_feb"].id]["action_items"] == []
    assert len(by_id[reviews["a1_jan"].id]["action_items"]) == 1


@pytest.mark.parametrize("query, expected", [
    ("engineer_id={eng_a1}", {"a1_jan", "a1_feb"}),
    ("period=2026-01", {"a1_jan", "a2_jan"}),
    ("period=2026-02&engineer_id={eng_a1}", {"a1_feb"}),
    ("engineer_id={eng_b1}", set()),
    ("per_page=2&page=2", None),
])
def test_list_filters(client, org, reviews, query, expected):
    client.login(org["sup_a"])
    response = client.get("reviews?" + query.format(eng_a1=org["eng_a1"].id, eng_b1=org["eng_b1"].id))
    assert response.status_code == 200
    if expected is None:
        assert (response.json["page"], response.json["per_page"], response.json["total"]) == (2, 2, 3)
        assert len(response.json["items"]) == 1
    else:
        assert {i["id"] for i in response.json["items"]} == {reviews[k].id for k in expected}


@pytest.mark.parametrize("query", ["period=2026-13", "period=jan", "engineer_id=x", f"engineer_id={2**31}",
                                   "per_page=201", "page=0"])
def test_bad_list_filters_are_422(client, org, query):
    client.login(org["sup_a"])
    assert_problem(client.get("reviews?" + query), 422, "VALIDATION_ERROR")


def test_a_page_of_reviews_costs_the_same_queries_whatever_its_size(app, client, org):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    client.login(org["admin"])

    def queries_for_list() -> int:
        statements.clear()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert client.get("reviews").status_code == 200
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    make_review(org, "eng_a1", "2025-01", items=2)
    small = queries_for_list()
    for n, engineer in enumerate(["eng_a2", "eng_b1", "loner", "eng_a1", "eng_a2"]):
        make_review(org, engineer, f"2025-{n + 2:02d}", items=3)
    assert queries_for_list() == small
