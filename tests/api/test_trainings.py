"""/trainings: record, list, read, correct and remove trainings and their attendees
(api.md, Knowledge, trainings, compliance; kpi.md: trainings_attended on held_at)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Training, TrainingAttendee, User
from app.models.types import utcnow
from tests.api.test_app import assert_problem
from tests.api.test_cases import as_user, ids

TOLERANCE = timedelta(seconds=300)  # CLOCK_AHEAD_TOLERANCE_S
MARGIN = timedelta(seconds=20)
HELD = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def body(*attendees: User, **changes: Any) -> dict[str, Any]:
    """A valid POST /trainings body; a value of ... drops the field."""
    data = {"title": "R410A 冷媒安全操作", "held_at": "2026-10-14T17:00:00+08:00", "hours": 1.5,
            "attendee_ids": [a.id for a in attendees], **changes}
    return {k: v for k, v in data.items() if v is not ...}


def training(created_by: User | None, *attendees: User, held_at: datetime = HELD, **fields: Any) -> Training:
    made = Training(title=fields.pop("title", "Working at height"), held_at=held_at,
                    hours=fields.pop("hours", Decimal("2")), created_by_id=created_by.id if created_by else None,
                    attendees=[TrainingAttendee(user_id=a.id) for a in attendees], **fields)
    db.session.add(made)
    db.session.commit()
    return made


def stored() -> list[tuple[str, datetime, Decimal, list[int]]]:
    db.session.expire_all()
    rows = db.session.scalars(sa.select(Training).order_by(Training.id))
    return [(t.title, t.held_at, Decimal(t.hours).quantize(Decimal("0.01")), t.attendee_ids) for t in rows]


def attendee_rows() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(TrainingAttendee))


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- POST /trainings --------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["cookie", "token"])
def test_a_supervisor_records_a_training_of_their_team(app, client, org, auth):
    client.login(org["sup_a"]) if auth == "cookie" else client.use_token(org["sup_a"])
    response = client.post("trainings", json=body(org["eng_a2"], org["eng_a1"], org["eng_a2"]))
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert response.headers["Location"] == f"/api/v1/trainings/{data['id']}"
    assert data == {"id": data["id"], "title": "R410A 冷媒安全操作", "held_at": "2026-10-14T09:00:00Z",
                    "hours": 1.5, "attendee_ids": sorted([org["eng_a1"].id, org["eng_a2"].id]),
                    "created_by_id": org["sup_a"].id, "created_at": data["created_at"]}
    assert stored() == [("R410A 冷媒安全操作", HELD, Decimal("1.50"), sorted([org["eng_a1"].id, org["eng_a2"].id]))]
    [entry] = audits("training.create")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "training", data["id"])
    assert entry.detail["after"]["attendee_ids"] == data["attendee_ids"]
    assert client.get(response.headers["Location"]).get_json() == data


def test_an_admin_lists_any_active_engineers(app, org):
    client = as_user(app, org["admin"])
    response = client.post("trainings", json=body(org["eng_a1"], org["eng_b1"], org["loner"]))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["attendee_ids"] == sorted(u.id for u in (org["eng_a1"], org["eng_b1"], org["loner"]))


@pytest.mark.parametrize("hours, shown", [(0.01, 0.01), (24, 24.0), ("1.50", 1.5), (2.25, 2.25), (1, 1.0)])
def test_hours_edges_are_accepted(app, org, hours, shown):
    response = as_user(app, org["sup_a"]).post("trainings", json=body(org["eng_a1"], hours=hours))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["hours"] == shown


def test_held_at_may_be_now_within_the_clock_tolerance(app, org):
    client = as_user(app, org["sup_a"])
    for held in (utcnow() - timedelta(days=40), utcnow() + TOLERANCE - MARGIN):
        assert client.post("trainings", json=body(org["eng_a1"], held_at=iso(held))).status_code == 201


@pytest.mark.parametrize("changes, field", [
    ({"title": ...}, "title"), ({"title": "  "}, "title"), ({"title": "t" * 201}, "title"),
    ({"held_at": ...}, "held_at"), ({"held_at": "2026-10-14T09:00:00"}, "held_at"),
    ({"held_at": "yesterday"}, "held_at"),
    ({"hours": ...}, "hours"), ({"hours": 0}, "hours"), ({"hours": -1}, "hours"),
    ({"hours": 24.01}, "hours"), ({"hours": 25}, "hours"), ({"hours": 1.234}, "hours"),
    ({"hours": "abc"}, "hours"), ({"hours": True}, "hours"), ({"hours": None}, "hours"),
    ({"hours": "NaN"}, "hours"), ({"hours": "1e999999"}, "hours"), ({"hours": "-1e999999"}, "hours"),
    ({"attendee_ids": ...}, "attendee_ids"), ({"attendee_ids": []}, "attendee_ids"),
    ({"attendee_ids": "4"}, "attendee_ids"), ({"attendee_ids": ["4"]}, "attendee_ids"),
    ({"attendee_ids": [0]}, "attendee_ids"), ({"attendee_ids": list(range(1, 502))}, "attendee_ids"),
    ({"attendee_ids": [2**31]}, "attendee_ids"),  # beyond any id: no 500 from the driver
    ({"created_by_id": 1}, "created_by_id"),
])
def test_bad_input_is_refused_and_nothing_written(app, org, changes, field):
    response = as_user(app, org["sup_a"]).post("trainings", json=body(org["eng_a1"], **changes))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert stored() == [] and attendee_rows() == 0 and audits("training.create") == []


def test_a_training_in_the_future_is_refused(app, org):
    held = iso(utcnow() + TOLERANCE + MARGIN)
    problem = assert_problem(as_user(app, org["sup_a"]).post("trainings", json=body(org["eng_a1"], held_at=held)),
                             422, "VALIDATION_ERROR")
    assert "held_at" in problem["errors"]
    assert stored() == []


@pytest.mark.parametrize("who, attendee", [
    ("sup_a", "eng_b1"), ("sup_a", "loner"), ("sup_a", "sup_a"), ("sup_a", "inactive"),
    ("sup_a", "unknown"), ("admin", "sup_b"), ("admin", "admin"), ("admin", "inactive"), ("admin", "unknown"),
])
def test_attendees_must_be_active_engineers_in_scope(app, org, factory, who, attendee):
    people = {**org, "inactive": factory.user("engineer", supervisor=org["sup_a"], active=False)}
    attendee_id = 999999 if attendee == "unknown" else people[attendee].id
    response = as_user(app, org[who]).post(
        "trainings", json=body(org["eng_a1"], attendee_ids=[org["eng_a1"].id, attendee_id]))
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert str(attendee_id) in problem["errors"]["attendee_ids"][0]
    assert str(org["eng_a1"].id) not in problem["errors"]["attendee_ids"][0].split(": ")[1].split(", ")
    assert stored() == [] and attendee_rows() == 0


@pytest.mark.parametrize("who", ["eng_a1", "eng_b1"])
def test_engineers_do_not_record_trainings(app, org, who):
    assert_problem(as_user(app, org[who]).post("trainings", json=body(org["eng_a1"])), 403, "FORBIDDEN")
    assert stored() == []


def test_anonymous_callers_are_401(app, client, org):
    made = training(org["sup_a"], org["eng_a1"])
    assert_problem(client.post("trainings", json=body(org["eng_a1"])), 401, "UNAUTHORIZED")
    assert_problem(client.get("trainings"), 401, "UNAUTHORIZED")
    assert_problem(client.get(f"trainings/{made.id}"), 401, "UNAUTHORIZED")
    assert_problem(client.delete(f"trainings/{made.id}"), 401, "UNAUTHORIZED")


def test_a_cookie_session_must_send_the_csrf_token(app, client, org):
    made = training(org["sup_a"], org["eng_a1"])
    client.login(org["sup_a"])
    assert_problem(client.post("trainings", json=body(org["eng_a1"]), csrf=False), 403, "CSRF_FAILED")
    assert_problem(client.patch(f"trainings/{made.id}", json={"title": "X"}, csrf=False), 403, "CSRF_FAILED")
    assert_problem(client.delete(f"trainings/{made.id}", csrf=False), 403, "CSRF_FAILED")
    assert len(stored()) == 1 and stored()[0][0] == "Working at height"


# --- GET /trainings, GET /trainings/{id} ---------------------------------------------------

@pytest.fixture
def trainings(org, factory) -> dict[str, Training]:
    moved = factory.user("engineer", supervisor=org["sup_b"])
    return {
        "team_a": training(org["sup_a"], org["eng_a1"]),
        "team_b": training(org["admin"], org["eng_b1"]),
        "mixed": training(org["admin"], org["eng_a2"], org["eng_b1"]),
        "loner": training(org["admin"], org["loner"]),
        # Recorded by sup_a for an engineer who has since moved to team B.
        "moved": training(org["sup_a"], moved),
    }


SEES = {
    "eng_a1": ["team_a"], "eng_a2": ["mixed"], "eng_b1": ["team_b", "mixed"], "loner": ["loner"],
    "sup_a": ["team_a", "mixed", "moved"], "sup_b": ["team_b", "mixed", "moved"],
    "admin": ["team_a", "team_b", "mixed", "loner", "moved"],
}


@pytest.mark.parametrize("who", SEES)
def test_each_sees_the_trainings_attended_in_their_scope_and_those_they_recorded(app, org, trainings, who):
    client = as_user(app, org[who])
    expected = sorted((trainings[name].id for name in SEES[who]), reverse=True)
    assert ids(client.get("trainings")) == expected
    for name, made in trainings.items():
        response = client.get(f"trainings/{made.id}")
        if name in SEES[who]:
            assert response.status_code == 200 and response.get_json()["attendee_ids"] == made.attendee_ids
        else:
            assert_problem(response, 404, "NOT_FOUND")


def test_filters_on_held_at_and_attendee(app, org):
    early = training(org["sup_a"], org["eng_a1"], held_at=HELD - timedelta(days=10))
    at_from = training(org["sup_a"], org["eng_a2"], held_at=HELD)
    at_to = training(org["sup_a"], org["eng_a1"], held_at=HELD + timedelta(days=5))
    client = as_user(app, org["sup_a"])
    window = {"from": iso(HELD), "to": iso(HELD + timedelta(days=5))}
    assert ids(client.get("trainings", query_string=window)) == [at_from.id]  # from inclusive, to exclusive
    assert ids(client.get("trainings", query_string={"to": iso(HELD)})) == [early.id]
    assert ids(client.get("trainings", query_string={"engineer_id": org["eng_a1"].id})) == [at_to.id, early.id]
    assert ids(client.get("trainings", query_string={"engineer_id": org["eng_a1"].id, **window})) == []
    # Filters never widen the scope.
    assert ids(as_user(app, org["eng_b1"]).get("trainings", query_string={"engineer_id": org["eng_a1"].id})) == []


@pytest.mark.parametrize("args", [{"from": "2026-10-01T00:00:00"}, {"to": "soon"}, {"engineer_id": 0},
                                  {"engineer_id": 2**31}, {"engineer_id": "x"}, {"per_page": 0}])
def test_bad_filters_are_422(app, org, args):
    assert_problem(as_user(app, org["admin"]).get("trainings", query_string=args), 422, "VALIDATION_ERROR")


def test_an_unknown_training_is_404(app, org):
    assert_problem(as_user(app, org["admin"]).get("trainings/999999"), 404, "NOT_FOUND")


def test_listing_a_page_takes_the_same_statements_however_many_trainings(app, org):
    """Attendees are loaded for the whole page at once, not training by training."""
    def statements_for_a_page() -> int:
        seen: list[str] = []
        engine = db.engine
        listener = lambda conn, cursor, statement, *args: seen.append(statement)  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get("trainings").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    client = as_user(app, org["admin"])
    training(org["sup_a"], org["eng_a1"])
    statements_for_a_page()  # the token's first use is recorded once
    few = statements_for_a_page()
    for _ in range(6):
        training(org["sup_a"], org["eng_a1"], org["eng_a2"])
    assert statements_for_a_page() == few
    assert len(ids(client.get("trainings"))) == 7


# --- PATCH /trainings/{id} -------------------------------------------------------------------

def test_the_supervisor_who_recorded_it_corrects_a_training(app, org):
    made = training(org["sup_a"], org["eng_a1"])
    response = as_user(app, org["sup_a"]).patch(f"trainings/{made.id}", json={
        "hours": 2.75, "attendee_ids": [org["eng_a2"].id, org["eng_a1"].id], "title": "Working at height"})
    assert response.status_code == 200, response.get_json()
    data = response.get_json()
    assert (data["hours"], data["attendee_ids"], data["title"]) == (
        2.75, sorted([org["eng_a1"].id, org["eng_a2"].id]), "Working at height")
    assert stored() == [("Working at height", HELD, Decimal("2.75"), sorted([org["eng_a1"].id, org["eng_a2"].id]))]
    [entry] = audits("training.update")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "training", made.id)
    assert entry.detail == {"before": {"hours": "2.00", "attendee_ids": [org["eng_a1"].id]},
                            "after": {"hours": "2.75", "attendee_ids": sorted([org["eng_a1"].id, org["eng_a2"].id])}}


def test_a_correction_that_changes_nothing_is_not_audited(app, org):
    made = training(org["sup_a"], org["eng_a1"])
    response = as_user(app, org["sup_a"]).patch(f"trainings/{made.id}", json={
        "title": "Working at height", "held_at": "2026-10-14T11:00:00+02:00", "hours": "2.0"})
    assert response.status_code == 200
    assert audits("training.update") == []


def test_held_at_and_attendees_can_be_moved(app, org):
    made = training(org["admin"], org["eng_a1"], org["eng_a2"])
    response = as_user(app, org["admin"]).patch(f"trainings/{made.id}", json={
        "held_at": "2026-10-20T09:00:00Z", "attendee_ids": [org["eng_b1"].id]})
    assert response.status_code == 200, response.get_json()
    assert stored() == [("Working at height", HELD + timedelta(days=6), Decimal("2.00"), [org["eng_b1"].id])]
    assert attendee_rows() == 1
    detail = audits("training.update")[0].detail
    assert detail["before"]["held_at"] == "2026-10-14T09:00:00+00:00"
    assert detail["after"]["held_at"] == "2026-10-20T09:00:00+00:00"


@pytest.mark.parametrize("who, creator, attendees, status", [
    ("sup_a", "sup_a", ["eng_a1"], 200),  # recorded it
    ("sup_a", "admin", ["eng_a1", "eng_a2"], 200),  # supervises every attendee
    ("sup_a", "admin", ["eng_a1", "eng_b1"], 403),  # sees it, but not every attendee is theirs
    ("sup_a", "admin", ["eng_b1"], 404),  # does not see it
    ("sup_b", "sup_a", ["eng_a1"], 404),
    ("admin", "sup_a", ["eng_a1"], 200),
    ("eng_a1", "sup_a", ["eng_a1"], 403),
])
def test_who_may_correct_or_remove_a_training(app, org, who, creator, attendees, status):
    made_id = training(org[creator], *(org[name] for name in attendees)).id
    before = stored()
    client = as_user(app, org[who])
    response = client.patch(f"trainings/{made_id}", json={"title": "Corrected"})
    assert response.status_code == status, response.get_json()
    if status != 200:
        assert stored() == before and audits("training.update") == []
        response = client.delete(f"trainings/{made_id}")
        assert response.status_code == status
        assert stored() == before and audits("training.delete") == []
    else:
        assert stored()[0][0] == "Corrected"
        assert client.delete(f"trainings/{made_id}").status_code == 204
        assert stored() == []


def test_a_supervisor_adds_only_their_own_team_but_keeps_who_was_there(app, org, factory):
    left = factory.user("engineer", supervisor=org["sup_a"])
    made = training(org["sup_a"], org["eng_a1"], left)
    left.active = False
    db.session.commit()
    client = as_user(app, org["sup_a"])
    problem = assert_problem(client.patch(f"trainings/{made.id}", json={
        "attendee_ids": [org["eng_a1"].id, left.id, org["eng_b1"].id]}), 422, "VALIDATION_ERROR")
    assert problem["errors"]["attendee_ids"] == [f"Not one of the active engineers of your team: {org['eng_b1'].id}."]
    assert stored()[0][3] == sorted([org["eng_a1"].id, left.id])
    response = client.patch(f"trainings/{made.id}", json={"attendee_ids": [left.id, org["eng_a2"].id]})
    assert response.status_code == 200, response.get_json()
    assert stored()[0][3] == sorted([left.id, org["eng_a2"].id])


@pytest.mark.parametrize("changes, field", [
    ({"title": ""}, "title"), ({"title": None}, "title"), ({"hours": 0}, "hours"), ({"hours": 24.5}, "hours"),
    ({"hours": 0.005}, "hours"), ({"held_at": "2026-10-14 09:00"}, "held_at"), ({"held_at": None}, "held_at"),
    ({"attendee_ids": []}, "attendee_ids"), ({"attendee_ids": None}, "attendee_ids"),
    ({"attendee_ids": [999999]}, "attendee_ids"), ({"attendee_ids": [2**31]}, "attendee_ids"),
    ({"created_by_id": 2}, "created_by_id"),
    ({"id": 5}, "id"),
])
def test_bad_corrections_are_refused_and_nothing_changes(app, org, changes, field):
    made = training(org["sup_a"], org["eng_a1"])
    before = stored()
    problem = assert_problem(as_user(app, org["sup_a"]).patch(f"trainings/{made.id}", json=changes),
                             422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert stored() == before and audits("training.update") == []


def test_a_correction_may_not_move_a_training_into_the_future(app, org):
    made = training(org["sup_a"], org["eng_a1"])
    response = as_user(app, org["sup_a"]).patch(f"trainings/{made.id}", json={
        "held_at": iso(utcnow() + TOLERANCE + MARGIN)})
    assert_problem(response, 422, "VALIDATION_ERROR")
    assert stored()[0][1] == HELD


# --- DELETE /trainings/{id} -------------------------------------------------------------------

def test_removing_a_training_removes_its_attendance_and_is_audited(app, org):
    made_id = training(org["sup_a"], org["eng_a1"], org["eng_a2"]).id
    kept_id = training(org["sup_a"], org["eng_a1"]).id
    response = as_user(app, org["sup_a"]).delete(f"trainings/{made_id}")
    assert response.status_code == 204 and response.get_data() == b""
    assert [t[3] for t in stored()] == [[org["eng_a1"].id]] and attendee_rows() == 1
    [entry] = audits("training.delete")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "training", made_id)
    assert entry.detail == {"before": {"title": "Working at height", "held_at": "2026-10-14T09:00:00+00:00",
                                       "hours": "2.00",
                                       "attendee_ids": sorted([org["eng_a1"].id, org["eng_a2"].id])}}
    assert_problem(as_user(app, org["sup_a"]).get(f"trainings/{made_id}"), 404, "NOT_FOUND")
    assert_problem(as_user(app, org["sup_a"]).delete(f"trainings/{made_id}"), 404, "NOT_FOUND")
    assert ids(as_user(app, org["eng_a1"]).get("trainings")) == [kept_id]
