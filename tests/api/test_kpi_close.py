"""The monthly close: frozen cards, boards, exports, records and streaks (kpi.md, Monthly close)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, ComplianceEvent, Feedback, Job, KpiCard, KpiPeriod, Visit
from tests.api.test_app import assert_problem
from tests.api.test_kpi_figures import (  # noqa: F401  (march is a fixture)
    PERIOD,
    at,
    compliance,
    get_card,
    march,
    metrics,
    records,
    training,
)


def close(client, period: str):
    return client.post(f"kpi/periods/{period}/close")


def cards(period: str) -> dict[int, KpiCard]:
    return {c.engineer_id: c for c in db.session.scalars(sa.select(KpiCard).where(KpiCard.period == period))}


def unflag(card: dict) -> dict:
    return {k: v for k, v in card.items() if k not in ("live", "frozen")}


def test_close_stores_every_engineer_and_is_audited(client, org, march, factory):
    gone = factory.user("engineer", supervisor=org["sup_a"], active=False)
    db.session.commit()
    client.login(org["admin"])
    before = get_card(client, march["me"])
    response = close(client, PERIOD)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["period"] == PERIOD and body["timezone"] == "UTC"
    assert (body["engineers"], body["ranked"], body["closed_by_id"]) == (5, 2, org["admin"].id)
    assert body["closed_at"].endswith("Z")

    period = db.session.get(KpiPeriod, PERIOD)
    assert (period.timezone, period.closed_by_id) == ("UTC", org["admin"].id)
    stored = cards(PERIOD)
    # Every user with the engineer role, without data and deactivated too; nobody else.
    engineers = {org[k].id for k in ("eng_a1", "eng_a2", "eng_b1", "loner")} | {gone.id}
    assert set(stored) == engineers
    mine = stored[march["me"].id]
    assert (mine.scheme_key, mine.total_score, mine.rank, mine.bonus_eligible) == ("mid-field", 60.67, 2, False)
    assert (mine.meets_target, mine.streak_months) == (False, 0)
    assert mine.scheme["pass_score"] == 80 and len(mine.scheme["metrics"]) == 14
    assert unflag({k: v for k, v in mine.card.items() if k != "records"}) == unflag(before)
    assert stored[org["eng_b1"].id].total_score is None and stored[org["eng_b1"].id].rank is None

    (entry,) = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "period.close"))
    assert entry.actor_id == org["admin"].id and entry.target_type == "kpi_period"
    assert entry.detail == {"period": PERIOD, "timezone": "UTC", "engineers": 5, "ranked": 2}

    after = get_card(client, march["me"])
    assert (after["live"], after["frozen"]) == (False, True)
    assert unflag(after) == unflag(before)


def test_a_month_is_closed_once_and_only_when_it_has_ended(client, org, app):
    from app.services.kpi import periods

    tz = app.config["TIMEZONE"]
    now = periods.current(tz)
    client.login(org["admin"])
    assert close(client, "2024-01").status_code == 200
    assert_problem(close(client, "2024-01"), 409, "PERIOD_ALREADY_CLOSED")
    assert_problem(close(client, now.key), 409, "PERIOD_NOT_ENDED")
    assert_problem(close(client, periods.shift(now, 1, tz).key), 409, "PERIOD_NOT_ENDED")
    for bad in ("2024-1", "2024-13", "latest", "1969-12"):
        body = assert_problem(close(client, bad), 422, "VALIDATION_ERROR")
        assert "period" in body["errors"]
    assert db.session.scalars(sa.select(KpiPeriod.period)).all() == ["2024-01"]
    assert len(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "period.close")).all()) == 1


@pytest.mark.parametrize("who", ["eng_a1", "sup_a"])
def test_only_admins_close_and_nothing_is_written(client, org, who):
    client.login(org[who])
    assert_problem(close(client, "2024-01"), 403, "FORBIDDEN")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KpiPeriod)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(KpiCard)) == 0


def test_frozen_figures_do_not_move_after_later_edits(client, org, march, factory):
    client.login(org["admin"])
    me, helper = march["me"], march["helper"]
    live_board = client.get(f"kpi/team?period={PERIOD}").json
    live_export = client.get(f"kpi/export?period={PERIOD}").data
    assert close(client, PERIOD).status_code == 200
    frozen = {e: get_card(client, e) for e in (me, helper)}
    board = client.get(f"kpi/team?period={PERIOD}").json
    export = client.get(f"kpi/export?period={PERIOD}").data
    # The stored figures are the ones computed just before the close.
    assert (board["frozen"], live_board["frozen"]) == (True, False)
    assert board["items"] == live_board["items"] and board["ranked"] == live_board["ranked"] == 2
    assert export == live_export
    nps_records = records(client, me, "nps")
    contact_records = records(client, me, "first_contact_minutes")

    # Everything that would change the live figures of March:
    j1, j2, j3 = (db.session.merge(march[k]) for k in ("j1", "j2", "j3"))
    j1.engineer_id = helper.id  # reassigned: its close, contact and feedback move
    j3.status = "cancelled"  # cancelled: counts nowhere
    for v in db.session.scalars(sa.select(Visit).where(Visit.job_id == j2.id, Visit.status == "verified")):
        v.status, v.rejected_at = "rejected", at("2024-03-30 10:00")  # no longer counted
    late = factory.job(engineer=me, reported_at=at("2024-03-01 08:00"))
    db.session.add(Feedback(job_id=late.id, score=0, submitted_at=at("2024-03-15 08:00")))
    db.session.add(ComplianceEvent(engineer_id=me.id, kind="safety_incident", severity="high",
                                   occurred_at=at("2024-03-28 10:00"), note="Late entry"))
    me_row = db.session.merge(me)
    me_row.level = "senior"  # a new scheme from now on
    db.session.commit()
    assert client.put("kpi/schemes/mid-field", json={"pass_score": 10, "metrics": [
        {"key": "nps", "weight": 100, "target": 10, "floor": 0}]}).status_code == 200

    for engineer, card in frozen.items():
        assert get_card(client, engineer) == card
    assert client.get(f"kpi/team?period={PERIOD}").json == board
    assert client.get(f"kpi/export?period={PERIOD}").data == export
    assert records(client, me, "nps") == nps_records
    assert records(client, me, "first_contact_minutes") == contact_records
    # The stored records still explain the stored figure: (60 + 40 + 20) / 3 = 40.
    assert [r["value"] for r in contact_records["items"]] == [60.0, 40.0, 20.0]
    assert (contact_records["value"], contact_records["frozen"]) == (40.0, True)
    assert contact_records["items"][0]["at"] == "2024-03-20T10:20:00Z"
    assert records(client, me, "nps", per_page=1, page=2)["items"] == nps_records["items"][1:2]

    # April is open and live-computed with the edits (the senior scheme, J1 now eng_a2's).
    assert get_card(client, me, "2024-04")["scheme"] == "senior-field"


def test_a_later_engineer_gets_an_empty_frozen_card(client, org, march, factory):
    client.login(org["admin"])
    assert close(client, PERIOD).status_code == 200
    newcomer = factory.user("engineer", supervisor=org["sup_a"])
    db.session.commit()
    card = get_card(client, newcomer)
    assert (card["frozen"], card["total_score"], card["rank"], card["ranked"]) == (True, None, None, 2)
    assert card["streak_months"] == 0 and len(card["metrics"]) == 15
    assert records(client, newcomer, "nps")["items"] == []
    # The frozen board lists the engineers stored at the close only.
    ids = [i["engineer_id"] for i in client.get(f"kpi/team?period={PERIOD}").json["items"]]
    assert newcomer.id not in ids and march["me"].id in ids


@pytest.mark.config(TIMEZONE="Asia/Shanghai")
@pytest.mark.kpi_store_unchecked("the time zone changes: the store is read from the records until it is rebuilt")
def test_a_closed_month_keeps_its_time_zone(client, org, factory, app):
    me = org["eng_a1"]
    # 23:30 UTC on 31 March is April in Shanghai; 16:30 UTC on 29 February is March there.
    compliance(me, "safety_incident", "2024-03-31 23:30")
    compliance(me, "process_violation", "2024-02-29 16:30")
    db.session.commit()
    client.login(org["admin"])
    assert close(client, "2024-03").json["timezone"] == "Asia/Shanghai"
    assert db.session.get(KpiPeriod, "2024-03").timezone == "Asia/Shanghai"
    frozen = metrics(get_card(client, me, "2024-03"))
    assert (frozen["safety_incidents"]["value"], frozen["process_violations"]["value"]) == (0.0, 1.0)
    app.config["TIMEZONE"] = "UTC"  # changed later: the closed month stays as it was
    again = metrics(get_card(client, me, "2024-03"))
    assert (again["safety_incidents"]["value"], again["process_violations"]["value"]) == (0.0, 1.0)
    # The open February, now in UTC, takes the 16:30Z violation.
    assert metrics(get_card(client, me, "2024-02"))["process_violations"]["value"] == 1.0


# --- Streaks and promotion -------------------------------------------------------------
# One training in a month scores 82.61 (see test_kpi_figures): on target (≥ 80). Two
# safety incidents in the same month bring it to (1000+300+0+0+100+200)/23 = 69.57: off.


def test_three_closed_months_on_target_give_promotion_priority(client, org):
    me = org["eng_a1"]
    for month in ("2024-01", "2024-02", "2024-03", "2024-04", "2024-06"):
        training(f"{month}-10 09:00", me)
    db.session.commit()
    client.login(org["admin"])
    for month in ("2024-01", "2024-02", "2024-03"):
        assert close(client, month).status_code == 200
    streaks = [(c := get_card(client, me, m))["streak_months"] for m in ("2024-01", "2024-02", "2024-03")]
    assert streaks == [1, 2, 3]
    assert c["promotion_priority"] is True and c["frozen"] is True
    assert get_card(client, me, "2024-02")["promotion_priority"] is False
    assert [cards(m)[me.id].streak_months for m in ("2024-01", "2024-02", "2024-03")] == [1, 2, 3]
    # April, open: three stored months on target and April live → 4.
    april = get_card(client, me, "2024-04")
    assert (april["frozen"], april["streak_months"], april["promotion_priority"]) == (False, 4, True)
    # May has no record (a null total ends a streak); June starts again.
    assert get_card(client, me, "2024-05")["streak_months"] == 0
    assert get_card(client, me, "2024-06")["streak_months"] == 1
    board = client.get("kpi/team?period=2024-04").json["items"]
    mine = next(i for i in board if i["engineer_id"] == me.id)
    assert (mine["streak_months"], mine["promotion_priority"]) == (4, True)
    frozen_board = client.get("kpi/team?period=2024-03").json["items"]
    mine = next(i for i in frozen_board if i["engineer_id"] == me.id)
    assert (mine["streak_months"], mine["promotion_priority"]) == (3, True)


def test_streaks_of_months_not_closed_are_computed_live(client, org):
    me = org["eng_a1"]
    for month in ("2023-10", "2023-11", "2023-12"):
        training(f"{month}-10 09:00", me)
    db.session.commit()
    client.login(org["eng_a1"])
    card = get_card(client, me, "2023-12")
    assert (card["streak_months"], card["promotion_priority"], card["frozen"]) == (3, True, False)


@pytest.mark.kpi_store_unchecked("the compliance events are deleted with SQL after the close")
def test_a_stored_miss_ends_a_streak_whatever_is_edited_later(client, org):
    me = org["eng_a1"]
    for month in ("2024-01", "2024-02", "2024-03"):
        training(f"{month}-10 09:00", me)
    for day in (11, 12):  # February off target: 69.57
        compliance(me, "safety_incident", f"2024-02-{day} 10:00")
    db.session.commit()
    client.login(org["admin"])
    assert close(client, "2024-02").status_code == 200
    # The incidents are withdrawn afterwards: February would pass live, but it is closed.
    db.session.execute(sa.delete(ComplianceEvent))
    db.session.commit()
    assert get_card(client, me, "2024-02")["meets_target"] is False
    assert get_card(client, me, "2024-03")["streak_months"] == 1  # March live, February stored
    assert get_card(client, me, "2024-01")["streak_months"] == 1


def test_the_look_back_is_bounded_to_24_months(client, org):
    me = org["eng_a1"]
    # On target every month from January 2022 to March 2024: 27 months.
    for index in range(27):
        year, month = 2022 + index // 12, index % 12 + 1
        training(f"{year}-{month:02d}-10 09:00", me)
    db.session.commit()
    client.login(org["admin"])
    assert get_card(client, me, "2024-03")["streak_months"] == 24
    assert get_card(client, me, "2023-02")["streak_months"] == 14  # Jan 2022 … Feb 2023


def test_changing_a_level_keeps_closed_months_and_judges_open_ones_by_the_new_scheme(client, org):
    me = org["eng_a1"]
    training("2024-01-10 09:00", me)
    training("2024-02-10 09:00", me)
    db.session.commit()
    client.login(org["admin"])
    assert close(client, "2024-01").status_code == 200
    db.session.merge(me).level = "junior"
    db.session.commit()
    assert get_card(client, me, "2024-01")["scheme"] == "mid-field"
    # junior-field, counts only (complaints 10, trainings 6, knowledge items 4, safety 5,
    # violations 2, false reports 2): (1000 + 600 + 0 + 500 + 200 + 200) / 29 = 2500/29 = 86.206897
    february = get_card(client, me, "2024-02")
    assert (february["scheme"], february["total_score"], february["streak_months"]) == ("junior-field", 86.21, 2)


@pytest.mark.kpi_store_unchecked("the job is reassigned with SQL after the close")
def test_a_job_reassigned_before_the_close_counts_for_its_engineer_then(client, org, factory):
    me, other = org["eng_a1"], org["eng_a2"]
    done = factory.job(engineer=me, mode="remote", reported_at=at("2024-03-04 08:00"),
                       closed_at=at("2024-03-04 12:00"), status="closed", fixed=True,
                       checklist_complete=True)
    db.session.commit()
    client.login(org["admin"])
    assert close(client, PERIOD).status_code == 200
    db.session.execute(sa.update(Job).where(Job.id == done.id).values(engineer_id=other.id))
    db.session.commit()
    assert metrics(get_card(client, me))["first_time_fix_rate"]["n"] == 1
    assert metrics(get_card(client, other))["first_time_fix_rate"]["n"] == 0
    assert records(client, me, "first_time_fix_rate")["items"][0]["id"] == done.id
