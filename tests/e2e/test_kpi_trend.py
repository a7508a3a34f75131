"""The KPI trend (workday.md, "The engineer's day", KPIs): the engineer's own KPI screen and
the supervisor's page of an engineer draw the same six months, the total and each
dimension; each closed month's figures are those of its frozen card, the current month's
those of the live card; offline the engineer still sees the trend last loaded."""
from __future__ import annotations

import pytest

from app.extensions import db
from tests.api.test_kpi_history import as_user, month, work_in
from tests.e2e.conftest import screenshot

LAPTOP = {"width": 1366, "height": 768}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}
WORDS = {
    "en": {"kpis": "KPIs", "today": "Today", "title": "Last 6 months", "frozen": "frozen",
           "live": "so far", "stale": "Offline: showing what was last loaded.", "total": "Total score",
           "dims": ["Response", "Efficiency", "Satisfaction", "Knowledge", "Compliance"]},
    "zh-CN": {"kpis": "绩效", "today": "今日", "title": "近 6 个月", "frozen": "已冻结",
              "live": "截至目前", "stale": "离线：显示的是上次加载的内容。", "total": "总分",
              "dims": ["响应", "效率", "满意度", "知识贡献", "合规"]},
}
DIMENSIONS = ["response", "efficiency", "satisfaction", "knowledge", "compliance"]

# The trend's table as {period: {series: text}} and its columns' states.
READ_TABLE = """(table) => {
  const periods = [...table.tHead.rows[0].cells].slice(1).map((c) => c.dataset.period);
  const states = [...table.tHead.rows[0].cells].slice(1).map((c) => (c.querySelector('.trend-col-state') || {}).textContent || '');
  const cells = {};
  for (const row of table.tBodies[0].rows) {
    [...row.cells].slice(1).forEach((c, i) => { (cells[periods[i]] = cells[periods[i]] || {})[row.dataset.series] = c.textContent; });
  }
  return { periods, states, cells };
}"""


@pytest.fixture
def history(app, small_org, factory):
    """Li Qiang worked in each of the last six months, differently each month; an admin
    closed the five before this one (as the demo has them)."""
    org = small_org
    admin = factory.user("admin", email="admin@example.com", name="Admin")
    for back in range(6):
        work_in(factory, org["engineer"], org["depot"], month(app, back), hours=1 + back % 3, fixed=back % 2 == 0)
        if back % 3 == 0:
            work_in(factory, org["engineer"], org["mall"], month(app, back), hours=4, fixed=False)
        work_in(factory, org["engineer2"], org["depot"], month(app, back), hours=2)
    db.session.commit()
    client = as_user(app, admin)
    for back in range(5, 0, -1):
        response = client.post(f"kpi/periods/{month(app, back).key}/close")
        assert response.status_code == 200, response.get_data(as_text=True)
    return [month(app, back).key for back in range(5, -1, -1)]


def number(text: str):
    return None if text == "—" else float(text)


def cards_of(page, engineer, periods: list[str]) -> dict:
    """Each month's KPI card as the signed-in user reads it from the API (GET /kpi/engineers/{id}?period=)."""
    return page.evaluate("""async ([id, periods]) => Object.fromEntries(await Promise.all(periods.map(async (p) => {
      const r = await fetch(`/api/v1/kpi/engineers/${id}?period=${p}`, { headers: { Accept: 'application/json' } });
      if (!r.ok) throw new Error(`${p}: ${r.status}`);
      return [p, await r.json()];
    })))""", [engineer.id, periods])


def assert_trend_is_the_cards(page, cards: dict, periods: list[str], lang: str) -> None:
    """The table under the charts has the six months, oldest first, each column the figures
    of that month's card as the API gives it (frozen for a closed month, live now)."""
    w = WORDS[lang]
    table = page.locator("table.trend-table")
    got = table.evaluate(READ_TABLE)
    assert got["periods"] == periods
    assert got["states"] == [w["frozen"]] * 5 + [w["live"]]
    for period in periods:
        card = cards[period]
        assert card["frozen"] is (period != periods[-1]) and card["live"] is (period == periods[-1])
        cells = got["cells"][period]
        assert number(cells["total"]) == card["total_score"], (period, cells, card["total_score"])
        for d in DIMENSIONS:
            assert number(cells[d]) == card["dimensions"][d], (period, d, cells, card["dimensions"])
        assert card["total_score"] is not None
    # The charts: a dot per month (five frozen, one open), a small chart per dimension.
    assert page.locator(".trend-chart circle.trend-dot-frozen").count() == 5
    assert page.locator(".trend-chart circle.trend-dot-live").count() == 1
    names = page.locator(".trend-dim-name").all_inner_texts()
    assert names == w["dims"]
    rows = table.locator("tbody th").all_inner_texts()
    assert rows == [w["total"], *w["dims"]]


def open_kpis(page, lang: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name=WORDS[lang]["kpis"]).click()
    page.get_by_role("heading", name=WORDS[lang]["title"]).wait_for()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_engineer_sees_six_months_each_as_its_card_and_offline_too(pages, small_org, history, lang):
    w = WORDS[lang]
    li = small_org["engineer"]
    page = pages.open(li, locale=LOCALES[lang])
    open_kpis(page, lang)
    cards = cards_of(page, li, history)
    assert_trend_is_the_cards(page, cards, history, lang)
    # The chart's label reads the totals; the streak dots come from the same months.
    label = page.locator(".trend-chart").get_attribute("aria-label")
    assert label.count("；" if lang == "zh-CN" else "; ") == 5 and w["live"] in label
    assert page.locator(".dot-label").count() == 6
    screenshot(page, f"kpi-trend-engineer-{lang}", full_page=True)
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    # Offline: to another tab and back, then the whole app reloaded from the phone.
    page.context.set_offline(True)
    page.get_by_role("navigation").get_by_role("link", name=w["today"]).click()
    page.get_by_role("navigation").get_by_role("link", name=w["today"]).wait_for()
    open_kpis(page, lang)
    page.get_by_text(w["stale"]).wait_for()
    assert_trend_is_the_cards(page, cards, history, lang)
    page.reload()
    open_kpis(page, lang)
    page.get_by_text(w["stale"]).wait_for()
    assert page.locator("table.trend-table").evaluate(READ_TABLE)["periods"] == history
    screenshot(page, f"kpi-trend-engineer-offline-{lang}", full_page=True)
    page.context.set_offline(False)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_supervisor_sees_the_same_trend_on_the_engineers_page(pages, small_org, history, lang):
    li = small_org["engineer"]
    page = pages.open(small_org["supervisor"], locale=LOCALES[lang], path=f"/#/engineer/{li.id}")
    page.get_by_role("heading", name=WORDS[lang]["title"]).wait_for()
    assert_trend_is_the_cards(page, cards_of(page, li, history), history, lang)
    screenshot(page, f"kpi-trend-supervisor-phone-{lang}", full_page=True)
    page.set_viewport_size(LAPTOP)
    screenshot(page, f"kpi-trend-supervisor-laptop-{lang}", full_page=True)


RENDER = """async (items) => {
  const { setLocale } = await import('/pwa/js/i18n.js');
  const { trendCard } = await import('/pwa/js/trend.js');
  setLocale('en', { save: false });
  const card = trendCard(items, { id: 't', order: ['response', 'efficiency', 'satisfaction', 'knowledge', 'compliance'] });
  if (!card) return null;
  document.body.replaceChildren(card);
  const table = card.querySelector('table');
  return {
    frozen: card.querySelectorAll('.trend-chart circle.trend-dot-frozen').length,
    live: card.querySelectorAll('.trend-chart circle.trend-dot-live').length,
    lines: card.querySelectorAll('.trend-chart line.trend-line').length,
    open: card.querySelectorAll('.trend-chart line.trend-line-open').length,
    dims: [...card.querySelectorAll('.trend-dim-name')].map((e) => e.textContent),
    now: [...card.querySelectorAll('.trend-dim-now')].map((e) => e.textContent),
    series: [...table.tBodies[0].rows].map((r) => [r.dataset.series, ...[...r.cells].slice(1).map((c) => c.textContent)]),
    text: card.innerText,
    label: card.querySelector('.trend-chart').getAttribute('aria-label'),
  };
}"""


def test_months_without_a_total_or_a_dimension_are_gaps_and_no_history_draws_nothing(browser, static_server):
    """A month without a total has no dot and a dash in the table; a dimension a month lacks
    is a dash; a scheme's extra dimension follows the five; no months at all: no card."""
    context = browser.new_context(base_url=static_server)
    try:
        page = context.new_page()
        page.goto("/pwa/app.css")  # the app's origin, without the app running
        page.set_content("<!doctype html><html lang=en><body></body></html>")
        assert page.evaluate(RENDER, []) is None
        month = lambda p, total, dims, frozen=True, live=False: {  # noqa: E731
            "period": p, "total_score": total, "pass_score": 80, "meets_target": bool(total and total >= 80),
            "dimensions": dims, "frozen": frozen, "live": live, "scheme": "mid-field"}
        items = [month("2026-07", None, {}), month("2026-08", 81.5, {"response": 90, "efficiency": None}),
                 month("2026-09", None, {"response": None}), month("2026-10", 70.25, {"response": 60, "mentoring": 50}),
                 month("2026-11", 90, {"response": 100}, frozen=False),
                 month("2026-12", 85.126, {"response": 99.99, "efficiency": 12}, frozen=False, live=True)]
        got = page.evaluate(RENDER, items)
        assert (got["frozen"], got["live"]) == (2, 2)  # Aug and Oct frozen; Nov (open, not live) and Dec
        assert (got["lines"], got["open"]) == (3, 2)  # Aug-Oct, Oct-Nov (dashed), Nov-Dec (dashed)
        assert got["dims"] == ["Response", "Efficiency", "mentoring"]
        assert got["now"][0].endswith("99.99") and got["now"][2] == "no data"
        assert got["series"] == [
            ["total", "—", "81.5", "—", "70.25", "90", "85.13"],
            ["response", "—", "90", "—", "60", "100", "99.99"],
            ["efficiency", "—", "—", "—", "—", "—", "12"],
            ["mentoring", "—", "—", "—", "50", "—", "—"],
        ]
        assert "Last 6 months" in got["text"] and "No total yet" not in got["text"]
        assert got["label"].startswith("Total score by month against the pass mark: July 2026 — (pass mark 80, frozen); ")
        assert got["label"].endswith("December 2026 85.13 (pass mark 80, so far).")

        empty = page.evaluate(RENDER, [month("2026-12", None, {}, frozen=False, live=True)])
        assert "Last month" in empty["text"] and "No total yet in these months." in empty["text"]
        assert (empty["frozen"], empty["live"], empty["dims"]) == (0, 0, [])
    finally:
        context.close()
