"""GET /api/v1/jobs (a page of 50 of an engineer's jobs) under load against its floor
(quality.md, speed table).

    .venv/bin/python bench/jobs_load.py [--database sqlite|postgresql|URL]
                                        [--seconds 15] [--rounds 3] [--connections 32]

Both servers are gunicorn with the top-level gunicorn.conf.py, on loopback, on a scratch
database of the bench's own (a SQLite file, or a new database on the PostgreSQL server
that URL names, dropped at the end), with 500 engineers of 200 jobs each. wrk
(apt-get install -y wrk) keeps 32 connections busy, each request an engineer's bearer
token asking for their first page (50 jobs, newest first, with the total). The floor
(bench/floor_app.py) selects the same 50 rows with one query and returns them as JSON.
Rounds alternate, floor then app, after a short warm-up of each. The servers' logs
are kept in bench/out/.
Goal: requests/s ≥ 0.5 × the floor's, no failed request.
"""
from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadtest  # noqa: E402

PATH = "/api/v1/jobs"
WARM_UP_S = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (default), postgresql, or a PostgreSQL URL (a scratch database is made beside it)")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--engineers", type=int, default=500)
    parser.add_argument("--jobs-per-engineer", type=int, default=200)
    args = parser.parse_args()
    loadtest.check_tools()

    tmp = loadtest.temp_dir()
    database = loadtest.ScratchDatabase(args.database, tmp)
    servers: list[loadtest.Server] = []
    try:
        now = datetime.now(UTC)
        org = loadtest.seed(database.url, tmp / "seed", args.engineers, args.jobs_per_engineer,
                            sites=100, reported_at=now - timedelta(days=2))
        order = list(org.engineers)
        random.Random(5).shuffle(order)
        requests_file = loadtest.write_requests(
            tmp / "pages.tsv", [f"{org.tokens[e]}\t{e}\t{PATH}\t" for e in order])
        env = loadtest.server_env(database.url, tmp / "instance")
        floor = loadtest.Server("floor", "floor_app:app", env, tmp)
        servers.append(floor)
        app = loadtest.Server("app", "wsgi:app", env, tmp)
        servers.append(app)
        floor.wait_ready("/api/v1/visits/check-in")
        app.wait_ready(PATH)
        print(f"jobs page load on {database.kind}: {args.connections} connections, "
              f"{args.rounds} rounds of {args.seconds:g} s each, {len(org.engineers)} engineers "
              f"with {args.jobs_per_engineer} jobs each")

        def one_round(server: loadtest.Server, seconds: float) -> loadtest.Result:
            return loadtest.run_wrk(server.base + PATH, "GET", 200, requests_file, "-",
                                    seconds, args.connections)

        one_round(floor, WARM_UP_S)
        one_round(app, WARM_UP_S)
        floors, apps = [], []
        for _ in range(args.rounds):
            floors.append(one_round(floor, args.seconds))
            apps.append(one_round(app, args.seconds))
        floor_rps, floor_p99, _ = loadtest.summary("floor", floors)
        app_rps, app_p99, app_failures = loadtest.summary("app", apps)
        print(f"p99 ratio {app_p99 / floor_p99:.2f}, failures {app_failures} (goal 0)")
        print(f"ratio {app_rps / floor_rps:.2f} (goal >= 0.5)")
    finally:
        for server in servers:
            server.stop(keep_log_as=f"jobs-{database.kind}-{server.name}.log")
        database.drop()
        loadtest.cleanup(tmp)


if __name__ == "__main__":
    main()
