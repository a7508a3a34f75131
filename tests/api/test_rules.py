"""`flask run-rules` (workday.md, Beyond one machine): every time-based rule evaluated
by a scheduled command, idempotent, and safe when several servers run it at once."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Alert, Feedback, Job, Visit
from app.models.types import utcnow
from app.services import rules

NOTHING = {"NO_CHECKOUT": 0, "SLA_RISK": 0, "FLAG_PATTERN": 0, "KEYWORD": 0,
           "NEGATIVE_FEEDBACK": 0}


def stored_alerts() -> list[tuple[str, str]]:
    db.session.rollback()  # a fresh read: what the runs committed
    return sorted(tuple(row) for row in db.session.execute(sa.select(Alert.kind, Alert.dedupe_key)))


@pytest.fixture
def due(org, factory):
    """One thing due for every rule, none of it raised yet (as rows written by an import
    or before the watch list had the term)."""
    now = utcnow()
    sla_job = factory.job(engineer=org["eng_a1"], priority="urgent",
                          assigned_at=now - timedelta(hours=1))
    stale = factory.visit(sla_job, at=now - timedelta(hours=13), minutes=None)
    flagged_job = factory.job(engineer=org["eng_b1"])
    for days in (1, 2, 3):
        factory.visit(flagged_job, at=now - timedelta(days=days), status="flagged",
                      flags=["LOW_ACCURACY"])
    worded = factory.job(engineer=org["eng_a2"], description="Customer asks for a refund")
    old = factory.job(engineer=org["eng_a2"], description="broken again, long ago",
                      reported_at=now - timedelta(days=60))
    old.status, old.closed_at = "closed", now - timedelta(days=59)
    closed = factory.job(engineer=org["eng_a2"], status="closed", closed_at=now)
    db.session.flush()
    db.session.add(Feedback(job_id=closed.id, score=3, comment="Rude and unsafe", submitted_at=now))
    db.session.commit()
    return {"stale": stale.id, "sla_job": sla_job.id, "worded": worded.id, "old": old.id,
            "closed": closed.id, "eng_b1": org["eng_b1"].id}


def test_run_rules_raises_every_rule_once(app, runner, due):
    assert stored_alerts() == []
    result = runner.invoke(args=["run-rules"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("NO_CHECKOUT: 1; SLA_RISK: 1; FLAG_PATTERN: 1; "
                                     "KEYWORD: 2; NEGATIVE_FEEDBACK: 1.")
    kinds = stored_alerts()
    assert kinds == sorted([
        ("SLA_RISK", f"SLA_RISK:job:{due['sla_job']}"),
        ("KEYWORD", f"KEYWORD:job-description:{due['worded']}"),
        ("KEYWORD", f"KEYWORD:feedback:{_feedback_id(due)}"),
        ("NEGATIVE_FEEDBACK", f"NEGATIVE_FEEDBACK:feedback:{_feedback_id(due)}"),
        *[k for k in kinds if k[0] == "FLAG_PATTERN"],
    ])
    [pattern] = [k for k in kinds if k[0] == "FLAG_PATTERN"]
    assert pattern[1].startswith(f"FLAG_PATTERN:engineer:{due['eng_b1']}:")
    visit = db.session.get(Visit, due["stale"])
    assert "NO_CHECKOUT" in visit.flags and visit.status == "flagged"
    # The job of 60 days ago is past RULES_TEXT_SCAN_DAYS: not scanned again.
    assert not any(key.endswith(f":{due['old']}") for _, key in kinds)

    again = runner.invoke(args=["run-rules"])
    assert again.exit_code == 0, again.output
    assert again.output.strip() == "; ".join(f"{k}: 0" for k in NOTHING) + "."
    assert stored_alerts() == kinds


@pytest.mark.config(RULES_TEXT_SCAN_DAYS=90)
def test_the_text_scan_reaches_back_as_configured(app, runner, due):
    assert runner.invoke(args=["run-rules"]).exit_code == 0
    assert ("KEYWORD", f"KEYWORD:job-description:{due['old']}") in stored_alerts()


def _feedback_id(due) -> int:
    return db.session.scalar(sa.select(Feedback.id).where(Feedback.job_id == due["closed"]))


def test_two_servers_running_the_rules_at_once_raise_each_alert_once(app, due, monkeypatch):
    """Two runs start together; each holds the rules lock for a while once it has it.
    The second waits for the first to commit, then finds everything done."""
    real_scan, spans, results, errors = rules.scan_alerts, [], [], []
    start = threading.Barrier(2)

    def slow_scan(now):
        began = time.monotonic()
        counts = real_scan(now)
        time.sleep(0.4)  # the other run is surely waiting by now
        spans.append((began, time.monotonic()))
        return counts

    monkeypatch.setattr(rules, "scan_alerts", slow_scan)

    def run():
        try:
            with app.app_context():
                start.wait(5)
                counts = rules.run_rules(utcnow())
                db.session.commit()
                results.append(counts)
                db.session.remove()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    (first_began, first_ended), (second_began, _) = sorted(spans)
    assert second_began >= first_ended, "the two runs evaluated the rules at the same time"
    assert sorted(results, key=lambda c: -sum(c.values())) == [
        {"NO_CHECKOUT": 1, "SLA_RISK": 1, "FLAG_PATTERN": 1, "KEYWORD": 2,
         "NEGATIVE_FEEDBACK": 1}, NOTHING]
    kinds = [kind for kind, _ in stored_alerts()]
    assert sorted(kinds) == ["FLAG_PATTERN", "KEYWORD", "KEYWORD", "NEGATIVE_FEEDBACK",
                             "SLA_RISK"]
    visit = db.session.get(Visit, due["stale"])
    assert visit.flags.count("NO_CHECKOUT") == 1


def test_a_read_still_raises_sla_alerts_without_the_command(app, client, org, due):
    client.login(org["sup_a"])
    response = client.get("alerts")
    assert response.status_code == 200
    assert [item["kind"] for item in response.json["items"]] == ["SLA_RISK"]
    assert db.session.get(Job, due["sla_job"]) is not None
