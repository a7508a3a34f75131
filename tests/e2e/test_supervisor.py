"""The supervisor in the browser, on a laptop: the verification queue (one decision made
offline, one rejection that needs its note), the team board and an engineer's card,
alerts, and a monthly review with its action items."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert, AuditEntry, Review, ReviewActionItem, Visit
from app.models.types import utcnow
from tests.e2e.conftest import FAR, FIXTURES, screenshot
from tests.support import ApiClient

LAPTOP = {"width": 1280, "height": 860}


def fresh(model, **where):
    db.session.commit()  # a new transaction: see what the server committed meanwhile
    query = sa.select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalars(query.order_by(model.id)).all()


def decisions(visit_id: int) -> list[str]:
    return [e.action for e in fresh(AuditEntry, target_type="visit", target_id=visit_id)]


def test_the_queue_approves_offline_and_rejects_with_a_note_each_exactly_once(pages, small_org, factory, client):
    org = small_org
    now = utcnow()
    # Checked in 2.2 km away (oldest), and a 3-minute visit at the mall.
    far = factory.visit(org["near_job"], at=now - timedelta(hours=5), minutes=40, status="flagged",
                        flags=["OUTSIDE_GEOFENCE"], in_flags=["OUTSIDE_GEOFENCE"],
                        in_lat=FAR["latitude"], in_lon=FAR["longitude"], in_accuracy_m=15.0,
                        in_distance_m=2170.0)
    short = factory.visit(org["far_job"], at=now - timedelta(hours=2), minutes=3, status="flagged",
                          flags=["SHORT_VISIT"], out_flags=["SHORT_VISIT"])
    factory.visit(org["other_job"], status="verified")  # nothing to decide: not in the queue
    client.login(org["engineer"])
    with open(FIXTURES / "before.jpg", "rb") as photo:
        upload = client.post(f"jobs/{org['near_job'].id}/photos", data={"kind": "before", "file": (photo, "before.jpg")},
                             content_type="multipart/form-data")
    assert upload.status_code == 201, upload.json

    page = pages.open(org["supervisor"], viewport=LAPTOP)
    page.locator("li.vq-line").first.wait_for()
    # On a laptop the open visit's card is beside the list, one card at a time.
    page.get_by_role("button", name="Open the visit of Li Qiang to Lujiazui Tower").click()
    first = second = page.locator(".vq-detail article.vq-card")
    first.get_by_text("Air conditioner leaking").wait_for()
    page.get_by_text("2 visits waiting for your decision, oldest first").wait_for()
    # Everything a decision needs, on the card: flags in words, distances, positions, photos, history.
    first.get_by_text("Check-in was 2.2 km from the site, outside its 150 m area.").wait_for()
    first.get_by_role("img", name=re.compile(r"^Site area 150 m; check-in 2\.2 km away \(±15 m\)")).wait_for()
    thumb = first.get_by_role("img", name=re.compile("^Before photo"))
    thumb.wait_for()
    assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    first.get_by_text("Last 30 days: 2 visits, 2 flagged, 0 rejected, 0 disputed.").wait_for()
    screenshot(page, "supervisor-queue", full_page=True)

    # Approve the first while offline: kept on the laptop, sent once when the network returns.
    page.context.set_offline(True)
    first.get_by_role("button", name="Approve the visit of Li Qiang to Lujiazui Tower").click()
    first.get_by_text("Decision saved on this device: waiting to send.").wait_for()
    assert fresh(Visit, id=far.id)[0].status == "flagged"
    assert decisions(far.id) == []
    page.context.set_offline(False)
    first.get_by_text("Approved", exact=True).wait_for()
    assert fresh(Visit, id=far.id)[0].status == "approved"
    assert decisions(far.id) == ["visit.approve"]

    page.get_by_role("button", name="Open the visit of Li Qiang to Jing'an Mall").click()
    second.get_by_text("The visit lasted less than 5 minutes.").wait_for()
    assert "Lights flicker in the atrium" in second.inner_text()
    # Rejecting needs the reason: nothing is sent without it.
    reject = second.get_by_role("button", name="Reject the visit of Li Qiang to Jing'an Mall")
    reject.click()
    second.get_by_text("Write why you reject this visit.").wait_for()
    assert fresh(Visit, id=short.id)[0].status == "flagged" and decisions(short.id) == []
    second.get_by_label("Note (required to reject)").fill("Three minutes on site: not a repair")
    reject.click()
    second.get_by_text("Rejected", exact=True).wait_for()
    visit = fresh(Visit, id=short.id)[0]
    assert (visit.status, visit.decision_note) == ("rejected", "Three minutes on site: not a repair")
    assert decisions(short.id) == ["visit.reject"]
    assert decisions(far.id) == ["visit.approve"]

    page.reload()
    page.get_by_text("No visit is waiting for a decision.").wait_for()
    assert decisions(far.id) == ["visit.approve"] and decisions(short.id) == ["visit.reject"]


def test_team_board_alerts_and_a_review(pages, small_org, factory, client):
    org = small_org
    engineer, engineer2 = org["engineer"], org["engineer2"]
    now = utcnow()
    client.login(org["supervisor"])
    # Both attend a training (so both have data this month); Zhang Wei has a safety incident.
    made = client.post("trainings", json={"title": "Working at height", "held_at": (now - timedelta(minutes=5)).isoformat(),
                                          "hours": 2, "attendee_ids": [engineer.id, engineer2.id]})
    assert made.status_code == 201, made.json
    made = client.post("compliance-events", json={"engineer_id": engineer2.id, "kind": "safety_incident", "severity": "low",
                                                  "occurred_at": (now - timedelta(minutes=5)).isoformat(), "note": "No gloves"})
    assert made.status_code == 201, made.json
    # A customer of Li Qiang's gives a low score with a watch-list word: two alerts.
    factory.visit(org["near_job"], at=now - timedelta(minutes=30), minutes=20)
    link = client.post(f"jobs/{org['near_job'].id}/feedback-link")
    assert link.status_code == 201, link.json
    token = link.json["url"].rsplit("/", 1)[1]
    customer = ApiClient(client.client.application.test_client())  # the customer's own phone
    rated = customer.post(f"feedback/{token}", json={"score": 3, "comment": "The engineer was rude"})
    assert rated.status_code == 201, rated.json
    alerts = {a.kind: a for a in fresh(Alert)}
    assert set(alerts) == {"NEGATIVE_FEEDBACK", "KEYWORD"}

    page = pages.open(org["supervisor"], viewport=LAPTOP)
    # The team board, best first (mid-field scheme). Both are active, so the count metrics have
    # data (weights complaints 10, trainings 3, approved cases 4, safety 3, violations 1, false
    # reports 2 = 23); one NPS answer is below its 3 samples. Zhang Wei: 0 complaints → 100,
    # 1 training → 100, 0 cases → 0, 1 incident (target 0, floor 2) → 50, 0 → 100, 0 → 100:
    # (1000 + 300 + 0 + 150 + 100 + 200) / 23 = 76.09. Li Qiang has no incident (1900) and a
    # 20-minute visit 30 minutes after the report: service 100 and arrival 100 (weights 5 and 5):
    # (1900 + 500 + 500) / 33 = 87.88.
    page.get_by_role("link", name="Team").click()
    rows = page.locator("ol.team-board > li")
    rows.first.wait_for()
    assert rows.count() == 2
    top, next_ = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "#1" in top and "Li Qiang" in top and "87.88" in top and "On target" in top, top
    assert "#2" in next_ and "Zhang Wei" in next_ and "76.09" in next_ and "Below target" in next_, next_
    page.get_by_text("2 engineers ranked in the organisation.").wait_for()
    screenshot(page, "supervisor-team", full_page=True)
    page.get_by_role("link", name=re.compile("^Rank 1: Li Qiang, Score 87.88")).click()
    page.get_by_role("heading", name="Li Qiang").wait_for()
    page.locator("section[aria-labelledby=eng-total] .big").get_by_text("87.88").wait_for()
    # The same total as this month's (live) column of the trend.
    page.locator("table.trend-table tr[data-series=total] td").last.get_by_text("87.88").wait_for()
    page.get_by_text("Rank 1 of 2").wait_for()
    page.get_by_text("1 more approved case").wait_for()
    screenshot(page, "supervisor-engineer-card", full_page=True)

    # Alerts: both shown; dismiss the low rating.
    page.get_by_role("link", name="Alerts").click()
    page.get_by_text("2 open alerts").wait_for()
    page.get_by_text("The customer scored job").wait_for()
    page.get_by_text("rude", exact=True).wait_for()
    screenshot(page, "supervisor-alerts", full_page=True)
    page.get_by_role("button", name=re.compile("^Dismiss the alert: The customer scored job")).click()
    page.get_by_text("Alert dismissed.").wait_for()
    page.get_by_text("1 open alert", exact=True).wait_for()
    by_kind = {a.kind: a for a in fresh(Alert)}
    assert by_kind["NEGATIVE_FEEDBACK"].dismissed_at is not None
    assert by_kind["NEGATIVE_FEEDBACK"].dismissed_by_id == org["supervisor"].id
    assert by_kind["KEYWORD"].dismissed_at is None
    page.get_by_role("link", name="Dismissed").click()
    page.get_by_text("The customer scored job").wait_for()
    assert page.locator("li.alert-card").count() == 1

    # Reviews: none yet; hold one for Li Qiang from the form.
    page.get_by_role("link", name="Reviews").click()
    page.get_by_text("No reviews yet.", exact=False).wait_for()
    page.get_by_role("link", name="New review").click()
    # The list's engineer filter is labelled "Engineer" too: wait for the form first, or
    # the choice can land on the filter (which then shows Li Qiang's reviews instead).
    page.get_by_label("Month reviewed").wait_for()
    page.get_by_label("Engineer").select_option(label="Li Qiang")
    period = page.get_by_label("Month reviewed").input_value()
    page.get_by_role("button", name="Save the review").click()
    page.get_by_text("Write a summary.").wait_for()
    assert fresh(Review) == []
    page.get_by_label("Summary of the month").fill("Quick on site; one rude remark from a customer to talk over.")
    page.get_by_label("Strengths (optional)").fill("Checklists always complete")
    page.get_by_label("Action 1", exact=True).fill("Customer-care course")
    due = date.today() + timedelta(days=20)
    page.get_by_label("Due date for action 1").fill(due.isoformat())
    page.get_by_role("button", name="+ Add an action item").click()
    page.get_by_label("Action 2", exact=True).fill("Share one approved case")
    page.get_by_role("button", name="Save the review").click()
    page.get_by_text("Give a due date.").wait_for()  # action 2 has no date yet
    page.get_by_label("Due date for action 2").fill((due + timedelta(days=5)).isoformat())
    page.get_by_label("Target 1: metric").select_option("nps")
    page.get_by_label("Target 1: value").fill("50")
    screenshot(page, "supervisor-review-form", full_page=True)
    page.get_by_role("button", name="Save the review").click()
    page.get_by_text("Review saved.").wait_for()
    card = page.locator("article.review-card")
    card.wait_for()
    assert card.count() == 1
    (review,) = fresh(Review)
    assert (review.engineer_id, review.period, review.next_targets) == (engineer.id, period, {"nps": 50.0})
    items = sorted(fresh(ReviewActionItem, review_id=review.id), key=lambda i: i.id)
    assert [(i.title, i.due_date, i.done) for i in items] == [
        ("Customer-care course", due, False), ("Share one approved case", due + timedelta(days=5), False)]
    card.get_by_text("0 of 2 done").wait_for()
    card.get_by_text("Not yet acknowledged").wait_for()
    card.get_by_text("NPS: 50").wait_for()
    card.get_by_role("checkbox", name=re.compile("^Customer-care course")).check()
    card.get_by_text("1 of 2 done").wait_for()
    page.wait_for_function("() => !document.querySelector('input[type=checkbox]:disabled')")
    done = {i.title: i.done for i in fresh(ReviewActionItem, review_id=review.id)}
    assert done == {"Customer-care course": True, "Share one approved case": False}
    screenshot(page, "supervisor-reviews", full_page=True)
