"""Writing envelopes to the outbox, and receiving them into the inbox in per-case order (design §6).

Sending: ``send(ctx, ...)`` runs inside the caller's transaction — the change and the message commit together
or not at all. The relay (``relay.py``) delivers after commit.

Receiving: ``authenticate(settings, envelopes)`` checks every envelope of a request (shape, known sender, for
this site, clock skew, signature) before anything is written; ``apply_envelopes(ctx, envelopes, handlers)``
then stores and applies them in one write transaction. The inbox is keyed by ``message_id``: an envelope seen
before is answered with its earlier outcome and changes nothing. Envelopes of one case apply in ``seq`` order;
one that arrives early waits in the inbox until its predecessors have been applied.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import StatementError

from civiclink.config import PeerSettings, Settings
from civiclink.context import Ctx
from civiclink.errors import DomainError, Forbidden
from civiclink.exchange import envelope as env
from civiclink.exchange.models import ExchangeSequence, InboxMessage, OutboxMessage

log = logging.getLogger("civiclink.exchange")

OUTBOX_WRITTEN = "civiclink.outbox_written"
_INSERT_OUTBOX = insert(OutboxMessage.__table__)
_INSERT_INBOX = insert(InboxMessage.__table__)

# A handler applies one envelope of its type: Ctx (in the receiving transaction), the envelope.
Handler = Callable[[Ctx, dict[str, Any]], None]


# -- sending -------------------------------------------------------------------------------------------------


def _sequence_row(ctx: Ctx, case_ref: str, peer: str) -> ExchangeSequence:
    """The (case, peer) sequence row, created if missing and row-locked for this transaction."""
    session = ctx.session
    query = (select(ExchangeSequence).where(ExchangeSequence.case_ref == case_ref, ExchangeSequence.peer == peer)
             .with_for_update())
    found = session.execute(query).scalar_one_or_none()
    if found is not None:  # the common case: a case's second and later messages
        return found
    table = ExchangeSequence.__table__
    insert = pg_insert if session.connection().dialect.name == "postgresql" else sqlite_insert
    # Two writers may create it at once (PostgreSQL): one inserts, the other's insert does nothing; both lock it.
    session.execute(
        insert(table).values(case_ref=case_ref, peer=peer, last_sent=0, last_applied=0).on_conflict_do_nothing(
            index_elements=[table.c.case_ref, table.c.peer]
        )
    )
    return session.execute(query).scalar_one()


def send(ctx: Ctx, *, peer: PeerSettings, case_ref: str, type: str, body: dict[str, Any]) -> str:
    """Queue one envelope for ``peer`` in the caller's transaction (the next ``seq`` of the case); returns its
    ``message_id``."""
    sequence = _sequence_row(ctx, case_ref, peer.site_code)
    sequence.last_sent += 1
    envelope = env.build(
        case_ref=case_ref, seq=sequence.last_sent, type=type, sender=ctx.settings.site_code,
        receiver=peer.site_code, body=body, secret=peer.secret.get_secret_value(), sent_at=ctx.now,
    )
    # A plain INSERT, not the ORM's unit of work: every linked action and every applied message sends some.
    ctx.session.execute(_INSERT_OUTBOX, dict(
        message_id=envelope["message_id"], peer=peer.site_code, case_ref=case_ref, seq=envelope["seq"],
        type=type, envelope=env.dumps(envelope), created_at=ctx.now, state="pending", attempts=0,
        next_attempt_at=ctx.now,
    ))
    ctx.session.info[OUTBOX_WRITTEN] = True  # wakes the relay after commit (see install)
    return envelope["message_id"]


def install(factory, wake: Callable[[], None]) -> None:
    """Wake the relay after a commit that wrote to the outbox (it also polls, for other processes' writes)."""
    from sqlalchemy import event

    @event.listens_for(factory, "after_commit")
    def _after_commit(session) -> None:
        if session.info.pop(OUTBOX_WRITTEN, False):
            wake()

    @event.listens_for(factory, "after_soft_rollback")
    def _after_rollback(session, previous_transaction) -> None:
        if previous_transaction.parent is None and not previous_transaction.nested:
            session.info.pop(OUTBOX_WRITTEN, None)


# -- receiving -----------------------------------------------------------------------------------------------


@dataclass
class Ack:
    """The receiver's answer for one envelope (the acknowledgement of design §6)."""

    message_id: str
    status: str  # applied | waiting | duplicate | rejected
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "status": self.status, "detail": self.detail}


def parse_batch(raw: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise env.EnvelopeError("请求体不是合法的 JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("envelopes"), list):
        raise env.EnvelopeError('请求体须为 {"envelopes": [...]}')
    if not 1 <= len(data["envelopes"]) <= 1000:
        raise env.EnvelopeError("每次须提交 1 到 1000 个信封")
    return data["envelopes"]


def authenticate(settings: Settings, envelopes: list[Any], *, now: datetime) -> list[dict[str, Any]]:
    """Check every envelope before anything is written: a forged or stray one refuses the whole request."""
    skew = timedelta(seconds=settings.exchange.max_clock_skew_seconds)
    for envelope in envelopes:
        env.check_shape(envelope)
        peer = settings.peer(envelope["sender"])
        if peer is None:
            raise env.BadSignature(f"未知的发送方站点 {envelope['sender']!r}")
        if envelope["receiver"] != settings.site_code:
            raise Forbidden(f"信封的接收方是 {envelope['receiver']!r}，不是本站 {settings.site_code!r}")
        env.verify(envelope, peer.secret.get_secret_value())
        # Replays are caught by the inbox (message_id is kept for good); an old envelope may be a legitimate
        # retry after a long outage. One from the future means a wrong clock at the sender.
        if env.sent_at(envelope) - now > skew:
            raise env.EnvelopeError("信封时间晚于本站时钟过多（发送方时钟错误）")
    return envelopes


def apply_envelopes(ctx: Ctx, envelopes: list[dict[str, Any]], handlers: dict[str, Handler]) -> list[Ack]:
    """Store and apply authenticated envelopes in the caller's write transaction; one Ack per envelope."""
    # What the inbox already holds of this batch, and which of its cases have messages waiting, in two queries
    # for the whole batch rather than two per envelope.
    ids = list({e["message_id"] for e in envelopes})
    seen = {m: (at, state) for m, at, state in ctx.session.execute(
        select(InboxMessage.message_id, InboxMessage.received_at, InboxMessage.state)
        .where(InboxMessage.message_id.in_(ids)))}
    cases = list({e["case_ref"] for e in envelopes})
    waiting = set(ctx.session.execute(
        select(InboxMessage.sender, InboxMessage.case_ref)
        .where(InboxMessage.case_ref.in_(cases), InboxMessage.state == "waiting").distinct()).all())
    # One ack per position (the same envelope twice in one request: "applied", then "duplicate"); applied in
    # case order, the first of equals first.
    acks: list[Ack | None] = [None] * len(envelopes)
    order = sorted(range(len(envelopes)),
                   key=lambda i: (envelopes[i]["sender"], envelopes[i]["case_ref"], envelopes[i]["seq"]))
    for i in order:
        acks[i] = _receive_one(ctx, envelopes[i], handlers, seen, waiting)
    return acks  # type: ignore[return-value]


def _receive_one(ctx: Ctx, envelope: dict[str, Any], handlers: dict[str, Handler],
                 seen: dict[str, tuple], waiting: set[tuple[str, str]]) -> Ack:
    session = ctx.session
    message_id = envelope["message_id"]
    if message_id in seen:
        received_at, state = seen[message_id]
        return Ack(message_id, "duplicate", f"已于 {received_at.isoformat()} 收到（{state}）")
    sender, case_ref, seq = envelope["sender"], envelope["case_ref"], envelope["seq"]
    sequence = _sequence_row(ctx, case_ref, sender)
    row = dict(message_id=message_id, sender=sender, case_ref=case_ref, seq=seq, type=envelope["type"],
               envelope=env.dumps(envelope), received_at=ctx.now, state="waiting", applied_at=None, detail=None)
    try:
        if seq <= sequence.last_applied:
            row.update(state="rejected", detail=f"序号 {seq} 已被本案的另一条消息使用")
            return Ack(message_id, "rejected", row["detail"])
        if seq > sequence.last_applied + 1:
            row["detail"] = f"等待本案第 {sequence.last_applied + 1} 号消息"
            waiting.add((sender, case_ref))
            return Ack(message_id, "waiting", row["detail"])
        state, detail = _apply(ctx, envelope, handlers)
        row.update(state=state, detail=detail, applied_at=ctx.now)
        sequence.last_applied = seq
        ack = Ack(message_id, state, detail)
        # Predecessors now complete: apply the ones that were waiting, in order.
        while (sender, case_ref) in waiting:
            successor = session.execute(
                select(InboxMessage).where(
                    InboxMessage.sender == sender, InboxMessage.case_ref == case_ref,
                    InboxMessage.seq == sequence.last_applied + 1, InboxMessage.state == "waiting",
                )
            ).scalar_one_or_none()
            if successor is None:
                break
            successor.state, successor.detail = _apply(ctx, json.loads(successor.envelope), handlers)
            successor.applied_at = ctx.now
            sequence.last_applied = successor.seq
        return ack
    finally:
        # The row goes in with its outcome: one plain INSERT (the inbox is written for every message received).
        session.execute(_INSERT_INBOX, row)
        seen[message_id] = (row["received_at"], row["state"])


def _apply(ctx: Ctx, envelope: dict[str, Any], handlers: dict[str, Handler]) -> tuple[str, str | None]:
    """Run the handler in a savepoint; (state, detail) for the inbox row: applied, or rejected and why."""
    handler = handlers.get(envelope["type"])
    if handler is None:
        return "rejected", f"本站（{ctx.settings.site_role}）不处理此类消息"
    savepoint = ctx.session.begin_nested()
    try:
        handler(ctx, envelope)
        ctx.session.flush()
    except (DomainError, ValueError, LookupError, TypeError, AttributeError, ArithmeticError,
            StatementError) as exc:
        # It arrived in order but cannot be applied (bad body, a state the rules refuse): keep it, say why,
        # and let the case go on — a stuck sequence would block every later message of the case.
        savepoint.rollback()
        detail = str(exc) if isinstance(exc, DomainError) else f"消息内容不合法：{type(exc).__name__}: {exc}"
        log.warning("envelope %s (%s) rejected: %s", envelope["message_id"], envelope["type"], detail[:200])
        return "rejected", detail[:500]
    savepoint.commit()
    return "applied", None


# -- reading -------------------------------------------------------------------------------------------------


def outbox_summary(session) -> dict[str, dict[str, int]]:
    """Messages sent, by peer and delivery state."""
    return _count_by_state(session, OutboxMessage.peer, OutboxMessage.state)


def inbox_summary(session) -> dict[str, dict[str, int]]:
    """Messages received, by sender and state."""
    return _count_by_state(session, InboxMessage.sender, InboxMessage.state)


def _count_by_state(session, site_column, state_column) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for site, state, count in session.execute(
            select(site_column, state_column, func.count()).group_by(site_column, state_column)).all():
        out.setdefault(site, {})[state] = count
    return out
