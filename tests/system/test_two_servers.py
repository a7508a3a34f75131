"""Two servers, one truth (workday.md, Beyond one machine): two gunicorn servers on one
PostgreSQL, one Redis (the login limits) and one S3 server (SeaweedFS, the photos).

A day driven across both gives the same answers whichever server is asked; a request
replayed with its Idempotency-Key on the other server answers the stored response; the
login limits hold for the deployment; SIGKILL of one server loses nothing it answered.
"""
from __future__ import annotations

import http.client
import io
import os
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from app.extensions import db
from app.models import Photo, Visit
from tests.seaweedfs import IN_CI
from tests.system.conftest import Server, tokens_for
from tests.support import PASSWORD

# A Redis database of its own; every test's keys under a prefix of its own.
REDIS_URL = os.environ.get("TEST_REDIS_SHARED_URL", "redis://127.0.0.1:6379/5")
SITE = (31.2304, 121.4737)  # the factory's site
CHECKLIST = {"ppe_worn": True, "power_isolated": True, "area_cleaned": True,
             "customer_briefed": True}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def photo_body() -> tuple[bytes, dict[str, str]]:
    image = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(image, "JPEG", quality=85)
    boundary, body = encode_multipart({"kind": "after",
                                       "file": FileStorage(io.BytesIO(image.getvalue()), "a.jpg")})
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def redis_prefix():
    import redis

    try:
        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        server.ping()
    except redis.RedisError as exc:
        message = f"Redis is not reachable at {REDIS_URL} ({exc})"
        if IN_CI:
            pytest.fail(message + "; CI=true requires it.", pytrace=False)
        pytest.skip(message)
    prefix = f"fieldproof-two-{uuid.uuid4().hex[:10]}"
    yield prefix
    for key in server.scan_iter(f"*{prefix}*"):
        server.delete(key)


@pytest.fixture
def two_servers(app, serve, seaweedfs, redis_prefix):
    """Servers A and B (two workers each) sharing the database, Redis and a bucket."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("several servers share PostgreSQL; SQLite is the one-machine default")
    bucket = seaweedfs.bucket()
    shared = {**seaweedfs.settings(bucket), "RATELIMIT_STORAGE_URI": REDIS_URL,
              "RATELIMIT_KEY_PREFIX": redis_prefix, "IDEMPOTENCY_LEASE_S": 2}
    servers = serve(workers=2, threads=4, **shared), serve(workers=2, threads=4, **shared)
    yield servers
    for server in servers:
        server.kill()
    seaweedfs.drop(bucket)


def test_twelve_wrong_logins_over_both_servers_the_sixth_is_refused(two_servers, org):
    a, b = two_servers
    statuses = []
    for n in range(12):
        server = (a, b)[n % 2]
        response = server.request("POST", "auth/login",
                                  json_body={"email": org["eng_a1"].email, "password": "wrong"})
        statuses.append(response.status)
    assert statuses == [401] * 5 + [429] * 7
    # The account stays locked on both, even with the right password.
    for server in (a, b):
        right = server.request("POST", "auth/login",
                               json_body={"email": org["eng_a1"].email, "password": PASSWORD})
        assert right.status == 429 and right.body["code"] == "RATE_LIMITED"


def test_a_day_across_both_servers(two_servers, org, factory, seaweedfs):
    a, b = two_servers
    job = factory.job(engineer=org["eng_a1"], created_by=org["sup_a"], status="assigned")
    job_id = job.id
    tokens = tokens_for([org["eng_a1"], org["sup_a"], org["admin"]])
    eng, sup, admin = (tokens[org[who].id] for who in ("eng_a1", "sup_a", "admin"))

    def both(path: str, token: str):
        """The same read from each server: one answer."""
        first, second = a.request("GET", path, token), b.request("GET", path, token)
        assert first.status == second.status == 200, (first.body, second.body)
        assert first.body == second.body
        return first.body

    # Check-in on A, replayed on B with the same key: the stored answer.
    check_in = {"job_id": job_id, "lat": SITE[0], "lon": SITE[1], "accuracy_m": 8,
                "client_time": now_iso()}
    key = {"Idempotency-Key": f"day-{uuid.uuid4()}"}
    visit = a.request("POST", "visits/check-in", eng, check_in, headers=key)
    assert visit.status == 201, visit.body
    replay = b.request("POST", "visits/check-in", eng, check_in, headers=key)
    assert (replay.status, replay.body) == (201, visit.body)
    assert replay.headers.get("Idempotent-Replayed") == "true"
    visit_id = visit.body["id"]

    # Photo on B, in the bucket; its original from A, as an attachment, to the supervisor.
    body, headers = photo_body()
    photo = b.request("POST", f"jobs/{job_id}/photos", eng, body=body, headers=headers)
    assert photo.status == 201, photo.body
    db.session.remove()
    row = db.session.get(Photo, photo.body["id"])
    assert set(seaweedfs.keys(seaweedfs.buckets[-1])) == {row.original_key, row.display_key,
                                                          row.thumb_key}
    original = a.request("GET", f"photos/{row.id}/original", sup)
    assert original.status == 200 and original.headers["Content-Disposition"].startswith("attachment")
    assert original.body == b.request("GET", f"photos/{row.id}/original", sup).body
    assert a.request("GET", f"photos/{row.id}/original", eng).status == 403

    # Check-out on B (a short visit: flagged), close on A, the decision on B.
    out = b.request("POST", f"visits/{visit_id}/check-out", eng, {
        "lat": SITE[0], "lon": SITE[1], "accuracy_m": 8, "client_time": now_iso()},
        headers={"Idempotency-Key": f"out-{uuid.uuid4()}"})
    assert out.status == 200, out.body
    closed = a.request("POST", f"jobs/{job_id}/close", eng, {
        "resolution": "Replaced the fan", "fixed": True, "checklist": CHECKLIST},
        headers={"Idempotency-Key": f"close-{uuid.uuid4()}"})
    assert closed.status == 200, closed.body
    assert both(f"visits/{visit_id}", sup)["status"] == "flagged"  # too short
    decided = b.request("POST", f"visits/{visit_id}/verify", sup,
                        {"decision": "approve", "note": "Seen on the photos."},
                        headers={"Idempotency-Key": f"verify-{uuid.uuid4()}"})
    assert decided.status == 200, decided.body
    assert both(f"visits/{visit_id}", sup)["status"] == "approved"

    # Feedback: the link made on A, answered through B.
    link = a.request("POST", f"jobs/{job_id}/feedback-link", sup)
    assert link.status == 201, link.body
    token = link.body["url"].rsplit("/", 1)[1]
    assert b.request("POST", f"feedback/{token}", json_body={"score": 9}).status == 201

    # The same truth from either server.
    assert both(f"jobs/{job_id}", sup)["status"] == "closed"
    both(f"jobs/{job_id}/photos", sup)
    both(f"kpi/engineers/{org['eng_a1'].id}", admin)
    both("kpi/team", sup)
    both("visits", sup)


def test_sigkill_of_one_server_loses_nothing_it_answered(two_servers, org, factory):
    a, b = two_servers
    site = factory.site()
    engineers = [factory.user("engineer", supervisor=org["sup_a"]) for _ in range(4)]
    jobs = {e.id: [factory.job(site=site, engineer=e).id for _ in range(15)] for e in engineers}
    tokens = tokens_for(engineers)
    attempts: list[dict] = []  # job_id, key, token, server, status, answer

    def run(engineer_id: int, server: Server) -> None:
        for job_id in jobs[engineer_id]:
            attempt = {"job_id": job_id, "key": str(uuid.uuid4()), "token": tokens[engineer_id],
                       "body": {"job_id": job_id, "lat": SITE[0], "lon": SITE[1],
                                "accuracy_m": 8, "client_time": now_iso()},
                       "status": None, "answer": None}
            attempts.append(attempt)
            try:
                response = server.request("POST", "visits/check-in", attempt["token"],
                                          attempt["body"],
                                          headers={"Idempotency-Key": attempt["key"]}, timeout=15)
            except (OSError, http.client.HTTPException):
                return  # server A died with this request in flight
            attempt["status"], attempt["answer"] = response.status, response.body

    # Two engineers on each server; A is killed once some of its answers are out.
    threads = [threading.Thread(target=run, args=(e.id, (a, b)[n % 2]))
               for n, e in enumerate(engineers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    on_a = {e.id for n, e in enumerate(engineers) if n % 2 == 0}
    while time.monotonic() < deadline and sum(
            1 for x in attempts if x["status"] and x["job_id"] in
            {j for e in on_a for j in jobs[e]}) < 6:
        time.sleep(0.02)
    a.kill()
    for thread in threads:
        thread.join(60)

    answered = [x for x in attempts if x["status"] is not None]
    unanswered = [x for x in attempts if x["status"] is None]
    assert {x["status"] for x in answered} == {201}
    assert len(answered) >= 30  # B's engineers finished their rounds
    db.session.remove()
    for x in answered:
        visit = db.session.get(Visit, x["answer"]["id"])
        assert visit is not None and visit.job_id == x["job_id"], "an acknowledged visit was lost"
    db.session.commit()

    # The unanswered ones, sent again to B with their keys once the lease ran out, act once.
    time.sleep(2.1)
    for x in unanswered:
        response = b.request("POST", "visits/check-in", x["token"], x["body"],
                             headers={"Idempotency-Key": x["key"]})
        assert response.status == 201, response.body
        x["answer"] = response.body
    db.session.remove()
    for x in answered + unanswered:
        ids = db.session.scalars(sa.select(Visit.id).where(Visit.job_id == x["job_id"])).all()
        assert ids == [x["answer"]["id"]]
