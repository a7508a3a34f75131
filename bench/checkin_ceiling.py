"""The most a check-in of this design can reach under load: a measuring device for
bench/checkin_load.py --target ceiling, never a way into the app.

POST /api/v1/visits/check-in runs the check-in's own statements through one pooled
connection and nothing else: the token's user, the Idempotency-Key's record, the job
and its site, the engineer's position history and open visits (the app's statements),
the flags (app.domain.verification), then one write transaction (the record looked up
again, the visit inserted, the job started, the answer stored under the key). Left out
is everything a real request also needs: Flask-Smorest's parsing and documentation,
Flask-Login, the ORM session, the rate limiter, the security headers, the 401, 403,
404, 409 and 422 answers, the advisory lock on the key (PostgreSQL: api.md's 409 for a
duplicate in flight), NO_CHECKOUT on an open visit elsewhere, the flag-pattern alert.
Every other route is the app's (`wsgi:app`), so the load script seeds and checks as
usual. The ratio it prints against the floor bounds what the app could reach by
trimming the framework alone.
"""
from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from flask import Flask, g, jsonify, request

import wsgi
from app.api.visits.schemas import VisitCheckInSchema, checked_in_answer
from app.domain import verification as rules
from app.extensions import db
from app.idempotency import _FIND
from app.models import ApiToken, IdempotencyRecord, User, sql
from app.models.types import utcnow
from app.services import visits
from app.services.auth import digest

full_app = wsgi.app
with full_app.app_context():
    engine = db.engine
    thresholds = visits.thresholds()
_users, _tokens = User.__table__, ApiToken.__table__
_TOKEN_USER = (
    sa.select(_users.c.id, _users.c.name, _tokens.c.id.label("token_id"))
    .join(_tokens, _tokens.c.user_id == _users.c.id)
    .where(_tokens.c.digest == sa.bindparam("digest"), _tokens.c.revoked_at.is_(None),
           _users.c.active.is_(True), _users.c.role == "engineer")
)
_STORE = sa.insert(IdempotencyRecord.__table__)
schema = VisitCheckInSchema()
ceiling = Flask(__name__)


@ceiling.post("/api/v1/visits/check-in")
def check_in():
    key = request.headers["Idempotency-Key"]
    body = request.get_json()
    canonical = json.dumps(["POST", request.path, body], sort_keys=True, separators=(",", ":"))
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    data = schema.load(body)
    now, fix = utcnow(), visits._fix(data)
    g.sqlite_read_first = "armed"  # the reads in a plain BEGIN on SQLite (app.extensions)
    with engine.connect() as conn:
        user = conn.execute(_TOKEN_USER, {"digest": digest(request.headers["Authorization"][7:])}).one()
        conn.execute(_FIND, {"user_id": user.id, "key": key}).first()
        job = conn.execute(sql.CHECK_IN_JOB, {"job_id": data["job_id"], "engineer_id": user.id}).one()
        previous, same_place, _ = visits._position_history(conn, user.id, fix, sql.CHECK_IN_HISTORY)
        flags, distance = rules.check_in_flags(
            fix, now, rules.Site(job.lat, job.lon, job.radius_m), previous, same_place, False, thresholds)
        conn.commit()
        g.pop("sqlite_read_first")  # the writes with BEGIN IMMEDIATE
        with conn.begin():
            conn.execute(_FIND, {"user_id": user.id, "key": key}).first()
            visit = dict(
                job_id=job.id, site_id=job.site_id, engineer_id=user.id,
                status="flagged" if flags else "verified", flags=flags,
                in_lat=fix.lat, in_lon=fix.lon, in_accuracy_m=fix.accuracy_m,
                in_client_time=fix.client_time, in_server_time=now, in_distance_m=distance,
                in_mock=fix.mock_location, in_flags=flags, check_in_note=data.get("note"),
                decision_final=False, created_at=now)
            visit["id"] = conn.execute(sql.INSERT_VISIT, visit).scalar_one()
            conn.execute(sql.JOB_STARTED, {"job_id": job.id})
            site = {"id": job.site_id, "name": job.site_name, "lat": job.lat, "lon": job.lon,
                    "radius_m": job.radius_m}
            response = jsonify(checked_in_answer(visits.CheckedIn(
                visit, site, {"id": job.id, "title": job.title, "status": "in_progress"},
                {"id": user.id, "name": user.name})))
            location = f"/api/v1/visits/{visit['id']}"
            conn.execute(_STORE, {
                "user_id": user.id, "key": key, "fingerprint": fingerprint, "created_at": now,
                "response_status": 201, "response_body": response.get_data(as_text=True),
                "response_headers": {"Location": location}})
    response.status_code = 201
    response.headers["Location"] = location
    return response


def app(environ, start_response):
    if environ["PATH_INFO"] == "/api/v1/visits/check-in" and environ["REQUEST_METHOD"] == "POST":
        return ceiling(environ, start_response)
    return full_app(environ, start_response)
