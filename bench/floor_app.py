"""The floors of the HTTP load benchmarks (quality.md, speed table): the least work a
check-in and a page of jobs can cost, served by gunicorn with the app's own settings.

    POST /api/v1/visits/check-in   the contract-minimal check-in (quality.md, second
                                   release): the JSON loaded with marshmallow, the caller
                                   found by bearer token (one indexed read of the app's
                                   api_tokens), the job read with its site, one geodesic
                                   distance, then in one transaction the Idempotency-Key
                                   recorded, the visit inserted and the job marked
                                   started, one commit; 201 and the visit
    GET  /api/v1/jobs              the engineer's 50 newest jobs in one query, as JSON

No sign-in on the jobs page: its engineer comes in the X-Bench-Engineer header that the
load script sends beside the token. Started by bench/checkin_load.py and
bench/jobs_load.py with DATABASE_URL set; `create_tables(url)` runs once before.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, jsonify, request
from geopy.distance import geodesic
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

metadata = sa.MetaData()
floor_visits = sa.Table(
    "floor_visits", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.Integer, nullable=False),
    sa.Column("engineer_id", sa.Integer, nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("accuracy_m", sa.Float, nullable=False),
    sa.Column("client_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("server_time", sa.DateTime(timezone=True), nullable=False),
    sa.Column("distance_m", sa.Float, nullable=False),
    sa.Column("mock", sa.Boolean, nullable=False),
)
floor_keys = sa.Table(
    "floor_idempotency_keys", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("user_id", "key"),
)
api_tokens = sa.table("api_tokens", sa.column("user_id"), sa.column("digest"))
sites = sa.table("sites", sa.column("id"), sa.column("lat"), sa.column("lon"))
# The jobs table of the app's schema, read as it is.
jobs = sa.table("jobs", *(sa.column(name) for name in (
    "id", "site_id", "title", "description", "category", "priority", "mode", "asset_ref",
    "status", "reported_at", "scheduled_for", "engineer_id", "created_by_id", "assigned_at",
    "first_contact_at", "closed_at", "resolution", "fixed", "checklist", "checklist_complete",
    "repeat_of_id", "cancelled_at", "cancel_reason", "created_at")))
CALLER = sa.select(api_tokens.c.user_id).where(api_tokens.c.digest == sa.bindparam("digest"))
JOB = (sa.select(jobs.c.id, sites.c.lat, sites.c.lon).join(sites, sites.c.id == jobs.c.site_id)
       .where(jobs.c.id == sa.bindparam("job_id"), jobs.c.engineer_id == sa.bindparam("engineer_id")))
KEY = floor_keys.insert()
VISIT = floor_visits.insert().returning(floor_visits.c.id)
STARTED = (jobs.update().where(jobs.c.id == sa.bindparam("job_id"), jobs.c.status == "assigned")
           .values(status="in_progress"))


class CheckIn(Schema):
    class Meta:
        unknown = RAISE

    job_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90), allow_nan=False)
    lon = fields.Float(required=True, validate=validate.Range(-180, 180), allow_nan=False)
    accuracy_m = fields.Float(required=True, allow_nan=False,
                              validate=validate.Range(min=0, min_inclusive=False))
    client_time = fields.AwareDateTime(required=True)
    mock_location = fields.Boolean(load_default=False)


class Page(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


def engine_for(url: str) -> sa.Engine:
    """The app's connection settings: WAL, synchronous=NORMAL and a busy timeout on SQLite."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, connect_args={"timeout": 15})

    @sa.event.listens_for(engine, "connect")
    def pragmas(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def create_tables(url: str) -> None:
    engine = engine_for(url)
    metadata.create_all(engine)
    engine.dispose()


def _json(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def create_app(url: str) -> Flask:
    app = Flask(__name__)
    engine = engine_for(url)
    check_in_schema, page_schema = CheckIn(), Page()

    @app.post("/api/v1/visits/check-in")
    def check_in():
        try:
            data = check_in_schema.load(request.get_json())
        except ValidationError as error:
            return jsonify(errors=error.messages), 422
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with engine.connect() as conn:
            engineer_id = conn.execute(
                CALLER, {"digest": hashlib.sha256(token.encode()).hexdigest()}).scalar()
            if engineer_id is None:
                return jsonify(error="unauthorised"), 401
            job = conn.execute(JOB, {"job_id": data["job_id"], "engineer_id": engineer_id}).first()
            if job is None:
                return jsonify(error="no such job"), 404
        now = datetime.now(UTC)
        row = {
            "job_id": job.id, "engineer_id": engineer_id,
            "lat": data["lat"], "lon": data["lon"], "accuracy_m": data["accuracy_m"],
            "client_time": data["client_time"], "server_time": now,
            "distance_m": geodesic((job.lat, job.lon), (data["lat"], data["lon"])).meters,
            "mock": data["mock_location"],
        }
        with engine.begin() as conn:
            conn.execute(KEY, {"user_id": engineer_id, "key": request.headers["Idempotency-Key"],
                               "created_at": now})
            row["id"] = conn.execute(VISIT, row).scalar_one()
            conn.execute(STARTED, {"job_id": job.id})
        return jsonify({k: _json(v) for k, v in row.items()}), 201

    @app.get("/api/v1/jobs")
    def job_page():
        args = page_schema.load(request.args)
        query = (sa.select(jobs).where(jobs.c.engineer_id == int(request.headers["X-Bench-Engineer"]))
                 .order_by(jobs.c.id.desc()).limit(args["per_page"])
                 .offset((args["page"] - 1) * args["per_page"]))
        with engine.connect() as conn:
            items = [{k: _json(v) for k, v in row.items()} for row in conn.execute(query).mappings()]
        return jsonify(items=items, page=args["page"], per_page=args["per_page"])

    return app


if "DATABASE_URL" in os.environ:
    app = create_app(os.environ["DATABASE_URL"])
