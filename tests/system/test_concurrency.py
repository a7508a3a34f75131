"""Concurrency through the real server (quality.md, Reliability): many engineers checking
in at the same moment, and a supervisor deciding a visit while its engineer checks out.
(One Idempotency-Key sent 50 times at once is tests/api/test_idempotency.py.)"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Visit
from app.models.types import utcnow
from app.services import audit
from tests.support import all_at_once
from tests.system.conftest import tokens_for

ENGINEERS = 30
RACES = 6


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_thirty_engineers_check_in_at_the_same_moment(serve, org, factory):
    engineers = [factory.user("engineer", supervisor=org["sup_a"]) for _ in range(ENGINEERS)]
    jobs = [factory.job(site=factory.site(lat=31.2 + i / 100, lon=121.4), engineer=e)
            for i, e in enumerate(engineers)]
    tokens = tokens_for(engineers)
    wanted = [(e.id, j.id, j.site_id, 31.2 + i / 100) for i, (e, j) in enumerate(zip(engineers, jobs))]
    server = serve(workers=3, threads=10)
    now = iso(utcnow())

    def check_in(engineer_id: int, job_id: int, lat: float):
        return lambda: server.request("POST", "visits/check-in", tokens[engineer_id], {
            "job_id": job_id, "lat": lat, "lon": 121.4, "accuracy_m": 9, "client_time": now})

    results = all_at_once([check_in(e, j, lat) for e, j, _, lat in wanted])

    failures = [r if isinstance(r, BaseException) else (r.status, r.body)
                for r in results if isinstance(r, BaseException) or r.status != 201]
    assert not failures, failures
    for (engineer_id, job_id, site_id, _), response in zip(wanted, results):
        assert (response.body["engineer_id"], response.body["job_id"],
                response.body["site_id"]) == (engineer_id, job_id, site_id)
        assert response.body["status"] == "verified" and response.body["flags"] == []
    log = server.log_text()
    assert "database is locked" not in log and "Traceback" not in log, log
    db.session.remove()
    per_job = dict(db.session.execute(
        sa.select(Visit.job_id, sa.func.count()).group_by(Visit.job_id)).all())
    assert per_job == {job_id: 1 for _, job_id, _, _ in wanted}
    assert sorted(db.session.scalars(sa.select(Visit.id))) == sorted(r.body["id"] for r in results)


def test_a_decision_and_a_check_out_at_the_same_moment_both_count(serve, org, factory):
    """Approve and check out one flagged open visit at once, several times over: both
    succeed (or one gets a clean 409), and the row keeps the check-out and the decision."""
    supervisor = org["sup_a"]
    engineers = [factory.user("engineer", supervisor=supervisor) for _ in range(RACES)]
    checked_in = utcnow() - timedelta(hours=1)
    visits = []
    for engineer in engineers:
        job = factory.job(engineer=engineer, status="in_progress",
                          reported_at=checked_in - timedelta(hours=1))
        visits.append(factory.visit(job, at=checked_in, minutes=None, status="flagged",
                                    flags=["LOW_ACCURACY"], in_flags=["LOW_ACCURACY"],
                                    in_accuracy_m=250.0))
    tokens = tokens_for([*engineers, supervisor])
    pairs = [(v.id, v.engineer_id) for v in visits]
    supervisor_id = supervisor.id
    server = serve(workers=2, threads=8)
    out_time = iso(utcnow())

    def approve(visit_id: int):
        return lambda: server.request("POST", f"visits/{visit_id}/verify", tokens[supervisor_id],
                                      {"decision": "approve", "note": "Seen on the photos."})

    def check_out(visit_id: int, engineer_id: int):
        return lambda: server.request("POST", f"visits/{visit_id}/check-out", tokens[engineer_id], {
            "lat": 31.2306, "lon": 121.4739, "accuracy_m": 7, "client_time": out_time})

    calls = []
    for visit_id, engineer_id in pairs:
        calls += [approve(visit_id), check_out(visit_id, engineer_id)]
    results = all_at_once(calls)

    db.session.remove()
    for i, (visit_id, _) in enumerate(pairs):
        decided, out = results[2 * i], results[2 * i + 1]
        for r in (decided, out):
            assert not isinstance(r, BaseException), r
            assert r.status in (200, 409), (r.status, r.body)
            if r.status == 409:
                assert r.headers["Content-Type"] == "application/problem+json" and r.body["code"]
        assert 200 in (decided.status, out.status)
        visit = db.session.get(Visit, visit_id)
        approvals = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.target_type == "visit", AuditEntry.target_id == visit_id,
            AuditEntry.action == "visit.approve")).all()
        if out.status == 200:
            assert visit.out_client_time is not None and visit.out_accuracy_m == 7
            assert out.body["check_out"]["accuracy_m"] == 7
        if decided.status == 200:
            assert (visit.decided_by_id, visit.decision_note) == (supervisor_id, "Seen on the photos.")
            assert len(approvals) == 1 and approvals[0].actor_id == supervisor_id
            # Approved, unless the check-out raised a new flag afterwards (api.md).
            new_flags = set(visit.out_flags or []) - {"LOW_ACCURACY"}
            assert visit.status == ("flagged" if new_flags else "approved")
        else:
            assert approvals == []
        assert visit.flags[0] == "LOW_ACCURACY"
    assert audit.verify_chain() is None  # the decisions were chained one at a time
    log = server.log_text()
    assert "Traceback" not in log, log


def test_reads_that_touch_the_sign_in_while_others_check_in(serve, org, factory):
    """First uses of tokens (which record their last use) by readers, at the moment other
    engineers check in: no "database is locked", no 5xx."""
    readers = [factory.user("engineer", supervisor=org["sup_a"]) for _ in range(12)]
    writers = [factory.user("engineer", supervisor=org["sup_a"]) for _ in range(12)]
    jobs = {w.id: factory.job(engineer=w).id for w in writers}
    for r in readers:
        factory.job(engineer=r)
    tokens = tokens_for([*readers, *writers])
    reader_ids, writer_ids = [r.id for r in readers], [w.id for w in writers]
    server = serve(workers=3, threads=8)
    now = iso(utcnow())

    def read(user_id: int):
        return lambda: server.request("GET", "jobs", tokens[user_id])

    def check_in(user_id: int):
        return lambda: server.request("POST", "visits/check-in", tokens[user_id], {
            "job_id": jobs[user_id], "lat": 31.2304, "lon": 121.4737, "accuracy_m": 9,
            "client_time": now})

    calls = []
    for r, w in zip(reader_ids, writer_ids):
        calls += [read(r), check_in(w)]
    results = all_at_once(calls)
    statuses = [getattr(r, "status", r) for r in results]
    assert statuses == [200, 201] * len(reader_ids), statuses
    assert all(r.body["total"] == 1 for r in results[::2])
    assert "database is locked" not in server.log_text(), server.log_text()
