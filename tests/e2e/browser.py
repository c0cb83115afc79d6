"""Helpers of the browser tests (tests/e2e): Debian's Chromium driven by Playwright, never a downloaded browser.

``login(page, base_url, username)`` logs in through the console's form; ``screenshot(page, name)`` saves a
full-page PNG to var/screenshots/<name>.png or $CIVICLINK_SCREENSHOT_DIR (on the SQLite run only); ``rendered_fonts(page, selector)`` asks
Chromium which fonts it really drew a node's text with.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

from playwright.sync_api import Page
from tests.conftest import PASSWORD

# Debian's package (scripts/system-deps.sh). `playwright install` is never run: no browser is downloaded.
CHROMIUM = Path("/usr/bin/chromium")
# Headless as root (CI runs as root), nothing in the background that could reach the network. Playwright adds
# --headless itself and gives every launch a fresh, empty profile (--user-data-dir in a temporary folder).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-breakpad",
]
CONTEXT_OPTIONS = {
    "viewport": {"width": 1366, "height": 768},
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
}
# Playwright's default wait for a click, fill or navigation (its own default is 30 s).
ACTION_TIMEOUT_MS = 10_000
# Where the browser may go: the sites under test, on this machine. Anything else is blocked and reported.
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

REPO = Path(__file__).resolve().parents[2]
# Every run saves its pictures under var/ (ignored by git, so `make test` leaves the tree clean);
# `make screenshots` runs the browser tests with CIVICLINK_SCREENSHOT_DIR=docs/screenshots to refresh the
# README's tour.
SCREENSHOTS = Path(os.environ.get("CIVICLINK_SCREENSHOT_DIR") or REPO / "var" / "screenshots")
ECHARTS = "/static/vendor/echarts-6.1.0/echarts.min.js"


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS


def login(page: Page, base_url: str, username: str, *, password: str = PASSWORD, next: str = "/",
          expect_ok: bool = True) -> Page:
    """Log in through the console's login form (#username, #password, its submit button).

    With ``expect_ok`` (the default) it waits until the site has let the user in (left /login) and fails with the
    page's error message otherwise; ``expect_ok=False`` just submits (for tests of a refused login).
    """
    page.goto(f"{base_url}/login?next={quote(next, safe='/')}")
    page.fill("#username", username)
    page.fill("#password", password)
    form = page.locator("form:has(#password)")
    with page.expect_navigation():
        form.locator("[type=submit]").click()
    if expect_ok and urlsplit(page.url).path == "/login":
        alert = page.locator("[role=alert]")
        why = alert.first.inner_text() if alert.count() else "(no message)"
        raise AssertionError(f"login as {username!r} on {base_url} was refused: {why}")
    return page


def screenshot(page: Page, name: str) -> Path | None:
    """A full-page PNG at <SCREENSHOTS>/<name>.png, returned; taken on every run, written only on the SQLite
    run (CIVICLINK_TEST_DATABASE_URL unset), so that the PostgreSQL run does not rewrite the same pictures."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise ValueError(f"screenshot name {name!r}: use lower-case letters, digits, '-', '_' and '.'")
    png = page.screenshot(full_page=True, animations="disabled", caret="hide")
    if os.environ.get("CIVICLINK_TEST_DATABASE_URL"):
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(png)
    return path


def rendered_fonts(page: Page, selector: str) -> dict[str, int]:
    """The fonts Chromium actually drew the text of the first node matching ``selector`` with: family → glyphs.
    (CSS ``font-family`` only says what was asked for; a missing font falls back silently, or to tofu boxes.)"""
    cdp = page.context.new_cdp_session(page)
    try:
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise AssertionError(f"no node matches {selector!r} on {page.url}")
        cdp.send("CSS.enable")
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return {f["familyName"]: f["glyphCount"] for f in fonts}
    finally:
        cdp.detach()
