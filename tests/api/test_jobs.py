"""/jobs: create (with repeat repairs), list, read, change, cancel, assign, contact, close
(api.md, Jobs; kpi.md: assigned_at is the first assignment)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEntry, Category, Job
from app.models.types import utcnow
from tests.api.matrix.jobs import CHECKLIST, add_photo
from tests.api.test_app import assert_problem
from tests.support import ApiClient, statements_of

TOLERANCE = timedelta(seconds=300)  # CLOCK_AHEAD_TOLERANCE_S
MAX_AGE = timedelta(seconds=259200)  # OFFLINE_MAX_AGE_S
SECOND = timedelta(seconds=1)
# The server reads its clock a little after the test does: bounds relative to "now"
# are approached from a safe distance on the accepted side and crossed clearly.
MARGIN = timedelta(seconds=20)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def jobs() -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Job).order_by(Job.id)))


def audits(action: str | None = None) -> list[AuditEntry]:
    query = sa.select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def fresh(job: Job) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job.id)


@pytest.fixture
def site(factory):
    return factory.site()


def new_job(site, **changes):
    data = {"site_id": site.id, "title": "AC leaking", "category": "hvac", "priority": "high", **changes}
    return {k: v for k, v in data.items() if v is not ...}


# --- POST /jobs -----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["sup_a", "admin"])
def test_create_job(client, org, site, who):
    client.use_token(org[who])
    reported = utcnow().replace(microsecond=0) - timedelta(hours=2)
    response = client.post("jobs", json=new_job(
        site, description="Water under the unit", mode="remote", asset_ref=" AC-7 ",
        reported_at=reported.astimezone(timezone(timedelta(hours=8))).isoformat(),
        scheduled_for="2026-11-03"))
    assert response.status_code == 201, response.json
    data = response.json
    assert response.headers["Location"] == f"/api/v1/jobs/{data['id']}"
    assert data == {
        "id": data["id"], "site_id": site.id, "title": "AC leaking",
        "description": "Water under the unit", "category": "hvac", "priority": "high",
        "mode": "remote", "asset_ref": "AC-7", "status": "new",
        "reported_at": reported.replace(tzinfo=None).isoformat() + "Z",
        "scheduled_for": "2026-11-03", "engineer_id": None, "created_by_id": org[who].id,
        "assigned_at": None, "first_contact_at": None, "closed_at": None, "resolution": None,
        "fixed": None, "checklist": None, "checklist_complete": None, "repeat_of_id": None,
        "cancelled_at": None, "cancel_reason": None, "source": None, "external_id": None,
        "created_at": data["created_at"],
    }
    [row] = jobs()
    assert (row.id, row.created_by_id, row.asset_ref, row.scheduled_for, row.reported_at) == (
        data["id"], org[who].id, "AC-7", date(2026, 11, 3), reported)
    assert client.get(response.headers["Location"]).json == data


def test_create_defaults_mode_field_and_reported_at_now(client, org, site):
    client.use_token(org["sup_a"])
    before = utcnow()
    data = client.post("jobs", json=new_job(site, asset_ref="")).json
    assert data["mode"] == "field" and data["asset_ref"] is None and data["description"] is None
    assert before - SECOND <= parse(data["reported_at"]) <= utcnow() + SECOND


def test_reported_at_with_an_offset_is_stored_in_utc(client, org, site):
    client.use_token(org["sup_a"])
    data = client.post("jobs", json=new_job(site, reported_at="2026-01-03T16:15:00+08:00")).json
    assert data["reported_at"] == "2026-01-03T08:15:00Z"


def test_create_with_engineer_assigns_at_once(client, org, site):
    client.use_token(org["sup_a"])
    before = utcnow()
    data = client.post("jobs", json=new_job(site, engineer_id=org["eng_a1"].id)).json
    assert data["status"] == "assigned" and data["engineer_id"] == org["eng_a1"].id
    assert before - SECOND <= parse(data["assigned_at"]) <= utcnow() + SECOND
    assert parse(data["assigned_at"]) >= parse(data["reported_at"])
    [entry] = audits("job.assign")
    assert (entry.actor_id, entry.target_type, entry.target_id, entry.detail["engineer_id"]) == (
        org["sup_a"].id, "job", data["id"], org["eng_a1"].id)


def test_a_job_reported_slightly_ahead_is_never_assigned_before_its_report(client, org, site):
    client.use_token(org["sup_a"])
    ahead = utcnow() + TOLERANCE - MARGIN
    data = client.post("jobs", json=new_job(site, reported_at=iso(ahead), engineer_id=org["eng_a1"].id)).json
    assert parse(data["assigned_at"]) == parse(data["reported_at"])


def test_admin_may_dispatch_to_any_active_engineer(client, org, site):
    client.use_token(org["admin"])
    for engineer in ("eng_b1", "loner"):
        response = client.post("jobs", json=new_job(site, engineer_id=org[engineer].id))
        assert response.status_code == 201 and response.json["engineer_id"] == org[engineer].id


@pytest.mark.parametrize("who, engineer", [
    ("sup_a", "eng_b1"),    # another team
    ("sup_a", "loner"),     # no team
    ("sup_a", "sup_a"),     # not an engineer
    ("admin", "admin"),
    ("sup_a", "inactive"),
    ("admin", "inactive"),
    ("admin", "unknown"),
])
def test_create_with_an_engineer_the_caller_may_not_dispatch_to_is_422(client, org, factory, site, who, engineer):
    ids = {name: user.id for name, user in org.items()}
    ids["inactive"] = factory.user("engineer", supervisor=org["sup_a"], active=False).id
    ids["unknown"] = 999_999
    client.use_token(org[who])
    problem = assert_problem(client.post("jobs", json=new_job(site, engineer_id=ids[engineer])),
                             422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["engineer_id"]
    assert jobs() == [] and audits("job.assign") == []


def test_category_must_exist_and_a_stored_one_extends_the_defaults(client, org, site):
    client.use_token(org["sup_a"])
    problem = assert_problem(client.post("jobs", json=new_job(site, category="solar")), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["category"]
    assert jobs() == []
    db.session.add(Category(key="solar", name="Solar", checklist=["ppe_worn"], signature_required=False))
    assert client.post("jobs", json=new_job(site, category="solar")).status_code == 201


@pytest.mark.parametrize("category", ["hvac", "electrical", "plumbing", "appliance", "network"])
def test_every_default_category_is_accepted(client, org, site, category):
    client.use_token(org["sup_a"])
    assert client.post("jobs", json=new_job(site, category=category)).status_code == 201


def test_reported_at_up_to_the_clock_tolerance_ahead_is_accepted(client, org, site):
    client.use_token(org["sup_a"])
    ok = client.post("jobs", json=new_job(site, reported_at=iso(utcnow() + TOLERANCE - MARGIN)))
    assert ok.status_code == 201
    problem = assert_problem(
        client.post("jobs", json=new_job(site, reported_at=iso(utcnow() + TOLERANCE + MARGIN))),
        422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["reported_at"]
    assert len(jobs()) == 1


@pytest.mark.parametrize("changes, field", [
    ({"site_id": ...}, "site_id"),
    ({"site_id": 999_999}, "site_id"),
    ({"site_id": 0}, "site_id"),
    ({"site_id": "one"}, "site_id"),
    ({"title": ...}, "title"),
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "t" * 201}, "title"),
    ({"title": None}, "title"),
    ({"description": "d" * 5001}, "description"),
    ({"category": ...}, "category"),
    ({"category": ""}, "category"),
    ({"category": "c" * 41}, "category"),
    ({"priority": ...}, "priority"),
    ({"priority": "critical"}, "priority"),
    ({"mode": "onsite"}, "mode"),
    ({"mode": None}, "mode"),
    ({"asset_ref": "a" * 101}, "asset_ref"),
    ({"reported_at": "2026-11-03T08:15:00"}, "reported_at"),
    ({"reported_at": "yesterday"}, "reported_at"),
    ({"scheduled_for": "2026-13-01"}, "scheduled_for"),
    ({"engineer_id": "me"}, "engineer_id"),
    ({"status": "closed"}, "status"),
    ({"created_by_id": 1}, "created_by_id"),
    ({"assigned_at": "2026-11-03T08:15:00Z"}, "assigned_at"),
    ({"repeat_of_id": 1}, "repeat_of_id"),
    ({"checklist_complete": True}, "checklist_complete"),
])
def test_create_rejects_bad_input_and_writes_nothing(client, org, site, changes, field):
    client.use_token(org["admin"])
    problem = assert_problem(client.post("jobs", json=new_job(site, **changes)), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert jobs() == [] and audits() == []


# --- repeat repairs -----------------------------------------------------------------

CLOSED_AT = (utcnow() - timedelta(days=40)).replace(microsecond=0)


def closed_job(factory, site, engineer, closed_at=CLOSED_AT, **fields):
    values = {"status": "closed", "closed_at": closed_at, "reported_at": closed_at - timedelta(days=1),
              "fixed": True, "resolution": "Done"}
    values.update(fields)
    return factory.job(site=site, engineer=engineer, **values)


@pytest.mark.parametrize("after, repeats", [
    (-SECOND, False), (timedelta(0), False), (SECOND, True),
    (timedelta(days=30) - SECOND, True), (timedelta(days=30), True), (timedelta(days=30) + SECOND, False),
])
def test_a_job_within_30_days_of_a_close_at_the_site_is_a_repeat(client, org, factory, site, after, repeats):
    earlier = closed_job(factory, site, org["eng_a1"], asset_ref="AC-7")
    client.use_token(org["sup_a"])
    data = client.post("jobs", json=new_job(site, asset_ref="AC-7", reported_at=iso(CLOSED_AT + after))).json
    assert data["repeat_of_id"] == (earlier.id if repeats else None)


@pytest.mark.parametrize("earlier_asset, earlier_category, asset, category, repeats", [
    ("AC-7", "hvac", "AC-7", "hvac", True),
    ("AC-7", "plumbing", "AC-7", "hvac", True),     # the asset decides when both have one
    ("AC-7", "hvac", "AC-8", "hvac", False),
    (None, "hvac", "AC-8", "hvac", True),           # either without one: the category
    ("AC-7", "hvac", None, "hvac", True),
    (None, "hvac", None, "hvac", True),
    (None, "hvac", None, "plumbing", False),
    ("AC-7", "plumbing", None, "hvac", False),
])
def test_a_repeat_is_the_same_asset_or_else_the_same_category(
        client, org, factory, site, earlier_asset, earlier_category, asset, category, repeats):
    earlier = closed_job(factory, site, org["eng_a1"], asset_ref=earlier_asset, category=earlier_category)
    client.use_token(org["sup_a"])
    data = client.post("jobs", json=new_job(site, asset_ref=asset, category=category,
                                            reported_at=iso(CLOSED_AT + timedelta(days=3)))).json
    assert data["repeat_of_id"] == (earlier.id if repeats else None)


def test_the_latest_closed_match_is_repeated_and_others_never_count(client, org, factory, site):
    other_site = factory.site()
    closed_job(factory, site, org["eng_a1"], closed_at=CLOSED_AT - timedelta(days=2))
    latest = closed_job(factory, site, org["eng_a2"], closed_at=CLOSED_AT)
    closed_job(factory, site, org["eng_a1"], closed_at=CLOSED_AT - timedelta(days=1))
    # Never counted: another site, an open job, a cancelled one (even with a close time).
    closed_job(factory, other_site, org["eng_a1"], closed_at=CLOSED_AT + timedelta(hours=1))
    factory.job(site=site, engineer=org["eng_a1"], reported_at=CLOSED_AT)
    closed_job(factory, site, org["eng_a1"], closed_at=CLOSED_AT + timedelta(hours=2),
               status="cancelled", cancelled_at=CLOSED_AT + timedelta(hours=2))
    client.use_token(org["sup_a"])
    data = client.post("jobs", json=new_job(site, reported_at=iso(CLOSED_AT + timedelta(days=1)))).json
    assert data["repeat_of_id"] == latest.id
    assert fresh(db.session.get(Job, data["id"])).repeat_of_id == latest.id


# --- GET /jobs -------------------------------------------------------------------------

@pytest.fixture
def listed(factory, org, site):
    """One job each: eng_a1's, eng_a2's, eng_b1's, unassigned, the loner's made by sup_a."""
    base = utcnow().replace(microsecond=0) - timedelta(days=5)
    made = {
        "a1": factory.job(site=site, engineer=org["eng_a1"], reported_at=base, scheduled_for=date(2026, 11, 3)),
        "a2": factory.job(site=site, engineer=org["eng_a2"], reported_at=base + timedelta(days=1)),
        "b1": factory.job(site=site, engineer=org["eng_b1"], reported_at=base + timedelta(days=2),
                          status="closed", closed_at=base + timedelta(days=3)),
        "new": factory.job(site=factory.site(), reported_at=base + timedelta(days=3)),
        "loner": factory.job(site=site, engineer=org["loner"], created_by=org["sup_a"],
                             reported_at=base + timedelta(days=4), status="in_progress"),
    }
    made["base"] = base
    return made


def listed_ids(client, listed, **params):
    response = client.get("jobs", query_string=params)
    assert response.status_code == 200, response.json
    names = {job.id: name for name, job in listed.items() if name != "base"}
    return [names[item["id"]] for item in response.json["items"]]


@pytest.mark.parametrize("who, expected", [
    ("eng_a1", ["a1"]),
    ("eng_a2", ["a2"]),
    ("eng_b1", ["b1"]),
    ("loner", ["loner"]),
    ("sup_a", ["loner", "new", "a2", "a1"]),  # team, created by them, unassigned
    ("sup_b", ["new", "b1"]),
    ("admin", ["loner", "new", "b1", "a2", "a1"]),
])
def test_list_is_scoped_and_newest_first(client, org, listed, who, expected):
    client.use_token(org[who])
    assert listed_ids(client, listed) == expected


def test_list_filters(client, org, listed):
    client.use_token(org["admin"])
    base = listed["base"]
    assert listed_ids(client, listed, status="new") == ["new"]
    assert listed_ids(client, listed, status="assigned,in_progress") == ["loner", "a2", "a1"]
    assert listed_ids(client, listed, engineer_id=org["eng_a2"].id) == ["a2"]
    assert listed_ids(client, listed, site_id=listed["new"].site_id) == ["new"]
    assert listed_ids(client, listed, scheduled_for="2026-11-03") == ["a1"]
    # from inclusive, to exclusive, on reported_at
    assert listed_ids(client, listed, **{"from": iso(base + timedelta(days=1)),
                                         "to": iso(base + timedelta(days=3))}) == ["b1", "a2"]
    assert listed_ids(client, listed, **{"from": iso(base + timedelta(days=1, seconds=1))}) == ["loner", "new", "b1"]
    assert listed_ids(client, listed, to=iso(base + timedelta(seconds=1))) == ["a1"]


def test_list_pages(client, org, listed):
    client.use_token(org["admin"])
    page = client.get("jobs", query_string={"per_page": 2, "page": 2}).json
    assert (page["page"], page["per_page"], page["total"]) == (2, 2, 5)
    assert [item["id"] for item in page["items"]] == [listed["b1"].id, listed["a2"].id]


@pytest.mark.parametrize("params, field", [
    ({"status": "open"}, "status"),
    ({"status": "new,done"}, "status"),
    ({"engineer_id": "me"}, "engineer_id"),
    ({"site_id": 0}, "site_id"),
    ({"from": "2026-11-03T08:00:00"}, "from"),
    ({"from": "2026-11-03T08:00:00Z", "to": "2026-11-03T08:00:00Z"}, "to"),
    ({"scheduled_for": "tomorrow"}, "scheduled_for"),
    ({"per_page": 201}, "per_page"),
])
def test_list_rejects_bad_filters(client, org, params, field):
    client.use_token(org["admin"])
    problem = assert_problem(client.get("jobs", query_string=params), 422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]


@pytest.mark.parametrize("who, status", [
    ("eng_a1", 200), ("eng_a2", 404), ("eng_b1", 404), ("sup_a", 200), ("sup_b", 404), ("admin", 200),
])
def test_read_one_job_in_scope(client, org, listed, who, status):
    client.use_token(org[who])
    response = client.get(f"jobs/{listed['a1'].id}")
    assert response.status_code == status
    if status == 404:
        assert_problem(response, 404, "NOT_FOUND")
    assert_problem(client.get("jobs/999999"), 404, "NOT_FOUND")


# --- PATCH /jobs/{id} -----------------------------------------------------------------

def test_patch_changes_and_audits_each_changed_field(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], asset_ref="AC-1", description="Old")
    client.use_token(org["sup_a"])
    response = client.patch(f"jobs/{job.id}", json={
        "title": "Fan noise", "description": "", "priority": "normal", "category": "electrical",
        "asset_ref": "AC-2", "scheduled_for": "2026-11-04"})
    assert response.status_code == 200, response.json
    data = response.json
    assert (data["title"], data["description"], data["category"], data["asset_ref"], data["scheduled_for"]) == (
        "Fan noise", None, "electrical", "AC-2", "2026-11-04")
    [entry] = audits("job.update")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "job", job.id)
    assert entry.detail == {
        "title": {"from": "Air conditioner leaking", "to": "Fan noise"},
        "description": {"from": "Old", "to": None},
        "category": {"from": "hvac", "to": "electrical"},
        "asset_ref": {"from": "AC-1", "to": "AC-2"},
        "scheduled_for": {"from": None, "to": "2026-11-04"},
    }  # priority was already normal
    assert fresh(job).category == "electrical"


def test_patch_leaves_fields_it_does_not_name(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], asset_ref="AC-9", description="Keep me")
    client.use_token(org["sup_a"])
    data = client.patch(f"jobs/{job.id}", json={"title": "New title"}).json
    assert (data["title"], data["description"], data["asset_ref"]) == ("New title", "Keep me", "AC-9")
    [entry] = audits("job.update")
    assert entry.detail == {"title": {"from": "Air conditioner leaking", "to": "New title"}}


def test_patch_without_a_change_writes_no_audit(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_a"])
    assert client.patch(f"jobs/{job.id}", json={"title": job.title}).status_code == 200
    assert client.patch(f"jobs/{job.id}", json={}).status_code == 200
    assert audits("job.update") == []


@pytest.mark.parametrize("changes, field", [
    ({"title": ""}, "title"),
    ({"title": None}, "title"),
    ({"priority": "asap"}, "priority"),
    ({"priority": None}, "priority"),
    ({"category": "solar"}, "category"),
    ({"category": None}, "category"),
    ({"scheduled_for": "soon"}, "scheduled_for"),
    ({"status": "closed"}, "status"),
    ({"engineer_id": 1}, "engineer_id"),
    ({"site_id": 1}, "site_id"),
    ({"closed_at": "2026-11-03T08:00:00Z"}, "closed_at"),
    ({"repeat_of_id": "x"}, "repeat_of_id"),
])
def test_patch_rejects_bad_input_and_writes_nothing(client, org, factory, site, changes, field):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_a"])
    problem = assert_problem(client.patch(f"jobs/{job.id}", json={"title": "Changed", **changes}),
                             422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert fresh(job).title == "Air conditioner leaking" and audits() == []


def test_patch_sets_and_clears_repeat_of(client, org, factory, site):
    earlier = closed_job(factory, site, org["eng_a1"], closed_at=CLOSED_AT - timedelta(days=60))
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_a"])
    assert client.patch(f"jobs/{job.id}", json={"repeat_of_id": earlier.id}).json["repeat_of_id"] == earlier.id
    assert client.patch(f"jobs/{job.id}", json={"repeat_of_id": None}).json["repeat_of_id"] is None
    assert [e.detail for e in audits("job.update")] == [
        {"repeat_of_id": {"from": None, "to": earlier.id}},
        {"repeat_of_id": {"from": earlier.id, "to": None}},
    ]


def test_patch_refuses_a_repeat_of_that_cannot_be_one(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])  # reported an hour ago
    targets = {
        "itself": job,
        "other site": closed_job(factory, factory.site(), org["eng_a1"]),
        "open": factory.job(site=site, engineer=org["eng_a1"], reported_at=CLOSED_AT),
        "cancelled": factory.job(site=site, engineer=org["eng_a1"], status="cancelled"),
        "closed later": closed_job(factory, site, org["eng_a1"], closed_at=utcnow() - timedelta(minutes=5)),
        "out of scope": closed_job(factory, site, org["eng_b1"]),
    }
    client.use_token(org["sup_a"])
    for name, target in targets.items():
        problem = assert_problem(client.patch(f"jobs/{job.id}", json={"repeat_of_id": target.id}),
                                 422, "VALIDATION_ERROR")
        assert list(problem["errors"]) == ["repeat_of_id"], name
    assert_problem(client.patch(f"jobs/{job.id}", json={"repeat_of_id": 999_999}), 422, "VALIDATION_ERROR")
    assert fresh(job).repeat_of_id is None and audits() == []


def test_patch_out_of_scope_is_404(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_b"])
    assert_problem(client.patch(f"jobs/{job.id}", json={"title": "X"}), 404, "NOT_FOUND")
    client.use_token(org["eng_a1"])
    assert_problem(client.patch(f"jobs/{job.id}", json={"title": "X"}), 403, "FORBIDDEN")
    assert fresh(job).title == "Air conditioner leaking"


# --- POST /jobs/{id}/cancel ------------------------------------------------------------

@pytest.mark.parametrize("status", ["new", "assigned", "in_progress"])
def test_cancel_an_open_job(client, org, factory, site, status):
    job = factory.job(site=site, engineer=org["eng_a1"], status=status)
    client.use_token(org["sup_a"])
    before = utcnow()
    data = client.post(f"jobs/{job.id}/cancel", json={"reason": " Customer withdrew "}).json
    assert (data["status"], data["cancel_reason"]) == ("cancelled", "Customer withdrew")
    assert before - SECOND <= parse(data["cancelled_at"]) <= utcnow() + SECOND
    [entry] = audits("job.cancel")
    assert (entry.actor_id, entry.target_id) == (org["sup_a"].id, job.id)
    assert entry.detail == {"status": {"from": status, "to": "cancelled"}, "reason": "Customer withdrew"}


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_cancel_a_closed_or_cancelled_job_is_409(client, org, factory, site, status):
    job = factory.job(site=site, engineer=org["eng_a1"], status=status)
    client.use_token(org["admin"])
    assert_problem(client.post(f"jobs/{job.id}/cancel", json={"reason": "x"}), 409, "JOB_CLOSED")
    assert fresh(job).status == status and fresh(job).cancel_reason is None and audits() == []


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "  "}, {"reason": None},
                                     {"reason": "r" * 2001}, {"reason": "x", "status": "new"}])
def test_cancel_needs_a_reason(client, org, factory, site, payload):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_a"])
    assert_problem(client.post(f"jobs/{job.id}/cancel", json=payload), 422, "VALIDATION_ERROR")
    assert fresh(job).status == "assigned" and audits() == []


# --- POST /jobs/{id}/assign ------------------------------------------------------------

def test_first_assignment_sets_assigned_at_and_status(client, org, factory, site):
    job = factory.job(site=site)  # new, reported an hour ago
    at = (utcnow() - timedelta(minutes=30)).replace(microsecond=0)
    client.use_token(org["sup_b"])  # every supervisor may dispatch an unassigned job to their team
    data = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_b1"].id, "at": iso(at)}).json
    assert (data["status"], data["engineer_id"], parse(data["assigned_at"])) == ("assigned", org["eng_b1"].id, at)
    [entry] = audits("job.assign")
    assert (entry.actor_id, entry.target_id, entry.detail["engineer_id"]) == (org["sup_b"].id, job.id, org["eng_b1"].id)


def test_assignment_time_defaults_to_now(client, org, factory, site):
    job = factory.job(site=site)
    client.use_token(org["sup_a"])
    before = utcnow()
    data = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a1"].id}).json
    assert before - SECOND <= parse(data["assigned_at"]) <= utcnow() + SECOND


def test_assignment_time_is_bounded_by_the_report_and_now(client, org, factory, site):
    reported = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    job = factory.job(site=site, reported_at=reported)
    client.use_token(org["sup_a"])
    for at in (reported - SECOND, utcnow() + TOLERANCE + MARGIN):
        problem = assert_problem(client.post(f"jobs/{job.id}/assign",
                                             json={"engineer_id": org["eng_a1"].id, "at": iso(at)}),
                                 422, "VALIDATION_ERROR")
        assert list(problem["errors"]) == ["at"]
        assert fresh(job).assigned_at is None and fresh(job).status == "new" and audits() == []
    data = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a1"].id, "at": iso(reported)}).json
    assert parse(data["assigned_at"]) == reported


def test_assignment_up_to_the_clock_tolerance_ahead_is_accepted(client, org, factory, site):
    job = factory.job(site=site)
    client.use_token(org["sup_a"])
    at = utcnow() + TOLERANCE - MARGIN
    response = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a1"].id, "at": iso(at)})
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("status", ["assigned", "in_progress"])
def test_reassignment_keeps_the_first_assigned_at_and_is_audited(client, org, factory, site, status):
    job = factory.job(site=site, engineer=org["eng_a1"], status=status)
    first = job.assigned_at
    client.use_token(org["sup_a"])
    data = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a2"].id}).json
    assert (data["engineer_id"], parse(data["assigned_at"]), data["status"]) == (org["eng_a2"].id, first, status)
    [entry] = audits("job.reassign")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "job", job.id)
    assert entry.detail["engineer_id"] == {"from": org["eng_a1"].id, "to": org["eng_a2"].id}
    assert audits("job.assign") == []
    # The admin moves it to another team: still the first assigned_at.
    client.use_token(org["admin"])
    data = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_b1"].id}).json
    assert (data["engineer_id"], parse(data["assigned_at"])) == (org["eng_b1"].id, first)
    assert [e.detail["engineer_id"]["to"] for e in audits("job.reassign")] == [org["eng_a2"].id, org["eng_b1"].id]


def test_reassignment_to_the_same_engineer_changes_nothing(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_a"])
    data = client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a1"].id}).json
    assert data["engineer_id"] == org["eng_a1"].id and audits() == []


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_assigning_a_closed_or_cancelled_job_is_409(client, org, factory, site, status):
    job = factory.job(site=site, engineer=org["eng_a1"], status=status)
    client.use_token(org["sup_a"])
    assert_problem(client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a2"].id}), 409, "JOB_CLOSED")
    assert fresh(job).engineer_id == org["eng_a1"].id and audits() == []


@pytest.mark.parametrize("engineer", ["eng_b1", "loner", "sup_a", "inactive", "unknown"])
def test_a_supervisor_assigns_only_to_their_own_teams_active_engineers(client, org, factory, site, engineer):
    job = factory.job(site=site, engineer=org["eng_a1"])
    ids = {name: user.id for name, user in org.items()}
    ids["inactive"] = factory.user("engineer", supervisor=org["sup_a"], active=False).id
    ids["unknown"] = 999_999
    client.use_token(org["sup_a"])
    problem = assert_problem(client.post(f"jobs/{job.id}/assign", json={"engineer_id": ids[engineer]}),
                             422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == ["engineer_id"]
    assert fresh(job).engineer_id == org["eng_a1"].id and audits() == []


def test_assign_out_of_scope_is_404_and_bad_bodies_are_422(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["sup_b"])
    assert_problem(client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_b1"].id}), 404, "NOT_FOUND")
    client.use_token(org["sup_a"])
    for payload in ({}, {"engineer_id": None}, {"engineer_id": org["eng_a2"].id, "at": "2026-11-03T08:00:00"},
                    {"engineer_id": org["eng_a2"].id, "assigned_at": iso(utcnow())}):
        assert_problem(client.post(f"jobs/{job.id}/assign", json=payload), 422, "VALIDATION_ERROR")
    assert fresh(job).engineer_id == org["eng_a1"].id and audits() == []


# --- POST /jobs/{id}/contact -----------------------------------------------------------

def test_first_contact_is_recorded_once(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    at = (utcnow() - timedelta(minutes=10)).replace(microsecond=0)
    client.use_token(org["eng_a1"])
    data = client.post(f"jobs/{job.id}/contact", json={"at": iso(at)}).json
    assert parse(data["first_contact_at"]) == at
    again = client.post(f"jobs/{job.id}/contact", json={"at": iso(at + timedelta(minutes=5))})
    assert again.status_code == 200 and parse(again.json["first_contact_at"]) == at
    assert client.post(f"jobs/{job.id}/contact").status_code == 200
    assert fresh(job).first_contact_at == at


def test_contact_without_a_body_is_now(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["eng_a1"])
    before = utcnow()
    data = client.post(f"jobs/{job.id}/contact").json
    assert before - SECOND <= parse(data["first_contact_at"]) <= utcnow() + SECOND


def test_contact_time_is_bounded_by_the_assignment_and_now(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    assigned = job.assigned_at
    client.use_token(org["eng_a1"])
    for at in (assigned - SECOND, utcnow() + TOLERANCE + MARGIN):
        problem = assert_problem(client.post(f"jobs/{job.id}/contact", json={"at": iso(at)}), 422, "VALIDATION_ERROR")
        assert list(problem["errors"]) == ["at"]
        assert fresh(job).first_contact_at is None
    assert parse(client.post(f"jobs/{job.id}/contact", json={"at": iso(assigned)}).json["first_contact_at"]) == assigned


def test_contact_up_to_the_clock_tolerance_ahead_is_accepted(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["eng_a1"])
    response = client.post(f"jobs/{job.id}/contact", json={"at": iso(utcnow() + TOLERANCE - MARGIN)})
    assert response.status_code == 200, response.json


def test_contact_on_someone_elses_job_is_404(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    for who in ("eng_a2", "eng_b1", "loner"):
        client.use_token(org[who])
        assert_problem(client.post(f"jobs/{job.id}/contact", json={}), 404, "NOT_FOUND")
    client.use_token(org["sup_a"])
    assert_problem(client.post(f"jobs/{job.id}/contact", json={}), 403, "FORBIDDEN")
    assert fresh(job).first_contact_at is None


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_a_first_contact_on_a_finished_job_is_409(client, org, factory, site, status):
    job = factory.job(site=site, engineer=org["eng_a1"], status=status)
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/contact", json={}), 409, "JOB_CLOSED")
    assert fresh(job).first_contact_at is None


@pytest.mark.parametrize("payload", [{"at": "2026-11-03T08:00:00"}, {"at": None}, {"first_contact_at": "x"}])
def test_contact_rejects_bad_input(client, org, factory, site, payload):
    job = factory.job(site=site, engineer=org["eng_a1"])
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/contact", json=payload), 422, "VALIDATION_ERROR")
    assert fresh(job).first_contact_at is None


# --- POST /jobs/{id}/close --------------------------------------------------------------

def close_body(**changes):
    data = {"resolution": "Replaced the drain pump", "fixed": True, "checklist": dict(CHECKLIST), **changes}
    return {k: v for k, v in data.items() if v is not ...}


@pytest.fixture
def ready(factory, org, site):
    """eng_a1's field job with a checked-out visit (out 20 minutes ago) and an after photo."""
    job = factory.job(site=site, engineer=org["eng_a1"], status="in_progress")
    visit = factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=20)
    add_photo(job, "after")
    job.last_out = visit.out_client_time
    return job


def assert_still_open(job, status="in_progress"):
    row = fresh(job)
    assert (row.status, row.closed_at, row.resolution, row.checklist, row.checklist_complete) == (
        status, None, None, None, None)


def test_close_a_job(client, org, ready):
    client.use_token(org["eng_a1"])
    at = (utcnow() - timedelta(minutes=5)).replace(microsecond=0)
    response = client.post(f"jobs/{ready.id}/close", json=close_body(client_time=iso(at)))
    assert response.status_code == 200, response.json
    data = response.json
    assert (data["status"], parse(data["closed_at"]), data["resolution"], data["fixed"]) == (
        "closed", at, "Replaced the drain pump", True)
    assert data["checklist"] == CHECKLIST and data["checklist_complete"] is True
    row = fresh(ready)
    assert (row.status, row.closed_at, row.checklist, row.checklist_complete) == ("closed", at, CHECKLIST, True)


def test_close_stores_an_incomplete_checklist_and_not_fixed(client, org, ready):
    client.use_token(org["eng_a1"])
    before = utcnow()
    answers = {**CHECKLIST, "power_isolated": False}
    data = client.post(f"jobs/{ready.id}/close", json=close_body(fixed=False, checklist=answers)).json
    assert data["checklist"] == answers and data["checklist_complete"] is False and data["fixed"] is False
    assert before - SECOND <= parse(data["closed_at"]) <= utcnow() + SECOND


@pytest.mark.parametrize("status", ["closed", "cancelled"])
def test_closing_a_closed_or_cancelled_job_is_409_before_any_validation(client, org, ready, status):
    ready.status = status
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body(checklist={"ppe_worn": True})),
                   409, "JOB_CLOSED")
    assert fresh(ready).closed_at is None


def test_close_on_someone_elses_job_is_404_before_409(client, org, ready):
    ready.status = "closed"
    for who in ("eng_a2", "eng_b1"):
        client.use_token(org[who])
        assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body()), 404, "NOT_FOUND")
    for who in ("sup_a", "admin"):
        client.use_token(org[who])
        assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body()), 403, "FORBIDDEN")


def test_close_time_is_bounded_by_the_last_check_out_and_now(client, org, factory, ready):
    # A later visit by another engineer is still the job's last check-out.
    late = factory.visit(ready, engineer=org["eng_a2"], at=ready.last_out, minutes=5)
    last_out = late.out_client_time
    client.use_token(org["eng_a1"])
    for at in (last_out - SECOND, utcnow() + TOLERANCE + MARGIN):
        problem = assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body(client_time=iso(at))),
                                 422, "VALIDATION_ERROR")
        assert list(problem["errors"]) == ["client_time"]
        assert_still_open(ready)
    data = client.post(f"jobs/{ready.id}/close", json=close_body(client_time=iso(last_out))).json
    assert parse(data["closed_at"]) == last_out


def test_close_up_to_the_clock_tolerance_ahead_is_accepted(client, org, ready):
    client.use_token(org["eng_a1"])
    response = client.post(f"jobs/{ready.id}/close", json=close_body(client_time=iso(utcnow() + TOLERANCE - MARGIN)))
    assert response.status_code == 200, response.json


def test_an_offline_close_older_than_offline_max_age_is_refused(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], reported_at=utcnow() - MAX_AGE - timedelta(days=2),
                      assigned_at=utcnow() - MAX_AGE - timedelta(days=2))
    factory.visit(job, at=utcnow() - MAX_AGE - timedelta(days=1), minutes=30)
    add_photo(job, "after")
    client.use_token(org["eng_a1"])
    problem = assert_problem(
        client.post(f"jobs/{job.id}/close", json=close_body(client_time=iso(utcnow() - MAX_AGE - MARGIN))),
        422, "OFFLINE_ACTION_TOO_OLD")
    assert list(problem["errors"]) == ["client_time"]
    assert_still_open(job, "assigned")
    at = (utcnow() - MAX_AGE + MARGIN).replace(microsecond=0)
    data = client.post(f"jobs/{job.id}/close", json=close_body(client_time=iso(at))).json
    assert parse(data["closed_at"]) == at


@pytest.mark.config(OFFLINE_MAX_AGE_S=3600, CLOCK_AHEAD_TOLERANCE_S=0)
def test_close_bounds_follow_the_settings(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], mode="remote")
    add_photo(job, "after")
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/close", json=close_body(
        client_time=iso(utcnow() - timedelta(seconds=3600) - MARGIN))), 422, "OFFLINE_ACTION_TOO_OLD")
    assert_problem(client.post(f"jobs/{job.id}/close", json=close_body(
        client_time=iso(utcnow() + MARGIN))), 422, "VALIDATION_ERROR")
    assert client.post(f"jobs/{job.id}/close", json=close_body(
        client_time=iso(utcnow() - timedelta(seconds=3600) + MARGIN))).status_code == 200


def test_an_item_the_checklist_lacks_is_bad_input(client, org, ready):
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body(
        checklist={**CHECKLIST, "ladder_secured": True})), 422, "VALIDATION_ERROR")
    assert problem["errors"]["checklist"] == ["ladder_secured is not an item of this category's checklist."]
    assert "missing" not in problem
    assert_still_open(ready)


@pytest.mark.parametrize("answers, missing", [
    ({k: v for k, v in CHECKLIST.items() if k != "ppe_worn"}, ["CHECKLIST:ppe_worn"]),
    ({}, [f"CHECKLIST:{item}" for item in CHECKLIST]),
])
def test_an_unanswered_checklist_item_is_a_missing_requirement(client, org, ready, answers, missing):
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body(checklist=answers)),
                             409, "CLOSE_REQUIREMENTS_UNMET")
    assert problem["missing"] == missing
    assert_still_open(ready)


@pytest.mark.parametrize("changes, field", [
    ({"resolution": ...}, "resolution"),
    ({"resolution": " "}, "resolution"),
    ({"resolution": "r" * 5001}, "resolution"),
    ({"fixed": ...}, "fixed"),
    ({"fixed": "yes"}, "fixed"),
    ({"fixed": 1}, "fixed"),
    ({"fixed": None}, "fixed"),
    ({"checklist": ...}, "checklist"),
    ({"checklist": ["ppe_worn"]}, "checklist"),
    ({"checklist": {**CHECKLIST, "ppe_worn": "yes"}}, "checklist"),
    ({"checklist": {**CHECKLIST, "ppe_worn": None}}, "checklist"),
    ({"client_time": "2026-11-03T08:00:00"}, "client_time"),
    ({"closed_at": "2026-11-03T08:00:00Z"}, "closed_at"),
    ({"status": "closed"}, "status"),
    ({"checklist_complete": True}, "checklist_complete"),
])
def test_close_rejects_bad_input_and_writes_nothing(client, org, ready, changes, field):
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body(**changes)),
                             422, "VALIDATION_ERROR")
    assert list(problem["errors"]) == [field]
    assert_still_open(ready)


def test_a_categorys_own_checklist_is_the_one_to_answer(client, org, ready):
    db.session.add(Category(key="hvac", name="HVAC", checklist=["gas_checked", "filter_cleaned"],
                            signature_required=False))
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body(
        checklist={"gas_checked": True})), 409, "CLOSE_REQUIREMENTS_UNMET")
    assert problem["missing"] == ["CHECKLIST:filter_cleaned"]
    assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body()), 422, "VALIDATION_ERROR")
    data = client.post(f"jobs/{ready.id}/close", json=close_body(
        checklist={"gas_checked": True, "filter_cleaned": True})).json
    assert data["checklist_complete"] is True


MISSING_FIELD = {"AFTER_PHOTO": "after_photo", "CHECKED_OUT_VISIT": "visit", "SIGNATURE": "signature"}


def requirements(client, job) -> dict:
    """The first release's `errors` keys of the refusal, checked against its `missing`."""
    problem = assert_problem(client.post(f"jobs/{job.id}/close", json=close_body()), 409, "CLOSE_REQUIREMENTS_UNMET")
    assert sorted(MISSING_FIELD[code] for code in problem["missing"]) == sorted(problem["errors"])
    return problem["errors"]


def test_an_after_photo_is_required(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])
    factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=20)
    for kind in ("before", "other", "signature"):
        add_photo(job, kind)
    add_photo(factory.job(site=site, engineer=org["eng_a1"]), "after")  # on another job
    client.use_token(org["eng_a1"])
    assert set(requirements(client, job)) == {"after_photo"}
    assert_still_open(job, "assigned")
    add_photo(job, "after")
    assert client.post(f"jobs/{job.id}/close", json=close_body()).status_code == 200


@pytest.mark.parametrize("visit", [None, "open", "rejected", "other job"])
def test_a_field_job_needs_a_checked_out_visit_not_rejected(client, org, factory, site, visit):
    job = factory.job(site=site, engineer=org["eng_a1"])
    add_photo(job, "after")
    if visit == "open":
        factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=None)
    elif visit == "rejected":
        factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=20, status="rejected")
    elif visit == "other job":
        factory.visit(factory.job(site=site, engineer=org["eng_a1"]), at=utcnow() - timedelta(minutes=40))
    client.use_token(org["eng_a1"])
    assert set(requirements(client, job)) == {"visit"}
    assert_still_open(job, "assigned")


@pytest.mark.parametrize("status", ["rejected", "disputed"])
def test_a_rejected_or_disputed_visit_is_no_evidence_for_a_close(client, org, factory, site, status):
    """A disputed visit is still rejected (api.md), until the final decision."""
    job = factory.job(site=site, engineer=org["eng_a1"])
    add_photo(job, "after")
    factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=20, status=status)
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/close", json=close_body()), 409, "CLOSE_REQUIREMENTS_UNMET")


@pytest.mark.parametrize("status", ["verified", "flagged", "approved"])
def test_any_checked_out_visit_not_rejected_will_do(client, org, factory, site, status):
    job = factory.job(site=site, engineer=org["eng_a1"])
    add_photo(job, "after")
    factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=20, status=status)
    client.use_token(org["eng_a1"])
    assert client.post(f"jobs/{job.id}/close", json=close_body()).status_code == 200


def test_a_remote_job_needs_no_visit(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"], mode="remote")
    client.use_token(org["eng_a1"])
    assert set(requirements(client, job)) == {"after_photo"}
    add_photo(job, "after")
    assert client.post(f"jobs/{job.id}/close", json=close_body()).json["status"] == "closed"


def test_a_signature_is_required_when_the_category_says_so(client, org, ready):
    db.session.add(Category(key="hvac", name="HVAC", checklist=list(CHECKLIST), signature_required=True))
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post(f"jobs/{ready.id}/close", json=close_body()), 409, "CLOSE_REQUIREMENTS_UNMET")
    # Exactly the signature: the visit and the after photo are there.
    assert problem["missing"] == ["SIGNATURE"]
    assert problem["errors"] == {"signature": ["This category requires the customer's signature photo."]}
    assert problem["detail"] == "The job cannot be closed yet: This category requires the customer's signature photo."
    add_photo(ready, "signature")
    assert client.post(f"jobs/{ready.id}/close", json=close_body()).status_code == 200


def test_validation_comes_before_requirements(client, org, factory, site):
    job = factory.job(site=site, engineer=org["eng_a1"])  # no photo, no visit
    client.use_token(org["eng_a1"])
    assert_problem(client.post(f"jobs/{job.id}/close", json=close_body(
        checklist={"ladder_secured": True})), 422, "VALIDATION_ERROR")
    assert_problem(client.post(f"jobs/{job.id}/close", json=close_body(
        client_time=iso(utcnow() + TOLERANCE + MARGIN))), 422, "VALIDATION_ERROR")
    assert set(requirements(client, job)) == {"after_photo", "visit"}


def test_every_missing_requirement_is_listed_at_once(client, org, factory, site):
    db.session.add(Category(key="plumbing", name="Plumbing", checklist=["valve_closed", "leak_tested"],
                            signature_required=True))
    job = factory.job(site=site, engineer=org["eng_a1"], category="plumbing")
    factory.visit(job, at=utcnow() - timedelta(minutes=40), minutes=None)  # still open
    add_photo(job, "before")
    client.use_token(org["eng_a1"])
    problem = assert_problem(client.post(f"jobs/{job.id}/close", json=close_body(
        checklist={"leak_tested": False})), 409, "CLOSE_REQUIREMENTS_UNMET")
    assert problem["missing"] == ["CHECKED_OUT_VISIT", "AFTER_PHOTO", "SIGNATURE", "CHECKLIST:valve_closed"]
    assert_still_open(job, "assigned")


def test_a_job_that_moved_to_another_team_is_read_only_to_its_creator(client, org, factory):
    job = factory.job(engineer=org["eng_a1"], created_by=org["sup_a"])
    client.use_token(org["admin"])
    assert client.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_b1"].id}).status_code == 200
    creator = ApiClient(client.client.application.test_client()).use_token(org["sup_a"])
    assert creator.get(f"jobs/{job.id}").status_code == 200
    assert creator.patch(f"jobs/{job.id}", json={"title": "Mine"}).status_code == 404
    assert creator.post(f"jobs/{job.id}/cancel", json={"reason": "x"}).status_code == 404
    assert creator.post(f"jobs/{job.id}/assign", json={"engineer_id": org["eng_a1"].id}).status_code == 404
    assert creator.post(f"jobs/{job.id}/complaints", json={"detail": "x"}).status_code == 404
    assert fresh(job).engineer_id == org["eng_b1"].id and fresh(job).title == "Air conditioner leaking"


def test_the_list_costs_the_same_statements_for_1_and_7_jobs(client, org, factory):
    client.use_token(org["sup_a"])
    factory.job(engineer=org["eng_a1"])
    db.session.commit()
    client.get("jobs")  # the token's first use is recorded once
    one, page = statements_of(client, "jobs")
    assert len(page["items"]) == 1
    for n in range(6):
        factory.job(engineer=org["eng_a2"] if n % 2 else None, created_by=org["sup_a"])
    db.session.commit()
    seven, page = statements_of(client, "jobs")
    assert len(page["items"]) == 7 and page["total"] == 7
    assert one == seven
