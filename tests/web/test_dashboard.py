"""The dashboard (大屏) in the console and its API: who may see it (403 otherwise, and no link), the page with its
Chinese labels, the ECharts options built on the server, the JSON the page polls, the wall-screen mode, and the
110 site's dashboard."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import restore_base
from tests.helpers import console_login, register

from civiclink.app import create_app
from civiclink.web import dashboard as web_dashboard
from civiclink.web.messages import messages, t

WEB = Path(web_dashboard.__file__).resolve().parent




def embedded_view(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="dash-view">(.*?)</script>', html, re.DOTALL)
    assert match, "the page embeds its view for the first draw"
    return json.loads(match.group(1))


@pytest.fixture
def some_orders(state, session, actors):
    """Three orders now, in two first-level categories and two districts."""
    moment = state.ctx(session)
    register(moment, actors, channel="phone")
    register(moment, actors, channel="wechat", category="hjbh.zswr", place="320612")
    register(moment, actors, channel="phone", category="hjbh.dqwr", place="320612")
    session.commit()


# -- who may see it --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["operator", "dispatcher", "callback", "staff_csgl"])
def test_other_roles_get_no_link_no_page_and_no_data(client, auth, username):
    console_login(client, username)
    assert 'href="/dashboard"' not in client.get("/").text
    page = client.get("/dashboard")
    assert page.status_code == 403 and t("dash.forbidden") in page.text
    assert "echarts" not in page.text
    data = client.get("/dashboard/data")
    assert data.status_code == 403 and data.json()["code"] == "forbidden"
    api = client.get("/api/analytics/dashboard", headers=auth(username))
    assert api.status_code == 403 and api.json()["code"] == "forbidden"


@pytest.mark.parametrize("username", ["leader", "supervisor", "admin"])
def test_dashboard_roles_get_link_page_and_api(client, auth, username):
    console_login(client, username)
    assert 'href="/dashboard"' in client.get("/").text
    assert client.get("/dashboard").status_code == 200
    api = client.get("/api/analytics/dashboard?period=today", headers=auth(username))
    assert api.status_code == 200 and api.json()["period"] == "today" and api.json()["hotline"] is not None


def test_without_login(client):
    r = client.get("/dashboard?period=30d", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fdashboard%3Fperiod%3D30d"
    data = client.get("/dashboard/data")
    assert data.status_code == 401 and data.json()["detail"] == t("login.expired")
    assert client.get("/api/analytics/dashboard").status_code == 401


def test_api_refuses_an_unknown_period(client, auth):
    r = client.get("/api/analytics/dashboard?period=week", headers=auth("leader"))
    assert r.status_code == 422 and r.json()["code"] == "invalid"


# -- the page --------------------------------------------------------------------------------------------------


def test_page_shows_chinese_tiles_charts_and_definitions(client, some_orders):
    console_login(client, "leader")
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    for key in ("dash.title", "dash.tile.today", "dash.tile.satisfaction", "dash.tile.on_time",
                "dash.tile.first_attempt", "dash.tile.first_attempt.none", "dash.tile.to_110", "dash.tile.from_110",
                "dash.hotspots", "dash.hotspot.none", "dash.defs", "dash.wall.on", "dash.period.7d"):
        assert t(key) in html, key
    assert t("dash.def.satisfaction") in html  # the numerator and denominator are stated on the page
    # Vendored scripts only: nothing from a CDN.
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert "/static/vendor/echarts-6.1.0/echarts.min.js" in scripts and "/static/dashboard.js" in scripts
    assert all(src.startswith("/static/") for src in scripts)
    assert '<link rel="stylesheet" href="/static/dashboard.css">' in html
    for name in ("volume", "channel", "category", "district", "satisfaction", "linkage"):
        assert f'data-chart="{name}"' in html
    view = embedded_view(html)
    tiles = {tile["key"]: tile for tile in view["tiles"]}
    assert tiles["today"]["value"] == "3" and tiles["total"]["label"] == t("dash.tile.total", period="近7日")
    assert tiles["first_attempt"]["value"] == "暂无话务数据"
    assert tiles["satisfaction"]["value"] == t("dash.no_data")  # no visits yet: no made-up rate
    assert tiles["satisfaction"]["note"] == "满意 0 ÷ 有效回访 0"
    for static in ("dashboard.js", "dashboard.css"):
        assert client.get(f"/static/{static}").status_code == 200


def test_chart_options_carry_the_data_and_chinese_axis_labels(client, some_orders):
    console_login(client, "leader")
    charts = embedded_view(client.get("/dashboard?period=7d").text)["charts"]
    volume = charts["volume"]
    assert volume["title"]["text"] == "受理量走势"
    labels = volume["xAxis"]["data"]
    assert len(labels) == 7 and all(re.fullmatch(r"\d{1,2}月\d{1,2}日", x) for x in labels)
    assert [s["name"] for s in volume["series"]] == ["本期", "去年同期"]
    assert sum(volume["series"][0]["data"]) == 3 and volume["series"][0]["data"][-1] == 3
    assert volume["yAxis"]["name"] == "件"
    category = charts["category"]
    # A horizontal bar: categories on the y axis, the largest on top (ECharts draws upwards).
    assert category["yAxis"]["data"] == ["城乡建设", "环境保护"] and category["series"][0]["data"] == [1, 2]
    district = charts["district"]
    assert district["yAxis"]["data"] == ["崇川区", "通州区"] and district["series"][0]["data"] == [1, 2]
    channel = {d["name"]: d["value"] for d in charts["channel"]["series"][0]["data"]}
    assert channel == {"电话": 2, "微信": 1}
    linkage = charts["linkage"]
    assert linkage["xAxis"]["data"] == ["12345→110", "110→12345"]
    assert charts["satisfaction"]["title"]["subtext"] == t("dash.no_data")


def test_today_is_by_hour_and_an_unknown_period_falls_back(client, some_orders):
    console_login(client, "supervisor")
    today = embedded_view(client.get("/dashboard?period=today").text)
    assert today["period"] == "today" and today["charts"]["volume"]["xAxis"]["data"][0] == "0时"
    keys = [tile["key"] for tile in today["tiles"]]
    assert "total" not in keys and keys[:3] == ["today", "yoy", "pop"]  # today's total is the today tile
    assert {tile["key"]: tile for tile in today["tiles"]}["pop"]["note"].startswith("昨日同时段")
    assert 'aria-current="true">今日</a>' in client.get("/dashboard?period=today").text
    year = embedded_view(client.get("/dashboard?period=year").text)
    assert year["charts"]["volume"]["xAxis"]["data"][0] == "1月"
    assert "pop" not in {tile["key"] for tile in year["tiles"]}  # the year's comparison is 同比 only
    assert embedded_view(client.get("/dashboard?period=bogus").text)["period"] == "7d"


def test_wall_mode_is_dark_with_larger_type(client):
    console_login(client, "leader")
    html = client.get("/dashboard?wall=1").text
    assert re.search(r'<body class="[^"]*\bwall\b', html) and t("dash.wall.off") in html
    assert 'data-wall="1"' in html and 'data-source="/dashboard/data?period=7d&amp;wall=1"' in html
    view = embedded_view(html)
    assert view["wall"] is True and view["charts"]["volume"]["textStyle"]["fontSize"] == 17
    normal = embedded_view(client.get("/dashboard").text)
    assert normal["charts"]["volume"]["textStyle"]["fontSize"] == 13
    assert '<body class="dash-page">' in client.get("/dashboard").text


def test_the_polled_json_follows_new_orders(client, state, session, actors, some_orders):
    console_login(client, "leader")
    first = client.get("/dashboard/data?period=today")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    before = {tile["key"]: tile["value"] for tile in first.json()["tiles"]}
    register(state.ctx(session), actors)
    session.commit()
    after = client.get("/dashboard/data?period=today").json()
    assert int({tile["key"]: tile["value"] for tile in after["tiles"]}["today"]) == int(before["today"]) + 1
    assert after["figures"]["hotline"]["today"] == int(before["today"]) + 1
    assert after["updated"].startswith("更新于 ")
    assert set(after) >= {"tiles", "charts", "hotspots", "figures", "generated_at"}


def test_hotspots_are_listed_with_their_reason(client, state, session, actors):
    ctx = state.ctx(session)
    for minutes in (5, 10, 15, 20):
        register(ctx.at(datetime.now(UTC) - timedelta(minutes=minutes)), actors, category="hjbh.zswr", place="320613")
    session.commit()
    console_login(client, "leader")
    rows = client.get("/dashboard/data").json()["hotspots"]
    # One caller four times is a repeat, not a cluster (at least two callers); the rise is the hotspot.
    assert [row["kind"] for row in rows] == ["rise"]
    row = rows[0]
    assert (row["category"], row["place"], row["recent"], row["baseline"], row["ratio"]) == (
        "【激增】环境保护/噪声污染", "崇川区", 4, "日均 0.0 件", "新出现")
    assert len(row["members"]) == 4 and all(n in row["reason"] for n in row["members"])
    assert "「环境保护/噪声污染」在崇川区24小时内 4 件，前28日平均每日 0.00 件" in row["reason"]
    assert "「环境保护/噪声污染」在崇川区24小时内 4 件" in client.get("/dashboard").text


def test_every_dashboard_word_is_in_the_catalogue():
    catalogue = messages()
    sources = [(WEB / "dashboard.py").read_text(encoding="utf-8"),
               (WEB / "templates" / "dashboard.html").read_text(encoding="utf-8")]
    used = {key for text in sources for key in re.findall(r"""t\(\s*["'](dash\.[a-z0-9_.]+)["']""", text)}
    assert len(used) > 40
    assert not {key for key in used if key not in catalogue}
    # Keys built from a variable (periods, tiles, flows) exist for every value they can take.
    for key in ("dash.period.today", "dash.period.30d", "dash.period.year", "dash.tile.on_time.note",
                "dash.flow.hotline_to_police", "dash.flow.police_to_hotline"):
        assert key in catalogue
    # No Chinese text hidden in the dashboard's code or script: words come from the catalogue.
    script = (WEB / "static" / "dashboard.js").read_text(encoding="utf-8")
    code = re.sub(r'""".*?"""|#.*', "", sources[0], flags=re.DOTALL)
    for text in (code, re.sub(r"//.*", "", script)):
        assert not re.search(r"[\u4e00-\u9fff]", text)


# -- the 110 site ----------------------------------------------------------------------------------------------


@pytest.fixture
def police(police_app_state):
    restore_base(police_app_state)
    with TestClient(create_app(police_app_state.settings, state=police_app_state)) as client:
        yield client


def test_police_dashboard_for_commanders_and_leaders_only(police):
    console_login(police, "jjy")
    assert 'href="/dashboard"' not in police.get("/").text
    page = police.get("/dashboard")
    assert page.status_code == 403 and t("dash.forbidden.police") in page.text
    for username in ("zhy", "leader"):
        police.cookies.clear()
        console_login(police, username)
        page = police.get("/dashboard")
        assert page.status_code == 200, username
        view = embedded_view(page.text)
        assert set(view["charts"]) == {"volume", "state", "linkage"} and view["hotspots"] == []
        assert view["charts"]["volume"]["title"]["text"] == "警单量走势"
        tiles = {tile["key"]: tile for tile in view["tiles"]}
        assert tiles["today"]["label"] == "今日警单" and tiles["pushes_waiting"]["label"] == "12345推送待签收"
        assert t("dash.hotspots") not in page.text and t("dash.def.pushes") in page.text
        data = police.get("/dashboard/data?period=30d").json()
        assert data["figures"]["site_role"] == "police" and data["figures"]["police"]["total"] == 0
