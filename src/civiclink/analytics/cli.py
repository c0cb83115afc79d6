"""``civiclink analytics rollup``: bring the KPI roll-up up to date now, with progress (the 12345 server does it
every minute by itself; docs/kpi.md, "Pre-aggregation")."""

from __future__ import annotations

from typing import Annotated

import typer

analytics_app = typer.Typer(help="统计分析：考核指标的预汇总", no_args_is_help=True)


@analytics_app.command("rollup")
def rollup(rebuild: Annotated[bool, typer.Option("--rebuild", help="丢弃已有汇总，全部重算")] = False,
           max_days: Annotated[int | None, typer.Option("--max-days", min=1, help="本次最多汇总的天数")] = None):
    """Roll up every finished day not yet rolled up (and those changes reached back into), then the months."""
    from civiclink.analytics.rollup import refresh
    from civiclink.cli import console, fail, load_settings, run_rollup

    settings = load_settings()
    if settings.site_role != "hotline":
        fail("考核指标只在 12345 站点汇总")
    report, seconds = run_rollup("汇总考核指标（按日）", refresh, settings, rebuild=rebuild, max_days=max_days)
    console.print(f"汇总 {len(report.built)} 天、{len(report.months)} 个月、今日 {report.hours} 个整点时段；"
                  f"因 {report.changed_orders} 件工单变更而重算 {report.unbuilt} 天；尚余 {report.remaining} 天（{seconds:.1f} 秒）")
