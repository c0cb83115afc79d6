"""``civiclink calls …``: import call events from CSV (what a CTI adapter would post), the connection KPIs and
their roll-up, and the 漏接回拨 list (docs/cti.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

calls_app = typer.Typer(help="话务：通话记录导入、接通指标、漏接回拨", no_args_is_help=True)


@calls_app.command("import")
def import_events(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
                  as_user: Annotated[str | None, typer.Option("--as", help="以此用户（管理员）导入")] = None):
    """Import call events from CSV (columns: call_id,type,at,caller,line,agent,team,target,order,incident; UTF-8;
    times ISO 8601 with offset). Bad rows are reported with their line numbers; a rerun skips what is there."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from civiclink.callcentre.actions import csv_batches, do_record_call_events
    from civiclink.cli import cli_actor, console, err, fail, open_ctx
    from civiclink.db import begin_write

    recorded = duplicates = calls = 0
    problems = []
    size = file.stat().st_size
    with open_ctx(write=False) as (ctx, _state), file.open(encoding="utf-8-sig", newline="") as handle, Progress(
            TextColumn("导入话务事件"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} 字节"),
            TimeElapsedColumn(), console=console, transient=True) as bar:
        actor = cli_actor(ctx, as_user)
        task = bar.add_task("import", total=size)
        ctx.session.rollback()
        for batch in csv_batches(handle):
            problems += batch.problems
            if batch.events:
                begin_write(ctx.session)
                result = do_record_call_events(ctx, [e for _line, e in batch.events], actor=actor, source="csv")
                ctx.session.commit()
                recorded, duplicates, calls = (recorded + result.recorded, duplicates + result.duplicates,
                                               calls + result.calls)
            bar.update(task, completed=min(size, handle.tell()) if not handle.closed else size)
    console.print(f"新增事件 {recorded}，已存在跳过 {duplicates}，涉及通话 {calls}，错误 {len(problems)}")
    for p in problems[:20]:
        err.print(f"  第 {p.line} 行：{p.reason}")
    if len(problems) > 20:
        err.print(f"  …… 另有 {len(problems) - 20} 行错误")
    if problems:
        fail("部分行未导入", 1)


@calls_app.command("rollup")
def rollup(rebuild: Annotated[bool, typer.Option("--rebuild", help="丢弃已有汇总，全部重算")] = False,
           max_days: Annotated[int | None, typer.Option("--max-days", min=1, help="本次最多汇总的天数")] = None):
    """Roll up the connection KPIs of every finished day not yet rolled up (the server does it every minute by
    itself; docs/cti.md, "Roll-up")."""
    from civiclink.callcentre.rollup import refresh
    from civiclink.cli import console, load_settings, run_rollup

    report, seconds = run_rollup("汇总话务指标（按日）", refresh, load_settings(), rebuild=rebuild, max_days=max_days)
    console.print(f"汇总话务 {len(report.built)} 天；尚余 {report.remaining} 天（{seconds:.1f} 秒）")


@calls_app.command("kpis")
def kpis(start: Annotated[str | None, typer.Option(help="第一天 YYYY-MM-DD，默认今天")] = None,
         end: Annotated[str | None, typer.Option(help="最后一天，默认同 start")] = None,
         as_json: Annotated[bool, typer.Option("--json")] = False):
    """接通率, 一次接通率, 15秒接通率, 放弃率, ASA: in total and by team (by hour and day with --json)."""
    from civiclink.callcentre.api import local_span
    from civiclink.callcentre.service import connection_kpis
    from civiclink.cli import console, fail, open_ctx, print_json

    try:
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
    except ValueError:
        fail("日期格式应为 YYYY-MM-DD")
    with open_ctx(write=False) as (ctx, _state):
        first, last, _s, _e = local_span(ctx, first, last)
        figures = connection_kpis(ctx, first, last)
    if as_json:
        print_json(figures.model_dump(mode="json"))
        return
    table = Table(title=f"接通指标 {first} 至 {last}（{figures.answer_target_seconds} 秒内接听为及时）")
    for col in ("", "呼入", "接听", "接通率", "一次接通率", f"{figures.answer_target_seconds}秒接通率", "放弃率", "平均应答(秒)"):
        table.add_column(col)

    def pct(v):
        return "—" if v is None else f"{v:.2f}%"

    for row in [figures.total, *figures.by_team]:
        table.add_row(row.label, str(row.offered), str(row.answered), pct(row.connection_rate),
                      pct(row.first_attempt_rate), pct(row.target_rate), pct(row.abandonment_rate),
                      "—" if row.average_answer_seconds is None else f"{row.average_answer_seconds:.1f}")
    console.print(table)
    if figures.worst_24h is not None:
        console.print(f"最低的连续24小时：{figures.worst_24h.label}，接通率 {pct(figures.worst_24h.connection_rate)}")


@calls_app.command("missed")
def missed(as_json: Annotated[bool, typer.Option("--json")] = False,
           days: Annotated[int, typer.Option(min=1, max=31, help="最近几天")] = 1,
           as_user: Annotated[str | None, typer.Option("--as", help="以此用户查看（号码按其角色脱敏）")] = None):
    """The 漏接回拨 list: missed calls waiting for a call-back, oldest first (R-605)."""
    from datetime import timedelta

    from civiclink.callcentre.api import local_span
    from civiclink.callcentre.service import call_read, list_calls
    from civiclink.cli import cli_actor, console, open_ctx, print_json

    with open_ctx(write=False) as (ctx, _state):
        actor = cli_actor(ctx, as_user)
        today = ctx.now.astimezone(ctx.settings.tz).date()
        _f, _l, since, until = local_span(ctx, today - timedelta(days=days - 1), today)
        total, calls = list_calls(ctx.session, start=since, end=until, missed=True, limit=200)
        rows = [call_read(c, actor) for c in calls]
    if as_json:
        print_json({"total": total, "items": [r.model_dump(mode="json") for r in rows]})
        return
    table = Table(title=f"待回拨的漏接电话（{total}）")
    for col in ("编号", "来电时间", "号码", "等待(秒)", "班组"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.id), r.offered_at.astimezone(ctx.settings.tz).strftime("%m-%d %H:%M:%S"), r.caller or "",
                      f"{r.wait_seconds:.0f}" if r.wait_seconds is not None else "", r.team or "")
    console.print(table)
