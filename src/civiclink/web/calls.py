"""The 话务 page (both sites): the connection KPIs of a day or a span for those who read the figures, the 漏接回拨
list with a form per call for those who call back (R-605), and the calls of the span. The same reads, rights and
``do_*`` action as /api/calls (docs/cti.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from civiclink.analytics.service import can_read_dashboard
from civiclink.callcentre import actions, service
from civiclink.callcentre.api import local_span
from civiclink.callcentre.schemas import MissedCallbackIn
from civiclink.deps import CtxDep
from civiclink.errors import DomainError
from civiclink.web.console import PageActor, done_text, field_errors, form_dict, render, run_write
from civiclink.web.messages import t
from civiclink.web.reports import _date

router = APIRouter(include_in_schema=False)
PAGE = 50


async def _page(request: Request, ctx, actor, *, start: str | None, end: str | None, page: int = 0,
                message: str | None = None, failed_call: int | None = None, status_code: int = 200) -> Response:
    if not (actor.is_system or actor.roles & service.CALL_READERS):
        return render(request, "error.html", actor=actor, status_code=403, message=t("calls.forbidden"))
    problem = None
    first, last = _date(start), _date(end)
    if (start and first is None) or (end and last is None):
        problem, first, last = t("calls.bad_date"), None, None

    def load():
        f, l, since, until = local_span(ctx, first, last)
        figures = service.connection_kpis(ctx, f, l) if can_read_dashboard(actor, ctx.settings.site_role) else None
        _n, missed = service.list_calls(ctx.session, start=since, end=until, missed=True, limit=200)
        total, calls = service.list_calls(ctx.session, start=since, end=until, limit=PAGE, offset=page * PAGE)
        read = [service.call_read(c, actor) for c in calls]
        return f, l, figures, [service.call_read(c, actor) for c in missed], total, read

    try:
        f, l, figures, missed, total, calls = await run_in_threadpool(load)
    except DomainError as exc:
        problem = exc.message
        f, l, figures, missed, total, calls = await run_in_threadpool(
            lambda: (*local_span(ctx, None, None)[:2], None, [], 0, []))
    return render(request, "calls.html", actor=actor, start=f, end=l, figures=figures, missed=missed, calls=calls,
                  total=total, page=page, pages=-(-total // PAGE), problem=problem, message=message, failed_call=failed_call,
                  may_call_back=bool(actor.roles & service.CALLBACK_ROLES),
                  done=done_text(request.query_params.get("done")), status_code=status_code)


@router.get("/calls")
async def calls_page(request: Request, ctx: CtxDep, actor: PageActor, start: str | None = None,
                     end: str | None = None, page: Annotated[int, Query(ge=0, le=200_000)] = 0) -> Response:
    return await _page(request, ctx, actor, start=start, end=end, page=page)


@router.post("/calls/{call_id}/callback")
async def record_callback(call_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, ctx: CtxDep,
                          actor: PageActor) -> Response:
    """已回拨 / 未能联系 / 无需回拨 for one missed call; a refusal comes back on the page next to that call."""
    form = await request.form()
    start, end = form.get("start") or None, form.get("end") or None
    data = {k: v for k, v in form_dict(form).items() if k not in ("start", "end")}
    try:
        body = MissedCallbackIn.model_validate(data)
        await run_write(request, ctx, lambda wctx: actions.do_record_missed_callback(
            wctx, service.get_call(wctx.session, call_id), body, actor=actor) and None)
    except ValidationError as exc:
        message = "；".join(field_errors(exc).values())
    except DomainError as exc:
        ctx.session.rollback()
        message = exc.message
    else:
        query = "&".join(f"{k}={v}" for k, v in (("start", start), ("end", end)) if v)
        return RedirectResponse(f"/calls?done=call_callback{'&' + query if query else ''}", status_code=303)
    return await _page(request, ctx, actor, start=start, end=end, message=message, failed_call=call_id,
                       status_code=422)


# -- the month's plan (forecast → people needed → 四班三运转 → shortfall) ------------------------------------------


def _next_month(ctx) -> tuple[int, int]:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    return (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)


def _int(text, default):
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return None


@router.get("/calls/plan")
async def plan_page(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    """排班计划: the month's plan with a chart of need against people on duty for one day, and its Excel."""
    from civiclink.analytics.service import can_read_dashboard
    from civiclink.callcentre import planning
    from civiclink.web.reports import _script_json

    if not can_read_dashboard(actor, ctx.settings.site_role):
        return render(request, "error.html", actor=actor, status_code=403, message=t("plan.forbidden"))
    q = request.query_params
    year, month = _next_month(ctx)
    values = {"year": _int(q.get("year"), year), "month": _int(q.get("month"), month),
              "service_level": _int(q.get("service_level"), 80),
              "answer_seconds": _int(q.get("answer_seconds"), ctx.settings.calls.answer_target_seconds),
              "standby": _int(q.get("standby"), 30), "shrinkage": _int(q.get("shrinkage"), 30)}
    problem, plan, chart, day = None, None, None, None
    try:
        if any(v is None for v in values.values()):
            raise DomainError(t("plan.bad_number"))
        inputs = planning.PlanInputs(
            year=values["year"], month=values["month"], service_level=values["service_level"] / 100,
            answer_seconds=values["answer_seconds"], shrinkage=values["shrinkage"] / 100,
            standby_share=values["standby"] / 100)
        plan = await run_in_threadpool(lambda: planning.plan_month(ctx, inputs))
    except ValidationError as exc:
        problem = "；".join(field_errors(exc).values())
    except DomainError as exc:
        problem = exc.message
    if plan is not None:
        days = [d.date for d in plan.read.days]
        day = _date(q.get("day"))
        if day not in days:
            day = next((d.date for d in plan.read.days if d.short_half_hours), days[0])
        series = planning.day_series(plan, day)
        chart = {"charts": {"day": {
            "tooltip": {"trigger": "axis"}, "legend": {"data": [t("plan.need"), t("plan.on_duty")]},
            "grid": {"left": 40, "right": 16, "top": 36, "bottom": 40},
            "xAxis": {"type": "category", "data": series["labels"], "axisLabel": {"interval": 3}},
            "yAxis": {"type": "value", "name": t("plan.people")},
            "series": [{"name": t("plan.need"), "type": "bar", "data": series["need"]},
                       {"name": t("plan.on_duty"), "type": "line", "step": "end", "data": series["on_duty"]}]}}}
    query = "&".join(f"{k}={v}" for k, v in values.items() if v is not None)
    return render(request, "calls_plan.html", actor=actor, values=values, plan=plan.read if plan else None,
                  day=day, problem=problem, query=query, view_json=_script_json(chart) if chart else None,
                  status_code=422 if problem else 200)
