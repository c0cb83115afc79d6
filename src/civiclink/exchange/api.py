"""HTTP routes of the exchange channel: the inbox the peer posts to, and the delivery state of messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import select, update

from civiclink.db import write_session
from civiclink.deps import CtxDep, CurrentActor, StateDep
from civiclink.errors import ERROR_RESPONSES, Forbidden, InvalidTransition, NotFound
from civiclink.exchange import service
from civiclink.exchange.models import InboxMessage, OutboxMessage
from civiclink.i18n import label
from civiclink.orgs.roles import Actor, Role

router = APIRouter(prefix="/api/exchange", tags=["交换通道"], responses=ERROR_RESPONSES)

STATUS_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.LEADER, Role.POLICE_COMMANDER})


class AckRead(BaseModel):
    message_id: str
    status: Literal["applied", "waiting", "duplicate", "rejected"]
    detail: str | None = None


class InboxResponse(BaseModel):
    acks: list[AckRead]


class MessageRead(BaseModel):
    direction: Literal["out", "in"]
    message_id: str
    peer: str
    case_ref: str
    seq: int
    type: str
    state: str
    state_label: str
    created_at: datetime
    attempts: int | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None
    ack_status: str | None = None
    detail: str | None = None


class PeerStatus(BaseModel):
    peer: str
    role: str
    level: str
    base_url: str
    outbox: dict[str, int]
    inbox: dict[str, int]
    oldest_pending_at: datetime | None
    last_delivered_at: datetime | None


def _require_status_reader(actor: Actor) -> None:
    if not (actor.roles & STATUS_ROLES):
        raise Forbidden("只有管理员、督办员、领导或指挥员可以查看交换通道状态")


@router.post("/inbox", summary="接收对方站点的信封", response_model=InboxResponse,
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                 "type": "object", "required": ["envelopes"],
                 "properties": {"envelopes": {"type": "array", "minItems": 1, "maxItems": 1000,
                                              "items": {"type": "object"}}}}}}}})
async def receive(request: Request, ctx: CtxDep, state: StateDep):
    """The peer site posts ``{"envelopes": [...]}`` here (docs/exchange.md); no user login — every envelope is
    signed with the key the two sites share. Answers one ack per envelope; nothing is written if any envelope
    is malformed (422), forged (401) or for another site (403)."""
    raw = await request.body()
    envelopes = service.authenticate(state.settings, service.parse_batch(raw), now=ctx.now)

    def write(wctx):
        acks = service.apply_envelopes(wctx, envelopes, state.exchange_handlers)
        return lambda: {"acks": [a.as_dict() for a in acks]}

    return await state.batcher.run(ctx, write)


@router.get("/status", summary="交换通道状态")
def status(ctx: CtxDep, actor: CurrentActor) -> list[PeerStatus]:
    """Per peer: messages by delivery state each way, the oldest undelivered, the last delivery."""
    _require_status_reader(actor)
    return peer_status(ctx.session, ctx.settings)


def peer_status(session, settings) -> list[PeerStatus]:
    from sqlalchemy import func

    outbox, inbox = service.outbox_summary(session), service.inbox_summary(session)
    out = []
    for peer in settings.peers:
        oldest = session.execute(select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.peer == peer.site_code, OutboxMessage.state == "pending")).scalar_one()
        last = session.execute(select(func.max(OutboxMessage.delivered_at)).where(
            OutboxMessage.peer == peer.site_code)).scalar_one()
        out.append(PeerStatus(peer=peer.site_code, role=peer.role, level=peer.level, base_url=peer.base_url,
                              outbox=outbox.get(peer.site_code, {}), inbox=inbox.get(peer.site_code, {}),
                              oldest_pending_at=oldest, last_delivered_at=last))
    return out


@router.get("/messages", summary="消息投递状态")
def list_messages(
    ctx: CtxDep,
    actor: CurrentActor,
    direction: Literal["out", "in"] = "out",
    state: str | None = Query(default=None, max_length=12),
    case_ref: str | None = Query(default=None, max_length=100),
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageRead]:
    """Messages sent (outbox) or received (inbox), newest first, with their delivery state."""
    _require_status_reader(actor)
    return list_message_reads(ctx.session, direction=direction, state=state, case_ref=case_ref, limit=limit)


def list_message_reads(session, *, direction: str, state: str | None, case_ref: str | None,
                       limit: int) -> list[MessageRead]:
    model = OutboxMessage if direction == "out" else InboxMessage
    q = select(model)
    if state:
        q = q.where(model.state == state)
    if case_ref:
        q = q.where(model.case_ref == case_ref)
    rows = session.execute(q.order_by(model.id.desc()).limit(limit)).scalars()
    if direction == "out":
        return [MessageRead(direction="out", message_id=m.message_id, peer=m.peer, case_ref=m.case_ref, seq=m.seq,
                            type=m.type, state=m.state, state_label=label("message_state", m.state),
                            created_at=m.created_at, attempts=m.attempts, next_attempt_at=m.next_attempt_at,
                            delivered_at=m.delivered_at, last_error=m.last_error, ack_status=m.ack_status,
                            detail=m.ack_detail) for m in rows]
    return [MessageRead(direction="in", message_id=m.message_id, peer=m.sender, case_ref=m.case_ref, seq=m.seq,
                        type=m.type, state=m.state, state_label=label("message_state", m.state),
                        created_at=m.received_at, delivered_at=m.applied_at, detail=m.detail) for m in rows]


def retry_dead(state, *, message_id: str | None = None) -> int:
    """Put dead-lettered messages (one, or all) back in the queue; returns how many."""
    from civiclink.db import utcnow

    with write_session(state.sessions) as session:
        q = update(OutboxMessage).where(OutboxMessage.state == "dead")
        if message_id:
            q = q.where(OutboxMessage.message_id == message_id)
        n = session.execute(q.values(state="pending", attempts=0, next_attempt_at=utcnow(), claimed_by=None,
                                     claimed_until=None)).rowcount
    if n and state.relay is not None:
        state.relay.wake()
    return n


@router.post("/messages/{message_id}/retry", summary="重发死信")
async def retry(message_id: str, ctx: CtxDep, actor: CurrentActor, state: StateDep) -> dict:
    """Send a dead-lettered message again (administrators)."""
    if not actor.has(Role.ADMIN):
        raise Forbidden("只有管理员可以重发消息")
    found = ctx.session.execute(select(OutboxMessage.state).where(OutboxMessage.message_id == message_id)
                                ).scalar_one_or_none()
    ctx.session.rollback()
    if found is None:
        raise NotFound(f"消息 {message_id} 不存在")
    if found != "dead":
        raise InvalidTransition(f"消息当前为「{label('message_state', found)}」，只有死信可以重发")
    n = await run_in_threadpool(retry_dead, state, message_id=message_id)
    return {"requeued": n}
