"""/categories: the job categories and their close checklists (api.md, Jobs)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Category
from tests.api.test_app import assert_problem

DEFAULT_ITEMS = ["ppe_worn", "power_isolated", "area_cleaned", "customer_briefed"]
SOLAR = {"name": "Solar panels", "checklist": ["ppe_worn", "roof_anchor_used"], "signature_required": True}


def stored() -> list[Category]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Category).order_by(Category.key)))


def audits() -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


@pytest.mark.parametrize("who", ["eng_a1", "sup_a", "admin"])
def test_every_signed_in_user_reads_the_defaults(client, org, who):
    client.use_token(org[who])
    data = client.get("categories").json
    assert (data["page"], data["per_page"], data["total"]) == (1, 50, 5)
    assert data["items"] == [
        {"key": key, "name": name, "checklist": DEFAULT_ITEMS, "signature_required": False}
        for key, name in [("appliance", "Appliance"), ("electrical", "Electrical"), ("hvac", "HVAC"),
                          ("network", "Network"), ("plumbing", "Plumbing")]
    ]


def test_categories_are_paged(client, org):
    client.use_token(org["eng_a1"])
    data = client.get("categories", query_string={"per_page": 2, "page": 3}).json
    assert data["total"] == 5 and [c["key"] for c in data["items"]] == ["plumbing"]
    assert_problem(client.get("categories", query_string={"per_page": 0}), 422, "VALIDATION_ERROR")


def test_anonymous_may_not_read_categories(client):
    assert_problem(client.get("categories"), 401, "UNAUTHORIZED")


def test_put_creates_a_category_and_audits_it(client, org):
    client.use_token(org["admin"])
    response = client.put("categories/solar", json={**SOLAR, "name": "  Solar panels "})
    assert response.status_code == 201, response.json
    assert response.headers["Location"] == "/api/v1/categories/solar"
    assert response.json == {"key": "solar", **SOLAR}
    # Put again: a replacement, 200 without Location.
    again = client.put("categories/solar", json=SOLAR)
    assert again.status_code == 200 and "Location" not in again.headers
    assert again.json == {"key": "solar", **SOLAR}
    [row] = stored()
    assert (row.key, row.name, row.checklist, row.signature_required) == (
        "solar", "Solar panels", SOLAR["checklist"], True)
    entry = audits()[0]
    assert (entry.action, entry.actor_id, entry.target_type) == ("category.update", org["admin"].id, "category")
    assert entry.detail == {"key": "solar", "from": None,
                            "to": {"name": "Solar panels", "checklist": SOLAR["checklist"], "signature_required": True}}
    keys = [c["key"] for c in client.get("categories").json["items"]]
    assert keys == ["appliance", "electrical", "hvac", "network", "plumbing", "solar"]


def test_put_replaces_a_default_and_then_a_stored_one(client, org):
    client.use_token(org["admin"])
    first = {"name": "Air conditioning", "checklist": ["gas_checked"], "signature_required": False}
    replaced = client.put("categories/hvac", json=first)
    assert replaced.status_code == 200 and "Location" not in replaced.headers  # a default: not new
    assert replaced.json == {"key": "hvac", **first}
    second = {"name": "HVAC", "checklist": ["gas_checked", "filter_cleaned"], "signature_required": True}
    assert client.put("categories/hvac", json=second).json == {"key": "hvac", **second}
    [row] = stored()
    assert (row.name, row.checklist, row.signature_required) == ("HVAC", ["gas_checked", "filter_cleaned"], True)
    listed = {c["key"]: c for c in client.get("categories").json["items"]}
    assert len(listed) == 5 and listed["hvac"] == {"key": "hvac", **second}
    assert [e.detail["from"] for e in audits()] == [
        {"name": "HVAC", "checklist": DEFAULT_ITEMS, "signature_required": False},
        {"name": "Air conditioning", "checklist": ["gas_checked"], "signature_required": False},
    ]


def test_twenty_items_are_allowed(client, org):
    client.use_token(org["admin"])
    items = [f"item_{n}" for n in range(20)]
    assert client.put("categories/big", json={**SOLAR, "checklist": items}).json["checklist"] == items


@pytest.mark.parametrize("who", ["eng_a1", "sup_a"])
def test_only_an_admin_may_put(client, org, who):
    client.use_token(org[who])
    assert_problem(client.put("categories/solar", json=SOLAR), 403, "FORBIDDEN")
    assert stored() == []


@pytest.mark.parametrize("changes, field", [
    ({"name": ...}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "n" * 101}, "name"),
    ({"checklist": ...}, "checklist"),
    ({"checklist": []}, "checklist"),
    ({"checklist": [f"item_{n}" for n in range(21)]}, "checklist"),
    ({"checklist": ["ppe_worn", "ppe_worn"]}, "checklist"),
    ({"checklist": ["PPE worn"]}, "checklist"),
    ({"checklist": ["ppe-worn"]}, "checklist"),
    ({"checklist": ["_ppe"]}, "checklist"),
    ({"checklist": ["a" * 41]}, "checklist"),
    ({"checklist": [""]}, "checklist"),
    ({"checklist": [7]}, "checklist"),
    ({"checklist": "ppe_worn"}, "checklist"),
    ({"signature_required": ...}, "signature_required"),
    ({"signature_required": "maybe"}, "signature_required"),
    ({"key": "other"}, "key"),
])
def test_put_rejects_bad_input_and_writes_nothing(client, org, changes, field):
    client.use_token(org["admin"])
    body = {k: v for k, v in {**SOLAR, **changes}.items() if v is not ...}
    problem = assert_problem(client.put("categories/solar", json=body), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert stored() == [] and audits() == []


@pytest.mark.parametrize("key", ["Solar", "solar-panels", "2solar", "a" * 41, "so__lar"])
def test_the_key_is_snake_case(client, org, key):
    client.use_token(org["admin"])
    problem = assert_problem(client.put(f"categories/{key}", json=SOLAR), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["key"]
    assert stored() == [] and audits() == []


def test_a_new_category_can_be_used_by_jobs(client, org, factory):
    site = factory.site()
    client.use_token(org["admin"])
    body = {"site_id": site.id, "title": "Inverter fault", "category": "solar", "priority": "low"}
    assert_problem(client.post("jobs", json=body), 422, "VALIDATION_ERROR")
    client.put("categories/solar", json=SOLAR)
    assert client.post("jobs", json=body).status_code == 201
