"""The supervisor's day in the browser: the queue triaged from its compact list (filters,
ten visits approved together, one rejected with a note), at phone and laptop widths."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Alert, AuditEntry, Review, ReviewActionItem, Visit
from app.models.types import utcnow
from tests.e2e.conftest import FAR, screenshot
from tests.e2e.test_supervisor import fresh

LAPTOP = {"width": 1366, "height": 768}


def queue_of_25(org, factory):
    """25 flagged visits: 15 of Li Qiang's (the 10 newest outside the site, 5 short ones
    days old) and 10 of Zhang Wei's (imprecise, 3 hours old, one with a note)."""
    now = utcnow()
    li, zhang = org["engineer"], org["engineer2"]
    visits = {"far": [], "short": [], "zhang": []}
    for i in range(10):
        visits["far"].append(factory.visit(
            org["near_job"], at=now - timedelta(hours=1, minutes=i), minutes=40, status="flagged",
            flags=["OUTSIDE_GEOFENCE"], in_flags=["OUTSIDE_GEOFENCE"], in_lat=FAR["latitude"],
            in_lon=FAR["longitude"], in_accuracy_m=15.0, in_distance_m=2170.0))
    for i in range(5):
        visits["short"].append(factory.visit(
            org["far_job"], at=now - timedelta(days=3, hours=i), minutes=3, status="flagged",
            flags=["SHORT_VISIT", "LOW_ACCURACY"], out_flags=["SHORT_VISIT"], in_flags=["LOW_ACCURACY"],
            in_accuracy_m=180.0))
    for i in range(10):
        visits["zhang"].append(factory.visit(
            org["other_job"], engineer=zhang, at=now - timedelta(hours=3, minutes=i), minutes=30,
            status="flagged", flags=["LOW_ACCURACY"], in_flags=["LOW_ACCURACY"], in_accuracy_m=120.0,
            check_in_note="GPS weak in the basement" if i == 0 else None))
    db.session.commit()
    assert li.id != zhang.id
    return visits


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_queue_is_triaged_from_its_compact_list(pages, small_org, factory, lang):
    org = small_org
    visits = queue_of_25(org, factory)
    zh = lang == "zh-CN"
    keys: list[str] = []
    page = pages.open(org["supervisor"], viewport=LAPTOP, locale="zh-CN" if zh else "en-US")
    sent: list[tuple[str, str, str]] = []  # (url, key, body) of each decision
    page.on("request", lambda r: sent.append((r.url, r.headers.get("idempotency-key"), r.post_data))
            if r.method == "POST" and r.url.endswith("/verify") else None)
    lines = page.locator("li.vq-line")
    lines.first.wait_for()
    assert lines.count() == 25
    page.get_by_text("25 次上门等待您的决定，最早的在前" if zh else "25 visits waiting for your decision, oldest first").wait_for()
    # Oldest first: Li Qiang's short visits (3 days), then Zhang Wei's (3 h), then the far ones (1 h).
    assert "3 天前签到" in lines.first.inner_text() if zh else "Checked in 3 d ago" in lines.first.inner_text()
    note_line = lines.filter(has_text="GPS weak in the basement")
    assert note_line.count() == 1
    note_line.get_by_role("img", name="定位不准" if zh else "Imprecise position").wait_for()
    screenshot(page, f"supervisor-queue-list-laptop-{lang}")

    # Filters: by flag, engineer and age, then most flags first.
    page.get_by_label("标记", exact=True).or_(page.get_by_label("Flag", exact=True)).select_option("OUTSIDE_GEOFENCE")
    page.get_by_text("10 次上门符合条件" if zh else "10 visits match").wait_for()
    assert lines.count() == 10
    page.get_by_label("工程师").or_(page.get_by_label("Engineer")).select_option(label="Zhang Wei")
    page.get_by_text("没有符合这些条件的上门。" if zh else "No visit matches these filters.").wait_for()
    page.get_by_label("标记", exact=True).or_(page.get_by_label("Flag", exact=True)).select_option("")
    page.get_by_text("10 次上门符合条件" if zh else "10 visits match").wait_for()
    assert all("Zhang Wei" in lines.nth(i).inner_text() for i in range(10))
    page.get_by_label("工程师").or_(page.get_by_label("Engineer")).select_option("")
    page.get_by_label("等待时间").or_(page.get_by_label("Waiting")).select_option("24")
    page.get_by_text("5 次上门符合条件" if zh else "5 visits match").wait_for()
    page.get_by_label("等待时间").or_(page.get_by_label("Waiting")).select_option("")
    page.get_by_label("排序").or_(page.get_by_label("Order")).select_option("most_flags")
    page.get_by_text("25 次上门等待您的决定，最早的在前" if zh else "25 visits waiting for your decision, oldest first").wait_for()
    assert len(lines.first.get_by_role("img").all()) == 2  # a short visit, two flags
    page.get_by_label("排序").or_(page.get_by_label("Order")).select_option("oldest")

    # Ten visits outside the site, approved together: one request (and key) per visit.
    page.get_by_label("标记", exact=True).or_(page.get_by_label("Flag", exact=True)).select_option("OUTSIDE_GEOFENCE")
    page.get_by_text("10 次上门符合条件" if zh else "10 visits match").wait_for()
    page.get_by_label("全选").or_(page.get_by_label("Select all")).check()
    page.get_by_role("button", name="通过 10 次上门" if zh else "Approve 10 visits").click()
    page.get_by_text("已通过 10 次上门。" if zh else "10 visits approved.").first.wait_for()
    ids = [v.id for v in visits["far"]]
    assert all(v.status == "approved" for v in fresh(Visit) if v.id in ids)
    approvals = [e for e in fresh(AuditEntry, action="visit.approve") if e.target_id in ids]
    assert sorted(e.target_id for e in approvals) == sorted(ids)
    keys = [key for _, key, _ in sent]
    assert len(keys) == 10 and len(set(keys)) == 10 and all(keys)
    screenshot(page, f"supervisor-queue-approved-laptop-{lang}")

    # A replay of every request (the same keys) decides nothing more.
    replays = page.evaluate("""async (sent) => {
      const csrf = (await (await fetch('/api/v1/auth/me')).json()).csrf_token;
      const out = [];
      for (const [url, key, body] of sent) {
        const r = await fetch(url, { method: 'POST', body, headers: {
          'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'Idempotency-Key': key } });
        out.push(r.status);
      }
      return out;
    }""", sent)
    assert all(s < 300 for s in replays), replays
    assert len([e for e in fresh(AuditEntry, action="visit.approve") if e.target_id in ids]) == 10

    # One rejected with a note, from its full card (the engineer's note on it).
    page.get_by_label("标记", exact=True).or_(page.get_by_label("Flag", exact=True)).select_option("")
    page.reload()
    lines.first.wait_for()
    assert lines.count() == 15
    target = visits["zhang"][0]
    page.get_by_role("button", name="打开 Zhang Wei 在 Lujiazui Tower 的上门" if zh else "Open the visit of Zhang Wei to Lujiazui Tower").first.wait_for()
    note_line = lines.filter(has_text="GPS weak in the basement")
    note_line.get_by_role("button", name=re.compile("^(打开|Open)")).click()
    card = note_line.locator("article.vq-card")
    card.get_by_text(re.compile("GPS weak in the basement")).first.wait_for()
    card.get_by_label("备注（驳回时必填）" if zh else "Note (required to reject)").fill("Basement has a known fix point")
    card.get_by_role("button", name=re.compile("^(驳回|Reject)")).click()
    card.get_by_text("已驳回" if zh else "Rejected", exact=True).wait_for()
    visit = fresh(Visit, id=target.id)[0]
    assert (visit.status, visit.decision_note) == ("rejected", "Basement has a known fix point")
    assert [e.action for e in fresh(AuditEntry, target_type="visit", target_id=target.id)] == ["visit.reject"]
    screenshot(page, f"supervisor-queue-card-laptop-{lang}", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, f"supervisor-queue-card-phone-{lang}", full_page=True)
    note_line.get_by_role("button", name=re.compile("^(打开|Open)")).click()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, f"supervisor-queue-list-phone-{lang}")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_alert_opens_its_visit_and_becomes_a_review_action_item(pages, small_org, factory, lang):
    org = small_org
    zh = lang == "zh-CN"
    li = org["engineer"]
    now = utcnow()
    flagged = [factory.visit(org["near_job"], at=now - timedelta(days=d), status="flagged",
                             flags=["SHORT_VISIT"], out_flags=["SHORT_VISIT"], minutes=3) for d in (3, 2, 1)]
    ids = [v.id for v in flagged]
    until = now.date().isoformat()
    alert = Alert(kind="FLAG_PATTERN", engineer_id=li.id, visit_id=ids[-1], matched=[],
                  params={"count": 3, "days": 14, "until": until, "visit_ids": ids},
                  detail="3 visits flagged or rejected in the 14 days to " + until, dedupe_key=f"fp-{li.id}")
    db.session.add(alert)
    period = f"{now.year}-{now.month:02d}"
    review = Review(engineer_id=li.id, supervisor_id=org["supervisor"].id, period=period, summary="A good month")
    db.session.add(review)
    db.session.commit()

    page = pages.open(org["supervisor"], locale="zh-CN" if zh else "en-US")
    page.get_by_role("link", name="预警" if zh else "Alerts").click()
    card = page.locator("li.alert-card")
    card.get_by_text(("截至" if zh else "3 visits flagged or rejected in the 14 days to")).first.wait_for()
    assert "visits flagged" not in card.inner_text() if zh else True  # worded in Chinese, not the server's English
    screenshot(page, f"supervisor-alert-phone-{lang}", full_page=True)
    card.get_by_role("link", name=(f"上门 #{ids[-1]}" if zh else f"Visit #{ids[-1]}")).click()
    visit_card = page.locator("article.vq-card")
    visit_card.get_by_text("上门时间不足 5 分钟。" if zh else "The visit lasted less than 5 minutes.").wait_for()
    page.go_back()
    card = page.locator("li.alert-card")
    card.get_by_role("button", name=re.compile("^(将预警转为改进事项|Make an action item of the alert)")).click()
    card.get_by_label("面谈" if zh else "Review", exact=True).wait_for()
    card.get_by_label("改进事项" if zh else "Action", exact=True).fill("Stay on site until the work is done")
    due = (now + timedelta(days=10)).date()
    card.get_by_label("截止日期" if zh else "Due date").fill(due.isoformat())
    screenshot(page, f"supervisor-alert-item-phone-{lang}", full_page=True)
    card.get_by_role("button", name="加入面谈" if zh else "Add to the review").click()
    page.get_by_text("没有未处理的预警。" if zh else "No open alerts.", exact=False).wait_for()
    (item,) = fresh(ReviewActionItem, review_id=review.id)
    assert (item.title, item.due_date, item.done) == ("Stay on site until the work is done", due, False)
    (stored,) = fresh(Alert)
    assert stored.action_item_id == item.id and stored.dismissed_at is not None
    assert [e.action for e in fresh(AuditEntry, target_type="alert", target_id=stored.id)] == ["alert.action_item"]
