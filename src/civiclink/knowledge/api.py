"""HTTP routes of the knowledge base: search (every signed-in role), list/read, and admin writes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, StateDep
from civiclink.errors import ERROR_RESPONSES
from civiclink.knowledge import actions
from civiclink.knowledge.models import KnowledgeItem
from civiclink.knowledge.schemas import ItemCreate, ItemRead, ItemRetire, ItemUpdate, KnowledgeHit
from civiclink.knowledge.service import get_item

router = APIRouter(prefix="/api/knowledge", tags=["知识库"], responses=ERROR_RESPONSES)


def item_read(ctx, item: KnowledgeItem) -> ItemRead:
    d = ctx.directory
    owner, region = d.unit(item.owner_unit_id), d.unit(item.region_unit_id)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if item.retired_at is not None:
        status = "retired"
    elif item.effective_from > today:
        status = "not_yet_valid"
    elif item.expires_on is not None and today >= item.expires_on:
        status = "expired"
    else:
        status = "valid"
    return ItemRead(code=item.code, version=item.version, title=item.title, kind=item.kind,
                    questions=list(item.questions or ()), answer=item.answer, keywords=list(item.keywords or ()),
                    owner=owner.code if owner else None, owner_name=owner.label if owner else None,
                    region=region.code if region else None, region_name=region.name if region else None,
                    source=item.source, effective_from=item.effective_from, expires_on=item.expires_on,
                    status=status, retired_reason=item.retired_reason, used_count=item.used_count)


def hit_read(ctx, hit) -> KnowledgeHit:
    owner = ctx.directory.unit(hit.item.owner_unit_id)
    return KnowledgeHit(code=hit.item.code, title=hit.item.title, kind=hit.item.kind, answer=hit.item.answer,
                        source=hit.item.source, owner=owner.code if owner else None,
                        owner_name=owner.label if owner else None, confidence=hit.confidence)


@router.get("/search", summary="知识库检索")
def search(ctx: CtxDep, state: StateDep, _actor: CurrentActor,
           q: Annotated[str, Query(min_length=1, max_length=500, description="来电人的问题")],
           place: Annotated[str | None, Query(description="属地单位编码：只返回适用于该地的条目")] = None,
           limit: Annotated[int, Query(ge=1, le=20)] = 5) -> list[KnowledgeHit]:
    """Items valid today whose questions, title, keywords or answer match the words (jieba, BM25)."""
    index = state.knowledge.get(ctx.session)
    region_ids: tuple[int, ...] = ()
    if place:
        unit = ctx.directory.require_unit(place, field="place")
        region_ids = (*unit.ancestor_ids, unit.id)
    hits = index.search(q, today=ctx.now.astimezone(ctx.settings.tz).date(), region_ids=region_ids, limit=limit)
    return [hit_read(ctx, h) for h in hits]


@router.get("", summary="知识条目列表")
def list_items(ctx: CtxDep, _actor: CurrentActor,
               status: Annotated[str | None, Query(pattern="^(valid|not_yet_valid|expired|retired)$")] = None,
               kind: Annotated[str | None, Query(pattern="^(policy|procedure|which_number|boundary)$")] = None,
               ) -> list[ItemRead]:
    q = select(KnowledgeItem).order_by(KnowledgeItem.code)
    if kind:
        q = q.where(KnowledgeItem.kind == kind)
    items = [item_read(ctx, i) for i in ctx.session.execute(q).scalars()]
    return [i for i in items if status is None or i.status == status]


@router.get("/{code}", summary="知识条目详情")
def read_item(code: str, ctx: CtxDep, _actor: CurrentActor) -> ItemRead:
    return item_read(ctx, get_item(ctx.session, code))


@router.post("", summary="新增知识条目（管理员）", status_code=201)
def add_item(item_in: ItemCreate, ctx: CtxDep, state: StateDep, actor: CurrentActor) -> ItemRead:
    with writing(ctx.session):
        item = actions.do_add_item(ctx, item_in, actor=actor)
    state.knowledge.invalidate()
    return item_read(ctx, item)


def _change(ctx, state, code: str, do, body, actor) -> ItemRead:
    """An admin's change of one item; this process re-indexes at once, others at their next revision check."""
    with writing(ctx.session):
        item = do(ctx, get_item(ctx.session, code), body, actor=actor)
    state.knowledge.invalidate()
    return item_read(ctx, item)


@router.put("/{code}", summary="修改知识条目（管理员）")
def update_item(code: str, item_in: ItemUpdate, ctx: CtxDep, state: StateDep, actor: CurrentActor) -> ItemRead:
    return _change(ctx, state, code, actions.do_update_item, item_in, actor)


@router.post("/{code}/retire", summary="停用知识条目（管理员）")
def retire_item(code: str, body: ItemRetire, ctx: CtxDep, state: StateDep, actor: CurrentActor) -> ItemRead:
    return _change(ctx, state, code, actions.do_retire_item, body, actor)
