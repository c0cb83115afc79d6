"""The console in real Chromium, on both live sites linked by the real exchange (issue 5's stories):

1. a call registered and triaged as a police matter, transferred to 110 with one click, signed, dispatched and
   finished on the 110 desk, and the 110's steps and result shown on the hotline's order page;
2. a 12345 order dispatched, returned, re-dispatched, extended, replied, called back unsatisfied, reopened,
   replied again and closed — every step clicked by the role whose page offers it.

Each main page is saved as a screenshot (var/screenshots/; `make screenshots` refreshes the README's docs/screenshots/).
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect
from tests.e2e.browser import login, screenshot
from tests.helpers import register

from civiclink.i18n import label
from civiclink.web.messages import t

pytestmark = pytest.mark.browser


def act(page: Page, action: str, **fields) -> None:
    """Open the action's panel on a record page, fill its fields, submit, and wait for the page after it."""
    panel = page.locator(f"#action-{action}")
    if panel.get_attribute("open") is None:
        panel.locator("summary").click()
    form = panel.locator("form")
    for name, value in fields.items():
        control = form.locator(f"[name={name}]:not([type=hidden])")
        tag = control.evaluate("e => e.tagName")
        if tag == "SELECT":
            control.select_option(str(value))
        elif control.get_attribute("type") == "checkbox":
            control.set_checked(bool(value))
        else:
            control.fill(str(value))
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    errors = page.locator(".notice.error")
    assert errors.count() == 0, errors.first.inner_text()


def fits_the_screen(page: Page) -> None:
    """No sideways scrolling at the operators' 1366×768 (issue 5's quality bar)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)


def reload_until(page: Page, predicate, *, timeout: float = 15.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)
        page.reload()


def test_a_call_transferred_to_110_and_written_back(live, new_page):
    operator = login(new_page(), live.hotline_url, "operator")
    operator.goto(live.hotline_url + "/intake")
    operator.fill("#caller-phone", "13912345678")
    operator.fill("#caller-name", "王女士")
    # Typed like a person types: the triage panel follows (htmx, after a pause).
    operator.locator("#content").press_sequentially("楼上邻居家里传出打斗声和呼救声，担心出事，崇川区和平桥街道人民中路18号",
                                                    delay=5)
    expect(operator.locator("#triage-route")).to_have_attribute("data-route", "110")
    expect(operator.locator("#route-actions")).to_be_visible()
    assert "R-102" in operator.locator("#triage .cues").inner_text()
    fits_the_screen(operator)
    screenshot(operator, "intake-triage")
    with operator.expect_navigation():
        operator.click("#transfer-110")
    number = re.search(r"/orders/([^/?]+)", operator.url).group(1)
    expect(operator.locator(".state-badge")).to_have_text(label("state", "transferred_to_110"))

    # The 110 desk: the push arrives through the exchange; 接警员 signs for it from the row.
    jjy = login(new_page(), live.police_url, "jjy")
    jjy.goto(live.police_url + "/desk")
    row = jjy.locator(".desk-received tr", has_text=number)
    reload_until(jjy, lambda: row.count() == 1, what="the push on the 110 desk")
    fits_the_screen(jjy)
    screenshot(jjy, "desk-110")
    with jjy.expect_navigation():
        row.locator("button[type=submit]").click()
    incident_link = jjy.locator(".desk-handling tr", has_text=number).locator("a").first
    incident = incident_link.inner_text()

    # The 指挥员 dispatches, records arrival and the result.
    zhy = login(new_page(), live.police_url, "zhy")
    zhy.goto(f"{live.police_url}/desk/{incident}")
    act(zhy, "dispatch")
    act(zhy, "arrive")
    act(zhy, "finish", situation="民警到场，双方已分开，女方轻微擦伤已送医", result_note="已调解并出具告诫书")
    fits_the_screen(zhy)
    screenshot(zhy, "incident-110")

    # Back on 12345: the order shows the 110's steps, its unit and its result, marked with the police site.
    operator.goto(f"{live.hotline_url}/orders/{number}")
    reload_until(operator, lambda: "已调解并出具告诫书" in operator.content(), what="110's result on the order page")
    links = operator.locator(".links").inner_text()
    assert "民警到场，双方已分开" in links and incident in links
    peer_steps = operator.locator("ol.timeline li.peer").all_inner_texts()
    assert any(label("incident_action", "dispatch") in s for s in peer_steps), peer_steps
    assert all(live.police.site_code in s for s in peer_steps)
    fits_the_screen(operator)
    screenshot(operator, "order-linked")


def test_a_12345_order_from_dispatch_to_close(live, new_page):
    with live.pair.write("hotline") as ctx:
        number = register(ctx, live.pair.hotline_actors, title="人民中路路灯不亮",
                          content="人民中路18号附近三盏路灯一周不亮，夜间行人看不清。").number
    pages: dict[str, Page] = {}

    def as_user(name: str, path: str) -> Page:
        if name not in pages:
            pages[name] = login(new_page(), live.hotline_url, name)
        page = pages[name]
        page.goto(live.hotline_url + path)
        fits_the_screen(page)
        return page

    # 派单员: dispatch from the queue's row (the suggested unit is pre-filled; the dispatcher picks 城管).
    page = as_user("dispatcher", "/queue/dispatch")
    row = page.locator("tr", has_text=number)
    row.locator("input[name=unit]").fill("csgl")
    screenshot(page, "queue-dispatch")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text(label("action", "dispatch"))

    # 承办单位 (城管): sign from the unit's queue, then return it with reason and basis.
    page = as_user("staff_csgl", "/queue/unit")
    screenshot(page, "queue-unit")
    with page.expect_navigation():
        page.locator("tr", has_text=number).locator("button[type=submit]").click()
    page.goto(f"{live.hotline_url}/orders/{number}")
    # A return without its basis is refused next to the field, and the reason typed stays.
    panel = page.locator("#action-return")
    panel.locator("summary").click()
    panel.locator("[name=reason]").fill("路灯由住建部门管养")
    with page.expect_navigation():
        panel.locator("button[type=submit]").click()
    expect(page.locator("#action-return .field-error").first).to_contain_text(t("error.missing"))
    expect(page.locator("#action-return [name=reason]")).to_have_value("路灯由住建部门管养")
    act(page, "return", reason="路灯由住建部门管养", basis="《南通市城市照明管理办法》第五条")

    # 派单员: 改派 to 住建.
    page = as_user("dispatcher", f"/orders/{number}")
    act(page, "dispatch", unit="zjj")

    # 住建: sign, ask for an extension; 督办员 approves it from the board's pending list.
    page = as_user("staff_zjj", f"/orders/{number}")
    act(page, "sign")
    act(page, "request_extension", extra="5wd", reason="需更换地下电缆", basis="施工需供电部门配合停电")
    page = as_user("supervisor", "/queue/supervise")
    assert number in page.locator("section", has_text=t("supervise.pending")).inner_text()
    screenshot(page, "supervise")
    page.goto(f"{live.hotline_url}/orders/{number}")
    act(page, "approve_extension")

    # 住建 replies; the 派单员 approves the reply.
    page = as_user("staff_zjj", f"/orders/{number}")
    act(page, "reply", content="已更换电缆，三盏路灯恢复照明。")
    page = as_user("dispatcher", f"/orders/{number}")
    act(page, "approve_reply")

    # 回访员: the caller is not satisfied → 重办.
    page = as_user("callback", "/queue/callback")
    assert number in page.content()
    screenshot(page, "queue-callback")
    page.goto(f"{live.hotline_url}/orders/{number}")
    act(page, "callback", method="phone", satisfaction="4", resolved=False, note="市民称仍有一盏不亮")
    act(page, "reopen", reason="市民不满意：仍有一盏路灯不亮")
    expect(page.locator(".state-badge")).to_have_text(label("state", "reopened"))

    # 住建 handles it again; the reply is approved; a satisfied callback closes it.
    page = as_user("staff_zjj", f"/orders/{number}")
    act(page, "sign")
    act(page, "reply", content="第三盏路灯灯头已更换，全部恢复照明。")
    page = as_user("dispatcher", f"/orders/{number}")
    act(page, "approve_reply")
    page = as_user("callback", f"/orders/{number}")
    act(page, "callback", method="phone", satisfaction="1", resolved=True)  # satisfied: closes it
    assert page.locator("#action-close").count() == 0
    expect(page.locator(".state-badge")).to_have_text(label("state", "closed"))
    timeline = page.locator("ol.timeline").inner_text()
    for step in ("dispatch", "return", "request_extension", "approve_extension", "reply", "callback", "reopen"):
        assert label("action", step) in timeline, step
    screenshot(page, "order-detail")
