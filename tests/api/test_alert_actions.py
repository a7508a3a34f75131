"""Alerts the supervisor can act on (workday.md): each carries its `kind` and the `params`
its reason is worded from, and links to its job, visit and engineer; it is dismissed with
an optional note, or turned into a review action item (audited, idempotent, scoped)."""
from __future__ import annotations

import importlib.util
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.domain.alerts import alert_reason
from app.extensions import db
from app.models import Alert, AuditEntry, Feedback, Review, ReviewActionItem
from app.models.types import utcnow
from app.services import alerts as service
from tests.api.test_app import assert_problem
from tests.support import ApiClient


def as_user(app, user) -> ApiClient:
    return ApiClient(app.test_client()).use_token(user)


def audit(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.id)))


def stored(alert_id: int) -> Alert:
    db.session.expire_all()
    return db.session.get(Alert, alert_id)


# --- kind and params ---------------------------------------------------------------------

def test_feedback_alerts_carry_their_figures(org, factory):
    job = factory.job(engineer=org["eng_a1"])
    row = Feedback(job_id=job.id, score=3, comment="师傅态度差，我要投诉！")
    db.session.add(row)
    db.session.flush()
    negative, keyword = service.raise_feedback_alerts(row)
    assert negative.params == {"job_id": job.id, "feedback_id": row.id, "score": 3,
                               "comment": "师傅态度差，我要投诉！"}
    assert negative.detail == f"Customer scored job #{job.id} 3/10: “师傅态度差，我要投诉！”"
    assert keyword.params == {"source": "feedback", "job_id": job.id, "feedback_id": row.id,
                              "terms": ["投诉", "态度差"], "excerpt": "师傅态度差，我要投诉！"}
    assert keyword.detail == (f"Customer feedback on job #{job.id} mentions 投诉, 态度差: "
                              "“师傅态度差，我要投诉！”")
    assert (negative.engineer_id, negative.job_id, negative.visit_id) == (org["eng_a1"].id, job.id, None)


def test_a_score_without_comment_has_a_null_comment(org, factory):
    job = factory.job(engineer=org["eng_a1"])
    row = Feedback(job_id=job.id, score=0)
    db.session.add(row)
    db.session.flush()
    [negative] = service.raise_feedback_alerts(row)
    assert negative.params["comment"] is None and negative.detail == f"Customer scored job #{job.id} 0/10."


def test_job_text_alerts_name_their_source(org, factory):
    job = factory.job(engineer=org["eng_a1"], description="Customer threatens a complaint",
                      resolution="Broken again after a week")
    description, resolution = service.raise_job_text_alerts(job)
    assert description.params == {"source": "job_description", "job_id": job.id, "terms": ["complaint"],
                                  "excerpt": "Customer threatens a complaint"}
    assert description.detail == f"The description of job #{job.id} mentions complaint: “Customer threatens a complaint”"
    assert resolution.params["source"] == "job_resolution" and resolution.params["terms"] == ["broken again"]
    assert resolution.detail.startswith(f"The resolution of job #{job.id} mentions broken again: ")


def test_sla_risk_carries_its_limit_and_due_time(org, factory):
    now = datetime(2026, 11, 3, 9, 0, 30, tzinfo=UTC)
    job = factory.job(engineer=org["eng_a1"], priority="urgent", reported_at=now - timedelta(hours=2),
                      assigned_at=datetime(2026, 11, 3, 8, 15, 10, tzinfo=UTC))
    assert service.scan_sla_alerts(now) == 1
    [raised] = db.session.scalars(sa.select(Alert).where(Alert.kind == "SLA_RISK"))
    assert raised.params == {"job_id": job.id, "priority": "urgent", "limit_minutes": 30,
                             "due_at": "2026-11-03T08:45:10Z"}
    assert raised.detail == (f"Job #{job.id} (urgent) has had no first contact; its 30-minute "
                             "limit passed at 2026-11-03T08:45+00:00.")


def test_a_flag_pattern_links_its_latest_visit_and_names_them_all(org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    visits = [factory.visit(job, at=now - timedelta(days=d), status="flagged", flags=["LOW_ACCURACY"])
              for d in (3, 2, 1)]
    raised = service.raise_flag_pattern_alert(org["eng_a1"].id, now)
    ids = sorted(v.id for v in visits)
    assert raised.params == {"count": 3, "days": 14, "until": now.date().isoformat(), "visit_ids": ids}
    assert (raised.visit_id, raised.engineer_id, raised.job_id) == (ids[-1], org["eng_a1"].id, None)
    assert raised.detail == (f"3 visits flagged or rejected in the 14 days to {now.date().isoformat()}: "
                             + ", ".join(f"#{i}" for i in ids) + ".")


def test_the_list_shows_kind_params_links_and_the_reason(app, org, factory):
    now = utcnow()
    job = factory.job(engineer=org["eng_a1"])
    visits = [factory.visit(job, at=now - timedelta(days=d), status="flagged", flags=["SHORT_VISIT"])
              for d in (3, 2, 1)]
    service.raise_flag_pattern_alert(org["eng_a1"].id, now)
    db.session.commit()
    [item] = as_user(app, org["sup_a"]).get("alerts").get_json()["items"]
    assert item["kind"] == "FLAG_PATTERN" and item["params"]["visit_ids"] == sorted(v.id for v in visits)
    assert item["visit_id"] == max(v.id for v in visits) and item["engineer_id"] == org["eng_a1"].id
    assert item["reason"] == item["detail"] == alert_reason("FLAG_PATTERN", item["params"])
    assert (item["dismiss_note"], item["action_item_id"]) == (None, None)


def test_alerts_raised_before_the_upgrade_get_params_from_their_sentence():
    """The migration words nothing anew: it reads the figures back from each sentence
    (and the rows it names), so that older alerts carry params like new ones."""
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0010_working_day.py"
    spec = importlib.util.spec_from_file_location("migration_0009", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    class Row:
        def __init__(self, kind, params, **fields):
            self.kind, self.detail = kind, alert_reason(kind, params)
            self.job_id, self.feedback_id, self.matched, self.dedupe_key = (
                fields.get("job_id"), fields.get("feedback_id"), fields.get("matched", []),
                fields.get("dedupe_key", ""))

    cases = [
        (Row("NEGATIVE_FEEDBACK", {"job_id": 7, "feedback_id": 3, "score": 2, "comment": "太慢"},
             job_id=7, feedback_id=3), {"job_id": 7, "feedback_id": 3, "score": 2, "comment": "太慢"}, None),
        (Row("KEYWORD", {"source": "job_resolution", "job_id": 7, "terms": ["refund"], "excerpt": "wants a refund"},
             job_id=7, matched=["refund"], dedupe_key="KEYWORD:job-resolution:7"),
         {"source": "job_resolution", "job_id": 7, "terms": ["refund"], "excerpt": "wants a refund"}, None),
        (Row("SLA_RISK", {"job_id": 7, "priority": "high", "limit_minutes": 60, "due_at": "2026-11-03T08:45:00Z"},
             job_id=7), {"job_id": 7, "priority": "high", "limit_minutes": 60, "due_at": "2026-11-03T08:45:00Z"}, None),
        (Row("FLAG_PATTERN", {"count": 3, "days": 14, "until": "2026-11-03", "visit_ids": [4, 9, 12]}),
         {"count": 3, "days": 14, "until": "2026-11-03", "visit_ids": [4, 9, 12]}, 12),
    ]
    for row, params, visit_id in cases:
        assert migration._params(row, {3: 2}, {7: "high"}) == (params, visit_id)


# --- dismissing with a note --------------------------------------------------------------

@pytest.fixture
def keyword_alert(org, factory):
    job = factory.job(engineer=org["eng_a1"], description="The customer wants a refund")
    [raised] = service.raise_job_text_alerts(job)
    db.session.commit()
    return raised


def test_a_dismissal_keeps_its_note_and_is_audited_with_it(app, org, keyword_alert):
    client = as_user(app, org["sup_a"])
    response = client.post(f"alerts/{keyword_alert.id}/dismiss", json={"note": "  Refund agreed by phone. "})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["dismiss_note"] == "Refund agreed by phone." and body["dismissed_by_id"] == org["sup_a"].id
    [entry] = audit("alert.dismiss")
    assert entry.detail["note"] == "Refund agreed by phone." and entry.target_id == keyword_alert.id
    # A second dismissal keeps the first time, who and note; nothing more is audited.
    again = as_user(app, org["admin"]).post(f"alerts/{keyword_alert.id}/dismiss", json={"note": "Other"})
    assert again.get_json()["dismiss_note"] == "Refund agreed by phone."
    assert again.get_json()["dismissed_at"] == body["dismissed_at"] and len(audit("alert.dismiss")) == 1


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}, {"json": {"note": None}}, {"json": {"note": "  "}}])
def test_a_dismissal_without_a_note(app, org, keyword_alert, kwargs):
    response = as_user(app, org["sup_a"]).post(f"alerts/{keyword_alert.id}/dismiss", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["dismiss_note"] is None and stored(keyword_alert.id).dismissed_at is not None


@pytest.mark.parametrize("body, field", [
    ({"note": "n" * 2001}, "note"), ({"note": 5}, "note"), ({"note": ["x"]}, "note"),
    ({"reason": "x"}, "reason"), ({"dismissed_by_id": 1}, "dismissed_by_id"),
])
def test_a_bad_dismissal_is_refused_and_changes_nothing(app, org, keyword_alert, body, field):
    problem = assert_problem(as_user(app, org["sup_a"]).post(f"alerts/{keyword_alert.id}/dismiss", json=body),
                             422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert stored(keyword_alert.id).dismissed_at is None and audit("alert.dismiss") == []


# --- turning an alert into a review action item ------------------------------------------

@pytest.fixture
def review(org):
    row = Review(engineer_id=org["eng_a1"].id, supervisor_id=org["sup_a"].id, period="2026-11",
                 summary="Steady month.")
    db.session.add(row)
    db.session.commit()
    return row


def action(client, alert_id, review, **changes):
    body = {"review_id": review, "title": "Call the customer back about the refund",
            "due_date": "2026-12-20", **changes}
    return client.post(f"alerts/{alert_id}/action-item", json={k: v for k, v in body.items() if v is not ...})


def test_an_alert_becomes_an_action_item_of_its_engineers_review(app, org, keyword_alert, review):
    client = as_user(app, org["sup_a"])
    response = action(client, keyword_alert.id, review.id, title="  Call the customer back  ")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/api/v1/reviews/{review.id}")
    body = response.get_json()
    [item] = db.session.scalars(sa.select(ReviewActionItem))
    assert (item.review_id, item.title, item.due_date, item.done) == (
        review.id, "Call the customer back", date(2026, 12, 20), False)
    assert (body["action_item_id"], body["review_id"]) == (item.id, review.id)
    assert body["dismissed_at"] is not None and body["dismissed_by_id"] == org["sup_a"].id
    row = stored(keyword_alert.id)
    assert (row.action_item_id, row.dismissed_by_id) == (item.id, org["sup_a"].id)
    [entry] = audit("alert.action_item")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (org["sup_a"].id, "alert", keyword_alert.id)
    assert entry.detail == {"kind": "KEYWORD", "engineer_id": org["eng_a1"].id, "review_id": review.id,
                            "item_id": item.id, "title": "Call the customer back", "due_date": "2026-12-20"}
    # The engineer sees the item on their review; the alert is no longer open.
    items = as_user(app, org["eng_a1"]).get(f"reviews/{review.id}").get_json()["action_items"]
    assert [i["title"] for i in items] == ["Call the customer back"]
    assert client.get("alerts").get_json()["items"] == []


def test_an_already_dismissed_alert_may_still_become_an_action_item(app, org, keyword_alert, review):
    client = as_user(app, org["sup_a"])
    first = client.post(f"alerts/{keyword_alert.id}/dismiss", json={"note": "Later"}).get_json()
    body = action(as_user(app, org["admin"]), keyword_alert.id, review.id).get_json()
    assert body["dismissed_at"] == first["dismissed_at"] and body["dismiss_note"] == "Later"
    assert body["action_item_id"] is not None


def test_a_replayed_request_makes_one_item(app, org, keyword_alert, review):
    client = as_user(app, org["sup_a"])
    headers = {"Idempotency-Key": "0d3c1a52-3f4e-4a58-9d40-6f6c2a1b9e11"}
    first = client.post(f"alerts/{keyword_alert.id}/action-item", headers=headers,
                        json={"review_id": review.id, "title": "Call back", "due_date": "2026-12-20"})
    again = client.post(f"alerts/{keyword_alert.id}/action-item", headers=headers,
                        json={"review_id": review.id, "title": "Call back", "due_date": "2026-12-20"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReviewActionItem)) == 1
    assert len(audit("alert.action_item")) == 1
    # Without the key, a second request is a conflict: one alert, one item.
    assert_problem(action(client, keyword_alert.id, review.id), 409, "CONFLICT")


def test_the_review_must_be_of_the_alerts_engineer_in_your_team(app, org, factory, keyword_alert, review):
    other_engineer = Review(engineer_id=org["eng_a2"].id, supervisor_id=org["sup_a"].id,
                            period="2026-11", summary="x")
    other_team = Review(engineer_id=org["eng_b1"].id, supervisor_id=org["sup_b"].id,
                        period="2026-11", summary="x")
    db.session.add_all([other_engineer, other_team])
    db.session.commit()
    client = as_user(app, org["sup_a"])
    for review_id in (other_engineer.id, other_team.id, 999_999):
        problem = assert_problem(action(client, keyword_alert.id, review_id), 422, "VALIDATION_ERROR")
        assert list(problem["errors"]) == ["review_id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReviewActionItem)) == 0
    assert stored(keyword_alert.id).dismissed_at is None


def test_an_alert_without_an_engineer_cannot_become_an_action_item(app, org, factory, review):
    job = factory.job(description="Customer wants a refund")  # unassigned
    [raised] = service.raise_job_text_alerts(job)
    db.session.commit()
    assert_problem(action(as_user(app, org["admin"]), raised.id, review.id), 409, "CONFLICT")
    assert stored(raised.id).dismissed_at is None


@pytest.mark.parametrize("changes, field", [
    ({"review_id": ...}, "review_id"), ({"review_id": "1"}, "review_id"), ({"review_id": 0}, "review_id"),
    ({"review_id": 2**31}, "review_id"), ({"title": ...}, "title"), ({"title": "  "}, "title"),
    ({"title": "t" * 201}, "title"), ({"title": None}, "title"), ({"due_date": ...}, "due_date"),
    ({"due_date": "2026-02-30"}, "due_date"), ({"due_date": "tomorrow"}, "due_date"),
    ({"done": True}, "done"), ({"id": 5}, "id"), ({"engineer_id": 5}, "engineer_id"),
])
def test_bad_action_item_input_is_refused_and_writes_nothing(app, org, keyword_alert, review, changes, field):
    changes = dict(changes)
    body_review = changes.pop("review_id") if "review_id" in changes else review.id
    problem = assert_problem(action(as_user(app, org["sup_a"]), keyword_alert.id, body_review, **changes),
                             422, "VALIDATION_ERROR")
    assert field in problem["errors"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ReviewActionItem)) == 0
    assert stored(keyword_alert.id).dismissed_at is None and audit("alert.action_item") == []


@pytest.mark.parametrize("who, status", [
    ("sup_b", 404), ("eng_a1", 403), ("eng_b1", 403), ("admin", 201), ("sup_a", 201),
])
def test_action_item_scope(app, org, keyword_alert, review, who, status):
    assert action(as_user(app, org[who]), keyword_alert.id, review.id).status_code == status


def test_action_item_needs_a_sign_in(app, client, org, keyword_alert, review):
    assert_problem(action(client, keyword_alert.id, review.id), 401, "UNAUTHORIZED")
    assert_problem(action(as_user(app, org["admin"]), 999_999, review.id), 404, "NOT_FOUND")
