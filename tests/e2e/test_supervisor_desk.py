"""The supervisor at a desk and on the road: the queue as a list beside the open visit on
a laptop (keyboard up and down, Enter to the decision), unchanged on a phone; an
engineer's phone as a tap-to-call link; a phone number set on Me, offline too."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from app.extensions import db
from app.models import AuditEntry, User
from app.models.types import utcnow
from app.ops.seed import demo_phone
from tests.e2e.conftest import PHONE, screenshot
from tests.e2e.test_supervisor import fresh

LAPTOP = {"width": 1366, "height": 768}
LOCALES = {"en": "en-US", "zh-CN": "zh-CN"}
WORDS = {
    "en": {"open": "Open the visit of {engineer} to {site}", "note": "Note (required to reject)",
           "call": "Call {name} on {phone}", "phone": "Phone", "save": "Save the phone number",
           "bad_phone": "Give the number in E.164 (+862161234567) or as local digits (021-6123 4567).",
           "saved": "Phone number saved.", "waiting": "Waiting to send", "too_long": "At most 32 characters."},
    "zh-CN": {"open": "打开 {engineer} 在 {site} 的上门", "note": "备注（驳回时必填）",
              "call": "拨打 {name} 的电话 {phone}", "phone": "电话", "save": "保存电话号码",
              "bad_phone": "请按 E.164 格式（+862161234567）或本地号码（021-6123 4567）填写。",
              "saved": "电话号码已保存。", "waiting": "等待发送", "too_long": "最多 32 个字符。"},
}
# The three visits in the queue, oldest first: (job title, engineer, site).
QUEUE = [("Lights flicker in the atrium", "Li Qiang", "Jing'an Mall"),
         ("Network switch down", "Zhang Wei", "Lujiazui Tower"),
         ("Air conditioner leaking", "Li Qiang", "Lujiazui Tower")]


def three_flagged(org, factory) -> list:
    now = utcnow()
    visits = [
        factory.visit(org["far_job"], at=now - timedelta(hours=5), minutes=3, status="flagged",
                      flags=["SHORT_VISIT"], out_flags=["SHORT_VISIT"]),
        factory.visit(org["other_job"], engineer=org["engineer2"], at=now - timedelta(hours=3), minutes=30,
                      status="flagged", flags=["LOW_ACCURACY"], in_flags=["LOW_ACCURACY"], in_accuracy_m=120.0),
        factory.visit(org["near_job"], at=now - timedelta(hours=1), minutes=40, status="flagged",
                      flags=["LOW_ACCURACY"], in_flags=["LOW_ACCURACY"], in_accuracy_m=150.0),
    ]
    db.session.commit()
    return visits


def focused(page) -> dict:
    """What has the keyboard focus: its tag, name, class and the line or pane it is in."""
    return page.evaluate("""() => {
      const el = document.activeElement;
      const line = el.closest('li.vq-line');
      return { tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), cls: el.className,
               line: line ? [...line.parentNode.children].indexOf(line) : null,
               inDetail: !!el.closest('.vq-detail') };
    }""")


def shown_title(page) -> str:
    return page.locator(".vq-detail article.vq-card h2").inner_text()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_on_a_laptop_the_list_sits_beside_the_open_visit_and_the_keyboard_moves_it(
        pages, small_org, factory, lang):
    org, w = small_org, WORDS[lang]
    three_flagged(org, factory)
    page = pages.open(org["supervisor"], viewport=LAPTOP, locale=LOCALES[lang])
    lines = page.locator("li.vq-line")
    lines.first.wait_for()
    assert lines.count() == 3
    card = page.locator(".vq-detail article.vq-card")
    card.wait_for()
    # The oldest visit is open on the right of the list, both in view, side by side.
    assert shown_title(page) == QUEUE[0][0]
    listed, shown = page.locator("ul.vq-lines").bounding_box(), card.bounding_box()
    assert listed["x"] + listed["width"] <= shown["x"], (listed, shown)
    assert shown["y"] < listed["y"] + listed["height"] and listed["y"] < shown["y"] + shown["height"]
    assert shown["width"] > listed["width"]  # the card has the room
    assert shown["y"] < LAPTOP["height"] and listed["y"] < LAPTOP["height"]
    # No card under any line: the one card is on the right.
    assert lines.locator("article.vq-card:visible").count() == 0
    assert lines.first.locator("button.vq-line-open").get_attribute("aria-current") == "true"
    # The card's head and its decision are both in view, without scrolling.
    approve = page.locator(".vq-detail .vq-decide .btn-ok")
    button_box = approve.bounding_box()
    assert button_box["y"] + button_box["height"] <= LAPTOP["height"], button_box
    screenshot(page, f"supervisor-queue-desk-laptop-{lang}")

    # Down and up move the selection and the card with it.
    lines.first.locator("button.vq-line-open").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_function("t => document.querySelector('.vq-detail article.vq-card h2').textContent === t", arg=QUEUE[1][0])
    assert focused(page)["line"] == 1
    assert lines.nth(1).locator("button.vq-line-open").get_attribute("aria-current") == "true"
    assert lines.first.locator("button.vq-line-open").get_attribute("aria-current") is None
    page.keyboard.press("ArrowDown")
    page.wait_for_function("t => document.querySelector('.vq-detail article.vq-card h2').textContent === t", arg=QUEUE[2][0])
    page.keyboard.press("ArrowDown")  # the last line stays the last
    assert focused(page)["line"] == 2 and shown_title(page) == QUEUE[2][0]
    page.keyboard.press("ArrowUp")
    page.wait_for_function("t => document.querySelector('.vq-detail article.vq-card h2').textContent === t", arg=QUEUE[1][0])
    assert focused(page)["line"] == 1
    # The page did not scroll with the arrows (they are the list's, not the page's).
    assert page.evaluate("window.scrollY") == 0
    # Enter takes the keyboard to the card's decision: the note, then the buttons.
    page.keyboard.press("Enter")
    now = focused(page)
    assert now["inDetail"] and now["name"] == "note", now
    assert page.locator(".vq-detail").get_by_label(w["note"]).evaluate("el => el === document.activeElement")
    page.keyboard.type("Signal lost in the basement")
    page.keyboard.press("Tab")
    assert re.match("^(通过|Approve)", page.evaluate("document.activeElement.textContent"))
    # The keyboard at the decision did not scroll the card's head away.
    head, pane = page.locator(".vq-detail article.vq-card h2").bounding_box(), page.locator(".vq-detail").bounding_box()
    assert head["y"] >= pane["y"] and head["y"] >= 52, (head, pane)  # under the top bar
    screenshot(page, f"supervisor-queue-desk-enter-laptop-{lang}")
    # A mouse click on a line shows its card without taking the focus to it.
    lines.first.locator("button.vq-line-open").click()
    page.wait_for_function("t => document.querySelector('.vq-detail article.vq-card h2').textContent === t", arg=QUEUE[0][0])
    assert focused(page)["line"] == 0
    # The note written on the second card is still there when it comes back.
    page.keyboard.press("ArrowDown")
    page.wait_for_function("t => document.querySelector('.vq-detail article.vq-card h2').textContent === t", arg=QUEUE[1][0])
    assert page.locator(".vq-detail textarea[name=note]").input_value() == "Signal lost in the basement"

    # Down to a phone's width: the open card goes under its line, as on a phone.
    page.set_viewport_size(PHONE)
    lines.nth(1).locator("article.vq-card").wait_for()
    assert lines.nth(1).locator("button.vq-line-open").get_attribute("aria-expanded") == "true"
    assert page.locator(".vq-detail article.vq-card").count() == 0
    page.set_viewport_size(LAPTOP)
    card.wait_for()
    assert shown_title(page) == QUEUE[1][0] and lines.locator("article.vq-card:visible").count() == 0


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_on_a_phone_the_queue_is_unchanged(pages, small_org, factory, lang):
    org, w = small_org, WORDS[lang]
    three_flagged(org, factory)
    page = pages.open(org["supervisor"], locale=LOCALES[lang])
    lines = page.locator("li.vq-line")
    lines.first.wait_for()
    assert lines.count() == 3
    # No card is open and none is beside the list: the lines take the whole width.
    assert page.locator("article.vq-card").count() == 0
    assert not page.locator(".vq-detail").is_visible()
    listed = page.locator("ul.vq-lines").bounding_box()
    assert listed["width"] >= PHONE["width"] - 40
    opener = lines.first.locator("button.vq-line-open")
    assert opener.get_attribute("aria-current") is None and opener.get_attribute("aria-expanded") == "false"
    # Arrows do nothing here: the focus stays and no card opens.
    opener.focus()
    page.keyboard.press("ArrowDown")
    assert focused(page)["line"] == 0 and page.locator("article.vq-card").count() == 0
    # A tap opens the full card under its line, another closes it.
    engineer, site = QUEUE[0][1], QUEUE[0][2]
    page.get_by_role("button", name=w["open"].format(engineer=engineer, site=site)).click()
    card = lines.first.locator("article.vq-card")
    card.wait_for()
    line_box, card_box = lines.first.locator(".vq-line-row").bounding_box(), card.bounding_box()
    assert card_box["y"] >= line_box["y"] + line_box["height"] - 1 and card_box["width"] > PHONE["width"] - 60
    assert opener.get_attribute("aria-expanded") == "true"
    screenshot(page, f"supervisor-queue-desk-phone-{lang}")
    opener.click()
    card.wait_for(state="hidden")


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_an_engineers_page_calls_them_on_their_phone(pages, small_org, lang):
    org, w = small_org, WORDS[lang]
    li, zhang = org["engineer"], org["engineer2"]
    li.phone = demo_phone(4)  # the seed's number for Li Qiang
    db.session.commit()
    page = pages.open(org["supervisor"], locale=LOCALES[lang], path=f"/#/engineer/{li.id}")
    call = page.get_by_role("link", name=w["call"].format(name="Li Qiang", phone="+8613900000004"))
    call.wait_for()
    assert call.get_attribute("href") == "tel:+8613900000004"
    assert "+8613900000004" in call.inner_text()
    box = call.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= PHONE["width"]  # a thumb's target, in view
    screenshot(page, f"supervisor-engineer-call-phone-{lang}")
    page.set_viewport_size(LAPTOP)
    screenshot(page, f"supervisor-engineer-call-laptop-{lang}")
    page.set_viewport_size(PHONE)
    # A local number is dialled as its digits (the job screen's rule too); no number, no link.
    db.session.commit()  # out of the snapshot read since (SQLite: a writer must start afresh)
    li.phone = "021-6123 4567"
    db.session.commit()
    page.reload()
    page.get_by_role("link", name=w["call"].format(name="Li Qiang", phone="021-6123 4567")).wait_for()
    assert page.locator("a[href^='tel:']").get_attribute("href") == "tel:02161234567"
    page.goto(f"/#/engineer/{zhang.id}")
    page.get_by_role("heading", name=re.compile("^(近 6 个月|Last 6 months)")).wait_for()
    assert page.locator("a[href^='tel:']").count() == 0


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_phone_set_on_me_offline_reaches_the_server_once(pages, small_org, lang):
    org, w = small_org, WORDS[lang]
    me = org["engineer"]
    page = pages.open(me, locale=LOCALES[lang], path="/#/me")
    mine = f"/api/v1/users/{me.id}"
    patches: list[dict] = []  # the changes of the phone that reached the server (not those cut offline)
    page.on("requestfinished", lambda r: patches.append(json.loads(r.post_data or "{}"))
            if r.method == "PATCH" and r.url.endswith(mine) and "phone" in (r.post_data or "") else None)
    phone = page.get_by_label(w["phone"], exact=True)
    phone.wait_for()
    assert phone.input_value() == "" and phone.get_attribute("type") == "tel"
    # Refused on the phone, in the user's language, before anything is kept or sent.
    phone.fill("call me")
    page.get_by_role("button", name=w["save"]).click()
    page.get_by_text(w["bad_phone"]).wait_for()
    assert phone.get_attribute("aria-invalid") == "true"
    phone.fill("1" * 33)
    page.get_by_role("button", name=w["save"]).click()
    page.get_by_text(w["too_long"]).wait_for()
    assert patches == [] and fresh(User, id=me.id)[0].phone is None
    screenshot(page, f"engineer-me-phone-invalid-{lang}")

    page.context.set_offline(True)
    phone.fill(" +8613900000021 ")
    page.get_by_role("button", name=w["save"]).click()
    page.get_by_test_id("waiting-banner").wait_for()
    page.locator("form.me-phone").get_by_text(w["waiting"]).wait_for()
    assert fresh(User, id=me.id)[0].phone is None  # nothing reached the server
    screenshot(page, f"engineer-me-phone-offline-{lang}", full_page=True)

    page.context.set_offline(False)
    page.get_by_test_id("waiting-banner").wait_for(state="detached", timeout=15_000)
    assert fresh(User, id=me.id)[0].phone == "+8613900000021"
    assert [e.detail for e in fresh(AuditEntry, action="user.phone_change", target_id=me.id)] == [
        {"phone": {"from": None, "to": "+8613900000021"}}]
    page.reload()
    phone = page.get_by_label(w["phone"], exact=True)
    phone.wait_for()
    page.wait_for_function("() => document.querySelector('input[name=phone]').value === '+8613900000021'")
    assert page.locator("form.me-phone").get_by_text(w["waiting"]).count() == 0
    assert patches == [{"phone": "+8613900000021"}], patches  # sent once
    screenshot(page, f"engineer-me-phone-saved-{lang}", full_page=True)
    page.set_viewport_size(LAPTOP)
    screenshot(page, f"engineer-me-phone-saved-laptop-{lang}")
    page.set_viewport_size(PHONE)

    # Online, cleared: sent at once, the number is gone.
    phone.fill("")
    with page.expect_request_finished(lambda r: r.method == "PATCH" and r.url.endswith(mine)):
        page.get_by_role("button", name=w["save"]).click()
    page.get_by_text(w["saved"]).wait_for()
    assert fresh(User, id=me.id)[0].phone is None
    assert patches[-1] == {"phone": None} and len(patches) == 2


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_a_change_kept_before_the_worker_is_active_waits_and_is_shown_after_a_reload(
        pages, small_org, lang):
    """No active service worker (blocked here; on a phone, one still installing when the
    network went): an action kept on the phone does not wait for one. A change waiting
    in the outbox is drawn on Me, in another tab too and however late the outbox is
    read, and goes once sent."""
    org, w = small_org, WORDS[lang]
    me = org["engineer"]
    page = pages.open(me, locale=LOCALES[lang], path="/#/me", service_workers="block")
    mine = f"/api/v1/users/{me.id}"
    sent: list[dict] = []
    page.on("requestfinished", lambda r: sent.append(json.loads(r.post_data or "{}"))
            if r.method == "PATCH" and r.url.endswith(mine) else None)
    phone = page.get_by_label(w["phone"], exact=True)
    phone.wait_for()
    assert page.evaluate("async () => (await navigator.serviceWorker.getRegistration()) === undefined")
    other_tab = page.context.new_page()
    other_tab.goto("/#/me")
    other_phone = other_tab.get_by_label(w["phone"], exact=True)
    other_phone.wait_for()

    page.context.set_offline(True)
    phone.fill("+8613900000021")
    page.get_by_role("button", name=w["save"]).click()
    page.locator("form.me-phone").get_by_text(w["waiting"]).wait_for(timeout=5_000)
    assert page.get_by_test_id("waiting-banner").is_visible()
    assert fresh(User, id=me.id)[0].phone is None
    # The app open in another tab draws the change waiting, with its number.
    other_tab.locator("form.me-phone").get_by_text(w["waiting"]).wait_for(timeout=5_000)
    assert other_phone.input_value() == "+8613900000021"
    other_tab.close()

    # Online, but the server cannot be reached for this change: it still waits, and a new
    # page (the app opened again) shows it waiting, with the number that waits.
    def unreachable(route):
        if route.request.method == "PATCH":
            route.abort("internetdisconnected")
        else:
            route.continue_()
    page.route(f"**{mine}", unreachable)
    page.context.set_offline(False)
    page.reload()
    phone = page.get_by_label(w["phone"], exact=True)
    phone.wait_for()
    page.locator("form.me-phone").get_by_text(w["waiting"]).wait_for(timeout=5_000)
    assert phone.input_value() == "+8613900000021"
    assert fresh(User, id=me.id)[0].phone is None and sent == []

    page.unroute(f"**{mine}")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.get_by_test_id("waiting-banner").wait_for(state="detached", timeout=15_000)
    page.locator("form.me-phone").get_by_text(w["waiting"]).wait_for(state="detached")
    assert phone.input_value() == "+8613900000021"
    assert fresh(User, id=me.id)[0].phone == "+8613900000021"
    assert sent == [{"phone": "+8613900000021"}], sent  # sent once


def test_a_request_that_hangs_is_given_up_and_done_once_when_sent_again(pages, small_org):
    """On a weak network a request can reach the server and its answer never come back:
    after `stallMs` with no sign of life the phone gives it up as a network failure,
    keeps the change waiting (the screen is not held), and sends it again later under the
    same Idempotency-Key, which the server answers once."""
    w = WORDS["en"]
    me = small_org["engineer"]
    # No service worker: its Background Sync would send the change itself, by a route of
    # its own that the page's routes do not see.
    page = pages.open(me, path="/#/me", service_workers="block")
    mine = f"/api/v1/users/{me.id}"
    phone = page.get_by_label(w["phone"], exact=True)
    phone.wait_for()
    page.evaluate("() => { self.FieldProofOutbox.stallMs = 1500; }")
    reached: list[int] = []

    def answer_lost(route):  # the server does it; its answer never arrives
        if route.request.method != "PATCH":
            route.continue_()
            return
        reached.append(route.fetch().status)
    page.route(f"**{mine}", answer_lost)
    phone.fill("+8613900000021")
    page.get_by_role("button", name=w["save"]).click()
    page.locator("form.me-phone").get_by_text(w["waiting"]).wait_for(timeout=10_000)
    assert reached == [200]
    assert fresh(User, id=me.id)[0].phone == "+8613900000021"

    page.unroute(f"**{mine}")
    with page.expect_request_finished(lambda r: r.method == "PATCH" and r.url.endswith(mine)) as sent:
        page.evaluate("() => window.dispatchEvent(new Event('online'))")
    assert sent.value.response().status == 200
    assert sent.value.response().header_value("Idempotent-Replayed") == "true"
    page.locator("form.me-phone").get_by_text(w["waiting"]).wait_for(state="detached")
    assert phone.input_value() == "+8613900000021"
    assert [e.detail for e in fresh(AuditEntry, action="user.phone_change", target_id=me.id)] == [
        {"phone": {"from": None, "to": "+8613900000021"}}]  # done once
