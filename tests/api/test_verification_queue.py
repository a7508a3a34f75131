"""The supervisor's verification queue: decisions and disputes with every transition
allowed and refused, the audit trail, the queue's order and filters, the evidence each
visit carries, and a fixed number of SQL statements per page."""
from __future__ import annotations

import hashlib
import itertools
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Job, Photo, Visit
from app.models.types import VISIT_STATUSES, utcnow
from app.services import audit
from app.services.visit_flags import raise_visit_flags
from tests.api.test_app import assert_problem
from tests.api.test_visits import ago, as_user
from tests.support import ApiClient

UNKNOWN_ID = 999_999
_photo_seq = itertools.count(1)


# --- helpers -----------------------------------------------------------------------

def stored(visit_id: int) -> Visit:
    db.session.expire_all()
    return db.session.get(Visit, visit_id)


def audit_entries(target_id: int | None = None) -> list[AuditEntry]:
    query = sa.select(AuditEntry).where(AuditEntry.action.startswith("visit."))
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    return list(db.session.scalars(query.order_by(AuditEntry.id)))


def make_photo(job: Job, visit: Visit | None = None, **fields: Any) -> Photo:
    n = next(_photo_seq)
    values: dict[str, Any] = {
        "job_id": job.id, "visit_id": visit.id if visit else None,
        "uploaded_by_id": job.engineer_id, "kind": "after", "content_type": "image/jpeg",
        "size_bytes": 1000, "sha256": hashlib.sha256(str(n).encode()).hexdigest(), "dhash": n,
        "width": 320, "height": 240, "flags": [], "original_key": f"o{n}",
        "display_key": f"d{n}", "thumb_key": f"t{n}",
    }
    # Whatever derived hash columns the photo model carries (their values matter not here).
    values.update({name: 0 for name in Photo.__table__.columns.keys() if name.startswith("dhash_band")})
    values.update(fields)
    photo = Photo(**values)
    db.session.add(photo)
    db.session.flush()
    return photo


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


@pytest.fixture
def job(factory, org) -> Job:
    made = factory.job(engineer=org["eng_a1"], reported_at=ago(days=2))
    db.session.commit()
    return made


def a_visit(factory, job, status: str = "flagged", **fields: Any) -> Visit:
    flags = [] if status == "verified" else ["OUTSIDE_GEOFENCE"]
    values = {"flags": flags, "in_flags": flags, **fields}
    visit = factory.visit(job, status=status, **values)
    db.session.commit()
    return visit


@pytest.fixture
def sup(app, org) -> ApiClient:
    return as_user(app, org["sup_a"])


@pytest.fixture
def eng(app, org) -> ApiClient:
    return as_user(app, org["eng_a1"])


def verify(client: ApiClient, visit_id: int, decision: str, note: str | None = "Checked the photos."):
    body = {"decision": decision} if note is None else {"decision": decision, "note": note}
    return client.post(f"visits/{visit_id}/verify", json=body)


# --- verify: every status × decision ----------------------------------------------

TRANSITIONS = {
    ("flagged", "approve"): "approved",
    ("flagged", "reject"): "rejected",
    ("verified", "approve"): None,
    ("verified", "reject"): "rejected",
    ("approved", "approve"): None,
    ("approved", "reject"): "rejected",
    ("rejected", "approve"): None,
    ("rejected", "reject"): None,
    ("disputed", "approve"): "approved",
    ("disputed", "reject"): "rejected",
}


@pytest.mark.parametrize("status, decision", sorted(TRANSITIONS))
@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_every_decision_from_every_status(app, org, factory, job, status, decision, who):
    extra = {"disputed_at": ago(hours=1), "dispute_note": "I was there."} if status == "disputed" else {}
    visit = a_visit(factory, job, status, **extra)
    response = verify(as_user(app, org[who]), visit.id, decision)
    target = TRANSITIONS[(status, decision)]
    row = stored(visit.id)
    if target is None:
        assert_problem(response, 409, "CONFLICT")
        assert row.status == status and row.decided_at is None and audit_entries() == []
        return
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == target == row.status
    assert body["decision_note"] == "Checked the photos." == row.decision_note
    assert body["decided_by_id"] == org[who].id == row.decided_by_id
    assert row.decided_at is not None and body["decided_at"].endswith("Z")
    assert (row.rejected_at is not None) is (decision == "reject")
    assert row.decision_final is (status == "disputed") and body["decision_final"] is row.decision_final
    # A decision never erases the evidence.
    assert row.flags == visit.flags and row.in_flags == visit.in_flags
    [entry] = audit_entries()
    assert (entry.action, entry.target_type, entry.target_id) == (f"visit.{decision}", "visit", visit.id)
    assert entry.actor_id == org[who].id
    assert entry.detail["note"] == "Checked the photos."
    assert entry.detail["previous_status"] == status and entry.detail["status"] == target
    assert entry.detail["flags"] == visit.flags


@pytest.mark.parametrize("note", [None, "", "   "])
def test_a_rejection_needs_a_note(sup, factory, job, note):
    visit = a_visit(factory, job)
    body = {"decision": "reject"} if note is None else {"decision": "reject", "note": note}
    problem = assert_problem(sup.post(f"visits/{visit.id}/verify", json=body), 422, "VALIDATION_ERROR")
    assert "note" in problem["errors"]
    row = stored(visit.id)
    assert row.status == "flagged" and row.decided_at is None and audit_entries() == []


def test_an_approval_needs_no_note(sup, factory, job):
    visit = a_visit(factory, job)
    response = verify(sup, visit.id, "approve", note=None)
    assert response.status_code == 200 and response.get_json()["decision_note"] is None
    assert audit_entries()[0].detail["note"] is None


@pytest.mark.parametrize("body, field", [
    ({"decision": "maybe", "note": "x"}, "decision"),
    ({"note": "x"}, "decision"),
    ({"decision": "approve", "status": "approved"}, "status"),
    ({"decision": "reject", "note": "x" * 2001}, "note"),
    ({"decision": "reject", "note": 5}, "note"),
])
def test_verify_validation_writes_nothing(sup, factory, job, body, field):
    visit = a_visit(factory, job)
    problem = assert_problem(sup.post(f"visits/{visit.id}/verify", json=body), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert stored(visit.id).status == "flagged" and audit_entries() == []


def test_approval_clears_the_rejection_time(app, org, factory, job):
    visit = a_visit(factory, job, "verified")
    sup = as_user(app, org["sup_a"])
    verify(sup, visit.id, "reject", "Not on site.")
    assert stored(visit.id).rejected_at is not None
    as_user(app, org["eng_a1"]).post(f"visits/{visit.id}/dispute", json={"note": "I was."})
    body = verify(sup, visit.id, "approve", "Customer confirmed.").get_json()
    row = stored(visit.id)
    assert row.status == "approved" and row.rejected_at is None and body["rejected_at"] is None
    assert row.decision_note == "Customer confirmed."


def test_a_later_rejection_records_its_own_time(app, org, factory, job):
    visit = a_visit(factory, job)
    sup = as_user(app, org["sup_a"])
    verify(sup, visit.id, "approve")
    assert stored(visit.id).rejected_at is None
    verify(sup, visit.id, "reject", "New evidence: the photo is from another job.")
    row = stored(visit.id)
    assert row.status == "rejected" and row.rejected_at == row.decided_at


# --- disputes and the final decision -------------------------------------------------

def test_dispute_then_final_decision_then_decision_final(app, org, factory, job):
    visit = a_visit(factory, job)
    sup, eng = as_user(app, org["sup_a"]), as_user(app, org["eng_a1"])
    assert verify(sup, visit.id, "reject", "You were 2 km away.").status_code == 200
    # The engineer sees the reason.
    seen = eng.get(f"visits/{visit.id}").get_json()
    assert seen["status"] == "rejected" and seen["decision_note"] == "You were 2 km away."
    response = eng.post(f"visits/{visit.id}/dispute", json={"note": "  The GPS was off indoors.  "})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "disputed" and body["dispute_note"] == "The GPS was off indoors."
    assert body["disputed_at"].endswith("Z") and body["decision_note"] == "You were 2 km away."
    # Back in the queue.
    assert visit.id in ids(sup.get("visits?status=flagged,disputed"))
    final = verify(sup, visit.id, "reject", "Photos show another building.").get_json()
    assert final["status"] == "rejected" and final["decision_final"] is True
    for decision in ("approve", "reject"):
        assert_problem(verify(sup, visit.id, decision), 409, "DECISION_FINAL")
        assert_problem(verify(as_user(app, org["admin"]), visit.id, decision), 409, "DECISION_FINAL")
    assert_problem(eng.post(f"visits/{visit.id}/dispute", json={"note": "Again."}), 409, "ALREADY_DISPUTED")
    row = stored(visit.id)
    assert row.status == "rejected" and row.decision_note == "Photos show another building."
    assert [e.action for e in audit_entries(visit.id)] == ["visit.reject", "visit.dispute", "visit.reject"]
    assert audit_entries(visit.id)[2].detail["final"] is True


def test_final_approval_is_final_too(app, org, factory, job):
    visit = a_visit(factory, job, "disputed", disputed_at=ago(hours=1), dispute_note="I was there.",
                    rejected_at=ago(hours=2))
    sup = as_user(app, org["sup_a"])
    assert verify(sup, visit.id, "approve", "Fair.").get_json()["status"] == "approved"
    assert_problem(verify(sup, visit.id, "reject", "Changed my mind."), 409, "DECISION_FINAL")
    assert stored(visit.id).status == "approved"


def test_a_second_dispute_is_already_disputed(app, org, factory, job):
    visit = a_visit(factory, job, "rejected", rejected_at=ago(hours=1))
    eng = as_user(app, org["eng_a1"])
    assert eng.post(f"visits/{visit.id}/dispute", json={"note": "I was there."}).status_code == 200
    assert_problem(eng.post(f"visits/{visit.id}/dispute", json={"note": "Really."}), 409, "ALREADY_DISPUTED")
    row = stored(visit.id)
    assert row.dispute_note == "I was there." and row.status == "disputed"
    assert [e.action for e in audit_entries()] == ["visit.dispute"]


@pytest.mark.parametrize("status", ["verified", "flagged", "approved"])
def test_only_a_rejected_visit_may_be_disputed(eng, factory, job, status):
    visit = a_visit(factory, job, status)
    assert_problem(eng.post(f"visits/{visit.id}/dispute", json={"note": "?"}), 409, "CONFLICT")
    row = stored(visit.id)
    assert row.status == status and row.disputed_at is None and audit_entries() == []


@pytest.mark.parametrize("body, field", [
    ({}, "note"), ({"note": ""}, "note"), ({"note": "   "}, "note"), ({"note": None}, "note"),
    ({"note": "x" * 2001}, "note"), ({"note": "ok", "status": "approved"}, "status"),
])
def test_dispute_validation_writes_nothing(eng, factory, job, body, field):
    visit = a_visit(factory, job, "rejected", rejected_at=ago(hours=1))
    problem = assert_problem(eng.post(f"visits/{visit.id}/dispute", json=body), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    row = stored(visit.id)
    assert row.status == "rejected" and row.disputed_at is None and audit_entries() == []


def test_dispute_is_audited(eng, org, factory, job):
    visit = a_visit(factory, job, "rejected", rejected_at=ago(hours=1))
    eng.post(f"visits/{visit.id}/dispute", json={"note": "I was there."})
    [entry] = audit_entries()
    assert (entry.action, entry.target_type, entry.target_id, entry.actor_id) == (
        "visit.dispute", "visit", visit.id, org["eng_a1"].id)
    assert entry.detail["note"] == "I was there." and entry.detail["previous_status"] == "rejected"


def test_a_final_approval_reopened_by_a_new_flag_may_be_decided_again(app, org, factory, job):
    """New evidence (a photo flag added later) puts even a final approval back in the queue."""
    visit = a_visit(factory, job, "approved", decision_final=True, disputed_at=ago(hours=1))
    row = db.session.get(Visit, visit.id)
    raise_visit_flags(row, ["DUPLICATE_PHOTO"])
    db.session.commit()
    sup = as_user(app, org["sup_a"])
    body = verify(sup, visit.id, "reject", "The photo is from another job.").get_json()
    assert body["status"] == "rejected" and body["decision_final"] is True
    assert_problem(as_user(app, org["eng_a1"]).post(f"visits/{visit.id}/dispute", json={"note": "No."}),
                   409, "ALREADY_DISPUTED")


# --- who may decide -----------------------------------------------------------------------

def test_nobody_verifies_their_own_visit(app, org, factory):
    """Not an admin, nor a supervisor who once checked in themselves."""
    for who in ("admin", "sup_a"):
        own_job = factory.job(engineer=org[who])
        visit = a_visit(factory, own_job)
        assert_problem(verify(as_user(app, org[who]), visit.id, "approve"), 403, "FORBIDDEN")
        assert stored(visit.id).status == "flagged"
    assert audit_entries() == []


def test_a_supervisor_of_another_team_cannot_find_the_visit(app, org, factory, job):
    visit = a_visit(factory, job)
    assert_problem(verify(as_user(app, org["sup_b"]), visit.id, "approve"), 404, "NOT_FOUND")
    loner_visit = a_visit(factory, factory.job(engineer=org["loner"]))
    assert_problem(verify(as_user(app, org["sup_a"]), loner_visit.id, "approve"), 404, "NOT_FOUND")
    assert verify(as_user(app, org["admin"]), loner_visit.id, "approve").status_code == 200
    assert_problem(verify(as_user(app, org["sup_a"]), UNKNOWN_ID, "approve"), 404, "NOT_FOUND")
    assert stored(visit.id).status == "flagged"


@pytest.mark.parametrize("who", ["eng_a1", "eng_a2", "eng_b1"])
def test_engineers_may_not_verify(app, org, factory, job, who):
    visit = a_visit(factory, job)
    assert_problem(verify(as_user(app, org[who]), visit.id, "approve"), 403, "FORBIDDEN")
    assert stored(visit.id).status == "flagged"


@pytest.mark.parametrize("who, status", [("eng_a2", 404), ("eng_b1", 404), ("sup_a", 403),
                                         ("sup_b", 403), ("admin", 403)])
def test_only_the_visits_engineer_disputes(app, org, factory, job, who, status):
    visit = a_visit(factory, job, "rejected", rejected_at=ago(hours=1))
    response = as_user(app, org[who]).post(f"visits/{visit.id}/dispute", json={"note": "x"})
    assert_problem(response, status, "NOT_FOUND" if status == 404 else "FORBIDDEN")
    assert stored(visit.id).status == "rejected"


# --- the audit trail ------------------------------------------------------------------

def test_each_decision_is_an_audit_entry_with_chained_hashes(app, org, factory, job):
    visit = a_visit(factory, job)
    sup, eng = as_user(app, org["sup_a"]), as_user(app, org["eng_a1"])
    verify(sup, visit.id, "reject", "Outside the fence.")
    eng.post(f"visits/{visit.id}/dispute", json={"note": "Basement."})
    verify(sup, visit.id, "approve", "Confirmed with the customer.")
    entries = audit_entries(visit.id)
    assert [e.action for e in entries] == ["visit.reject", "visit.dispute", "visit.approve"]
    assert [e.detail["note"] for e in entries] == ["Outside the fence.", "Basement.",
                                                   "Confirmed with the customer."]
    assert [e.detail["previous_status"] for e in entries] == ["flagged", "rejected", "disputed"]
    for entry in entries:
        assert len(entry.hash) == 64 and len(entry.prev_hash) == 64
        assert entry.detail["flags"] == ["OUTSIDE_GEOFENCE"]
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert audit.verify_chain() is None
    # The admin reads them through the audit log.
    listed = as_user(app, org["admin"]).get(f"audit?target_type=visit&target_id={visit.id}").get_json()
    assert [item["action"] for item in listed["items"]] == ["visit.approve", "visit.dispute", "visit.reject"]
    assert all(item["hash"] for item in listed["items"])


# --- the queue: order, filters, scope ---------------------------------------------------

@pytest.fixture
def queue(factory, org):
    """Visits of sup_a's team at known check-in times (hours ago), and one of sup_b's."""
    a1, a2 = org["eng_a1"], org["eng_a2"]
    made = {
        "flagged_old": factory.visit(factory.job(engineer=a1), at=ago(hours=50), status="flagged",
                                     flags=["LOW_ACCURACY"]),
        "disputed_mid": factory.visit(factory.job(engineer=a2), at=ago(hours=30), status="disputed",
                                      flags=["MOCK_LOCATION"], disputed_at=ago(hours=1)),
        "flagged_new": factory.visit(factory.job(engineer=a2), at=ago(hours=10), status="flagged",
                                     flags=["SHORT_VISIT"]),
        "verified_newest": factory.visit(factory.job(engineer=a1), at=ago(hours=5)),
        "approved": factory.visit(factory.job(engineer=a1), at=ago(hours=40), status="approved",
                                  flags=["CLOCK_SKEW"]),
        "rejected": factory.visit(factory.job(engineer=a1), at=ago(hours=20), status="rejected",
                                  flags=["LATE_SYNC"]),
        "other_team": factory.visit(factory.job(engineer=org["eng_b1"]), at=ago(hours=60),
                                    status="flagged", flags=["LOW_ACCURACY"]),
    }
    db.session.commit()
    return {name: visit.id for name, visit in made.items()}


def test_the_queue_is_oldest_first(sup, queue):
    assert ids(sup.get("visits?status=flagged,disputed")) == [
        queue["flagged_old"], queue["disputed_mid"], queue["flagged_new"]]
    assert ids(sup.get("visits?status=flagged")) == [queue["flagged_old"], queue["flagged_new"]]
    assert ids(sup.get("visits?status=disputed")) == [queue["disputed_mid"]]
    assert ids(sup.get("visits?status=disputed,flagged&per_page=1&page=2")) == [queue["disputed_mid"]]


def test_other_lists_are_newest_first_by_creation(sup, queue):
    """api.md: newest first by creation, whatever the check-in times say (an offline
    check-in synced late is new to the list)."""
    visible = [queue[k] for k in ("verified_newest", "flagged_new", "rejected", "disputed_mid",
                                  "approved", "flagged_old")]
    assert ids(sup.get("visits")) == sorted(visible, reverse=True)
    wanted = [queue[k] for k in ("verified_newest", "flagged_new", "flagged_old")]
    assert ids(sup.get("visits?status=flagged,verified")) == sorted(wanted, reverse=True)
    assert ids(sup.get("visits?status=approved,rejected")) == [queue["rejected"], queue["approved"]]


def test_the_queue_is_scoped_to_the_team(app, org, queue):
    assert queue["other_team"] not in ids(as_user(app, org["sup_a"]).get("visits?status=flagged,disputed"))
    assert ids(as_user(app, org["sup_b"]).get("visits?status=flagged,disputed")) == [queue["other_team"]]
    admin = ids(as_user(app, org["admin"]).get("visits?status=flagged,disputed"))
    assert admin[0] == queue["other_team"] and len(admin) == 4
    # An engineer's own flagged visits only.
    assert ids(as_user(app, org["eng_a2"]).get("visits?status=flagged,disputed")) == [
        queue["disputed_mid"], queue["flagged_new"]]


def test_filters(app, org, sup, queue):
    a2 = org["eng_a2"].id
    assert ids(sup.get(f"visits?engineer_id={a2}")) == [queue["flagged_new"], queue["disputed_mid"]]
    assert ids(sup.get(f"visits?engineer_id={org['eng_b1'].id}")) == []
    job_id = stored(queue["rejected"]).job_id
    assert ids(sup.get(f"visits?job_id={job_id}")) == [queue["rejected"]]
    # from is inclusive, to exclusive, on the check-in client_time.
    rejected_at = stored(queue["rejected"]).in_client_time
    stamp = rejected_at.isoformat().replace("+00:00", "Z")
    later = [queue["verified_newest"], queue["flagged_new"], queue["rejected"]]
    earlier = [queue["disputed_mid"], queue["approved"], queue["flagged_old"]]
    assert ids(sup.get("visits", query_string={"from": stamp})) == sorted(later, reverse=True)
    assert ids(sup.get("visits", query_string={"to": stamp})) == sorted(earlier, reverse=True)
    window = {"from": (utcnow() - timedelta(hours=45)).isoformat(), "to": stamp,
              "status": "flagged,disputed"}
    assert ids(sup.get("visits", query_string=window)) == [queue["disputed_mid"]]
    listed = sup.get("visits?per_page=2").get_json()
    assert (listed["page"], listed["per_page"], listed["total"], len(listed["items"])) == (1, 2, 6, 2)


@pytest.mark.parametrize("query, field", [
    ("status=pending", "status"), ("status=flagged,maybe", "status"), ("status=", "status"),
    ("engineer_id=x", "engineer_id"), ("job_id=0", "job_id"), ("from=2026-11-03T08:00:00", "from"),
    ("to=yesterday", "to"), ("per_page=201", "per_page"), ("page=0", "page"),
])
def test_bad_list_filters_are_422(sup, query, field):
    problem = assert_problem(sup.get(f"visits?{query}"), 422, "VALIDATION_ERROR")
    assert field in problem["errors"]


def test_every_status_may_be_listed(sup, queue):
    assert len(ids(sup.get("visits?status=" + ",".join(VISIT_STATUSES)))) == 6


# --- the evidence beside each visit ------------------------------------------------------

def test_each_visit_carries_what_a_decision_needs(app, org, factory):
    site = factory.site(lat=31.1, lon=121.2, radius_m=300)
    job = factory.job(site=site, engineer=org["eng_a1"], title="Chiller alarm")
    visit = factory.visit(job, at=ago(hours=3), status="flagged", flags=["OUTSIDE_GEOFENCE"],
                          in_flags=["OUTSIDE_GEOFENCE"], in_lat=31.11, in_lon=121.2,
                          in_distance_m=1112.0, out_lat=31.1001, out_lon=121.2,
                          out_distance_m=11.1)
    older = factory.visit(job, at=ago(days=3), status="rejected", flags=["MOCK_LOCATION"])
    ancient = factory.visit(factory.job(engineer=org["eng_a1"]), at=ago(days=40), status="flagged",
                            flags=["LATE_SYNC"])
    other_job = factory.job(engineer=org["eng_a1"])
    on_visit = make_photo(job, visit, kind="before")
    on_job = make_photo(job, None, kind="after", flags=["DUPLICATE_PHOTO"])
    elsewhere = make_photo(other_job, None)
    db.session.commit()
    body = as_user(app, org["sup_a"]).get(f"visits/{visit.id}").get_json()
    assert body["flags"] == ["OUTSIDE_GEOFENCE"]
    assert body["check_in"]["distance_m"] == 1112.0 and body["check_out"]["distance_m"] == 11.1
    assert (body["check_in"]["lat"], body["check_in"]["lon"]) == (31.11, 121.2)
    assert (body["check_out"]["lat"], body["check_out"]["lon"]) == (31.1001, 121.2)
    assert body["site"] == {"id": site.id, "name": site.name, "lat": 31.1, "lon": 121.2, "radius_m": 300}
    assert body["job"] == {"id": job.id, "title": "Chiller alarm", "status": "assigned"}
    assert body["engineer"] == {"id": org["eng_a1"].id, "name": org["eng_a1"].name}
    photos = {p["id"]: p for p in body["photos"]}
    assert set(photos) == {on_visit.id, on_job.id} and elsewhere.id not in photos
    assert photos[on_visit.id]["thumb_url"] == f"/api/v1/photos/{on_visit.id}/thumb"
    assert photos[on_job.id]["flags"] == ["DUPLICATE_PHOTO"] and photos[on_job.id]["kind"] == "after"
    history = body["engineer_history"]
    # Last 30 days: this visit and the older one; the 40-day-old one is out of the window.
    assert (history["days"], history["visits"], history["flagged"], history["rejected"],
            history["disputed"]) == (30, 2, 2, 1, 0)
    assert [(v["id"], v["flags"], v["status"]) for v in history["recent_flagged"]] == [
        (visit.id, ["OUTSIDE_GEOFENCE"], "flagged"), (older.id, ["MOCK_LOCATION"], "rejected"),
        (ancient.id, ["LATE_SYNC"], "flagged")]
    # The list carries the same.
    [listed] = [v for v in as_user(app, org["sup_a"]).get("visits").get_json()["items"]
                if v["id"] == visit.id]
    assert listed["photos"] == body["photos"] and listed["engineer_history"] == history


def test_recent_flag_history_is_the_latest_five(app, org, factory, job):
    made = [factory.visit(job, at=ago(hours=h), status="flagged", flags=["LOW_ACCURACY"])
            for h in range(1, 9)]
    factory.visit(job, at=ago(minutes=30))  # verified, no flags: not in the history
    db.session.commit()
    body = as_user(app, org["sup_a"]).get(f"visits/{made[0].id}").get_json()
    assert [v["id"] for v in body["engineer_history"]["recent_flagged"]] == [v.id for v in made[:5]]
    assert body["engineer_history"]["visits"] == 9 and body["engineer_history"]["flagged"] == 8


# --- a fixed number of statements per page -----------------------------------------------

def _statements(app, client: ApiClient, path: str) -> tuple[int, dict]:
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(seen), response.get_json()


@pytest.mark.parametrize("query", ["visits?", "visits?status=flagged,disputed&"])
def test_a_page_costs_the_same_statements_for_2_and_20_visits(app, org, factory, query):
    engineers = [org["eng_a1"], org["eng_a2"]]
    for n in range(24):
        engineer = engineers[n % 2]
        job = factory.job(engineer=engineer, site=factory.site())
        visit = factory.visit(job, at=ago(hours=n + 1), status="flagged" if n % 3 else "disputed",
                              flags=["LOW_ACCURACY"], minutes=None if n % 4 == 0 else 60)
        make_photo(job, visit)
        make_photo(job, None)
    # Stale open visits too: the first read below flags them, so both pages see the same.
    for engineer in engineers:
        job = factory.job(engineer=engineer)
        make_photo(job, factory.visit(job, at=ago(hours=20), minutes=None, status="flagged",
                                      flags=["MOCK_LOCATION"]))
    db.session.commit()
    client = as_user(app, org["sup_a"])
    client.get("visits")  # a first read flags the stale visits; then pages are comparable
    small, small_page = _statements(app, client, query + "per_page=2")
    large, large_page = _statements(app, client, query + "per_page=20")
    assert len(small_page["items"]) == 2 and len(large_page["items"]) == 20
    assert all(item["photos"] and item["engineer_history"]["recent_flagged"]
               for item in large_page["items"])
    assert small == large, (small, large)
    # Sign-in (2), the stale check, count, page, sites, jobs, engineers, photos, history (2),
    # and BEGIN on SQLite: about a dozen, whatever the page size.
    assert large <= 14
