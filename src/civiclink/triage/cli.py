"""``civiclink triage`` (one request, or a JSONL file of them) and ``civiclink model train|show``.

The triage output is a contract other tools call: one JSON object per request with the keys ``route,
urgency, request_type, category, department, place, confidence, cues, duplicates, knowledge`` (plus ``id``
in JSONL mode, and a few more keys for people: ``reason``, ``labels``, ``repeat``, ``model``…).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

model_app = typer.Typer(help="分诊模型：训练与查看", no_args_is_help=True)


@contextmanager
def triage_context():
    """The configured site's database if it is set up; otherwise a throw-away one built from the packaged org
    tree and starter knowledge base, so that triage runs offline on a machine with nothing else."""
    from sqlalchemy import inspect, select

    from civiclink.app import build_state
    from civiclink.cli import err, load_settings, open_ctx
    from civiclink.orgs.models import OrgUnit

    settings = load_settings()
    state = build_state(settings)
    try:
        ready = inspect(state.engine).has_table("knowledge_item")
        if ready:
            with state.sessions() as s:
                ready = s.execute(select(OrgUnit.id).limit(1)).first() is not None
    except Exception:  # noqa: BLE001 — an unreachable or broken database: fall back, and say so
        ready = False
    finally:
        state.engine.dispose()
    if ready:
        with open_ctx(write=False, settings=settings) as pair:
            yield pair
        return
    err.print("[yellow]提示：[/yellow]数据库未初始化，使用内置的南通组织机构与知识库（不查重复件）")
    with tempfile.TemporaryDirectory(prefix="civiclink-triage-") as tmp:
        local = settings.model_copy(update={"database_url": f"sqlite:///{Path(tmp) / 'triage.db'}"})
        _prepare_offline(local)
        with open_ctx(write=False, settings=local) as pair:
            yield pair


def _prepare_offline(settings) -> None:
    from civiclink.app import build_state
    from civiclink.db import begin_write, utcnow
    from civiclink.migrate import upgrade
    from civiclink.sites import import_packaged_org, load_starter_knowledge

    state = build_state(settings)
    try:
        upgrade(state.engine)
        with state.sessions() as session:
            begin_write(session)
            now = utcnow()
            import_packaged_org(session, settings, now=now)
            state.directory.invalidate()
            load_starter_knowledge(state.ctx(session, now=now))
            session.commit()
    finally:
        state.engine.dispose()


def _run(state, ctx, text: str, *, title=None, address=None, channel=None, phone=None, use_db=True) -> dict:
    from civiclink.triage.service import TriageInput

    item = TriageInput(text=text, title=title, address=address, channel=channel, caller_phone=phone)
    return state.triage.triage(item, directory=ctx.directory, session=ctx.session if use_db else None,
                               now=ctx.now, knowledge=state.knowledge.get(ctx.session),
                               today=ctx.calendar.local_date(ctx.now))


def triage(
    text: Annotated[str | None, typer.Argument(help="诉求内容")] = None,
    title: Annotated[str | None, typer.Option(help="标题")] = None,
    address: Annotated[str | None, typer.Option(help="地址（用于判断属地）")] = None,
    jsonl: Annotated[Path | None, typer.Option("--jsonl", help='每行一个 {"id": …, "text": …} 的文件；"-" 为标准输入',
                                               allow_dash=True)] = None,
    no_duplicates: Annotated[bool, typer.Option("--no-duplicates", help="不查重复件（批量评测时更快）")] = False,
):
    """Triage one request (prints one JSON object) or every line of a JSONL file (one JSON object per line)."""
    from civiclink.cli import fail

    if (text is None) == (jsonl is None):
        fail('请给出诉求内容，或用 --jsonl FILE 指定批量文件（二者选一）')
    if text is not None and not text.strip():
        fail("诉求内容不能为空")
    with triage_context() as (ctx, state):
        if text is not None:
            result = _run(state, ctx, text, title=title, address=address, use_db=not no_duplicates)
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            return
        _batch(state, ctx, jsonl, use_db=not no_duplicates)


def _batch(state, ctx, path: Path, *, use_db: bool) -> None:
    from civiclink.cli import err, fail

    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    done = bad = 0
    started = last = time.monotonic()
    with stream:
        for line_no, raw in enumerate(stream, 1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                    raise ValueError('需要 {"id": …, "text": "…"}')
                for key in ("title", "address", "channel"):
                    if row.get(key) is not None and not isinstance(row[key], str):
                        raise ValueError(f"{key} 应为字符串")
            except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
                bad += 1
                message = "不是 UTF-8 文本" if isinstance(exc, UnicodeDecodeError) else str(exc)
                err.print(f"[red]第 {line_no} 行无法处理：[/red]{message}")
                sys.stdout.write(json.dumps({"id": None, "line": line_no, "error": message}, ensure_ascii=False) + "\n")
                continue
            result = {"id": row.get("id")} | _run(state, ctx, row["text"], title=row.get("title"),
                                                  address=row.get("address"), channel=row.get("channel"),
                                                  use_db=use_db)
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            done += 1
            if time.monotonic() - last > 2:  # progress on stderr, so stdout stays pure JSONL
                last = time.monotonic()
                err.print(f"已处理 {done} 条（{done / (last - started):.0f} 条/秒）")
    err.print(f"完成：{done} 条" + (f"，{bad} 行无法处理" if bad else ""))
    if bad and not done:
        fail("没有可处理的行")


@model_app.command("train")
def train(
    from_db: Annotated[bool, typer.Option("--from-db", help="用本站已分类的工单训练（含话务员的修改）")] = False,
    csv_files: Annotated[list[Path] | None, typer.Option("--csv", help="CSV 文件：分类列加内容和/或标题列；可重复",
                                                         exists=True, dir_okay=False)] = None,
    exclude_csv: Annotated[list[Path] | None, typer.Option("--exclude-csv", help="不参与训练的文本（如测试集）；可重复",
                                                           exists=True, dir_okay=False)] = None,
    output: Annotated[Path | None, typer.Option(help="模型文件（默认：配置的 triage.model_path）")] = None,
):
    """Train the category, request-type and route classifiers and save them as the site's model file."""
    from civiclink.cli import console, fail, load_settings, open_ctx
    from civiclink.triage import train as t

    if not from_db and not csv_files:
        fail("请指定训练数据：--from-db 和/或 --csv FILE")
    started = time.perf_counter()
    category, types, routes = [], [], []
    sources = []
    try:
        for path in csv_files or []:
            rows = t.read_csv_examples(path)
            console.print(f"读取 {path.name}：{len(rows)} 条")
            category += rows
            sources.append(path.name)
    except t.TrainingError as exc:
        fail(str(exc))
    settings = load_settings()
    if from_db:
        with open_ctx(write=False, settings=settings) as (ctx, _state):
            read_up_to = t.last_record_id(ctx.session)
            c, types, routes = t.examples_from_db(ctx.session)
        console.print(f"读取数据库：已分类工单 {len(c)} 条，话务员路由决定 {len(routes)} 条")
        category += c
        sources.append("db")
    for path in exclude_csv or []:
        texts = t.texts_of_csv(path)
        before = len(category)
        category = t.exclude(category, texts)
        console.print(f"排除 {path.name} 中的文本：去掉 {before - len(category)} 条")
    try:
        models = t.train_models(category=category, request_type=types, route_extra=routes,
                                source="+".join(sources), progress=console.print)
    except t.TrainingError as exc:
        fail(str(exc))
    target = output or settings.triage.model_path
    models.save(target)
    if from_db:
        with open_ctx(write=True, settings=settings) as (ctx, _state):
            t.mark_used(ctx.session, read_up_to)
    held = models.category.meta.get("holdout") or {}
    console.print(f"已保存 {target}（版本 {models.version}，用时 {time.perf_counter() - started:.1f} 秒）；"
                  f"留出集准确率 {held.get('accuracy', '—')}，宏平均F1 {held.get('macro_f1', '—')}")


@model_app.command("show")
def show():
    """The model file in use: version, sources, classes and held-out scores."""
    from civiclink.cli import load_settings, print_json
    from civiclink.triage.service import TriageEngine

    settings = load_settings()
    engine = TriageEngine(model_path=settings.triage.model_path)
    models = engine.models
    print_json({"path": str(settings.triage.model_path), "exists": settings.triage.model_path.exists(),
                **models.meta,
                "parts": {"category": models.category.meta if models.category else None,
                          "request_type": models.request_type.meta if models.request_type else None,
                          "route": models.route.meta}})
