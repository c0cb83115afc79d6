"""``civiclink demo``: build the demo sites on SQLite under ``var/demo/`` and run them.

Four sites, each its own process and database, linked in pairs of the same level (design §2):
市12345 (port 8000) ↔ 市110 (8110), and 县12345 (如东, 8001) ↔ 县110 (8111).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from civiclink.config import Settings
from civiclink.db import begin_write, utcnow
from civiclink.demo.linkage import POLICE_USERS, seed_linkage
from civiclink.demo.seed import (
    CENTRE_USERS,
    DEMO_PASSWORD,
    DemoCity,
    create_demo_users,
    load_corpus,
    unit_username,
)
from civiclink.sites import (
    LinkedPair,
    SiteSpec,
    import_packaged_org,
    launch,
    load_starter_knowledge,
    pair,
    prepare,
    settings_for,
    wait_until_up,
)

DEMO_DIR = Path("var/demo")
# The demo's own secrets: never used outside the demo (production refuses a default secret).
DEMO_SECRET = "civiclink-demo-secret-not-for-production"
DEMO_PEER_SECRETS = {"city": "demo-city-12345-110-link-key", "county": "demo-rudong-12345-110-link-key"}


def demo_specs(
    directory: Path = DEMO_DIR, *, host: str = "127.0.0.1", port: int = 8000
) -> dict[str, SiteSpec]:
    def url(name: str) -> str:
        return f"sqlite:///{(directory / f'{name}.db').as_posix()}"

    specs = {
        "hotline": SiteSpec(
            "nt-12345",
            "hotline",
            "city",
            "南通市12345政务服务便民热线（演示）",
            port,
            url("hotline"),
            DEMO_SECRET,
            "NT",
            host=host,
        ),
        "police": SiteSpec(
            "nt-110",
            "police",
            "city",
            "南通市公安局110报警服务台（演示）",
            port + 110,
            url("police"),
            DEMO_SECRET,
            "JJ",
            host=host,
        ),
        "county_hotline": SiteSpec(
            "rd-12345",
            "hotline",
            "county",
            "如东县12345政务服务便民热线（演示）",
            port + 1,
            url("rudong-hotline"),
            DEMO_SECRET,
            "RD",
            host=host,
        ),
        "county_police": SiteSpec(
            "rd-110",
            "police",
            "county",
            "如东县公安局110报警服务台（演示）",
            port + 111,
            url("rudong-police"),
            DEMO_SECRET,
            "RJ",
            host=host,
        ),
    }
    pair(hotline=specs["hotline"], police=specs["police"], secret=DEMO_PEER_SECRETS["city"])
    pair(hotline=specs["county_hotline"], police=specs["county_police"], secret=DEMO_PEER_SECRETS["county"])
    return specs


def demo_settings(directory: Path = DEMO_DIR) -> Settings:
    """The city 12345 site's settings (the main demo site)."""
    return settings_for(demo_specs(directory)["hotline"])


# The demo city's Open311 app key, printed with the URLs (a real site makes keys in 管理 → 开放接口).
DEMO_OPEN311_KEY = "demo-open311-key"


def build_demo(settings: Settings, *, orders: int, days: int, seed: int, console: Console) -> dict:
    """Create the 12345 site's schema, org tree, users and simulated activity. Returns a summary."""
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
        import_packaged_org(session, settings, now=now)
        directory = OrgDirectory.load(session)
        users = create_demo_users(session, directory, now=now)
        load_starter_knowledge(state.ctx(session, now=now))
        from civiclink.open311.actions import ClientCreate, do_create_client
        from civiclink.orgs.roles import SYSTEM

        do_create_client(state.ctx(session, now=now), ClientCreate(code="demo-app", name="演示App"), actor=SYSTEM,
                         key=DEMO_OPEN311_KEY)
        session.commit()
        begin_write(session)
        ctx = state.ctx(session, now=now)
        city = DemoCity(ctx=ctx, users=users, corpus=load_corpus(), seed=seed)
        with Progress(
            TextColumn(f"生成演示工单（{settings.site_code}）"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("demo", total=orders)
            stats = city.run(
                session, orders=orders, days=days, now=now, progress=lambda n: progress.advance(task, n)
            )
        train_demo_models(session, settings, console=console)
    finally:
        session.close()
        state.engine.dispose()
    return {
        "orders": stats.orders,
        "actions": stats.actions,
        "users": len(users),
        "seconds": time.perf_counter() - started,
    }


def train_demo_models(session, settings: Settings, *, console: Console) -> None:
    """The site's triage models from its own (demo) orders, as `civiclink model train --from-db` does."""
    from civiclink.triage.train import TrainingError, examples_from_db, train_models

    with console.status(f"训练分诊模型（{settings.site_code}）"):
        category, types, routes = examples_from_db(session)
        try:
            models = train_models(category=category, request_type=types, route_extra=routes, source="demo db")
        except TrainingError as exc:
            console.print(f"[yellow]{settings.site_code}：{exc}；分诊使用内置模型[/yellow]")
            return
        models.save(settings.triage.model_path)


def build_linked_demo(
    specs: dict[str, SiteSpec], *, orders: int, days: int, seed: int, console: Console
) -> dict:
    """Every site of the demo: the two 12345 cities' activity, the two 110 sites, and one of every linkage rule
    between each pair, delivered through the real exchange channel."""
    from civiclink.app import build_state

    summary = build_demo(settings_for(specs["hotline"]), orders=orders, days=days, seed=seed, console=console)
    county = build_demo(
        settings_for(specs["county_hotline"]),
        orders=max(orders // 10, 50),
        days=days,
        seed=seed + 1,
        console=console,
    )
    police_users = [(u, n, r, unit) for u, n, r, unit in POLICE_USERS]
    for key in ("police", "county_police"):
        prepare(specs[key], police_users, password=DEMO_PASSWORD)
    stories = 0
    for hotline_key, police_key in (("hotline", "police"), ("county_hotline", "county_police")):
        hotline = build_state(settings_for(specs[hotline_key], exchange={"relay_enabled": False}))
        police = build_state(settings_for(specs[police_key], exchange={"relay_enabled": False}))
        try:
            sites = LinkedPair(hotline, police)
            with hotline.sessions() as s:
                directory = hotline.directory.get(s)
            staff = lambda code, d=directory, a=sites.hotline_actors: a[
                unit_username(d.unit_by_code(code))
            ]  # noqa: E731
            stories += seed_linkage(sites, now=utcnow(), staff_of=staff)
        finally:
            hotline.engine.dispose()
            police.engine.dispose()
    summary["county_orders"] = county["orders"]
    summary["linkage_stories"] = stories
    return summary


def run_demo(
    *, reset: bool, orders: int, days: int, host: str, port: int, serve: bool, seed: int, console: Console
) -> None:
    specs = demo_specs(host=host, port=port)
    marker = DEMO_DIR / "hotline.db"
    if reset:
        for path in DEMO_DIR.glob("*.db*"):
            path.unlink()
    if not marker.exists() or not (DEMO_DIR / "rudong-police.db").exists():
        DEMO_DIR.mkdir(parents=True, exist_ok=True)
        for path in DEMO_DIR.glob("*.db*"):
            path.unlink()
        console.print(f"正在生成演示城市（南通市与如东县，12345 与 110 各一套），目录：{DEMO_DIR}")
        summary = build_linked_demo(specs, orders=orders, days=days, seed=seed, console=console)
        console.print(
            f"已生成 {summary['orders']} 件市级工单、{summary['county_orders']} 件县级工单、{summary['actions']} 次流转、"
            f"{summary['users']} 个用户，以及每条对接规则的联动案例 {summary['linkage_stories']} 个"
            f"（{summary['seconds']:.0f} 秒）。"
        )
    else:
        console.print(f"使用已有的演示数据（{DEMO_DIR}；重新生成：civiclink demo --reset）")
        # Data made by an older version gets this version's tables first (the sites start with --no-upgrade).
        from civiclink.db import create_db_engine
        from civiclink.migrate import upgrade

        for spec in specs.values():
            engine = create_db_engine(spec.database_url)
            try:
                upgrade(engine)
            finally:
                engine.dispose()
    # Plain lines, not a table: URLs must never be cut to fit a narrow terminal.
    console.print("CivicLink 演示：两级（市、县）、两平台（12345、110），各自独立的进程与数据库")
    for spec in specs.values():
        peer = spec.peers[0]["site_code"] if spec.peers else "—"
        console.print(f"  {spec.name}（{spec.site_code}，对接 {peer}）", soft_wrap=True)
        console.print(
            f"      {spec.base_url}/    接口文档 {spec.base_url}/docs", soft_wrap=True, highlight=False
        )
    logins = Table("站点", "用户名", "角色", title=f"演示账号（密码均为 {DEMO_PASSWORD}）")
    for username, name, _roles in CENTRE_USERS:
        logins.add_row("12345", username, name)
    logins.add_row("12345", "u_csgl、u_320613 …", "承办单位人员（u_<单位编码>）")
    for username, name, _roles, _unit in POLICE_USERS:
        logins.add_row("110", username, name)
    console.print(logins)
    hotline = next(s for s in specs.values() if s.role == "hotline")
    console.print(f"开放接口（Open311，docs/open311.md）：{hotline.base_url}/open311/v2/discovery.xml，"
                  f"演示 api_key：{DEMO_OPEN311_KEY}", soft_wrap=True, highlight=False)
    if not serve:
        return
    processes = []
    try:
        for spec in specs.values():
            processes.append((spec, launch(spec, log=DEMO_DIR / f"{spec.site_code}.log")))
        for spec, process in processes:
            wait_until_up(spec, process=process)
        console.print(
            "四个站点均已启动（Ctrl-C 停止）。交换通道状态：以 admin 登录后 GET /api/exchange/status；"
            "日志：var/demo/*.log"
        )
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.poll() is None for _, p in processes):
            time.sleep(1)
        for spec, p in processes:
            if p.returncode is not None:
                console.print(
                    f"[red]站点 {spec.site_code} 已退出（{p.returncode}），详见 var/demo/{spec.site_code}.log[/red]"
                )
    except KeyboardInterrupt:
        pass
    finally:
        for _, p in processes:
            if p.poll() is None:
                p.terminate()
        for _, p in processes:
            try:
                p.wait(10)
            except Exception:  # noqa: BLE001 - a stuck child is killed
                p.kill()
