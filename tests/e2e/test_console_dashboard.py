"""The 大屏 in real Chromium: its charts are drawn (SVG) with Chinese labels, the chart options hold the numbers
of the orders the test made, an auto-refresh picks up a new order without a reload, and the wall-screen mode fits
1920×1080. The 110 site's own 大屏 too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from tests.e2e.browser import login, screenshot
from tests.helpers import act, register

from civiclink.i18n import label
from civiclink.web.messages import t
from civiclink.workorders.states import Action

pytestmark = pytest.mark.browser


def options(page, name: str) -> dict:
    return page.evaluate(f"() => window.civiclinkCharts[{name!r}].getOption()")


def test_dashboard_charts_hold_the_numbers_with_chinese_labels(live, new_page):
    ha = live.pair.hotline_actors
    with live.pair.write("hotline") as ctx:
        for _ in range(3):
            register(ctx, ha, channel="phone", category="cxjs.szgl")
        for _ in range(2):
            register(ctx, ha, channel="wechat", category="cxjs.szgl")
        order = register(ctx, ha, channel="website", category="cxjs.szgl")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪", consent=True)

    page = login(new_page(), live.hotline_url, "leader")
    page.goto(live.hotline_url + "/dashboard?period=today")
    page.wait_for_function("() => window.civiclinkCharts && window.civiclinkCharts.channel")
    # Drawn, in SVG, with the Chinese channel names in the picture itself.
    svg_text = page.eval_on_selector_all("[data-chart=channel] svg text", "els => els.map(e => e.textContent)")
    assert any(label("channel", "phone") in s for s in svg_text), svg_text
    channel = {d["name"]: d["value"] for d in options(page, "channel")["series"][0]["data"]}
    assert channel == {label("channel", "phone"): 3, label("channel", "wechat"): 2, label("channel", "website"): 1}
    category = options(page, "category")
    assert sum(category["series"][0]["data"]) == 6
    assert "城乡建设" in category["yAxis"][0]["data"]
    linkage = options(page, "linkage")
    assert sum(sum(s["data"]) for s in linkage["series"]) >= 1
    assert all(name for name in linkage["xAxis"][0]["data"])
    page.wait_for_timeout(1500)  # the charts' entry animation, for the picture only
    screenshot(page, "dashboard")

    # A new order appears at the next refresh, without reloading the page.
    with live.pair.write("hotline") as ctx:
        register(ctx, ha, channel="phone", category="cxjs.szgl")
    page.evaluate("() => window.civiclinkDashboard.refresh()")
    page.wait_for_function("() => window.civiclinkCharts.channel.getOption().series[0].data"
                           ".reduce((a, d) => a + d.value, 0) === 7")

    wall = new_page()
    wall.set_viewport_size({"width": 1920, "height": 1080})
    login(wall, live.hotline_url, "leader", next="/dashboard?period=today&wall=1")
    wall.wait_for_function("() => window.civiclinkCharts && window.civiclinkCharts.volume")
    assert wall.evaluate("() => document.documentElement.scrollWidth") <= 1920
    wall.wait_for_timeout(1500)
    screenshot(wall, "dashboard-wall")


def test_110_dashboard_and_who_may_see_it(live, new_page):
    page = login(new_page(), live.police_url, "zhy")
    page.goto(live.police_url + "/dashboard")
    page.wait_for_function("() => window.civiclinkCharts && window.civiclinkCharts.state")
    assert "linkage" in page.evaluate("() => Object.keys(window.civiclinkCharts)")
    operator = login(new_page(), live.hotline_url, "operator")
    assert operator.locator(".nav a[href='/dashboard']").count() == 0
    response = operator.goto(live.hotline_url + "/dashboard")
    assert response.status == 403
    expect(operator.get_by_text(t("dash.forbidden"))).to_be_visible()
