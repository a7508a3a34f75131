"""Nothing acknowledged is lost (quality.md, Reliability): gunicorn killed with SIGKILL
under load loses none of the requests it answered 2xx, and the requests it never
answered, retried with their Idempotency-Key after the restart, act exactly once."""
from __future__ import annotations

import http.client
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Job, Visit
from tests.system.conftest import Server, tokens_for

ENGINEERS = 6
JOBS_EACH = 30
SUPERVISOR_THREADS = 2
LOAD_S = 8  # at most, before the kill
ANSWERED_BEFORE_KILL = 24


@dataclass
class Attempt:
    kind: str  # "check-in" or "job"
    token: str
    key: str
    body: dict[str, Any]
    status: int | None = None  # None: no answer (the server died)
    answer: Any = None


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def send(server: Server, attempt: Attempt, timeout: float = 15):
    path = "visits/check-in" if attempt.kind == "check-in" else "jobs"
    return server.request("POST", path, attempt.token, attempt.body,
                          headers={"Idempotency-Key": attempt.key}, timeout=timeout)


def test_answered_requests_survive_sigkill_and_unanswered_ones_act_once(serve, org, factory):
    site = factory.site()
    engineers = [factory.user("engineer", supervisor=org["sup_a"]) for _ in range(ENGINEERS)]
    jobs = {e.id: [factory.job(site=site, engineer=e).id for _ in range(JOBS_EACH)]
            for e in engineers}
    tokens = tokens_for([*engineers, org["sup_a"]])
    site_id, supervisor_token = site.id, tokens[org["sup_a"].id]
    server = serve(workers=2, threads=4)

    attempts: list[Attempt] = []
    stop = threading.Event()

    def run(next_attempt) -> None:
        n = 0
        while not stop.is_set():
            attempt = next_attempt(n)
            if attempt is None:
                return
            attempts.append(attempt)
            try:
                response = send(server, attempt)
            except (OSError, http.client.HTTPException):
                # Reset, refused, timed out, or killed between the headers and the body:
                # the server is gone and this request counts as unanswered.
                return
            attempt.status, attempt.answer = response.status, response.body
            n += 1

    def engineer_load(engineer_id: int):
        def next_attempt(n: int) -> Attempt | None:
            if n >= JOBS_EACH:
                return None
            return Attempt("check-in", tokens[engineer_id], str(uuid.uuid4()), {
                "job_id": jobs[engineer_id][n], "lat": 31.2304, "lon": 121.4737,
                "accuracy_m": 8, "client_time": now_iso()})
        return next_attempt

    def supervisor_load(n: int) -> Attempt:
        return Attempt("job", supervisor_token, str(uuid.uuid4()), {
            "site_id": site_id, "title": f"Durable {uuid.uuid4().hex}", "category": "hvac",
            "priority": "normal"})

    loads = [engineer_load(e.id) for e in engineers] + [supervisor_load] * SUPERVISOR_THREADS
    threads = [threading.Thread(target=run, args=(load,)) for load in loads]
    for t in threads:
        t.start()
    deadline = time.monotonic() + LOAD_S
    while (time.monotonic() < deadline
           and sum(a.status is not None for a in attempts) < ANSWERED_BEFORE_KILL):
        time.sleep(0.02)
    server.kill()  # every thread has a request in flight
    stop.set()
    for t in threads:
        t.join(timeout=30)

    answered = [a for a in attempts if a.status is not None]
    unanswered = [a for a in attempts if a.status is None]
    assert len(answered) >= 10 and unanswered, server.log_text()
    assert {a.status for a in answered} == {201}, [(a.status, a.answer) for a in answered
                                                    if a.status != 201][:3]
    assert {a.kind for a in answered} == {"check-in", "job"}

    # Every answered request is in the database, read after the crash.
    db.session.remove()
    for a in answered:
        if a.kind == "check-in":
            visit = db.session.get(Visit, a.answer["id"])
            assert visit is not None, f"acknowledged visit {a.answer['id']} lost"
            assert visit.job_id == a.body["job_id"]
        else:
            job = db.session.get(Job, a.answer["id"])
            assert job is not None, f"acknowledged job {a.answer['id']} lost"
            assert job.title == a.body["title"]
    db.session.commit()

    # After a restart, the unanswered requests sent again with their keys act exactly
    # once: replayed if they had committed, done now if they had not. A short lease lets
    # the restarted server take over the claims the dead workers left behind.
    lease_s = 1
    time.sleep(lease_s + 0.1)
    restarted = serve(workers=2, threads=4, IDEMPOTENCY_LEASE_S=lease_s)
    for a in unanswered:
        response = send(restarted, a)
        assert response.status == 201, (response.status, response.body)
        a.status, a.answer = response.status, response.body
    db.session.remove()
    for a in answered + unanswered:
        if a.kind == "check-in":
            visits = db.session.scalars(sa.select(Visit).where(Visit.job_id == a.body["job_id"])).all()
            assert [v.id for v in visits] == [a.answer["id"]]
        else:
            ids = db.session.scalars(sa.select(Job.id).where(Job.title == a.body["title"])).all()
            assert ids == [a.answer["id"]]
    # And the restarted server takes new work.
    fresh = Attempt("job", supervisor_token, str(uuid.uuid4()), {
        "site_id": site_id, "title": "After the crash", "category": "hvac", "priority": "low"})
    assert send(restarted, fresh).status == 201
