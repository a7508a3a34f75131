"""The engineer's whole day on the phone (workday.md, "The engineer's day"): warned before a
check-in that will be flagged, the close right after the check-out and one action per
double tap, a rejected visit found in My visits and disputed offline then online exactly
once, the customer's signature drawn and the close accepted, one notice at a time never
over the next action, maps links by phone, the KPI card in words, one empty-search message."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import AuditEntry, Category, IdempotencyRecord, Job, KnowledgeItem, Photo, Visit
from app.models.types import utcnow
from tests.e2e.conftest import FAR, FIXTURES, NEAR, screenshot
from tests.e2e.test_engineer import rows

MALL = {"latitude": 31.2254, "longitude": 121.4471, "accuracy": 10}
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
ANDROID = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Mobile Safari/537.36")
WORDS = {
    "en": {"check_in": "Check in", "check_out": "Check out", "warn": "This check-in will be flagged",
           "far": r"You are \d+(\.\d)? km from the site", "reason": "Reason (optional)", "kpis": "KPIs",
           "scheme": "Mid-level field engineer", "bonus": "bonus group now", "visits": "My visits",
           "dispute": "Dispute", "note": "Why the visit should be accepted", "send": "Send the dispute",
           "waiting_final": "Waiting for the final decision.", "final": "Final decision: approved.",
           "rejected_link": "1 visit rejected: open it to dispute", "sup_note": "Supervisor’s note: Not at the site",
           "tab_today": "Today", "all": "All"},
    "zh-CN": {"check_in": "签到", "check_out": "签退", "warn": "此次签到将被标记待审核",
              "far": r"您距离现场 \d+(\.\d)? 公里", "reason": "原因（选填）", "kpis": "绩效",
              "scheme": "中级现场工程师", "bonus": "奖金组", "visits": "我的上门记录",
              "dispute": "申诉", "note": "此次上门应被认可的理由", "send": "提交申诉",
              "waiting_final": "等待最终决定。", "final": "最终决定：批准。",
              "rejected_link": "1 次上门被驳回：打开可申诉", "sup_note": "主管意见：Not at the site",
              "tab_today": "今日", "all": "全部"},
}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}


def posts(page, fragment: str) -> list:
    """Every POST the page makes to a URL containing `fragment` (from now on)."""
    seen: list = []
    page.on("request", lambda r: seen.append(r) if r.method == "POST" and fragment in r.url else None)
    return seen


def open_job(page, title: str) -> None:
    page.get_by_role("link", name=re.compile(re.escape(title))).first.click()
    page.get_by_role("heading", name=title).wait_for()


def tap_twice(page, locator, gap_ms: int = 150) -> None:
    """A double tap as a thumb makes it: twice at the same place, the second a moment later
    (when the first's answer may already have redrawn the screen)."""
    box = locator.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    page.wait_for_timeout(gap_ms)
    page.mouse.click(x, y)


def box_of(page, locator) -> dict:
    """The element's box, once it is shown (a redraw may replace it for a moment)."""
    for _ in range(50):
        box = locator.bounding_box()
        if box is not None:
            return box
        page.wait_for_timeout(100)
    raise AssertionError(f"{locator} is not shown")


def overlaps(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


# --- before a check-in that will be flagged ---------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_far_check_in_is_warned_before_the_tap_and_still_one_tap(pages, small_org, lang):
    org, w = small_org, WORDS[lang]
    page = pages.open(org["engineer"], locale=LOCALES[lang], position=FAR)
    checkins = posts(page, "/visits/check-in")
    open_job(page, "Air conditioner leaking")
    warning = page.get_by_test_id("check-warning")
    warning.get_by_text(w["warn"]).wait_for()
    assert re.search(w["far"], warning.inner_text()), warning.inner_text()
    assert checkins == [] and rows(Visit, job_id=org["near_job"].id) == []  # said before anything is sent
    reason = warning.get_by_label(w["reason"])
    reason.fill("The entrance is on the far side of the block.")
    # The fix moves while the reason is typed: the sentence follows, the reason keeps its text and focus.
    page.context.set_geolocation({**FAR, "latitude": 31.2700})
    page.wait_for_function("document.querySelector('[data-testid=check-warning]').innerText.includes('4.4')")
    assert reason.input_value() == "The entrance is on the far side of the block."
    assert page.evaluate("document.activeElement.name") == "check_in_note"
    screenshot(page, f"engineer-job-warning-{lang}")
    page.get_by_role("button", name=w["check_in"], exact=True).scroll_into_view_if_needed()
    assert box_of(page, warning)["y"] < 844  # the warning is on the first screen, the button right under it
    page.get_by_role("button", name=w["check_in"], exact=True).click()
    page.get_by_role("button", name=w["check_out"], exact=True).wait_for()
    visits = rows(Visit, job_id=org["near_job"].id)
    assert len(visits) == 1 and "OUTSIDE_GEOFENCE" in visits[0].flags and len(checkins) == 1
    # The reason goes with the check-in and is kept on the visit for the supervisor.
    assert checkins[0].post_data_json["note"] == "The entrance is on the far side of the block."
    assert visits[0].check_in_note == "The entrance is on the far side of the block."
    assert page.get_by_test_id("check-warning").is_hidden()  # checked in: nothing more to warn of


def test_near_the_site_there_is_no_warning_and_an_open_visit_elsewhere_is_said(pages, small_org):
    org = small_org
    page = pages.open(org["engineer"], position=NEAR)
    open_job(page, "Air conditioner leaking")
    page.get_by_text("Inside the site area").wait_for()
    assert page.get_by_test_id("check-warning").is_hidden()
    page.get_by_role("button", name="Check in", exact=True).click()
    page.get_by_text("No issues: the visit is verified.").wait_for()
    # At the mall with the first visit still open: said before the tap.
    page.context.set_geolocation(MALL)
    page.get_by_role("link", name="Today").click()
    open_job(page, "Lights flicker in the atrium")
    page.get_by_text("Inside the site area").wait_for()
    warning = page.get_by_test_id("check-warning")
    warning.get_by_text("Your visit at “Air conditioner leaking” is still open").wait_for()
    assert "from the site" not in warning.inner_text()


# --- after the check-out: the close; a double tap sends one action ------------------------

def test_after_check_out_the_close_is_next_and_a_double_tap_sends_one_action(pages, small_org):
    org = small_org
    near = org["near_job"]
    page = pages.open(org["engineer"], position=NEAR)
    checkins, checkouts = posts(page, "/visits/check-in"), posts(page, "/check-out")
    open_job(page, "Air conditioner leaking")
    page.get_by_text("Inside the site area").wait_for()

    # A double tap on "Check in": one visit; the second tap does not check out at once.
    tap_twice(page, page.get_by_role("button", name="Check in", exact=True))
    page.get_by_text("No issues: the visit is verified.").wait_for()
    page.wait_for_timeout(800)
    assert len(checkins) == 1 and checkouts == []
    visits = rows(Visit, job_id=near.id)
    assert len(visits) == 1 and visits[0].out_client_time is None

    # A double tap on "Check out": one check-out.
    page.wait_for_timeout(1300)  # the button drawn after an action takes taps after a moment
    tap_twice(page, page.get_by_role("button", name="Check out", exact=True))
    page.get_by_text("Next: add the “after” photos and close the job below.").wait_for()
    page.wait_for_timeout(800)
    assert len(checkouts) == 1 and len(checkins) == 1
    visits = rows(Visit, job_id=near.id)
    assert len(visits) == 1 and visits[0].out_client_time is not None
    assert len(rows(IdempotencyRecord, user_id=org["engineer"].id)) == 2

    # The close comes first: photos and the close form on top, no big "Check in".
    assert page.get_by_role("button", name="Check in", exact=True).count() == 0
    photos = box_of(page, page.get_by_role("heading", name="Photos", exact=True))
    close = box_of(page, page.get_by_role("heading", name="Close the job"))
    again = box_of(page, page.get_by_role("button", name="Check in again (a new visit)"))
    submit = box_of(page, page.get_by_role("button", name="Close job"))
    assert photos["y"] < close["y"] < 844, (photos, close)  # the close begins on the first screen
    assert submit["y"] < 2 * 844  # and its button is within two screens
    assert again["y"] > submit["y"]  # a new visit is offered below the close, not under the thumb
    screenshot(page, "engineer-job-after-checkout-en")
    screenshot(page, "engineer-job-after-checkout-en-full", full_page=True)


# --- My visits and the dispute --------------------------------------------------------------

@pytest.fixture
def rejected_visit(small_org, factory):
    org = small_org
    decided = utcnow() - timedelta(hours=1)
    visit = factory.visit(
        org["near_job"], status="rejected", flags=["OUTSIDE_GEOFENCE"], in_flags=["OUTSIDE_GEOFENCE"],
        in_distance_m=2300.0, decision_note="Not at the site", decided_at=decided,
        decided_by_id=org["supervisor"].id, rejected_at=decided)
    db.session.commit()
    return visit


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_rejected_visit_is_found_in_my_visits_and_disputed_offline_then_online_once(
        pages, small_org, rejected_visit, lang):
    org, w = small_org, WORDS[lang]
    page = pages.open(org["engineer"], locale=LOCALES[lang])
    disputes = posts(page, "/dispute")
    # From Today: the rejected visit is announced, and opens My visits.
    page.get_by_role("link", name=w["rejected_link"]).wait_for()
    page.get_by_role("link", name=w["visits"], exact=True).wait_for()
    screenshot(page, f"engineer-today-rejected-{lang}", full_page=True)
    page.get_by_role("link", name=w["rejected_link"]).click()
    card = page.locator(f'li[data-visit="{rejected_visit.id}"]')
    card.get_by_text(w["sup_note"]).wait_for()
    # Decided: no sentence says the supervisor "will review" it.
    assert "will review" not in card.inner_text() and "将审核" not in card.inner_text()
    screenshot(page, f"engineer-my-visits-rejected-{lang}")

    page.context.set_offline(True)
    card.get_by_role("button", name=w["dispute"], exact=True).click()
    card.get_by_label(w["note"]).fill("I was at the site; the phone had no GPS fix indoors.")
    screenshot(page, f"engineer-dispute-form-{lang}")
    card.get_by_role("button", name=w["send"]).click()
    page.get_by_test_id("waiting-banner").wait_for()
    assert rows(Visit, id=rejected_visit.id)[0].status == "rejected"  # nothing reached the server
    screenshot(page, f"engineer-dispute-offline-{lang}")

    page.context.set_offline(False)
    page.get_by_test_id("waiting-banner").wait_for(state="detached", timeout=15_000)
    page.reload()
    card = page.locator(f'li[data-visit="{rejected_visit.id}"]')
    card.get_by_text(w["waiting_final"]).wait_for()
    visit = rows(Visit, id=rejected_visit.id)[0]
    assert visit.status == "disputed" and visit.dispute_note.startswith("I was at the site")
    assert len(rows(AuditEntry, action="visit.dispute", target_id=visit.id)) == 1
    assert len(rows(IdempotencyRecord, user_id=org["engineer"].id)) == 1
    assert card.get_by_role("button", name=w["dispute"], exact=True).count() == 0  # once
    screenshot(page, f"engineer-my-visits-disputed-{lang}")

    # The supervisor's final decision shows as the outcome.
    visit.status, visit.decision_final, visit.decided_at = "approved", True, utcnow()
    db.session.commit()
    page.reload()
    page.get_by_role("link", name=w["all"], exact=True).click()
    page.locator(f'li[data-visit="{rejected_visit.id}"]').get_by_text(w["final"]).wait_for()
    screenshot(page, f"engineer-my-visits-final-{lang}")
    # Sent once from the page (a replay would have reused its Idempotency-Key).
    assert len({r.headers.get("idempotency-key") for r in disputes}) == 1


def test_my_visits_is_reachable_from_a_job_and_filters_by_status(pages, small_org, rejected_visit):
    org = small_org
    page = pages.open(org["engineer"])
    open_job(page, "Air conditioner leaking")
    page.get_by_role("link", name="Rejected: open My visits to dispute").wait_for()
    page.get_by_role("link", name="My visits", exact=True).click()
    page.get_by_role("heading", name="My visits").wait_for()
    page.locator(f'li[data-visit="{rejected_visit.id}"]').wait_for()
    page.get_by_role("link", name="Approved", exact=True).click()
    page.get_by_text("No visits with this status.").wait_for()


# --- the customer's signature ----------------------------------------------------------------

def test_a_signature_drawn_with_the_pointer_is_uploaded_and_the_close_accepted(pages, small_org):
    org = small_org
    db.session.add(Category(key="electrical", name="Electrical", checklist=["ppe_worn", "power_isolated"],
                            signature_required=True))
    db.session.commit()
    job = org["far_job"]  # electrical, at the mall
    page = pages.open(org["engineer"], position=MALL)
    open_job(page, "Lights flicker in the atrium")
    page.get_by_text("Inside the site area").wait_for()
    page.get_by_role("button", name="Check in", exact=True).click()
    page.get_by_text("No issues: the visit is verified.").wait_for()
    page.get_by_label("After").check()
    page.get_by_label("Choose a photo").set_input_files(str(FIXTURES / "after.jpg"))
    page.get_by_role("img", name="After photo 1").wait_for()
    page.wait_for_timeout(1300)
    page.get_by_role("button", name="Check out", exact=True).click()
    page.get_by_text("Next: add the “after” photos and close the job below.").wait_for()

    # The close asks for the signature, by name, before anything is sent.
    page.get_by_label("What was done").fill("Replaced the failing driver of the atrium lights.")
    page.get_by_role("radio", name="Yes").check()
    page.get_by_label("Protective equipment worn").check()
    page.get_by_label("Power isolated").check()
    page.get_by_role("button", name="Close job").click()
    page.get_by_text("Add the customer’s signature first.").wait_for()
    assert rows(Job, id=job.id)[0].status == "in_progress"

    # An empty pad is not saved; a signature drawn with the pointer is.
    pad = page.get_by_role("img", name="Signature box: draw the signature here")
    pad.scroll_into_view_if_needed()
    page.get_by_role("button", name="Save signature").click()
    page.get_by_text("The box is empty: ask the customer to sign first.").wait_for()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + box["height"] * 0.6)
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(box["x"] + 30 + i * 12, box["y"] + box["height"] * (0.6 - 0.25 * ((i % 6) / 6)), steps=2)
    page.mouse.up()
    screenshot(page, "engineer-signature-pad-en")
    page.get_by_role("button", name="Save signature").click()
    page.get_by_text("Signature saved.").wait_for()
    page.get_by_role("img", name="The customer’s signature").wait_for()
    signatures = [p for p in rows(Photo, job_id=job.id) if p.kind == "signature"]
    assert len(signatures) == 1 and signatures[0].content_type == "image/png"

    page.get_by_role("button", name="Close job").click()
    page.get_by_text(re.compile(r"^Closed ")).wait_for()
    closed = rows(Job, id=job.id)[0]
    assert closed.status == "closed" and closed.fixed is True
    screenshot(page, "engineer-job-signed-closed-en")


# --- notices ---------------------------------------------------------------------------------

def test_one_notice_at_a_time_never_over_the_photo_buttons_or_the_flags(pages, small_org):
    org = small_org
    page = pages.open(org["engineer"], position=FAR)
    open_job(page, "Air conditioner leaking")
    page.get_by_role("button", name="Check in", exact=True).click()
    flags = page.get_by_role("alert").filter(has_text="from the site")
    flags.wait_for()
    # Count the notices shown at once, from now on.
    page.evaluate("""() => {
      window.__most = 0;
      const box = document.getElementById('toasts');
      new MutationObserver(() => { window.__most = Math.max(window.__most, box.querySelectorAll('.toast').length); })
        .observe(box, { childList: true, subtree: true });
    }""")
    # Two quick actions: the contact recorded and a photo uploaded.
    page.get_by_role("button", name="I contacted the customer").click()
    page.get_by_label("Before").check()
    page.get_by_label("Choose a photo").set_input_files(str(FIXTURES / "before.jpg"))
    toast = page.locator("#toasts .toast")
    toast.first.wait_for()
    seen = set()
    for _ in range(40):
        if toast.count():
            seen.add(toast.first.inner_text())
            notice = toast.first.bounding_box()
            for target in [*page.locator("label.file-btn").all(), flags]:
                other = target.bounding_box()
                assert notice is None or other is None or not overlaps(notice, other), (notice, other)
        if {"Contact recorded.", "Photo uploaded."} <= seen:
            break
        page.wait_for_timeout(150)
    assert {"Contact recorded.", "Photo uploaded."} <= seen, seen
    assert page.evaluate("window.__most") == 1


# --- getting there -----------------------------------------------------------------------------

@pytest.mark.parametrize("agent, scheme", [(IPHONE, "maps"), (ANDROID, "geo")])
def test_the_maps_link_fits_the_phone_and_the_address_can_be_copied(pages, small_org, agent, scheme):
    org = small_org
    page = pages.open(org["engineer"], user_agent=agent, permissions=("clipboard-read", "clipboard-write"))
    open_job(page, "Air conditioner leaking")
    links = page.get_by_role("link", name="Open in maps")
    assert links.count() == 1
    href = links.get_attribute("href")
    if scheme == "maps":
        assert href == "maps:?q=Lujiazui%20Tower&ll=31.2304,121.4737", href
    else:
        assert href.startswith("geo:31.2304,121.4737?q=31.2304,121.4737(Lujiazui%20Tower)"), href
    page.get_by_text("1000 Lujiazui Ring Rd").wait_for()
    page.get_by_role("button", name="Copy address").click()
    page.get_by_text("Address copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "1000 Lujiazui Ring Rd"


def test_the_site_contact_is_called_on_the_digits_of_their_number(pages, small_org):
    org = small_org
    org["site"].contact_name, org["site"].contact_phone = "Chen Jing", "+86 (21) 6123-4567"
    db.session.commit()
    page = pages.open(org["engineer"])
    open_job(page, "Air conditioner leaking")
    call = page.get_by_role("link", name="Call Chen Jing")
    call.wait_for()
    assert call.get_attribute("href") == "tel:+862161234567"  # as the supervisor's page dials


# --- KPIs and knowledge -------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_kpi_card_names_the_scheme_and_labels_the_streak_by_month(pages, small_org, lang):
    w = WORDS[lang]
    page = pages.open(small_org["engineer"], locale=LOCALES[lang])
    page.get_by_role("navigation").get_by_role("link", name=w["kpis"]).click()
    page.get_by_text(w["scheme"]).wait_for()
    main = page.locator("main").inner_text()
    assert "mid-field" not in main
    assert w["bonus"] in main
    labels = page.locator(".dot-label").all_inner_texts()
    assert len(labels) == 6 and all(re.search(r"[✓✗]$", x) for x in labels[:-1]), labels
    assert re.search(r"[✓…]$", labels[-1]), labels  # the current month: on target, or still open
    month = page.evaluate("new Date().toLocaleDateString(document.documentElement.lang, {month: 'short'})")
    assert labels[-1].startswith(month), (labels, month)
    screenshot(page, f"engineer-kpis-{lang}", full_page=True)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_knowledge_finds_跳闸_and_says_an_empty_result_once(pages, small_org, lang):
    from app.services.knowledge import index_items

    org = small_org
    item = KnowledgeItem(author_id=org["engineer2"].id, kind="case", title="Breaker trips under load / 断路器跳闸",
                         symptom="午间用电高峰主断路器跳闸", solution="紧固零线端子", tags=["electrical"],
                         status="approved", reviewed_by_id=org["supervisor"].id, reviewed_at=utcnow())
    db.session.add(item)
    db.session.flush()
    index_items([item])
    db.session.commit()
    page = pages.open(org["engineer"], locale=LOCALES[lang])
    page.goto("/#/knowledge")
    search = page.get_by_role("searchbox")
    search.fill("跳闸")
    search.press("Enter")
    page.get_by_text("Breaker trips under load / 断路器跳闸").wait_for()
    search.fill("xyzzy")
    search.press("Enter")
    page.get_by_text(re.compile("xyzzy")).wait_for()
    text = page.locator("main").inner_text()
    assert "0 cases" not in text and "找到 0" not in text
    assert text.count("xyzzy") == 1, text
    screenshot(page, f"engineer-knowledge-empty-{lang}")


def test_the_close_after_check_out_and_the_signature_pad_in_chinese(pages, small_org):
    org = small_org
    db.session.add(Category(key="electrical", name="Electrical", checklist=["ppe_worn"], signature_required=True))
    db.session.commit()
    page = pages.open(org["engineer"], locale="zh-CN", position=MALL)
    open_job(page, "Lights flicker in the atrium")
    page.get_by_text("在现场范围内").wait_for()
    page.get_by_role("button", name="签到", exact=True).click()
    page.get_by_text("无异常：此次上门已核实。").wait_for()
    page.wait_for_timeout(1300)
    page.get_by_role("button", name="签退", exact=True).click()
    page.get_by_text("下一步：在下方添加“维修后”照片并关闭工单。").wait_for()
    assert page.get_by_role("radio", name="维修后").is_checked()  # the next photo is an "after" one
    page.get_by_role("heading", name="客户签名").wait_for()
    page.get_by_role("button", name="保存签名").wait_for()
    assert page.get_by_role("button", name="签到", exact=True).count() == 0
    screenshot(page, "engineer-job-after-checkout-zh-CN")
    screenshot(page, "engineer-signature-pad-zh-CN", full_page=True)


@pytest.mark.parametrize("lang, signature, several", [
    ("en", "The job cannot be closed yet: the customer’s signature.",
     "The job cannot be closed yet: an “after” photo, the checklist item “Power isolated”."),
    ("zh-CN", "暂不能关闭：缺少客户签名。", "暂不能关闭：缺少“维修后”照片、检查项“已断电隔离”。"),
])
def test_a_refused_close_says_exactly_what_is_missing(pages, small_org, lang, signature, several):
    page = pages.open(small_org["engineer"], locale=LOCALES[lang])
    open_job(page, "Air conditioner leaking")  # where a close is refused: its checklist words are known
    words = page.evaluate("""async () => {
      const { problemText } = await import('/pwa/js/i18n.js');
      const code = 'CLOSE_REQUIREMENTS_UNMET';
      return [problemText({ code, errors: { signature: ['…'] } }),  // the API as it is: errors by key
              problemText({ code, missing: ['AFTER_PHOTO', 'CHECKLIST:power_isolated'] })];  // with `missing` codes
    }""")
    assert words == [signature, several]
