"""Languages: a phone set to Chinese gets the app in Simplified Chinese from the sign-in
screen on, and the switch on the Me screen changes it (and is remembered)."""
from __future__ import annotations

from app.extensions import db
from app.models import User
from tests.e2e.conftest import screenshot, sign_in


def test_a_chinese_phone_gets_chinese_and_the_switch_changes_it(pages, small_org):
    org = small_org
    page = pages.open(locale="zh-CN")
    # Sign-in, before anyone is known: the browser's language.
    page.get_by_role("heading", name="登录", exact=True).first.wait_for()
    page.get_by_label("邮箱").wait_for()
    page.get_by_label("密码").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    screenshot(page, "locale-signin-zh")

    # The supervisor's home: the queue, in Chinese, with Chinese tabs.
    sign_in(page, org["supervisor"].email)
    page.get_by_role("heading", name="待审核上门").wait_for()
    page.get_by_text("没有等待审核的上门记录。").wait_for()
    tabs = page.get_by_role("navigation")
    for name in ("待审核", "团队", "预警", "面谈", "我的"):
        tabs.get_by_role("link", name=name).wait_for()
    screenshot(page, "locale-queue-zh")

    # Team board in Chinese too; then switch to English on the Me screen.
    tabs.get_by_role("link", name="团队").click()
    page.get_by_role("heading", name="团队排名").wait_for()
    page.get_by_label("月份").wait_for()
    tabs.get_by_role("link", name="我的").click()
    page.get_by_role("button", name="English").click()
    tabs.get_by_role("link", name="Queue").wait_for()
    page.get_by_role("heading", name="Language").wait_for()
    assert page.evaluate("document.documentElement.lang") == "en"
    tabs.get_by_role("link", name="Queue").click()
    page.get_by_text("No visit is waiting for a decision.").wait_for()
    # Kept on this phone and in the profile.
    page.reload()
    page.get_by_role("heading", name="Verification queue").wait_for()
    db.session.commit()
    assert db.session.get(User, org["supervisor"].id).locale == "en"

    # And back.
    page.get_by_role("navigation").get_by_role("link", name="Me").click()
    page.get_by_role("button", name="简体中文").click()
    page.get_by_role("navigation").get_by_role("link", name="待审核").wait_for()

    # An engineer's phone in Chinese: Today and its tabs.
    page = pages.open(org["engineer"], locale="zh-CN")
    page.get_by_role("heading", name="今日").wait_for()
    tabs = page.get_by_role("navigation")
    for name in ("今日", "绩效", "知识库", "我的"):
        tabs.get_by_role("link", name=name).wait_for()
    page.get_by_text("Air conditioner leaking").wait_for()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    screenshot(page, "locale-today-zh")
