"""The floor of the KPI benchmarks: the raw SQL aggregates of kpi.md's fifteen figures,
written by hand and run directly on the driver's cursor (no ORM, no scoring, no JSON).

One statement per kind of record (as the KPI engine groups them), each grouped by
engineer, for one month [start, end). `one_engineer` adds `engineer_id = :eng`.
Statements use `:name` parameters (SQLite's own style), turned into `%(name)s` for psycopg.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

COUNTED = "('verified', 'approved')"


def _minutes(dialect: str, start: str, end: str) -> str:
    if dialect == "sqlite":
        return (f"((ROUND(julianday({end}) * 86400000.0) - ROUND(julianday({start}) * 86400000.0))"
                " / 60000.0)")
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 60.0)"


def statements(dialect: str, one_engineer: bool = False) -> dict[str, str]:
    """name → SQL returning (engineer_id, records, value columns...)."""
    m = lambda a, b: _minutes(dialect, a, b)  # noqa: E731
    true = "1" if dialect == "sqlite" else "true"

    def who(column: str) -> str:
        return f"{column} = :eng" if one_engineer else f"{column} IS NOT NULL"

    sql = {
        "contact": f"""
            SELECT engineer_id, count(*), avg({m('assigned_at', 'first_contact_at')})
            FROM jobs
            WHERE first_contact_at >= :start AND first_contact_at < :end
              AND status <> 'cancelled' AND {who('engineer_id')}
            GROUP BY engineer_id""",
        "dispatch": f"""
            SELECT engineer_id, count(*), avg({m('reported_at', 'assigned_at')})
            FROM jobs
            WHERE assigned_at >= :start AND assigned_at < :end
              AND status <> 'cancelled' AND {who('engineer_id')}
            GROUP BY engineer_id""",
        "arrival": f"""
            SELECT j.engineer_id, count(*), avg({m('j.reported_at', 'v.in_client_time')})
            FROM visits v JOIN jobs j ON j.id = v.job_id
            WHERE v.status IN {COUNTED} AND v.in_client_time >= :start AND v.in_client_time < :end
              AND j.mode = 'field' AND j.status <> 'cancelled' AND {who('j.engineer_id')}
              AND NOT EXISTS (
                SELECT 1 FROM visits w
                WHERE w.job_id = v.job_id AND w.status IN {COUNTED}
                  AND (w.in_client_time < v.in_client_time
                       OR (w.in_client_time = v.in_client_time AND w.id < v.id)))
            GROUP BY j.engineer_id""",
        "service": f"""
            SELECT v.engineer_id, count(*), avg({m('v.in_client_time', 'v.out_client_time')})
            FROM visits v JOIN jobs j ON j.id = v.job_id
            WHERE v.status IN {COUNTED} AND v.out_client_time >= :start AND v.out_client_time < :end
              AND j.status <> 'cancelled' AND {who('v.engineer_id')}
            GROUP BY v.engineer_id""",
        "closed": f"""
            SELECT engineer_id, count(*),
                   avg(CASE WHEN fixed = {true} AND (mode = 'remote' OR counted = 1)
                            THEN 100.0 ELSE 0.0 END),
                   avg(CASE WHEN repeated THEN 100.0 ELSE 0.0 END),
                   avg(CASE WHEN checklist_complete = {true} THEN 100.0 ELSE 0.0 END)
            FROM (
              SELECT j.engineer_id, j.fixed, j.mode, j.checklist_complete,
                     (SELECT count(*) FROM visits c
                      WHERE c.job_id = j.id AND c.status IN {COUNTED}) AS counted,
                     EXISTS (SELECT 1 FROM jobs r
                             WHERE r.repeat_of_id = j.id AND r.status <> 'cancelled') AS repeated
              FROM jobs j
              WHERE j.closed_at >= :start AND j.closed_at < :end
                AND j.status <> 'cancelled' AND {who('j.engineer_id')}
            ) closed
            GROUP BY engineer_id""",
        "feedback": f"""
            SELECT j.engineer_id, count(*),
                   avg(CASE WHEN f.score >= 9 THEN 100.0 WHEN f.score <= 6 THEN -100.0 ELSE 0.0 END)
            FROM feedback f JOIN jobs j ON j.id = f.job_id
            WHERE f.submitted_at >= :start AND f.submitted_at < :end
              AND j.status <> 'cancelled' AND {who('j.engineer_id')}
            GROUP BY j.engineer_id""",
        "complaints": f"""
            SELECT j.engineer_id, count(*)
            FROM complaints c JOIN jobs j ON j.id = c.job_id
            WHERE c.received_at >= :start AND c.received_at < :end
              AND j.status <> 'cancelled' AND {who('j.engineer_id')}
            GROUP BY j.engineer_id""",
        "trainings": f"""
            SELECT a.user_id, count(*)
            FROM training_attendees a JOIN trainings t ON t.id = a.training_id
            WHERE t.held_at >= :start AND t.held_at < :end AND {who('a.user_id')}
            GROUP BY a.user_id""",
        "knowledge": f"""
            SELECT author_id, count(*), avg(quality)
            FROM knowledge_items
            WHERE status = 'approved' AND reviewed_at >= :start AND reviewed_at < :end
              AND {who('author_id')}
            GROUP BY author_id""",
        "compliance": f"""
            SELECT engineer_id, count(*),
                   count(CASE WHEN kind = 'safety_incident' THEN 1 END),
                   count(CASE WHEN kind = 'process_violation' THEN 1 END)
            FROM compliance_events
            WHERE occurred_at >= :start AND occurred_at < :end AND {who('engineer_id')}
            GROUP BY engineer_id""",
        "rejected": f"""
            SELECT v.engineer_id, count(*)
            FROM visits v JOIN jobs j ON j.id = v.job_id
            WHERE v.status = 'rejected' AND v.rejected_at >= :start AND v.rejected_at < :end
              AND j.status <> 'cancelled' AND {who('v.engineer_id')}
            GROUP BY v.engineer_id""",
    }
    if dialect != "sqlite":
        sql = {k: re.sub(r"(?<!:):(\w+)", r"%(\1)s", v) for k, v in sql.items()}
    return sql


# Which figure each column of a statement is, after engineer_id (None: not a figure).
FIGURES = {
    "contact": (None, "first_contact_minutes"),
    "dispatch": (None, "dispatch_minutes"),
    "arrival": (None, "arrival_minutes"),
    "service": (None, "service_minutes"),
    "closed": (None, "first_time_fix_rate", "repeat_repair_rate", "checklist_completion_rate"),
    "feedback": (None, "nps"),
    "complaints": ("complaints",),
    "trainings": ("trainings_attended",),
    "knowledge": ("knowledge_items", "case_quality"),
    "compliance": (None, "safety_incidents", "process_violations"),
    "rejected": ("false_reports",),
}


def bound(dialect: str, moment: datetime) -> Any:
    """A period bound as the driver should receive it (SQLite keeps naive UTC text)."""
    if dialect == "sqlite":
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return moment


def run(cursor, sql: dict[str, str], params: dict[str, Any]) -> dict[int, dict[str, float | None]]:
    """Run every statement on a DB-API cursor; figures by engineer id."""
    figures: dict[int, dict[str, float | None]] = {}
    for name, statement in sql.items():
        cursor.execute(statement, params)
        for row in cursor.fetchall():
            entry = figures.setdefault(row[0], {})
            for key, value in zip(FIGURES[name], row[1:]):
                if key is not None:
                    entry[key] = None if value is None else float(value)
    return figures


# --- The harness both benchmarks share ------------------------------------------------


def make_app(url: str):
    """The app on the benchmark database (a temporary instance folder)."""
    import tempfile
    from pathlib import Path

    from app import create_app
    from app.config import TestConfig

    instance = Path(tempfile.mkdtemp(prefix="fieldproof-bench-"))
    return create_app(TestConfig(instance, SQLALCHEMY_DATABASE_URI=absolute(url)))


def absolute(url: str) -> str:
    """A relative SQLite path read from the working directory, as the README's commands
    mean it (Flask-SQLAlchemy would read it from the temporary instance folder)."""
    import sqlalchemy as sa
    from pathlib import Path

    target = sa.make_url(url)
    if target.get_backend_name() != "sqlite" or not target.database or target.database == ":memory:":
        return url
    return target.set(database=str(Path(target.database).resolve())).render_as_string(hide_password=False)


def floor_runner(engine, sql: dict[str, str], params: dict[str, Any]):
    """A function running the floor on a pooled DB-API connection, returning the figures."""
    def floor() -> dict[int, dict[str, float | None]]:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            figures = run(cursor, sql, params)
            cursor.close()
            raw.rollback()
            return figures
        finally:
            raw.close()
    return floor


def alternate(app_side, floor_side, rounds: int, max_seconds: float) -> tuple[list[float], list[float]]:
    """Time the two alternately, round by round, within `max_seconds` (at least 3 rounds)."""
    import time

    app_s: list[float] = []
    floor_s: list[float] = []
    began = time.perf_counter()
    for i in range(rounds):
        for side, times in ((app_side, app_s), (floor_side, floor_s)) if i % 2 == 0 else \
                ((floor_side, floor_s), (app_side, app_s)):
            started = time.perf_counter()
            side()
            times.append(time.perf_counter() - started)
        if i >= 2 and time.perf_counter() - began > max_seconds:
            break
    return app_s, floor_s


def figures_agree(card_metrics: list[dict[str, Any]], raw: dict[str, float | None]) -> list[str]:
    """The card's figures that differ from the floor's by more than 0.01 (none: same figures)."""
    from app.domain.kpi import round_half_up

    wrong = []
    for metric in card_metrics:
        if not metric["has_data"] or metric["value"] is None:
            continue
        expected = raw.get(metric["key"], 0)
        expected = round_half_up(expected) if expected is not None else None
        if expected is None or abs(expected - metric["value"]) > 0.01:
            wrong.append(f"{metric['key']}: card {metric['value']}, floor {expected}")
    return wrong


def database_size(engine) -> str:
    import sqlalchemy as sa

    with engine.connect() as conn:
        engineers = conn.execute(sa.text("SELECT count(*) FROM users WHERE role = 'engineer'")).scalar()
        jobs = conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar()
        visits = conn.execute(sa.text("SELECT count(*) FROM visits")).scalar()
        feedback = conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar()
    return (f"{engine.dialect.name}: {engineers} engineers, {jobs} jobs, {visits} visits, "
            f"{feedback} feedback")
