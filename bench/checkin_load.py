"""POST /api/v1/visits/check-in under load against its floor (quality.md, speed table).

    .venv/bin/python bench/checkin_load.py [--database sqlite|postgresql|URL]
                                           [--seconds 15] [--rounds 3] [--connections 32]

Both servers are gunicorn with the top-level gunicorn.conf.py, on loopback, on a scratch
database of the bench's own (a SQLite file, or a new database on the PostgreSQL server
that URL names, dropped at the end). wrk (apt-get install -y wrk) keeps 32 connections
busy; every request is a valid check-in (bearer token, a job of that engineer without an
open visit, a position inside the site's fence, a unique Idempotency-Key), so that the
app runs every flag check and answers 201; one in twenty reports a poor GPS accuracy and
is flagged. The floor (bench/floor_app.py) is the contract-minimal check-in of
quality.md's second release: the same JSON loaded with marshmallow, the caller found by
token, the job read, one geodesic distance, then the Idempotency-Key recorded, the visit
inserted and the job marked started in one transaction. Rounds alternate,
floor then app, after a short warm-up of each. Afterwards the visits stored are counted
against the 201 answers (nothing acknowledged may be missing); the servers' logs are
kept in bench/out/.
Goal: requests/s ≥ 0.6 × the floor's, p99 ≤ 2 × the floor's, no failed request.

With `--target ceiling` the app's check-in is replaced by bench/checkin_ceiling.py (the
check-in's own statements without the framework), to see what trimming could reach.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadtest  # noqa: E402

PATH = "/api/v1/visits/check-in"
LOW_ACCURACY_SHARE = 0.05
WARM_UP_S = 3


def requests_lines(org: loadtest.Organisation, start: datetime) -> list[str]:
    """Engineer after engineer, each one's k-th job at minute k: no job twice, and each
    engineer's successive check-ins a plausible walk around their own site."""
    rng = random.Random(11)
    lines = []
    depth = min(len(jobs) for jobs in org.jobs.values())
    for k in range(depth):
        client_time = (start + timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for engineer in org.engineers:
            lat, lon = org.sites[org.site_of_engineer[engineer]]
            accuracy = 150.0 if rng.random() < LOW_ACCURACY_SHARE else round(rng.uniform(5, 30), 1)
            body = {
                "job_id": org.jobs[engineer][k],
                "lat": round(lat + rng.uniform(-0.0004, 0.0004), 7),
                "lon": round(lon + rng.uniform(-0.0004, 0.0004), 7),
                "accuracy_m": accuracy, "client_time": client_time, "mock_location": False,
            }
            lines.append(f"{org.tokens[engineer]}\t{engineer}\t{PATH}\t{json.dumps(body)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (default), postgresql, or a PostgreSQL URL (a scratch database is made beside it)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--engineers", type=int, default=2000)
    parser.add_argument("--jobs-per-engineer", type=int, default=40)
    parser.add_argument("--target", choices=("app", "ceiling"), default="app",
                        help="ceiling: bench/checkin_ceiling.py in place of the app's check-in")
    args = parser.parse_args()
    loadtest.check_tools()

    tmp = loadtest.temp_dir()
    database = loadtest.ScratchDatabase(args.database, tmp)
    servers: list[loadtest.Server] = []
    try:
        now = datetime.now(UTC)
        org = loadtest.seed(database.url, tmp / "seed", args.engineers, args.jobs_per_engineer,
                            sites=200, reported_at=now - timedelta(hours=3))
        lines = requests_lines(org, now - timedelta(hours=1))
        requests_file = loadtest.write_requests(tmp / "check-ins.tsv", lines)
        earlier = loadtest.count_rows(database.url, "visits")  # the organisation's past
        import floor_app

        floor_app.create_tables(database.url)
        env = loadtest.server_env(database.url, tmp / "instance")
        floor = loadtest.Server("floor", "floor_app:app", env, tmp)
        servers.append(floor)
        app = loadtest.Server(args.target, "wsgi:app" if args.target == "app" else "checkin_ceiling:app",
                              env, tmp)
        servers.append(app)
        floor.wait_ready("/api/v1/jobs")
        app.wait_ready("/api/v1/jobs")
        print(f"check-in load on {database.kind}: {args.connections} connections, "
              f"{args.rounds} rounds of {args.seconds:g} s each, {len(org.engineers)} engineers, "
              f"{len(lines)} distinct check-ins available")

        used = 0
        created = 0
        run = f"{random.getrandbits(32):08x}"

        def app_round(name: str, seconds: float) -> loadtest.Result:
            nonlocal used, created
            result = loadtest.run_wrk(app.base + PATH, "POST", 201, requests_file, f"{run}-{name}",
                                      seconds, args.connections, first_line=used)
            used += result.lines_used
            created += result.statuses.get("201", 0)
            if used > len(lines):
                raise SystemExit("ran out of distinct check-ins; raise --jobs-per-engineer")
            return result

        def floor_round(name: str, seconds: float) -> loadtest.Result:
            return loadtest.run_wrk(floor.base + PATH, "POST", 201, requests_file, f"{run}-{name}",
                                    seconds, args.connections)

        floor_round("warm", WARM_UP_S)
        app_round("warm", WARM_UP_S)
        floors, apps = [], []
        for n in range(args.rounds):
            floors.append(floor_round(f"f{n}", args.seconds))
            apps.append(app_round(f"a{n}", args.seconds))
        stored = loadtest.count_rows(database.url, "visits") - earlier
        floor_rps, floor_p99, floor_failures = loadtest.summary("floor", floors)
        app_rps, app_p99, app_failures = loadtest.summary(args.target, apps)
        print(f"visits stored {stored}, 201 answers {created}"
              + ("" if stored >= created else " — ACKNOWLEDGED CHECK-INS MISSING"))
        print(f"p99 ratio {app_p99 / floor_p99:.2f} (goal <= 2), failures {app_failures} (goal 0)")
        print(f"ratio {app_rps / floor_rps:.2f} (goal >= 0.6)")
    finally:
        for server in servers:
            server.stop(keep_log_as=f"checkin-{database.kind}-{server.name}.log")
        database.drop()
        loadtest.cleanup(tmp)


if __name__ == "__main__":
    main()
