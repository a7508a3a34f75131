"""The check-in's CPU in one process: the app and its floor (bench/floor_app.py) called
as WSGI applications directly, one check-in after another on the load benchmarks'
organisation, each timed by the process's CPU clock (the Python, the driver and, for
SQLite, the database's own work; not a server's). A diagnosis beside checkin_load.py:
under load a figure moves by a third from round to round, this one by a few percent.

    .venv/bin/python bench/checkin_cpu.py --database sqlite          # or postgresql
    .venv/bin/python bench/checkin_cpu.py --database sqlite --phases # SQLite's write lock

With --phases (SQLite), the time each check-in holds the database's write lock, from
BEGIN IMMEDIATE to its write turn given back after the COMMIT (a checkpoint, when due,
comes after), split where it goes: before the service's check-in, the check-in, the
answer built, the key recorded, the session's commit, the KPI month, the commit itself
(medians, wall clock; and the whole's mean). The last line is the ratio of the
floor's CPU per check-in to the app's.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import loadtest  # noqa: E402
from checkin_load import requests_lines  # noqa: E402

WARM_UP = 200
PHASES = ("begin", "check_in0", "check_in1", "store_response0", "store_response1",
          "apply0", "apply1", "commit0", "end")


def environs(lines: list[str]) -> list[dict]:
    from werkzeug.test import EnvironBuilder

    made = []
    for line in lines:
        token, _engineer, path, body = line.split("\t")
        made.append(EnvironBuilder(path=path, method="POST", data=body, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex}).get_environ())
    return made


def cpu_per_request(target, made: list[dict]) -> tuple[float, dict[str, int]]:
    """Microseconds of the process's CPU per request, and the answers' statuses."""
    statuses: dict[str, int] = {}

    def start_response(status, headers, exc_info=None):
        statuses[status[:3]] = statuses.get(status[:3], 0) + 1

    began = time.process_time()
    for environ in made:
        body = target(environ, start_response)
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()
    return (time.process_time() - began) / len(made) * 1e6, statuses


class LockPhases:
    """Stamps inside SQLite's write lock (the writer queue's connection and the
    check-in's steps wrapped in place); one dict of stamps per write transaction."""

    def __init__(self) -> None:
        from app import idempotency, sqlite_writers
        from app.services import visits
        from app.services.kpi import store

        self.done: list[dict[str, int]] = []
        self.now: dict[str, int] = {}
        queued = sqlite_writers.QueuedWriterConnection
        begin_write, commit, end_write = queued.begin_write, queued.commit, queued._end_write
        phases = self

        def timed_begin(conn, timeout):
            begin_write(conn, timeout)
            phases.now = {"begin": time.perf_counter_ns()}

        def timed_commit(conn):
            phases.mark("commit0")
            commit(conn)  # and a checkpoint, when due, after the turn is given back

        def timed_end(conn):  # The turn given back is the write lock's end.
            held = conn.holds_write_turn
            end_write(conn)
            if held and "begin" in phases.now:
                phases.mark("end")
                phases.done.append(phases.now)
            phases.now = {}

        queued.begin_write, queued.commit, queued._end_write = (
            timed_begin, timed_commit, timed_end)
        for module, name in ((visits, "check_in"), (store, "apply"),
                             (idempotency, "store_response")):
            self._wrap(module, name)

    def mark(self, name: str) -> None:
        if "begin" in self.now:
            self.now[name] = time.perf_counter_ns()

    def _wrap(self, module, name: str) -> None:
        inner = getattr(module, name)

        def timed(*args, **kwargs):
            self.mark(name + "0")
            try:
                return inner(*args, **kwargs)
            finally:
                self.mark(name + "1")

        setattr(module, name, timed)

    def report(self) -> None:
        whole = [s for s in self.done if all(p in s for p in PHASES)]
        print(f"write lock held, {len(whole)} check-ins (medians):")
        for start, end in zip(PHASES, PHASES[1:]):
            spans = [(s[end] - s[start]) / 1000 for s in whole]
            print(f"  {start:>15} -> {end:<15} {statistics.median(spans):7.1f} us")
        held = [(s["end"] - s["begin"]) / 1000 for s in whole]
        print(f"  held in all                     {statistics.median(held):7.1f} us"
              f" (mean {statistics.mean(held):.1f} us)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (default), postgresql, or a PostgreSQL URL")
    parser.add_argument("--check-ins", type=int, default=1500, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engineers", type=int, default=300)
    parser.add_argument("--phases", action="store_true",
                        help="SQLite: where the write lock's time goes")
    args = parser.parse_args()

    tmp = loadtest.temp_dir()
    database = loadtest.ScratchDatabase(args.database, tmp)
    try:
        now = datetime.now(UTC)
        # Each round's check-ins are the floor's and then others for the app: the floor
        # starts its jobs too, and the app's must still be assigned.
        jobs_each = -(-(2 * (WARM_UP + args.check_ins * args.rounds)) // args.engineers) + 1
        org = loadtest.seed(database.url, tmp / "seed", args.engineers, jobs_each,
                            sites=200, reported_at=now - timedelta(hours=3))
        lines = requests_lines(org, now - timedelta(hours=1))
        import floor_app

        floor_app.create_tables(database.url)
        os.environ.update(loadtest.server_env(database.url, tmp / "instance"))
        phases = LockPhases() if args.phases and database.kind == "sqlite" else None
        import wsgi

        app, floor = wsgi.app, floor_app.create_app(database.url)
        cpu_per_request(floor, environs(lines[:WARM_UP]))
        cpu_per_request(app, environs(lines[WARM_UP:2 * WARM_UP]))
        if phases is not None:
            phases.done.clear()
        used, floors, apps = 2 * WARM_UP, [], []
        for n in range(args.rounds):
            theirs, ours = (lines[used:used + args.check_ins],
                            lines[used + args.check_ins:used + 2 * args.check_ins])
            used += 2 * args.check_ins
            floor_us, floor_statuses = cpu_per_request(floor, environs(theirs))
            app_us, app_statuses = cpu_per_request(app, environs(ours))
            floors.append(floor_us)
            apps.append(app_us)
            print(f"  round {n + 1}: floor {floor_us:6.0f} us {floor_statuses}, "
                  f"app {app_us:6.0f} us {app_statuses}")
        if phases is not None:
            phases.report()
        floor_us, app_us = statistics.median(floors), statistics.median(apps)
        print(f"{database.kind}: CPU per check-in, floor {floor_us:.0f} us, app {app_us:.0f} us")
        print(f"ratio {floor_us / app_us:.2f}")
    finally:
        database.drop()
        loadtest.cleanup(tmp)


if __name__ == "__main__":
    main()
