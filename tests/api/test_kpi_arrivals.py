"""A month's arrivals are the same however the engineers are named: one engineer (the
store's recompute after a check-in, read job by job), more than FEW_ENGINEERS (a team),
or everyone (the board's floor and kpi-verify). Expected minutes are worked out by hand."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Job
from app.services.kpi import periods
from app.services.kpi.figures import FAMILY_BY_NAME, FEW_ENGINEERS, family_figures
from tests.api.test_kpi_figures import at

MARCH = periods.month(2024, 3, "UTC")
FEBRUARY = periods.month(2024, 2, "UTC")


@pytest.fixture
def month(factory):
    a, b = factory.user(), factory.user()
    site = factory.site()
    # j1 (a's, reported 03-04 08:00): a rejected visit at 08:30 does not count; the first
    # counted one is b's at 09:00, made before the job was a's: arrival 60 for a.
    j1 = factory.job(site=site, engineer=a, reported_at=at("2024-03-04 08:00"))
    factory.visit(j1, at=at("2024-03-04 08:30"), status="rejected",
                  rejected_at=at("2024-03-04 18:00"))
    factory.visit(j1, engineer=b, at=at("2024-03-04 09:00"))
    factory.visit(j1, at=at("2024-03-04 09:30"), status="approved")
    # j2 (reported 03-10 10:00): two counted visits at 12:00; the first by id: 120.
    j2 = factory.job(site=site, engineer=a, reported_at=at("2024-03-10 10:00"))
    factory.visit(j2, at=at("2024-03-10 12:00"))
    factory.visit(j2, at=at("2024-03-10 12:00"), status="approved")
    # j3 (reported 02-28 20:00): first counted 02-29 23:00, 27 hours = 1,620 minutes in
    # February; its March visit is not an arrival.
    j3 = factory.job(site=site, engineer=a, reported_at=at("2024-02-28 20:00"))
    factory.visit(j3, at=at("2024-02-29 23:00"))
    factory.visit(j3, at=at("2024-03-01 09:00"))
    # A flagged first visit does not count: j4's arrival is its verified 03-12 11:00
    # visit, reported 03-12 09:00: 120.
    j4 = factory.job(site=site, engineer=a, reported_at=at("2024-03-12 09:00"))
    factory.visit(j4, at=at("2024-03-12 10:00"), status="flagged")
    factory.visit(j4, at=at("2024-03-12 11:00"))
    # Neither a cancelled job nor a remote one has an arrival.
    j5 = factory.job(site=site, engineer=a, reported_at=at("2024-03-15 08:00"),
                     status="cancelled")
    factory.visit(j5, at=at("2024-03-15 09:00"))
    j6 = factory.job(site=site, engineer=a, reported_at=at("2024-03-16 08:00"), mode="remote")
    factory.visit(j6, at=at("2024-03-16 09:00"))
    # b's own job, reported 03-05 08:00, visited 08:45: 45.
    j7 = factory.job(site=site, engineer=b, reported_at=at("2024-03-05 08:00"))
    factory.visit(j7, at=at("2024-03-05 08:45"))
    db.session.commit()
    return a, b


def arrivals(ids):
    return {(engineer, key): (records, raw["arrival_minutes"].value, raw["arrival_minutes"].n)
            for engineer, key, _, records, raw in family_figures(
                [FEBRUARY, MARCH], ids, [FAMILY_BY_NAME["arrival"]])}


def expected(a, b):
    # a in March: (60 + 120 + 120) / 3 = 100 over 3 jobs; in February 1,620 over 1.
    return {(a.id, "2024-03"): (3, 100.0, 3), (a.id, "2024-02"): (1, 1620.0, 1),
            (b.id, "2024-03"): (1, 45.0, 1)}


def test_one_engineer_read_job_by_job(month):
    a, b = month
    want = expected(a, b)
    assert arrivals([a.id]) == {k: v for k, v in want.items() if k[0] == a.id}
    assert arrivals([b.id]) == {k: v for k, v in want.items() if k[0] == b.id}


def test_a_team_and_everyone_agree(month):
    a, b = month
    team = [a.id, b.id, *range(10**6, 10**6 + FEW_ENGINEERS)]  # more than a few
    assert len(team) > FEW_ENGINEERS
    assert arrivals(team) == expected(a, b)
    assert arrivals(None) == expected(a, b)
    assert arrivals([a.id, b.id]) == expected(a, b)


def test_one_engineer_with_a_lookback_reads_the_jobs_still_open_or_closed_within_it(
        month, factory):
    """With the store's lookback (5 days: the rules' bound, app.domain.jobs), the jobs
    closed since the first month's start less it are read with those still open: j1
    and j4 closed in March, j3 closed 03-01 with its arrival in February; j2 open; and
    j8, closed 02-10, whose arrival is in February (of the months asked, the first one's
    start sets the bound)."""
    a, b = month
    j8 = factory.job(engineer=a, reported_at=at("2024-02-10 08:00"), status="closed",
                     closed_at=at("2024-02-10 12:00"), fixed=True)
    factory.visit(j8, at=at("2024-02-10 09:00"))  # 60 minutes
    jobs = {job.reported_at: job for job in
            db.session.scalars(sa.select(Job).where(Job.engineer_id == a.id))}
    for reported, closed in (("2024-03-04 08:00", "2024-03-04 10:00"),
                             ("2024-02-28 20:00", "2024-03-01 10:00"),
                             ("2024-03-12 09:00", "2024-03-12 12:00")):
        job = jobs[at(reported)]
        job.status, job.closed_at, job.fixed = "closed", at(closed), True
    db.session.commit()
    found = {(engineer, key): (records, raw["arrival_minutes"].value, raw["arrival_minutes"].n)
             for engineer, key, _, records, raw in family_figures(
                 [FEBRUARY, MARCH], [a.id], [FAMILY_BY_NAME["arrival"]], timedelta(days=5))}
    # February: (1,620 + 60) / 2 = 840 over j3 and j8.
    want = {(a.id, "2024-03"): (3, 100.0, 3), (a.id, "2024-02"): (2, 840.0, 2)}
    assert found == want
    assert {k: v for k, v in arrivals(None).items() if k[0] == a.id} == want


def test_on_postgresql_each_jobs_first_visit_is_a_lateral_lookup(month):
    """On PostgreSQL one engineer's arrivals look each job's first counted visit up in
    a LATERAL subquery, which only a loop over the jobs can run: no plan can hash or
    merge the organisation's month of visits against them, whatever the statistics."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no LATERAL; its plans go job by job as written")
    from app.services.kpi.figures import _statement

    a, _ = month
    statement = _statement(FAMILY_BY_NAME["arrival"], 1, ((0, 0),), 1, "postgresql")
    assert str(statement.compile(dialect=db.engine.dialect)).count("LATERAL") == 2
    bound = statement.params(period_0_start=MARCH.start, period_0_end=MARCH.end,
                             engineer_ids=[a.id], arrivals_closed_from=MARCH.start)
    sql = bound.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = db.session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {sql}").scalar()

    def joins(node):
        yield node["Node Type"]
        for child in node.get("Plans", []):
            yield from joins(child)

    kinds = set(joins(plan[0]["Plan"]))
    assert "Nested Loop" in kinds and not kinds & {"Hash Join", "Merge Join"}
