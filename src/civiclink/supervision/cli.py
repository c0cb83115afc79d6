"""``civiclink supervise sweep``: the automatic supervision sweep, once, now (the server runs it periodically)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

supervise_app = typer.Typer(help="自动督办：催办、督办、重复诉求、退单偏多的单位", no_args_is_help=True)

KIND_NAMES = {"urge": "催办（黄灯）", "supervise": "督办（红灯）", "repeat_caller": "重复来电", "repeat_place": "同一属地重复诉求",
              "unit_returns": "退单偏多的单位"}


@supervise_app.command("sweep")
def sweep(dry_run: Annotated[bool, typer.Option("--dry-run", help="只列出，不发送")] = False,
          as_json: Annotated[bool, typer.Option("--json")] = False):
    """Send what is due now, each once; list it."""
    from civiclink.cli import console, open_ctx, print_json
    from civiclink.supervision.actions import do_sweep

    with open_ctx(write=not dry_run) as (ctx, _state), console.status("督办扫描中…"):
        report = do_sweep(ctx, dry_run=dry_run)
    if as_json:
        print_json({"done": [{"kind": c.kind, "order": c.order_number, "unit_id": c.unit_id, "note": c.note}
                             for c in report.done], "already": report.already, "dry_run": dry_run})
        return
    table = Table(title="将要执行（试运行）" if dry_run else "本次督办扫描")
    for col in ("类型", "工单", "说明"):
        table.add_column(col)
    for c in report.done:
        table.add_row(KIND_NAMES.get(c.kind, c.kind), c.order_number or "—", c.note)
    console.print(table)
    console.print(f"共 {len(report.done)} 项；此前已处理、本次跳过 {report.already} 项")
