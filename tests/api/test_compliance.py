"""/compliance-events: record, list, read, correct and remove safety incidents and
process violations (api.md, Knowledge, trainings, compliance; kpi.md: safety_incidents,
process_violations on occurred_at)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ComplianceEvent, User
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.api.test_cases import as_user, ids
from tests.api.test_trainings import MARGIN, TOLERANCE, audits, iso

OCCURRED = datetime(2026, 10, 14, 6, 30, tzinfo=UTC)
NOTE = "未佩戴安全帽进入机房"


def body(engineer: User, **changes: Any) -> dict[str, Any]:
    """A valid POST /compliance-events body; a value of ... drops the field."""
    data = {"engineer_id": engineer.id, "kind": "safety_incident", "severity": "high",
            "occurred_at": "2026-10-14T14:30:00+08:00", "note": NOTE, **changes}
    return {k: v for k, v in data.items() if v is not ...}


def event(engineer: User, occurred_at: datetime = OCCURRED, kind: str = "safety_incident",
          created_by: User | None = None) -> ComplianceEvent:
    made = ComplianceEvent(engineer_id=engineer.id, kind=kind, severity="low", occurred_at=occurred_at,
                           note=NOTE, created_by_id=created_by.id if created_by else engineer.supervisor_id)
    db.session.add(made)
    db.session.commit()
    return made


def stored() -> list[tuple]:
    db.session.expire_all()
    return [(e.engineer_id, e.kind, e.severity, e.occurred_at, e.note, e.created_by_id)
            for e in db.session.scalars(sa.select(ComplianceEvent).order_by(ComplianceEvent.id))]


# --- POST /compliance-events ------------------------------------------------------------

@pytest.mark.parametrize("auth", ["cookie", "token"])
def test_the_engineers_supervisor_records_an_event(app, client, org, auth):
    client.login(org["sup_a"]) if auth == "cookie" else client.use_token(org["sup_a"])
    response = client.post("compliance-events", json=body(org["eng_a1"], note=f"  {NOTE} "))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert response.headers["Location"] == f"/api/v1/compliance-events/{data['id']}"
    assert data == {"id": data["id"], "engineer_id": org["eng_a1"].id, "kind": "safety_incident",
                    "severity": "high", "occurred_at": "2026-10-14T06:30:00Z", "note": NOTE,
                    "created_by_id": org["sup_a"].id, "created_at": data["created_at"]}
    assert stored() == [(org["eng_a1"].id, "safety_incident", "high", OCCURRED, NOTE, org["sup_a"].id)]
    [entry] = audits("compliance.create")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "compliance_event", data["id"])
    assert entry.detail == {"after": {"engineer_id": org["eng_a1"].id, "kind": "safety_incident", "severity": "high",
                                      "occurred_at": "2026-10-14T06:30:00+00:00", "note": NOTE}}
    assert client.get(response.headers["Location"]).get_json() == data


@pytest.mark.parametrize("engineer", ["eng_a1", "eng_b1", "loner"])
def test_an_admin_records_an_event_for_any_engineer(app, org, engineer):
    response = as_user(app, org["admin"]).post(
        "compliance-events", json=body(org[engineer], kind="process_violation", severity="low"))
    assert response.status_code == 201, response.get_json()
    assert stored() == [(org[engineer].id, "process_violation", "low", OCCURRED, NOTE, org["admin"].id)]


@pytest.mark.parametrize("kind", ["safety_incident", "process_violation"])
@pytest.mark.parametrize("severity", ["low", "medium", "high"])
def test_every_kind_and_severity(app, org, kind, severity):
    response = as_user(app, org["sup_a"]).post("compliance-events", json=body(org["eng_a1"], kind=kind, severity=severity))
    assert (response.status_code, response.get_json()["kind"], response.get_json()["severity"]) == (201, kind, severity)


def test_occurred_at_may_be_now_within_the_clock_tolerance(app, org):
    client = as_user(app, org["sup_a"])
    for at in (utcnow() - timedelta(days=400), utcnow() + TOLERANCE - MARGIN):
        assert client.post("compliance-events", json=body(org["eng_a1"], occurred_at=iso(at))).status_code == 201


@pytest.mark.parametrize("changes, field", [
    ({"engineer_id": ...}, "engineer_id"), ({"engineer_id": "4"}, "engineer_id"), ({"engineer_id": 0}, "engineer_id"),
    ({"engineer_id": None}, "engineer_id"),
    ({"kind": ...}, "kind"), ({"kind": "near_miss"}, "kind"),
    ({"severity": ...}, "severity"), ({"severity": "critical"}, "severity"),
    ({"occurred_at": ...}, "occurred_at"), ({"occurred_at": "2026-10-14T06:30:00"}, "occurred_at"),
    ({"occurred_at": "last week"}, "occurred_at"),
    ({"note": ...}, "note"), ({"note": "   "}, "note"), ({"note": "n" * 2001}, "note"), ({"note": None}, "note"),
    ({"created_by_id": 1}, "created_by_id"), ({"id": 9}, "id"),
])
def test_bad_input_is_refused_and_nothing_written(app, org, changes, field):
    response = as_user(app, org["sup_a"]).post("compliance-events", json=body(org["eng_a1"], **changes))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert stored() == [] and audits("compliance.create") == []


def test_an_event_in_the_future_is_refused(app, org):
    at = iso(utcnow() + TOLERANCE + MARGIN)
    problem = assert_problem(as_user(app, org["sup_a"]).post("compliance-events", json=body(org["eng_a1"], occurred_at=at)),
                             422, "VALIDATION_ERROR")
    assert "occurred_at" in problem["errors"]
    assert stored() == []


@pytest.mark.parametrize("who, engineer", [
    ("sup_a", "eng_b1"), ("sup_a", "loner"), ("sup_b", "eng_a1"), ("sup_a", "sup_a"), ("sup_a", "inactive"),
    ("sup_a", "unknown"), ("admin", "sup_b"), ("admin", "admin"), ("admin", "inactive"), ("admin", "unknown"),
])
def test_the_engineer_must_be_an_active_engineer_in_scope(app, org, factory, who, engineer):
    people = {**org, "inactive": factory.user("engineer", supervisor=org["sup_a"], active=False)}
    engineer_id = 999999 if engineer == "unknown" else people[engineer].id
    response = as_user(app, org[who]).post("compliance-events", json=body(org["eng_a1"], engineer_id=engineer_id))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert "engineer_id" in problem["errors"]
    assert stored() == [] and audits("compliance.create") == []


@pytest.mark.parametrize("who", ["eng_a1", "eng_a2", "eng_b1"])
def test_engineers_do_not_record_events(app, org, who):
    assert_problem(as_user(app, org[who]).post("compliance-events", json=body(org["eng_a1"])), 403, "FORBIDDEN")
    assert stored() == []


def test_anonymous_callers_are_401(app, client, org):
    made = event(org["eng_a1"])
    assert_problem(client.post("compliance-events", json=body(org["eng_a1"])), 401, "UNAUTHORIZED")
    assert_problem(client.get("compliance-events"), 401, "UNAUTHORIZED")
    assert_problem(client.get(f"compliance-events/{made.id}"), 401, "UNAUTHORIZED")
    assert_problem(client.patch(f"compliance-events/{made.id}", json={"severity": "high"}), 401, "UNAUTHORIZED")
    assert_problem(client.delete(f"compliance-events/{made.id}"), 401, "UNAUTHORIZED")


def test_a_cookie_session_must_send_the_csrf_token(app, client, org):
    made = event(org["eng_a1"])
    client.login(org["sup_a"])
    assert_problem(client.post("compliance-events", json=body(org["eng_a1"]), csrf=False), 403, "CSRF_FAILED")
    assert_problem(client.patch(f"compliance-events/{made.id}", json={"severity": "high"}, csrf=False),
                   403, "CSRF_FAILED")
    assert_problem(client.delete(f"compliance-events/{made.id}", csrf=False), 403, "CSRF_FAILED")
    assert len(stored()) == 1 and stored()[0][2] == "low"


# --- GET /compliance-events, GET /compliance-events/{id} --------------------------------------

SEES = {
    "eng_a1": ["a1"], "eng_a2": ["a2"], "eng_b1": ["b1"], "loner": ["loner"],
    "sup_a": ["a1", "a2"], "sup_b": ["b1"], "admin": ["a1", "a2", "b1", "loner"],
}


@pytest.mark.parametrize("who", SEES)
def test_each_sees_the_events_of_the_engineers_in_their_scope(app, org, who):
    events = {"a1": event(org["eng_a1"]), "a2": event(org["eng_a2"]), "b1": event(org["eng_b1"]),
              "loner": event(org["loner"], created_by=org["admin"])}
    client = as_user(app, org[who])
    assert ids(client.get("compliance-events")) == sorted((events[n].id for n in SEES[who]), reverse=True)
    for name, made in events.items():
        response = client.get(f"compliance-events/{made.id}")
        if name in SEES[who]:
            assert response.status_code == 200 and response.get_json()["engineer_id"] == made.engineer_id
        else:
            assert_problem(response, 404, "NOT_FOUND")


def test_filters_on_engineer_kind_and_occurred_at(app, org):
    early = event(org["eng_a1"], OCCURRED - timedelta(days=3), "process_violation")
    at_from = event(org["eng_a1"], OCCURRED, "safety_incident")
    at_to = event(org["eng_a2"], OCCURRED + timedelta(days=1), "process_violation")
    client = as_user(app, org["sup_a"])
    window = {"from": iso(OCCURRED), "to": iso(OCCURRED + timedelta(days=1))}
    assert ids(client.get("compliance-events", query_string=window)) == [at_from.id]
    assert ids(client.get("compliance-events", query_string={"kind": "process_violation"})) == [at_to.id, early.id]
    assert ids(client.get("compliance-events", query_string={"kind": "process_violation,safety_incident"})) == [
        at_to.id, at_from.id, early.id]
    assert ids(client.get("compliance-events", query_string={"engineer_id": org["eng_a1"].id})) == [at_from.id, early.id]
    assert ids(client.get("compliance-events", query_string={
        "engineer_id": org["eng_a1"].id, "kind": "process_violation", "to": iso(OCCURRED)})) == [early.id]
    # Filters never widen the scope.
    assert ids(as_user(app, org["sup_b"]).get("compliance-events", query_string={"engineer_id": org["eng_a1"].id})) == []


@pytest.mark.parametrize("args", [{"kind": "near_miss"}, {"kind": "safety_incident,x"}, {"from": "2026-10-01"},
                                  {"to": "2026-10-01T00:00:00"}, {"engineer_id": -1}, {"per_page": 500}])
def test_bad_filters_are_422(app, org, args):
    assert_problem(as_user(app, org["admin"]).get("compliance-events", query_string=args), 422, "VALIDATION_ERROR")


def test_an_unknown_event_is_404(app, org):
    assert_problem(as_user(app, org["admin"]).get("compliance-events/999999"), 404, "NOT_FOUND")


# --- PATCH /compliance-events/{id} ---------------------------------------------------------

@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_a_correction_is_saved_and_audited_with_before_and_after(app, org, who):
    made = event(org["eng_a1"])
    response = as_user(app, org[who]).patch(f"compliance-events/{made.id}", json={
        "kind": "process_violation", "severity": "low", "occurred_at": "2026-10-13T06:30:00Z", "note": NOTE})
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert (data["kind"], data["severity"], data["occurred_at"]) == ("process_violation", "low", "2026-10-13T06:30:00Z")
    assert stored() == [(org["eng_a1"].id, "process_violation", "low", OCCURRED - timedelta(days=1), NOTE,
                         org["sup_a"].id)]
    [entry] = audits("compliance.update")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org[who].id, "compliance_event", made.id)
    assert entry.detail == {"before": {"kind": "safety_incident", "occurred_at": "2026-10-14T06:30:00+00:00"},
                            "after": {"kind": "process_violation", "occurred_at": "2026-10-13T06:30:00+00:00"}}


def test_an_event_can_be_moved_to_another_engineer_in_scope(app, org):
    made = event(org["eng_a1"])
    client = as_user(app, org["sup_a"])
    assert client.patch(f"compliance-events/{made.id}", json={"engineer_id": org["eng_a2"].id}).status_code == 200
    assert stored()[0][0] == org["eng_a2"].id
    problem = assert_problem(client.patch(f"compliance-events/{made.id}", json={"engineer_id": org["eng_b1"].id}),
                             422, "VALIDATION_ERROR")
    assert "engineer_id" in problem["errors"]
    assert stored()[0][0] == org["eng_a2"].id
    assert [e.detail for e in audits("compliance.update")] == [
        {"before": {"engineer_id": org["eng_a1"].id}, "after": {"engineer_id": org["eng_a2"].id}}]


def test_a_correction_that_changes_nothing_is_not_audited(app, org):
    made = event(org["eng_a1"])
    response = as_user(app, org["sup_a"]).patch(f"compliance-events/{made.id}", json={"severity": "low"})
    assert response.status_code == 200
    assert audits("compliance.update") == []


@pytest.mark.parametrize("changes, field", [
    ({"kind": "other"}, "kind"), ({"severity": None}, "severity"), ({"note": ""}, "note"),
    ({"occurred_at": "2026-10-13"}, "occurred_at"), ({"engineer_id": 999999}, "engineer_id"),
    ({"created_by_id": 1}, "created_by_id"),
])
def test_bad_corrections_are_refused_and_nothing_changes(app, org, changes, field):
    made = event(org["eng_a1"])
    before = stored()
    problem = assert_problem(as_user(app, org["sup_a"]).patch(f"compliance-events/{made.id}", json=changes),
                             422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert stored() == before and audits("compliance.update") == []


def test_a_correction_may_not_move_an_event_into_the_future(app, org):
    made = event(org["eng_a1"])
    response = as_user(app, org["sup_a"]).patch(f"compliance-events/{made.id}", json={
        "occurred_at": iso(utcnow() + TOLERANCE + MARGIN)})
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert stored()[0][3] == OCCURRED


@pytest.mark.parametrize("who, status", [
    ("sup_a", 200), ("admin", 200), ("sup_b", 404), ("eng_a1", 403), ("eng_a2", 403), ("eng_b1", 403),
])
def test_who_may_correct_or_remove_an_event(app, org, who, status):
    made_id = event(org["eng_a1"]).id
    before = stored()
    client = as_user(app, org[who])
    response = client.patch(f"compliance-events/{made_id}", json={"severity": "high"})
    assert response.status_code == status, response.get_json()
    if status != 200:
        assert stored() == before
        assert client.delete(f"compliance-events/{made_id}").status_code == status
        assert stored() == before and audits("compliance.delete") == []
    else:
        assert stored()[0][2] == "high"
        assert client.delete(f"compliance-events/{made_id}").status_code == 204
        assert stored() == []


# --- DELETE /compliance-events/{id} -------------------------------------------------------------

def test_removing_an_event_is_audited_with_what_it_was(app, org):
    made_id = event(org["eng_a1"]).id
    kept_id = event(org["eng_a1"]).id
    response = as_user(app, org["sup_a"]).delete(f"compliance-events/{made_id}")
    assert response.status_code == 204 and response.get_data() == b""
    assert len(stored()) == 1
    [entry] = audits("compliance.delete")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "compliance_event", made_id)
    assert entry.detail == {"before": {"engineer_id": org["eng_a1"].id, "kind": "safety_incident", "severity": "low",
                                       "occurred_at": "2026-10-14T06:30:00+00:00", "note": NOTE}}
    assert_problem(as_user(app, org["sup_a"]).delete(f"compliance-events/{made_id}"), 404, "NOT_FOUND")
    assert ids(as_user(app, org["eng_a1"]).get("compliance-events")) == [kept_id]
