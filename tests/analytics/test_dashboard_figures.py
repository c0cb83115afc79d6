"""The dashboard's figures on hand-built data with known answers: volumes by local day and hour, 同比 and 环比,
channel / first-level category / district, 满意率, 按时办结率, linkage counts both ways, hotspots; and the 110
site's 警单 figures with pushes awaiting 签收."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from tests.conftest import restore_base
from tests.helpers import act, incident_act, push_from_110, register, to_signed

from civiclink.analytics import service
from civiclink.errors import Forbidden
from civiclink.incidents.models import Incident
from civiclink.linkage.models import Transfer
from civiclink.sites import LinkedPair
from civiclink.workorders.states import Action

TZ = ZoneInfo("Asia/Shanghai")
# A Wednesday morning, local time; the database keeps UTC (02:30).
NOW = datetime(2026, 3, 18, 10, 30, tzinfo=TZ).astimezone(UTC)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


def at(ctx, moment):
    return ctx.at(moment)


def by_code(items) -> dict:
    return {i.code: i.count for i in items}


# -- periods ---------------------------------------------------------------------------------------------------


def test_periods_are_local_and_end_now():
    today = service.period_window("today", NOW, TZ)
    assert today.bucket == "hour" and len(today.starts) == 11  # 0时 … 10时
    assert today.start == local(2026, 3, 18, 0, 0) == datetime(2026, 3, 17, 16, 0, tzinfo=UTC)
    assert today.end == NOW
    week = service.period_window("7d", NOW, TZ)
    assert week.bucket == "day" and [s.day for s in week.starts] == [12, 13, 14, 15, 16, 17, 18]
    assert len(service.period_window("30d", NOW, TZ).starts) == 30
    year = service.period_window("year", NOW, TZ)
    assert year.bucket == "month" and [s.month for s in year.starts] == [1, 2, 3]
    earlier = service.year_earlier(week, TZ)
    assert earlier.start == local(2025, 3, 12, 0, 0) and earlier.end == local(2025, 3, 18, 10, 30)
    before = service.previous_window(today, "today", TZ)
    assert before.start == local(2026, 3, 17, 0, 0) and before.end == local(2026, 3, 17, 10, 30)
    assert service.previous_window(year, "year", TZ) is None
    # 29 February has no twin a year earlier: the 28th stands in.
    leap = service.period_window("today", local(2028, 2, 29, 9, 0), TZ)
    assert service.year_earlier(leap, TZ).start == local(2027, 2, 28, 0, 0)


# -- volumes ---------------------------------------------------------------------------------------------------


@pytest.fixture
def volumes(state, session, actors):
    """Orders at known local moments, channels, categories and places."""
    ctx = state.ctx(session)

    def reg(moment, **kw):
        return register(at(ctx, moment), actors, **kw)

    # Today (18 March): four, one of them 10 minutes after local midnight (still the 17th in UTC).
    reg(local(2026, 3, 18, 0, 10), channel="phone", category="hjbh.zswr", place="320612")
    reg(local(2026, 3, 18, 8, 10), channel="phone")
    reg(local(2026, 3, 18, 9, 0), channel="wechat")
    reg(local(2026, 3, 18, 10, 29), channel="website", category="hjbh.dqwr", place="320612")
    # Yesterday: one before this time of day (in 环比 for today), one just before midnight (not).
    reg(local(2026, 3, 17, 9, 0), channel="phone")
    reg(local(2026, 3, 17, 23, 59, 30), channel="phone", category="hjbh.zswr", place="320613")
    # Six days ago (in the 7 days), seven days ago at noon (not; and after 10:30, so not in the 7 days before).
    reg(local(2026, 3, 12, 12, 0), channel="app", category=None)
    reg(local(2026, 3, 11, 12, 0), channel="phone")
    # A year earlier: 09:00 is within the same span of the day, 11:00 is not.
    reg(local(2025, 3, 18, 9, 0), channel="phone")
    reg(local(2025, 3, 18, 11, 0), channel="phone")
    session.commit()
    return state.ctx(session, now=NOW)


def test_today_by_hour_with_year_on_year_and_yesterday(volumes):
    f = service.hotline_figures(volumes, "today")
    assert f.today == f.total == 4
    assert f.volume.bucket == "hour"
    assert f.volume.current == [1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert f.volume.last_year == [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert (f.year_on_year.previous, f.year_on_year.change_pct) == (1, 300.0)
    assert (f.period_on_period.previous, f.period_on_period.change_pct) == (1, 300.0)


def test_seven_days_by_day_channel_category_and_district(volumes):
    f = service.hotline_figures(volumes, "7d")
    assert f.today == 4 and f.total == 7
    assert f.volume.current == [1, 0, 0, 0, 0, 2, 4]  # 12th … 18th
    assert f.volume.last_year == [0, 0, 0, 0, 0, 0, 1]
    assert f.year_on_year.change_pct == 600.0
    # The 7 days before end at 11 March 10:30: the noon order of the 11th is after that.
    assert f.period_on_period.previous == 0 and f.period_on_period.change_pct is None
    assert by_code(f.by_channel) == {"phone": 4, "wechat": 1, "website": 1, "app": 1}
    assert [c.name for c in f.by_channel][:1] == ["电话"]
    # Second-level categories count towards their first level; "cxjs.szgl" is the helpers' default.
    assert by_code(f.by_category) == {"cxjs": 3, "hjbh": 3, None: 1}
    assert {c.code: c.name for c in f.by_category}["hjbh"] == "环境保护"
    # The helpers' default address is in 崇川区's 和平桥街道: a street counts towards its district.
    assert by_code(f.by_district) == {"320613": 5, "320612": 2}
    assert {c.code: c.name for c in f.by_district}["320612"] == "通州区"


def test_thirty_days_and_year(volumes):
    assert service.hotline_figures(volumes, "30d").total == 8
    year = service.hotline_figures(volumes, "year")
    assert year.volume.bucket == "month" and year.volume.current == [0, 0, 8]
    assert year.volume.last_year == [0, 0, 1] and year.period_on_period is None


def test_categories_beyond_ten_fold_into_other(state, session, actors):
    ctx = state.ctx(session)
    d = ctx.directory
    firsts = sorted(c.code for c in d.categories.values() if c.parent_id is None and c.active)
    assert len(firsts) > service.TOP_CATEGORIES
    for i, code in enumerate(firsts):
        parent = d.category_by_code(code)
        child = next((c.code for c in d.categories.values() if c.parent_id == parent.id and c.active), code)
        for _ in range(1 + (i < 3)):  # the first three twice
            register(at(ctx, NOW - timedelta(hours=1)), actors, category=child, channel="website")
    session.commit()
    items = service.orders_by_category(session, d, service.period_window("7d", NOW, TZ))
    assert len(items) == service.TOP_CATEGORIES + 1 and items[-1].code == service.OTHER
    # Largest first, ties by code: the alphabetically last singles are the ones folded away.
    assert items[-1].count == len(firsts) - service.TOP_CATEGORIES
    assert [i.count for i in items[:4]] == [2, 2, 2, 1] and items[0].code == firsts[0]


# -- satisfaction and on-time completion -----------------------------------------------------------------------


def test_satisfaction_rate_counts_valid_visits_in_the_period(state, session, actors):
    ctx = state.ctx(session)
    for level, when in [(1, NOW - timedelta(days=1)), (3, NOW - timedelta(days=2)), (4, NOW - timedelta(days=3)),
                        (None, NOW - timedelta(days=1)), (2, NOW - timedelta(days=40))]:
        c = at(ctx, when - timedelta(hours=5))
        order = to_signed(c, actors)
        act(c, order, Action.REPLY, actors["staff_csgl"], content="已处理")
        act(c, order, Action.APPROVE_REPLY, actors["dispatcher"])
        body = {"satisfaction": level} if level else {"reached": False}
        act(at(ctx, when), order, Action.CALLBACK, actors["callback"], **body)
    session.commit()
    rate = service.satisfaction_rate(session, service.period_window("30d", NOW, TZ))
    # (非常满意 1 + 一般 1) ÷ three reached visits; the unreachable one and the one 40 days ago are not counted.
    assert (rate.numerator, rate.denominator, rate.rate) == (2, 3, 66.67)
    assert [lv.count for lv in rate.levels] == [1, 0, 1, 1, 0] and rate.levels[0].name == "非常满意"
    empty = service.satisfaction_rate(session, service.period_window("today", NOW, TZ))
    assert (empty.denominator, empty.rate) == (0, None)


def test_on_time_completion_rate_on_the_handle_clock(state, session, actors):
    """Urgent orders: 24 h to reply (natural hours)."""
    ctx = state.ctx(session)

    def replied(registered, after):
        order = to_signed(at(ctx, registered), actors, urgency="urgent")
        act(at(ctx, registered + after), order, Action.REPLY, actors["staff_csgl"], content="已处理")

    replied(NOW - timedelta(days=3), timedelta(hours=2))  # on time
    replied(NOW - timedelta(days=3), timedelta(hours=30))  # late
    register(at(ctx, NOW - timedelta(days=2)), actors, urgency="urgent")  # overdue since yesterday, no reply
    register(at(ctx, NOW - timedelta(hours=2)), actors, urgency="urgent")  # not yet due: not counted
    replied(NOW - timedelta(days=20), timedelta(hours=1))  # on time, 20 days ago
    session.commit()
    week = service.on_time_completion_rate(session, service.period_window("7d", NOW, TZ))
    assert (week.numerator, week.denominator, week.rate) == (1, 3, 33.33)
    month = service.on_time_completion_rate(session, service.period_window("30d", NOW, TZ))
    assert (month.numerator, month.denominator, month.rate) == (2, 4, 50.0)


def test_first_attempt_connection_rate_is_not_invented(state, session):
    """No call ever recorded: the figure says so rather than 0 (with calls: tests/callcentre/test_calls.py)."""
    figure = service.first_attempt_connection_rate(session, NOW - timedelta(days=1), NOW)
    assert figure.available is False and figure.rate is None and figure.reason == "no_call_data"


# -- linkage and hotspots --------------------------------------------------------------------------------------


def test_linkage_counts_each_way_on_the_hotline(state, session, actors):
    ctx = state.ctx(session)
    for i in range(2):
        order = register(at(ctx, NOW - timedelta(hours=3)), actors, title=f"邻居家中打斗（{i}）")
        act(at(ctx, NOW - timedelta(hours=3)), order, Action.TRANSFER_TO_110, actors["operator"],
            reason="涉嫌违法犯罪，属110受理范围")
    accepted = push_from_110(at(ctx, NOW - timedelta(hours=5)))
    act(at(ctx, NOW - timedelta(hours=4)), accepted, Action.ACCEPT_TRANSFER, actors["dispatcher"])
    rejected = push_from_110(at(ctx, NOW - timedelta(hours=1)))
    act(at(ctx, NOW - timedelta(minutes=30)), rejected, Action.REJECT_TRANSFER, actors["dispatcher"],
        reason="属人社部门职责，请告知来电人拨打12333")
    push_from_110(at(ctx, NOW - timedelta(minutes=20)))  # waiting, within the 2 h limit
    push_from_110(at(ctx, NOW - timedelta(days=12)))  # waiting since long before the 7 days: overdue now
    session.commit()
    assert session.execute(select(Transfer.direction)).scalars().all().count("in") == 4

    to_110, from_110 = service.linkage_flows(session, service.period_window("7d", NOW, TZ), "hotline")
    assert (to_110.flow, to_110.direction, to_110.total, to_110.waiting) == ("hotline_to_police", "out", 2, 2)
    assert by_code(to_110.by_kind) == {"transfer": 2} and to_110.by_kind[0].name == "转办"
    assert (from_110.flow, from_110.direction) == ("police_to_hotline", "in")
    assert (from_110.total, from_110.accepted, from_110.rejected, from_110.waiting) == (3, 1, 1, 1)
    assert (from_110.waiting_now, from_110.overdue_now) == (2, 1)
    assert from_110.avg_accept_minutes == 60.0


def test_hotspots_rise_above_their_own_baseline(state, session, actors):
    """The dashboard's rises (analytics/hotspots.py; more cases in tests/analytics/test_hotspots.py): a window
    fires on its own pair's 28 days before, with a Poisson / negative-binomial tail of at most 0.001."""
    ctx = state.ctx(session)

    def many(n, first, step, category, place):
        for i in range(n):
            register(at(ctx, first - i * step), actors, category=category, place=place)

    hour, day = timedelta(hours=1), timedelta(days=1)
    # 噪声 in 崇川区: 4 in the last 24 h against 1 a day in the 7 days before and a burst of 5 eight days ago:
    # a pair that has bursts, so 4 is not unusual for it (negative binomial tail ≈ 0.01).
    many(4, NOW - hour, hour, "hjbh.zswr", "320613")
    many(7, NOW - day - hour, day, "hjbh.zswr", "320613")
    many(5, NOW - timedelta(days=8, hours=1), hour, "hjbh.zswr", "320613")
    # 市政管理 in 通州区: 3 in the last 24 h, none in the 28 days before → new, fires.
    many(3, NOW - hour, hour, "cxjs.szgl", "320612")
    # 市政管理 in 崇川区: 3 against 2 a day → not unusual.
    many(3, NOW - hour, hour, "cxjs.szgl", "320613")
    many(14, NOW - day - hour, timedelta(hours=11), "cxjs.szgl", "320613")
    # 2 in the last 24 h is below the minimum count, whatever the history.
    many(2, NOW - hour, hour, "hjbh.dqwr", "320612")
    # 大气污染 in 崇川区: 6 in the last 24 h against 1 a day, steadily → fires (Poisson tail ≈ 0.0006).
    many(6, NOW - hour, hour, "hjbh.dqwr", "320613")
    many(28, NOW - day - hour, day, "hjbh.dqwr", "320613")
    session.commit()
    found = service.hotspots(session, ctx.directory, NOW)
    assert [(h.category.code, h.place.code) for h in found] == [("cxjs.szgl", "320612"), ("hjbh.dqwr", "320613")]
    new, steady = found
    assert (new.kind, new.recent, new.baseline_total, new.ratio, new.place.name) == ("rise", 3, 0, None, "通州区")
    assert (steady.recent, steady.baseline_total, steady.baseline_daily, steady.ratio) == (6, 28, 1.0, 6.0)
    assert steady.p_value < 0.001 and len(steady.members) == 6 and steady.members_total == 6
    assert steady.start == NOW - day and steady.end == NOW and "前28日平均每日 1.00 件" in steady.reason


# -- roles and the 110 site ------------------------------------------------------------------------------------


def test_only_dashboard_roles_read_the_figures(state, session, actors):
    ctx = state.ctx(session)
    for username in ("leader", "supervisor", "admin"):
        assert service.dashboard(ctx, actors[username], "today").hotline is not None
    for username in ("operator", "dispatcher", "callback", "staff_csgl", "police"):
        with pytest.raises(Forbidden):
            service.dashboard(ctx, actors[username], "today")


@pytest.fixture
def pair(state, police_app_state):
    restore_base(police_app_state)
    return LinkedPair(state, police_app_state)


def test_police_figures_count_incidents_and_pushes_awaiting_sign(pair):
    ha, pa = pair.hotline_actors, pair.police_actors
    now = datetime.now(UTC)
    # Two pushes from 12345 an hour ago: past 110's 10-minute 签收 limit; one is signed for, one still waits.
    pair.now = now - timedelta(hours=1)
    with pair.write("hotline") as ctx:
        for i in range(2):
            order = register(ctx, ha, title=f"邻居家中打斗（{i}）")
            act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围")
    pair.pump()
    pair.now = now - timedelta(minutes=50)
    with pair.write("police") as ctx:
        first = ctx.session.execute(select(Incident).order_by(Incident.id).limit(1)).scalar_one()
        incident_act(ctx, first, "sign", pa["jjy"])
    pair.now = None
    with pair.read("police") as ctx:
        assert service.can_read_dashboard(pa["zhy"], "police") and not service.can_read_dashboard(pa["jjy"], "police")
        # 7 days rather than today: an hour ago may be yesterday when the suite runs just after midnight.
        figures = service.dashboard(ctx, pa["zhy"], "7d").police
    assert figures.total == 2
    assert by_code(figures.by_state) == {"received": 1, "signed": 1}
    assert figures.by_state[0].name == "待签收"
    assert (figures.pushes_waiting, figures.pushes_overdue, figures.open_now) == (1, 1, 1)
    to_110, from_110 = figures.linkage
    assert (to_110.flow, to_110.direction, to_110.total, to_110.accepted, to_110.waiting_now) == (
        "hotline_to_police", "in", 2, 1, 1)
    assert to_110.avg_accept_minutes == 10.0
    assert (from_110.flow, from_110.direction, from_110.total) == ("police_to_hotline", "out", 0)
    # The hotline sees the same two transfers as its own outgoing ones.
    with pair.read("hotline") as ctx:
        hotline = service.dashboard(ctx, ha["leader"], "7d").hotline
    assert hotline.linkage[0].total == 2 and hotline.linkage[0].direction == "out"


def test_year_on_year_days_across_29_february():
    """Seven days holding 29 February 2028: the year-earlier 28 February is counted once, under 28 February."""
    window = service.period_window("7d", local(2028, 3, 2, 12, 0), TZ)
    earlier = service.year_earlier(window, TZ)
    bounds = earlier.boundaries()
    feb28 = window.starts.index(local(2028, 2, 28, 0, 0))
    assert bounds[feb28] == local(2027, 2, 28, 0, 0).astimezone(UTC)
    assert bounds[feb28 + 1] == local(2027, 3, 1, 0, 0).astimezone(UTC)  # the 28th's bucket is a whole day
    assert bounds[feb28 + 2] == bounds[feb28 + 1]  # 29 February: nothing a year earlier
    assert all(a <= b for a, b in pairwise(bounds))
