"""The CSV import of 10,000 jobs against the csv module and one bulk insert.

    .venv/bin/python bench/job_import.py [--rows 10000] [--rounds 3]

The import is the whole request through the app (POST /jobs/import as an admin: the
body decoded and parsed as a stream, every row checked, the references looked up, the
jobs inserted with their repeat-repair links, keyword alerts and one audit entry, one
commit) on a temporary SQLite database. The floor is the least any import must do:
csv.DictReader over the same bytes and one executemany INSERT of the same rows into the
jobs table, committed. The two alternate, round by round, on the same database (the
rows are deleted between rounds). The dry run of the same file is timed too.

Peak memory is the largest Python allocation above the starting point during one
request (tracemalloc, in a separate run, as tracing slows the code down), for the
import and for the floor. Goal: peak < 64 MB for 10,000 rows, ratio <= 3.
"""
from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = ("external_id", "site_id", "title", "description", "category", "priority",
           "reported_at", "scheduled_for", "engineer_id")


def make_csv(rows: int, site_ids: list[int], engineer_ids: list[int]) -> bytes:
    """A realistic export: ticket ids, Chinese and English text, half of it dispatched."""
    start = datetime.now(UTC) - timedelta(days=20)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for i in range(rows):
        reported = start + timedelta(minutes=2 * i)
        writer.writerow([
            f"INC{1000000 + i}", site_ids[i % len(site_ids)],
            f"空调不制冷 Air conditioner not cooling, unit {i % 97}",
            f"Customer reports the unit blows warm air since {reported:%H:%M}; checked filter.",
            ("hvac", "electrical", "plumbing", "appliance", "network")[i % 5],
            ("low", "normal", "high", "urgent")[i % 4],
            reported.isoformat().replace("+00:00", "Z"),
            (reported + timedelta(days=1)).date().isoformat(),
            engineer_ids[i % len(engineer_ids)] if i % 2 else "",
        ])
    return out.getvalue().encode()


def floor(engine, data: bytes, admin_id: int) -> int:
    """csv.DictReader and one executemany INSERT: what any import must at least do."""
    import sqlalchemy as sa

    from app.models import Job

    now = datetime.now(UTC)
    rows = []
    for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")):
        engineer = int(row["engineer_id"]) if row["engineer_id"] else None
        rows.append({
            "site_id": int(row["site_id"]), "title": row["title"], "description": row["description"],
            "category": row["category"], "priority": row["priority"], "mode": "field",
            "reported_at": datetime.fromisoformat(row["reported_at"]),
            "scheduled_for": datetime.fromisoformat(row["scheduled_for"]).date(),
            "engineer_id": engineer, "status": "assigned" if engineer else "new",
            "assigned_at": now if engineer else None, "created_by_id": admin_id, "source": "csv",
            "external_id": row["external_id"], "created_at": now, "updated_at": now,
        })
    with engine.begin() as conn:
        conn.execute(sa.insert(Job.__table__), rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig
    from app.extensions import db
    from app.models import Alert, AuditEntry, Job, Site, User
    from app.services.auth import create_token, hash_password

    tmp = Path(tempfile.mkdtemp(prefix="fieldproof-bench-"))
    app = create_app(TestConfig(tmp / "instance", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/b.db"))
    with app.app_context():
        upgrade()
        password = hash_password("x" * 12)
        admin = User(email="a@bench", name="A", role="admin", password_hash=password)
        engineers = [User(email=f"e{i}@bench", name=f"E{i}", role="engineer", level="mid",
                          work_type="field", password_hash=password) for i in range(20)]
        sites = [Site(name=f"S{i}", customer_name="C", address="A", lat=31.2, lon=121.4,
                      radius_m=150) for i in range(50)]
        db.session.add_all([admin, *engineers, *sites])
        db.session.flush()
        data = make_csv(args.rows, [s.id for s in sites], [e.id for e in engineers])
        _, token = create_token(admin, "bench")
        admin_id = admin.id
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    def run_import(dry_run: bool = False) -> None:
        query = "?dry_run=true" if dry_run else ""
        response = client.post("/api/v1/jobs/import" + query, data=data, content_type="text/csv",
                               headers=headers)
        assert response.status_code == (200 if dry_run else 201), response.get_data(as_text=True)[:500]
        assert response.json["accepted"] == args.rows

    def reset() -> None:
        with engine.begin() as conn:
            for table in (Alert, AuditEntry, Job):
                conn.execute(sa.delete(table.__table__))

    def timed(call) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    def peak(call) -> float:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return (top - base) / 2**20

    with app.app_context():
        run_import(dry_run=True)  # warm up imports and caches
        floor(engine, data, admin_id)
        reset()
        import_s, floor_s, dry_s = [], [], []
        for _ in range(args.rounds):
            dry_s.append(timed(lambda: run_import(dry_run=True)))
            import_s.append(timed(run_import))
            reset()
            floor_s.append(timed(lambda: floor(engine, data, admin_id)))
            reset()
        import_mb = peak(run_import)
        reset()
        floor_mb = peak(lambda: floor(engine, data, admin_id))
    imported, base, dry = (statistics.median(v) for v in (import_s, floor_s, dry_s))
    print(f"{args.rows} rows, {len(data) / 2**20:.1f} MB of CSV, {args.rounds} rounds, SQLite")
    print(f"import (POST /jobs/import) median {imported:.2f} s, dry run median {dry:.2f} s, "
          f"floor (csv.DictReader + one executemany INSERT) median {base:.2f} s")
    print(f"peak Python memory during one request: import {import_mb:.1f} MB, "
          f"floor {floor_mb:.1f} MB (goal < 64 MB)")
    print(f"ratio {imported / base:.2f} (goal <= 3)")


if __name__ == "__main__":
    main()
