"""The customer's rating page (/f/<token>): no account, the browser's language, a score
from 0 to 10 and a comment sent once; used, expired and unknown links each say so."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert, Feedback, FeedbackLink
from app.models.types import utcnow
from tests.e2e.conftest import screenshot


def fresh(model, **where):
    db.session.commit()
    query = sa.select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalars(query.order_by(model.id)).all()


def link_for(client, factory, job) -> str:
    """The path of a new rating link for `job` (after a visit), made by its engineer."""
    factory.visit(job)
    made = client.post(f"jobs/{job.id}/feedback-link")
    assert made.status_code == 201, made.json
    return "/f/" + made.json["url"].rsplit("/", 1)[1]


def test_a_customer_rates_once_and_the_link_then_says_it_was_used(pages, small_org, factory, client):
    org = small_org
    job = org["near_job"]
    client.login(org["engineer"])
    path = link_for(client, factory, job)

    page = pages.open(path=path)  # nobody signed in
    page.get_by_text("Air conditioner leaking").wait_for()
    page.get_by_text("Lujiazui Tower · 1000 Lujiazui Ring Rd").wait_for()
    page.get_by_text("Li", exact=True).wait_for()  # the engineer's display name only
    assert page.get_by_role("navigation").count() == 0  # no tabs for a customer
    group = page.get_by_role("group", name="How likely are you to recommend our service to a friend or colleague?")
    assert group.get_by_role("radio").count() == 11
    screenshot(page, "feedback-en", full_page=True)

    # No score chosen: said, nothing sent.
    page.get_by_role("button", name="Send my rating").click()
    page.get_by_text("Choose a score from 0 to 10.").wait_for()
    assert fresh(Feedback) == []

    group.get_by_role("radio", name="9", exact=True).check()
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Quick and tidy, 谢谢")
    page.get_by_role("button", name="Send my rating").click()
    page.locator("main").get_by_role("heading", name="Thank you!").wait_for()
    page.get_by_text("Your rating has been received.", exact=False).wait_for()
    screenshot(page, "feedback-thanks")
    (feedback,) = fresh(Feedback)
    assert (feedback.job_id, feedback.score, feedback.comment) == (job.id, 9, "Quick and tidy, 谢谢")
    assert fresh(Alert) == []  # 9 is no low score

    # The second open: the link was used; nothing more can be sent.
    page.goto(path)
    page.locator("main").get_by_role("heading", name="Already rated").wait_for()
    page.get_by_text("This link has already been used", exact=False).wait_for()
    assert page.get_by_role("button", name="Send my rating").count() == 0
    screenshot(page, "feedback-used")
    assert len(fresh(Feedback)) == 1

    # A forged token and an expired link.
    page.goto("/f/not-a-real-token")
    page.locator("main").get_by_role("heading", name="Link not valid").wait_for()
    expired = link_for(client, factory, org["far_job"])
    for link in fresh(FeedbackLink, job_id=org["far_job"].id):
        link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    page.goto(expired)
    page.locator("main").get_by_role("heading", name="Link expired").wait_for()
    page.get_by_text("Links are valid for 14 days", exact=False).wait_for()
    screenshot(page, "feedback-expired")
    assert len(fresh(Feedback)) == 1


def test_a_chinese_browser_gets_the_page_in_chinese_and_may_switch(pages, small_org, factory, client):
    org = small_org
    client.login(org["engineer"])
    path = link_for(client, factory, org["far_job"])

    page = pages.open(path=path, locale="zh-CN")
    page.get_by_role("heading", name="服务评价").wait_for()  # the top bar
    group = page.get_by_role("group", name="您有多大可能向朋友或同事推荐我们的服务？")
    group.wait_for()
    page.get_by_text("0 = 完全不可能，10 = 非常可能").wait_for()
    page.get_by_role("button", name="提交评价").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    screenshot(page, "feedback-zh", full_page=True)

    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Send my rating").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("button", name="简体中文").click()
    page.get_by_role("button", name="提交评价").wait_for()

    group.get_by_role("radio", name="3", exact=True).check()
    page.get_by_label("还有什么想告诉我们的吗？（可选）").fill("态度差，又坏了")
    page.get_by_role("button", name="提交评价").click()
    page.locator("main").get_by_role("heading", name="谢谢！").wait_for()
    page.get_by_role("button", name="English").click()  # the page is drawn again: still thanks
    page.locator("main").get_by_role("heading", name="Thank you!").wait_for()
    (feedback,) = fresh(Feedback)
    assert (feedback.job_id, feedback.score, feedback.comment) == (org["far_job"].id, 3, "态度差，又坏了")
    # A low score with watch-list words warns the supervisor.
    assert sorted(a.kind for a in fresh(Alert)) == ["KEYWORD", "NEGATIVE_FEEDBACK"]
