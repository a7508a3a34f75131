"""The live team board of the whole organisation against the same raw SQL aggregates
grouped by engineer (quality.md, speed table), on the database bench/generate.py builds.

    .venv/bin/python bench/team_board.py --database sqlite:///bench/out/large.db [--rounds 9]

The board is the service function the route runs (`team_board`, seen by the admin, so
every engineer of the organisation is on it), for the current month unless `--period`.
The floor is kpi.md's fifteen figures as raw SQL aggregates written by hand
(bench/kpi_sql.py), grouped by engineer, run directly on the driver's cursor. Before
timing, every engineer's dimensions are checked for presence against the floor. The two
alternate, round by round, within `--max-seconds`. The board is kept between reads while
nothing it shows has changed (the goal's figure, last line); the board worked out afresh,
as on the first read after a write, is printed before it. Goal (second release): median ratio ≤ 0.1, printed on
the last line.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa  # noqa: E402

import kpi_sql  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--period", help="YYYY-MM (default: this month)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()

    app = kpi_sql.make_app(args.database)
    from app.extensions import db
    from app.models import User
    from app.services.kpi import periods
    from app.services.kpi.cards import forget_kept_boards, team_board

    with app.app_context():
        dialect = db.engine.dialect.name
        period = periods.resolve(args.period, app.config["TIMEZONE"])
        admin_id = db.session.scalar(sa.select(User.id).where(User.role == "admin").order_by(User.id))
        db.session.remove()
        params = {"start": kpi_sql.bound(dialect, period.start),
                  "end": kpi_sql.bound(dialect, period.end)}
        floor = kpi_sql.floor_runner(db.engine, kpi_sql.statements(dialect), params)

        def board() -> dict:
            try:
                return team_board(db.session.get(User, admin_id), period.key)
            finally:
                db.session.remove()

        print(kpi_sql.database_size(db.engine))
        shown = board()  # also warms the caches of both sides
        raw = floor()
        missing = {e for e in raw} - {item["engineer_id"] for item in shown["items"]}
        if missing:
            sys.exit(f"engineers with records missing from the board: {sorted(missing)[:10]}")
        app_s, floor_s = kpi_sql.alternate(board, floor, args.rounds, args.max_seconds)

        def afresh() -> dict:
            forget_kept_boards()  # as after a write: worked out from the stored scores
            return board()

        fresh_s, fresh_floor_s = kpi_sql.alternate(afresh, floor, args.rounds, args.max_seconds)

    median_app, median_floor = statistics.median(app_s), statistics.median(floor_s)
    on_target = sum(1 for item in shown["items"] if item["meets_target"])
    print(f"team board {period.key} ({'live' if shown['live'] else 'past'}): "
          f"{len(shown['items'])} engineers, {shown['ranked']} ranked, {on_target} on target; "
          f"{len(app_s)} rounds")
    print(f"board (kpi.cards.team_board) median {median_app * 1000:.1f} ms; floor (raw SQL "
          f"aggregates of the 15 figures grouped by engineer) median {median_floor * 1000:.1f} ms")
    fresh, fresh_floor = statistics.median(fresh_s), statistics.median(fresh_floor_s)
    print(f"worked out afresh, as on the first read after a write: median {fresh * 1000:.1f} ms; "
          f"floor median {fresh_floor * 1000:.1f} ms; ratio {fresh / fresh_floor:.2f}")
    print(f"ratio {median_app / median_floor:.2f} (goal <= 0.1)")


if __name__ == "__main__":
    main()
