"""/kpi/schemes: the six schemes, read by everyone, replaced whole by admins (kpi.md, Schemes)."""
from __future__ import annotations

import copy

import pytest
import sqlalchemy as sa

from app.domain.kpi import DEFAULT_SCHEMES, SCHEME_KEYS
from app.extensions import db
from app.models import AuditEntry, KpiScheme
from tests.api.test_app import assert_problem
from tests.api.test_kpi_figures import get_card, metrics, training


def mid_field() -> dict:
    return copy.deepcopy(DEFAULT_SCHEMES["mid-field"])


def index_of(body: dict, key: str) -> int:
    return next(i for i, m in enumerate(body["metrics"]) if m["key"] == key)


def stored() -> list[KpiScheme]:
    return list(db.session.scalars(sa.select(KpiScheme).order_by(KpiScheme.key)))


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


@pytest.mark.parametrize("who", ["eng_a1", "sup_a", "admin"])
def test_everyone_signed_in_lists_the_six_defaults(client, org, who):
    client.login(org[who])
    response = client.get("kpi/schemes")
    assert response.status_code == 200
    body = response.json
    assert [s["key"] for s in body["items"]] == list(SCHEME_KEYS)
    assert (body["total"], body["page"]) == (6, 1)
    assert body["items"][1] == DEFAULT_SCHEMES["mid-field"]
    assert client.get("kpi/schemes/senior-remote").json == DEFAULT_SCHEMES["senior-remote"]


@pytest.mark.parametrize("who", ["eng_a1", "sup_a", "admin"])
def test_everyone_signed_in_reads_the_metrics_in_order(client, org, who):
    client.login(org[who])
    response = client.get("kpi/metrics")
    assert response.status_code == 200
    body = response.json
    assert body["dimensions"] == ["response", "efficiency", "satisfaction", "knowledge", "compliance"]
    assert [m["key"] for m in body["items"]] == [
        "first_contact_minutes", "arrival_minutes", "dispatch_minutes", "service_minutes",
        "first_time_fix_rate", "repeat_repair_rate", "nps", "complaints", "trainings_attended",
        "knowledge_items", "case_quality", "checklist_completion_rate", "safety_incidents",
        "process_violations", "false_reports"]
    assert body["items"][0] == {"key": "first_contact_minutes", "dimension": "response", "unit": "min",
                                "better": "lower", "kind": "mean"}
    assert body["items"][4] == {"key": "first_time_fix_rate", "dimension": "efficiency", "unit": "%",
                                "better": "higher", "kind": "rate"}
    # Every metric a scheme may weigh is listed, each under a listed dimension.
    assert {m["key"] for s in DEFAULT_SCHEMES.values() for m in s["metrics"]} <= {m["key"] for m in body["items"]}
    assert {m["dimension"] for m in body["items"]} == set(body["dimensions"])


def test_the_metrics_need_sign_in_and_are_read_only(client, org):
    assert_problem(client.get("kpi/metrics"), 401, "UNAUTHORIZED")
    client.login(org["admin"])
    assert client.post("kpi/metrics", json={}).status_code == 405
    assert client.put("kpi/metrics", json={}).status_code == 405


def test_schemes_need_sign_in_and_an_unknown_key_is_404(client, org):
    assert_problem(client.get("kpi/schemes"), 401, "UNAUTHORIZED")
    client.login(org["eng_a1"])
    assert_problem(client.get("kpi/schemes/expert-field"), 404, "NOT_FOUND")
    assert client.get("kpi/schemes?per_page=2&page=2").json["items"][0]["key"] == "senior-field"


def test_an_admin_replaces_a_scheme_whole_and_it_is_audited(client, org):
    client.login(org["admin"])
    body = mid_field()
    # Move 10 from first contact to nps; drop process_violations (weight 1) onto complaints.
    body["metrics"][index_of(body, "first_contact_minutes")]["weight"] = 0
    body["metrics"][index_of(body, "nps")].update(weight=40, min_samples=5)
    body["metrics"][index_of(body, "complaints")]["weight"] = 11
    del body["metrics"][index_of(body, "process_violations")]
    for m in body["metrics"]:
        if m["key"] != "nps":
            del m["min_samples"]  # optional: the default is filled in
    body["pass_score"] = 75
    del body["key"]  # the URL names the scheme

    response = client.put("kpi/schemes/mid-field", json=body)
    assert response.status_code == 200, response.json
    saved = response.json
    assert saved["key"] == "mid-field" and saved["pass_score"] == 75
    by_key = {m["key"]: m for m in saved["metrics"]}
    assert "process_violations" not in by_key
    assert by_key["nps"]["min_samples"] == 5
    assert by_key["complaints"]["min_samples"] == 1  # spelled out
    assert client.get("kpi/schemes/mid-field").json == saved
    assert client.get("kpi/schemes").json["items"][1] == saved
    assert client.get("kpi/schemes/junior-field").json == DEFAULT_SCHEMES["junior-field"]

    (row,) = stored()
    assert (row.key, row.pass_score, row.updated_by_id) == ("mid-field", 75, org["admin"].id)
    (entry,) = audits("scheme.update")
    assert entry.actor_id == org["admin"].id
    assert entry.detail["key"] == "mid-field"
    assert entry.detail["before"] == DEFAULT_SCHEMES["mid-field"]
    assert entry.detail["after"] == saved

    # A second change is audited with the first as its "before".
    body["pass_score"] = 70
    assert client.put("kpi/schemes/mid-field", json=body).status_code == 200
    assert audits("scheme.update")[-1].detail["before"]["pass_score"] == 75


def test_a_changed_scheme_scores_the_next_card(client, org):
    # One training in March: mid-field default gives 82.61 (see test_kpi_figures). With
    # trainings the only metric (weight 100, target 2, floor 0): 1 training scores
    # (1−0)/(2−0)×100 = 50, total 50 < pass 60.
    training("2024-03-05 09:00", org["eng_a1"])
    client.login(org["admin"])
    assert get_card(client, org["eng_a1"])["total_score"] == 82.61
    body = {"pass_score": 60, "metrics": [
        {"key": "trainings_attended", "weight": 100, "target": 2, "floor": 0}]}
    assert client.put("kpi/schemes/mid-field", json=body).status_code == 200
    card = get_card(client, org["eng_a1"])
    assert (card["total_score"], card["pass_score"], card["meets_target"]) == (50.0, 60, False)
    assert metrics(card)["nps"]["weight"] == 0  # not listed: weighs 0
    assert metrics(card)["complaints"]["score"] is None


def _broken(change) -> dict:
    body = mid_field()
    change(body)
    return body


def _set(metric, **fields):
    return lambda b: b["metrics"][index_of(b, metric)].update(fields)


BROKEN = {
    "unknown metric": (_set("service_minutes", key="speed"), ("service_minutes", "key")),
    "repeated metric": (_set("service_minutes", key="first_contact_minutes"), ("service_minutes", "key")),
    "negative weight": (lambda b: (_set("first_contact_minutes", weight=-5)(b),
                                   _set("nps", weight=45)(b)), ("first_contact_minutes", "weight")),
    "weights sum to 101": (_set("first_contact_minutes", weight=11), "metrics"),
    "weights sum to 99": (_set("first_contact_minutes", weight=9), "metrics"),
    "min_samples 0": (_set("nps", min_samples=0), ("nps", "min_samples")),
    "min_samples not whole": (_set("nps", min_samples=2.5), ("nps", "min_samples")),
    "pass_score below 0": (lambda b: b.update(pass_score=-1), "pass_score"),
    "pass_score above 100": (lambda b: b.update(pass_score=100.5), "pass_score"),
    "pass_score a string": (lambda b: b.update(pass_score="80"), "pass_score"),
    "higher: floor at target": (_set("nps", floor=50), ("nps", "floor")),
    "higher: floor above target": (_set("nps", floor=60), ("nps", "floor")),
    "lower: floor at target": (_set("first_contact_minutes", floor=30), ("first_contact_minutes", "floor")),
    "lower: floor below target": (_set("first_contact_minutes", floor=20), ("first_contact_minutes", "floor")),
    "target not a number": (_set("nps", target=True), ("nps", "target")),
    "weight beyond any float": (_set("nps", weight=10**400), ("nps", "weight")),
    "body names another scheme": (lambda b: b.update(key="junior-field"), "key"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_each_rule_refuses_the_scheme_and_nothing_is_written(client, org, case):
    change, field = BROKEN[case]
    if isinstance(field, tuple):  # a metric's field, named by its place in the list
        field = f"metrics.{index_of(mid_field(), field[0])}.{field[1]}"
    client.login(org["admin"])
    body = assert_problem(client.put("kpi/schemes/mid-field", json=_broken(change)), 422,
                          "VALIDATION_ERROR")
    assert field in body["errors"], body["errors"]
    assert stored() == []
    assert audits("scheme.update") == []
    assert client.get("kpi/schemes/mid-field").json == DEFAULT_SCHEMES["mid-field"]


@pytest.mark.parametrize("body", [
    {"pass_score": 80},  # metrics missing
    {"metrics": []},  # pass_score missing
    {"pass_score": 80, "metrics": [], "updated_by_id": 1},  # unknown field
    {"pass_score": 80, "metrics": [{"key": "nps", "weight": 100, "target": 50, "floor": 0,
                                    "bonus": 1}]},  # unknown metric field
    {"pass_score": 80, "metrics": [{"key": "nps", "weight": 100, "target": 50}]},  # no floor
    {"pass_score": 80, "metrics": []},  # weights sum to 0
])
def test_malformed_bodies_are_422(client, org, body):
    client.login(org["admin"])
    assert_problem(client.put("kpi/schemes/mid-field", json=body), 422, "VALIDATION_ERROR")
    assert stored() == []


def test_only_admins_replace_a_scheme_and_an_unknown_key_is_404(client, org):
    for who in ("eng_a1", "sup_a"):
        client.login(org[who])
        assert_problem(client.put("kpi/schemes/mid-field", json=mid_field()), 403, "FORBIDDEN")
    client.login(org["admin"])
    assert_problem(client.put("kpi/schemes/expert-field", json=mid_field()), 404, "NOT_FOUND")
    assert stored() == []
