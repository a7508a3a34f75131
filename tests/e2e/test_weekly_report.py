"""The weekly report in the browser: last week's figures with a chart per KPI, in English
on a laptop and in Chinese on a phone, and its PDF link."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.extensions import db
from tests.e2e.conftest import screenshot

LAPTOP = {"width": 1280, "height": 860}


def last_week():
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday() + 7)
    year, week, _ = monday.isocalendar()
    return monday, f"{year}-W{week:02d}"


def test_the_weekly_report_shows_last_week_in_both_languages(pages, small_org, factory):
    org = small_org
    monday, week = last_week()
    start = datetime.combine(monday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    job = factory.job(engineer=org["engineer"], reported_at=start, assigned_at=start,
                      first_contact_at=start + timedelta(minutes=12),
                      closed_at=start + timedelta(hours=5), status="closed", fixed=True)
    factory.visit(job, at=start + timedelta(hours=1))
    db.session.commit()

    page = pages.open(org["supervisor"], viewport=LAPTOP)
    page.goto("/#/team")
    page.get_by_role("link", name="Weekly report").click()  # reached from the team board
    page.get_by_role("heading", name="KPIs against last week and the month's target").wait_for()
    page.goto(f"/#/report/{week}")
    page.get_by_role("heading", name="KPIs against last week and the month's target").wait_for()
    assert page.get_by_label("Week", exact=True).input_value() == week
    page.get_by_text("Team of Wang Lei").wait_for()
    kpis = page.locator(".report-kpi")
    assert kpis.count() == 6
    first_time_fix = kpis.filter(has_text="First-time fix (%)")
    assert "100" in first_time_fix.inner_text() and "1 record" in first_time_fix.inner_text()
    assert page.locator("svg.report-chart").count() == 6
    assert page.get_by_role("link", name="Download PDF").get_attribute("href") == (
        f"/api/v1/reports/weekly.pdf?week={week}&lang=en")
    screenshot(page, "weekly-report-en", full_page=True)

    phone = pages.open(org["supervisor"], locale="zh-CN")
    phone.goto(f"/#/report/{week}")
    phone.get_by_role("heading", name="关键指标：对比上周与本月目标").wait_for()
    assert "首次修复率 (%)" in phone.locator(".report-grid").last.inner_text()
    screenshot(phone, "weekly-report-zh", full_page=True)
