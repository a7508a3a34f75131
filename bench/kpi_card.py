"""The live KPI card of one engineer against the raw SQL aggregates of its figures
(quality.md, speed table), on the database bench/generate.py builds.

    .venv/bin/python bench/kpi_card.py --database sqlite:///bench/out/large.db [--rounds 9]

The card is the service function the route runs (`engineer_card`, in an app context,
the viewer loaded and the session ended as a request would), for the current month
unless `--period`. The floor is kpi.md's fifteen figures as raw SQL aggregates written by
hand (bench/kpi_sql.py), run directly on the driver's cursor. A card shows the engineer's
rank among all the organisation's engineers, which needs every engineer's total, so the
floor's aggregates are grouped by engineer over the whole organisation; the aggregates
of the one engineer alone are timed beside it for reference. Before timing, the card's
figures are checked against the floor's. The two alternate, round by round, within
`--max-seconds`. Once a board of the month has been read, a card takes the rank and
streak from it while nothing has changed (the goal's figure, last line, after a board
read); the card with no board kept, as on the first read after a write, is printed
before it. Goal (second release): median ratio ≤ 0.1, printed on the last line.
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
    parser.add_argument("--engineer", type=int, help="engineer id (default: the busiest)")
    parser.add_argument("--period", help="YYYY-MM (default: this month)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--max-seconds", type=float, default=120)
    args = parser.parse_args()

    app = kpi_sql.make_app(args.database)
    from app.extensions import db
    from app.models import Job, User
    from app.services.kpi import periods
    from app.services.kpi.cards import engineer_card, forget_kept_boards, team_board

    with app.app_context():
        dialect = db.engine.dialect.name
        tz = app.config["TIMEZONE"]
        period = periods.resolve(args.period, tz)
        admin_id = db.session.scalar(sa.select(User.id).where(User.role == "admin").order_by(User.id))
        engineer_id = args.engineer or db.session.scalar(
            sa.select(Job.engineer_id).where(Job.engineer_id.is_not(None),
                                             Job.reported_at >= period.start)
            .group_by(Job.engineer_id).order_by(sa.func.count().desc()).limit(1))
        db.session.remove()
        params = {"start": kpi_sql.bound(dialect, period.start),
                  "end": kpi_sql.bound(dialect, period.end), "eng": engineer_id}
        floor = kpi_sql.floor_runner(db.engine, kpi_sql.statements(dialect), params)
        alone = kpi_sql.floor_runner(db.engine, kpi_sql.statements(dialect, one_engineer=True), params)

        def card() -> dict:
            try:
                viewer = db.session.get(User, admin_id)
                return engineer_card(viewer, engineer_id, period.key)
            finally:
                db.session.remove()

        print(kpi_sql.database_size(db.engine))
        shown = card()  # also warms the caches of both sides
        try:  # a supervisor's or admin's board of the month read once, as on any morning
            team_board(db.session.get(User, admin_id), period.key)
        finally:
            db.session.remove()
        wrong = kpi_sql.figures_agree(shown["metrics"], floor().get(engineer_id, {}))
        if wrong:
            sys.exit("the card and the floor disagree: " + "; ".join(wrong))
        app_s, floor_s = kpi_sql.alternate(card, floor, args.rounds, args.max_seconds)

        def afresh() -> dict:
            forget_kept_boards()  # as after a write: the engineer's row ranked among all
            return card()

        fresh_s, fresh_floor_s = kpi_sql.alternate(afresh, floor, args.rounds, args.max_seconds)
        _, alone_s = kpi_sql.alternate(alone, alone, 3, args.max_seconds)

    median_app, median_floor = statistics.median(app_s), statistics.median(floor_s)
    print(f"KPI card of engineer {engineer_id}, {period.key} ({'live' if shown['live'] else 'past'}), "
          f"total {shown['total_score']}, rank {shown['rank']} of {shown['ranked']}, "
          f"streak {shown['streak_months']}; {len(app_s)} rounds")
    print(f"card (kpi.cards.engineer_card) median {median_app * 1000:.1f} ms; floor (raw SQL "
          f"aggregates of the 15 figures grouped by engineer, for the rank) median "
          f"{median_floor * 1000:.1f} ms")
    print(f"for reference: the one engineer's raw aggregates alone median "
          f"{statistics.median(alone_s) * 1000:.1f} ms")
    fresh, fresh_floor = statistics.median(fresh_s), statistics.median(fresh_floor_s)
    print(f"no board kept, as on the first read after a write: median {fresh * 1000:.1f} ms; "
          f"floor median {fresh_floor * 1000:.1f} ms; ratio {fresh / fresh_floor:.2f}")
    print(f"ratio {median_app / median_floor:.2f} (goal <= 0.1)")


if __name__ == "__main__":
    main()
