"""A large organisation's database for the benchmarks (quality.md, Speed and scale).

    .venv/bin/python bench/generate.py --database sqlite:///bench/out/large.db
    .venv/bin/python bench/generate.py --database postgresql+psycopg://postgres@127.0.0.1:5432/fieldproof_large

Defaults: 1,000 engineers (junior/mid/senior, field/remote) in teams of 20 under 50
supervisors, 1,000,000 jobs reported over the last twelve months, most closed, a few
cancelled or still open; field jobs have one visit, some two or three, with the statuses
and flags verification gives (a few flagged, approved after review, rejected or
disputed); feedback on about 30 % of closed jobs, complaints on a few, trainings,
knowledge cases and documents (most approved and scored), compliance events; months
older than the last `--open-months` are closed through the KPI service, as an
organisation closing every month would have done. Every engineer gets a personal API
token, written to `--tokens-out` as `engineer_id,token` lines.

The schema is built by the migrations (`flask db upgrade`); the rows are written in
bulk: SQLAlchemy Core `insert()` in executemany batches on SQLite, COPY on PostgreSQL,
never through the API. The database must be new or empty (`--replace` drops it first).
`--seed` makes the data repeatable; the times are relative to now, so a database made
this month has a live current month; `--now` ends the data earlier (the second day of
this month, say: a current month of two days with the previous one still open). Prints the time of each step. The KPI close is
the slow step at full size (every engineer's card and records, a few minutes a month on
a busy two-core machine): `--open-months 13` skips it.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

import kpi_sql  # noqa: E402

BATCH = 20_000
PASSWORD = "bench-password"
DOMAIN = "bench.fieldproof.app"
CATEGORIES = ("hvac", "electrical", "plumbing", "appliance", "network")
CHECKLIST = ("ppe_worn", "power_isolated", "area_cleaned", "customer_briefed")
PRIORITIES = (("low", 15), ("normal", 60), ("high", 20), ("urgent", 5))
LEVELS = (("junior", 30), ("mid", 50), ("senior", 20))
FIELD_SHARE = 0.75
# Visits per field job: most one, some two or three.
VISIT_COUNTS = ((1, 80), (2, 15), (3, 5))
# A visit's fate: (status, flags, decided, rejected, disputed), with weights.
VISIT_FATES = (
    (("verified", [], False, False, False), 900),
    (("approved", ["LOW_ACCURACY"], True, False, False), 30),
    (("approved", ["SHORT_VISIT"], True, False, False), 10),
    (("flagged", ["OUTSIDE_GEOFENCE"], False, False, False), 20),
    (("rejected", ["OUTSIDE_GEOFENCE"], True, True, False), 25),
    (("rejected", ["MOCK_LOCATION"], True, True, False), 5),
    (("disputed", ["OUTSIDE_GEOFENCE"], True, False, True), 10),
)
FEEDBACK_SCORES = ((10, 38), (9, 22), (8, 14), (7, 10), (6, 5), (5, 4), (4, 2), (3, 2),
                   (2, 1), (1, 1), (0, 1))


_CUMULATIVE: dict[int, tuple[list[Any], list[float]]] = {}


def weighted(rng: random.Random, choices: tuple) -> Any:
    """One of (value, weight) pairs (the cumulative weights are worked out once)."""
    table = _CUMULATIVE.get(id(choices))
    if table is None:
        values = [v for v, _ in choices]
        table = _CUMULATIVE[id(choices)] = (values, list(itertools.accumulate(w for _, w in choices)))
    return rng.choices(table[0], cum_weights=table[1])[0]


class Sink:
    """Writes rows in bulk: executemany batches of Core inserts, or COPY on PostgreSQL."""

    def __init__(self, conn: sa.Connection, metadata: sa.MetaData) -> None:
        self.conn = conn
        self.metadata = metadata
        self.copy = conn.dialect.name == "postgresql"
        self.pending: dict[str, list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: str, row: dict[str, Any]) -> None:
        rows = self.pending.setdefault(table, [])
        rows.append(row)
        if len(rows) >= BATCH:
            self.flush()  # every table, parents first

    def flush(self) -> None:
        # Parents before children: flush in the metadata's dependency order.
        for t in self.metadata.sorted_tables:
            rows = self.pending.pop(t.name, None)
            if not rows:
                continue
            self.counts[t.name] = self.counts.get(t.name, 0) + len(rows)
            if self.copy:
                self._copy(t, rows)
            else:
                self._executemany(t, rows)

    def _executemany(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """The Core insert, compiled once, run as one executemany with the values already
        in SQLite's storage form (what the column types would write, without their
        per-value overhead)."""
        columns = list(rows[0])
        statement = sa.insert(table).compile(dialect=self.conn.dialect,
                                             column_keys=columns)
        order = [name for name in statement.positiontup] if statement.positional else None
        names = order or columns
        convert = [_sqlite_value(table.c[c].type) for c in names]
        params = [tuple(f(row[c]) for f, c in zip(convert, names)) for row in rows]
        if not statement.positional:
            raise RuntimeError("expected a positional paramstyle for SQLite")
        self.conn.exec_driver_sql(str(statement), params)

    def _copy(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        columns = list(rows[0])
        json_columns = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
        raw = self.conn.connection.driver_connection
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(row[c]) if c in json_columns and row[c] is not None
                                else row[c] for c in columns])


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_value(column_type: sa.types.TypeEngine):
    """How SQLAlchemy stores a Python value of this type on SQLite."""
    if isinstance(column_type, sa.JSON):
        return lambda v: None if v is None else json.dumps(v)
    if isinstance(column_type, sa.types.TypeDecorator) and isinstance(column_type.impl, sa.DateTime):
        return _sqlite_datetime
    if isinstance(column_type, sa.Boolean):
        return lambda v: None if v is None else int(v)
    return lambda v: v


def prepare(url: str, replace: bool) -> None:
    """A new, empty database at `url` (dropped first with --replace)."""
    target = sa.make_url(url)
    if target.get_backend_name() == "sqlite":
        path = Path(target.database)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or Path(f"{path}-wal").exists():
            if not replace:
                sys.exit(f"{path} exists: pass --replace to build it again")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": target.database}).scalar()
        if exists and not replace:
            sys.exit(f"database {target.database} exists: pass --replace to build it again")
        if exists:
            conn.exec_driver_sql(f'DROP DATABASE "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


class Organisation:
    """The people and sites, with ids fixed in advance so that rows can refer to them."""

    def __init__(self, rng: random.Random, engineers: int, now: datetime) -> None:
        self.admin_id = 1
        teams = max(1, round(engineers / 20))
        self.supervisor_ids = list(range(2, 2 + teams))
        first = 2 + teams
        self.engineer_ids = list(range(first, first + engineers))
        self.level = {e: weighted(rng, LEVELS) for e in self.engineer_ids}
        self.work_type = {e: "field" if rng.random() < FIELD_SHARE else "remote"
                          for e in self.engineer_ids}
        self.supervisor = {e: self.supervisor_ids[i * teams // engineers]
                           for i, e in enumerate(self.engineer_ids)}
        # Some engineers take more work than others.
        self.workload = list(itertools.accumulate(rng.uniform(0.5, 1.5) for _ in self.engineer_ids))
        self.site_count = max(10, engineers * 5)
        self.sites = [(31.0 + rng.uniform(0, 0.4), 121.2 + rng.uniform(0, 0.45))
                      for _ in range(self.site_count)]
        self.joined = now - timedelta(days=400)


def people(sink: Sink, org: Organisation, password_hash: str) -> None:
    joined = org.joined
    sink.add("users", dict(id=org.admin_id, email=f"admin@{DOMAIN}", name="Admin",
                           password_hash=password_hash, role="admin", level=None, work_type=None,
                           supervisor_id=None, locale="en", active=True,
                           created_at=joined, updated_at=joined))
    for i, s in enumerate(org.supervisor_ids, 1):
        sink.add("users", dict(id=s, email=f"supervisor{i:03d}@{DOMAIN}", name=f"Supervisor {i:03d}",
                               password_hash=password_hash, role="supervisor", level=None,
                               work_type=None, supervisor_id=None, locale="en", active=True,
                               created_at=joined, updated_at=joined))
    for i, e in enumerate(org.engineer_ids, 1):
        sink.add("users", dict(id=e, email=f"engineer{i:04d}@{DOMAIN}", name=f"Engineer {i:04d}",
                               password_hash=password_hash, role="engineer", level=org.level[e],
                               work_type=org.work_type[e], supervisor_id=org.supervisor[e],
                               locale="en", active=True, created_at=joined, updated_at=joined))
    for i, (lat, lon) in enumerate(org.sites, 1):
        sink.add("sites", dict(id=i, name=f"Site {i:05d}", customer_name=f"Customer {i % 997:03d}",
                               address=f"{i} Bench Road", lat=round(lat, 6), lon=round(lon, 6),
                               radius_m=150, created_by_id=org.admin_id, created_at=joined,
                               updated_at=joined))
    sink.flush()


def tokens(sink: Sink, org: Organisation, rng: random.Random, out: Path | None) -> None:
    lines = []
    for i, e in enumerate(org.engineer_ids, 1):
        token = "fp_" + base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()
        sink.add("api_tokens", dict(id=i, user_id=e, name="bench",
                                    digest=hashlib.sha256(token.encode()).hexdigest(),
                                    prefix=token[:10], created_at=org.joined, last_used_at=None,
                                    revoked_at=None))
        lines.append(f"{e},{token}")
    sink.flush()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")


def _near(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float, float]:
    """A point about `metres` from (lat, lon), and its distance."""
    distance = abs(rng.gauss(0, metres))
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111_320
    dlon = distance * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
    return round(lat + dlat, 6), round(lon + dlon, 6), round(distance, 1)


def jobs(sink: Sink, org: Organisation, rng: random.Random, count: int, now: datetime) -> None:
    """`count` jobs reported evenly over the last year, with visits, feedback, complaints."""
    start = now - timedelta(days=365)
    span = (now - timedelta(hours=1) - start).total_seconds()
    visit_id = feedback_id = complaint_id = 0
    engineers = org.engineer_ids
    for job_id in range(1, count + 1):
        reported = start + timedelta(seconds=span * (job_id - rng.random()) / count)
        engineer = rng.choices(engineers, cum_weights=org.workload)[0] if job_id % 50 else None
        site = rng.randrange(1, org.site_count + 1)
        lat, lon = org.sites[site - 1]
        mode = org.work_type.get(engineer, "field")
        if mode == "field" and rng.random() < 0.08:
            mode = "remote"
        age_h = (now - reported).total_seconds() / 3600
        if engineer is None:
            status = "new" if age_h < 24 or rng.random() < 0.5 else "cancelled"
        elif rng.random() < 0.03:
            status = "cancelled"
        elif age_h < 72:
            status = weighted(rng, (("assigned", 2), ("in_progress", 3), ("closed", 5)))
        else:
            status = "closed" if rng.random() < 0.995 else "in_progress"
        assigned = first_contact = closed = cancelled = None
        if engineer is not None:
            assigned = reported + timedelta(minutes=rng.uniform(2, 180))
        if status in ("in_progress", "closed") or (status == "cancelled" and engineer and rng.random() < 0.5):
            first_contact = assigned + timedelta(minutes=rng.expovariate(1 / 45))
        visits_out = []
        if mode == "field" and engineer is not None and first_contact is not None:
            n = weighted(rng, VISIT_COUNTS) if status == "closed" else 1
            checkin = first_contact + timedelta(minutes=rng.uniform(30, 600))
            for k in range(n):
                fate = weighted(rng, VISIT_FATES)
                # The last visit of a closed job is the one that did the work.
                if status == "closed" and k == n - 1 and fate[0] == "flagged":
                    fate = VISIT_FATES[0][0]
                minutes = rng.uniform(20, 180) if "SHORT_VISIT" not in fate[1] else rng.uniform(1, 4)
                checkout = checkin + timedelta(minutes=minutes)
                if checkout > now - timedelta(minutes=5):
                    break
                visits_out.append((checkin, checkout, fate))
                checkin = checkout + timedelta(hours=rng.uniform(18, 50))
            if status == "closed" and not visits_out:
                status = "in_progress"
        if status == "closed":
            base = visits_out[-1][1] if visits_out else first_contact
            closed = base + timedelta(minutes=rng.uniform(10, 240))
            if closed > now:
                status = "in_progress"
                closed = None
        if status == "cancelled":
            cancelled = (assigned or reported) + timedelta(hours=rng.uniform(1, 48))
            if cancelled > now:
                cancelled = now - timedelta(minutes=1)
        fixed = checklist = complete = None
        if status == "closed":
            fixed = rng.random() < 0.9
            checklist = {item: True for item in CHECKLIST}
            if rng.random() < 0.06:
                checklist[rng.choice(CHECKLIST)] = False
            complete = all(checklist.values())
        repeat_of = None
        if job_id > 1000 and rng.random() < 0.03:
            repeat_of = job_id - rng.randrange(1, 1000)
        created = reported + timedelta(seconds=rng.uniform(5, 600))
        sink.add("jobs", dict(
            id=job_id, site_id=site, title=f"Fault {job_id}", description="Unit not working.",
            category=CATEGORIES[job_id % 5], priority=weighted(rng, PRIORITIES), mode=mode,
            asset_ref=None, status=status, reported_at=reported, scheduled_for=None,
            engineer_id=engineer, created_by_id=org.supervisor.get(engineer, org.admin_id),
            assigned_at=assigned, first_contact_at=first_contact, closed_at=closed,
            resolution="Replaced the faulty part." if closed else None, fixed=fixed,
            checklist=checklist, checklist_complete=complete, repeat_of_id=repeat_of,
            cancelled_at=cancelled, cancel_reason="Customer cancelled." if cancelled else None,
            created_at=created, updated_at=closed or cancelled or created,
        ))
        for checkin, checkout, (vstatus, flags, decided, rejected, disputed) in visits_out:
            visit_id += 1
            far = "OUTSIDE_GEOFENCE" in flags
            in_lat, in_lon, in_d = _near(rng, lat, lon, 900 if far else 25)
            out_lat, out_lon, out_d = _near(rng, lat, lon, 900 if far else 25)
            decided_at = checkout + timedelta(hours=rng.uniform(2, 30)) if decided else None
            if decided_at is not None and decided_at > now:
                decided_at = now - timedelta(minutes=1)
            sink.add("visits", dict(
                id=visit_id, job_id=job_id, site_id=site, engineer_id=engineer, status=vstatus,
                flags=flags, in_lat=in_lat, in_lon=in_lon,
                in_accuracy_m=300.0 if "LOW_ACCURACY" in flags else round(rng.uniform(4, 40), 1),
                in_client_time=checkin, in_server_time=checkin + timedelta(seconds=rng.uniform(0.3, 4)),
                in_distance_m=in_d, in_mock="MOCK_LOCATION" in flags,
                in_flags=[f for f in flags if f != "SHORT_VISIT"],
                out_lat=out_lat, out_lon=out_lon, out_accuracy_m=round(rng.uniform(4, 40), 1),
                out_client_time=checkout,
                out_server_time=checkout + timedelta(seconds=rng.uniform(0.3, 4)),
                out_distance_m=out_d, out_mock=False,
                out_flags=["SHORT_VISIT"] if "SHORT_VISIT" in flags else [],
                decision_note="Checked with the customer." if decided else None,
                decided_by_id=org.supervisor[engineer] if decided else None,
                decided_at=decided_at, rejected_at=decided_at if rejected or disputed else None,
                dispute_note="I was on site." if disputed else None,
                disputed_at=decided_at + timedelta(hours=1) if disputed else None,
                decision_final=rejected, created_at=checkin,
            ))
        if closed is not None and rng.random() < 0.3:
            submitted = closed + timedelta(hours=rng.uniform(0.5, 48))
            if submitted < now:
                feedback_id += 1
                score = weighted(rng, FEEDBACK_SCORES)
                sink.add("feedback", dict(id=feedback_id, job_id=job_id, link_id=None, score=score,
                                          comment="Quick and tidy." if score >= 9 else None,
                                          submitted_at=submitted))
        if closed is not None and rng.random() < 0.015:
            received = closed + timedelta(hours=rng.uniform(1, 120))
            if received < now:
                complaint_id += 1
                resolved = received + timedelta(hours=rng.uniform(2, 72))
                resolved = resolved if resolved < now and rng.random() < 0.8 else None
                sink.add("complaints", dict(
                    id=complaint_id, job_id=job_id, detail="The fault came back.",
                    received_at=received, created_by_id=org.supervisor[engineer],
                    resolution="Revisited." if resolved else None, resolved_at=resolved,
                    resolved_by_id=org.supervisor[engineer] if resolved else None,
                    created_at=received))
    sink.flush()


def months_back(now: datetime, count: int) -> Iterator[datetime]:
    """The first instant (UTC) of this month and the `count` - 1 before it, oldest first."""
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = [first]
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        starts.append(first)
    return iter(reversed(starts))


def records(sink: Sink, org: Organisation, rng: random.Random, now: datetime) -> None:
    """Trainings, knowledge items and compliance events, month by month."""
    training_id = item_id = event_id = 0
    engineers = org.engineer_ids
    for month in months_back(now, 13):
        span = min(now, (month + timedelta(days=32)).replace(day=1)) - month
        if span.total_seconds() <= 0:
            continue

        def moment() -> datetime:
            return month + timedelta(seconds=rng.uniform(0, span.total_seconds()))

        if month < now - timedelta(days=366):
            continue
        for _ in range(max(1, len(engineers) // 100)):
            training_id += 1
            held = moment()
            sink.add("trainings", dict(id=training_id, title=f"Training {training_id}", held_at=held,
                                       hours=2, created_by_id=org.admin_id, created_at=held))
            for e in rng.sample(engineers, min(len(engineers), 30)):
                sink.add("training_attendees", dict(training_id=training_id, user_id=e))
        for e in engineers:
            for _ in range(rng.choices((0, 1, 2), (45, 45, 10))[0]):
                item_id += 1
                created = moment()
                status = weighted(rng, (("approved", 70), ("submitted", 20), ("rejected", 10)))
                reviewed = created + timedelta(hours=rng.uniform(1, 72)) if status != "submitted" else None
                if reviewed is not None and reviewed > now:
                    status, reviewed = "submitted", None
                sink.add("knowledge_items", dict(
                    id=item_id, author_id=e, kind="case" if rng.random() < 0.8 else "document",
                    title=f"Case {item_id}", symptom="No cooling.", cause="Failed capacitor.",
                    solution="Replaced the capacitor.", tags=["hvac"], job_id=None, status=status,
                    search_terms=None,
                    quality=rng.choices((2, 3, 4, 5), (5, 25, 45, 25))[0] if status == "approved" else None,
                    review_note="Thanks." if reviewed else None,
                    reviewed_by_id=org.supervisor[e] if reviewed else None, reviewed_at=reviewed,
                    created_at=created, updated_at=reviewed or created))
            if rng.random() < 0.08:
                event_id += 1
                occurred = moment()
                sink.add("compliance_events", dict(
                    id=event_id, engineer_id=e,
                    kind="safety_incident" if rng.random() < 0.3 else "process_violation",
                    severity=weighted(rng, (("low", 60), ("medium", 30), ("high", 10))),
                    occurred_at=occurred, note="Noted on site.",
                    created_by_id=org.supervisor[e], created_at=occurred))
    sink.flush()


def reset_sequences(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """After COPY with explicit ids, PostgreSQL's sequences must move past them."""
    if conn.dialect.name != "postgresql":
        return
    for table in metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement in (True, "auto"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                f"COALESCE((SELECT max({pk[0].name}) FROM \"{table.name}\"), 0) + 1, false)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True,
                        help="sqlite:///path or postgresql+psycopg://user@host:port/name")
    parser.add_argument("--engineers", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--open-months", type=int, default=2,
                        help="months left open (this one included); older ones are closed")
    parser.add_argument("--now", type=datetime.fromisoformat,
                        help="the moment the data ends, e.g. 2026-11-02T12:00:00+00:00 for the "
                             "second day of a month (default: now)")
    parser.add_argument("--tokens-out", type=Path, help="write engineer_id,token lines here")
    parser.add_argument("--replace", action="store_true", help="drop the database first")
    args = parser.parse_args()

    began = time.perf_counter()

    def step(label: str, since: float) -> float:
        now_ = time.perf_counter()
        print(f"{label:<44} {now_ - since:8.1f} s", flush=True)
        return now_

    prepare(args.database, args.replace)
    app = kpi_sql.make_app(args.database)
    from flask_migrate import upgrade

    from app.extensions import db
    from app.services.auth import hash_password

    rng = random.Random(args.seed)
    now = (args.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    if now > datetime.now(UTC):
        sys.exit("--now must not be in the future")
    with app.app_context():
        t = time.perf_counter()
        upgrade()
        t = step("schema (flask db upgrade)", t)
        metadata = db.metadata
        org = Organisation(rng, args.engineers, now)
        with db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA cache_size=-262144")
            sink = Sink(conn, metadata)
            people(sink, org, hash_password(PASSWORD))
            tokens(sink, org, rng, args.tokens_out)
            t = step(f"{len(org.engineer_ids)} engineers, sites, tokens", t)
            jobs(sink, org, rng, args.jobs, now)
            t = step(f"{sink.counts.get('jobs', 0)} jobs, {sink.counts.get('visits', 0)} visits, "
                     f"{sink.counts.get('feedback', 0)} feedback", t)
            records(sink, org, rng, now)
            reset_sequences(conn, metadata)
            t = step("trainings, knowledge, compliance", t)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
        t = step("ANALYZE", t)
        from app.services.kpi import store

        rows = store.rebuild(app.config["TIMEZONE"])  # bulk rows bypass the store's upkeep
        db.session.commit()
        t = step(f"KPI store built ({rows} engineer-months)", t)
        closed = close_months(org, now, args.open_months)
        t = step(f"{closed} months closed (KPI close)", t)
        # The rows just built and closed, as autovacuum leaves them on a running server:
        # visible to index-only scans, with their statistics.
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("VACUUM ANALYZE kpi_figures")
                conn.exec_driver_sql("VACUUM ANALYZE kpi_cards")
            else:
                conn.exec_driver_sql("ANALYZE kpi_figures")
                conn.exec_driver_sql("ANALYZE kpi_cards")
                conn.commit()
        t = step("VACUUM ANALYZE of the KPI store and cards", t)
        counts = ", ".join(f"{name} {n}" for name, n in sink.counts.items())
        print(f"rows: {counts}")
        db.engine.dispose()
    print(f"{'total':<44} {time.perf_counter() - began:8.1f} s")


def close_months(org: Organisation, now: datetime, open_months: int) -> int:
    """Close every month with data older than the last `open_months`, oldest first."""
    from app.extensions import db
    from app.models import User
    from app.services.kpi.cards import close_period

    admin = db.session.get(User, org.admin_id)
    starts = list(months_back(now, 13))
    closing = starts[:max(0, len(starts) - open_months)]
    for month in closing:
        close_period(admin, month.strftime("%Y-%m"))
        db.session.commit()
    return len(closing)


if __name__ == "__main__":
    main()
