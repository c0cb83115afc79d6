"""``civiclink demo``: build the demo city on SQLite under ``var/demo/`` and run it."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from civiclink.config import Settings, get_settings
from civiclink.db import begin_write, utcnow
from civiclink.demo.seed import CENTRE_USERS, DEMO_PASSWORD, DemoCity, create_demo_users, load_corpus
from civiclink.orgs.actions import do_import_org_file
from civiclink.orgs.api import parse_org_file
from civiclink.orgs.roles import SYSTEM

DEMO_DIR = Path("var/demo")
# The demo's own secret: never used outside the demo (production refuses a default secret).
DEMO_SECRET = "civiclink-demo-secret-not-for-production"


def demo_settings(directory: Path = DEMO_DIR) -> Settings:
    return get_settings(
        environment="local",
        site_role="hotline",
        site_code="nt-12345",
        site_name="南通市12345政务服务便民热线（演示）",
        database_url=f"sqlite:///{(directory / 'hotline.db').as_posix()}",
        secret_key=DEMO_SECRET,
    )


def build_demo(settings: Settings, *, orders: int, days: int, seed: int, console: Console) -> dict:
    """Create the schema, the org tree, the users and the simulated activity. Returns a summary."""
    from civiclink.app import build_state
    from civiclink.migrate import upgrade
    from civiclink.orgs.service import OrgDirectory

    state = build_state(settings)
    upgrade(state.engine)
    session = state.sessions()
    started = time.perf_counter()
    now = utcnow()
    try:
        begin_write(session)
        org_file = settings.resolved_org_file
        do_import_org_file(session, parse_org_file(org_file.name, org_file.read_bytes()), actor=SYSTEM,
                           source=org_file.name, today=now.date(), now=now)
        session.flush()
        directory = OrgDirectory.load(session)
        users = create_demo_users(session, directory, now=now)
        session.commit()
        begin_write(session)
        ctx = state.ctx(session, now=now)
        city = DemoCity(ctx=ctx, users=users, corpus=load_corpus(), seed=seed)
        with Progress(TextColumn("生成演示工单"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("demo", total=orders)
            stats = city.run(session, orders=orders, days=days, now=now,
                             progress=lambda n: progress.advance(task, n))
    finally:
        session.close()
        state.engine.dispose()
    return {"orders": stats.orders, "actions": stats.actions, "users": len(users),
            "seconds": time.perf_counter() - started}


def run_demo(*, reset: bool, orders: int, days: int, host: str, port: int, serve: bool, seed: int,
             console: Console) -> None:
    import uvicorn

    from civiclink.app import create_app

    settings = demo_settings()
    db_file = DEMO_DIR / "hotline.db"
    if reset:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    if not db_file.exists():
        console.print(f"正在生成演示城市（南通），数据库：{db_file}")
        summary = build_demo(settings, orders=orders, days=days, seed=seed, console=console)
        console.print(
            f"已生成 {summary['orders']} 件工单、{summary['actions']} 次流转、{summary['users']} 个用户"
            f"（{summary['seconds']:.0f} 秒）。"
        )
    else:
        console.print(f"使用已有的演示数据库 {db_file}（重新生成：civiclink demo --reset）")
    base = f"http://{host}:{port}"
    table = Table("站点", "地址", title="CivicLink 演示")
    table.add_row("12345 热线", base + "/")
    table.add_row("接口文档", base + "/docs")
    console.print(table)
    logins = Table("用户名", "角色", title=f"演示账号（密码均为 {DEMO_PASSWORD}）")
    for username, name, _roles in CENTRE_USERS:
        logins.add_row(username, name)
    logins.add_row("u_csgl、u_320613 …", "承办单位人员（u_<单位编码>）")
    console.print(logins)
    if serve:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
