"""The live board kept between reads: worked out again after every committed change it
shows (a figure, a name, a team, an account, a month closed), never from a transaction's
own uncommitted writes, and read from the versions alone while nothing has changed."""
from __future__ import annotations

from app.extensions import db
from app.models import User
from app.services.kpi import cards
from tests.api.test_kpi_board import LEAGUE, league  # noqa: F401 (fixture)
from tests.api.test_kpi_figures import PERIOD, compliance, get_card
from tests.support import ApiClient, statements_of

BOARD = f"kpi/team?period={PERIOD}"


def board(client) -> dict:
    response = client.get(BOARD)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def names(answer: dict) -> list[str]:
    return [item["name"] for item in answer["items"]]


def by_name(answer: dict) -> dict[str, dict]:
    return {item["name"]: item for item in answer["items"]}


def test_an_unchanged_board_is_read_from_its_versions(app, org, league):  # noqa: F811
    admin = ApiClient(app.test_client()).use_token(org["admin"])
    cards.forget_kept_boards()
    worked_out, first = statements_of(admin, BOARD)
    kept, again = statements_of(admin, BOARD)
    assert again == first and set(LEAGUE) <= set(names(first))
    # Sign-in by token and the versions, against the scores, schemes, engineers and
    # streak months of a board worked out.
    assert kept < worked_out and kept <= 3
    # A card of an engineer on the kept board: the engineer, the versions and their row;
    # read again, the card kept with the board.
    card_statements, card = statements_of(admin, f"kpi/engineers/{league['Ada'].id}?period={PERIOD}")
    assert card["total_score"] == 100.0 and card["rank"] == 1 and card_statements <= 5
    again_statements, again = statements_of(admin, f"kpi/engineers/{league['Ada'].id}?period={PERIOD}")
    assert again == card and again_statements == card_statements - 1
    cards.forget_kept_boards()
    assert get_card(admin, league["Ada"]) == card


def test_every_committed_change_shows_on_the_next_read(app, org, league, factory):  # noqa: F811
    admin = ApiClient(app.test_client()).use_token(org["admin"])
    sup_a = ApiClient(app.test_client()).use_token(org["sup_a"])
    sup_b = ApiClient(app.test_client()).use_token(org["sup_b"])
    before = board(admin)
    assert by_name(before)["Ada"]["total_score"] == 100.0
    team_b = names(board(sup_b))
    assert "Bo" in team_b and "Bo" not in names(board(sup_a))

    # A figure: a safety incident for Ada (safety 100 → 50, weight 3):
    # (1000 + 300 + 150 + 400 + 300 + 100 + 200) / 26 = 2450/26 = 94.230769.
    compliance(league["Ada"], "safety_incident", "2024-03-15 10:00")
    db.session.commit()
    assert by_name(board(admin))["Ada"]["total_score"] == 94.23
    assert get_card(admin, league["Ada"])["total_score"] == 94.23

    # A name.
    assert admin.patch(f"users/{league['Cy'].id}", json={"name": "Cyra"}).status_code == 200
    assert "Cyra" in names(board(admin)) and "Cy" not in names(board(admin))

    # A team: Bo moves to supervisor A.
    assert admin.patch(f"users/{league['Bo'].id}",
                       json={"supervisor_id": org["sup_a"].id}).status_code == 200
    assert "Bo" in names(board(sup_a)) and "Bo" not in names(board(sup_b))
    filtered = admin.get(f"{BOARD}&supervisor_id={org['sup_b'].id}").get_json()
    assert names(filtered) == [name for name in team_b if name != "Bo"]

    # An account: a new engineer (no records: listed without a total), then deactivated.
    created = admin.post("users", json={
        "email": "new.engineer@example.com", "name": "Newt", "password": "a long passphrase 1",
        "role": "engineer", "level": "mid", "work_type": "field", "supervisor_id": org["sup_a"].id})
    assert created.status_code == 201, created.get_data(as_text=True)
    newt = by_name(board(sup_a))["Newt"]
    assert newt["total_score"] is None and newt["rank"] is None
    assert admin.patch(f"users/{created.get_json()['id']}",
                       json={"active": False}).status_code == 200
    assert "Newt" not in names(board(sup_a))

    # The month closed: the board is the frozen one from then on.
    assert board(admin)["frozen"] is False
    assert admin.post(f"kpi/periods/{PERIOD}/close").status_code in (200, 201)
    closed = board(admin)
    assert closed["frozen"] is True and by_name(closed)["Ada"]["total_score"] == 94.23
    assert get_card(admin, league["Ada"])["frozen"] is True


def test_a_transaction_s_own_writes_are_read_but_never_kept(app, org, league):  # noqa: F811
    admin = ApiClient(app.test_client()).use_token(org["admin"])
    assert by_name(board(admin))["Ada"]["total_score"] == 100.0
    viewer = db.session.get(User, org["admin"].id)
    compliance(league["Ada"], "safety_incident", "2024-03-15 10:00")  # not committed
    own = cards.team_board(viewer, PERIOD)
    assert {i["name"]: i for i in own["items"]}["Ada"]["total_score"] == 94.23
    db.session.rollback()
    # Undone: everyone else reads the board without it, still the one kept before (its
    # own view was never kept in its place), or worked out.
    statements, kept = statements_of(admin, BOARD)
    assert by_name(kept)["Ada"]["total_score"] == 100.0 and statements <= 4
    cards.forget_kept_boards()
    assert by_name(board(admin))["Ada"]["total_score"] == 100.0


def test_a_kept_board_shows_each_viewer_their_own_scope(app, org, league):  # noqa: F811
    admin = ApiClient(app.test_client()).use_token(org["admin"])
    sup_a = ApiClient(app.test_client()).use_token(org["sup_a"])
    sup_b = ApiClient(app.test_client()).use_token(org["sup_b"])
    team = {side: [n for n, (t, *_) in LEAGUE.items() if t == side] for side in ("sup_a", "sup_b")}
    team_b_only = f"{BOARD}&supervisor_id={org['sup_b'].id}"
    cards.forget_kept_boards()
    everyone = names(board(admin))
    assert set(LEAGUE) <= set(everyone) and "Gone" not in everyone
    # Each viewer, in turn and again, is given their own part of the one board kept:
    # in the board's order, no one else's, whoever read it before them (the second time
    # round, once their sign-in's last use is recorded, from the versions alone).
    for again in (False, True):
        for client, side in ((sup_a, "sup_a"), (sup_b, "sup_b")):
            statements, answer = statements_of(client, BOARD)
            assert statements <= 3 or not again
            shown = names(answer)
            other = team["sup_b" if side == "sup_a" else "sup_a"]
            assert set(team[side]) <= set(shown) and not set(shown) & set(other)
            assert shown == [name for name in everyone if name in shown]
        assert names(board(admin)) == everyone
        statements, answer = statements_of(admin, team_b_only)
        assert statements <= 3 or not again
        assert set(names(answer)) & set(LEAGUE) == set(team["sup_b"])
        assert names(answer) == names(board(sup_b))
    # A supervisor asking for another team sees nothing of it, kept or not.
    assert client_items(sup_a, f"{BOARD}&supervisor_id={org['sup_b'].id}") == []
    cards.forget_kept_boards()
    assert client_items(sup_a, f"{BOARD}&supervisor_id={org['sup_b'].id}") == []


def client_items(client, path: str) -> list:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["items"]
