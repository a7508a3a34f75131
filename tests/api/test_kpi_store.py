"""The KPI store (app.services.kpi.store): exact after any sequence of writes.

A property-based test applies random sequences of the writes that move KPI figures —
through the API as the app's users make them, and through the ORM as a service would —
and after each one compares every stored figure with a full recomputation from the
records (`store.verify`, what `flask kpi-verify` runs). Both databases.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.jobs import visit_after_close_max
from app.domain.verification import Thresholds
from app.extensions import db
from app.models import Job, KpiFigures, KpiStoreState, User, Visit
from app.models.types import utcnow
from app.services.kpi import cards, periods, store
from tests.support import ApiClient

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")


def exact(app) -> list[str]:
    db.session.rollback()
    problems = store.verify(app.config["TIMEZONE"])
    db.session.rollback()
    return problems


class Org:
    """Two engineers of one supervisor, an admin, a site: clients signed in by token."""

    def __init__(self, app, org, factory) -> None:
        self.app = app
        self.site = factory.site()
        self.engineers = [org["eng_a1"], org["eng_a2"]]
        db.session.commit()
        self.admin = ApiClient(app.test_client()).use_token(org["admin"])
        self.supervisor = ApiClient(app.test_client()).use_token(org["sup_a"])
        self.as_engineer = [ApiClient(app.test_client()).use_token(e) for e in self.engineers]

    def jobs(self) -> list[Job]:
        return list(db.session.scalars(sa.select(Job).order_by(Job.id)))

    def visits(self) -> list[Visit]:
        return list(db.session.scalars(sa.select(Visit).order_by(Visit.id)))

    def engineer_client(self, engineer_id: int | None) -> ApiClient | None:
        for engineer, client in zip(self.engineers, self.as_engineer):
            if engineer.id == engineer_id:
                return client
        return None


def _pick(items: list, n: int):
    return items[n % len(items)] if items else None


def _at(hours_ago: int) -> str:
    return (utcnow() - timedelta(hours=hours_ago)).isoformat()


# Each write: (name, a number to choose a record with, hours back in time, a choice).
WRITES = st.tuples(
    st.sampled_from([
        "job", "remote_job", "assign", "contact", "check_in", "check_out", "approve", "reject",
        "dispute", "close", "close_remote", "cancel", "repeat", "feedback", "complaint",
        "training", "training_attendees", "training_delete", "compliance", "compliance_delete",
        "case", "stale_visits", "scheme", "level", "close_month",
    ]),
    st.integers(min_value=0, max_value=50),
    st.sampled_from([0, 1, 5, 30, 80, 24 * 4, 24 * 20, 24 * 40]),
    st.booleans(),
)


def apply_write(o: Org, write: tuple[str, int, int, bool]) -> None:
    name, n, hours, flag = write
    engineer = o.engineers[n % 2]
    jobs, visits = o.jobs(), o.visits()
    job = _pick(jobs, n)
    if name in ("job", "remote_job"):
        o.admin.post("jobs", json={
            "site_id": o.site.id, "title": "Pump", "category": "hvac", "priority": "normal",
            "mode": "remote" if name == "remote_job" else "field",
            "reported_at": _at(hours + 2), "engineer_id": engineer.id if flag else None,
            "asset_ref": "P-1"})
    elif name == "assign" and job:
        o.admin.post(f"jobs/{job.id}/assign", json={"engineer_id": engineer.id})
    elif name == "contact" and job and (client := o.engineer_client(job.engineer_id)):
        client.post(f"jobs/{job.id}/contact", json={"at": _at(hours)})
    elif name == "check_in" and job and (client := o.engineer_client(job.engineer_id)):
        far = 0.2 if flag else 0.0002  # 22 km away: flagged, or at the site
        client.post("visits/check-in", json={
            "job_id": job.id, "lat": o.site.lat + far, "lon": o.site.lon, "accuracy_m": 10,
            "client_time": _at(min(hours, 60))})
    elif name == "check_out" and visits:
        visit = _pick(visits, n)
        if client := o.engineer_client(visit.engineer_id):
            client.post(f"visits/{visit.id}/check-out", json={
                "lat": o.site.lat, "lon": o.site.lon, "accuracy_m": 10,
                "client_time": utcnow().isoformat()})
    elif name in ("approve", "reject") and visits:
        visit = _pick(visits, n)
        o.admin.post(f"visits/{visit.id}/verify", json={
            "decision": name, **({"note": "Not there"} if name == "reject" else {})})
    elif name == "dispute" and visits:
        visit = _pick(visits, n)
        if client := o.engineer_client(visit.engineer_id):
            client.post(f"visits/{visit.id}/dispute", json={"note": "I was there"})
    elif name == "close" and job and job.status not in ("closed", "cancelled"):
        # A field job closed as a service would, through the ORM (the API's close also
        # needs an after photo), within the close's time bounds once the job has visits:
        # at most OFFLINE_MAX_AGE_S old and not before its last check-out.
        at = utcnow() - timedelta(hours=hours)
        theirs = [v for v in visits if v.job_id == job.id]
        if theirs:
            at = max([at, utcnow() - timedelta(seconds=o.app.config["OFFLINE_MAX_AGE_S"]),
                      *(min(v.out_client_time, v.out_server_time)
                        for v in theirs if v.out_client_time is not None)])
        job.status, job.closed_at, job.fixed = "closed", at, flag
        job.checklist_complete, job.resolution = not flag, "Done"
        db.session.commit()
    elif name == "close_remote" and job and job.mode == "remote":
        if client := o.engineer_client(job.engineer_id):
            client.post(f"jobs/{job.id}/close", json={"resolution": "Reset", "fixed": flag,
                                                      "checklist": {}})
    elif name == "cancel" and job:
        o.admin.post(f"jobs/{job.id}/cancel", json={"reason": "Duplicate"})
    elif name == "repeat" and len(jobs) > 1:
        later, earlier = jobs[-1], _pick(jobs[:-1], n)
        o.admin.patch(f"jobs/{later.id}", json={"repeat_of_id": None if flag else earlier.id})
    elif name == "feedback" and job:
        link = o.supervisor.post(f"jobs/{job.id}/feedback-link")
        if link.status_code == 201:
            token = link.get_json()["url"].rsplit("/", 1)[-1].split("#")[0]
            ApiClient(o.app.test_client()).post(f"feedback/{token}", json={"score": n % 11})
    elif name == "complaint" and job:
        o.admin.post(f"jobs/{job.id}/complaints", json={"detail": "Late", "received_at": _at(hours)})
    elif name == "training":
        o.admin.post("trainings", json={
            "title": "Safety", "held_at": _at(hours), "hours": 2,
            "attendee_ids": [e.id for e in o.engineers[: 1 + n % 2]]})
    elif name == "training_attendees":
        found = o.admin.get("trainings").get_json()["items"]
        if found:
            o.admin.patch(f"trainings/{_pick(found, n)['id']}",
                          json={"attendee_ids": [engineer.id], "held_at": _at(hours)})
    elif name == "training_delete":
        found = o.admin.get("trainings").get_json()["items"]
        if found:
            o.admin.delete(f"trainings/{_pick(found, n)['id']}")
    elif name == "compliance":
        o.admin.post("compliance-events", json={
            "engineer_id": engineer.id, "kind": "safety_incident" if flag else "process_violation",
            "severity": "low", "occurred_at": _at(hours), "note": "Seen"})
    elif name == "compliance_delete":
        found = o.admin.get("compliance-events").get_json()["items"]
        if found:
            o.admin.delete(f"compliance-events/{_pick(found, n)['id']}")
    elif name == "case":
        case = o.as_engineer[n % 2].post("cases", json={
            "kind": "case", "title": "Breaker trips", "solution": "Replace it", "tags": ["power"]})
        if case.status_code == 201:
            o.supervisor.post(f"cases/{case.get_json()['id']}/review", json={
                "decision": "approve" if flag else "reject", "quality": 1 + n % 5})
    elif name == "scheme":
        # A scheme's pass mark and first target moved: the stored scores follow.
        key = ("mid-field", "senior-field", "mid-remote")[n % 3]
        scheme = o.admin.get(f"kpi/schemes/{key}").get_json()
        scheme["pass_score"] = 40.0 + n
        scheme["metrics"][0]["target"] = scheme["metrics"][0]["target"] + (1 if flag else -1)
        o.admin.put(f"kpi/schemes/{key}", json=scheme)
    elif name == "level":
        o.admin.patch(f"users/{engineer.id}", json={
            "level": ("junior", "mid", "senior")[n % 3], "work_type": "remote" if flag else "field"})
    elif name == "close_month":
        from app.services.kpi import periods

        last = periods.shift(periods.current(o.app.config["TIMEZONE"]), -1, o.app.config["TIMEZONE"])
        o.admin.post(f"kpi/periods/{last.key}/close")
    elif name == "stale_visits":
        from app.services.visits import flag_stale_open_visits

        flag_stale_open_visits(utcnow() + timedelta(hours=13))
        db.session.commit()


def kept_as_fresh(o: Org) -> None:
    """The board and cards read now (kept since the last read if nothing changed) are
    those worked out afresh: no write leaves a kept board behind."""
    def read() -> list:
        reads = [o.admin.get("kpi/team").get_json(), o.supervisor.get("kpi/team").get_json()]
        reads += [o.admin.get(f"kpi/engineers/{e.id}").get_json() for e in o.engineers]
        return reads
    kept = read()
    cards.forget_kept_boards()
    assert kept == read()


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(writes=st.lists(WRITES, min_size=5, max_size=25))
def test_the_store_equals_the_records_after_any_sequence_of_writes(app, org, factory, writes):
    o = Org(app, org, factory)
    for write in writes:
        apply_write(o, write)
        assert exact(app) == [], write
        kept_as_fresh(o)


def test_every_kind_of_write_is_exercised(app, org, factory):
    """One fixed sequence through every write, each leaving the store exact, and each
    kind of figure stored at least once."""
    o = Org(app, org, factory)
    script = [
        ("job", 0, 24 * 20, True), ("job", 1, 5, True), ("remote_job", 0, 1, True),
        ("contact", 0, 0, True), ("check_in", 1, 1, False), ("check_in", 0, 30, True),
        ("check_out", 0, 0, False), ("check_out", 1, 0, False), ("reject", 1, 0, False),
        ("dispute", 1, 0, False), ("approve", 0, 0, False), ("close", 0, 24 * 4, True),
        ("close_remote", 2, 0, True), ("repeat", 0, 0, False), ("feedback", 0, 0, False),
        ("complaint", 1, 0, False), ("training", 1, 24 * 40, False),
        ("training_attendees", 0, 5, False), ("compliance", 0, 24 * 20, True),
        ("case", 0, 0, True), ("check_in", 1, 0, False), ("stale_visits", 0, 0, False),
        ("assign", 1, 0, False), ("cancel", 0, 0, False), ("repeat", 0, 0, True),
        ("compliance_delete", 0, 0, False), ("training_delete", 0, 0, False),
        ("scheme", 1, 0, True), ("level", 2, 0, True), ("scheme", 0, 0, False),
        ("close_month", 0, 0, False), ("check_in", 0, 0, False), ("level", 0, 0, False),
    ]
    families: set[str] = set()
    for write in script:
        apply_write(o, write)
        assert exact(app) == [], write
        kept_as_fresh(o)
        for figures in db.session.scalars(sa.select(KpiFigures.figures)):
            families |= {name for name, payload in figures.items() if payload["r"]}
    assert families >= {"contact", "dispatch", "arrival", "service", "closed", "feedback",
                        "complaints", "trainings", "knowledge", "compliance", "rejected"}
    # The scheme and level changes took effect (their rescoring was checked above).
    assert o.admin.get("kpi/schemes/mid-field").get_json()["pass_score"] == 40.0
    assert o.admin.get(f"users/{o.engineers[0].id}").get_json()["level"] == "junior"


def test_a_check_in_scores_its_month_with_a_level_changed_after_its_sign_in(app, org, factory,
                                                                           monkeypatch):
    """The engineer's scheme is read in the check-in's write, after the schemes' lock, not
    taken from sign-in: a level committed in between is the one the month is scored with."""
    from flask import g

    from app.api import security

    o = Org(app, org, factory)
    engineer = o.engineers[0]
    job = factory.job(site=o.site, engineer=engineer)
    db.session.commit()
    engineer_id, job_id = engineer.id, job.id
    signed_in = security.caller

    def then_promoted(*args):
        found = signed_in(*args)
        # Loaded and kept for the request, as Flask-Login's sign-in keeps its user.
        g._login_user = db.session.get(User, engineer_id)
        with db.engine.begin() as other:  # another request's change, committed meanwhile
            other.execute(sa.update(User).where(User.id == engineer_id).values(level="senior"))
        return found

    monkeypatch.setattr(security, "caller", then_promoted)
    answer = o.as_engineer[0].post("visits/check-in", json={
        "job_id": job_id, "lat": o.site.lat, "lon": o.site.lon, "accuracy_m": 10,
        "client_time": _at(1)})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["flags"] == []
    db.session.expire_all()
    row = db.session.scalars(
        sa.select(KpiFigures).where(KpiFigures.engineer_id == engineer_id)).one()
    assert row.scheme_key == "senior-field"
    assert row.figures["arrival"]["r"] == 1
    assert exact(app) == []


def test_a_stored_figure_that_drifts_is_named_by_verify_and_the_cli_fails(app, org, factory,
                                                                         runner):
    job = factory.job(engineer=org["eng_a1"])
    factory.visit(job)
    db.session.commit()
    assert exact(app) == []
    assert runner.invoke(args=["kpi-verify"]).exit_code == 0
    row = db.session.scalars(sa.select(KpiFigures)).first()
    figures = dict(row.figures)
    figures["service"] = {"r": 1, "m": {"service_minutes": [61.0, 1]}}
    row.figures = figures
    db.session.commit()
    problems = exact(app)
    assert len(problems) == 1 and "service" in problems[0] and "61.0" in problems[0]
    result = runner.invoke(args=["kpi-verify"])
    assert result.exit_code == 1 and "1 difference(s)" in result.output
    # A rebuild puts it right.
    assert runner.invoke(args=["kpi-rebuild"]).exit_code == 0
    assert exact(app) == []


def test_an_upgraded_database_reads_the_records_until_it_is_rebuilt(app, org, factory, client,
                                                                    runner):
    """A state row that says "not built" (the migration writes it when records exist):
    cards come from the records, verify says so, and kpi-rebuild makes the store readable."""
    job = factory.job(engineer=org["eng_a1"])
    factory.visit(job, minutes=45)
    state = db.session.get(KpiStoreState, 1) or KpiStoreState(id=1)
    state.timezone, state.ready = None, False
    db.session.add(state)
    db.session.commit()
    db.session.execute(sa.delete(KpiFigures))  # as before the store existed
    db.session.commit()
    client.login(org["eng_a1"])
    card = client.get(f"kpi/engineers/{org['eng_a1'].id}").get_json()
    service = next(m for m in card["metrics"] if m["key"] == "service_minutes")
    assert service["value"] == 45.0 and service["n"] == 1
    assert "not built" in exact(app)[0]
    result = runner.invoke(args=["kpi-rebuild"])
    assert result.exit_code == 0 and "1 engineer-months" in result.output
    assert exact(app) == []
    assert db.session.get(KpiStoreState, 1).ready is True


@pytest.mark.kpi_store_unchecked("the time zone changes mid-test; it ends rebuilt and checked")
def test_a_change_of_time_zone_reads_the_records_until_rebuilt(app, org, factory, client, runner):
    """A check-out at 23:30 UTC on the last day of a month is next month in Shanghai: the
    rows kept in UTC are not read in Shanghai until the store is rebuilt there."""
    store._CLAIMED.clear()  # a process that has not written yet, as after a restart
    now = utcnow()
    first = datetime(now.year, now.month, 1, tzinfo=UTC)
    job = factory.job(engineer=org["eng_a1"], reported_at=first - timedelta(hours=3))
    factory.visit(job, at=first - timedelta(minutes=90), minutes=60)  # out 23:30 UTC
    db.session.commit()
    assert exact(app) == []
    app.config["TIMEZONE"] = "Asia/Shanghai"
    client.login(org["eng_a1"])
    card = client.get(f"kpi/engineers/{org['eng_a1'].id}").get_json()
    service = next(m for m in card["metrics"] if m["key"] == "service_minutes")
    assert service["n"] == 1  # in Shanghai the check-out falls in this month
    assert "not built for Asia/Shanghai" in exact(app)[0]
    assert runner.invoke(args=["kpi-rebuild"]).exit_code == 0
    assert exact(app) == []
    again = client.get(f"kpi/engineers/{org['eng_a1'].id}").get_json()
    assert again["metrics"] == card["metrics"]


# --- The arrivals read the jobs still open or closed within a lookback ----------------


def _arrival_after_close(app, factory, engineer, closed_before: timedelta):
    """A field job of `engineer` whose only visit (counted, still open) opens last month,
    closed `closed_before` earlier; the arrivals stored for that month."""
    tz = app.config["TIMEZONE"]
    month = periods.shift(periods.current(tz), -1, tz)
    arrived = month.start  # the month's first instant: the job closed as early as can be
    job = factory.job(engineer=engineer, reported_at=arrived - timedelta(days=40),
                      assigned_at=arrived - timedelta(days=40))
    factory.visit(job, at=arrived, minutes=None)
    job.status, job.closed_at, job.fixed = "closed", arrived - closed_before, True
    job.resolution, job.checklist_complete = "Done", True
    db.session.commit()
    row = db.session.scalars(sa.select(KpiFigures).where(
        KpiFigures.engineer_id == engineer.id, KpiFigures.period == month.key)).one_or_none()
    return (row.figures.get("arrival", {}).get("r", 0) if row else 0)


def test_a_visit_as_far_after_its_jobs_close_as_the_rules_allow_is_its_arrival(app, org,
                                                                              factory):
    """A visit checked in with the phone's clock a day ahead, the job closed from a phone
    offline for three days (app.domain.jobs.visit_after_close_max): the job was closed
    four days before its arrival, at the month's first instant, and the arrival is still
    counted (a lookback shorter than these four days would leave it out)."""
    t = Thresholds.from_settings(app.config)
    far = timedelta(seconds=t.offline_max_age_s + t.clock_ahead_max_s)
    assert _arrival_after_close(app, factory, org["eng_a1"], far) == 1
    assert exact(app) == []


@pytest.mark.kpi_store_unchecked("a record the rules refuse, written around them")
def test_the_arrivals_leave_out_a_job_closed_before_their_lookback(app, org, factory):
    """The store's arrivals do not read an engineer's jobs closed before the lookback, so
    that a check-in costs the same whatever the engineer's history. A record beyond the
    bound, which no write through the rules can make, is left out, and `kpi-verify`
    (the full recomputation) names the difference."""
    beyond = visit_after_close_max(Thresholds.from_settings(app.config)) + timedelta(hours=1)
    assert _arrival_after_close(app, factory, org["eng_a1"], beyond) == 0
    problems = exact(app)
    month = periods.shift(periods.current(app.config["TIMEZONE"]), -1, app.config["TIMEZONE"])
    # The arrival, and the month's scores that follow from it.
    assert problems[0].startswith(f"engineer {org['eng_a1'].id}, {month.key}, arrival: stored null")
    assert all(p.startswith(f"engineer {org['eng_a1'].id}, {month.key}") for p in problems)


def test_the_arrivals_lookback_in_force_is_the_largest_any_process_has_used(app, org, factory,
                                                                           monkeypatch):
    """Lowering OFFLINE_MAX_AGE_S or CLOCK_AHEAD_MAX_S does not shorten the lookback: a
    job closed under larger settings, 20 days before its arrival, is still counted; and
    larger settings raise the lookback kept for every process."""
    tz = app.config["TIMEZONE"]
    monkeypatch.setattr(store, "_LOOKBACKS", {})  # a process that has not written yet
    state = db.session.get(KpiStoreState, 1) or KpiStoreState(id=1, timezone=tz, ready=True)
    state.arrivals_lookback_s = 30 * 86400  # kept by a process with larger settings
    db.session.add(state)
    db.session.commit()
    assert _arrival_after_close(app, factory, org["eng_a1"], timedelta(days=20)) == 1
    assert exact(app) == []
    db.session.expire_all()
    assert db.session.get(KpiStoreState, 1).arrivals_lookback_s == 30 * 86400
    monkeypatch.setattr(store, "_LOOKBACKS", {})
    assert store.arrivals_lookback(db.session.connection(), timedelta(days=40), tz) \
        == timedelta(days=40)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(KpiStoreState, 1).arrivals_lookback_s == 40 * 86400
    # Smaller settings leave the kept lookback as it is.
    assert store.arrivals_lookback(db.session.connection(), timedelta(days=5), tz) \
        == timedelta(days=40)
    db.session.rollback()


def test_a_raised_lookback_is_kept_for_the_process_only_once_read_committed(app, org,
                                                                          monkeypatch):
    tz = app.config["TIMEZONE"]
    monkeypatch.setattr(store, "_LOOKBACKS", {})
    state = db.session.get(KpiStoreState, 1) or KpiStoreState(id=1, timezone=tz, ready=True)
    state.arrivals_lookback_s = None  # none kept yet
    db.session.add(state)
    db.session.commit()
    six = timedelta(days=6)
    assert store.arrivals_lookback(db.session.connection(), six, tz) == six
    db.session.rollback()  # the transaction that raised it is undone: so is the raise
    assert store._LOOKBACKS == {}
    assert db.session.get(KpiStoreState, 1).arrivals_lookback_s is None
    assert store.arrivals_lookback(db.session.connection(), six, tz) == six
    db.session.commit()
    assert store._LOOKBACKS == {}  # raised, not yet read committed
    assert store.arrivals_lookback(db.session.connection(), timedelta(days=5), tz) == six
    db.session.rollback()
    assert [kept for kept, _ in store._LOOKBACKS.values()] == [six]
