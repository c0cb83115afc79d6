"""HTTP routes of the reports (12345 site; 指挥中心领导, 督办员, 管理员): the report of any date range as JSON, Excel
and PDF, its presets (昨日, 近7天, 春节), and the watched topics with their daily reports (专题日报)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, respond
from civiclink.errors import ERROR_RESPONSES
from civiclink.reports import actions, service
from civiclink.reports.schemas import TopicCreate, TopicUpdate
from civiclink.reports.service import PresetRead, SummaryReport, TopicDayRead, TopicDaysRead, TopicRead

router = APIRouter(prefix="/api/reports", tags=["统计报告"], responses=ERROR_RESPONSES)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Start = Annotated[date, Query(description="第一天（本站时区，含）")]
End = Annotated[date, Query(description="最后一天（含）")]
Place = Annotated[str | None, Query(max_length=64, description="属地单位编码：该单位及其下级")]
CompareStart = Annotated[date | None, Query(description="对比区间第一天；不填为去年同期")]
CompareEnd = Annotated[date | None, Query(description="对比区间最后一天")]
CompareLabel = Annotated[str | None, Query(max_length=40, description="对比区间的名称，如“2025年春节”")]
TopicId = Annotated[int, Path(ge=1, le=2**31 - 1, description="专题编号")]
Title = Annotated[str | None, Query(max_length=60, description="报告标题，如“2026年春节假期”")]


def build(ctx, actor, start, end, place, compare_start, compare_end, title=None, compare_label=None
          ) -> SummaryReport:
    return service.summary(ctx, actor, start, end, place=place, compare_start=compare_start,
                           compare_end=compare_end, title=title, compare_label=compare_label)


def attachment(body: bytes, media_type: str, filename: str) -> Response:
    # An ASCII fallback name and the real (Chinese) one, RFC 6266 / 5987.
    ascii_name = "civiclink-report" + filename[filename.rfind("."):]
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition,
                                                          "Cache-Control": "no-store"})


def file_name(report: SummaryReport, extension: str) -> str:
    place = f"-{report.place.name}" if report.place else ""
    return f"{report.site_name}{place}-{report.start:%Y%m%d}-{report.end:%Y%m%d}.{extension}"


@router.get("/presets", summary="报告的常用区间", response_model=list[PresetRead])
def get_presets(ctx: CtxDep, actor: CurrentActor):
    """昨日, 近7天 (up to yesterday), and 春节 of this year (once begun) and last year from the working calendar,
    each with the 春节 before it as its comparison."""
    service.require_reader(actor, ctx.settings.site_role)
    return service.presets(ctx.calendar, service.today_of(ctx))


@router.get("/summary", summary="统计报告（任意日期区间）", response_model=SummaryReport)
def get_summary(ctx: CtxDep, actor: CurrentActor, start: Start, end: End, place: Place = None,
                compare_start: CompareStart = None, compare_end: CompareEnd = None, title: Title = None,
                compare_label: CompareLabel = None):
    """The report of local days ``start``..``end``: 受理量, 日均, the change against the comparison span (the same
    dates a year earlier, or ``compare_start``..``compare_end``), 环比, by day / channel / request type / category /
    属地, 满意率, 按时办结率, 直接答复率, 一次接通率 (not available until call records exist), linkage, hotspots,
    the watched topics' days, and ``headline``: the seed's sentence. Definitions: docs/kpi.md, docs/reports.md."""
    return respond(build(ctx, actor, start, end, place, compare_start, compare_end, title, compare_label))


@router.get("/summary.xlsx", summary="统计报告（Excel）", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "Excel 工作簿"}})
def get_summary_xlsx(ctx: CtxDep, actor: CurrentActor, start: Start, end: End, place: Place = None,
                     compare_start: CompareStart = None, compare_end: CompareEnd = None, title: Title = None,
                     compare_label: CompareLabel = None):
    """The same report as an Excel workbook: 汇总, 按日 (with a chart), 按渠道, 按诉求类型, 按分类, 按属地, 热点,
    专题日报, 口径说明."""
    from civiclink.reports.excel import build_workbook

    report = build(ctx, actor, start, end, place, compare_start, compare_end, title, compare_label)
    return attachment(build_workbook(report, ctx.settings.tz), XLSX, file_name(report, "xlsx"))


@router.get("/summary.pdf", summary="统计报告（PDF）", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}, "description": "PDF，内嵌中文字体"}})
def get_summary_pdf(ctx: CtxDep, actor: CurrentActor, start: Start, end: End, place: Place = None,
                    compare_start: CompareStart = None, compare_end: CompareEnd = None, title: Title = None,
                    compare_label: CompareLabel = None):
    """The same report as a PDF with charts, the Chinese font embedded. 503 when the font file is missing."""
    from civiclink.reports.pdf import build_pdf, check_fonts

    check_fonts(ctx.settings.reports)
    report = build(ctx, actor, start, end, place, compare_start, compare_end, title, compare_label)
    return attachment(build_pdf(report, ctx.settings.reports, ctx.settings.tz), "application/pdf",
                      file_name(report, "pdf"))


# -- topics ----------------------------------------------------------------------------------------------------


@router.get("/topics", summary="关注专题列表", response_model=list[TopicRead])
def get_topics(ctx: CtxDep, actor: CurrentActor):
    service.require_reader(actor, ctx.settings.site_role)
    return [service.topic_read(ctx.directory, topic) for topic in service.list_topics(ctx.session)]


@router.post("/topics", summary="新增关注专题", status_code=201, response_model=TopicRead)
def create_topic(body: TopicCreate, ctx: CtxDep, actor: CurrentActor):
    """A topic to report every day of its season window (专题日报), e.g. 欠薪 from 1 January to 18 February: its
    工单 are those of ``categories`` (with the categories under them) or holding one of ``keywords``."""
    with writing(ctx.session):
        topic = actions.do_create_topic(ctx, body, actor=actor)
    return respond(service.topic_read(ctx.directory, topic), 201)


@router.patch("/topics/{topic_id}", summary="修改关注专题（含停用）", response_model=TopicRead)
def update_topic(topic_id: TopicId, body: TopicUpdate, ctx: CtxDep, actor: CurrentActor):
    service.require_reader(actor, ctx.settings.site_role)
    with writing(ctx.session):
        topic = actions.do_update_topic(ctx, service.get_topic(ctx.session, topic_id), body, actor=actor)
    return respond(service.topic_read(ctx.directory, topic))


@router.get("/topics/{topic_id}/days", summary="专题日报（每天一行，含零报告）", response_model=TopicDaysRead)
def get_topic_days(topic_id: TopicId, ctx: CtxDep, actor: CurrentActor, start: date | None = None,
                   end: date | None = None, place: Place = None):
    """One row per day of the topic's window (or of ``start``..``end`` within it): the kept 专题日报 of the day
    (``zero``: 零报告), or for a day without one its count now (pending / today), or nothing yet (future). With
    ``place``: live counts in that 属地."""
    service.require_reader(actor, ctx.settings.site_role)
    return respond(service.topic_days(ctx, service.get_topic(ctx.session, topic_id), start, end, place=place))


@router.post("/topics/{topic_id}/generate", summary="生成专题日报（按需）", response_model=TopicDayRead)
def generate_topic_day(topic_id: TopicId, day: date, ctx: CtxDep, actor: CurrentActor):
    """The 专题日报 of one finished day of the window, now: made, or — when it exists — counted again (its
    ``revision`` goes up). Audited."""
    service.require_reader(actor, ctx.settings.site_role)
    with writing(ctx.session):
        result = actions.do_generate_topic_day(ctx, service.get_topic(ctx.session, topic_id), day, actor=actor)
        report = result.report
        out = TopicDayRead(day=report.day, status="reported", count=report.count, zero=report.zero,
                           orders=list(report.orders or ()), trigger=report.trigger,
                           generated_at=report.generated_at, generated_by=report.generated_by,
                           revision=report.revision)
    return respond(out, 201 if result.created else 200)
