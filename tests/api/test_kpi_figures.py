"""Every KPI figure through the API on a small month built by hand (kpi.md, Metrics).

The month is March 2024 in UTC unless a test says otherwise. Every expected number is
worked out by hand in the comments, from the rows the test creates.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.extensions import db
from app.models import (
    Complaint,
    ComplianceEvent,
    Feedback,
    KnowledgeItem,
    Training,
    TrainingAttendee,
)

PERIOD = "2024-03"


# --- Helpers shared by the KPI tests -------------------------------------------------


def at(text: str) -> datetime:
    """'2024-03-04 08:00' (or with seconds) as a UTC time."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def feedback(job, score: int, when: str) -> Feedback:
    row = Feedback(job_id=job.id, score=score, submitted_at=at(when))
    db.session.add(row)
    db.session.flush()
    return row


def complaint(job, when: str) -> Complaint:
    row = Complaint(job_id=job.id, detail="Customer unhappy", received_at=at(when))
    db.session.add(row)
    db.session.flush()
    return row


def training(when: str, *attendees) -> Training:
    row = Training(title="Refrigerant handling", held_at=at(when), hours=2)
    db.session.add(row)
    db.session.flush()
    db.session.add_all(TrainingAttendee(training_id=row.id, user_id=u.id) for u in attendees)
    db.session.flush()
    return row


def knowledge(author, when: str | None, quality: int | None = 4, status: str = "approved",
              kind: str = "case") -> KnowledgeItem:
    row = KnowledgeItem(author_id=author.id, kind=kind, title="Leaking indoor unit",
                        solution="Clear the drain.", tags=[], status=status, quality=quality,
                        reviewed_at=at(when) if when else None)
    db.session.add(row)
    db.session.flush()
    return row


def compliance(engineer, kind: str, when: str) -> ComplianceEvent:
    row = ComplianceEvent(engineer_id=engineer.id, kind=kind, severity="low",
                          occurred_at=at(when), note="Seen on site")
    db.session.add(row)
    db.session.flush()
    return row


def get_card(client, engineer, period: str | None = PERIOD) -> dict:
    path = f"kpi/engineers/{engineer.id}" + (f"?period={period}" if period else "")
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def metrics(card: dict) -> dict[str, dict]:
    return {m["key"]: m for m in card["metrics"]}


def records(client, engineer, metric: str, period: str = PERIOD, **params) -> dict:
    query = "&".join([f"period={period}", f"metric={metric}"] + [f"{k}={v}" for k, v in params.items()])
    response = client.get(f"kpi/engineers/{engineer.id}/records?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def job(factory, engineer, site=None, **times):
    """A job of `engineer` whose times are given as text ('2024-03-04 08:00')."""
    values = {k: (at(v) if isinstance(v, str) and k.endswith("_at") else v) for k, v in times.items()}
    values.setdefault("status", "closed" if values.get("closed_at") else "assigned")
    return factory.job(site=site, engineer=engineer, **values)


def visit(factory, job_, engineer, start: str, minutes: float | None, status: str = "verified",
          **fields):
    return factory.visit(job_, engineer=engineer, at=at(start), minutes=minutes, status=status,
                         **fields)


# --- The hand-built month --------------------------------------------------------------


@pytest.fixture
def march(org, factory):
    """eng_a1's March 2024 (mid-field), with records just outside it and records that
    must count nowhere; eng_a2 helps on one job."""
    me, helper = org["eng_a1"], org["eng_a2"]
    site = factory.site()

    # J1: field; dispatch 08:00→08:10 = 10 min; first contact 08:10→08:30 = 20 min;
    # one counted visit 09:00–10:30 (service 90, arrival 09:00−08:00 = 60); closed fixed,
    # checklist complete: a first-time fix. A flagged visit of mine does not count.
    j1 = job(factory, me, site, reported_at="2024-03-04 08:00", assigned_at="2024-03-04 08:10",
             first_contact_at="2024-03-04 08:30", closed_at="2024-03-04 11:00", fixed=True,
             checklist_complete=True)
    visit(factory, j1, me, "2024-03-04 09:00", 90)
    visit(factory, j1, me, "2024-03-04 10:35", 10, status="flagged")

    # J2: field; dispatch 10:00→10:30 = 30; contact 10:30→11:10 = 40. A flagged visit of
    # mine at 11:00 does not count; eng_a2's approved visit 12:00–13:00 is the first
    # counted one (arrival 12:00−10:00 = 120; its 60 service minutes are eng_a2's); my
    # verified visit on the 11th 09:00–11:00 gives me 120 service minutes. Two counted
    # visits: fixed but not first time. Checklist incomplete. A visit of mine rejected on
    # the 15th is a false report; a disputed one is not (yet).
    j2 = job(factory, me, site, reported_at="2024-03-10 10:00", assigned_at="2024-03-10 10:30",
             first_contact_at="2024-03-10 11:10", closed_at="2024-03-11 12:00", fixed=True,
             checklist_complete=False)
    visit(factory, j2, me, "2024-03-10 11:00", 30, status="flagged")
    visit(factory, j2, helper, "2024-03-10 12:00", 60, status="approved")
    visit(factory, j2, me, "2024-03-11 09:00", 120)
    visit(factory, j2, me, "2024-03-12 09:00", 20, status="rejected",
          rejected_at=at("2024-03-15 10:00"))
    visit(factory, j2, me, "2024-03-13 09:00", 20, status="disputed",
          rejected_at=at("2024-03-16 10:00"))

    # J3: remote; dispatch 09:00→09:20 = 20; contact 09:20→10:20 = 60; no visit, and
    # none needed: remote and fixed is a first-time fix. Checklist complete. J4, eng_a2's
    # later job, names it as repeat_of_id: a repeat repair.
    j3 = job(factory, me, site, mode="remote", reported_at="2024-03-20 09:00",
             assigned_at="2024-03-20 09:20", first_contact_at="2024-03-20 10:20",
             closed_at="2024-03-20 12:00", fixed=True, checklist_complete=True)
    job(factory, helper, site, reported_at="2024-03-25 09:00", assigned_at="2024-03-25 09:30",
        repeat_of_id=j3.id)

    # J7 closed one second before March (2024 is a leap year); its feedback comes in March.
    j7 = job(factory, me, site, reported_at="2024-02-20 08:00", assigned_at="2024-02-20 08:05",
             first_contact_at="2024-02-20 08:15", closed_at="2024-02-29 23:59:59", fixed=False,
             checklist_complete=False)
    # J9: everything at the first instant of April.
    j9 = job(factory, me, site, reported_at="2024-04-01 00:00", assigned_at="2024-04-01 00:00",
             first_contact_at="2024-04-01 00:00", closed_at="2024-04-01 00:00", fixed=True,
             checklist_complete=True)
    complaint(j9, "2024-04-01 00:00")

    # A cancelled job counts nowhere, with all it carries; a cancelled repeat of J1 does
    # not make J1 a repeat repair.
    j5 = job(factory, me, site, status="cancelled", reported_at="2024-03-02 08:00",
             assigned_at="2024-03-02 08:01", first_contact_at="2024-03-02 09:00",
             closed_at="2024-03-02 12:00", fixed=False, checklist_complete=False)
    visit(factory, j5, me, "2024-03-02 10:00", 30)
    visit(factory, j5, me, "2024-03-02 11:00", 5, status="rejected", rejected_at=at("2024-03-03 08:00"))
    feedback(j5, 0, "2024-03-03 08:00")
    complaint(j5, "2024-03-03 09:00")
    job(factory, helper, site, status="cancelled", reported_at="2024-03-06 08:00", repeat_of_id=j1.id)
    # A job nobody has been given: no one's figure.
    factory.job(site=site, reported_at=at("2024-03-07 08:00"))

    # Feedback: J1 10 (promoter), J2 6 (detractor), J3 9 (promoter), J7 8 (passive).
    feedback(j1, 10, "2024-03-05 08:00")
    feedback(j2, 6, "2024-03-12 08:00")
    feedback(j3, 9, "2024-03-21 08:00")
    feedback(j7, 8, "2024-03-01 00:00")
    # Complaint on J2 in March; J9's (April) and J5's (cancelled) do not count.
    complaint(j2, "2024-03-12 09:00")

    # Trainings: two in March (one shared with eng_a2), one in February.
    training("2024-03-05 09:00", me, helper)
    training("2024-03-25 09:00", me)
    training("2024-02-25 09:00", me)
    # Knowledge: two approved in March (quality 4 and 5); a submitted one and a
    # rejected one do not count; one approved in April neither.
    knowledge(me, "2024-03-06 10:00", 4, kind="case")
    knowledge(me, "2024-03-20 10:00", 5, kind="document")
    knowledge(me, None, None, status="submitted")
    knowledge(me, "2024-03-21 10:00", 2, status="rejected")
    knowledge(me, "2024-04-02 10:00", 5)
    # Compliance: one safety incident, two process violations in March; one in April.
    compliance(me, "safety_incident", "2024-03-07 10:00")
    compliance(me, "process_violation", "2024-03-08 10:00")
    compliance(me, "process_violation", "2024-03-09 10:00")
    compliance(me, "safety_incident", "2024-04-03 10:00")
    db.session.commit()
    return {"me": me, "helper": helper, "j1": j1, "j2": j2, "j3": j3, "j7": j7}


# Expected card of eng_a1 for March, mid-field (target, floor, weight from kpi.md):
# metric                  value (by hand)                            n  score (by hand)
EXPECTED = {
    # (20 + 40 + 60) / 3 = 40; (240−40)/(240−30)×100 = 200/210×100 = 95.238095
    "first_contact_minutes": (40.0, 3, 95.24, 10.0),
    # J1 60, J2 120 (eng_a2's visit came first): 90; ≤ 240 → 100
    "arrival_minutes": (90.0, 2, 100.0, 0.0),
    # (10 + 30 + 20) / 3 = 20; not in the scheme: no score, no gap
    "dispatch_minutes": (20.0, 3, None, None),
    # my counted visits with a March check-out: 90 and 120 → 105; (240−105)/150×100 = 90
    "service_minutes": (105.0, 2, 90.0, 15.0),
    # J1 and J3 of J1, J2, J3: 2/3 = 66.666667; (66.666667−50)/35×100 = 47.619048;
    # gap 85 − 66.666667 = 18.333333
    "first_time_fix_rate": (66.67, 3, 47.62, 18.33),
    # J3 of 3: 33.333333 ≥ floor 20 → 0; gap 33.333333 − 5 = 28.333333
    "repeat_repair_rate": (33.33, 3, 0.0, 28.33),
    # promoters 2 (10, 9), detractors 1 (6), passive 1 (8): 100×(2−1)/4 = 25; 25/50×100 = 50
    "nps": (25.0, 4, 50.0, 25.0),
    # one: (3−1)/3×100 = 66.666667
    "complaints": (1.0, 1, 66.67, 1.0),
    "trainings_attended": (2.0, 2, 100.0, 0.0),
    "knowledge_items": (2.0, 2, 100.0, 0.0),
    # (4 + 5) / 2 = 4.5 ≥ 4 → 100
    "case_quality": (4.5, 2, 100.0, 0.0),
    # J1 and J3 of 3: 66.666667 ≤ floor 80 → 0; gap 100 − 66.666667 = 33.333333
    "checklist_completion_rate": (66.67, 3, 0.0, 33.33),
    # (2−1)/2×100 = 50
    "safety_incidents": (1.0, 1, 50.0, 1.0),
    # (3−2)/3×100 = 33.333333
    "process_violations": (2.0, 2, 33.33, 2.0),
    # the rejected visit on J2 (the disputed one waits; J5's is cancelled): (2−1)/2×100 = 50
    "false_reports": (1.0, 1, 50.0, 1.0),
}


def test_every_metric_of_a_hand_built_month(client, org, march):
    client.login(org["admin"])
    card = get_card(client, march["me"])
    got = {k: (m["value"], m["n"], m["score"], m["gap"]) for k, m in metrics(card).items()}
    assert got == EXPECTED
    assert [m["key"] for m in card["metrics"]] == list(EXPECTED)  # all 15, in kpi.md's order
    assert all(m["has_data"] for m in card["metrics"])
    assert metrics(card)["dispatch_minutes"]["weight"] == 0
    assert metrics(card)["dispatch_minutes"]["target"] is None

    # Dimensions (weighted means of the unrounded scores):
    # response     (10×95.238095 + 5×100) / 15 = 1452.380952/15 = 96.825397
    # efficiency   (5×90 + 15×47.619048 + 5×0) / 25 = 1164.285714/25 = 46.571429
    # satisfaction (30×50 + 10×66.666667) / 40 = 2166.666667/40 = 54.166667
    # knowledge    (3×100 + 4×100 + 3×100) / 10 = 100
    # compliance   (4×0 + 3×50 + 1×33.333333 + 2×50) / 10 = 283.333333/10 = 28.333333
    assert card["dimensions"] == {"response": 96.83, "efficiency": 46.57,
                                  "satisfaction": 54.17, "knowledge": 100.0,
                                  "compliance": 28.33}
    # Total: (1452.380952 + 1164.285714 + 2166.666667 + 1000 + 283.333333) / 100 = 60.666667
    assert card["total_score"] == 60.67
    assert card["pass_score"] == 80
    assert card["meets_target"] is False
    assert (card["scheme"], card["period"], card["engineer_id"]) == ("mid-field", PERIOD, march["me"].id)
    # March is over and not closed: computed from the records now, but not the live month.
    assert (card["live"], card["frozen"]) == (False, False)


def test_the_helper_is_ranked_above_and_takes_the_only_bonus(client, org, march):
    # eng_a2 is active (a counted visit checked out in March): service 60 → 100 (weight 5),
    # complaints 0 → 100 (10), trainings 1 → 100 (3), knowledge items 0 → 0 (4), safety,
    # violations and false reports 0 → 100 (3, 1, 2); no closes, contacts or feedback.
    # (500 + 1000 + 300 + 0 + 300 + 100 + 200) / 28 = 2400/28 = 85.714286 → 85.71.
    # Dispatch (J4 assigned 09:00→09:30 = 30) shows but weighs nothing.
    client.login(org["admin"])
    helper = get_card(client, march["helper"])
    assert helper["total_score"] == 85.71
    assert metrics(helper)["dispatch_minutes"]["value"] == 30.0
    assert metrics(helper)["service_minutes"]["value"] == 60.0
    assert metrics(helper)["arrival_minutes"]["has_data"] is False
    # Two ranked (eng_b1 and the loner have no records): cut-off max(1, ⌊0.2×2⌋) = 1.
    assert (helper["rank"], helper["ranked"], helper["bonus_eligible"]) == (1, 2, True)
    me = get_card(client, march["me"])
    assert (me["rank"], me["ranked"], me["bonus_eligible"]) == (2, 2, False)
    idle = get_card(client, org["eng_b1"])
    assert (idle["total_score"], idle["rank"], idle["ranked"], idle["bonus_eligible"]) == (None, None, 2, False)
    assert all(not m["has_data"] and m["value"] is None for m in idle["metrics"])
    assert idle["dimensions"] == dict.fromkeys(idle["dimensions"])


# --- The records behind each figure ----------------------------------------------------

def test_records_explain_each_figure(client, org, march):
    client.login(org["eng_a1"])
    me, j1, j2, j3, j7 = (march[k] for k in ("me", "j1", "j2", "j3", "j7"))

    contact = records(client, me, "first_contact_minutes")
    assert [(r["type"], r["id"], r["value"]) for r in contact["items"]] == [
        ("job", j3.id, 60.0), ("job", j2.id, 40.0), ("job", j1.id, 20.0)]
    assert contact["items"][0]["at"] == "2024-03-20T10:20:00Z"
    assert contact["items"][0]["facts"] == {"assigned_at": "2024-03-20T09:20:00Z"}
    # (60 + 40 + 20) / 3 = 40, as on the card.
    assert (contact["value"], contact["n"], contact["total"]) == (40.0, 3, 3)

    arrival = records(client, me, "arrival_minutes")
    assert [(r["id"], r["value"]) for r in arrival["items"]] == [(j2.id, 120.0), (j1.id, 60.0)]
    assert arrival["items"][0]["facts"]["reported_at"] == "2024-03-10T10:00:00Z"

    service = records(client, me, "service_minutes")
    assert [(r["type"], r["job_id"], r["value"]) for r in service["items"]] == [
        ("visit", j2.id, 120.0), ("visit", j1.id, 90.0)]

    ftf = records(client, me, "first_time_fix_rate")
    # 100 per first-time fix, 0 otherwise, newest first: (100 + 0 + 100) / 3 = 66.67.
    assert [(r["id"], r["value"]) for r in ftf["items"]] == [(j3.id, 100.0), (j2.id, 0.0), (j1.id, 100.0)]
    assert ftf["items"][1]["facts"]["counted_visits"] == 2
    assert (ftf["value"], ftf["n"]) == (66.67, 3)

    repeat = records(client, me, "repeat_repair_rate")
    assert [r["value"] for r in repeat["items"]] == [100.0, 0.0, 0.0]
    assert repeat["items"][0]["facts"]["repeat_job_id"] is not None
    assert repeat["items"][2]["facts"]["repeat_job_id"] is None  # J1's repeat was cancelled

    nps = records(client, me, "nps")
    # +100 per promoter, −100 per detractor, 0 passive: (100 − 100 + 100 + 0) / 4 = 25.
    assert [(r["job_id"], r["facts"]["score"], r["value"]) for r in nps["items"]] == [
        (j3.id, 9, 100.0), (j2.id, 6, -100.0), (j1.id, 10, 100.0), (j7.id, 8, 0.0)]
    assert (nps["value"], nps["n"]) == (25.0, 4)

    quality = records(client, me, "case_quality")
    assert sorted(r["value"] for r in quality["items"]) == [4.0, 5.0]
    assert records(client, me, "knowledge_items")["total"] == 2
    assert [r["value"] for r in records(client, me, "process_violations")["items"]] == [1.0, 1.0]
    assert records(client, me, "safety_incidents")["total"] == 1
    false = records(client, me, "false_reports")
    assert [(r["type"], r["at"]) for r in false["items"]] == [("visit", "2024-03-15T10:00:00Z")]
    assert records(client, me, "complaints")["items"][0]["job_id"] == j2.id
    assert records(client, me, "trainings_attended")["total"] == 2
    checklist = records(client, me, "checklist_completion_rate")
    assert [r["facts"]["checklist_complete"] for r in checklist["items"]] == [True, False, True]


def test_records_are_paged(client, org, march):
    client.login(org["admin"])
    first = records(client, march["me"], "first_contact_minutes", per_page=2)
    second = records(client, march["me"], "first_contact_minutes", per_page=2, page=2)
    assert [r["value"] for r in first["items"]] == [60.0, 40.0]
    assert [r["value"] for r in second["items"]] == [20.0]
    assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)


def test_records_refuse_an_unknown_metric_and_a_bad_period(client, org, march):
    from tests.api.test_app import assert_problem

    client.login(org["admin"])
    me = march["me"]
    body = assert_problem(client.get(f"kpi/engineers/{me.id}/records?metric=speed"), 422, "VALIDATION_ERROR")
    assert "metric" in body["errors"]
    assert_problem(client.get(f"kpi/engineers/{me.id}/records"), 422, "VALIDATION_ERROR")
    assert_problem(client.get(f"kpi/engineers/{me.id}/records?metric=nps&period=2024-13"),
                   422, "VALIDATION_ERROR")
    assert_problem(client.get(f"kpi/engineers/{me.id}/records?metric=nps&period=2999-01"),
                   422, "VALIDATION_ERROR")


# --- Time zones, boundaries, activity ------------------------------------------------


def _boundary_records(org, factory):
    me = org["eng_a1"]
    site = factory.site()
    # 23:30 UTC on 31 March is 07:30 on 1 April in Shanghai (UTC+8, no daylight saving);
    # 16:30 UTC on 29 February is 00:30 on 1 March there.
    late = job(factory, me, site, reported_at="2024-03-31 20:00", assigned_at="2024-03-31 21:00")
    early = job(factory, me, site, reported_at="2024-02-29 10:00", assigned_at="2024-02-29 11:00")
    complaint(late, "2024-03-31 23:30")
    complaint(early, "2024-02-29 16:30")
    # Closed 15:59:59 UTC = 23:59:59 Shanghai on the 31st (March there) and 16:00:00 UTC =
    # midnight on 1 April there. Remote, so that fixed alone is a first-time fix.
    job(factory, me, site, mode="remote", reported_at="2024-03-31 08:00",
        closed_at="2024-03-31 15:59:59", fixed=True, checklist_complete=True)
    job(factory, me, site, mode="remote", reported_at="2024-03-31 08:00",
        closed_at="2024-03-31 16:00:00", fixed=False, checklist_complete=False)
    db.session.commit()
    return me


@pytest.mark.config(TIMEZONE="Asia/Shanghai")
def test_a_month_is_a_month_in_the_organisation_time_zone(client, org, factory):
    me = _boundary_records(org, factory)
    client.login(org["admin"])
    march = metrics(get_card(client, me, "2024-03"))
    april = metrics(get_card(client, me, "2024-04"))
    # March in Shanghai: the complaint of 29 Feb 16:30Z; the job closed at 15:59:59Z (fixed).
    assert (march["complaints"]["value"], march["first_time_fix_rate"]["value"]) == (1.0, 100.0)
    assert march["first_time_fix_rate"]["n"] == 1
    # April there: the complaint of 31 March 23:30Z and the job closed at 16:00:00Z.
    assert (april["complaints"]["value"], april["first_time_fix_rate"]["value"]) == (1.0, 0.0)
    # Dispatch of the late job: assigned 21:00Z on the 31st = 05:00 on 1 April there.
    assert april["dispatch_minutes"]["value"] == 60.0
    stamps = records(client, me, "complaints", "2024-04")["items"]
    assert [r["at"] for r in stamps] == ["2024-03-31T23:30:00Z"]  # shown in UTC


def test_the_same_records_in_utc(client, org, factory):
    me = _boundary_records(org, factory)
    client.login(org["admin"])
    march = metrics(get_card(client, me, "2024-03"))
    # In UTC both closes and the 23:30 complaint are in March; the 16:30 one in February.
    assert (march["complaints"]["value"], march["first_time_fix_rate"]["n"]) == (1.0, 2)
    assert march["first_time_fix_rate"]["value"] == 50.0  # one fixed of two
    assert metrics(get_card(client, me, "2024-02"))["complaints"]["value"] == 1.0


def test_an_engineer_with_only_an_assignment_is_not_active(client, org, factory):
    # A dispatch is not in kpi.md's list of activity: counts have no data, no total.
    me = org["eng_a1"]
    job(factory, me, reported_at="2024-03-04 08:00", assigned_at="2024-03-04 09:00")
    db.session.commit()
    client.login(org["admin"])
    card = get_card(client, me)
    assert metrics(card)["dispatch_minutes"]["value"] == 60.0
    assert metrics(card)["complaints"]["has_data"] is False
    assert (card["total_score"], card["rank"], card["meets_target"]) == (None, None, False)


def test_one_training_makes_a_month_and_shares_out_the_missing_weights(client, org):
    # Active through one training: counts have data, means and rates do not, and their
    # weights (10+5+5+15+5+30+3+4 = 77) are shared out over the counts:
    # complaints 0 → 100 (10), trainings 1 → 100 (3), knowledge items 0 → 0 (4),
    # safety 0 → 100 (3), violations 0 → 100 (1), false reports 0 → 100 (2):
    # (1000 + 300 + 0 + 300 + 100 + 200) / 23 = 1900/23 = 82.608696 → 82.61 ≥ 80.
    training("2024-03-05 09:00", org["eng_a1"])
    db.session.commit()
    client.login(org["eng_a1"])
    card = get_card(client, org["eng_a1"])
    assert card["total_score"] == 82.61
    assert card["meets_target"] is True
    # knowledge = (3×100 + 4×0) / 7 = 42.857143 (case quality has no data)
    assert card["dimensions"] == {"response": None, "efficiency": None, "satisfaction": 100.0,
                                  "knowledge": 42.86, "compliance": 100.0}
    assert metrics(card)["knowledge_items"]["gap"] == 1.0  # one approved item to go


def test_nps_needs_three_responses(client, org, factory):
    # Two promoters only: n = 2 < min_samples 3, so nps has no data (its 30 are shared).
    me = org["eng_a1"]
    for day in (4, 5):
        done = job(factory, me, reported_at=f"2024-03-0{day} 08:00", closed_at=f"2024-03-0{day} 12:00",
                   fixed=True, checklist_complete=True, mode="remote")
        feedback(done, 10, f"2024-03-0{day} 13:00")
    db.session.commit()
    client.login(org["admin"])
    nps = metrics(get_card(client, me))["nps"]
    assert (nps["value"], nps["n"], nps["has_data"], nps["score"]) == (None, 2, False, None)


def test_the_live_card_reflects_every_record_saved_before_the_request(client, org, factory):
    me = org["eng_a1"]
    client.login(me)
    card = get_card(client, me, None)
    assert (card["live"], card["frozen"], card["total_score"]) == (True, False, None)
    # A safety incident now: active, (1000 + 0 + 0 + 150 + 100 + 200)/23 = 1450/23 = 63.043478
    # (complaints 100×10, trainings 0×3, items 0×4, safety (2−1)/2×100 = 50 ×3, …).
    db.session.add(ComplianceEvent(engineer_id=me.id, kind="safety_incident", severity="high",
                                   occurred_at=datetime.now(UTC), note="Ladder"))
    db.session.commit()
    card = get_card(client, me, None)
    assert card["total_score"] == 63.04
    assert metrics(card)["safety_incidents"]["value"] == 1.0


def test_durations_to_the_second_round_half_up_alike_on_both_databases(client, org, factory):
    # A visit of 37 min 25.5 s: 2245.5 s / 60 = 37.425 min, rounded half up to 37.43
    # (not to 37.42, as a float error either side of the half would give).
    me = org["eng_a1"]
    done = job(factory, me, reported_at="2024-03-04 08:00:00", assigned_at="2024-03-04 08:00:00",
               first_contact_at="2024-03-04 08:12:30.5")
    visit(factory, done, me, "2024-03-04 09:00:00", 37.425)
    db.session.commit()
    client.login(org["admin"])
    card = metrics(get_card(client, me))
    assert card["service_minutes"]["value"] == 37.43
    # 12 min 30.5 s = 750.5 s / 60 = 12.508333 → 12.51
    assert card["first_contact_minutes"]["value"] == 12.51
    assert records(client, me, "service_minutes")["items"][0]["value"] == 37.43
