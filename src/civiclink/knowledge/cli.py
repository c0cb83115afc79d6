"""``civiclink knowledge``: search, list, add/load, retire (R-903: admins maintain the knowledge base)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError
from rich.table import Table

knowledge_app = typer.Typer(help="知识库：检索、导入、新增、停用", no_args_is_help=True)


@knowledge_app.command("search")
def search(query: str, place: Annotated[str | None, typer.Option(help="属地单位编码")] = None,
           limit: int = 5, as_json: Annotated[bool, typer.Option("--json")] = False):
    """Items valid today that answer the question."""
    from civiclink.cli import console, open_ctx, print_json

    with open_ctx(write=False) as (ctx, state):
        index = state.knowledge.get(ctx.session)
        region = ()
        if place:
            unit = ctx.directory.require_unit(place, field="place")
            region = (*unit.ancestor_ids, unit.id)
        hits = index.search(query, today=ctx.calendar.local_date(ctx.now), region_ids=region, limit=limit)
    if as_json:
        print_json([{"code": h.item.code, "title": h.item.title, "answer": h.item.answer, "source": h.item.source,
                     "confidence": h.confidence} for h in hits])
        return
    if not hits:
        console.print("没有找到适用的知识条目")
    for h in hits:
        console.print(f"[bold]{h.item.title}[/bold]（{h.item.code}，匹配度 {h.confidence:.0%}）\n{h.item.answer}\n"
                      f"[dim]依据：{h.item.source or '—'}[/dim]\n")


@knowledge_app.command("list")
def list_items(status: Annotated[str | None, typer.Option(help="valid/not_yet_valid/expired/retired")] = None,
               as_json: Annotated[bool, typer.Option("--json")] = False):
    """Every item with its status."""
    from civiclink.cli import console, open_ctx, print_json
    from civiclink.knowledge.api import list_items as read_items

    with open_ctx(write=False) as (ctx, _state):
        items = read_items(ctx, None, status=status, kind=None)
    if as_json:
        print_json([i.model_dump(mode="json") for i in items])
        return
    table = Table(title="知识库")
    for col in ("编码", "标题", "类别", "状态", "生效", "失效", "引用次数"):
        table.add_column(col)
    labels = {"valid": "有效", "not_yet_valid": "未生效", "expired": "已过期", "retired": "已停用"}
    for i in items:
        table.add_row(i.code, i.title, i.kind, labels[i.status], str(i.effective_from), str(i.expires_on or ""),
                      str(i.used_count))
    console.print(table)


@knowledge_app.command("load")
def load(file: Annotated[Path | None, typer.Argument(help="YAML 文件；不填为随软件提供的南通示例知识库")] = None,
         as_user: Annotated[str | None, typer.Option("--as", help="以哪个管理员的身份（默认：系统）")] = None):
    """Add the items of a YAML file whose codes are new (existing items are kept as they are)."""
    from civiclink.cli import cli_actor, console, fail, open_ctx
    from civiclink.knowledge.actions import do_load_items
    from civiclink.knowledge.schemas import STARTER_FILE, read_item_file

    path = file or STARTER_FILE
    try:
        items = read_item_file(path)
    except (ValidationError, yaml.YAMLError, OSError) as exc:
        fail(f"知识库文件 {path} 不正确：{str(exc).splitlines()[0]}")
    with open_ctx(write=True) as (ctx, _state):
        report = do_load_items(ctx, items, actor=cli_actor(ctx, as_user))
    console.print(f"新增 {report['added']} 条，已存在 {report['kept']} 条")


@knowledge_app.command("retire")
def retire(code: str, reason: Annotated[str, typer.Option("--reason", help="停用原因")],
           as_user: Annotated[str | None, typer.Option("--as")] = None):
    """Retire an item (it stays for the record but is no longer suggested)."""
    from civiclink.cli import cli_actor, console, open_ctx
    from civiclink.knowledge.actions import do_retire_item
    from civiclink.knowledge.schemas import ItemRetire
    from civiclink.knowledge.service import get_item

    with open_ctx(write=True) as (ctx, _state):
        item = get_item(ctx.session, code)
        do_retire_item(ctx, item, ItemRetire(version=item.version, reason=reason), actor=cli_actor(ctx, as_user))
    console.print(f"已停用：{code}")
