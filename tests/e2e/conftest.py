"""Browser tests: the real app in headless Chromium (Debian's), driven by Playwright.

`live_server` serves the test's `app` (so every e2e test runs on SQLite and PostgreSQL)
from a thread on a free loopback port. `open_page(user=None, **options)` opens a phone-
sized page in a fresh browser context with the position emulated, signs in when given a
user, and fails the test on any page error or Content-Security-Policy violation.
Without /usr/bin/chromium the tests are skipped (failed under CI=true).
"""
from __future__ import annotations

import os
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app.extensions import db
from tests.support import PASSWORD

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(__file__).parent / "screenshots"
FIXTURES = Path(__file__).parent / "fixtures"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
# A site in Shanghai and positions near it and far from it.
SITE = (31.2304, 121.4737)
NEAR = {"latitude": 31.2306, "longitude": 121.4739, "accuracy": 12}
NEAR_AGAIN = {"latitude": 31.23052, "longitude": 121.47383, "accuracy": 9}  # real fixes jitter
FAR = {"latitude": 31.2500, "longitude": 121.4737, "accuracy": 15}  # about 2.2 km north of SITE


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing; install the Debian package `chromium`"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app):
    """The app of this test served over HTTP on 127.0.0.1; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture(scope="session")
def static_server():
    """The app's files alone (no database): for tests of browser code without a session."""
    from flask import Flask

    from app.pwa import bp

    app = Flask("pwa-files")
    app.register_blueprint(bp)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


class Pages:
    """Opens pages in fresh contexts; closes them at the end of the test."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list = []
        self.errors: list[str] = []

    def open(self, user=None, *, locale: str = "en-US", position: dict | None = None,
             service_workers: str = "allow", viewport: dict | None = None, path: str = "/",
             user_agent: str | None = None, permissions: tuple[str, ...] = ()):
        extra = {"user_agent": user_agent} if user_agent else {}
        context = self.browser.new_context(
            base_url=self.base_url, locale=locale, viewport=viewport or PHONE,
            geolocation=position or NEAR, permissions=["geolocation", *permissions],
            service_workers=service_workers, is_mobile=False, has_touch=True, **extra,
        )
        # Generous: the other test worker shares the two cores with the browser and server.
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", self._console)
        page.goto(path)
        if user is not None:
            sign_in(page, user.email)
        return page

    def _console(self, message) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.errors.append(f"CSP: {text}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, live_server):
    """`pages.open(user, locale=, position=, service_workers=)` → a signed-in Playwright page."""
    opened = Pages(browser, live_server)
    yield opened
    opened.close()
    assert opened.errors == [], opened.errors


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email").or_(page.get_by_label("邮箱")).fill(email)
    page.get_by_label("Password").or_(page.get_by_label("密码")).fill(password)
    page.get_by_role("button", name="Sign in").or_(page.get_by_role("button", name="登录")).click()
    page.get_by_role("navigation").wait_for()


def screenshot(page, name: str, full_page: bool = False) -> Path:
    """Saves a PNG of what the screen shows (or the whole page) to tests/e2e/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def small_org(factory):
    """A supervisor with two engineers; three sites; jobs for the first engineer.

    near_job (at SITE, scheduled today), far_job (at the mall, 2.6 km from NEAR, not
    scheduled), later_job (scheduled tomorrow: not on Today), other_job (engineer2's).
    """
    supervisor = factory.user("supervisor", email="sup@example.com", name="Wang Lei")
    engineer = factory.user("engineer", supervisor=supervisor, email="eng@example.com", name="Li Qiang")
    engineer2 = factory.user("engineer", supervisor=supervisor, email="eng2@example.com", name="Zhang Wei")
    site = factory.site(name="Lujiazui Tower", customer_name="Pudong Estates",
                        address="1000 Lujiazui Ring Rd", lat=SITE[0], lon=SITE[1], radius_m=150)
    mall = factory.site(name="Jing'an Mall", customer_name="Jing'an Retail",
                        address="1618 West Nanjing Rd", lat=31.2253, lon=121.4470, radius_m=150)
    depot = factory.site(name="Baoshan Depot", customer_name="Baoshan Logistics",
                         address="2000 Changjiang W Rd", lat=31.3400, lon=121.4400, radius_m=150)
    today = date.today()
    near_job = factory.job(site=site, engineer=engineer, created_by=supervisor,
                           title="Air conditioner leaking", category="hvac", priority="high",
                           scheduled_for=today)
    far_job = factory.job(site=mall, engineer=engineer, created_by=supervisor,
                          title="Lights flicker in the atrium", category="electrical", priority="normal")
    later_job = factory.job(site=depot, engineer=engineer, created_by=supervisor,
                            title="Replace the dock door motor", category="appliance",
                            scheduled_for=today + timedelta(days=1))
    other_job = factory.job(site=site, engineer=engineer2, created_by=supervisor,
                            title="Network switch down", category="network")
    db.session.commit()
    return {"supervisor": supervisor, "engineer": engineer, "engineer2": engineer2,
            "site": site, "mall": mall, "depot": depot, "near_job": near_job,
            "far_job": far_job, "later_job": later_job, "other_job": other_job}
