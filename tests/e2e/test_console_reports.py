"""统计报告 in real Chromium: the report's charts are drawn (SVG) with Chinese labels and the numbers of the orders
the test made, the seed's sentence is on the page, and the Excel and PDF download links answer with files."""

from __future__ import annotations

import pytest
from tests.e2e.browser import login, screenshot
from tests.helpers import register

from civiclink.i18n import label

pytestmark = pytest.mark.browser


def test_report_page_draws_its_charts_and_offers_the_files(live, new_page):
    ha = live.pair.hotline_actors
    with live.pair.write("hotline") as ctx:
        today = ctx.now.astimezone(ctx.settings.tz).date().isoformat()
        for channel in ("phone", "phone", "wechat"):
            register(ctx, ha, channel=channel, category="cxjs.szgl")
    page = login(new_page(), live.hotline_url, "leader")
    page.goto(f"{live.hotline_url}/reports?start={today}&end={today}")
    page.wait_for_function("() => window.civiclinkCharts && window.civiclinkCharts.channel")
    assert "共受理各类诉求3件" in page.inner_text("[data-role=headline]")
    assert "暂无话务数据" in page.inner_text("[data-tile=first_attempt]")
    svg_text = page.eval_on_selector_all("[data-chart=channel] svg text", "els => els.map(e => e.textContent)")
    assert any(label("channel", "phone") in s for s in svg_text), svg_text
    by_day = page.evaluate("() => window.civiclinkCharts.by_day.getOption()")
    assert by_day["series"][0]["data"] == [3]
    for kind, magic in (("xlsx", b"PK"), ("pdf", b"%PDF")):
        href = page.get_attribute(f"[data-download={kind}]", "href")
        response = page.request.get(live.hotline_url + href)
        assert response.status == 200 and response.body().startswith(magic), kind
    page.wait_for_timeout(1000)  # the charts' entry animation, for the picture only
    screenshot(page, "reports")
