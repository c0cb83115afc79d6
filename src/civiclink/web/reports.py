"""The console's reports (统计报告): pick a date range (昨日, 近7天, 春节 of this or last year, or any dates) and
a 属地, read the report as the seed words it, with ECharts charts, and download it as Excel or PDF; the watched
topics (专题日报) with each day of their window, 零报告 shown. For 指挥中心领导, 督办员 and 管理员 (12345 site).

The page reads the same ``reports.service.summary`` as /api/reports/summary, and its downloads are that report
built by ``reports.excel`` and ``reports.pdf`` — behind the console's session cookie instead of a bearer token.
The chart options are built here, with every word from the catalogue (like the dashboard's)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from markupsafe import Markup

from civiclink.analytics.service import OTHER, CountRead
from civiclink.deps import CtxDep
from civiclink.errors import DomainError
from civiclink.orgs.models import COUNTY_LEVEL_KINDS
from civiclink.orgs.roles import Actor
from civiclink.reports import service
from civiclink.reports.service import PresetRead, SummaryReport
from civiclink.web.console import PageActor, render
from civiclink.web.dashboard import bar_chart, pie_chart
from civiclink.web.messages import t

router = APIRouter(include_in_schema=False)

DEFAULT_PRESET = "7d"


def can_read(actor: Actor) -> bool:
    return actor.is_system or bool(actor.roles & service.REPORT_READERS)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


class Choice:
    """What the page was asked for: a preset, or dates (with an optional comparison span), and a 属地."""

    def __init__(self, presets: list[PresetRead], preset: str | None, start: str | None, end: str | None,
                 place: str | None, compare_start: str | None, compare_end: str | None):
        self.error: str | None = None
        self.place = place or None
        self.title: str | None = None
        self.compare_label: str | None = None
        chosen = next((p for p in presets if p.key == preset), None)
        first, last = _date(start), _date(end)
        if chosen is None and (start or end) and (first is None or last is None):
            self.error = t("report.page.bad_date")
        if chosen is None and (first is None or last is None):
            chosen = next(p for p in presets if p.key == DEFAULT_PRESET)
        if chosen is not None:
            self.preset = chosen.key
            self.start, self.end = chosen.start, chosen.end
            self.compare_start, self.compare_end = chosen.compare_start, chosen.compare_end
            if chosen.key.startswith("spring"):
                self.title, self.compare_label = chosen.label, chosen.compare_label
        else:
            self.preset = None
            self.start, self.end = first, last
            self.compare_start, self.compare_end = _date(compare_start), _date(compare_end)

    def query(self) -> str:
        params: dict[str, str] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.place:
            params["place"] = self.place
        if self.compare_start and self.compare_end:
            params["compare_start"] = self.compare_start.isoformat()
            params["compare_end"] = self.compare_end.isoformat()
        if self.title:
            params["title"] = self.title
        if self.compare_label:
            params["compare_label"] = self.compare_label
        return urlencode(params)

    def build(self, ctx, actor: Actor) -> SummaryReport:
        return service.summary(ctx, actor, self.start, self.end, place=self.place,
                               compare_start=self.compare_start, compare_end=self.compare_end, title=self.title,
                               compare_label=self.compare_label)


def _name(item: CountRead, none_key: str) -> str:
    return t("report.other") if item.code == OTHER else (item.name or t(none_key))


def day_chart(report: SummaryReport) -> dict[str, Any]:
    compare = report.comparison.by_day
    labels = [service.day_text(date.fromisoformat(d.code), year=False) for d in report.by_day]
    return {
        "title": {"text": t("report.chart.by_day"), "left": 8, "top": 6, "textStyle": {"fontSize": 15}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 6, "right": 8},
        "grid": {"left": 12, "right": 28, "top": 64, "bottom": 10, "containLabel": True},
        "xAxis": {"type": "category", "data": labels, "axisTick": {"alignWithLabel": True}},
        "yAxis": {"type": "value", "minInterval": 1, "name": t("report.unit.orders")},
        "series": [
            {"id": "current", "name": t("report.series.current"), "type": "bar", "barMaxWidth": 36,
             "data": [d.count for d in report.by_day],
             "label": {"show": len(labels) <= 31, "position": "top", "fontSize": 11}},
            {"id": "compare", "name": report.comparison.label, "type": "line",
             "data": [compare[i].count if i < len(compare) else None for i in range(len(labels))],
             "lineStyle": {"type": "dashed"}, "symbolSize": 5},
        ],
    }


def charts(report: SummaryReport) -> dict[str, dict]:
    count = t("report.unit.orders")
    return {
        "by_day": day_chart(report),
        "channel": pie_chart(t("report.chart.channel"), [{"name": _name(c, "report.none"), "value": c.count}
                                                         for c in report.by_channel], False, series_name=count),
        "category": bar_chart(t("report.chart.category"), [_name(c, "report.category.none")
                                                           for c in report.by_category[:10]],
                              [c.count for c in report.by_category[:10]], False, series_name=count,
                              horizontal=True),
        "place": bar_chart(t("report.chart.place"), [_name(c, "report.place.none") for c in report.by_place],
                           [c.count for c in report.by_place], False, series_name=count, horizontal=True),
    }


def tiles(report: SummaryReport) -> list[dict]:
    sat, first_attempt = report.satisfaction, report.first_attempt_connection
    c = report.comparison
    out = [
        {"key": "volume", "label": t("report.page.tile.volume"), "value": f"{report.volume:,}",
         "note": t("report.fig.days", days=report.days)},
        {"key": "daily", "label": t("report.page.tile.daily"), "value": f"{report.daily_average:,.1f}",
         "note": t("report.unit.orders_per_day")},
        {"key": "change", "label": t("report.page.tile.change", label=c.label),
         "value": service.signed(c.change_pct) if c.change_pct is not None else t("report.change.none"),
         "note": t("report.note.compare", span=service.span_text(c.start, c.end), volume=f"{c.volume:,}",
                   daily=f"{c.daily_average:,.1f}")},
        {"key": "satisfaction", "label": t("report.page.tile.satisfaction"),
         "value": service.percent(sat.rate) if sat.rate is not None else t("report.no_callbacks"),
         "note": t("report.note.satisfaction", numerator=sat.numerator, denominator=sat.denominator)},
        {"key": "first_attempt", "label": t("report.page.tile.first_attempt"),
         "value": service.percent(first_attempt.rate) if first_attempt.available else t("report.no_call_data"),
         "note": "" if first_attempt.available else t("report.first_attempt.note"),
         "tone": "" if first_attempt.available else "muted"},
        {"key": "on_time", "label": t("report.page.tile.on_time"),
         "value": service.percent(report.on_time_completion.rate),
         "note": t("report.note.on_time", numerator=report.on_time_completion.numerator,
                   denominator=report.on_time_completion.denominator)},
    ]
    return out


def _script_json(value: Any) -> Markup:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _places(ctx) -> list[dict]:
    units = sorted((u for u in ctx.directory.units.values() if u.active and u.kind in COUNTY_LEVEL_KINDS),
                   key=lambda u: u.code)
    return [{"code": u.code, "name": u.name} for u in units]


def _forbidden(request: Request, actor: Actor) -> Response:
    return render(request, "error.html", actor=actor, status_code=403, message=t("report.forbidden"))


@router.get("/reports")
async def reports_page(request: Request, ctx: CtxDep, actor: PageActor, preset: str | None = None,
                       start: str | None = None, end: str | None = None, place: str | None = None,
                       compare_start: str | None = None, compare_end: str | None = None) -> Response:
    if not can_read(actor):
        return _forbidden(request, actor)

    def load():
        presets = service.presets(ctx.calendar, service.today_of(ctx))
        choice = Choice(presets, preset, start, end, place, compare_start, compare_end)
        error = choice.error
        report = None
        try:
            report = choice.build(ctx, actor)
        except DomainError as exc:
            error = exc.message
        topics = [service.topic_read(ctx.directory, topic) for topic in service.list_topics(ctx.session)]
        return presets, choice, report, error, topics

    presets, choice, report, error, topics = await run_in_threadpool(load)
    view = {"charts": charts(report)} if report else {"charts": {}}
    compare_note = t("report.page.compare_note", label=report.comparison.label,
                     span=service.span_text(report.comparison.start, report.comparison.end)) if report else ""
    hotspot_days = [service.short_span(min(h.days), max(h.days)) for h in report.hotspots] if report else []
    query = choice.query() if choice.start and choice.end else ""
    return render(request, "reports.html", actor=actor, presets=presets, choice=choice, report=report,
                  error=error, topics=topics, places=_places(ctx), tiles=tiles(report) if report else [],
                  view_json=_script_json(view), query=query, compare_note=compare_note,
                  hotspot_days=hotspot_days, status_code=200 if report else 422)


async def _export(request: Request, ctx, actor: Actor, kind: str, params: dict) -> Response:
    from civiclink.reports.api import XLSX, attachment, file_name

    if not can_read(actor):
        return _forbidden(request, actor)

    def make():
        choice = Choice([], None, params.get("start"), params.get("end"), params.get("place"),
                        params.get("compare_start"), params.get("compare_end"))
        if choice.error or choice.start is None:
            from civiclink.errors import Invalid

            raise Invalid(choice.error or t("report.page.bad_date"), field="start")
        choice.title = params.get("title") or None
        choice.compare_label = params.get("compare_label") or None
        if kind == "pdf":
            from civiclink.reports.pdf import check_fonts

            check_fonts(ctx.settings.reports)
        report = choice.build(ctx, actor)
        if kind == "pdf":
            from civiclink.reports.pdf import build_pdf

            return report, build_pdf(report, ctx.settings.reports, ctx.settings.tz)
        from civiclink.reports.excel import build_workbook

        return report, build_workbook(report, ctx.settings.tz)

    report, body = await run_in_threadpool(make)
    media = "application/pdf" if kind == "pdf" else XLSX
    return attachment(body, media, file_name(report, kind))


def _params(request: Request) -> dict:
    return {k: v[:64] for k, v in request.query_params.items()}


@router.get("/reports/export.xlsx")
async def export_xlsx(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    return await _export(request, ctx, actor, "xlsx", _params(request))


@router.get("/reports/export.pdf")
async def export_pdf(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    return await _export(request, ctx, actor, "pdf", _params(request))


@router.get("/reports/topics/{topic_id}")
async def topic_page(topic_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    if not can_read(actor):
        return _forbidden(request, actor)

    def load():
        return service.topic_days(ctx, service.get_topic(ctx.session, topic_id))

    days = await run_in_threadpool(load)
    return render(request, "reports_topic.html", actor=actor, topic=days)


# -- topics: add, change, generate a day (the same do_* actions as /api/reports/topics) ----------------------------


def _topic_values(form) -> dict:
    """The topic form as typed; keywords and category codes are typed as words separated by spaces or 、，,"""

    values = {k: str(form.get(k, "")).strip() for k in ("name", "keywords", "categories", "season_start",
                                                            "season_end")}
    values["active"] = str(form.getlist("active")[-1] if form.getlist("active") else "true").lower() == "true"
    return values


def _topic_body(values: dict, model):
    import re

    split = lambda text: [w for w in re.split(r"[\s,，、;；]+", text) if w]
    data = {"name": values["name"] or None, "keywords": split(values["keywords"]),
            "categories": split(values["categories"]), "season_start": values["season_start"] or None,
            "season_end": values["season_end"] or None, "active": values["active"]}
    if model.__name__ == "TopicUpdate":
        data = {k: v for k, v in data.items() if v is not None}
    return model.model_validate(data)


def _topic_form(request, actor, *, values, errors, topic_id=None, status_code=200):
    return render(request, "reports_topic_form.html", actor=actor, values=values, errors=errors, topic_id=topic_id,
                  status_code=status_code)


@router.get("/reports/new-topic")
async def new_topic_page(request: Request, actor: PageActor) -> Response:
    if not can_read(actor):
        return _forbidden(request, actor)
    return _topic_form(request, actor, values={"active": True}, errors={})


async def _save_topic(request: Request, ctx, actor: Actor, topic_id: int | None) -> Response:
    from fastapi.responses import RedirectResponse
    from pydantic import ValidationError

    from civiclink.reports import actions
    from civiclink.reports.schemas import TopicCreate, TopicUpdate
    from civiclink.web.console import field_errors, run_write

    if not can_read(actor):
        return _forbidden(request, actor)
    values = _topic_values(await request.form())
    try:
        body = _topic_body(values, TopicUpdate if topic_id else TopicCreate)
    except ValidationError as exc:
        return _topic_form(request, actor, values=values, errors=field_errors(exc), topic_id=topic_id,
                           status_code=422)

    def write(wctx):
        if topic_id:
            return actions.do_update_topic(wctx, service.get_topic(wctx.session, topic_id), body, actor=actor).id
        return actions.do_create_topic(wctx, body, actor=actor).id

    try:
        saved = await run_write(request, ctx, write)
    except DomainError as exc:
        ctx.session.rollback()
        return _topic_form(request, actor, values=values, errors={exc.field or "": exc.message}, topic_id=topic_id,
                           status_code=exc.status_code)
    return RedirectResponse(f"/reports/topics/{saved}", status_code=303)


@router.post("/reports/topics")
async def create_topic(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    return await _save_topic(request, ctx, actor, None)


@router.get("/reports/topics/{topic_id}/edit")
async def edit_topic_page(topic_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, ctx: CtxDep,
                          actor: PageActor) -> Response:
    if not can_read(actor):
        return _forbidden(request, actor)
    topic = await run_in_threadpool(lambda: service.topic_read(ctx.directory, service.get_topic(ctx.session,
                                                                                               topic_id)))
    values = {"name": topic.name, "keywords": " ".join(topic.keywords),
              "categories": " ".join(c.code for c in topic.categories), "season_start": topic.season_start,
              "season_end": topic.season_end, "active": topic.active}
    return _topic_form(request, actor, values=values, errors={}, topic_id=topic_id)


@router.post("/reports/topics/{topic_id}")
async def update_topic(topic_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, ctx: CtxDep,
                       actor: PageActor) -> Response:
    return await _save_topic(request, ctx, actor, topic_id)


@router.post("/reports/topics/{topic_id}/generate")
async def generate_topic_day(topic_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request, ctx: CtxDep,
                             actor: PageActor) -> Response:
    """One finished day of the topic's window, reported now (or counted again)."""
    from fastapi.responses import RedirectResponse

    from civiclink.reports import actions
    from civiclink.web.console import run_write

    if not can_read(actor):
        return _forbidden(request, actor)
    day = _date(str((await request.form()).get("day", "")))
    if day is None:
        message = t("report.page.topic.bad_day")
    else:
        try:
            await run_write(request, ctx, lambda wctx: actions.do_generate_topic_day(
                wctx, service.get_topic(wctx.session, topic_id), day, actor=actor) and None)
            return RedirectResponse(f"/reports/topics/{topic_id}", status_code=303)
        except DomainError as exc:
            ctx.session.rollback()
            message = exc.message
    days = await run_in_threadpool(lambda: service.topic_days(ctx, service.get_topic(ctx.session, topic_id)))
    return render(request, "reports_topic.html", actor=actor, topic=days, message=message, status_code=422)
