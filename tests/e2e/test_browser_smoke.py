"""The browser tests' footing: both sites live, Chromium renders their Chinese pages, the vendored ECharts works
with no network, and a transfer crosses from 12345 to 110 and back while the browser watches."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from tests.e2e.browser import ECHARTS, login, rendered_fonts, screenshot
from tests.helpers import act, register
from tests.processes import Api, wait_for

from civiclink.incidents.models import Incident
from civiclink.web.messages import t
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State

pytestmark = pytest.mark.browser

CJK_FONT = "Noto Sans CJK SC"


def transfer_to_110(live, title: str = "邻居家中传出打斗声") -> str:
    """A 工单 registered and transferred to 110 (R-201) on the 12345's database; the live relay carries it."""
    ha = live.pair.hotline_actors
    with live.pair.write("hotline") as ctx:
        order = register(ctx, ha, title=title, content=f"来电称{title}，持续十多分钟。")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围", consent=True)
        return order.number


def incident_for(live, number: str) -> Incident | None:
    with live.police_state.sessions() as s:
        return s.execute(select(Incident).where(Incident.hotline_number == number)).scalar_one_or_none()


def test_login_page_and_the_dispatchers_home(live, page):
    with live.pair.write("hotline") as ctx:
        register(ctx, live.pair.hotline_actors)  # one order awaiting dispatch
    page.goto(live.hotline_url + "/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == t("login.title")
    screenshot(page, "login")

    login(page, live.hotline_url, "dispatcher")
    assert page.url == live.hotline_url + "/"
    assert page.locator("h1").inner_text() == t("home.hello", name="dispatcher")
    assert "派单员" in page.locator(".facts").inner_text()
    tile = page.locator(".tile", has_text=t("work.awaiting_dispatch"))
    assert tile.locator(".count").inner_text() == "1"
    screenshot(page, "home-dispatcher")


def test_wrong_password_shows_the_reason_next_to_the_form_and_keeps_the_username(live, page):
    login(page, live.hotline_url, "dispatcher", password="wrong-password", expect_ok=False)
    assert page.url.startswith(live.hotline_url + "/login")
    error = page.locator("form:has(#password) [role=alert]")
    assert error.is_visible() and error.inner_text() == t("login.failed")
    assert page.input_value("#username") == "dispatcher"
    assert page.input_value("#password") == ""


def test_chinese_renders_in_a_cjk_font_not_as_boxes(live, page):
    login(page, live.hotline_url, "supervisor")
    assert page.evaluate(f"document.fonts.check('16px \"{CJK_FONT}\"')")
    # What Chromium really drew the heading with: every glyph from the Noto CJK font, none from a fallback.
    fonts = rendered_fonts(page, "h1")
    assert set(fonts) == {CJK_FONT}, fonts
    assert fonts[CJK_FONT] == len(page.locator("h1").inner_text())
    # And two different characters are two different drawings (tofu boxes would all be the same).
    widths = page.evaluate("""() => {
        const c = document.createElement('canvas').getContext('2d');
        c.font = '32px "Noto Sans CJK SC"';
        const a = c.measureText('派单').width, b = c.measureText('ab').width;
        return [a, b];
    }""")
    assert widths[0] > widths[1] > 0


def test_110_site_shows_a_push_that_came_through_the_exchange(live, page):
    number = transfer_to_110(live)
    incident = wait_for(lambda: incident_for(live, number), timeout=10, what="the 警单 on the 110 site")
    assert incident.state == "received"

    login(page, live.police_url, "jjy")
    tile = page.locator(".tile", has_text=t("work.incidents_received"))
    assert tile.locator(".count").inner_text() == "1"
    assert "red" in (tile.get_attribute("class") or "")
    assert "110" in page.locator("header").inner_text()
    screenshot(page, "home-110")


def test_a_transfer_and_110s_result_cross_between_the_live_sites_within_seconds(live):
    started = time.monotonic()
    number = transfer_to_110(live, "楼道里有人持刀威胁")
    incident = wait_for(lambda: incident_for(live, number), timeout=10, what="the 警单 on the 110 site")
    arrived = time.monotonic() - started
    with Api(live.police, "jjy") as jjy, Api(live.police, "zhy") as zhy:
        inc = incident.number
        body = jjy.post(f"/api/incidents/{inc}/sign", {"version": incident.version})
        body = zhy.post(f"/api/incidents/{inc}/dispatch", {"version": body["version"]})
        body = zhy.post(f"/api/incidents/{inc}/arrive", {"version": body["version"]})
        finished = time.monotonic()
        zhy.post(f"/api/incidents/{inc}/finish", {"version": body["version"], "situation": "民警到场，已控制持刀人员",
                                                  "result_note": "带回派出所调查"})

    def written_back():
        with live.hotline_state.sessions() as s:
            order = s.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
            return order.state == State.AWAITING_CALLBACK and order

    order = wait_for(written_back, timeout=10, what="110's result written back to 12345")
    back = time.monotonic() - finished
    assert "带回派出所调查" in order.reply_content
    assert arrived < 3 and back < 3, (arrived, back)
    assert live.wait_quiet(5)


def test_vendored_echarts_draws_a_chinese_chart_with_no_network(live, page, browser_log):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(live.hotline_url + "/login")
    page.add_script_tag(url=ECHARTS)
    result = page.evaluate("""() => {
        const draw = (renderer) => {
            const div = document.createElement('div');
            div.style.cssText = 'width: 480px; height: 320px';
            document.body.appendChild(div);
            const chart = echarts.init(div, null, {renderer, animation: false});
            chart.setOption({
                animation: false,
                title: {text: '本周工单'},
                xAxis: {type: 'category', data: ['投诉', '求助', '咨询']},
                yAxis: {type: 'value'},
                series: [{type: 'bar', name: '工单数', data: [12, 7, 3]}],
            });
            return [div, chart];
        };
        const [canvasDiv, canvasChart] = draw('canvas');
        const [svgDiv] = draw('svg');
        const option = canvasChart.getOption();
        return {
            version: echarts.version,
            canvas: !!canvasDiv.querySelector('canvas'),
            svgText: Array.from(svgDiv.querySelectorAll('svg text')).map(t => t.textContent),
            labels: option.xAxis[0].data,
            data: option.series[0].data,
        };
    }""")
    assert result["version"] == ECHARTS.split("/")[-2].removeprefix("echarts-")
    assert result["canvas"]
    assert result["labels"] == ["投诉", "求助", "咨询"] and result["data"] == [12, 7, 3]
    assert {"本周工单", "投诉", "求助", "咨询"} <= set(result["svgText"])
    assert any(url.endswith(ECHARTS) for url in requests)
    assert all(url.startswith(live.hotline_url) for url in requests), requests
    assert browser_log.external == []
