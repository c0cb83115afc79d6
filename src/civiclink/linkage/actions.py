"""Linkage writes on either site (design §5): transfers, 三方通话, 联合调处, and what the peer must hear.

Every function runs inside the caller's transaction and, where the peer must know, queues the envelope with
``exchange.service.send`` in that same transaction (design §3, the write rule).

Hotline-side 工单 actions (``do_transfer_to_110`` …) plug into the 工单 state machine (``Action.TRANSFER_TO_110``
…, ``workorders.states``); police-side 警单 actions live in ``incidents.actions`` and use the helpers here.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from civiclink.audit.service import record_event
from civiclink.context import Ctx
from civiclink.errors import Forbidden, Invalid, InvalidTransition, NotFound, StaleVersion
from civiclink.exchange import service as exchange
from civiclink.i18n import label
from civiclink.linkage import rules
from civiclink.linkage import schemas as ls
from civiclink.linkage.models import Consultation, JointCase, JointPart, Transfer
from civiclink.orgs.roles import SYSTEM, Actor, Role
from civiclink.workorders import actions as wo
from civiclink.workorders import schemas as ws
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import TERMINAL, Action, State

OPEN_LINK_STATES = ("offered", "accepted")


# -- shared pieces -------------------------------------------------------------------------------------------


def actor_info(ctx: Ctx, actor: Actor) -> dict[str, Any]:
    """Who acted, as the peer will show it (never a caller's data)."""
    return {"site": ctx.settings.site_code, "username": actor.username, "name": actor.display_name or actor.username,
            "unit": actor.unit_code}


def actor_label(ctx: Ctx, actor: Actor) -> str:
    return f"{actor.display_name or actor.username}@{ctx.settings.site_code}"[:100]


def remote_actor(envelope: dict[str, Any]) -> Actor:
    """The peer's person as an acting identity on this site (a system actor: no local user, no roles)."""
    who = envelope["body"].get("actor") or {}
    name = str(who.get("name") or who.get("username") or "对方")[:40]
    return Actor(username=f"{name}@{envelope['sender']}"[:64], display_name=name, roles=frozenset(),
                 unit_code=str(who.get("unit") or envelope["sender"])[:64])


def body_with(ctx: Ctx, actor: Actor, **fields) -> dict[str, Any]:
    return {"actor": actor_info(ctx, actor), "at": ctx.now.isoformat(), **fields}


def matter_of_order(ctx: Ctx, order: WorkOrder) -> dict[str, Any]:
    """The 工单 fields the police need (R-504/R-506; R-507 least privilege: the matter, not the whole record)."""
    d = ctx.directory
    place = d.unit(order.place_id)
    category = d.category(order.category_id)
    return {
        "number": order.number,
        "title": order.title,
        "content": order.content,
        "address": order.address,
        "place": {"code": place.code, "name": place.name} if place else None,
        "category": {"code": category.code, "name": category.path_name} if category else None,
        "request_type": order.request_type,
        "urgency": order.urgency,
        "channel": order.channel,
        "registered_at": order.registered_at.isoformat(),
        "caller": {"name": order.caller_name, "phone": order.caller_phone,
                   "confidential": order.caller_confidential},
    }


@contextmanager
def transfers_known(ctx: Ctx, by_incident: dict[int, list[Transfer]]):
    """Within the block, ``transfers_of(incident_id=…)`` answers from ``by_incident``: a read that shapes a page of
    警单 loads their transfer records once, not once per guard of every item. (Reads only: a write would make
    the answers stale.)"""
    known = ctx.preloaded.setdefault("transfers_by_incident", {})
    added = {k: v for k, v in by_incident.items() if k not in known}
    known.update(added)
    try:
        yield
    finally:
        for key in added:
            known.pop(key, None)


def transfers_of(ctx: Ctx, *, order_id: int | None = None, incident_id: int | None = None,
                 case_ref: str | None = None) -> list[Transfer]:
    if incident_id is not None and order_id is None and case_ref is None:
        page = ctx.preloaded.get("transfers_by_incident")
        if page is not None and incident_id in page:
            return page[incident_id]
    q = select(Transfer)
    if order_id is not None:
        q = q.where(Transfer.order_id == order_id)
    if incident_id is not None:
        q = q.where(Transfer.incident_id == incident_id)
    if case_ref is not None:
        q = q.where(Transfer.case_ref == case_ref)
    return list(ctx.session.execute(q.order_by(Transfer.id)).scalars())


MOVING_KINDS = ("transfer", "emergency", "joint")  # the matter itself moves (counted by R-212)
SIDE_KINDS = ("stability_lead", "escalation")  # a linked police matter beside the 工单, which goes on


def case_history(ctx: Ctx, links: list[Transfer]) -> tuple[str | None, int, str | None]:
    """(case_ref, transfers so far, first receiver) of a matter, from its transfer records on this site.

    Only the transfers of the matter itself count; a stability lead or a unit's call for police is a case of
    its own (its own case_ref), linked to the 工单 but never mixed with the matter's messages."""
    transfers = [t for t in links if t.kind in MOVING_KINDS]
    if not transfers:
        return None, 0, None
    latest = transfers[-1]
    count = max(t.transfer_count for t in transfers)
    return latest.case_ref, count, latest.first_receiver


def new_transfer(ctx: Ctx, *, case_ref: str, peer: str, direction: str, kind: str, channel: str, reason_code: str,
                 reason: str | None, consent: bool, transfer_count: int, first_receiver: str,
                 offered_by: str | None, local_number: str | None = None, remote_number: str | None = None,
                 order_id: int | None = None, incident_id: int | None = None, sign_due_at=None,
                 offered_at=None) -> Transfer:
    transfer = Transfer(
        case_ref=case_ref, peer=peer, direction=direction, kind=kind, channel=channel, reason_code=reason_code,
        reason=reason, consent=consent, transfer_count=transfer_count, first_receiver=first_receiver,
        order_id=order_id, incident_id=incident_id, local_number=local_number, remote_number=remote_number,
        state="offered", offered_at=offered_at or ctx.now, offered_by=offered_by, sign_due_at=sign_due_at,
    )
    ctx.session.add(transfer)
    return transfer


def offer(ctx: Ctx, *, actor: Actor, kind: str, channel: str, reason_code: str, reason: str, consent: bool,
          matter: dict[str, Any], local_number: str, previous: list[Transfer], order_id: int | None = None,
          incident_id: int | None = None, extra: dict[str, Any] | None = None) -> Transfer:
    """Send a transfer offer for a local record to the same-level peer and keep the transfer record (R-211)."""
    peer = rules.same_level_peer(ctx.settings)
    case_ref, count, first_receiver = case_history(ctx, previous)
    counts_as_transfer = kind in ("transfer", "emergency", "joint")
    if counts_as_transfer and kind != "emergency":
        # the emergency of R-203 is dispatched whatever the count; anything else stops after the limit.
        rules.check_transfer_allowed(count, max_retransfers=ctx.settings.linkage.max_retransfers,
                                     first_receiver=first_receiver or ctx.settings.site_code)
    if kind in SIDE_KINDS:
        # Its own case: the police handle it as a matter of its own, answered message by message.
        same = sum(1 for t in previous if t.direction == "out" and t.kind == kind)
        case_ref = f"{ctx.settings.site_code}:{local_number}:{'lead' if kind == 'stability_lead' else 'esc'}{same + 1}"
    case_ref = case_ref or f"{ctx.settings.site_code}:{local_number}"
    first_receiver = first_receiver or ctx.settings.site_code
    new_count = count + 1 if counts_as_transfer else count
    transfer = new_transfer(
        ctx, case_ref=case_ref, peer=peer.site_code, direction="out", kind=kind, channel=channel,
        reason_code=reason_code, reason=reason, consent=consent, transfer_count=new_count,
        first_receiver=first_receiver, offered_by=actor_label(ctx, actor), local_number=local_number,
        order_id=order_id, incident_id=incident_id,
    )
    exchange.send(ctx, peer=peer, case_ref=case_ref, type="transfer.offer", body=body_with(
        ctx, actor, kind=kind, channel=channel, reason_code=reason_code, reason=reason, consent=consent,
        transfer_count=new_count, first_receiver=first_receiver, emergency=kind == "emergency",
        matter=matter, **(extra or {}),
    ))
    return transfer


def notify(ctx: Ctx, transfer: Transfer, type: str, *, actor: Actor, **fields) -> None:
    """Tell the peer of a transfer what happened here (progress, result, close …)."""
    peer = ctx.settings.peer(transfer.peer)
    if peer is None:
        raise Invalid(f"对接站点 {transfer.peer} 已不在本站配置中，无法通知对方")
    exchange.send(ctx, peer=peer, case_ref=transfer.case_ref, type=type, body=body_with(ctx, actor, **fields))


# -- hotline: 工单 actions (the Action.*_110 / *_TRANSFER entries of workorders.states) ---------------------


def _open_consultation(ctx: Ctx, *, order_id=None, incident_id=None) -> Consultation | None:
    q = select(Consultation).where(Consultation.closed_at.is_(None))
    q = q.where(Consultation.order_id == order_id) if order_id is not None else q.where(
        Consultation.incident_id == incident_id)
    return ctx.session.execute(q.limit(1)).scalar_one_or_none()


def _stop_local_handling(ctx: Ctx, order: WorkOrder, reason: str) -> None:
    """The hotline's own handling ends: clocks stop, the unit's round ends, a pending 延期 is withdrawn; the
    hotline centre owns the linked record until 110 writes back."""
    wo._stop_all(ctx, wo._clocks(ctx, order), reason)
    assignment = wo._current_assignment(ctx, order)
    if assignment is not None and assignment.ended_at is None:
        assignment.ended_at = ctx.now
    pending = wo._pending_extension(ctx, order)
    if pending is not None:
        pending.decision, pending.decided_at = "withdrawn", ctx.now
    order.waiting_on_citizen = False
    order.handling_unit_id = None
    order.owner_unit_id = wo._hotline_center_id(ctx)


def do_transfer_to_110(ctx: Ctx, order: WorkOrder, body: ws.TransferIn, *, actor: Actor) -> WorkOrder:
    """转110: 一键转接 of a phone matter (R-201), 系统推送 of an internet or first-handled one (R-204), or an
    emergency (R-203, 110 dispatches at once). The hotline keeps the linked record and waits for the result."""
    role = wo.authorize(ctx, order, Action.TRANSFER_TO_110, actor, body.version)
    channel = body.channel or rules.default_channel(order.channel)
    rules.check_channel(channel, order_channel=order.channel, emergency=body.emergency)
    consultation = _open_consultation(ctx, order_id=order.id)
    if consultation is not None:
        if not body.emergency:
            raise InvalidTransition("三方通话尚未记录结果，请先记录通话结果（R-202）")
        _close_consultation(ctx, consultation, rules.emergency_overrides_consultation(), actor=actor,
                            note="紧急警情，110 先行派警处置（R-203）")
    kind = "emergency" if body.emergency else "transfer"
    reason_code = "emergency_first" if body.emergency and body.reason_code == "other_scope" else body.reason_code
    if order.channel != "phone" and channel == "system_push" and reason_code == "other_scope":
        reason_code = "internet_channel"
    transfer = offer(ctx, actor=actor, kind=kind, channel=channel, reason_code=reason_code, reason=body.reason,
                     consent=body.consent, matter=matter_of_order(ctx, order), local_number=order.number,
                     previous=transfers_of(ctx, order_id=order.id), order_id=order.id)
    _stop_local_handling(ctx, order, "transferred_to_110")
    order.linked = True
    wo._move(ctx, order, Action.TRANSFER_TO_110, State.TRANSFERRED_TO_110, actor=actor, role=role, data={
        "case_ref": transfer.case_ref, "kind": kind, "channel": channel, "reason_code": reason_code,
        "reason": body.reason, "consent": body.consent, "transfer_count": transfer.transfer_count,
    })
    return order


def do_report_to_110(ctx: Ctx, order: WorkOrder, body: ws.LeadIn, *, actor: Actor) -> WorkOrder:
    """R-205: a lead that affects social stability goes at once to the same-level 110, flagged; the 工单 goes on."""
    role = wo.authorize(ctx, order, Action.REPORT_TO_110, actor, body.version)
    transfer = offer(ctx, actor=actor, kind="stability_lead", channel="system_push", reason_code="stability_lead",
                     reason=body.reason, consent=True, matter=matter_of_order(ctx, order),
                     local_number=order.number, previous=transfers_of(ctx, order_id=order.id), order_id=order.id)
    order.linked = True
    wo._move(ctx, order, Action.REPORT_TO_110, None, actor=actor, role=role,
             data={"case_ref": transfer.case_ref, "reason": body.reason, "flag": "stability_lead"})
    return order


def do_escalate_to_110(ctx: Ctx, order: WorkOrder, body: ws.EscalateIn, *, actor: Actor) -> WorkOrder:
    """R-206: the handling unit calls in 110 (conflict sharpening, hard to control, a crime); the 工单 goes on."""
    role = wo.authorize(ctx, order, Action.ESCALATE_TO_110, actor, body.version)
    unit = ctx.directory.unit(order.handling_unit_id)
    transfer = offer(ctx, actor=actor, kind="escalation", channel="system_push", reason_code="escalation",
                     reason=body.reason, consent=True, matter=matter_of_order(ctx, order),
                     local_number=order.number, previous=transfers_of(ctx, order_id=order.id), order_id=order.id,
                     extra={"requesting_unit": unit.label if unit else None})
    order.linked = True
    wo._move(ctx, order, Action.ESCALATE_TO_110, None, actor=actor, role=role,
             data={"case_ref": transfer.case_ref, "reason": body.reason})
    return order


def _pending_incoming(ctx: Ctx, order: WorkOrder) -> Transfer | None:
    if not order.linked:
        return None
    return next((t for t in transfers_of(ctx, order_id=order.id) if t.direction == "in" and t.state == "offered"),
                None)


def do_accept_transfer(ctx: Ctx, order: WorkOrder, body: ws.NoteIn, *, actor: Actor) -> WorkOrder:
    """签收 a push from 110 (R-204): the 工单 enters dispatch, its clocks start, 110 hears our number."""
    role = wo.authorize(ctx, order, Action.ACCEPT_TRANSFER, actor, body.version)
    transfer = _pending_incoming(ctx, order)
    transfer.state, transfer.accepted_at, transfer.accepted_by = "accepted", ctx.now, actor_label(ctx, actor)
    existing = wo._clocks(ctx, order)
    wo._start_clock(ctx, order, "handle", existing)
    wo._start_clock(ctx, order, "dispatch", existing)
    notify(ctx, transfer, "transfer.accept", actor=actor, number=order.number, note=body.note)
    wo._move(ctx, order, Action.ACCEPT_TRANSFER, State.AWAITING_DISPATCH, actor=actor, role=role,
             data={"case_ref": transfer.case_ref, "incident": transfer.remote_number, "note": body.note,
                   "overdue": bool(transfer.sign_due_at and ctx.now > transfer.sign_due_at)})
    return order


def do_reject_transfer(ctx: Ctx, order: WorkOrder, body: ws.ReasonIn, *, actor: Actor) -> WorkOrder:
    """退回 a push from 110 with a reason (R-204); refused for a matter that came back to its first receiver
    (R-212) — ``rules.may_return``."""
    role = wo.authorize(ctx, order, Action.REJECT_TRANSFER, actor, body.version)
    transfer = _pending_incoming(ctx, order)
    transfer.state, transfer.rejected_at, transfer.reject_reason = "rejected", ctx.now, body.reason
    order.closed_at = ctx.now
    order.close_reason = f"退回110：{body.reason}"
    if order.joint_case_id is not None:
        # The 联合调处 case it opened ends with it: nothing is left open that nobody will handle.
        joint = ctx.session.get(JointCase, order.joint_case_id, with_for_update=True)
        before, joint.state, joint.closed_at = joint.state, "closed", ctx.now
        record_event(ctx.session, actor=actor, action="joint.returned", entity_type="joint_case", entity=joint,
                     from_state=before, to_state="closed", at=ctx.now, data={"reason": body.reason})
    notify(ctx, transfer, "transfer.reject", actor=actor, reason=body.reason, number=order.number)
    wo._move(ctx, order, Action.REJECT_TRANSFER, State.RETURNED_TO_110, actor=actor, role=role,
             data={"case_ref": transfer.case_ref, "incident": transfer.remote_number, "reason": body.reason})
    return order


def guard_pending_incoming(ctx: Ctx, order: WorkOrder) -> str | None:
    return None if _pending_incoming(ctx, order) is not None else "该工单不是待签收的 110 推送件"


def guard_reject_transfer(ctx: Ctx, order: WorkOrder) -> str | None:
    transfer = _pending_incoming(ctx, order)
    if transfer is None:
        return "该工单不是待签收的 110 推送件"
    return rules.may_return(own_site=ctx.settings.site_code, first_receiver=transfer.first_receiver,
                            previous_transfers=transfer.transfer_count - 1, emergency=False)


def guard_not_pending_incoming(ctx: Ctx, order: WorkOrder) -> str | None:
    return "这是 110 推送的工单，请先签收或退回（R-204）" if _pending_incoming(ctx, order) is not None else None


def guard_results_written_back(ctx: Ctx, order: WorkOrder) -> str | None:
    """R-503 on CLOSE / CALLBACK / CLOSE_AT_INTAKE: nothing linked may be closed before 110's result is back."""
    if not order.linked:
        return None
    open_links = sum(1 for t in transfers_of(ctx, order_id=order.id)
                     if t.direction == "out" and t.state in OPEN_LINK_STATES)
    return rules.may_close_linked(open_links)


def guard_transfer(ctx: Ctx, order: WorkOrder) -> str | None:
    # R-212's limit is checked by ``offer``: an emergency (R-203) goes to 110 whatever the count.
    if not order.linked:
        return None
    if any(t.direction == "in" and t.state == "offered" for t in transfers_of(ctx, order_id=order.id)):
        return "这是 110 推送的工单，请先签收或退回（R-204）"
    return None


def _guard_one_open(kind: str):
    def guard(ctx: Ctx, order: WorkOrder) -> str | None:
        if guard_not_pending_incoming(ctx, order):
            return guard_not_pending_incoming(ctx, order)
        if not order.linked:
            return None
        open_same = [t for t in transfers_of(ctx, order_id=order.id)
                     if t.direction == "out" and t.kind == kind and t.state in OPEN_LINK_STATES]
        if open_same:
            return f"已有一条「{label('transfer_kind', kind)}」在 110 处理中（{open_same[0].case_ref}），请等待反馈"
        return None

    return guard


def guard_reopen(ctx: Ctx, order: WorkOrder) -> str | None:
    """A matter 110 handled has no handling unit to reopen it with (重办 goes back to the unit)."""
    if order.handling_unit_id is None:
        return "本工单由 110 处置，没有承办单位可重办；请说明理由办结，或在次数允许时再次转办（R-212）"
    return None


ORDER_ACTIONS = {
    Action.TRANSFER_TO_110: do_transfer_to_110,
    Action.REPORT_TO_110: do_report_to_110,
    Action.ESCALATE_TO_110: do_escalate_to_110,
    Action.ACCEPT_TRANSFER: do_accept_transfer,
    Action.REJECT_TRANSFER: do_reject_transfer,
}
ORDER_GUARDS = {
    Action.TRANSFER_TO_110: guard_transfer,
    Action.REPORT_TO_110: _guard_one_open("stability_lead"),
    Action.ESCALATE_TO_110: _guard_one_open("escalation"),
    Action.ACCEPT_TRANSFER: guard_pending_incoming,
    Action.REJECT_TRANSFER: guard_reject_transfer,
    Action.SUBMIT: guard_not_pending_incoming,
    Action.CLOSE_AT_INTAKE: guard_not_pending_incoming,
    # A push waiting for 签收 is signed for or returned, never merged away.
    Action.MERGE: guard_not_pending_incoming,
    Action.REOPEN: guard_reopen,
}
CLOSING_GUARDS = (Action.CLOSE, Action.CALLBACK, Action.CLOSE_AT_INTAKE)


# -- hotline: what 110 hears about a linked 工单 as it moves (反馈回写, R-503) -------------------------------

# 工单 moves reported to 110 for a matter 110 pushed to us, as R-506 handling-trace nodes.
_PROGRESS_NODES = {
    Action.DISPATCH: "派单",
    Action.SIGN: "签收",
    Action.RETURN: "退回",
    Action.APPROVE_RETURN: "退单审核通过",
    Action.REPLY: "答复",
    Action.REOPEN: "重办",
    Action.REQUEST_EXTENSION: "延期申请",
    Action.APPROVE_EXTENSION: "延期批准",
    Action.MERGE: "并单",
}


def on_order_moved(ctx: Ctx, order: WorkOrder, action: Action, data: dict, *, actor: Actor) -> None:
    """Called by the 工单 actions after every move of a linked order (``order.linked``) or a joint part."""
    if order.joint_case_id is not None:
        refresh_joint_case(ctx, ctx.session.get(JointCase, order.joint_case_id), actor=actor)
    if not order.linked or action in ORDER_ACTIONS:
        return
    if action == Action.MERGE and order.merged_into_id is not None:
        _move_links_to_main(ctx, order, actor=actor)
        return
    for transfer in transfers_of(ctx, order_id=order.id):
        if transfer.direction == "in" and transfer.state == "accepted" and transfer.kind != "joint":
            if order.state == State.CLOSED:
                reply = wo._latest_reply(ctx, order)
                transfer.state, transfer.result_at, transfer.closed_at = "closed", ctx.now, ctx.now
                transfer.satisfaction = order.satisfaction
                notify(ctx, transfer, "result", actor=actor, number=order.number,
                       situation=reply.content if reply else (order.close_reason or "已办结"),
                       result_note=order.close_reason, satisfaction=order.satisfaction)
            elif action in _PROGRESS_NODES:
                notify(ctx, transfer, "progress", actor=actor, number=order.number, node=_PROGRESS_NODES[action],
                       state=order.state, unit=(ctx.directory.unit(order.handling_unit_id).label
                                                if order.handling_unit_id else None),
                       note=data.get("note") or data.get("reason") or data.get("content"))
        elif transfer.direction == "out" and order.state == State.CLOSED and transfer.state == "result":
            transfer.state, transfer.closed_at, transfer.satisfaction = "closed", ctx.now, order.satisfaction
            notify(ctx, transfer, "close", actor=actor, number=order.number, satisfaction=order.satisfaction,
                   note=order.close_reason)


def _move_links_to_main(ctx: Ctx, order: WorkOrder, *, actor: Actor) -> None:
    """并单 keeps the link (R-307, R-503): the 重复件's transfers follow it to the 主单, whose closing then
    writes the result back to 110 and waits for 110's results; 110 hears the new number at once."""
    main = ctx.session.get(WorkOrder, order.merged_into_id)
    moved = [t for t in transfers_of(ctx, order_id=order.id) if t.state not in ("rejected", "closed")]
    for transfer in moved:
        transfer.order_id, transfer.local_number = main.id, main.number
        if transfer.direction == "in" and transfer.state == "accepted":
            notify(ctx, transfer, "progress", actor=actor, number=main.number, node="并单", state=main.state,
                   unit=None, note=f"重复件 {order.number} 并入主单 {main.number}")
    if moved:
        main.linked = True


# -- 三方通话, on either site ---------------------------------------------------------------------------

CONSULT_ROLES = {"hotline": frozenset({Role.OPERATOR, Role.DISPATCHER}),
                 "police": frozenset({Role.POLICE_OPERATOR, Role.POLICE_COMMANDER})}


def _local_record(ctx: Ctx, number: str):
    if ctx.settings.site_role == "hotline":
        return wo.load_order_for_update(ctx, number), "order"
    from civiclink.incidents.actions import load_incident_for_update

    return load_incident_for_update(ctx, number), "incident"


def do_open_consultation(ctx: Ctx, body: ls.ConsultationOpen, *, actor: Actor) -> Consultation:
    """Open a 三方通话 record (citizen, 12345, 110) on a matter whose owner is unclear (R-202)."""
    if not (actor.roles & CONSULT_ROLES[ctx.settings.site_role]):
        raise Forbidden("您的角色不能发起三方通话")
    record, kind = _local_record(ctx, body.number)
    if kind == "order" and record.state in TERMINAL | {State.TRANSFERRED_TO_110}:
        raise InvalidTransition(f"工单当前状态为「{label('state', record.state)}」，不能发起三方通话")
    if kind == "incident":
        from civiclink.incidents.states import TERMINAL as INCIDENT_TERMINAL

        if record.state in INCIDENT_TERMINAL:
            raise InvalidTransition(f"警单当前状态为「{label('incident_state', record.state)}」，不能发起三方通话")
    ids = {"order_id": record.id} if kind == "order" else {"incident_id": record.id}
    if _open_consultation(ctx, **ids) is not None:
        raise InvalidTransition("该事项已有进行中的三方通话")
    peer = rules.same_level_peer(ctx.settings)
    links = transfers_of(ctx, **ids)
    case_ref, _count, first = case_history(ctx, links)
    case_ref = case_ref or f"{ctx.settings.site_code}:{record.number}"
    participants = [p.model_dump() for p in body.participants]
    consultation = Consultation(
        case_ref=case_ref, peer=peer.site_code, initiated_here=True, first_receiver=first or ctx.settings.site_code,
        local_number=record.number, participants=json.dumps(participants, ensure_ascii=False),
        opened_at=ctx.now, opened_by=actor_label(ctx, actor), summary=body.summary, **ids,
    )
    ctx.session.add(consultation)
    exchange.send(ctx, peer=peer, case_ref=case_ref, type="consultation.opened", body=body_with(
        ctx, actor, number=record.number, participants=participants, summary=body.summary,
        first_receiver=consultation.first_receiver,
    ))
    # The audit trail keeps who took part by side only: names stay in the (access-controlled) record.
    _record_on(ctx, record, kind, "consultation_opened", actor=actor,
               data={"case_ref": case_ref, "sides": [p["side"] for p in participants]})
    ctx.session.flush()
    return consultation


def _record_on(ctx: Ctx, record, kind: str, action: str, *, actor: Actor, data: dict) -> None:
    record_event(ctx.session, actor=actor, action=f"{'order' if kind == 'order' else 'incident'}.{action}",
                 entity_type="work_order" if kind == "order" else "incident", entity=record,
                 from_state=record.state, to_state=record.state, data=data, at=ctx.now)


def _close_consultation(ctx: Ctx, consultation: Consultation, outcome: str, *, actor: Actor,
                        note: str | None) -> None:
    consultation.outcome, consultation.note, consultation.closed_at = outcome, (note or None) and note[:500], ctx.now
    consultation.agreed_site = {
        "other_side": consultation.peer,
        "first_receiver": consultation.first_receiver,
        "emergency": consultation.peer if ctx.settings.site_role == "hotline" else ctx.settings.site_code,
    }[outcome]
    peer = ctx.settings.peer(consultation.peer)
    if peer is not None:
        exchange.send(ctx, peer=peer, case_ref=consultation.case_ref, type="consultation.result", body=body_with(
            ctx, actor, outcome=outcome, agreed_site=consultation.agreed_site, note=note,
        ))


def do_conclude_consultation(ctx: Ctx, consultation_id: int, body: ls.ConsultationConclude, *,
                             actor: Actor) -> Consultation:
    """Record the 三方通话's outcome (R-202): the other side takes it — transferred at once, by 三方通话 — or no
    agreement, and the first receiver keeps it (首接兜底). Past the transfer limit the outcome is 首接 (R-212)."""
    if not (actor.roles & CONSULT_ROLES[ctx.settings.site_role]):
        raise Forbidden("您的角色不能记录三方通话结果")
    consultation = ctx.session.execute(
        select(Consultation).where(Consultation.id == consultation_id).with_for_update()
    ).scalar_one_or_none()
    if consultation is None:
        raise NotFound(f"三方通话记录 {consultation_id} 不存在")
    if consultation.closed_at is not None:
        raise InvalidTransition("该三方通话已记录结果")
    if not consultation.initiated_here:
        raise Forbidden("三方通话结果由发起方记录")
    ids = ({"order_id": consultation.order_id} if consultation.order_id is not None
           else {"incident_id": consultation.incident_id})
    _, count, _ = case_history(ctx, transfers_of(ctx, **ids))
    outcome = rules.consultation_outcome(body.outcome, previous_transfers=count,
                                         max_retransfers=ctx.settings.linkage.max_retransfers)
    note = body.note
    if outcome != body.outcome:
        note = f"{note or ''}（已达转办次数上限，按首接负责制由首接平台办理，R-212）".strip()
    _close_consultation(ctx, consultation, outcome, actor=actor, note=note)
    record, kind = _local_record(ctx, consultation.local_number)
    _record_on(ctx, record, kind, "consultation_concluded", actor=actor,
               data={"case_ref": consultation.case_ref, "outcome": outcome, "note": note})
    if outcome == "other_side":
        # The agreed side takes it: transferred by 三方通话 in the same transaction (the roles that may record a
        # 三方通话 are the roles that may transfer).
        if kind == "order":
            do_transfer_to_110(ctx, record, ws.TransferIn(
                version=record.version, channel="three_party", reason_code="consultation", reason=body.reason,
                consent=body.consent), actor=actor)
        else:
            from civiclink.incidents import actions as ia
            from civiclink.incidents.schemas import IncidentTransferIn

            ia.do_transfer_to_12345(ctx, record, IncidentTransferIn(
                version=record.version, channel="three_party", reason_code="consultation", reason=body.reason,
                consent=body.consent), actor=actor)
    return consultation


# -- 联合调处, kept on the hotline site ------------------------------------------------


def open_joint_case(ctx: Ctx, *, order: WorkOrder, transfer: Transfer, police_owner: str,
                    actor: Actor) -> JointCase:
    """A joint case for a dispute 110 has dispatched to and handed on: the 110 part (the remote 警单) and the
    first 12345 part (this 工单), each with owner and deadline (R-307, R-302 limits)."""
    limits = ctx.settings.linkage
    number = f"LH{order.number}"
    joint = JointCase(number=number, case_ref=transfer.case_ref, title=order.title, state="open",
                      opened_at=ctx.now, due_at=rules.sign_due(ctx.now, limits.joint_case_limit, ctx.calendar))
    ctx.session.add(joint)
    ctx.session.flush()
    ctx.session.add(JointPart(joint_case_id=joint.id, side="police", remote_number=transfer.remote_number,
                              owner=police_owner,
                              due_at=rules.sign_due(ctx.now, limits.joint_police_part_limit, ctx.calendar)))
    ctx.session.add(JointPart(joint_case_id=joint.id, side="hotline", order_id=order.id, owner="待派单"))
    order.joint_case_id = joint.id
    transfer.joint_case_id = joint.id
    record_event(ctx.session, actor=actor, action="joint.opened", entity_type="joint_case", entity=joint,
                 from_state=None, to_state="open", at=ctx.now,
                 data={"case_ref": transfer.case_ref, "order": order.number, "incident": transfer.remote_number})
    return joint


def load_joint_for_update(ctx: Ctx, number: str) -> JointCase:
    joint = ctx.session.execute(select(JointCase).where(JointCase.number == number).with_for_update()
                                ).scalar_one_or_none()
    if joint is None:
        raise NotFound(f"联合调处案件 {number} 不存在")
    return joint


def joint_parts(ctx: Ctx, joint: JointCase) -> list[tuple[JointPart, WorkOrder | None]]:
    parts = ctx.session.execute(select(JointPart).where(JointPart.joint_case_id == joint.id).order_by(JointPart.id)
                                ).scalars().all()
    return [(p, ctx.session.get(WorkOrder, p.order_id) if p.order_id else None) for p in parts]


def _part_done(part: JointPart, order: WorkOrder | None) -> bool:
    if part.side == "police":
        return part.done_at is not None
    if order is None:
        return False
    if order.state == State.MERGED and order.merged_into_id is not None:
        return False  # followed to its 主单 by refresh_joint_case
    return order.state in (State.AWAITING_CALLBACK, State.CLOSED, State.CLOSED_AT_INTAKE)


def refresh_joint_case(ctx: Ctx, joint: JointCase | None, *, actor: Actor) -> None:
    """Recompute the parent from its parts (R-307); the link follows a part merged into a 主单."""
    if joint is None or joint.state == "closed":
        return
    parts = joint_parts(ctx, joint)
    for part, order in parts:
        if order is not None and order.state == State.MERGED and order.merged_into_id is not None:
            main = ctx.session.get(WorkOrder, order.merged_into_id)
            part.order_id, main.joint_case_id = main.id, joint.id  # keep the link across 合并
        if order is not None and part.side == "hotline":
            unit = ctx.directory.unit(order.handling_unit_id)
            if unit is not None:
                part.owner = unit.label
            handle = wo._clocks(ctx, order).get("handle")
            if handle is not None and handle.due_at is not None:
                part.due_at = handle.due_at  # the part's deadline is its 工单's 办理时限
            if _part_done(part, order) and part.done_at is None:
                part.done_at, part.result = ctx.now, order.reply_content
            elif not _part_done(part, order):
                part.done_at = None  # 重办 reopens the part
    statuses = [rules.PartStatus(p.side, _part_done(p, o)) for p, o in parts]
    before = joint.state
    joint.state = "awaiting_callback" if rules.joint_parts_done(statuses) else "open"
    if joint.state != before:
        record_event(ctx.session, actor=actor, action="joint.state", entity_type="joint_case", entity=joint,
                     from_state=before, to_state=joint.state, at=ctx.now, data={})


def do_add_joint_part(ctx: Ctx, number: str, body: ls.JointPartIn, *, actor: Actor) -> JointCase:
    """Another 12345 part: a 工单 for one more unit (属地政府 or a department), dispatched at once (R-207 step 3)."""
    if not actor.has(Role.DISPATCHER):
        raise Forbidden("只有派单员可以增加联合调处分案")
    joint = load_joint_for_update(ctx, number)
    if joint.state == "closed":
        raise InvalidTransition("联合调处案件已办结")
    parts = joint_parts(ctx, joint)
    base = next((o for p, o in parts if p.side == "hotline" and o is not None), None)
    if base is None:
        raise InvalidTransition("联合调处案件没有 12345 主分案")
    category = ctx.directory.category(base.category_id)
    order_in = ws.OrderCreate(
        channel=base.channel, title=f"【联合调处分案】{base.title}"[:200], content=base.content,
        request_type=base.request_type, category=category.code if category else None, address=base.address,
        place=ctx.directory.unit(base.place_id).code if base.place_id else None, urgency=base.urgency,
        caller=ws.Caller(name=base.caller_name, phone=base.caller_phone, confidential=base.caller_confidential),
    )
    part_order = wo.do_register_order(ctx, order_in, actor=SYSTEM, source="joint")
    ctx.session.flush()
    part_order.joint_case_id = joint.id
    ctx.session.add(JointPart(joint_case_id=joint.id, side="hotline", order_id=part_order.id, owner="待派单"))
    wo.do_dispatch_order(ctx, part_order, ws.DispatchIn(version=part_order.version, unit=body.unit, note=body.note),
                         actor=actor)
    flag_modified(joint, "title")  # the parent's version moves with its parts
    record_event(ctx.session, actor=actor, action="joint.part_added", entity_type="joint_case", entity=joint,
                 from_state=joint.state, to_state="open", at=ctx.now,
                 data={"order": part_order.number, "unit": body.unit})
    refresh_joint_case(ctx, joint, actor=actor)
    return joint


def do_joint_callback(ctx: Ctx, number: str, body: ls.JointCallbackIn, *, actor: Actor) -> JointCase:
    """回访 of a joint case once every part is done: satisfied closes every part and the parent (R-307), and
    110 hears it; unsatisfied leaves the parts for 重办."""
    if not actor.has(Role.CALLBACK_AGENT):  # as for every 工单 (its parts get this callback)
        raise Forbidden("只有回访员可以回访联合调处案件")
    joint = load_joint_for_update(ctx, number)
    if body.version != joint.version:
        raise StaleVersion(f"联合调处案件已被他人修改（您看到的是第 {body.version} 版，当前为第 {joint.version} 版），请刷新后重试")
    if joint.state != "awaiting_callback":
        raise InvalidTransition(f"联合调处案件当前为「{label('joint_state', joint.state)}」，各分案办结后才能回访（R-307）")
    callback = ws.CallbackIn(version=0, reached=body.reached, satisfaction=body.satisfaction, note=body.note)
    for _part, order in joint_parts(ctx, joint):
        if order is not None and order.state == State.AWAITING_CALLBACK:
            wo.do_record_callback(ctx, order, callback.model_copy(update={"version": order.version}), actor=actor)
    joint.callback_at = ctx.now
    joint.satisfaction = int(body.satisfaction) if body.satisfaction else None
    parts = joint_parts(ctx, joint)
    statuses = [rules.PartStatus(p.side, _part_done(p, o)) for p, o in parts]
    all_closed = all(o.state in (State.CLOSED, State.CLOSED_AT_INTAKE) for p, o in parts if o is not None)
    before = joint.state
    if body.reached and all_closed and rules.joint_case_may_close(statuses, callback_done=True):
        joint.state, joint.closed_at = "closed", ctx.now
        for transfer in transfers_of(ctx, case_ref=joint.case_ref):
            if transfer.direction == "in":
                transfer.state, transfer.closed_at, transfer.satisfaction = "closed", ctx.now, joint.satisfaction
                notify(ctx, transfer, "close", actor=actor, joint_case=joint.number,
                       satisfaction=joint.satisfaction, note=body.note)
    elif body.reached:
        joint.state = "open"
    record_event(ctx.session, actor=actor, action="joint.callback", entity_type="joint_case", entity=joint,
                 from_state=before, to_state=joint.state, at=ctx.now,
                 data={"reached": body.reached, "satisfaction": joint.satisfaction, "note": body.note})
    return joint
