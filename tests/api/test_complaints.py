"""Complaints: recorded on a job, resolved once, listed by scope (api.md, Customer
feedback and complaints; kpi.md `complaints` counts them on the job's engineer)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Complaint
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.api.test_jobs import MARGIN, SECOND, TOLERANCE, iso, parse
from tests.support import statements_of


def complaints() -> list[Complaint]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Complaint).order_by(Complaint.id)))


def audits() -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))


@pytest.fixture
def job(factory, org):
    return factory.job(engineer=org["eng_a1"], created_by=org["sup_a"])


def complaint(job, received_at=None, **fields) -> Complaint:
    row = Complaint(job_id=job.id, detail="Technician was rude", received_at=received_at or utcnow(), **fields)
    db.session.add(row)
    db.session.flush()
    return row


# --- POST /jobs/{id}/complaints --------------------------------------------------------

@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_record_a_complaint(client, org, job, who):
    client.use_token(org[who])
    received = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    response = client.post(f"jobs/{job.id}/complaints",
                           json={"detail": " 态度差，又坏了 ", "received_at": iso(received)})
    assert response.status_code == 201, response.json
    data = response.json
    assert response.headers["Location"] == f"/api/v1/complaints/{data['id']}"
    assert data == {
        "id": data["id"], "job_id": job.id, "engineer_id": org["eng_a1"].id, "detail": "态度差，又坏了",
        "received_at": received.replace(tzinfo=None).isoformat() + "Z", "created_by_id": org[who].id,
        "resolution": None, "resolved_at": None, "resolved_by_id": None, "created_at": data["created_at"],
    }
    [row] = complaints()
    assert (row.job_id, row.detail, row.received_at, row.created_by_id) == (job.id, "态度差，又坏了", received, org[who].id)
    assert client.get(response.headers["Location"]).json == data


def test_received_at_defaults_to_now(client, org, job):
    client.use_token(org["sup_a"])
    before = utcnow()
    data = client.post(f"jobs/{job.id}/complaints", json={"detail": "Still leaking"}).json
    assert before - SECOND <= parse(data["received_at"]) <= utcnow() + SECOND


def test_received_at_is_bounded_by_the_report_and_now(client, org, job):
    client.use_token(org["sup_a"])
    for at in (job.reported_at - SECOND, utcnow() + TOLERANCE + MARGIN):
        problem = assert_problem(client.post(f"jobs/{job.id}/complaints",
                                             json={"detail": "x", "received_at": iso(at)}), 422, "VALIDATION_ERROR")
        assert list(problem["errors"]) == ["received_at"]
    assert complaints() == []
    for at in (job.reported_at, utcnow() + TOLERANCE - MARGIN):
        assert client.post(f"jobs/{job.id}/complaints", json={"detail": "x", "received_at": iso(at)}).status_code == 201


def test_an_unassigned_job_may_take_a_complaint(client, org, factory):
    job = factory.job()
    client.use_token(org["sup_b"])
    data = client.post(f"jobs/{job.id}/complaints", json={"detail": "Nobody came"}).json
    assert data["engineer_id"] is None


@pytest.mark.parametrize("payload, field", [
    ({}, "detail"), ({"detail": ""}, "detail"), ({"detail": "  "}, "detail"), ({"detail": None}, "detail"),
    ({"detail": "d" * 5001}, "detail"), ({"detail": "x", "received_at": "2026-11-03T08:00:00"}, "received_at"),
    ({"detail": "x", "resolved_at": "2026-11-03T08:00:00Z"}, "resolved_at"),
    ({"detail": "x", "job_id": 1}, "job_id"),
])
def test_record_rejects_bad_input_and_writes_nothing(client, org, job, payload, field):
    client.use_token(org["sup_a"])
    problem = assert_problem(client.post(f"jobs/{job.id}/complaints", json=payload), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert complaints() == []


def test_record_out_of_scope_is_404_and_engineers_403(client, org, job):
    client.use_token(org["sup_b"])
    assert_problem(client.post(f"jobs/{job.id}/complaints", json={"detail": "x"}), 404, "NOT_FOUND")
    assert_problem(client.post("jobs/999999/complaints", json={"detail": "x"}), 404, "NOT_FOUND")
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/complaints", json={"detail": "x"}), 403, "FORBIDDEN")
    assert complaints() == []


# --- POST /complaints/{id}/resolve -----------------------------------------------------

@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_resolve_once(client, org, job, who):
    row = complaint(job)
    client.use_token(org[who])
    before = utcnow()
    response = client.post(f"complaints/{row.id}/resolve", json={"resolution": " Apologised, revisited "})
    assert response.status_code == 200, response.json
    data = response.json
    assert (data["resolution"], data["resolved_by_id"]) == ("Apologised, revisited", org[who].id)
    assert before - SECOND <= parse(data["resolved_at"]) <= utcnow() + SECOND
    [entry] = audits()
    assert (entry.action, entry.actor_id, entry.target_type, entry.target_id) == (
        "complaint.resolve", org[who].id, "complaint", row.id)
    assert entry.detail == {"job_id": job.id, "resolution": "Apologised, revisited"}
    again = client.post(f"complaints/{row.id}/resolve", json={"resolution": "Again"})
    assert_problem(again, 409, "CONFLICT")
    assert complaints()[0].resolution == "Apologised, revisited" and len(audits()) == 1


@pytest.mark.parametrize("payload", [{}, {"resolution": ""}, {"resolution": "   "}, {"resolution": None},
                                     {"resolution": "r" * 5001}, {"resolution": "x", "resolved_by_id": 1}])
def test_resolve_rejects_bad_input_and_writes_nothing(client, org, job, payload):
    row = complaint(job)
    client.use_token(org["sup_a"])
    assert_problem(client.post(f"complaints/{row.id}/resolve", json=payload), 422, "VALIDATION_ERROR")
    assert complaints()[0].resolved_at is None and audits() == []


def test_resolve_out_of_scope_is_404_and_engineers_403(client, org, job):
    row = complaint(job)
    client.use_token(org["sup_b"])
    assert_problem(client.post(f"complaints/{row.id}/resolve", json={"resolution": "x"}), 404, "NOT_FOUND")
    assert_problem(client.post("complaints/999999/resolve", json={"resolution": "x"}), 404, "NOT_FOUND")
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"complaints/{row.id}/resolve", json={"resolution": "x"}), 403, "FORBIDDEN")
    assert complaints()[0].resolved_at is None


# --- GET /complaints -------------------------------------------------------------------

@pytest.fixture
def listed(factory, org):
    base = utcnow().replace(microsecond=0) - timedelta(days=5)
    jobs = {name: factory.job(engineer=org[name], reported_at=base - timedelta(days=1))
            for name in ("eng_a1", "eng_a2", "eng_b1")}
    made = {
        "a1": complaint(jobs["eng_a1"], base),
        "a1_resolved": complaint(jobs["eng_a1"], base + timedelta(days=1), resolution="Done",
                                 resolved_at=base + timedelta(days=2)),
        "a2": complaint(jobs["eng_a2"], base + timedelta(days=2)),
        "b1": complaint(jobs["eng_b1"], base + timedelta(days=3)),
    }
    return made, jobs, base


def listed_names(client, listed, **params):
    made = listed[0]
    response = client.get("complaints", query_string=params)
    assert response.status_code == 200, response.json
    names = {row.id: name for name, row in made.items()}
    return [names[item["id"]] for item in response.json["items"]]


@pytest.mark.parametrize("who, expected", [
    ("eng_a1", ["a1_resolved", "a1"]),
    ("eng_a2", ["a2"]),
    ("loner", []),
    ("sup_a", ["a2", "a1_resolved", "a1"]),
    ("sup_b", ["b1"]),
    ("admin", ["b1", "a2", "a1_resolved", "a1"]),
])
def test_list_is_scoped_by_the_jobs_engineer_newest_first(client, org, listed, who, expected):
    client.use_token(org[who])
    assert listed_names(client, listed) == expected


def test_list_filters(client, org, listed):
    _, jobs, base = listed
    client.use_token(org["admin"])
    assert listed_names(client, listed, engineer_id=org["eng_a1"].id) == ["a1_resolved", "a1"]
    assert listed_names(client, listed, job_id=jobs["eng_a2"].id) == ["a2"]
    assert listed_names(client, listed, resolved="true") == ["a1_resolved"]
    assert listed_names(client, listed, resolved="false") == ["b1", "a2", "a1"]
    assert listed_names(client, listed, **{"from": iso(base + timedelta(days=1)),
                                           "to": iso(base + timedelta(days=3))}) == ["a2", "a1_resolved"]
    assert listed_names(client, listed, to=iso(base + SECOND)) == ["a1"]
    items = client.get("complaints", query_string={"engineer_id": org["eng_b1"].id}).json["items"]
    assert [item["engineer_id"] for item in items] == [org["eng_b1"].id]


@pytest.mark.parametrize("params, field", [
    ({"engineer_id": "x"}, "engineer_id"), ({"resolved": "perhaps"}, "resolved"),
    ({"from": "2026-11-03"}, "from"),
    ({"from": "2026-11-03T00:00:00Z", "to": "2026-11-02T00:00:00Z"}, "to"),
])
def test_list_rejects_bad_filters(client, org, params, field):
    client.use_token(org["admin"])
    problem = assert_problem(client.get("complaints", query_string=params), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize("who, status", [
    ("eng_a1", 200), ("eng_a2", 404), ("eng_b1", 404), ("sup_a", 200), ("sup_b", 404), ("admin", 200),
])
def test_read_one_complaint_in_scope(client, org, job, who, status):
    row = complaint(job)
    client.use_token(org[who])
    response = client.get(f"complaints/{row.id}")
    assert response.status_code == status
    if status == 200:
        assert (response.json["id"], response.json["engineer_id"]) == (row.id, org["eng_a1"].id)


def test_a_reassigned_job_takes_its_complaints_along(client, org, job):
    row = complaint(job)
    job.engineer_id = org["eng_b1"].id
    client.use_token(org["eng_a1"])
    assert_problem(client.get(f"complaints/{row.id}"), 404, "NOT_FOUND")
    client.use_token(org["eng_b1"])
    assert client.get(f"complaints/{row.id}").json["engineer_id"] == org["eng_b1"].id


def test_the_list_costs_the_same_statements_for_1_and_6_complaints(client, org, factory, job):
    client.use_token(org["sup_a"])
    complaint(job)
    db.session.commit()
    client.get("complaints")  # the token's first use is recorded once
    one, page = statements_of(client, "complaints")
    assert page["total"] == 1
    for n in range(5):
        complaint(factory.job(engineer=org["eng_a2"] if n % 2 else org["eng_a1"], site=factory.site()))
    db.session.commit()
    six, page = statements_of(client, "complaints")
    assert page["total"] == 6 and len(page["items"]) == 6
    assert one == six
