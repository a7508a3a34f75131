"""What the HTTP load benchmarks share: a scratch database, the people and jobs a load
needs, two gunicorn servers with the same settings (the app and its floor), and wrk
rounds that alternate between them so that both see the same machine.

Used by bench/checkin_load.py and bench/jobs_load.py; not a benchmark by itself.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
GUNICORN_CONF = str(ROOT / "gunicorn.conf.py")
WRK_SCRIPT = BENCH / "load.lua"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

sys.path.insert(0, str(ROOT))


# --- the database --------------------------------------------------------------------


class ScratchDatabase:
    """A database of the bench's own: a SQLite file in a temporary folder, or a new
    database on the PostgreSQL server named by `url` (dropped again at the end)."""

    def __init__(self, url: str | None, tmp: Path) -> None:
        import sqlalchemy as sa

        self.tmp = tmp
        self.admin_url = None
        if not url or url == "sqlite":
            self.url = f"sqlite:///{tmp / 'bench.db'}"
            return
        if url == "postgresql":
            url = DEFAULT_POSTGRES
        base = sa.engine.make_url(url)
        name = f"fieldproof_bench_{os.getpid()}"
        self.admin_url = base
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.name = name
        self.url = base.set(database=name).render_as_string(hide_password=False)

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def drop(self) -> None:
        if self.admin_url is None:
            return
        import sqlalchemy as sa

        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Organisation:
    """What the seed made: per engineer their token, and their jobs' ids and site."""

    engineers: list[int] = field(default_factory=list)
    tokens: dict[int, str] = field(default_factory=dict)
    jobs: dict[int, list[int]] = field(default_factory=dict)
    sites: dict[int, tuple[float, float]] = field(default_factory=dict)
    site_of_engineer: dict[int, int] = field(default_factory=dict)


HISTORY_JOBS = 5  # each engineer's jobs done before the load, over the past three weeks


def seed(url: str, instance: Path, engineers: int, jobs_per_engineer: int, sites: int,
         reported_at: datetime) -> Organisation:
    """Migrate the scratch database and bulk-insert a supervisor, `engineers` engineers
    with an API token each, `sites` sites and `jobs_per_engineer` assigned jobs each
    (every engineer's jobs at one site, reported at `reported_at`).

    The organisation has a past, as a database in service has: HISTORY_JOBS closed jobs
    per engineer, each with a verified visit checked in and out at the site, the KPI
    store built from them, and on PostgreSQL the planner's statistics gathered (ANALYZE,
    as autovacuum keeps them): an empty visits table would have the server plan for
    one, and keep those plans for the whole run."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig
    from app.extensions import db
    from app.models import ApiToken, Job, Site, User
    from app.services.auth import TOKEN_PREFIX, digest
    from app.services.kpi import store

    app = create_app(TestConfig(instance, SQLALCHEMY_DATABASE_URI=url))
    org = Organisation()
    rng = random.Random(7)
    with app.app_context():
        upgrade()
        password = "pbkdf2:sha256:1000$x$" + "0" * 64  # nobody signs in with a password here
        now = datetime.now(UTC)
        db.session.execute(sa.insert(User), [{
            "email": "lead@bench.example", "name": "Lead", "password_hash": password,
            "role": "supervisor", "created_at": now, "updated_at": now}])
        lead = db.session.scalar(sa.select(User.id).where(User.email == "lead@bench.example"))
        db.session.execute(sa.insert(User), [{
            "email": f"e{i}@bench.example", "name": f"Engineer {i}", "password_hash": password,
            "role": "engineer", "level": "mid", "work_type": "field", "supervisor_id": lead,
            "created_at": now, "updated_at": now} for i in range(engineers)])
        org.engineers = list(db.session.scalars(
            sa.select(User.id).where(User.role == "engineer").order_by(User.id)))
        token_rows = []
        for engineer in org.engineers:
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            org.tokens[engineer] = token
            token_rows.append({"user_id": engineer, "name": "bench", "digest": digest(token),
                               "prefix": token[:10], "created_at": now})
        db.session.execute(sa.insert(ApiToken), token_rows)
        # Sites about a kilometre apart around Shanghai.
        db.session.execute(sa.insert(Site), [{
            "name": f"Site {i}", "customer_name": f"Customer {i}", "address": f"{i} Bench Road",
            "lat": 31.20 + (i % 40) * 0.01, "lon": 121.40 + (i // 40) * 0.01, "radius_m": 150,
            "created_by_id": lead, "created_at": now, "updated_at": now} for i in range(sites)])
        org.sites = {row.id: (row.lat, row.lon) for row in db.session.execute(
            sa.select(Site.id, Site.lat, Site.lon))}
        site_ids = sorted(org.sites)
        rows = []
        for n, engineer in enumerate(org.engineers):
            site = site_ids[n % len(site_ids)]
            org.site_of_engineer[engineer] = site
            for k in range(jobs_per_engineer):
                rows.append({
                    "site_id": site, "title": f"Job {k} of engineer {engineer}",
                    "description": "Unit not cooling; customer reports noise.",
                    "category": rng.choice(["hvac", "electrical", "plumbing"]),
                    "priority": "normal", "mode": "field", "status": "assigned",
                    "reported_at": reported_at, "engineer_id": engineer, "created_by_id": lead,
                    "assigned_at": reported_at + timedelta(minutes=5),
                    "created_at": now, "updated_at": now})
        for start in range(0, len(rows), 5000):
            db.session.execute(sa.insert(Job), rows[start:start + 5000])
        db.session.commit()
        for engineer, job in db.session.execute(
                sa.select(Job.engineer_id, Job.id).order_by(Job.id)):
            org.jobs.setdefault(engineer, []).append(job)
        _history(org, lead, now, rng)
        db.session.commit()
        _analyze(db.engine)  # before the rebuild too, which would plan for empty tables
        store.rebuild(app.config["TIMEZONE"])  # bulk rows bypass the store's upkeep
        db.session.commit()
        _analyze(db.engine)
        db.session.remove()
        db.engine.dispose()
    return org


def _analyze(engine) -> None:
    if engine.dialect.name == "postgresql":  # SQLite keeps no statistics unasked
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")


def _history(org: Organisation, lead: int, now: datetime, rng: random.Random) -> None:
    """HISTORY_JOBS closed jobs per engineer at their site, each visited (verified, checked
    in and out) on one of the past 21 days; the Idempotency-Keys of the last 72 hours'."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import IdempotencyRecord, Job, Visit

    jobs, planned = [], []
    for engineer in org.engineers:
        site = org.site_of_engineer[engineer]
        for k in range(HISTORY_JOBS):
            reported = now - timedelta(days=rng.uniform(2, 21))
            arrived = reported + timedelta(minutes=rng.uniform(30, 240))
            left = arrived + timedelta(minutes=rng.uniform(20, 90))
            jobs.append({
                "site_id": site, "title": f"Earlier job {k} of engineer {engineer}",
                "description": "Routine service.", "category": "hvac", "priority": "normal",
                "mode": "field", "status": "closed", "reported_at": reported,
                "engineer_id": engineer, "created_by_id": lead,
                "assigned_at": reported + timedelta(minutes=5), "closed_at": left,
                "resolution": "Serviced.", "fixed": True, "created_at": reported,
                "updated_at": left})
            planned.append((engineer, site, arrived, left))
    for start in range(0, len(jobs), 5000):
        db.session.execute(sa.insert(Job), jobs[start:start + 5000])
    ids = list(db.session.scalars(sa.select(Job.id).where(Job.status == "closed").order_by(Job.id)))
    visits = []
    for job_id, (engineer, site, arrived, left) in zip(ids, planned, strict=True):
        lat, lon = org.sites[site]
        fix = {"lat": lat + rng.uniform(-0.0004, 0.0004), "lon": lon + rng.uniform(-0.0004, 0.0004)}
        visits.append({
            "job_id": job_id, "site_id": site, "engineer_id": engineer, "status": "verified",
            "flags": [], "in_lat": fix["lat"], "in_lon": fix["lon"], "in_accuracy_m": 12.0,
            "in_client_time": arrived, "in_server_time": arrived, "in_distance_m": 30.0,
            "in_mock": False, "in_flags": [], "out_lat": fix["lat"], "out_lon": fix["lon"],
            "out_accuracy_m": 12.0, "out_client_time": left, "out_server_time": left,
            "out_distance_m": 30.0, "out_mock": False, "out_flags": [], "decision_final": False,
            "created_at": arrived})
    for start in range(0, len(visits), 5000):
        db.session.execute(sa.insert(Visit), visits[start:start + 5000])
    # The check-ins of the last three days still answer for their Idempotency-Keys.
    kept = now - timedelta(hours=72)
    records = [{
        "user_id": v["engineer_id"], "key": f"history-{v['job_id']}", "fingerprint": "0" * 64,
        "response_status": 201, "response_body": "{}", "response_headers": {},
        "created_at": v["created_at"]} for v in visits if v["created_at"] > kept]
    if records:
        db.session.execute(sa.insert(IdempotencyRecord), records)


def count_rows(url: str, table: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
    engine.dispose()
    return n


# --- the servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn serving `target` with the top-level gunicorn.conf.py, on loopback."""

    def __init__(self, name: str, target: str, env: dict[str, str], tmp: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = open(tmp / f"{name}.log", "w")
        self.process = subprocess.Popen(
            [GUNICORN, "-c", GUNICORN_CONF, "--bind", f"127.0.0.1:{self.port}", target],
            cwd=str(ROOT), env={**os.environ, **env, "PYTHONPATH": f"{ROOT}:{BENCH}"},
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} server exited; see {self.log.name}")
            try:
                urllib.request.urlopen(self.base + path, timeout=2)
                return
            except urllib.error.HTTPError:
                return  # it answers (a 401 or 404 is an answer)
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name} server did not start; see {self.log.name}")

    def stop(self, keep_log_as: str | None = None) -> None:
        """Stop the server; its log is copied to bench/out/`keep_log_as` when named
        (errors behind failed requests are found there after the run)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        if keep_log_as:
            (BENCH / "out").mkdir(exist_ok=True)
            shutil.copyfile(self.log.name, BENCH / "out" / keep_log_as)


# --- wrk -----------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    failures: int
    statuses: dict[str, int]
    lines_used: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def run_wrk(url: str, method: str, expected: int, requests_file: Path, key_prefix: str,
            seconds: float, connections: int, first_line: int = 0, threads: int = 2) -> Result:
    """One wrk run: each connection sends the next line of `requests_file` (token,
    engineer id, path, body) from `first_line` on, with a unique Idempotency-Key on
    every request that changes something."""
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
               "--timeout", "10s", "-s", str(WRK_SCRIPT), url, "--",
               method, str(expected), str(requests_file), str(threads), key_prefix, str(first_line)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^BENCH (.*)$", out, re.MULTILINE)
    if not match:
        raise SystemExit("wrk gave no result:\n" + out)
    data = json.loads(match.group(1))
    socket_errors = sum(data["errors"].values())
    statuses = {k: v for k, v in data["statuses"].items()}
    unexpected = sum(v for k, v in statuses.items() if k != str(expected))
    return Result(requests=data["requests"], seconds=data["duration_us"] / 1e6,
                  p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000,
                  failures=socket_errors + unexpected, statuses=statuses,
                  lines_used=data["lines_used"])


def write_requests(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def summary(name: str, results: list[Result]) -> tuple[float, float, int]:
    """Median requests/s and p99 over the rounds, and all failures; printed per round."""
    for n, r in enumerate(results, 1):
        print(f"  {name} round {n}: {r.rps:7.1f} req/s, p50 {r.p50_ms:6.1f} ms, "
              f"p99 {r.p99_ms:6.1f} ms, {r.requests} requests, failures {r.failures}"
              + (f" {r.statuses}" if r.failures else ""))
    rps = statistics.median(r.rps for r in results)
    p99 = statistics.median(r.p99_ms for r in results)
    failures = sum(r.failures for r in results)
    print(f"{name}: {rps:.1f} requests/s (median of rounds), p99 {p99:.1f} ms (median), "
          f"failures {failures}")
    return rps, p99, failures


def temp_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="fieldproof-load-"))


def cleanup(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def server_env(database_url: str, instance: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": hashlib.sha256(str(instance).encode()).hexdigest(),
        "PHOTO_DIR": str(instance / "photos"),
    }


def check_tools() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
