"""Early warnings (kpi.md, "Early warnings"; api.md, /alerts): raising each kind once,
listing by scope, dismissing, and the watch list."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.cli import scan_alerts_command
from app.domain.alerts import DEFAULT_WATCH_LIST, flag_bucket_start
from app.extensions import db
from app.models import Alert, AuditEntry, Feedback, Job, Setting
from app.models.types import utcnow
from app.services import alerts as service
from tests.api.test_app import assert_problem
from tests.support import statements_of

ITEM_KEYS = {"id", "kind", "params", "engineer_id", "job_id", "visit_id", "feedback_id", "matched",
             "reason", "detail", "created_at", "dismissed_at", "dismissed_by_id", "dismiss_note",
             "action_item_id"}


def stored_alerts(kind: str | None = None) -> list[Alert]:
    query = sa.select(Alert).order_by(Alert.id)
    if kind:
        query = query.where(Alert.kind == kind)
    db.session.expire_all()
    return list(db.session.scalars(query))


def audit_entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    ))


def feedback(job: Job, score: int, comment: str | None = None) -> Feedback:
    row = Feedback(job_id=job.id, score=score, comment=comment)
    db.session.add(row)
    db.session.flush()
    return row


def alert(org, engineer="eng_a1", kind="KEYWORD", key=None, **fields) -> Alert:
    row = Alert(kind=kind, engineer_id=org[engineer].id if engineer else None,
                detail=f"{kind} on {engineer}", dedupe_key=key or f"TEST:{kind}:{engineer}:{utcnow().isoformat()}",
                matched=[], **fields)
    db.session.add(row)
    db.session.flush()
    return row


# --- NEGATIVE_FEEDBACK and KEYWORD on feedback ------------------------------------------------

def test_a_low_score_with_watch_list_words_raises_two_alerts_once(org, factory):
    job = factory.job(engineer=org["eng_a1"])
    row = feedback(job, 3, "师傅态度差，我要投诉！Rude.")
    raised = service.raise_feedback_alerts(row)
    assert [(a.kind, a.engineer_id, a.job_id, a.feedback_id, a.matched, a.dedupe_key) for a in raised] == [
        ("NEGATIVE_FEEDBACK", org["eng_a1"].id, job.id, row.id, [], f"NEGATIVE_FEEDBACK:feedback:{row.id}"),
        ("KEYWORD", org["eng_a1"].id, job.id, row.id, ["投诉", "态度差", "rude"], f"KEYWORD:feedback:{row.id}"),
    ]
    assert "3/10" in raised[0].detail and "投诉" in raised[1].detail
    assert all(a.created_at and a.dismissed_at is None for a in raised)
    # Raising again is a no-op.
    assert service.raise_feedback_alerts(row) == []
    assert len(stored_alerts()) == 2


@pytest.mark.parametrize("score, comment, kinds", [
    (0, None, ["NEGATIVE_FEEDBACK"]),
    (6, "ok", ["NEGATIVE_FEEDBACK"]),
    (7, "fine", []),
    (10, None, []),
    (9, "Great, but the last one was broken   again", ["KEYWORD"]),
    (8, "a prudent engineer", []),
    (7, "call １２３１５", ["KEYWORD"]),
    (7, "serial 123156", []),
])
def test_feedback_alert_kinds(org, factory, score, comment, kinds):
    row = feedback(factory.job(engineer=org["eng_a1"]), score, comment)
    assert [a.kind for a in service.raise_feedback_alerts(row)] == kinds
    assert [a.kind for a in stored_alerts()] == kinds


def test_feedback_on_a_job_without_an_engineer_has_no_engineer(org, factory):
    row = feedback(factory.job(), 2)
    [raised] = service.raise_feedback_alerts(row)
    assert raised.engineer_id is None and raised.job_id == row.job_id


# --- KEYWORD on job description and resolution -----------------------------------------------

def test_job_description_and_resolution_each_raise_once(org, factory):
    job = factory.job(engineer=org["eng_a1"], description="Customer threatens to call 12315",
                      resolution="Issued a refund; it is broken again")
    raised = service.raise_job_text_alerts(job)
    assert [(a.kind, a.dedupe_key, a.matched, a.engineer_id, a.job_id, a.feedback_id) for a in raised] == [
        ("KEYWORD", f"KEYWORD:job-description:{job.id}", ["12315"], org["eng_a1"].id, job.id, None),
        ("KEYWORD", f"KEYWORD:job-resolution:{job.id}", ["refund", "broken again"], org["eng_a1"].id, job.id, None),
    ]
    assert "description" in raised[0].detail and "resolution" in raised[1].detail
    assert service.raise_job_text_alerts(job) == []
    # Saved again with other terms: still one alert per job and field.
    job.description = "投诉 again"
    assert service.raise_job_text_alerts(job) == []
    assert len(stored_alerts()) == 2


def test_a_job_without_watch_list_terms_raises_nothing(org, factory):
    job = factory.job(engineer=org["eng_a1"], description="Routine filter change", resolution=None)
    assert service.raise_job_text_alerts(job) == []
    job.resolution = "Replaced the filter; customer happy"
    assert service.raise_job_text_alerts(job) == []
    job.resolution = "客户说还是不行"
    [raised] = service.raise_job_text_alerts(job)
    assert raised.matched == ["还是不行"] and raised.dedupe_key == f"KEYWORD:job-resolution:{job.id}"


def test_a_replaced_watch_list_applies_to_later_texts(client, org, factory):
    client.login(org["admin"])
    assert client.put("alerts/watch-list", json={"terms": ["漏水", "late"]}).status_code == 200
    job = factory.job(engineer=org["eng_a1"], description="投诉: 空调漏水, engineer late")
    [raised] = service.raise_job_text_alerts(job)
    assert raised.matched == ["漏水", "late"]


# --- SLA_RISK -------------------------------------------------------------------------------

LIMITS = {"urgent": 30, "high": 60, "normal": 240, "low": 1440}


@pytest.mark.parametrize("priority", list(LIMITS))
def test_sla_risk_just_after_the_limit_and_not_before(org, factory, priority):
    now = utcnow()
    limit = timedelta(minutes=LIMITS[priority])
    late = factory.job(engineer=org["eng_a1"], priority=priority, assigned_at=now - limit - timedelta(seconds=1))
    on_time = factory.job(engineer=org["eng_a1"], priority=priority, assigned_at=now - limit)
    assert service.scan_sla_alerts(now) == 1
    [raised] = stored_alerts("SLA_RISK")
    assert (raised.job_id, raised.engineer_id, raised.dedupe_key, raised.matched) == (
        late.id, org["eng_a1"].id, f"SLA_RISK:job:{late.id}", [])
    assert f"{LIMITS[priority]}-minute" in raised.detail
    # A second later the other one is due too; the first is not raised again.
    assert service.scan_sla_alerts(now + timedelta(seconds=1)) == 1
    assert {a.job_id for a in stored_alerts("SLA_RISK")} == {late.id, on_time.id}
    assert service.scan_sla_alerts(now + timedelta(hours=48)) == 0


@pytest.mark.config(SLA_CONTACT_MINUTES_URGENT=5)
def test_sla_limits_come_from_the_settings(org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"], priority="urgent", assigned_at=now - timedelta(minutes=6))
    assert service.scan_sla_alerts(now) == 1
    assert stored_alerts("SLA_RISK")[0].job_id == job.id


@pytest.mark.parametrize("fields", [
    {"first_contact_at": "contacted"},
    {"status": "closed"},
    {"status": "cancelled"},
    {"status": "new", "engineer_id": None, "assigned_at": None},
])
def test_sla_risk_only_for_open_uncontacted_jobs(org, factory, fields):
    now = utcnow()
    values = {"priority": "urgent", "assigned_at": now - timedelta(days=1)}
    values.update(fields)
    if values.get("first_contact_at") == "contacted":
        values["first_contact_at"] = now - timedelta(hours=20)
    factory.job(engineer=org["eng_a1"], **values)
    in_progress = factory.job(engineer=org["eng_a1"], status="in_progress", priority="urgent",
                              assigned_at=now - timedelta(days=1))
    assert service.scan_sla_alerts(now) == 1
    assert [a.job_id for a in stored_alerts("SLA_RISK")] == [in_progress.id]


def test_get_alerts_evaluates_sla_risk_within_the_callers_scope(client, org, factory):
    now = utcnow()
    a_job = factory.job(engineer=org["eng_a1"], priority="high", assigned_at=now - timedelta(hours=2))
    b_job = factory.job(engineer=org["eng_b1"], priority="high", assigned_at=now - timedelta(hours=2))
    factory.job(engineer=org["eng_a2"], priority="high", assigned_at=now - timedelta(minutes=30))
    db.session.commit()

    client.login(org["sup_b"])
    listed = client.get("alerts").json
    assert [(i["kind"], i["job_id"]) for i in listed["items"]] == [("SLA_RISK", b_job.id)]
    assert {a.job_id for a in stored_alerts("SLA_RISK")} == {b_job.id}

    client.login(org["sup_a"])
    listed = client.get("alerts").json
    assert [(i["kind"], i["job_id"], i["engineer_id"]) for i in listed["items"]] == [
        ("SLA_RISK", a_job.id, org["eng_a1"].id)]
    assert set(listed["items"][0]) == ITEM_KEYS
    client.get("alerts")
    assert len(stored_alerts("SLA_RISK")) == 2


def test_sla_scan_is_set_based_and_covers_many_jobs(org, factory):
    now = utcnow()
    site = factory.site()
    jobs = [factory.job(site=site, engineer=org["eng_a1"], priority="urgent", assigned_at=now - timedelta(hours=1))
            for _ in range(service.INSERT_BATCH + 3)]
    assert service.scan_sla_alerts(now) == len(jobs)
    assert service.scan_sla_alerts(now) == 0
    assert len(stored_alerts("SLA_RISK")) == len(jobs)


def test_a_read_raises_at_most_a_bounded_number_of_sla_alerts(client, org, factory, monkeypatch):
    monkeypatch.setattr(service, "INSERT_BATCH", 2)
    monkeypatch.setattr(service, "SLA_BATCHES_PER_READ", 2)
    now = utcnow()
    for _ in range(7):
        factory.job(engineer=org["eng_a1"], priority="urgent", assigned_at=now - timedelta(hours=1))
    db.session.commit()
    client.login(org["sup_a"])
    assert client.get("alerts").json["total"] == 4
    assert client.get("alerts").json["total"] == 7


# --- FLAG_PATTERN ---------------------------------------------------------------------------

def flagged_visits(factory, job, times, status="flagged"):
    for moment in times:
        extra = {"rejected_at": moment, "in_client_time": moment - timedelta(days=30)} if status in (
            "rejected", "disputed") else {}
        factory.visit(job, at=extra.pop("in_client_time", moment), status=status, **extra)


def test_three_flagged_or_rejected_visits_in_fourteen_days_raise_one_alert(org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    flagged_visits(factory, job, [now - timedelta(days=1)])
    flagged_visits(factory, job, [now - timedelta(days=2)], status="rejected")
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, now) is None  # two are not a pattern
    flagged_visits(factory, job, [now - timedelta(days=3)], status="disputed")
    raised = service.raise_flag_pattern_alert(org["eng_a1"].id, now)
    assert raised is not None
    assert (raised.kind, raised.engineer_id, raised.job_id, raised.matched) == (
        "FLAG_PATTERN", org["eng_a1"].id, None, [])
    assert raised.dedupe_key == f"FLAG_PATTERN:engineer:{org['eng_a1'].id}:{flag_bucket_start(now, 14).date()}"
    assert raised.created_at == now
    assert "3 visits" in raised.detail
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, now) is None
    assert len(stored_alerts("FLAG_PATTERN")) == 1


@pytest.mark.parametrize("age, counts", [
    (timedelta(days=14), True),
    (timedelta(days=14, seconds=1), False),
    (timedelta(seconds=-1), False),  # decided "in the future": outside the window
])
def test_flag_window_edges(org, factory, age, counts):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    flagged_visits(factory, job, [now - timedelta(days=1), now - timedelta(days=2)])
    flagged_visits(factory, job, [now - age], status="rejected")
    assert (service.raise_flag_pattern_alert(org["eng_a1"].id, now) is not None) is counts


def test_a_rejection_counts_by_its_decision_time_and_a_flag_by_its_check_in(org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    # Checked in 30 days ago, rejected yesterday: counts. Flagged at a check-in 15 days ago: does not.
    factory.visit(job, at=now - timedelta(days=30), status="rejected", rejected_at=now - timedelta(days=1))
    factory.visit(job, at=now - timedelta(days=15), status="flagged")
    factory.visit(job, at=now - timedelta(days=2), status="flagged")
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, now) is None
    factory.visit(job, at=now - timedelta(days=3), status="rejected")  # no decision time: its check-in
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, now) is not None


def test_verified_approved_and_other_engineers_visits_do_not_count(org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    for status in ("verified", "approved", "approved"):
        factory.visit(job, at=now - timedelta(days=1), status=status)
    other = factory.job(engineer=org["eng_a2"])
    flagged_visits(factory, other, [now - timedelta(days=d) for d in (1, 2)])
    flagged_visits(factory, job, [now - timedelta(days=1), now - timedelta(days=2)])
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, now) is None
    assert service.raise_flag_pattern_alert(org["eng_a2"].id, now) is None
    assert stored_alerts() == []


@pytest.mark.config(FLAG_PATTERN_COUNT=2, FLAG_PATTERN_DAYS=7)
def test_flag_pattern_thresholds_come_from_the_settings(org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    flagged_visits(factory, job, [now - timedelta(days=1), now - timedelta(days=8)])
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, now) is None
    flagged_visits(factory, job, [now - timedelta(days=6)])
    raised = service.raise_flag_pattern_alert(org["eng_a1"].id, now)
    assert raised.dedupe_key.endswith(str(flag_bucket_start(now, 7).date()))


def test_at_most_one_flag_pattern_alert_per_engineer_per_fourteen_days(org, factory):
    start = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    flagged_visits(factory, job, [start - timedelta(days=d) for d in (1, 2, 3)])
    first = service.raise_flag_pattern_alert(org["eng_a1"].id, start)
    assert first is not None
    # Thirteen days on, with three fresh flags: still within the first alert's 14 days.
    later = start + timedelta(days=13, hours=23)
    flagged_visits(factory, job, [later - timedelta(days=d) for d in (1, 2, 3)])
    assert service.raise_flag_pattern_alert(org["eng_a1"].id, later) is None
    # Fourteen days after the first alert: a new one, in the next window.
    again = start + timedelta(days=14)
    second = service.raise_flag_pattern_alert(org["eng_a1"].id, again)
    assert second is not None and second.dedupe_key != first.dedupe_key
    assert second.created_at - first.created_at == timedelta(days=14)
    assert len(stored_alerts("FLAG_PATTERN")) == 2


def test_scan_alerts_raises_sla_and_flag_patterns_for_everyone(org, factory):
    now = utcnow()
    for engineer in ("eng_a1", "eng_b1"):
        job = factory.job(engineer=org[engineer], priority="urgent", assigned_at=now - timedelta(hours=1))
        flagged_visits(factory, job, [now - timedelta(days=d) for d in (1, 2, 3)])
    factory.job(engineer=org["loner"], priority="low", assigned_at=now - timedelta(hours=1))
    assert service.scan_alerts(now) == {"NO_CHECKOUT": 0, "SLA_RISK": 2, "FLAG_PATTERN": 2}
    assert service.scan_alerts(now) == {"NO_CHECKOUT": 0, "SLA_RISK": 0, "FLAG_PATTERN": 0}
    assert {(a.kind, a.engineer_id) for a in stored_alerts()} == {
        (kind, org[e].id) for kind in ("SLA_RISK", "FLAG_PATTERN") for e in ("eng_a1", "eng_b1")}


def test_the_scan_alerts_command(app, org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"], priority="urgent", assigned_at=now - timedelta(hours=1))
    db.session.commit()
    result = app.test_cli_runner().invoke(scan_alerts_command, [])
    assert result.exit_code == 0, result.output
    assert "SLA_RISK: 1 raised; FLAG_PATTERN: 0 raised." in result.output
    db.session.rollback()  # what the command committed is there for everyone
    assert [a.job_id for a in stored_alerts("SLA_RISK")] == [job.id]


# --- raising twice at once is one row ---------------------------------------------------------

def test_two_transactions_raising_the_same_alert_make_one_row(app, org, factory):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE); the race exists on PostgreSQL")
    row = feedback(factory.job(engineer=org["eng_a1"]), 2)
    db.session.commit()
    feedback_id = row.id
    first_raised, results, errors = threading.Event(), {}, []

    def raise_in_thread(name: str, wait_for: threading.Event | None, signal: threading.Event | None):
        try:
            with app.app_context():
                if wait_for:
                    wait_for.wait(5)
                results[name] = service.raise_feedback_alerts(db.session.get(Feedback, feedback_id))
                if signal:
                    signal.set()
                    threading.Event().wait(0.5)  # hold the uncommitted row while the other inserts
                db.session.commit()
                db.session.remove()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=raise_in_thread, args=("first", None, first_raised)),
               threading.Thread(target=raise_in_thread, args=("second", first_raised, None))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert len(results["first"]) == 1 and results["second"] == []
    assert len(stored_alerts()) == 1


# --- GET /alerts ----------------------------------------------------------------------------

@pytest.fixture
def alerts(org, factory):
    unassigned = factory.job(created_by=org["sup_b"])
    made = {
        "a1": alert(org, "eng_a1", "KEYWORD"),
        "a2": alert(org, "eng_a2", "NEGATIVE_FEEDBACK"),
        "b1": alert(org, "eng_b1", "FLAG_PATTERN"),
        "loner": alert(org, "loner", "KEYWORD"),
        "unassigned": alert(org, None, "KEYWORD", job_id=unassigned.id),
    }
    db.session.commit()
    return made


@pytest.mark.parametrize("who, visible", [
    ("sup_a", {"a1", "a2", "unassigned"}),
    ("sup_b", {"b1", "unassigned"}),
    ("admin", {"a1", "a2", "b1", "loner", "unassigned"}),
])
def test_alerts_are_listed_by_scope(client, org, alerts, who, visible):
    client.login(org[who])
    response = client.get("alerts")
    assert response.status_code == 200
    assert {i["id"] for i in response.json["items"]} == {alerts[k].id for k in visible}
    assert response.json["total"] == len(visible)


def test_an_engineerless_alert_follows_its_jobs_visibility(client, org, factory):
    job = factory.job(created_by=org["sup_b"])
    row = alert(org, None, "KEYWORD", job_id=job.id)
    job.engineer_id, job.status, job.assigned_at = org["eng_b1"].id, "assigned", utcnow()
    db.session.commit()
    client.login(org["sup_a"])
    assert row.id not in {i["id"] for i in client.get("alerts").json["items"]}
    assert_problem(client.post(f"alerts/{row.id}/dismiss"), 404, "NOT_FOUND")
    client.login(org["sup_b"])
    assert row.id in {i["id"] for i in client.get("alerts").json["items"]}


@pytest.mark.parametrize("who", ["eng_a1", "eng_b1", "loner"])
def test_engineers_may_not_list_alerts(client, org, alerts, who):
    client.login(org[who])
    assert_problem(client.get("alerts"), 403, "FORBIDDEN")


def test_anonymous_gets_401(client, org):
    assert_problem(client.get("alerts"), 401, "UNAUTHORIZED")
    assert_problem(client.get("alerts/watch-list"), 401, "UNAUTHORIZED")


def test_alerts_are_newest_first_with_their_fields(client, org, factory):
    now = utcnow()
    old = alert(org, "eng_a1", "KEYWORD", created_at=now - timedelta(days=2))
    new = alert(org, "eng_a1", "SLA_RISK", created_at=now - timedelta(hours=1))
    job = factory.job(engineer=org["eng_a1"])
    keyword = feedback(job, 9, "Rude!")
    service.raise_feedback_alerts(keyword)
    db.session.commit()
    client.login(org["sup_a"])
    items = client.get("alerts").json["items"]
    assert [i["id"] for i in items][1:] == [new.id, old.id]
    newest = items[0]
    assert set(newest) == ITEM_KEYS
    assert (newest["kind"], newest["engineer_id"], newest["job_id"], newest["feedback_id"], newest["matched"]) == (
        "KEYWORD", org["eng_a1"].id, job.id, keyword.id, ["rude"])
    assert newest["created_at"].endswith("Z") and newest["dismissed_at"] is None


def test_list_filters(client, org, alerts):
    alerts["a2"].dismissed_at = utcnow()
    db.session.commit()
    client.login(org["admin"])

    def ids(query: str) -> set[int]:
        response = client.get("alerts?" + query)
        assert response.status_code == 200, response.json
        return {i["id"] for i in response.json["items"]}

    assert ids("") == {alerts[k].id for k in ("a1", "b1", "loner", "unassigned")}  # open ones by default
    assert ids("dismissed=false") == ids("")
    assert ids("dismissed=true") == {alerts["a2"].id}
    assert ids("kind=KEYWORD") == {alerts[k].id for k in ("a1", "loner", "unassigned")}
    assert ids("kind=FLAG_PATTERN,NEGATIVE_FEEDBACK") == {alerts["b1"].id}
    assert ids("kind=NEGATIVE_FEEDBACK&dismissed=true") == {alerts["a2"].id}
    assert ids(f"engineer_id={org['eng_a1'].id}") == {alerts["a1"].id}
    assert ids(f"job_id={alerts['unassigned'].job_id}") == {alerts["unassigned"].id}
    assert ids("from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z") == set()
    assert len(ids("from=2000-01-01T00:00:00%2B08:00")) == 4
    page = client.get("alerts?per_page=3&page=2").json
    assert (page["page"], page["per_page"], page["total"], len(page["items"])) == (2, 3, 4, 1)


@pytest.mark.parametrize("query", ["kind=KEYWORD,NOPE", "kind=", "dismissed=maybe", "engineer_id=x",
                                   "per_page=201", "from=2026-01-01T00:00:00"])
def test_bad_list_filters_are_422(client, org, query):
    client.login(org["sup_a"])
    assert_problem(client.get("alerts?" + query), 422, "VALIDATION_ERROR")


# --- dismiss --------------------------------------------------------------------------------

def test_dismissing_keeps_the_first_time(client, org, alerts):
    client.login(org["sup_a"])
    first = client.post(f"alerts/{alerts['a1'].id}/dismiss")
    assert first.status_code == 200, first.json
    assert first.json["dismissed_at"].endswith("Z") and first.json["dismissed_by_id"] == org["sup_a"].id
    client.login(org["admin"])
    again = client.post(f"alerts/{alerts['a1'].id}/dismiss")
    assert again.status_code == 200
    assert (again.json["dismissed_at"], again.json["dismissed_by_id"]) == (
        first.json["dismissed_at"], org["sup_a"].id)
    [entry] = audit_entries("alert.dismiss")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "alert", alerts["a1"].id)
    client.login(org["sup_a"])
    assert alerts["a1"].id not in {i["id"] for i in client.get("alerts").json["items"]}


@pytest.mark.parametrize("who, key, status", [
    ("sup_b", "a1", 404), ("sup_a", "b1", 404), ("sup_a", "loner", 404), ("sup_a", None, 404),
    ("eng_a1", "a1", 403), ("admin", "loner", 200),
])
def test_dismiss_scope(client, org, alerts, who, key, status):
    client.login(org[who])
    alert_id = alerts[key].id if key else 999_999
    response = client.post(f"alerts/{alert_id}/dismiss")
    assert response.status_code == status, response.json
    if key and status != 200:
        assert stored_alerts() and db.session.get(Alert, alert_id).dismissed_at is None
        assert audit_entries("alert.dismiss") == []


# --- the watch list -------------------------------------------------------------------------

def test_the_watch_list_defaults_then_is_replaced(client, org):
    client.login(org["admin"])
    assert client.get("alerts/watch-list").json == {"terms": list(DEFAULT_WATCH_LIST)}
    terms = ["投诉", "  broken   again ", "Refund", "１２３１５", "漏水"]
    response = client.put("alerts/watch-list", json={"terms": terms})
    assert response.status_code == 200, response.json
    cleaned = ["投诉", "broken again", "Refund", "１２３１５", "漏水"]
    assert response.json == {"terms": cleaned}
    assert client.get("alerts/watch-list").json == {"terms": cleaned}
    assert db.session.get(Setting, "alert_watch_list").value == cleaned
    [entry] = audit_entries("watch_list.update")
    assert entry.actor_id == org["admin"].id and entry.target_type == "setting"
    assert entry.detail["terms"] == cleaned
    assert entry.detail["added"] == ["Refund", "１２３１５", "漏水"]
    assert "rude" in entry.detail["removed"] and "投诉" not in entry.detail["removed"]
    # A second replacement updates the same row.
    assert client.put("alerts/watch-list", json={"terms": ["rude"]}).json == {"terms": ["rude"]}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Setting)) == 1
    assert len(audit_entries("watch_list.update")) == 2


@pytest.mark.parametrize("payload", [
    {},
    {"terms": []},
    {"terms": "rude"},
    {"terms": None},
    {"terms": [f"t{i}" for i in range(201)]},
    {"terms": ["rude", "   "]},
    {"terms": ["rude", ""]},
    {"terms": ["x" * 51]},
    {"terms": ["rude", "RUDE"]},
    {"terms": ["12315", "１２３１５"]},
    {"terms": ["rude", 5]},
    {"terms": ["rude", None]},
    {"terms": ["rude"], "extra": True},
])
def test_bad_watch_lists_are_refused_and_nothing_changes(client, org, payload):
    client.login(org["admin"])
    problem = assert_problem(client.put("alerts/watch-list", json=payload), 422, "VALIDATION_ERROR")
    assert problem["errors"]
    assert db.session.get(Setting, "alert_watch_list") is None
    assert audit_entries("watch_list.update") == []
    assert client.get("alerts/watch-list").json == {"terms": list(DEFAULT_WATCH_LIST)}


def test_two_hundred_terms_of_fifty_characters_are_accepted(client, org):
    client.login(org["admin"])
    terms = [f"{i:03d}" + "x" * 47 for i in range(200)]
    assert client.put("alerts/watch-list", json={"terms": terms}).json == {"terms": terms}


@pytest.mark.parametrize("who", ["sup_a", "eng_a1"])
def test_only_admins_read_or_replace_the_watch_list(client, org, who):
    client.login(org[who])
    assert_problem(client.get("alerts/watch-list"), 403, "FORBIDDEN")
    assert_problem(client.put("alerts/watch-list", json={"terms": ["x"]}), 403, "FORBIDDEN")
    assert db.session.get(Setting, "alert_watch_list") is None


def test_a_watch_list_change_without_the_csrf_header_is_refused(client, org):
    client.login(org["admin"])
    assert_problem(client.put("alerts/watch-list", json={"terms": ["x"]}, csrf=False), 403, "CSRF_FAILED")
    assert db.session.get(Setting, "alert_watch_list") is None


def test_the_list_costs_the_same_statements_for_1_and_6_alerts(client, org):
    client.use_token(org["sup_a"])
    alert(org, key="TEST:first")
    db.session.commit()
    client.get("alerts")  # the token's first use is recorded once
    one, page = statements_of(client, "alerts")
    assert page["total"] == 1
    for n in range(5):
        alert(org, engineer="eng_a2" if n % 2 else "eng_a1", kind="NEGATIVE_FEEDBACK", key=f"TEST:{n}")
    db.session.commit()
    six, page = statements_of(client, "alerts")
    assert page["total"] == 6 and len(page["items"]) == 6
    assert one == six
