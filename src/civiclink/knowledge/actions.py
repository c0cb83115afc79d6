"""Writes of the knowledge base (R-903: items are added, revised and retired by admins), each with its audit
event in the caller's transaction and a bump of the ``knowledge`` revision so every process re-indexes."""

from __future__ import annotations

from sqlalchemy import select, update

from civiclink.audit.service import record_event
from civiclink.cache import bump_revision
from civiclink.context import Ctx
from civiclink.errors import Conflict, Forbidden, Invalid, StaleVersion
from civiclink.knowledge.models import KnowledgeItem
from civiclink.knowledge.schemas import ItemCreate, ItemFields, ItemRetire, ItemUpdate
from civiclink.knowledge.service import KNOWLEDGE_REVISION
from civiclink.orgs.roles import Actor, Role

EDIT_ROLES = frozenset({Role.ADMIN})


def _require_editor(actor: Actor) -> None:
    if not actor.roles & EDIT_ROLES and actor.user_id is not None:
        raise Forbidden("只有管理员可以维护知识库")


def _unit_id(ctx: Ctx, code: str | None, field: str) -> int | None:
    if not code:
        return None
    unit = ctx.directory.require_unit(code, field=field)
    return unit.id


def _apply(ctx: Ctx, item: KnowledgeItem, fields: ItemFields) -> dict:
    values = {
        "title": fields.title, "kind": fields.kind, "questions": list(fields.questions), "answer": fields.answer,
        "keywords": list(fields.keywords), "owner_unit_id": _unit_id(ctx, fields.owner, "owner"),
        "region_unit_id": _unit_id(ctx, fields.region, "region"), "source": fields.source,
        "effective_from": fields.effective_from, "expires_on": fields.expires_on,
    }
    changed = {k: v for k, v in values.items() if getattr(item, k, None) != v}
    for k, v in values.items():
        setattr(item, k, v)
    return changed


def do_add_item(ctx: Ctx, item_in: ItemCreate, *, actor: Actor) -> KnowledgeItem:
    _require_editor(actor)
    if ctx.session.execute(select(KnowledgeItem.id).where(KnowledgeItem.code == item_in.code)).first():
        raise Conflict(f"知识条目编码 {item_in.code!r} 已存在")
    item = KnowledgeItem(code=item_in.code, created_at=ctx.now, updated_at=ctx.now, used_count=0)
    _apply(ctx, item, item_in)
    ctx.session.add(item)
    ctx.session.flush()
    record_event(ctx.session, actor=actor, action="knowledge.added", entity_type="knowledge_item", entity=item,
                 entity_ref=item.code, actor_role=Role.ADMIN,
                 data={"title": item.title, "kind": item.kind, "source": item.source}, at=ctx.now)
    bump_revision(ctx.session, KNOWLEDGE_REVISION)
    return item


def _check_version(item: KnowledgeItem, version: int) -> None:
    if version != item.version:
        raise StaleVersion(f"知识条目已被他人修改（您的版本 {version}，当前版本 {item.version}），请刷新后重试")


def do_update_item(ctx: Ctx, item: KnowledgeItem, item_in: ItemUpdate, *, actor: Actor) -> KnowledgeItem:
    _require_editor(actor)
    _check_version(item, item_in.version)
    if item.retired_at is not None:
        raise Invalid("已停用的条目不能修改；请新建条目")
    changed = _apply(ctx, item, item_in)
    if changed:
        item.updated_at = ctx.now
        ctx.session.flush()
        record_event(ctx.session, actor=actor, action="knowledge.updated", entity_type="knowledge_item",
                     entity=item, entity_ref=item.code, actor_role=Role.ADMIN,
                     data={"changed": sorted(changed)}, at=ctx.now)
        bump_revision(ctx.session, KNOWLEDGE_REVISION)
    return item


def do_retire_item(ctx: Ctx, item: KnowledgeItem, body: ItemRetire, *, actor: Actor) -> KnowledgeItem:
    _require_editor(actor)
    _check_version(item, body.version)
    if item.retired_at is not None:
        raise Conflict("该条目已停用")
    item.retired_at = ctx.now
    item.retired_reason = body.reason
    item.updated_at = ctx.now
    ctx.session.flush()
    record_event(ctx.session, actor=actor, action="knowledge.retired", entity_type="knowledge_item", entity=item,
                 entity_ref=item.code, actor_role=Role.ADMIN, data={"reason": body.reason}, at=ctx.now)
    bump_revision(ctx.session, KNOWLEDGE_REVISION)
    return item


def do_load_items(ctx: Ctx, items: list[ItemCreate], *, actor: Actor) -> dict:
    """Add the items whose code is new; items already present are left as they are (an admin revises them
    one by one, with their versions). Returns counts."""
    _require_editor(actor)
    existing = set(ctx.session.execute(select(KnowledgeItem.code)).scalars())
    added = 0
    for item_in in items:
        if item_in.code in existing:
            continue
        do_add_item(ctx, item_in, actor=actor)
        existing.add(item_in.code)
        added += 1
    return {"added": added, "kept": len(items) - added}


def note_item_used(ctx: Ctx, code: str) -> int:
    """直接办结 cited this item (R-902): count it; returns the item id. Raises if the item is not usable."""
    from civiclink.knowledge.service import get_item

    item = get_item(ctx.session, code)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if item.retired_at is not None or item.effective_from > today or (item.expires_on and today >= item.expires_on):
        raise Invalid(f"知识条目「{item.title}」今天不在有效期内，不能用于直接办结", field="knowledge_item")
    ctx.session.execute(update(KnowledgeItem).where(KnowledgeItem.id == item.id)
                        .values(used_count=KnowledgeItem.used_count + 1)
                        .execution_options(synchronize_session=False))
    return item.id
