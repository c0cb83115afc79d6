"""Browser tests (issue 5): the console in Debian's Chromium (headless, through Playwright), against both sites
running as real uvicorn processes, paired through the real exchange with their relays on.

Fixtures:

``live`` (per test) — the 12345 site and the 110 site as server processes on the suite's test databases, base
    data restored for this test (``state`` of tests/conftest.py and ``police_app_state``), so that the test may
    also seed data with ``state``/``session``/``actors`` or ``live.pair`` and see it in the browser.
    ``live.hotline_url``, ``live.police_url``; ``live.pair`` (a ``LinkedPair`` on both databases, for
    ``with live.pair.write("hotline") as ctx: …``; do not ``pump()`` it: the servers' relays deliver);
    ``live.wait_quiet()``; ``live.logs()``. A transfer 12345→110 and 110's result cross in well under a second.
``page`` (per test) — a fresh browser context (1366×768, zh-CN, Asia/Shanghai, no cookies) and its page.
``new_page()`` (per test) — another page in a context of its own: a second user at the same time.
``browser`` (session) — the Playwright Browser on /usr/bin/chromium.

Every request to anything but 127.0.0.1 is blocked and fails the test. On a failure the report shows the
servers' logs of that test, the browser's console errors, and where a screenshot of each open page was saved.

The servers and the browser start at the first browser test and stop after the last one in a row: nothing of
theirs runs while the rest of the suite drives the same databases (their relays would deliver its envelopes).

What the live servers cache: the org directory and the knowledge index (5 s), the calendar (30 s) and tokens
(10 s) are per-process snapshots; ``live`` restores the base data and then moves the revisions on, so a server
re-reads a snapshot a test changed within that time. Seeding data and logging in need no waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy import func, select
from tests.conftest import PEER_SECRET, restore_base
from tests.e2e.browser import ACTION_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, CONTEXT_OPTIONS, is_local
from tests.processes import Processes, spec_of

from civiclink.cache import Revision
from civiclink.db import write_session
from civiclink.exchange.models import OutboxMessage
from civiclink.knowledge.service import KNOWLEDGE_REVISION
from civiclink.orgs.service import ORG_REVISION
from civiclink.sites import LinkedPair, SiteSpec, pair
from civiclink.sla.service import CALENDAR_REVISION

HERE = Path(__file__).resolve().parent


@dataclass
class LiveSites:
    """The two sites as server processes (see the module's doc)."""

    hotline: SiteSpec
    police: SiteSpec
    hotline_state: object  # the pytest process's AppState on the same database (tests/conftest.py)
    police_state: object
    processes: Processes
    log_mark: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"LiveSites(12345 at {self.hotline_url}, 110 at {self.police_url})"

    @property
    def hotline_url(self) -> str:
        return self.hotline.base_url

    @property
    def police_url(self) -> str:
        return self.police.base_url

    @cached_property
    def pair(self) -> LinkedPair:
        return LinkedPair(self.hotline_state, self.police_state)

    def logs(self, *, this_test_only: bool = True) -> str:
        return self.processes.logs(since=self.log_mark if this_test_only else None, tail=20000, skip_empty=True)

    def pending(self) -> int:
        """Messages waiting in either outbox (not yet delivered, not dead)."""
        total = 0
        for state in (self.hotline_state, self.police_state):
            with state.sessions() as s:
                total += s.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.state == "pending")) or 0
        return total

    def wait_quiet(self, timeout: float = 10.0) -> bool:
        """Wait until both relays have delivered everything; False if they had not within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def check_running(self) -> None:
        dead = [name for name, p, _log in self.processes.started if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{', '.join(dead)} exited during the browser tests\n{self.processes.logs()}")


class E2E:
    """The browser and the two servers, started on first use, stopped after the last browser test in a row."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.sites: LiveSites | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._failed: str | None = None  # the servers did not start: say so at once to the next tests

    def live(self, hotline_state, police_state) -> LiveSites:
        if self._failed:
            pytest.fail(f"the sites did not start for an earlier browser test:\n{self._failed}", pytrace=False)
        if self.sites is None:
            processes = Processes(self.tmp)
            hotline = spec_of(hotline_state, role="hotline")
            police = spec_of(police_state, role="police")
            pair(hotline=hotline, police=police, secret=PEER_SECRET)
            try:
                processes.servers(police, hotline)
            except Exception as e:
                processes.kill_all()
                self._failed = str(e)
                raise
            self.sites = LiveSites(hotline, police, hotline_state, police_state, processes)
        self.sites.check_running()
        return self.sites

    def browser(self) -> Browser:
        if self._browser is None:
            if not CHROMIUM.exists():
                pytest.fail(f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
                            "(scripts/system-deps.sh installs it: apt-get install chromium fonts-noto-cjk). "
                            "They never download a browser.", pytrace=False)
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        return self._browser

    def stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
        if self.sites is not None:
            self.sites.processes.kill_all()
            self.sites = None
        self._failed = None


E2E_KEY = pytest.StashKey[E2E]()


@pytest.fixture(scope="session")
def _e2e(request, tmp_path_factory) -> Iterator[E2E]:
    e2e = E2E(tmp_path_factory.mktemp("e2e"))
    request.config.stash[E2E_KEY] = e2e
    yield e2e
    e2e.stop()


@pytest.fixture
def live(_e2e, state, police_app_state) -> Iterator[LiveSites]:
    restore_base(police_app_state)  # (``state`` restored the 12345's)
    _move_revisions_on(state, police_app_state)
    sites = _e2e.live(state, police_app_state)
    sites.log_mark = sites.processes.log_sizes()
    yield sites
    # Let what the test set moving arrive before the next test's restore wipes both databases.
    sites.wait_quiet()


_revision = 0


def _move_revisions_on(*states) -> None:
    """After a restore the revision table is empty: give every snapshot a revision no server has seen, so a
    server that cached a snapshot during the previous test reads it again (within the snapshot's ttl)."""
    global _revision
    _revision += 100_000
    for state in states:
        with write_session(state.sessions) as s:
            for key in (ORG_REVISION, KNOWLEDGE_REVISION, CALENDAR_REVISION):
                s.merge(Revision(key=key, value=_revision))


@pytest.fixture
def browser(_e2e) -> Browser:
    return _e2e.browser()


@dataclass
class BrowserLog:
    """What the browser did that a failing test should show: console errors, page errors, blocked requests."""

    pages: list[Page] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def watch(self, context: BrowserContext, page: Page) -> Page:
        self.pages.append(page)
        page.on("console", lambda m: self.console.append(f"[{m.type}] {m.text} ({page.url})")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: self.console.append(f"[pageerror] {e} ({page.url})"))
        return page

    def block_outside(self, context: BrowserContext) -> None:
        def route(r):
            if is_local(r.request.url):
                r.continue_()
            else:
                self.external.append(r.request.url)
                r.abort("blockedbyclient")

        context.route("**/*", route)


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def new_page(browser, browser_log) -> Iterator[Callable[[], Page]]:
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(**CONTEXT_OPTIONS)
        context.set_default_timeout(ACTION_TIMEOUT_MS)  # fail fast: nothing on a local site takes seconds
        contexts.append(context)
        browser_log.block_outside(context)
        return browser_log.watch(context, context.new_page())

    yield make
    for context in contexts:
        context.close()
    assert not browser_log.external, f"the browser tried to reach outside this machine: {browser_log.external}"


@pytest.fixture
def page(new_page) -> Page:
    return new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and call.when in ("setup", "call"):
        _explain(item, report)
    return report


def _explain(item, report) -> None:
    e2e = item.config.stash.get(E2E_KEY, None)
    sites = e2e.sites if e2e else None
    if sites is not None:
        report.sections.append(("live servers' logs (this test)", sites.logs() or "(empty)"))
    log: BrowserLog | None = item.funcargs.get("browser_log")
    if log is None:
        return
    lines = list(log.console) + [f"[blocked] {url}" for url in log.external]
    for n, p in enumerate(log.pages):
        try:
            path = item.config.stash[E2E_KEY].tmp / f"{item.name}-{n}.png"
            p.screenshot(path=path, full_page=True)
            lines.append(f"page {n}: {p.url} — screenshot {path}")
        except Exception as e:  # noqa: BLE001 - a closed page must not hide the real failure
            lines.append(f"page {n}: no screenshot ({e})")
    report.sections.append(("browser", "\n".join(lines) or "(nothing)"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    # The last browser test in a row: stop the servers and the browser before the rest of the suite runs.
    if nextitem is None or HERE not in Path(nextitem.path).resolve().parents:
        e2e = item.config.stash.get(E2E_KEY, None)
        if e2e is not None:
            e2e.stop()
    return result
