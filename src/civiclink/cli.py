"""The ``civiclink`` command: serve, demo, db, org, user, order, sla, calendar, audit, import, exchange, linkage,
triage, model, knowledge, supervise, report, analytics, calls.

Commands run on the server with direct database access, so they act as a named user (``--as``) without a
password; every change still goes through the same ``do_*`` actions and lands in the audit chain.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from civiclink.config import Settings, get_settings
from civiclink.context import Ctx
from civiclink.errors import DomainError

app = typer.Typer(help="CivicLink：12345 政务服务便民热线与 110 对接联动平台", no_args_is_help=True)
db_app = typer.Typer(help="数据库：迁移与状态", no_args_is_help=True)
org_app = typer.Typer(help="组织机构：导入与查看", no_args_is_help=True)
user_app = typer.Typer(help="用户与角色", no_args_is_help=True)
order_app = typer.Typer(help="工单：登记、查看、流转", no_args_is_help=True)
sla_app = typer.Typer(help="时限：黄灯/红灯工单", no_args_is_help=True)
calendar_app = typer.Typer(help="工作日历：法定节假日与调休", no_args_is_help=True)
audit_app = typer.Typer(help="审计链", no_args_is_help=True)
import_app = typer.Typer(help="批量导入历史数据", no_args_is_help=True)
exchange_app = typer.Typer(help="交换通道：消息投递状态、发送进程、重发死信", no_args_is_help=True)
linkage_app = typer.Typer(help="对接联动：转办记录、超时未签收", no_args_is_help=True)
for sub, name in (
    (db_app, "db"), (org_app, "org"), (user_app, "user"), (order_app, "order"), (sla_app, "sla"),
    (calendar_app, "calendar"), (audit_app, "audit"), (import_app, "import"), (exchange_app, "exchange"),
    (linkage_app, "linkage"),
):
    app.add_typer(sub, name=name)

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1):
    err.print(f"[red]错误：[/red]{message}")
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        fail(f"配置不正确：{exc}")


@contextmanager
def open_ctx(*, write: bool, settings: Settings | None = None) -> Iterator[tuple[Ctx, object]]:
    """A Ctx on a fresh session; committed on success when ``write``; DomainErrors become a clean exit."""
    from civiclink.app import build_state
    from civiclink.db import begin_write

    settings = settings or load_settings()
    state = build_state(settings)
    session = state.sessions()
    try:
        if write:
            begin_write(session)
        ctx = state.ctx(session)
        yield ctx, state
        if write:
            session.commit()
    except DomainError as exc:
        session.rollback()
        fail(exc.message, 2 if exc.status_code in (403, 409) else 1)
    finally:
        session.close()
        state.engine.dispose()


def cli_actor(ctx: Ctx, username: str | None):
    from civiclink.orgs.actions import actor_for
    from civiclink.orgs.roles import SYSTEM
    from civiclink.orgs.service import get_user

    if username is None:
        return SYSTEM
    user = get_user(ctx.session, username=username)
    if not user.active:
        fail(f"用户 {username} 已停用")
    unit = ctx.directory.unit(user.unit_id)
    return actor_for(user, unit_code=unit.code if unit else None)


def run_rollup(title: str, refresh: Callable, settings: Settings, *, rebuild: bool, max_days: int | None):
    """``refresh(state, …)`` of a roll-up (the KPIs', the calls') by hand, with a progress bar over its days:
    (its report, seconds taken)."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from civiclink.app import build_state

    state = build_state(settings)
    started = time.perf_counter()
    try:
        with Progress(TextColumn(title), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("days", total=None)
            report = refresh(state, max_days=max_days, rebuild=rebuild,
                             progress=lambda done, total: bar.update(task, completed=done, total=total))
    finally:
        state.engine.dispose()
    return report, time.perf_counter() - started


def print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


# -- serve / demo --------------------------------------------------------------------------------------------


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    upgrade: Annotated[bool, typer.Option(help="启动前先升级数据库")] = True,
):
    """Run the site's web server (uvicorn)."""
    import uvicorn

    from civiclink.app import create_app
    from civiclink.db import create_db_engine
    from civiclink.migrate import upgrade as run_upgrade

    settings = load_settings()
    if upgrade:
        engine = create_db_engine(settings.database_url)
        run_upgrade(engine)
        engine.dispose()
    if workers > 1:
        uvicorn.run("civiclink.asgi:app", host=host, port=port, workers=workers, log_level="warning")
    else:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@app.command()
def demo(
    reset: Annotated[bool, typer.Option(help="删除已有的演示数据库，重新生成")] = False,
    orders: Annotated[int, typer.Option(help="演示工单数")] = 3000,
    days: Annotated[int, typer.Option(help="演示数据覆盖最近多少天")] = 28,
    port: int = 8000,
    host: str = "127.0.0.1",
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="生成后启动服务")] = True,
    seed: int = 12345,
):
    """Build the demo city (南通) on SQLite under var/demo/ with a few thousand orders, then serve it."""
    from civiclink.demo.runner import run_demo

    run_demo(reset=reset, orders=orders, days=days, host=host, port=port, serve=serve_after, seed=seed,
             console=console)


# -- db ------------------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(revision: str = "head"):
    """Apply migrations up to ``revision`` (default: the latest)."""
    from civiclink.db import create_db_engine
    from civiclink.migrate import current_revision, upgrade

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    upgrade(engine, revision)
    console.print(f"数据库已升级到 {current_revision(engine)}（{engine.url.render_as_string(hide_password=True)}）")
    engine.dispose()


@db_app.command("current")
def db_current():
    """Show the database's migration revision and the latest one."""
    from civiclink.db import create_db_engine
    from civiclink.migrate import current_revision, head_revision

    engine = create_db_engine(load_settings().database_url)
    console.print(f"当前：{current_revision(engine)}；最新：{head_revision(engine)}")
    engine.dispose()


# -- org -----------------------------------------------------------------------------------------------------


@org_app.command("import")
def org_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_user: Annotated[str | None, typer.Option("--as", help="以哪个管理员的身份（默认：系统）")] = None,
):
    """Import the org file (YAML with units and categories, or CSV with units); keeps history."""
    from civiclink.orgs.actions import do_import_org_file
    from civiclink.orgs.api import parse_org_file

    with open_ctx(write=True) as (ctx, _state):
        org_file = parse_org_file(file.name, file.read_bytes())
        report = do_import_org_file(
            ctx.session, org_file, actor=cli_actor(ctx, as_user), source=file.name,
            today=ctx.calendar.local_date(ctx.now), now=ctx.now,
        )
    console.print(
        f"单位：新增 {report.units_created}，更新 {report.units_updated}，撤销 {report.units_deactivated}；"
        f"分类：新增 {report.categories_created}，更新 {report.categories_updated}，停用 {report.categories_deactivated}"
    )


@org_app.command("show")
def org_show(code: Annotated[str | None, typer.Argument(help="单位编码；不填显示全树")] = None):
    """Print the org tree (or the subtree under one unit)."""
    from rich.tree import Tree

    from civiclink.i18n import label

    with open_ctx(write=False) as (ctx, _state):
        d = ctx.directory
        roots = [d.unit_by_code(code)] if code else d.children(None)
        if code and roots[0] is None:
            fail(f"单位 {code} 不存在")

        def add(tree, unit):
            node = tree.add(f"{unit.name} [dim]{unit.code} · {label('unit_kind', unit.kind)}[/dim]")
            for child in d.children(unit.id):
                if child.active:
                    add(node, child)

        tree = Tree("组织机构")
        for root in roots:
            add(tree, root)
        console.print(tree)


# -- users ---------------------------------------------------------------------------------------------------


@user_app.command("create")
def user_create(
    username: str,
    display_name: Annotated[str, typer.Option("--name", help="姓名")],
    role: Annotated[list[str], typer.Option("--role", help="角色，可多次给出")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    unit: Annotated[str | None, typer.Option(help="所属单位编码（承办单位人员必填）")] = None,
    as_user: Annotated[str | None, typer.Option("--as")] = None,
):
    """Create a user."""
    from civiclink.orgs.actions import do_create_user
    from civiclink.orgs.schemas import UserCreate

    try:
        user_in = UserCreate(username=username, display_name=display_name, password=password, roles=role,
                             unit_code=unit)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with open_ctx(write=True) as (ctx, _state):
        do_create_user(ctx.session, user_in, actor=cli_actor(ctx, as_user), now=ctx.now)
    console.print(f"已创建用户 {username}")


@user_app.command("list")
def user_list():
    """List users with their roles and units."""
    from sqlalchemy import select

    from civiclink.i18n import labels
    from civiclink.orgs.models import User

    with open_ctx(write=False) as (ctx, _state):
        table = Table("用户名", "姓名", "角色", "单位", "状态")
        for u in ctx.session.execute(select(User).order_by(User.username)).scalars():
            unit = ctx.directory.unit(u.unit_id)
            table.add_row(u.username, u.display_name, labels("role", u.roles), unit.name if unit else "",
                          "启用" if u.active else "停用")
        console.print(table)


@user_app.command("passwd")
def user_passwd(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
):
    """Set a user's password."""
    from civiclink.orgs.actions import do_update_user
    from civiclink.orgs.roles import SYSTEM
    from civiclink.orgs.schemas import UserUpdate
    from civiclink.orgs.service import get_user

    with open_ctx(write=True) as (ctx, _state):
        user = get_user(ctx.session, username=username)
        try:
            user_in = UserUpdate(version=user.version, password=password)
        except ValidationError:
            fail("密码至少 8 位")
        do_update_user(ctx.session, user, user_in, actor=SYSTEM, now=ctx.now)
    console.print(f"已修改 {username} 的密码")


# -- orders --------------------------------------------------------------------------------------------------


@order_app.command("register")
def order_register(
    as_user: Annotated[str, typer.Option("--as", help="登记人（话务员）用户名")],
    title: Annotated[str, typer.Option(help="标题")],
    content: Annotated[str, typer.Option(help="诉求内容")],
    request_type: Annotated[str, typer.Option("--type", help="consultation/help/complaint/report/suggestion")],
    channel: Annotated[str, typer.Option(help="phone/website/wechat/app/police_transfer/…")] = "phone",
    category: Annotated[str | None, typer.Option(help="分类编码")] = None,
    address: str | None = None,
    place: Annotated[str | None, typer.Option(help="属地单位编码")] = None,
    urgency: str = "normal",
    caller_name: str | None = None,
    caller_phone: str | None = None,
    confidential: bool = False,
    answer: Annotated[str | None, typer.Option(help="直接办结的答复（仅咨询）")] = None,
    draft: Annotated[bool, typer.Option(help="只登记，不提交派单")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
):
    """Register a 工单 (登记) and print its number, deadlines and owner."""
    from civiclink.workorders.actions import do_register_order
    from civiclink.workorders.schemas import OrderCreate
    from civiclink.workorders.service import order_read

    try:
        order_in = OrderCreate(
            channel=channel, title=title, content=content, request_type=request_type, category=category,
            address=address, place=place, urgency=urgency, submit=not draft, intake_answer=answer,
            caller={"name": caller_name, "phone": caller_phone, "confidential": confidential},
        )
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    with open_ctx(write=True) as (ctx, _state):
        actor = cli_actor(ctx, as_user)
        order = do_register_order(ctx, order_in, actor=actor, source="cli")
        ctx.session.commit()
        read = order_read(ctx, order, actor)
    _print_order(read, as_json)


def _print_order(read, as_json: bool) -> None:
    if as_json:
        print_json(read.model_dump(mode="json"))
        return
    from civiclink.i18n import label

    console.print(f"[bold]{read.number}[/bold]  {read.title}  [cyan]{read.state_label}[/cyan]  第 {read.version} 版")
    owner = read.owner_unit.name if read.owner_unit else "—"
    console.print(f"责任单位：{owner}；建议承办：{read.suggested_unit.name if read.suggested_unit else '—'}")
    for c in read.clocks:
        due = c.due_at.astimezone().strftime("%Y-%m-%d %H:%M") if c.due_at else "—"
        flag = "（暂定：超出已公布的节假日安排）" if c.provisional else ""
        console.print(f"  {label('stage', c.stage)}时限 {c.limit}：{due}  {c.color_label}{flag}")
    if read.allowed_actions:
        console.print("可执行：" + "、".join(f"{label('action', a)}({a.value})" for a in read.allowed_actions))


@order_app.command("show")
def order_show(
    number: str,
    as_user: Annotated[str | None, typer.Option("--as")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Show one order as the given user may see it."""
    from civiclink.workorders.service import get_visible_order, order_read

    with open_ctx(write=False) as (ctx, _state):
        actor = cli_actor(ctx, as_user)
        read = order_read(ctx, get_visible_order(ctx, number, actor), actor)
    _print_order(read, as_json)


@order_app.command("timeline")
def order_timeline(number: str, as_json: Annotated[bool, typer.Option("--json")] = False):
    """Print the order's full history."""
    from civiclink.orgs.roles import SYSTEM
    from civiclink.workorders.service import get_visible_order, timeline

    with open_ctx(write=False) as (ctx, _state):
        entries = timeline(ctx, get_visible_order(ctx, number, SYSTEM))
    if as_json:
        print_json([e.model_dump(mode="json") for e in entries])
        return
    table = Table("时间", "操作", "操作人", "状态", "说明")
    for e in entries:
        states = f"{e.from_state or ''} → {e.to_state or ''}" if e.from_state != e.to_state else ""
        detail = "；".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, "", []))
        table.add_row(e.at.astimezone().strftime("%m-%d %H:%M"), e.action_label,
                      f"{e.actor}({e.actor_role_label or ''})", states, detail[:80])
    console.print(table)


@order_app.command("list")
def order_list(
    as_user: Annotated[str | None, typer.Option("--as")] = None,
    state: Annotated[list[str] | None, typer.Option(help="状态，可多次给出")] = None,
    unit: str | None = None,
    open_only: Annotated[bool, typer.Option("--open")] = False,
    limit: int = 30,
):
    """List orders the user may see, newest first."""
    from civiclink.workorders.service import OrderFilter, list_orders
    from civiclink.workorders.states import State

    try:
        states = [State(s) for s in state] if state else None
    except ValueError as exc:
        fail(str(exc))
    with open_ctx(write=False) as (ctx, _state):
        page = list_orders(ctx, cli_actor(ctx, as_user), OrderFilter(state=states, unit=unit, open_only=open_only),
                           limit=limit)
    table = Table("编号", "标题", "状态", "承办单位", "登记时间", title=f"共 {page.total} 件")
    for o in page.items:
        table.add_row(o.number, o.title[:24], o.state_label, o.handling_unit.name if o.handling_unit else "",
                      o.registered_at.astimezone().strftime("%m-%d %H:%M"))
    console.print(table)


@order_app.command("do")
def order_do(
    number: str,
    action: Annotated[str, typer.Argument(help="dispatch / sign / return / reply / callback / …")],
    as_user: Annotated[str, typer.Option("--as", help="操作人用户名")],
    version: Annotated[int | None, typer.Option(help="您看到的版本（默认：当前版本）")] = None,
    field: Annotated[list[str] | None, typer.Option("--set", help="字段=值，如 unit=csgl、reason=…")] = None,
    body_json: Annotated[str | None, typer.Option("--json-body", help="整个请求体（JSON）")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Take a lifecycle action on an order, with the same checks as the API."""
    from civiclink.workorders.actions import load_order_for_update, take_action
    from civiclink.workorders.service import order_read
    from civiclink.workorders.states import Action

    try:
        act = Action(action.replace("-", "_"))
    except ValueError:
        fail(f"未知操作 {action!r}；可用：{', '.join(a.value for a in Action)}")
    try:
        data = json.loads(body_json) if body_json else {}
    except json.JSONDecodeError as exc:
        fail(f"--json-body 不是合法的 JSON：{exc.msg}（第 {exc.colno} 个字符）")
    if not isinstance(data, dict):
        fail("--json-body 必须是一个 JSON 对象")
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"--set 需要 字段=值，而不是 {item!r}")
        data[key.strip()] = value
    with open_ctx(write=True) as (ctx, _state):
        actor = cli_actor(ctx, as_user)
        order = load_order_for_update(ctx, number)
        if version is not None:
            data.setdefault("version", version)
        try:
            take_action(ctx, order, act, data, actor=actor)
        except ValidationError as exc:
            fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        ctx.session.commit()
        read = order_read(ctx, order, actor)
    _print_order(read, as_json)


# -- sla -----------------------------------------------------------------------------------------------------


@sla_app.command("warnings")
def sla_warnings(
    color: Annotated[str, typer.Option(help="all / yellow / red")] = "all",
    stage: Annotated[str | None, typer.Option(help="dispatch / sign / handle / callback")] = None,
    unit: Annotated[str | None, typer.Option(help="责任单位编码")] = None,
    limit: int = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """List orders that are yellow (预警) or red (超期) now."""
    from civiclink.orgs.roles import SYSTEM
    from civiclink.workorders.service import warnings

    if color not in ("all", "yellow", "red"):
        fail("--color 只能是 all、yellow 或 red")
    with open_ctx(write=False) as (ctx, _state):
        rows = warnings(ctx, SYSTEM, color=color, stage=stage, unit=unit, limit=limit)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table("灯", "编号", "标题", "环节", "责任单位", "期限", "超期(小时)", title=f"{len(rows)} 件")
    for r in rows:
        table.add_row("[red]红[/red]" if r.color == "red" else "[yellow]黄[/yellow]", r.number, r.title[:20],
                      r.stage_label, r.handling_unit.name if r.handling_unit else "",
                      r.due_at.astimezone().strftime("%m-%d %H:%M"), f"{max(r.overdue_hours, 0):.1f}")
    console.print(table)


# -- calendar ------------------------------------------------------------------------------------------------


@calendar_app.command("import")
def calendar_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    as_user: Annotated[str | None, typer.Option("--as")] = None,
):
    """Import a year's official holiday schedule (CSV: date,type,name; type holiday/休 or workday/班)."""
    from civiclink.sla.service import do_import_calendar, parse_calendar_csv

    with open_ctx(write=True) as (ctx, _state):
        years = do_import_calendar(ctx.session, parse_calendar_csv(file.read_text(encoding="utf-8")),
                                   actor=cli_actor(ctx, as_user), source=file.name, now=ctx.now,
                                   tz=ctx.settings.tz, yellow_share=ctx.settings.sla.yellow_share)
    console.print(f"已导入 {', '.join(map(str, years))} 年的节假日安排")


@calendar_app.command("show")
def calendar_show(year: int):
    """Print a year's holidays and make-up workdays, and whether the year is official."""
    from datetime import date, timedelta

    with open_ctx(write=False) as (ctx, _state):
        cal = ctx.calendar
        day, rows, workdays = date(year, 1, 1), [], 0
        while day.year == year:
            info = cal.info(day)
            workdays += info.is_workday
            if info.is_workday != (day.weekday() < 5):
                rows.append(info)
            day += timedelta(days=1)
    status = "官方安排" if year in cal.known_years else "[yellow]尚无官方安排：按周一至周五推算（暂定）[/yellow]"
    console.print(f"{year} 年：{status}；工作日 {workdays} 天")
    for info in rows:
        console.print(f"  {info.day}  {'班' if info.is_workday else '休'}  {info.name}")


@calendar_app.command("deadline")
def calendar_deadline(start: str, workdays: int):
    """The n-th working day after START (YYYY-MM-DD); START itself does not count."""
    from datetime import date, timedelta

    try:
        day = date.fromisoformat(start)
    except ValueError:
        fail("日期格式应为 YYYY-MM-DD")
    if workdays < 1:
        fail("工作日数至少为 1")
    with open_ctx(write=False) as (ctx, _state):
        due = ctx.calendar.add_workdays(day, workdays)
        provisional = any(not ctx.calendar.is_known(day + timedelta(days=i)) for i in range((due - day).days + 1))
    console.print(f"{day} 之后第 {workdays} 个工作日：{due}" + ("（暂定）" if provisional else ""))


# -- audit ---------------------------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify():
    """Check the audit hash chain: OK, or the first event that was altered, removed or reordered."""
    from rich.progress import Progress

    from civiclink.audit.models import AuditHead
    from civiclink.audit.service import verify_chain

    with open_ctx(write=False) as (ctx, _state):
        head = ctx.session.get(AuditHead, 1)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("校验审计链", total=head.last_seq if head else 0)
            result = verify_chain(ctx.session, progress=lambda n: progress.advance(task, n))
    if result.ok:
        console.print(f"[green]OK[/green]：审计链完整，共 {result.checked} 个事件")
        return
    console.print(f"[red]审计链被破坏[/red]：{result.problem}（事件 seq={result.bad_seq}, id={result.bad_id}）")
    raise typer.Exit(3)


# -- bulk import ---------------------------------------------------------------------------------------------


@import_app.command("orders")
def import_orders(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    batch_size: Annotated[int, typer.Option(help="每批行数")] = 2000,
    errors_out: Annotated[Path | None, typer.Option("--errors", help="把错误行写到这个 CSV")] = None,
):
    """Import historical orders from CSV (streamed; bad rows reported with line numbers; reruns skip)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from civiclink.workorders.importer import import_orders_csv

    settings = load_settings()
    with Progress(TextColumn("导入工单"), BarColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                  console=err) as progress:
        task = progress.add_task("import", total=file.stat().st_size)
        report = import_orders_csv(settings, file, batch_size=batch_size,
                                   progress=lambda n: progress.update(task, completed=n))
    console.print(
        f"读取 {report.rows} 行：导入 {report.imported}，已存在跳过 {report.skipped}，错误 {len(report.errors)}"
        f"（{report.seconds:.1f} 秒，{report.rows / max(report.seconds, 1e-9):,.0f} 行/秒）"
    )
    for e in report.errors[:20]:
        err.print(f"  第 {e.line} 行：{e.reason}")
    if len(report.errors) > 20:
        err.print(f"  …… 另有 {len(report.errors) - 20} 行错误")
    if errors_out and report.errors:
        import csv

        with errors_out.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["line", "reason"])
            for e in report.errors:
                w.writerow([e.line, e.reason])
    if report.errors:
        raise typer.Exit(4)


# -- exchange / linkage --------------------------------------------------------------------------------------


@exchange_app.command("status")
def exchange_status(as_json: Annotated[bool, typer.Option("--json")] = False):
    """Per peer: messages by delivery state each way, the oldest undelivered, the last delivery."""
    from civiclink.exchange.api import peer_status
    from civiclink.i18n import label

    with open_ctx(write=False) as (ctx, _state):
        rows = peer_status(ctx.session, ctx.settings)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        console.print("本站未配置对接站点（peers）")
        return
    table = Table(title=f"交换通道状态（本站 {ctx.settings.site_code}）")
    for col in ("对方站点", "地址", "发出", "收到", "最早未送达", "最近送达"):
        table.add_column(col)
    for r in rows:
        out = "、".join(f"{label('message_state', k)} {v}" for k, v in sorted(r.outbox.items())) or "—"
        inn = "、".join(f"{label('message_state', k)} {v}" for k, v in sorted(r.inbox.items())) or "—"
        table.add_row(f"{r.peer}（{r.role}/{r.level}）", r.base_url, out, inn,
                      str(r.oldest_pending_at or "—"), str(r.last_delivered_at or "—"))
    console.print(table)
    dead = sum(r.outbox.get("dead", 0) for r in rows)
    if dead:
        err.print(f"[yellow]有 {dead} 条死信；查看：civiclink exchange messages --state dead；重发：civiclink exchange retry --all[/yellow]")
        raise typer.Exit(3)


@exchange_app.command("messages")
def exchange_messages(
    direction: Annotated[str, typer.Option(help="out（发出）或 in（收到）")] = "out",
    state: Annotated[str | None, typer.Option(help="pending / delivered / dead；applied / waiting / rejected")] = None,
    case: Annotated[str | None, typer.Option(help="案件号 case_ref")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Messages sent or received, newest first, with their delivery state."""
    from civiclink.exchange.api import list_message_reads

    if direction not in ("out", "in"):
        fail("--direction 只能是 out 或 in")
    with open_ctx(write=False) as (ctx, _state):
        rows = list_message_reads(ctx.session, direction=direction, state=state, case_ref=case, limit=limit)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table(title="发出的消息" if direction == "out" else "收到的消息")
    for col in ("时间", "对方", "案件", "序号", "类型", "状态", "次数", "说明"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.created_at.strftime("%m-%d %H:%M:%S"), r.peer, r.case_ref, str(r.seq), r.type, r.state_label,
                      str(r.attempts or ""), (r.last_error or r.detail or "")[:60])
    console.print(table)


@exchange_app.command("relay")
def exchange_relay(once: Annotated[bool, typer.Option("--once", help="发完当前待发消息后退出")] = False):
    """Run an outbox relay in this process (beside, or instead of, the server's own relay thread).

    Several relays may run against one database: each claims different messages.
    """
    import signal
    import time

    from civiclink.app import build_state
    from civiclink.exchange.relay import Relay
    from civiclink.exchange.transport import HttpTransport

    settings = load_settings()
    if not settings.peers:
        fail("本站未配置对接站点（peers），没有可发送的对象")
    state = build_state(settings)
    relay = Relay(state, HttpTransport(timeout=settings.exchange.timeout))
    relay.release_orphaned_claims()  # a relay of this host that was killed leaves nothing waiting for its lease
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    sent = 0
    import logging

    log = logging.getLogger("civiclink.exchange.relay")
    try:
        while not stopping:
            try:
                n = relay.run_once()
            except Exception:  # a database hiccup must not end the relay (it may be the only one)
                log.exception("relay pass failed; trying again")
                time.sleep(settings.exchange.poll_interval)
                continue
            sent += n
            if once and n == 0:
                break
            if n:
                err.print(f"已处理 {sent} 条", end="\r")
            elif not once:
                time.sleep(settings.exchange.poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        state.engine.dispose()
    console.print(f"发送进程结束：共处理 {sent} 条消息")


@exchange_app.command("retry")
def exchange_retry(
    message_id: Annotated[str | None, typer.Argument(help="死信的 message_id")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="重发全部死信")] = False,
):
    """Put dead-lettered messages back in the queue."""
    from civiclink.app import build_state
    from civiclink.exchange.api import retry_dead

    if not message_id and not all_dead:
        fail("请给出 message_id，或用 --all 重发全部死信")
    state = build_state(load_settings())
    try:
        n = retry_dead(state, message_id=message_id)
    finally:
        state.engine.dispose()
    if message_id and n == 0:
        fail(f"没有 message_id 为 {message_id} 的死信")
    console.print(f"已重新排队 {n} 条消息")


@linkage_app.command("transfers")
def linkage_transfers(
    direction: Annotated[str | None, typer.Option(help="out（转出）或 in（转入）")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看超时未签收的推送（R-204）")] = False,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """Transfer records (R-211) both ways."""
    from civiclink.linkage.service import list_transfers
    from civiclink.orgs.roles import SYSTEM

    with open_ctx(write=False) as (ctx, _state):
        rows = list_transfers(ctx, SYSTEM, direction=direction, overdue=overdue, limit=limit)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    table = Table(title="转办记录")
    for col in ("发起", "方向", "类型", "方式", "本站编号", "对方编号", "状态", "签收时限", "结果"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.offered_at.strftime("%m-%d %H:%M"), "转出" if r.direction == "out" else "转入", r.kind_label,
                      r.channel_label, r.local_number or "", r.remote_number or "",
                      r.state_label + ("（超时）" if r.sign_overdue else ""),
                      r.sign_due_at.strftime("%m-%d %H:%M") if r.sign_due_at else "", (r.situation or "")[:30])
    console.print(table)


# -- triage, models, knowledge (their own modules) -------------------------------------------------------------

from civiclink.analytics.cli import analytics_app  # noqa: E402 — after the helpers they import lazily
from civiclink.callcentre.cli import calls_app  # noqa: E402
from civiclink.knowledge.cli import knowledge_app  # noqa: E402
from civiclink.reports.cli import report_app  # noqa: E402
from civiclink.supervision.cli import supervise_app  # noqa: E402
from civiclink.triage.cli import model_app, triage  # noqa: E402

app.command("triage")(triage)
app.add_typer(model_app, name="model")
app.add_typer(knowledge_app, name="knowledge")
app.add_typer(supervise_app, name="supervise")
app.add_typer(report_app, name="report")
app.add_typer(analytics_app, name="analytics")
app.add_typer(calls_app, name="calls")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
