"""The KPI roll-up gives the same figures as the base tables: after it is built, after changes reach back into
built days, per site, district and unit, for days, months and a year (docs/kpi.md, "Pre-aggregation")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from tests.helpers import act, register, to_awaiting_callback, to_signed

from civiclink.analytics import kpis, service
from civiclink.analytics.models import KpiRollup, KpiRollupPeriod
from civiclink.analytics.rollup import refresh
from civiclink.workorders.states import Action

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 18, 10, 30, tzinfo=TZ).astimezone(UTC)  # a Wednesday morning


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


def _life(ctx, actors, moment):
    """A day's worth of 工单 at ``moment``: closed satisfied, returned-redispatched-reopened, closed at intake,
    transferred to 110, dispatched and never signed (its 签收 clock runs past its deadline)."""
    c = ctx.at(moment)
    o1 = to_awaiting_callback(c, actors)
    o2 = to_signed(c, actors, place="320612")  # 通州区
    act(c, o2, Action.RETURN, actors["staff_csgl"], reason="不属本单位", basis="职责清单")
    act(c, o2, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    act(c, o2, Action.SIGN, actors["staff_zjj"])
    act(c, o2, Action.REPLY, actors["staff_zjj"], content="已修复")
    act(c, o2, Action.APPROVE_REPLY, actors["dispatcher"])
    register(c, actors, request_type="consultation", intake_answer="公积金可在线提取。", channel="website")
    o4 = register(c, actors)
    act(c, o4, Action.TRANSFER_TO_110, actors["operator"], reason="涉嫌违法犯罪", consent=True)
    o5 = register(c, actors)
    act(c, o5, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    return o1, o2, o5


def _figures(ctx):
    """Everything the roll-up answers, as plain data: KPI sets (a year, 30 days, one day, a district), the
    scorecard and the 大屏's volumes, channels, categories, districts and rates."""
    session, d, tz = ctx.session, ctx.directory, TZ
    today = NOW.astimezone(TZ).date()
    ids, district = kpis.district_scope(d, "320612")
    scopes = {
        "year": kpis.Scope.local_days(today - timedelta(days=364), today, tz),
        "30d": kpis.Scope.local_days(today - timedelta(days=29), today - timedelta(days=1), tz),
        "day": kpis.Scope.local_days(today - timedelta(days=20), today - timedelta(days=20), tz),
        "today": kpis.Scope.local_days(today, today, tz),
        "today so far": kpis.Scope(local(2026, 3, 18, 0, 0), NOW, tz=tz),
        "this morning": kpis.Scope(local(2026, 3, 18, 7, 45), local(2026, 3, 18, 9, 10), tz=tz),
        "district": kpis.Scope.local_days(today - timedelta(days=60), today, tz, place_ids=ids, district_id=district),
        "odd hours": kpis.Scope(local(2026, 2, 5, 13, 0), local(2026, 3, 9, 7, 0), tz=tz),
    }
    out = {name: kpis.kpi_set(session, s, directory=d, tz=tz, site_role="hotline").model_dump()
           for name, s in scopes.items()}
    out["scorecard"] = [r.model_dump() for r in kpis.scorecard(session, scopes["year"], directory=d)]
    for period in ("7d", "30d", "year"):
        f = service.hotline_figures(ctx, period)
        out[f"大屏 {period}"] = f.model_dump(include={"today", "volume", "total", "year_on_year", "period_on_period",
                                                   "by_channel", "by_category", "by_district", "satisfaction",
                                                   "on_time_completion"})
    return out


def _live(ctx):
    """The figures read from the base tables only (the roll-up's marks removed in a transaction rolled back)."""
    ctx.session.execute(delete(KpiRollupPeriod))
    try:
        return _figures(ctx)
    finally:
        ctx.session.rollback()


def test_rolled_up_figures_equal_the_base_tables_and_follow_changes(state, session, actors):
    ctx = state.ctx(session, now=NOW)
    early = _life(ctx, actors, local(2026, 2, 3, 9, 15))  # February: a whole month, rolled up as a month
    _life(ctx, actors, local(2026, 2, 26, 23, 50))  # late at night: the local day, not the UTC one
    middle = _life(ctx, actors, local(2026, 2, 26, 11, 0))
    _life(ctx, actors, local(2025, 3, 17, 10, 0))  # a year earlier (同比)
    _life(ctx, actors, local(2026, 3, 18, 8, 0))  # today: its finished hours are rolled up, not the day
    # 回访 days after the reply: the decisions and satisfaction fall on later days than the registration.
    act(ctx.at(local(2026, 2, 5, 10, 0)), early[0], Action.CALLBACK, actors["callback"], satisfaction=2,
        resolved=True)
    act(ctx.at(local(2026, 3, 2, 16, 0)), middle[1], Action.CALLBACK, actors["callback"], satisfaction=4,
        resolved=False)
    session.commit()
    live = _figures(ctx)
    assert live["year"]["volume"] == 20 and live["day"]["volume"] == 10  # 26 February, twice

    report = refresh(state, now=NOW)
    assert date(2026, 3, 17) in report.built and date(2026, 3, 18) not in report.built  # today is not
    assert report.hours == 10  # 00:00–10:00 of today; 10:00–10:30 is going on
    assert date(2026, 2, 1) in report.months and date(2026, 3, 1) not in report.months  # March is not over
    session.rollback()  # a new read transaction: it sees what the refresh wrote
    assert session.execute(select(func.count()).select_from(KpiRollup)).scalar_one() > 0
    assert _figures(ctx) == live
    # …and they are read from the roll-up: a month's rows changed by hand change the year (then undone).
    session.execute(update(KpiRollup).where(KpiRollup.metric == "volume.type", KpiRollup.period == "month",
                                            KpiRollup.grain == "site", KpiRollup.key == "consultation")
                    .values(d=KpiRollup.d + 1000))
    assert kpis.volume(session, kpis.Scope.local_days(date(2026, 1, 1), date(2026, 3, 18), TZ)) == 1020
    session.rollback()
    # …and today's finished hours too: the 08:00 hour's rows, not the base tables, answer for this morning.
    session.execute(update(KpiRollup).where(KpiRollup.metric == "volume.type", KpiRollup.period == "h08",
                                            KpiRollup.grain == "site", KpiRollup.key == "consultation")
                    .values(d=KpiRollup.d + 100))
    assert kpis.volume(session, kpis.Scope.local_days(date(2026, 3, 18), date(2026, 3, 18), TZ)) == 105
    assert kpis.volume(session, kpis.Scope(local(2026, 3, 18, 8, 0), local(2026, 3, 18, 8, 59), tz=TZ)) == 5
    session.rollback()

    # Changes that reach back into built days: a 签收 late by weeks, a 重办 after last month's 回访, an
    # unsatisfied 回访 of February's 工单 today.
    later = ctx.at(local(2026, 3, 18, 9, 0))
    act(later, early[2], Action.SIGN, actors["staff_zjj"])
    act(later, middle[1], Action.REOPEN, actors["callback"], reason="市民不满意")
    session.commit()
    report = refresh(state, now=NOW)
    assert report.changed_orders == 2 and report.unbuilt >= 3
    assert report.hours == 1  # the 09:00 hour, where both changes happened, built again
    assert date(2026, 2, 3) in report.built and date(2026, 2, 1) in report.months  # rebuilt
    session.rollback()
    rolled = _figures(ctx)
    assert rolled == _live(ctx)
    assert rolled["year"]["reopens"] != live["year"]["reopens"]  # the change shows

    # The next day: 18 March is built as a day, and its hour rows go (the day's rows answer for them).
    report = refresh(state, now=NOW + timedelta(days=1))
    assert report.built == [date(2026, 3, 18)] and report.hours == 10
    session.rollback()
    marks = dict(session.execute(select(KpiRollupPeriod.day, func.count()).where(KpiRollupPeriod.period.like("h%"))
                                 .group_by(KpiRollupPeriod.day)).all())
    assert marks == {date(2026, 3, 19): 10}
    assert session.execute(select(func.count()).select_from(KpiRollup).where(
        KpiRollup.period.like("h%"), KpiRollup.day == date(2026, 3, 18))).scalar_one() == 0
    assert _figures(ctx) == _live(ctx)


def test_a_bounded_run_builds_a_slice_and_the_rest_later(state, session, actors):
    ctx = state.ctx(session, now=NOW)
    _life(ctx, actors, local(2026, 3, 1, 9, 0))
    session.commit()
    first = refresh(state, now=NOW, max_days=5)
    assert len(first.built) == 5 and first.remaining == 12  # 1..17 March
    second = refresh(state, now=NOW, max_days=31)
    assert len(second.built) == 12 and second.remaining == 0 and second.months == []
    assert refresh(state, now=NOW).built == []  # nothing left, nothing changed
    session.rollback()
    assert _figures(ctx) == _live(ctx)


def test_cli_rolls_up_and_rebuilds(state, session, actors, cli):
    ctx = state.ctx(session)
    _life(ctx, actors, ctx.now - timedelta(days=3))
    session.commit()
    first = cli("analytics", "rollup")
    assert first.exit_code == 0, first.output
    assert "汇总" in first.output and "尚余 0 天" in first.output
    again = cli("analytics", "rollup", "--rebuild", "--max-days", "1")
    assert again.exit_code == 0 and "汇总 1 天" in again.output
    session.rollback()
    built = session.execute(select(func.count()).select_from(KpiRollupPeriod)
                            .where(KpiRollupPeriod.period == "day")).scalar_one()
    assert built == 1


def _handle_clock(session, order):
    from civiclink.sla.models import StageClock

    session.flush()
    return session.execute(select(StageClock).where(StageClock.order_id == order.id, StageClock.stage == "handle")
                           .order_by(StageClock.round.desc()).limit(1)).scalar_one()


def test_a_clock_moved_after_its_day_was_built_rebuilds_that_day(state, session, actors):
    """A day counts a clock at its stop or its deadline; an extension approved after the deadline had passed, a
    pause, or a reply sent back (the clock running again) moves them — the day that counted the clock is rebuilt
    from what the moving event recorded (``clock_was``), not left with its old count."""
    ctx = state.ctx(session, now=NOW)
    start = ctx.at(local(2026, 2, 2, 9, 0))
    extended = to_signed(start, actors)
    paused = to_signed(start, actors)
    replied = to_signed(start, actors)
    act(ctx.at(local(2026, 2, 4, 15, 0)), replied, Action.REPLY, actors["staff_csgl"], content="已派人清理")
    # 延期 is asked for before the deadline; it is approved weeks after the deadline has passed.
    act(ctx.at(local(2026, 2, 3, 9, 0)), extended, Action.REQUEST_EXTENSION, actors["staff_csgl"], extra="15wd",
        reason="需协调多部门", basis="《市容管理条例》")
    session.commit()
    overdue_day = _handle_clock(session, extended).due_at.astimezone(TZ).date()
    assert overdue_day < NOW.astimezone(TZ).date()  # both running clocks are late on a finished day
    refresh(state, now=NOW)
    session.rollback()
    before = _figures(ctx)

    later = ctx.at(local(2026, 3, 18, 9, 0))
    act(later, extended, Action.APPROVE_EXTENSION, actors["dispatcher"], note="同意")
    act(later, paused, Action.PAUSE, actors["staff_csgl"], reason="等待市民补充材料")
    act(later, replied, Action.REJECT_REPLY, actors["dispatcher"], reason="未说明处理结果")
    session.commit()
    assert _handle_clock(session, extended).due_at > NOW  # no longer late anywhere
    report = refresh(state, now=NOW)
    assert overdue_day in report.built and date(2026, 2, 4) in report.built
    session.rollback()
    after = _figures(ctx)
    assert after == _live(ctx)
    assert after["year"]["on_time_completion"] != before["year"]["on_time_completion"]


def test_importing_a_calendar_rebuilds_the_days_of_the_years_it_recomputes(state, session, actors):
    from civiclink.sla.service import do_import_calendar, parse_calendar_csv

    ctx = state.ctx(session, now=NOW)
    _life(ctx, actors, local(2026, 2, 2, 9, 0))
    _life(ctx, actors, local(2025, 12, 1, 9, 0))
    session.commit()
    refresh(state, now=NOW)
    # A made-up schedule (not the official one): two weekdays of February off — running clocks' deadlines move.
    do_import_calendar(session, parse_calendar_csv("date,type,name\n2026-02-05,休,测试假日\n2026-02-06,休,测试假日\n"),
                       actor=actors["admin"], source="test.csv", now=NOW, tz=TZ,
                       yellow_share=state.settings.sla.yellow_share)
    session.commit()
    report = refresh(state, now=NOW)
    assert date(2026, 1, 1) in report.built and date(2025, 12, 31) not in report.built  # 2025 is not touched
    session.rollback()
    assert _figures(ctx) == _live(ctx)
