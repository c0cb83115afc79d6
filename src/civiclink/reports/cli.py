"""``civiclink report …``: the report of any date range (with its Excel and PDF files), the watched topics and their
daily reports (专题日报) — the same functions as the API; the server writes the daily reports by itself."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

report_app = typer.Typer(help="统计报告（节假日报告、日报）与专题日报", no_args_is_help=True)
topic_app = typer.Typer(help="关注专题与专题日报（含零报告）", no_args_is_help=True)
report_app.add_typer(topic_app, name="topic")

AsUser = Annotated[str | None, typer.Option("--as", help="以该用户身份（默认：系统）")]


def _day(value: str | None, name: str) -> date | None:
    from civiclink.cli import fail

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name} 日期格式不正确：{value}（应为 年-月-日，如 2026-02-15）")


def _progress() -> Progress:
    from civiclink.cli import console

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


@report_app.command("summary")
def summary(
    start: Annotated[str, typer.Option(help="第一天，如 2026-02-15")],
    end: Annotated[str, typer.Option(help="最后一天（含）")],
    place: Annotated[str | None, typer.Option(help="属地单位编码（该单位及其下级）")] = None,
    compare_start: Annotated[str | None, typer.Option(help="对比区间第一天；不填为去年同期")] = None,
    compare_end: Annotated[str | None, typer.Option(help="对比区间最后一天")] = None,
    title: Annotated[str | None, typer.Option(help="报告标题，如“2026年春节假期”")] = None,
    xlsx: Annotated[Path | None, typer.Option(help="写出 Excel 文件")] = None,
    pdf: Annotated[Path | None, typer.Option(help="写出 PDF 文件（内嵌中文字体）")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_user: AsUser = None,
):
    """The report of the local days START..END, like the seed's: volume, daily average, change, 满意率, 一次接通率,
    hotspots; optionally as Excel and PDF files."""
    from civiclink.cli import cli_actor, console, open_ctx, print_json
    from civiclink.reports import service

    first, last = _day(start, "--start"), _day(end, "--end")
    c_first, c_last = _day(compare_start, "--compare-start"), _day(compare_end, "--compare-end")
    with open_ctx(write=False) as (ctx, _state):
        actor = cli_actor(ctx, as_user)
        if pdf is not None:
            from civiclink.reports.pdf import check_fonts

            check_fonts(ctx.settings.reports)
        with console.status("统计中…"):
            report = service.summary(ctx, actor, first, last, place=place, compare_start=c_first,
                                     compare_end=c_last, title=title)
        if xlsx is not None:
            from civiclink.reports.excel import build_workbook

            with console.status("写 Excel…"):
                xlsx.write_bytes(build_workbook(report, ctx.settings.tz))
        if pdf is not None:
            from civiclink.reports.pdf import build_pdf

            with console.status("写 PDF…"):
                pdf.write_bytes(build_pdf(report, ctx.settings.reports, ctx.settings.tz))
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(report.headline)
    table = Table(show_header=False)
    for name, value in (("受理量", f"{report.volume:,}"), ("日均", f"{report.daily_average:,.1f}"),
                        (f"对比（{report.comparison.label}）", f"{report.comparison.volume:,}"),
                        ("变化", service.change_text(report.comparison.change_pct)),
                        ("满意率", service.percent(report.satisfaction.rate)),
                        ("一次接通率", "暂无话务数据" if not report.first_attempt_connection.available else
                         service.percent(report.first_attempt_connection.rate))):
        table.add_row(name, value)
    console.print(table)
    for path in (xlsx, pdf):
        if path is not None:
            console.print(f"已写出 {path}")


@report_app.command("daily")
def daily(catch_up: Annotated[int | None, typer.Option(help="补报最近多少天（默认按配置）")] = None):
    """Write the daily topic reports owed now (yesterday's, and missed days), each once — as the server does."""
    from civiclink.cli import console, open_ctx
    from civiclink.reports.actions import do_daily_topic_reports

    with open_ctx(write=True) as (ctx, _state), _progress() as progress:
        task = progress.add_task("专题日报", total=None)
        run = do_daily_topic_reports(ctx, catch_up_days=catch_up,
                                     progress=lambda done, total: progress.update(task, completed=done, total=total))
    for name, day, count in run.done:
        console.print(f"{name} {day}：{count} 件" + ("（零报告）" if count == 0 else ""))
    console.print(f"共生成 {len(run.done)} 份；已由其他进程生成、本次跳过 {run.already} 份")


@topic_app.command("list")
def topic_list(as_json: Annotated[bool, typer.Option("--json")] = False):
    """The watched topics."""
    from civiclink.cli import console, open_ctx, print_json
    from civiclink.orgs.roles import SYSTEM
    from civiclink.reports import service

    with open_ctx(write=False) as (ctx, _state):
        service.require_reader(SYSTEM, ctx.settings.site_role)
        topics = [service.topic_read(ctx.directory, t) for t in service.list_topics(ctx.session)]
    if as_json:
        print_json([t.model_dump(mode="json") for t in topics])
        return
    table = Table(title="关注专题")
    for col in ("编号", "名称", "专题期", "关键词", "分类", "状态"):
        table.add_column(col)
    for t in topics:
        table.add_row(str(t.id), t.name, f"{t.season_start} — {t.season_end}", "、".join(t.keywords) or "—",
                      "、".join(c.name or "" for c in t.categories) or "—", "每日生成中" if t.active else "已停用")
    console.print(table)


@topic_app.command("add")
def topic_add(
    name: Annotated[str, typer.Option(help="专题名称，如 欠薪")],
    start: Annotated[str, typer.Option(help="专题期第一天")],
    end: Annotated[str, typer.Option(help="专题期最后一天（含）")],
    keyword: Annotated[list[str] | None, typer.Option(help="关键词（可多次）")] = None,
    category: Annotated[list[str] | None, typer.Option(help="诉求分类编码（可多次；含下级分类）")] = None,
    as_user: AsUser = None,
):
    """Watch a topic in a season window: a 专题日报 for each of its days, zero days included."""
    from pydantic import ValidationError

    from civiclink.cli import cli_actor, console, fail, open_ctx
    from civiclink.reports.actions import do_create_topic
    from civiclink.reports.schemas import TopicCreate

    try:
        body = TopicCreate(name=name, keywords=keyword or [], categories=category or [],
                           season_start=_day(start, "--start"), season_end=_day(end, "--end"))
    except ValidationError as exc:
        fail("；".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors()))
    with open_ctx(write=True) as (ctx, _state):
        topic = do_create_topic(ctx, body, actor=cli_actor(ctx, as_user))
        topic_id = topic.id
    console.print(f"已添加专题 {topic_id}：{name}")


@topic_app.command("days")
def topic_days(topic_id: int, as_json: Annotated[bool, typer.Option("--json")] = False):
    """One line per day of the topic's window: its report (零报告 when zero), or its count now."""
    from civiclink.cli import console, open_ctx, print_json
    from civiclink.orgs.roles import SYSTEM
    from civiclink.reports import service

    with open_ctx(write=False) as (ctx, _state):
        service.require_reader(SYSTEM, ctx.settings.site_role)
        days = service.topic_days(ctx, service.get_topic(ctx.session, topic_id))
    if as_json:
        print_json(days.model_dump(mode="json"))
        return
    table = Table(title=f"{days.topic.name} 专题日报（{days.start} — {days.end}）")
    for col in ("日期", "件数", "状态", "生成"):
        table.add_column(col)
    for d in days.days:
        status = service.topic_status(d)
        table.add_row(str(d.day), "—" if d.count is None else str(d.count), status,
                      f"{d.generated_by} {d.generated_at:%Y-%m-%d %H:%M}" if d.generated_at else "—")
    console.print(table)
    console.print(f"合计 {days.total} 件；已报告 {days.reported} 天，其中零报告 {days.zero_reports} 天")


@topic_app.command("generate")
def topic_generate(
    topic_id: int,
    day: Annotated[str | None, typer.Option(help="生成这一天的专题日报")] = None,
    from_day: Annotated[str | None, typer.Option("--from", help="或：从这一天 …")] = None,
    to_day: Annotated[str | None, typer.Option("--to", help="… 到这一天（含）")] = None,
    as_user: AsUser = None,
):
    """The 专题日报 of one finished day (or of each day FROM..TO), now; a day already reported is counted again."""
    from civiclink.cli import cli_actor, console, fail, open_ctx
    from civiclink.reports import service
    from civiclink.reports.actions import do_generate_topic_day

    if day is not None:
        first = last = _day(day, "--day")
    elif from_day and to_day:
        first, last = _day(from_day, "--from"), _day(to_day, "--to")
    else:
        fail("请给出 --day，或 --from 与 --to")
    if last < first:
        fail("--to 不能早于 --from")
    if (last - first).days >= service.MAX_TOPIC_DAYS:
        fail(f"一次最多 {service.MAX_TOPIC_DAYS} 天")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    results = []
    with open_ctx(write=True) as (ctx, _state), _progress() as progress:
        actor = cli_actor(ctx, as_user)
        topic = service.get_topic(ctx.session, topic_id)
        task = progress.add_task(f"专题日报：{topic.name}", total=len(days))
        for d in days:
            result = do_generate_topic_day(ctx, topic, d, actor=actor)
            results.append((d, result.report.count, result.created))
            progress.advance(task)
    for d, count, created in results:
        console.print(f"{d}：{count} 件" + ("（零报告）" if count == 0 else "") + ("" if created else "（重新生成）"))
