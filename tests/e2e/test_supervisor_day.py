"""The supervisor's day in the browser: the queue triaged from its compact list (filters,
ten visits approved together, one rejected with a note), at phone and laptop widths."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Alert, AuditEntry, Job, Review, ReviewActionItem, Visit
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
    # On a laptop the card opens beside the list (the phone's card under its line, below).
    card = page.locator(".vq-detail article.vq-card")
    card.get_by_text(re.compile("GPS weak in the basement")).first.wait_for()
    card.get_by_label("备注（驳回时必填）" if zh else "Note (required to reject)").fill("Basement has a known fix point")
    card.get_by_role("button", name=re.compile("^(驳回|Reject)")).click()
    card.get_by_text("已驳回" if zh else "Rejected", exact=True).wait_for()
    visit = fresh(Visit, id=target.id)[0]
    assert (visit.status, visit.decision_note) == ("rejected", "Basement has a known fix point")
    assert [e.action for e in fresh(AuditEntry, target_type="visit", target_id=target.id)] == ["visit.reject"]
    screenshot(page, f"supervisor-queue-card-laptop-{lang}")
    page.set_viewport_size({"width": 390, "height": 844})
    note_line.locator("article.vq-card").get_by_text(re.compile("GPS weak in the basement")).first.wait_for()
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


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_job_is_created_assigned_by_the_suggestions_and_seen_on_the_engineers_today(pages, small_org, factory, lang):
    org = small_org
    zh = lang == "zh-CN"
    now = utcnow()
    sup, li, zhang = org["supervisor"], org["engineer"], org["engineer2"]
    # Positions relative to the new job's site, Lujiazui Tower (31.2304, 121.4737):
    #   Zhao Min: home site the tower itself, 0 m, no jobs                 → 1st
    #   Sun Li: home site the tower, 0 m, 2 open jobs today                → 2nd (same distance, more jobs)
    #   Li Qiang: last fix at Jing'an Mall (31.2253, 121.4470): 0.0051° lat × 111.0 km = 0.57 km,
    #     0.0267° lon × 95.2 km = 2.54 km → 2.6 km; beats his home site (Baoshan Depot)  → 3rd
    #   Zhang Wei: home site Baoshan Depot (31.3400, 121.4400): 0.1096° × 111.0 = 12.2 km,
    #     0.0337° × 95.2 = 3.2 km → 12.6 km                                   → 4th
    #   Chen Jie: neither a position nor a home site                        → last
    zhao = factory.user("engineer", supervisor=sup, name="Zhao Min", home_site_id=org["site"].id)
    sun = factory.user("engineer", supervisor=sup, name="Sun Li", home_site_id=org["site"].id)
    factory.user("engineer", supervisor=sup, name="Chen Jie")
    li.home_site_id = org["depot"].id
    zhang.home_site_id = org["depot"].id
    for title in ("Pump check", "Valve check"):
        factory.job(site=org["depot"], engineer=sun, created_by=sup, title=title, scheduled_for=now.date())
    factory.visit(org["far_job"], at=now - timedelta(hours=1), minutes=30)
    db.session.commit()

    page = pages.open(sup, locale="zh-CN" if zh else "en-US")
    page.get_by_role("link", name="派单" if zh else "Dispatch").click()
    page.get_by_role("button", name=re.compile("新建工单|New job")).click()
    page.get_by_label("现场" if zh else "Site").select_option(label="Lujiazui Tower · Pudong Estates")
    page.get_by_label("类别" if zh else "Category").select_option("plumbing")
    page.get_by_label("优先级" if zh else "Priority").select_option("urgent")
    page.get_by_role("button", name="创建工单" if zh else "Create the job").click()
    page.get_by_text("请填写此项。" if zh else "Fill this in.").first.wait_for()  # the title is missing
    page.get_by_label("标题" if zh else "Title", exact=True).fill("Burst pipe in the basement")
    page.get_by_label("描述（可选）" if zh else "Description (optional)").fill("Water on the floor of B2")
    page.get_by_label("计划日期（可选）" if zh else "Scheduled for (optional)").fill(now.date().isoformat())
    screenshot(page, f"supervisor-dispatch-new-phone-{lang}", full_page=True)
    page.get_by_role("button", name="创建工单" if zh else "Create the job").click()
    rows = page.locator("li.dispatch-suggestion")
    rows.first.wait_for()
    (job,) = [j for j in fresh(Job) if j.title == "Burst pipe in the basement"]
    assert (job.site_id, job.category, job.priority, job.status, job.scheduled_for, job.description) == (
        org["site"].id, "plumbing", "urgent", "new", now.date(), "Water on the floor of B2")
    texts = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert [t.split("\n")[0].split(". ", 1)[-1] for t in texts] == ["Zhao Min", "Sun Li", "Li Qiang", "Zhang Wei", "Chen Jie"], texts
    assert ("0 米" if zh else "0 m") in texts[0] and ("今日 0 个未完成工单" if zh else "0 open jobs today") in texts[0]
    assert ("今日 2 个未完成工单" if zh else "2 open jobs today") in texts[1]
    assert ("2.6 公里" if zh else "2.6 km") in texts[2] and ("最后位置" if zh else "last position") in texts[2]
    assert ("12.6 公里" if zh else "12.6 km") in texts[3] and ("常驻现场" if zh else "home site") in texts[3]
    assert ("位置未知" if zh else "Position unknown") in texts[4]
    screenshot(page, f"supervisor-dispatch-job-phone-{lang}", full_page=True)
    page.set_viewport_size(LAPTOP)
    screenshot(page, f"supervisor-dispatch-job-laptop-{lang}")
    page.get_by_role("button", name="派给 Zhao Min" if zh else "Assign to Zhao Min").click()
    page.get_by_text("当前负责" if zh else "Assigned now").wait_for()
    assert (fresh(Job, id=job.id)[0].engineer_id, fresh(Job, id=job.id)[0].status) == (zhao.id, "assigned")
    assert [e.action for e in fresh(AuditEntry, target_type="job", target_id=job.id)][-1] == "job.assign"

    # On Zhao Min's phone: the job is on Today.
    phone = pages.open(zhao, locale="zh-CN" if zh else "en-US")
    phone.get_by_text("Burst pipe in the basement").wait_for()

    # Rescheduled to tomorrow, then cancelled with a reason.
    tomorrow = (now + timedelta(days=1)).date()
    page.get_by_label("新日期（留空：不排期）" if zh else "New day (empty: not scheduled)").fill(tomorrow.isoformat())
    page.get_by_role("button", name="改期" if zh else "Reschedule", exact=True).click()
    page.get_by_text("已改期。" if zh else "Rescheduled.").wait_for()
    assert fresh(Job, id=job.id)[0].scheduled_for == tomorrow
    page.get_by_role("button", name="取消工单" if zh else "Cancel the job").click()
    page.get_by_text("请写明取消工单的原因。" if zh else "Write why the job is cancelled.").wait_for()
    page.get_by_label("取消原因" if zh else "Why it is cancelled").fill("The customer fixed it")
    page.get_by_role("button", name="取消工单" if zh else "Cancel the job").click()
    page.get_by_text("工单已取消。" if zh else "Job cancelled.").wait_for()
    stored = fresh(Job, id=job.id)[0]
    assert (stored.status, stored.cancel_reason) == ("cancelled", "The customer fixed it")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_engineers_page_has_the_trend_visits_jobs_and_reviews(pages, small_org, factory, lang):
    org = small_org
    zh = lang == "zh-CN"
    li = org["engineer"]
    now = utcnow()
    factory.visit(org["far_job"], at=now - timedelta(hours=3), minutes=3, status="flagged",
                  flags=["SHORT_VISIT"], out_flags=["SHORT_VISIT"])
    db.session.add(Review(engineer_id=li.id, supervisor_id=org["supervisor"].id,
                          period=f"{now.year}-{now.month:02d}", summary="Quick and careful"))
    db.session.commit()
    page = pages.open(org["supervisor"], locale="zh-CN" if zh else "en-US", path=f"/#/engineer/{li.id}")
    page.get_by_role("heading", name="近 6 个月" if zh else "Last 6 months").wait_for()
    chart = page.get_by_role("img", name=re.compile("^(每月总分与及格线|Total score by month against the pass mark)"))
    label = chart.get_attribute("aria-label")
    assert label.count("；" if zh else "; ") == 5, label  # six months
    assert ("截至目前" if zh else "so far") in label  # the current month is live
    page.get_by_text("中级现场工程师" if zh else "Mid-level field engineer").wait_for()
    visits = page.locator("section[aria-labelledby=eng-visits]")
    visits.get_by_role("link", name="Jing'an Mall").wait_for()
    visits.get_by_role("img", name="上门过短" if zh else "Short visit").wait_for()
    jobs = page.locator("section[aria-labelledby=eng-jobs]").inner_text()
    assert "Air conditioner leaking" in jobs and "Replace the dock door motor" in jobs
    page.get_by_text("Quick and careful").wait_for()
    screenshot(page, f"supervisor-engineer-phone-{lang}", full_page=True)
    page.set_viewport_size(LAPTOP)
    screenshot(page, f"supervisor-engineer-laptop-{lang}", full_page=True)


OVERFLOWING = """() => [...document.querySelectorAll('main *')]
  .filter((el) => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'auto'
    && el.clientWidth > 0 && !['svg', 'meter', 'select', 'input', 'textarea'].includes(el.tagName.toLowerCase()))
  .map((el) => `${el.className}: ${el.textContent.slice(0, 40)}`)"""


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_team_board_fits_a_phone_with_each_pass_mark(pages, small_org, lang):
    org = small_org
    zh = lang == "zh-CN"
    page = pages.open(org["supervisor"], locale="zh-CN" if zh else "en-US", path="/#/team")
    rows = page.locator("ol.team-board > li")
    rows.first.wait_for()
    assert rows.count() == 2
    # Both are mid-level field engineers: the scheme's name and its pass mark.
    mark = "中级现场工程师 · 及格线 " if zh else "Mid-level field engineer · pass mark "
    assert mark in rows.first.inner_text()
    names = rows.first.locator(".team-dim-name").all_inner_texts()
    assert names == (["响应", "效率", "满意度", "知识贡献", "合规"] if zh
                     else ["Response", "Efficiency", "Satisfaction", "Knowledge", "Compliance"])
    over = page.evaluate(OVERFLOWING)
    assert over == [], "\n".join(over)
    screenshot(page, f"supervisor-team-phone-{lang}", full_page=True)
    page.set_viewport_size(LAPTOP)
    over = page.evaluate(OVERFLOWING)
    assert over == [], "\n".join(over)
    # On a laptop each engineer is one line: the dimensions beside the total, not under it.
    row, dims = rows.first.bounding_box(), rows.first.locator(".team-dims").bounding_box()
    assert dims["x"] > row["x"] + row["width"] / 3 and dims["height"] < row["height"]
    screenshot(page, f"supervisor-team-laptop-{lang}", full_page=True)
