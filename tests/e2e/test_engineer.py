"""The engineer's day in the browser: sign in, Today, check in near and far, photos,
offline check-out and close, and everything arriving exactly once when back online."""
from __future__ import annotations

import base64
import io
import os
import re

import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import IdempotencyRecord, Job, Photo, Visit
from tests.e2e.conftest import FAR, FIXTURES, NEAR_AGAIN, screenshot


def rows(model, **where):
    db.session.commit()  # a new transaction: see what the server committed meanwhile
    query = sa.select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return db.session.scalars(query.order_by(model.id)).all()


def open_job(page, title: str) -> None:
    page.get_by_role("link", name=re.compile(re.escape(title))).first.click()
    page.get_by_role("heading", name=title).wait_for()
    # The live position is shown beside the button before anything is sent.
    page.get_by_text("Inside the site area").or_(page.get_by_text("Outside the site area")).wait_for()


def test_a_day_on_site_with_the_network_lost_on_the_way(pages, small_org):
    org = small_org
    page = pages.open(org["engineer"])

    # Today: open jobs of today or earlier or unscheduled, nearest first; not tomorrow's, not a colleague's.
    cards = page.locator("main a.card")
    cards.first.wait_for()
    titles = cards.all_inner_texts()
    assert len(titles) == 2, titles
    assert "Air conditioner leaking" in titles[0] and "Lights flicker in the atrium" in titles[1]
    assert not page.get_by_text("Replace the dock door motor").count()
    assert not page.get_by_text("Network switch down").count()
    page.get_by_text("Nearest first").wait_for()
    screenshot(page, "engineer-today")

    # Check in near the site: no flag, said in words.
    near = org["near_job"]
    open_job(page, "Air conditioner leaking")
    page.get_by_text("To the site").wait_for()
    page.get_by_role("button", name="Check in").click()
    page.get_by_text("No issues: the visit is verified.").wait_for()
    visit = rows(Visit, job_id=near.id)
    assert len(visit) == 1 and visit[0].flags == [] and visit[0].status == "verified"

    # A before photo from a file, uploaded at once.
    page.get_by_label("Before").check()
    page.get_by_label("Choose a photo").set_input_files(str(FIXTURES / "before.jpg"))
    page.get_by_text("Photo uploaded.").wait_for()
    page.get_by_role("img", name="Before photo 1").wait_for()
    assert [p.kind for p in rows(Photo, job_id=near.id)] == ["before"]
    screenshot(page, "engineer-job", full_page=True)

    # The other job, checked in from 2 km away: flagged, and the flag is said in words.
    page.get_by_role("link", name="Today").click()
    current = page.get_by_role("link", name="Current visit: Air conditioner leaking")
    current.wait_for()
    assert re.search(r"\d+:\d\d", current.inner_text())  # its timer
    screenshot(page, "engineer-today-visit")
    page.context.set_geolocation(FAR)
    open_job(page, "Lights flicker in the atrium")
    page.get_by_text("Outside the site area").wait_for()
    page.get_by_role("button", name="Check in").click()
    warning = page.get_by_role("alert").filter(has_text="from the site — your supervisor will review this visit")
    warning.wait_for()
    assert re.search(r"You are \d+(\.\d)? km from the site", warning.inner_text())
    far_visit = rows(Visit, job_id=org["far_job"].id)
    assert len(far_visit) == 1 and "OUTSIDE_GEOFENCE" in far_visit[0].flags
    screenshot(page, "engineer-job-flagged")

    # Back at the first site, the network is lost: check out, an after photo, close.
    page.get_by_role("link", name="Today").click()
    page.context.set_geolocation(NEAR_AGAIN)
    open_job(page, "Air conditioner leaking")
    page.context.set_offline(True)
    page.get_by_role("button", name="Check out").click()
    page.get_by_text("Saved on this phone: waiting to send.").first.wait_for()
    page.get_by_label("After").check()
    page.get_by_label("Take a photo").set_input_files(str(FIXTURES / "after.jpg"))
    page.get_by_text("Photo saved on the phone: waiting to send.").wait_for()
    page.get_by_label("What was done").fill("Cleared the blocked condensate drain and refilled the trap.")
    page.get_by_role("radio", name="Yes").check()
    for item in ("Protective equipment worn", "Power isolated", "Work area cleaned", "Customer briefed"):
        page.get_by_label(item).check()
    page.get_by_role("button", name="Close job").click()
    page.get_by_text("Close saved on the phone: waiting to send.").wait_for()
    page.get_by_text("3 actions waiting to send").wait_for()
    screenshot(page, "engineer-offline", full_page=True)
    # Nothing has reached the server.
    assert rows(Visit, job_id=near.id)[0].out_client_time is None
    assert len(rows(Photo, job_id=near.id)) == 1
    assert rows(Job, id=near.id)[0].status == "in_progress"

    # The network returns: everything is sent, in order, once.
    page.context.set_offline(False)
    page.get_by_test_id("waiting-banner").wait_for(state="detached", timeout=15_000)
    page.get_by_text(re.compile(r"^Closed ")).wait_for()
    visits = rows(Visit, job_id=near.id)
    assert len(visits) == 1 and visits[0].out_client_time is not None
    assert sorted(p.kind for p in rows(Photo, job_id=near.id)) == ["after", "before"]
    job = rows(Job, id=near.id)[0]
    assert job.status == "closed" and job.fixed is True and job.checklist_complete is True
    assert job.closed_at is not None and job.closed_at >= visits[0].out_client_time
    assert len(rows(Visit, job_id=org["far_job"].id)) == 1
    # Each action made one idempotency record: 2 check-ins, 1 check-out, 2 photos, 1 close.
    assert len(rows(IdempotencyRecord, user_id=org["engineer"].id)) == 6

    # The customer's rating link, as a QR code.
    page.get_by_role("button", name="Show the customer’s rating link").click()
    page.get_by_role("img", name="QR code of the rating link").wait_for()
    assert "/f/" in page.locator(".link-box a").inner_text()
    screenshot(page, "engineer-job-closed")


def test_a_photo_whose_upload_stalls_is_kept_and_uploaded_once_later(pages, small_org):
    """An upload that stops moving (no bytes sent, no answer) for `stallMs` is given up:
    the photo is kept on the phone as waiting, and uploaded once when sent again."""
    org = small_org
    near = org["near_job"]
    # No service worker: its Background Sync would send the photo itself, by a route of
    # its own that the page's routes do not see.
    page = pages.open(org["engineer"], service_workers="block")
    open_job(page, "Air conditioner leaking")
    page.get_by_role("button", name="Check in").click()
    page.get_by_text("No issues: the visit is verified.").wait_for()
    page.evaluate("() => { self.FieldProofOutbox.stallMs = 1500; }")
    held: list[str] = []

    def stalls(route):  # accepted by nobody: no answer ever comes
        if route.request.method == "POST":
            held.append(route.request.url)
        else:
            route.continue_()
    page.route("**/api/v1/jobs/*/photos", stalls)
    page.get_by_label("Before").check()
    page.get_by_label("Choose a photo").set_input_files(str(FIXTURES / "before.jpg"))
    page.get_by_text("Photo saved on the phone: waiting to send.").wait_for(timeout=10_000)
    assert len(held) == 1 and rows(Photo, job_id=near.id) == []

    page.unroute("**/api/v1/jobs/*/photos")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.get_by_test_id("waiting-banner").wait_for(state="detached", timeout=15_000)
    page.get_by_role("img", name="Before photo 1").wait_for()
    assert [p.kind for p in rows(Photo, job_id=near.id)] == ["before"]


def test_kpis_knowledge_and_me(pages, small_org):
    page = pages.open(small_org["engineer"])
    page.get_by_role("link", name="KPIs").click()
    page.get_by_role("heading", name=re.compile("Total score")).wait_for()
    page.get_by_role("heading", name="Months on target").wait_for()
    page.get_by_text("NPS").first.wait_for()
    screenshot(page, "engineer-kpis")

    page.get_by_role("link", name="Knowledge").click()
    page.get_by_role("link", name="Submit a case").click()
    page.get_by_label("Title").fill("空调室内机漏水处理")
    page.get_by_label("Symptom").fill("室内机滴水")
    page.get_by_label("Solution").fill("清理冷凝水管并检查排水坡度")
    page.get_by_label("Tags").fill("空调, 漏水")
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("Case submitted for review.").wait_for()
    page.get_by_text("Waiting for review").wait_for()
    screenshot(page, "engineer-knowledge")

    page.get_by_role("link", name="Me").click()
    page.get_by_role("heading", name="Li Qiang").wait_for()
    page.get_by_role("button", name="简体中文").click()
    page.get_by_role("link", name="我的").wait_for()
    page.get_by_text("暂无面谈记录。").wait_for()
    screenshot(page, "engineer-me-zh")
    page.get_by_role("button", name="English").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()


def test_offline_app_keeps_actions_across_a_reload_and_shows_a_refusal(pages, small_org):
    org = small_org
    page = pages.open(org["engineer"])
    page.locator("main a.card").first.wait_for()
    # The service worker controls the page: the shell is kept offline. (A function, not a
    # string expression, which the page's CSP would refuse to evaluate.)
    page.evaluate("""async () => {
        await navigator.serviceWorker.ready;
        while (!navigator.serviceWorker.controller) await new Promise((r) => setTimeout(r, 50));
    }""")

    open_job(page, "Lights flicker in the atrium")
    page.context.set_offline(True)
    page.get_by_role("button", name="Check in").click()
    page.get_by_text("Saved on this phone: waiting to send.").wait_for()

    # Closing the app offline loses nothing: the shell, the last jobs and the waiting action come back.
    page.reload()
    page.get_by_text("1 action waiting to send").wait_for()
    page.get_by_text("Offline: showing what was last loaded.").wait_for()
    page.get_by_role("heading", name="Lights flicker in the atrium").wait_for()
    assert rows(Visit, job_id=org["far_job"].id) == []

    # Meanwhile the supervisor cancels the job: the replayed check-in is refused, and says why.
    db.session.get(Job, org["far_job"].id).status = "cancelled"
    db.session.commit()
    page.context.set_offline(False)
    page.get_by_text("1 action was refused").wait_for()
    page.get_by_role("link", name="Show").click()
    page.get_by_text("This job is already closed.").wait_for()
    screenshot(page, "engineer-refused")
    page.get_by_role("button", name="Dismiss").click()
    page.get_by_text("Every action has been sent.").wait_for()
    assert not page.get_by_text("1 action was refused").count()
    assert rows(Visit, job_id=org["far_job"].id) == []

    # An action left waiting when the app is closed is sent by the service worker.
    page.get_by_role("link", name="Today").click()
    open_job(page, "Air conditioner leaking")
    page.context.set_offline(True)
    page.get_by_role("button", name="Check in").click()
    page.get_by_text("Saved on this phone: waiting to send.").wait_for()
    context = page.context
    page.close()
    context.set_offline(False)
    worker = context.service_workers[0]
    outcome = worker.evaluate("FieldProofOutbox.flush()")
    assert outcome == {"sent": 1, "stopped": None}
    assert len(rows(Visit, job_id=org["near_job"].id)) == 1


def test_a_large_picture_is_shrunk_on_the_phone_keeping_its_exif(browser, static_server):
    """Above 2.5 MB a picture is redrawn at most 2560 px long; the EXIF time and GPS the
    server checks are carried over, and the orientation is reset (the pixels are turned)."""
    noise = Image.frombytes("RGB", (2800, 1400), os.urandom(2800 * 1400 * 3))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: the camera was held upright
    exif.get_ifd(0x8769)[0x9003] = "2026:11:03 08:15:00"
    exif.get_ifd(0x8825).update({1: "N", 2: (31.0, 13.0, 49.44), 3: "E", 4: (121.0, 28.0, 25.32)})
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=92, exif=exif)
    original = buffer.getvalue()
    assert len(original) > 2.5 * 1024 * 1024

    context = browser.new_context(base_url=static_server)
    try:
        page = context.new_page()
        page.goto("/pwa/index.html")
        shrink = """async ([b64, name]) => {
            const blob = await (await fetch('data:image/jpeg;base64,' + b64)).blob();
            const { prepare } = await import('/pwa/js/photo.js');
            const r = await prepare(new File([blob], name, { type: 'image/jpeg' }));
            const url = await new Promise((ok) => { const f = new FileReader(); f.onload = () => ok(f.result); f.readAsDataURL(r.blob); });
            return { shrunk: r.shrunk, same: r.blob.size === blob.size, data: url.split(',')[1] };
        }"""
        result = page.evaluate(shrink, [base64.b64encode(original).decode(), "big.jpg"])
        assert result["shrunk"]
        shrunk = base64.b64decode(result["data"])
        assert len(shrunk) < len(original)
        with Image.open(io.BytesIO(shrunk)) as image:
            assert image.format == "JPEG" and (image.width, image.height) == (1280, 2560)  # turned upright
            kept = image.getexif()
            assert kept[0x0112] == 1
            assert kept.get_ifd(0x8769)[0x9003] == "2026:11:03 08:15:00"
            gps = kept.get_ifd(0x8825)
            assert gps[1] == "N" and float(gps[2][0]) == 31.0 and float(gps[4][1]) == 28.0

        # A small picture is sent as taken.
        small = (FIXTURES / "before.jpg").read_bytes()
        result = page.evaluate(shrink, [base64.b64encode(small).decode(), "small.jpg"])
        assert result["shrunk"] is False and result["same"] is True
    finally:
        context.close()
