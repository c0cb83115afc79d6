"""HTTP routes of the call records (docs/cti.md): the CTI adapter posts events; people read calls, the 漏接回拨
list and the connection KPIs, and record call-backs."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import ValidationError

from civiclink.analytics.service import require_dashboard_reader
from civiclink.callcentre import actions, planning, service
from civiclink.callcentre.planning import PlanInputs, PlanRead
from civiclink.callcentre.schemas import (
    CallEventBatch,
    CallPage,
    CallRead,
    ConnectionKpisRead,
    IngestRead,
    MissedCallbackIn,
)
from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, respond
from civiclink.errors import ERROR_RESPONSES, Invalid
from civiclink.reports.api import XLSX, attachment

router = APIRouter(prefix="/api/calls", tags=["话务"], responses=ERROR_RESPONSES)

CallId = Annotated[int, Path(ge=1, le=2**31 - 1, description="通话记录编号")]
MAX_DAYS = 366


def local_span(ctx, start: date | None, end: date | None) -> tuple[date, date, datetime, datetime]:
    """Local days ``start``..``end`` (default: today) and their UTC bounds."""
    today = ctx.now.astimezone(ctx.settings.tz).date()
    first, last = start or today, end or start or today
    if last < first:
        raise Invalid("结束日期不能早于开始日期", field="end")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"统计区间最长 {MAX_DAYS} 天", field="end")
    tz = ctx.settings.tz
    return (first, last, datetime.combine(first, time(0), tzinfo=tz),
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))


@router.post("/events", summary="报送话务事件（CTI 接口）", response_model=IngestRead)
def post_events(body: CallEventBatch, ctx: CtxDep, actor: CurrentActor):
    """Up to 1,000 events of any calls, in any order (docs/cti.md). A resent event is recognised and skipped, so
    a batch whose answer was lost can be sent again. 201 when anything new was recorded."""
    with writing(ctx.session):
        result = actions.do_record_call_events(ctx, body.events, actor=actor)
    return respond(result, 201 if result.recorded else 200)


@router.get("", summary="通话记录", response_model=CallPage)
def get_calls(ctx: CtxDep, actor: CurrentActor, start: date | None = None, end: date | None = None,
              outcome: Literal["answered", "abandoned", "waiting"] | None = None,
              missed: Annotated[bool, Query(description="只列待回拨的漏接电话（最早的在前）")] = False,
              offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
              limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Calls offered on local days ``start``..``end`` (default today), newest first; ``missed``: the 漏接回拨
    list (R-605). The calling number is masked for roles that do not talk to callers."""
    service.require_reader(actor)
    _first, _last, since, until = local_span(ctx, start, end)
    total, calls = service.list_calls(ctx.session, start=since, end=until, outcome=outcome, missed=missed,
                                      limit=limit, offset=offset)
    return respond(CallPage(total=total, items=[service.call_read(c, actor) for c in calls]))


@router.get("/kpis", summary="接通指标（一次接通率、15秒接通率等）", response_model=ConnectionKpisRead)
def get_kpis(ctx: CtxDep, actor: CurrentActor, start: date | None = None, end: date | None = None):
    """接通率, 一次接通率, 15秒接通率, 放弃率, 平均应答时长 of calls offered on local days ``start``..``end``: in
    total, by hour of the day, by day and by team, and the worst 24 consecutive hours (docs/cti.md)."""
    require_dashboard_reader(actor, ctx.settings.site_role)
    first, last, _since, _until = local_span(ctx, start, end)
    return respond(service.connection_kpis(ctx, first, last))


def _plan_inputs(year: int, month: int, service_level: float, answer_seconds: int | None,
                 aht_seconds: float | None, shrinkage: float, standby_share: float, ctx) -> PlanInputs:
    try:
        return PlanInputs(year=year, month=month, service_level=service_level,
                          answer_seconds=answer_seconds or ctx.settings.calls.answer_target_seconds,
                          aht_seconds=aht_seconds, shrinkage=shrinkage, standby_share=standby_share)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise Invalid(f"{first['loc'][0]}：{first['msg']}", field=str(first["loc"][0])) from None


PlanQuery = Annotated[float, Query(gt=0, lt=1)]


@router.get("/plan", summary="排班计划（预测、人力需求、四班三运转、缺口）", response_model=PlanRead)
def get_plan(ctx: CtxDep, actor: CurrentActor, year: Annotated[int, Query(ge=2000, le=2100)],
             month: Annotated[int, Query(ge=1, le=12)], service_level: PlanQuery = 0.8,
             answer_seconds: Annotated[int | None, Query(ge=1, le=600)] = None,
             aht_seconds: Annotated[float | None, Query(gt=0, le=7200)] = None,
             shrinkage: Annotated[float, Query(ge=0, lt=1)] = 0.3,
             standby_share: Annotated[float, Query(ge=0, le=1)] = 0.3):
    """The month's plan (docs/cti.md, "Planning"): calls forecast per half hour from the call records (holidays
    from holidays), the people each half hour needs for ``service_level`` answered within ``answer_seconds``
    (Erlang C, shrinkage, occupancy ≤ 85 %), the 四班三运转 teams sized for it with a standby pool, and per day
    where the roster falls short."""
    require_dashboard_reader(actor, ctx.settings.site_role)
    inputs = _plan_inputs(year, month, service_level, answer_seconds, aht_seconds, shrinkage, standby_share, ctx)
    return respond(planning.plan_month(ctx, inputs).read)


@router.get("/plan.xlsx", summary="排班计划（Excel）", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "Excel 工作簿"}})
def get_plan_xlsx(ctx: CtxDep, actor: CurrentActor, year: Annotated[int, Query(ge=2000, le=2100)],
                  month: Annotated[int, Query(ge=1, le=12)], service_level: PlanQuery = 0.8,
                  answer_seconds: Annotated[int | None, Query(ge=1, le=600)] = None,
                  aht_seconds: Annotated[float | None, Query(gt=0, le=7200)] = None,
                  shrinkage: Annotated[float, Query(ge=0, lt=1)] = 0.3,
                  standby_share: Annotated[float, Query(ge=0, le=1)] = 0.3):
    """The same plan as a workbook: 排班表, 人力需求 (people per half hour, per day), 缺口, 预测."""
    require_dashboard_reader(actor, ctx.settings.site_role)
    inputs = _plan_inputs(year, month, service_level, answer_seconds, aht_seconds, shrinkage, standby_share, ctx)
    body = planning.workbook(planning.plan_month(ctx, inputs))
    return attachment(body, XLSX, f"{ctx.settings.site_name}-排班计划-{year}{month:02d}.xlsx")


@router.get("/{call_id}", summary="一通电话", response_model=CallRead)
def get_call(call_id: CallId, ctx: CtxDep, actor: CurrentActor):
    service.require_reader(actor)
    return respond(service.call_read(service.get_call(ctx.session, call_id), actor))


@router.post("/{call_id}/callback", summary="登记漏接回拨结果", response_model=CallRead)
def post_callback(call_id: CallId, body: MissedCallbackIn, ctx: CtxDep, actor: CurrentActor):
    """已回拨 / 未能联系 / 无需回拨 for a missed call waiting for its call-back (R-605); ``version`` as read."""
    with writing(ctx.session):
        call = actions.do_record_missed_callback(ctx, service.get_call(ctx.session, call_id), body, actor=actor)
        out = service.call_read(call, actor)
    return respond(out)
