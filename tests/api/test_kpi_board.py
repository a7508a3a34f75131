"""Ranks, ties, the bonus cut-off, scope of the card, the team board and the export."""
from __future__ import annotations

import csv
import io

import pytest

from app.extensions import db
from tests.api.test_app import assert_problem
from tests.api.test_kpi_figures import PERIOD, compliance, get_card, knowledge, training

# Ten engineers active in March 2024 through one training each, mid-field. Their counts:
# complaints 0 → 100 (weight 10), trainings 1 → 100 (3), knowledge items 0 → 0 (4),
# false reports 0 → 100 (2); safety incidents 0/1/2 → 100/50/0 (3); process violations
# 0/1/2/3 → 100/66.666667/33.333333/0 (1). Means and rates have no data (weights shared).
# name: (team, safety, violations, approved item, total worked out by hand)
LEAGUE = {
    # + one approved item of quality 4: items 1 → 100 (4), case quality 4 → 100 (3):
    # (1000 + 300 + 400 + 300 + 300 + 100 + 200) / 26 = 2600/26 = 100
    "Ada": ("sup_a", 0, 0, True, 100.0),
    "Bo": ("sup_b", 0, 0, False, 82.61),  # (1000+300+0+300+100+200)/23 = 1900/23 = 82.608696
    "Cy": ("sup_a", 0, 0, False, 82.61),  # the same: tied with Bo
    "Di": ("sup_a", 0, 1, False, 81.16),  # (1000+300+300+66.666667+200)/23 = 1866.666667/23 = 81.159420
    "Ed": ("sup_b", 1, 0, False, 76.09),  # (1000+300+150+100+200)/23 = 1750/23 = 76.086957
    "Fa": ("sup_a", 1, 1, False, 74.64),  # (1000+300+150+66.666667+200)/23 = 1716.666667/23 = 74.637681
    "Gu": ("sup_a", 1, 2, False, 73.19),  # (1000+300+150+33.333333+200)/23 = 1683.333333/23 = 73.188406
    "Hu": ("sup_b", 2, 0, False, 69.57),  # (1000+300+0+100+200)/23 = 1600/23 = 69.565217
    "Io": ("sup_a", 2, 1, False, 68.12),  # (1000+300+0+66.666667+200)/23 = 1566.666667/23 = 68.115942
    "Ju": ("sup_a", 2, 3, False, 65.22),  # (1000+300+0+0+200)/23 = 1500/23 = 65.217391
}
# Ranks: 1 + the number strictly higher; Bo and Cy share 2, so Di is 4. Ten ranked:
# cut-off max(1, ⌊0.2×10⌋) = 2, so Ada (1), Bo and Cy (2) earn the bonus, Di (4) not.
RANKS = {"Ada": 1, "Bo": 2, "Cy": 2, "Di": 4, "Ed": 5, "Fa": 6, "Gu": 7, "Hu": 8, "Io": 9, "Ju": 10}
BONUS = {"Ada", "Bo", "Cy"}


@pytest.fixture
def league(org, factory):
    people = {}
    for name, (team, safety, violations, item, _) in LEAGUE.items():
        person = factory.user("engineer", supervisor=org[team], name=name)
        training("2024-03-05 09:00", person)
        for day in range(safety):
            compliance(person, "safety_incident", f"2024-03-1{day} 10:00")
        for day in range(violations):
            compliance(person, "process_violation", f"2024-03-2{day} 10:00")
        if item:
            knowledge(person, "2024-03-06 10:00", 4)
        people[name] = person
    # A former engineer of team A, deactivated, with nothing in March: not on the board.
    people["gone"] = factory.user("engineer", supervisor=org["sup_a"], name="Gone", active=False)
    db.session.commit()
    return people


def test_totals_ranks_ties_and_the_bonus_cut_off(client, org, league):
    client.login(org["admin"])
    for name, (*_, total) in LEAGUE.items():
        card = get_card(client, league[name])
        assert card["total_score"] == total, name
        assert (card["rank"], card["ranked"]) == (RANKS[name], 10), name
        assert card["bonus_eligible"] is (name in BONUS), name
        assert card["meets_target"] is (total >= 80), name
    # The org's engineers without records: no rank, but they see how many are ranked.
    idle = get_card(client, org["eng_a1"])
    assert (idle["rank"], idle["ranked"], idle["bonus_eligible"]) == (None, 10, False)


def _names(board: dict) -> list[str]:
    return [item["name"] for item in board["items"]]


def test_team_board_of_a_supervisor_best_first_with_org_wide_ranks(client, org, league):
    client.login(org["sup_a"])
    response = client.get(f"kpi/team?period={PERIOD}")
    assert response.status_code == 200
    board = response.json
    idle = sorted([org["eng_a1"].name, org["eng_a2"].name])
    # Best first (ranks stay org-wide: Di is 4th although 3rd in the team); without data
    # last, by name; the deactivated engineer without records is left out.
    assert _names(board) == ["Ada", "Cy", "Di", "Fa", "Gu", "Io", "Ju"] + idle
    first = board["items"][0]
    assert first == {
        "engineer_id": league["Ada"].id, "name": "Ada", "level": "mid", "work_type": "field",
        "total_score": 100.0, "rank": 1, "meets_target": True, "bonus_eligible": True,
        "streak_months": 1, "promotion_priority": False,
        # response and efficiency have no data; satisfaction = complaints 100;
        # knowledge (3×100 + 4×100 + 3×100)/10 = 100; compliance (3×100+1×100+2×100)/6 = 100
        "dimensions": {"response": None, "efficiency": None, "satisfaction": 100.0,
                       "knowledge": 100.0, "compliance": 100.0},
    }
    assert [i["rank"] for i in board["items"]] == [1, 2, 4, 6, 7, 9, 10, None, None]
    assert board["items"][-1]["total_score"] is None
    assert (board["period"], board["frozen"], board["live"], board["ranked"]) == (PERIOD, False, False, 10)


def test_team_board_of_an_admin_and_the_supervisor_filter(client, org, league):
    client.login(org["admin"])
    board = client.get(f"kpi/team?period={PERIOD}").json
    ranked = [n for n in _names(board) if n in LEAGUE]
    assert ranked == list(LEAGUE)  # Bo before Cy: tied, then by name
    assert len(board["items"]) == 14  # ten plus the org's four engineers without data
    team_b = client.get(f"kpi/team?period={PERIOD}&supervisor_id={org['sup_b'].id}").json
    assert _names(team_b) == ["Bo", "Ed", "Hu", org["eng_b1"].name]
    assert [i["bonus_eligible"] for i in team_b["items"]] == [True, False, False, False]
    # A supervisor's filter cannot reach beyond their own team.
    client.login(org["sup_b"])
    assert client.get(f"kpi/team?period={PERIOD}&supervisor_id={org['sup_a'].id}").json["items"] == []


def test_team_board_scope_and_arguments(client, org):
    assert_problem(client.get("kpi/team"), 401, "UNAUTHORIZED")
    client.login(org["eng_a1"])
    assert_problem(client.get("kpi/team"), 403, "FORBIDDEN")
    assert_problem(client.get("kpi/export"), 403, "FORBIDDEN")
    client.login(org["admin"])
    for bad in ("period=2024-3", "period=2999-01", "supervisor_id=0", "supervisor_id=x"):
        assert_problem(client.get(f"kpi/team?{bad}"), 422, "VALIDATION_ERROR")
    # Without a period: the current month, live.
    board = client.get("kpi/team").json
    assert board["live"] is True and board["frozen"] is False
    client.login(org["sup_b"])
    assert _names(client.get("kpi/team").json) == [org["eng_b1"].name]


def test_a_supervisor_without_a_team_sees_nobody(client, org, factory):
    lonely = factory.user("supervisor")
    db.session.commit()
    client.login(lonely)
    assert client.get("kpi/team").json["items"] == []
    assert _csv(client.get("kpi/export")) == []


# --- Scope of the card and its records -------------------------------------------------

CARD_SCOPE = {"eng_a1": 200, "eng_a2": 404, "eng_b1": 404, "sup_a": 200, "sup_b": 404, "admin": 200}


@pytest.mark.parametrize("who", CARD_SCOPE)
def test_the_card_and_its_records_are_seen_by_the_engineer_their_supervisor_and_admins(client, org, who):
    client.login(org[who])
    engineer = org["eng_a1"].id
    status = CARD_SCOPE[who]
    assert client.get(f"kpi/engineers/{engineer}").status_code == status
    assert client.get(f"kpi/engineers/{engineer}/records?metric=nps").status_code == status
    if status == 404:
        assert_problem(client.get(f"kpi/engineers/{engineer}?period={PERIOD}"), 404, "NOT_FOUND")


def test_the_card_of_a_non_engineer_or_nobody_is_404_and_anonymous_is_401(client, org):
    assert_problem(client.get(f"kpi/engineers/{org['eng_a1'].id}"), 401, "UNAUTHORIZED")
    client.login(org["admin"])
    for user in ("sup_a", "admin"):
        assert_problem(client.get(f"kpi/engineers/{org[user].id}"), 404, "NOT_FOUND")
        assert_problem(client.get(f"kpi/engineers/{org[user].id}/records?metric=nps"), 404, "NOT_FOUND")
    assert_problem(client.get("kpi/engineers/999999"), 404, "NOT_FOUND")
    assert_problem(client.get("kpi/engineers/99999999999999999999999"), 404, "NOT_FOUND")
    # The engineer without a supervisor: admins only.
    assert client.get(f"kpi/engineers/{org['loner'].id}").status_code == 200
    client.login(org["sup_a"])
    assert_problem(client.get(f"kpi/engineers/{org['loner'].id}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("period", ["2024-3", "2024-00", "2024-13", "24-03", "march", "1969-12", "2024-03-01"])
def test_a_period_not_shaped_yyyy_mm_is_422(client, org, period):
    client.login(org["eng_a1"])
    body = assert_problem(client.get(f"kpi/engineers/{org['eng_a1'].id}?period={period}"), 422,
                          "VALIDATION_ERROR")
    assert "period" in body["errors"]


def test_a_month_still_to_come_is_422_and_the_current_one_is_live(client, org, app):
    from app.services.kpi import periods

    now = periods.current(app.config["TIMEZONE"])
    following = periods.shift(now, 1, app.config["TIMEZONE"])
    client.login(org["eng_a1"])
    path = f"kpi/engineers/{org['eng_a1'].id}"
    body = assert_problem(client.get(f"{path}?period={following.key}"), 422, "VALIDATION_ERROR")
    assert "period" in body["errors"]
    card = client.get(f"{path}?period={now.key}").json
    assert (card["period"], card["live"], card["frozen"]) == (now.key, True, False)
    assert client.get(path).json["period"] == now.key


# --- The export ------------------------------------------------------------------------


def _csv(response) -> list[dict]:
    raw = response.data
    assert raw.startswith("\ufeff".encode())  # the byte-order mark
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_export_csv_one_row_per_engineer_and_metric(client, org, league):
    client.login(org["sup_a"])
    response = client.get(f"kpi/export?period={PERIOD}&format=csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="kpi-2024-03.csv"'
    rows = _csv(response)
    assert list(rows[0]) == ["engineer_id", "name", "period", "scheme", "metric", "dimension",
                             "value", "n", "target", "floor", "weight", "score", "total_score",
                             "rank", "bonus_eligible"]
    # Team A: seven of the league and eng_a1, eng_a2 (no data), 15 metrics each.
    assert len(rows) == 9 * 15
    assert [r["name"] for r in rows[::15]][:7] == ["Ada", "Cy", "Di", "Fa", "Gu", "Io", "Ju"]
    ada = {r["metric"]: r for r in rows if r["name"] == "Ada"}
    assert ada["trainings_attended"] == {
        "engineer_id": str(league["Ada"].id), "name": "Ada", "period": "2024-03",
        "scheme": "mid-field", "metric": "trainings_attended", "dimension": "knowledge",
        "value": "1.0", "n": "1", "target": "1", "floor": "0", "weight": "3", "score": "100.0",
        "total_score": "100.0", "rank": "1", "bonus_eligible": "true"}
    # No data: empty cells, not zeros.
    assert (ada["nps"]["value"], ada["nps"]["score"], ada["nps"]["n"]) == ("", "", "0")
    assert ada["dispatch_minutes"]["target"] == ""  # not in the scheme
    idle = [r for r in rows if r["engineer_id"] == str(org["eng_a1"].id)]
    assert {(r["total_score"], r["rank"], r["bonus_eligible"]) for r in idle} == {("", "", "false")}


def test_export_guards_against_formulas_in_names(client, org, factory):
    for name in ("=HYPERLINK(\"http://evil\")", "+1", "-2", "@SUM(A1)", "李雷"):
        person = factory.user("engineer", supervisor=org["sup_a"], name=name)
        training("2024-03-05 09:00", person)
    db.session.commit()
    client.login(org["admin"])
    rows = _csv(client.get(f"kpi/export?period={PERIOD}"))
    names = {r["name"] for r in rows}
    assert {"'=HYPERLINK(\"http://evil\")", "'+1", "'-2", "'@SUM(A1)", "李雷"} <= names
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)

    from openpyxl import load_workbook

    response = client.get(f"kpi/export?period={PERIOD}&format=xlsx")
    assert response.headers["Content-Type"] == \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["Content-Disposition"] == 'attachment; filename="kpi-2024-03.xlsx"'
    sheet = load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["engineer_id", "name", "period"]
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert len(cells) == len(rows)
    evil = [c for c in cells if c.value == "=HYPERLINK(\"http://evil\")"]
    assert evil and all(c.data_type == "s" for c in evil)  # text, never a formula
    assert "李雷" in {c.value for c in cells}
    numbers = [row[6].value for row in sheet.iter_rows(min_row=2) if row[4].value == "trainings_attended"]
    assert set(numbers) == {1.0, None}  # numbers stay numbers; no data is an empty cell


def test_export_scope_and_arguments(client, org, league):
    client.login(org["sup_b"])
    rows = _csv(client.get(f"kpi/export?period={PERIOD}"))
    assert sorted({r["name"] for r in rows}) == sorted(["Bo", "Ed", "Hu", org["eng_b1"].name])
    client.login(org["admin"])
    assert len(_csv(client.get(f"kpi/export?period={PERIOD}"))) == 14 * 15
    assert_problem(client.get("kpi/export?format=pdf"), 422, "VALIDATION_ERROR")
    assert_problem(client.get("kpi/export?period=2024-99"), 422, "VALIDATION_ERROR")
