"""HTTP routes of the figures: the dashboard's (大屏) figures as JSON, for leaders, supervisors and admins (and
110 commanders on a police site)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from civiclink.analytics import hotspots, kpis, service
from civiclink.analytics.service import DashboardRead, Period
from civiclink.deps import CtxDep, CurrentActor, respond
from civiclink.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/analytics", tags=["统计分析"], responses=ERROR_RESPONSES)


@router.get("/dashboard", summary="大屏数据", response_model=DashboardRead)
def get_dashboard(ctx: CtxDep, actor: CurrentActor, period: Period = "7d"):
    """This site's dashboard figures for ``period`` (today / 7d / 30d / year, local time, ending now).

    12345 site: 受理量 (today, per bucket, 同比 and 环比), by channel, first-level category and district; 满意率;
    按时办结率; 一次接通率 (not available until call records exist); linkage counts each way; hotspots.
    110 site: 警单量 (today, per bucket, 同比 and 环比), by state, open now, pushes from 12345 awaiting 签收 and
    overdue, linkage counts each way. Each figure's definition is the docstring of its function in
    ``civiclink.analytics.service``."""
    return respond(service.dashboard(ctx, actor, period))


MAX_KPI_DAYS = 3 * 366


def _kpi_scope(ctx, actor, start: date, end: date, place: str | None):
    from civiclink.errors import Invalid

    service.require_dashboard_reader(actor, ctx.settings.site_role)
    if ctx.settings.site_role != "hotline":
        raise Invalid("工单考核指标只在 12345 站点统计", field="site")
    if end < start:
        raise Invalid("结束日期不能早于开始日期", field="end")
    if (end - start).days >= MAX_KPI_DAYS:
        raise Invalid(f"统计区间最长 {MAX_KPI_DAYS} 天", field="end")
    place_ids, district_id = kpis.district_scope(ctx.directory, place)
    return kpis.Scope.local_days(start, end, ctx.settings.tz, place_ids=place_ids, district_id=district_id,
                                 now=ctx.now)


@router.get("/kpis", summary="考核指标（任意时段、任意属地）", response_model=kpis.KpiSetRead)
def get_kpis(ctx: CtxDep, actor: CurrentActor, start: date, end: date, place: str | None = None):
    """The KPIs of docs/kpi.md for the local days ``start``..``end`` (both included) and, with ``place``, one 属地
    and everything under it: 受理量 (环比, 同比; by day, channel, category, 属地, request type), 直接答复率,
    按时签收率, 按时办结率 (同比), 退单率, 重办率, 回访率, 满意率 (同比), 平均办理时长, linkage each way. Each
    rate carries its numerator and denominator."""
    scope = _kpi_scope(ctx, actor, start, end, place)
    return respond(kpis.kpi_set(ctx.session, scope, directory=ctx.directory, tz=ctx.settings.tz,
                                site_role=ctx.settings.site_role, place_code=place))


@router.get("/scorecard", summary="承办单位考核表", response_model=list[kpis.ScorecardRow])
def get_scorecard(ctx: CtxDep, actor: CurrentActor, start: date, end: date, place: str | None = None):
    """Per handling unit, for the local days ``start``..``end``: dispatch rounds received, 按时签收率, 退单率,
    按时办结率, 平均办理时长, 重办率, 满意率 — the same definitions as /kpis, grouped by unit."""
    scope = _kpi_scope(ctx, actor, start, end, place)
    return kpis.scorecard(ctx.session, scope, directory=ctx.directory)


@router.get("/hotspots", summary="热点（激增与聚集）", response_model=hotspots.HotspotsRead)
def get_hotspots(ctx: CtxDep, actor: CurrentActor, period: Period = "7d"):
    """热点 of this 12345 site for ``period`` (today / 7d / 30d / year), ending now; for leaders, supervisors and
    admins. ``rises``: (category, district) pairs whose count in a 24-hour window of the period is unusual
    against their own 28 days before (Poisson or negative-binomial tail ≤ 0.001, at least 3 orders and twice
    the daily average). ``clusters``: similar requests about one place and matter among the orders of the last
    1 / 7 / 30 / 30 days. Each names its members (order numbers), place, time window and why it fired
    (docs/hotspots.md)."""
    return respond(hotspots.site_hotspots(ctx, actor, period))
