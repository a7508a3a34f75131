"""The KPI routes run a fixed number of SQL statements, however many engineers and records
(quality.md: no query per engineer or per row)."""
from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from app.extensions import db
from tests.api.test_kpi_figures import at, complaint, compliance, feedback, knowledge, training


@contextmanager
def counting():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)


def busy_month(factory, person, month: str, jobs: int):
    """`jobs` closed jobs of `person` in `month` with all that goes with them (contact,
    a counted and a rejected visit, feedback, every third a complaint), one training, one
    approved case and one violation: on target whatever `jobs` is."""
    site = factory.site()
    for i in range(jobs):
        day = f"{month}-{1 + i % 20:02d}"
        job = factory.job(site=site, engineer=person, reported_at=at(f"{day} 08:00"),
                          assigned_at=at(f"{day} 08:10"), first_contact_at=at(f"{day} 08:20"),
                          closed_at=at(f"{day} 12:00"), status="closed", fixed=True,
                          checklist_complete=True)
        factory.visit(job, at=at(f"{day} 09:00"), minutes=60)
        factory.visit(job, at=at(f"{day} 10:30"), minutes=10, status="rejected",
                      rejected_at=at(f"{day} 18:00"))
        feedback(job, 10, f"{day} 13:00")
        if i % 3 == 0:
            complaint(job, f"{day} 14:00")
    training(f"{month}-05 09:00", person)
    knowledge(person, f"{month}-06 10:00", 4)
    compliance(person, "process_violation", f"{month}-07 10:00")


ROUTES = (
    "kpi/engineers/{me}?period=2024-03",
    "kpi/engineers/{me}",
    "kpi/engineers/{me}/records?period=2024-03&metric=service_minutes",
    "kpi/team?period=2024-03",
    "kpi/team?period=2024-04",
    "kpi/export?period=2024-03",
)


def measure(client, me) -> dict[str, int]:
    counts = {}
    for route in ROUTES:
        path = route.format(me=me.id)
        client.get(path)  # warm-up: a token's first use is stamped once
        with counting() as statements:
            response = client.get(path)
        assert response.status_code == 200, response.get_data(as_text=True)
        counts[route] = len(statements)
    return counts


def close(client, period: str) -> int:
    with counting() as statements:
        response = client.post(f"kpi/periods/{period}/close")
    assert response.status_code == 200, response.get_data(as_text=True)
    return len(statements)


def test_card_board_export_and_close_do_not_grow_with_engineers_or_rows(client, org, factory):
    sup = org["sup_a"]
    # Two busy engineers (besides the org's four idle ones), two jobs a month each.
    me, other = (factory.user("engineer", supervisor=sup) for _ in range(2))
    for person in (me, other):
        for month in ("2023-12", "2024-03"):
            busy_month(factory, person, month, jobs=2)
    db.session.commit()
    client.use_token(org["admin"])
    small = measure(client, me)
    close_small = close(client, "2023-12")

    # Twelve busy engineers, twelve jobs a month each, and many more records of `me`.
    newcomers = [factory.user("engineer", supervisor=sup) for _ in range(10)]
    for person in newcomers:
        for month in ("2024-01", "2024-03"):
            busy_month(factory, person, month, jobs=12)
    for person in (me, other):
        busy_month(factory, person, "2024-01", jobs=12)
    busy_month(factory, me, "2024-03", jobs=15)
    db.session.commit()
    large = measure(client, me)
    assert large == small
    close_large = close(client, "2024-01")
    assert close_large == close_small

    # A live card: sign-in, the engineer, the closed check, schemes, engineers, eleven
    # aggregates for the month, the look-back (closed months, eleven aggregates).
    assert small["kpi/engineers/{me}?period=2024-03"] <= 30

