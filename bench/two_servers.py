"""Check-in throughput and p99 with two app servers against one, same run (README,
Run it for a company).

    .venv/bin/python bench/two_servers.py [--database postgresql|URL] [--seconds 8]
                                          [--rounds 2] [--connections 32]

Two gunicorn servers (the top-level gunicorn.conf.py each) on one scratch PostgreSQL
database, on loopback; the check-ins of bench/checkin_load.py (valid, unique, 201). A
"one server" round sends all connections to server A; a "two servers" round splits them
between A and B with one wrk each, at the same time, on separate halves of the
check-ins. Throughput adds the two; p99 is the larger of the two wrk p99s. Rounds
alternate. On this 2-core machine both servers share the same cores, so the figure shows
what a second server costs or gains on one host; on separate hosts the database is the
shared part.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import loadtest  # noqa: E402
from checkin_load import PATH, requests_lines  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgresql")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--engineers", type=int, default=1000)
    parser.add_argument("--jobs-per-engineer", type=int, default=40)
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
        half = len(lines) // 2
        files = [loadtest.write_requests(tmp / f"check-ins-{n}.tsv", part)
                 for n, part in enumerate((lines[:half], lines[half:]))]
        env = loadtest.server_env(database.url, tmp / "instance")
        for name in ("a", "b"):
            server = loadtest.Server(name, "wsgi:app", env, tmp)
            servers.append(server)
            server.wait_ready("/api/v1/jobs")
        a, b = servers
        used = [0, 0]
        run = f"{random.getrandbits(32):08x}"
        print(f"check-in load on {database.kind}: {args.connections} connections, "
              f"{args.rounds} rounds of {args.seconds:g} s each per layout")

        def wrk(server: loadtest.Server, part: int, name: str, connections: int,
                seconds: float) -> loadtest.Result:
            result = loadtest.run_wrk(server.base + PATH, "POST", 201, files[part],
                                      f"{run}-{name}-{part}", seconds, connections,
                                      first_line=used[part])
            used[part] += result.lines_used
            if used[part] > half:
                raise SystemExit("ran out of distinct check-ins; raise --jobs-per-engineer")
            return result

        def one(name: str, seconds: float) -> tuple[float, float, int]:
            r = wrk(a, 0, name, args.connections, seconds)
            return r.rps, r.p99_ms, r.failures

        def two(name: str, seconds: float) -> tuple[float, float, int]:
            results: list[loadtest.Result] = [None, None]  # type: ignore[list-item]

            def go(n: int, server: loadtest.Server) -> None:
                results[n] = wrk(server, n, name, args.connections // 2, seconds)

            threads = [threading.Thread(target=go, args=(n, s)) for n, s in enumerate((a, b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return (sum(r.rps for r in results), max(r.p99_ms for r in results),
                    sum(r.failures for r in results))

        one("warm1", 2)
        two("warm2", 2)
        ones, twos = [], []
        for n in range(args.rounds):
            ones.append(one(f"o{n}", args.seconds))
            twos.append(two(f"t{n}", args.seconds))
        for label, rounds in (("one server", ones), ("two servers", twos)):
            for n, (rps, p99, failures) in enumerate(rounds, 1):
                print(f"  {label} round {n}: {rps:7.1f} req/s, p99 {p99:6.1f} ms, failures {failures}")
        one_rps = statistics.median(r[0] for r in ones)
        two_rps = statistics.median(r[0] for r in twos)
        one_p99 = statistics.median(r[1] for r in ones)
        two_p99 = statistics.median(r[1] for r in twos)
        failures = sum(r[2] for r in ones + twos)
        print(f"one server: {one_rps:.1f} req/s, p99 {one_p99:.1f} ms; two servers: "
              f"{two_rps:.1f} req/s, p99 {two_p99:.1f} ms; failures {failures}")
        print(f"p99 ratio {two_p99 / one_p99:.2f} (two / one)")
        print(f"ratio {two_rps / one_rps:.2f} (throughput, two servers / one)")
    finally:
        for server in servers:
            server.stop(keep_log_as=f"two-servers-{server.name}.log")
        database.drop()
        loadtest.cleanup(tmp)


if __name__ == "__main__":
    main()
