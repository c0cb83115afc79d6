"""What a site does with each envelope the peer sends (design §6), by site role.

Each handler runs inside the receiving transaction (``exchange.service.apply_envelopes``), in the case's
sequence order, as the peer's person (``remote_actor``): every step the other side takes appears in this
site's records and audit chain with who, when and where — the cross-site timeline (全程可溯).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from civiclink.context import Ctx
from civiclink.errors import Invalid
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.incidents.models import Incident
from civiclink.incidents.states import IncidentState
from civiclink.linkage import actions as la
from civiclink.linkage import rules
from civiclink.linkage.models import Consultation, JointCase, JointPart, Transfer
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.workorders import actions as wo
from civiclink.workorders import schemas as ws
from civiclink.workorders.models import Channel, RequestType, WorkOrder
from civiclink.workorders.states import State

Envelope = dict[str, Any]


def _transfer(ctx: Ctx, e: Envelope, direction: str, *, kinds: tuple[str, ...] | None = None) -> Transfer:
    candidates = [t for t in la.transfers_of(ctx, case_ref=e["case_ref"])
                  if t.direction == direction and t.peer == e["sender"] and (kinds is None or t.kind in kinds)]
    if not candidates:
        raise Invalid(f"本站没有案件 {e['case_ref']} 的{'转出' if direction == 'out' else '转入'}记录")
    return candidates[-1]


def _local(ctx: Ctx, transfer: Transfer) -> WorkOrder | Incident:
    if transfer.order_id is not None:
        return ctx.session.get(WorkOrder, transfer.order_id, with_for_update=True)
    return ctx.session.get(Incident, transfer.incident_id, with_for_update=True)


def _note(ctx: Ctx, record, action: str, e: Envelope, *, to_state=None, data: dict | None = None) -> None:
    """One audit event on the local record for a step the peer took (or that its message caused here)."""
    actor = la.remote_actor(e)
    payload = {"case_ref": e["case_ref"], "site": e["sender"], "message": e["type"], **(data or {})}
    if isinstance(record, WorkOrder):
        from_state = record.state
        if to_state is not None:
            record.state = str(to_state)
        record.updated_at = ctx.now
        flag_modified(record, "updated_at")
        wo._record(ctx, record, action, actor=actor, role=None, from_state=from_state, data=payload)
    else:
        ia._move(ctx, record, action, to_state, actor=actor, role=None, data=payload)


def _returning_record(ctx: Ctx, e: Envelope, model):
    """This site's record of a matter it transferred to the sender and now gets back (a re-transfer, R-212), if
    it is still waiting there; the transfer that took it away is closed by the return. None: a new record."""
    waiting_state = State.TRANSFERRED_TO_110 if model is WorkOrder else IncidentState.TRANSFERRED_TO_12345
    for t in reversed(la.transfers_of(ctx, case_ref=e["case_ref"])):
        if t.direction == "out" and t.peer == e["sender"] and t.kind in la.MOVING_KINDS:
            record_id = t.order_id if model is WorkOrder else t.incident_id
            record = ctx.session.get(model, record_id, with_for_update=True) if record_id is not None else None
            if record is None or record.state != waiting_state:
                return None
            for link in la.transfers_of(ctx, case_ref=e["case_ref"]):
                if link.direction == "out" and link.peer == e["sender"] and link.state in la.OPEN_LINK_STATES:
                    link.state, link.closed_at = "closed", ctx.now
                    link.result_note = "对方转回（再次转办，R-212）"
            return record
    return None


def _when(body: dict, field: str, ctx: Ctx) -> datetime:
    """The moment the peer says a step happened (R-211 timestamps stay right after an outage), else now."""
    value = body.get(field) or body.get("at")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment > ctx.now + timedelta(minutes=5):
        return ctx.now
    return moment


def _check_offer(ctx: Ctx, body: dict) -> None:
    """An offer names a known channel and reason (R-211) and respects the transfer limit (R-212) — checked
    here too, not only by a well-behaved sender."""
    if body.get("channel") not in rules.CHANNELS:
        raise Invalid(f"未知的转办方式 {body.get('channel')!r}")
    if body.get("reason_code", "other_scope") not in rules.REASON_CODES:
        raise Invalid(f"未知的转办原因 {body.get('reason_code')!r}")
    count = int(body.get("transfer_count", 1))
    if body.get("kind") in ("transfer", "joint") and not rules.transfer_allowed(
            count - 1, max_retransfers=ctx.settings.linkage.max_retransfers):
        raise Invalid(f"该事项已转办 {count - 1} 次，超过上限（R-212 禁止来回推诿），本站不接收")


def _caller(matter: dict) -> ws.Caller:
    caller = matter.get("caller") or {}
    return ws.Caller(name=caller.get("name"), phone=caller.get("phone"), confidential=bool(caller.get("confidential")))


# -- on a hotline site ---------------------------------------------------------------------------------------


def hotline_offer(ctx: Ctx, e: Envelope) -> None:
    """110 pushes a 双非 matter or the 12345 part of a dispute (R-204, R-207): a new 工单 waits for 签收."""
    body, actor = e["body"], la.remote_actor(e)
    matter, kind = body["matter"], body.get("kind", "transfer")
    if kind not in ("transfer", "joint"):
        raise Invalid(f"12345 不受理「{kind}」类推送")
    _check_offer(ctx, body)
    order = _returning_record(ctx, e, WorkOrder)
    if order is not None:
        # The matter comes back (a re-transfer, R-212): the same 工单 waits for 签收 again — no second record.
        _note(ctx, order, "linkage_returned", e, to_state=State.REGISTERED, data={"incident": matter.get("number")})
    else:
        place = ctx.directory.unit_by_code(((matter.get("place") or {}).get("code")) or "")
        request_type = matter.get("request_type") if matter.get("request_type") in set(RequestType) else "help"
        order_in = ws.OrderCreate(
            channel=Channel.POLICE_TRANSFER, caller=_caller(matter), title=str(matter["title"])[:200],
            content=str(matter["content"])[:8000], request_type=request_type, address=matter.get("address"),
            place=place.code if place is not None and place.is_place() else None,
            urgency=matter.get("urgency") if matter.get("urgency") in ("urgent", "emergency") else "normal",
        submit=False,
        )
        order = wo.do_register_order(ctx, order_in, actor=replace(actor, roles=frozenset({Role.OPERATOR})),
                                     source="exchange")
        ctx.session.flush()
    order.linked = True
    transfer = la.new_transfer(
        ctx, case_ref=e["case_ref"], peer=e["sender"], direction="in", kind=kind, channel=body["channel"],
        reason_code=body.get("reason_code", "other_scope"), reason=body.get("reason"),
        consent=bool(body.get("consent", True)), transfer_count=int(body.get("transfer_count", 1)),
        first_receiver=body.get("first_receiver") or e["sender"], offered_by=f"{actor.display_name}@{e['sender']}",
        local_number=order.number, remote_number=matter.get("number"), order_id=order.id,
        sign_due_at=rules.sign_due(ctx.now, ctx.settings.linkage.hotline_sign_limit, ctx.calendar),
    )
    data = {"incident": matter.get("number"), "kind": kind, "channel": body["channel"], "reason": body.get("reason"),
            "sign_due_at": transfer.sign_due_at}
    if kind == "joint":
        police = body.get("police_part") or {}
        joint = la.open_joint_case(ctx, order=order, transfer=transfer, actor=actor,
                                   police_owner=police.get("unit") or e["sender"])
        if police.get("finished"):
            _police_part_done(ctx, joint, police.get("situation"), police.get("result_note"))
        data["joint_case"] = joint.number
    _note(ctx, order, "linkage_received", e, data=data)


def _police_part_done(ctx: Ctx, joint: JointCase, situation: str | None, result_note: str | None) -> None:
    part = ctx.session.execute(select(JointPart).where(JointPart.joint_case_id == joint.id,
                                                       JointPart.side == "police")).scalar_one()
    part.done_at, part.result = ctx.now, "；".join(x for x in (situation, result_note) if x)


def _accepted(ctx: Ctx, e: Envelope) -> tuple[Transfer, WorkOrder | Incident]:
    """The peer signed for our transfer (签收): its number and who signed go on the transfer record."""
    transfer = _transfer(ctx, e, "out")
    transfer.state, transfer.accepted_at = "accepted", _when(e["body"], "at", ctx)
    transfer.accepted_by = f"{la.remote_actor(e).display_name}@{e['sender']}"
    transfer.remote_number = e["body"]["number"]
    return transfer, _local(ctx, transfer)


def _rejected(ctx: Ctx, e: Envelope) -> tuple[Transfer, WorkOrder | Incident]:
    """The peer returned our transfer (退回) with a reason: it goes on the transfer record."""
    transfer = _transfer(ctx, e, "out")
    transfer.state, transfer.rejected_at = "rejected", _when(e["body"], "at", ctx)
    transfer.reject_reason = str(e["body"]["reason"])[:500]
    return transfer, _local(ctx, transfer)


def hotline_accept(ctx: Ctx, e: Envelope) -> None:
    _transfer_row, order = _accepted(ctx, e)
    _note(ctx, order, "linkage_accepted", e, data={"incident": e["body"]["number"], "note": e["body"].get("note")})


def hotline_reject(ctx: Ctx, e: Envelope) -> None:
    """110 returned our transfer: the hotline keeps the matter (首接, R-202) and handles it again."""
    _transfer_row, order = _rejected(ctx, e)
    body = e["body"]
    target = None
    if order.state == State.TRANSFERRED_TO_110:
        existing = wo._clocks(ctx, order)
        wo._start_clock(ctx, order, "dispatch", existing)
        wo._start_clock(ctx, order, "handle", existing)
        order.handling_unit_id = None
        order.owner_unit_id = wo._hotline_center_id(ctx)
        target = State.AWAITING_DISPATCH
    _note(ctx, order, "linkage_rejected", e, to_state=target,
          data={"incident": body.get("number"), "reason": body["reason"]})


def hotline_police_dispatched(ctx: Ctx, e: Envelope) -> None:
    transfer = _transfer(ctx, e, "out")
    body = e["body"]
    transfer.police_unit, transfer.dispatched_at = body.get("unit"), _when(body, "dispatched_at", ctx)
    _note(ctx, _local(ctx, transfer), "police_dispatched", e, data={"unit": body.get("unit"), "note": body.get("note")})


def hotline_police_arrived(ctx: Ctx, e: Envelope) -> None:
    transfer = _transfer(ctx, e, "out")
    transfer.arrived_at = _when(e["body"], "arrived_at", ctx)
    _note(ctx, _local(ctx, transfer), "police_arrived", e, data={"note": e["body"].get("note")})


def hotline_result(ctx: Ctx, e: Envelope) -> None:
    """反馈回写 (R-503, R-506): 110's 出警处置情况 and 处理结果说明 on the linked 工单; a transferred one then
    waits for the hotline's 回访."""
    transfer = _transfer(ctx, e, "out")
    body = e["body"]
    transfer.state, transfer.result_at = "result", _when(body, "at", ctx)
    transfer.situation, transfer.result_note = body.get("situation"), body.get("result_note")
    transfer.result_by = f"{la.remote_actor(e).display_name}@{e['sender']}"
    order = _local(ctx, transfer)
    target = None
    if order.state == State.TRANSFERRED_TO_110 and transfer.kind in ("transfer", "emergency"):
        order.reply_content = f"110处置反馈：{body.get('situation') or ''}；处理结果：{body.get('result_note') or ''}"
        order.replied_at = ctx.now
        wo._start_clock(ctx, order, "callback", wo._clocks(ctx, order))
        target = State.AWAITING_CALLBACK
    _note(ctx, order, "police_result", e, to_state=target, data={
        "incident": body.get("number"), "unit": body.get("unit"), "situation": body.get("situation"),
        "result_note": body.get("result_note")})


def hotline_joint_part_done(ctx: Ctx, e: Envelope) -> None:
    """The 110 part of a 联合调处 case is done (R-307)."""
    transfer = _transfer(ctx, e, "in", kinds=("joint",))
    body = e["body"]
    joint = ctx.session.get(JointCase, transfer.joint_case_id, with_for_update=True)
    _police_part_done(ctx, joint, body.get("situation"), body.get("result_note"))
    transfer.result_at, transfer.situation, transfer.result_note = ctx.now, body.get("situation"), body.get("result_note")
    la.refresh_joint_case(ctx, joint, actor=la.remote_actor(e))
    _note(ctx, _local(ctx, transfer), "joint_police_part_done", e, data={
        "joint_case": joint.number, "situation": body.get("situation"), "result_note": body.get("result_note")})


# -- on a police site ----------------------------------------------------------------------------------------


def police_offer(ctx: Ctx, e: Envelope) -> None:
    """12345 pushes a matter (R-201/R-204), a stability lead (R-205) or a unit's call for police (R-206); an
    emergency is dispatched at once (R-203)."""
    body, actor = e["body"], la.remote_actor(e)
    kind = body.get("kind", "transfer")
    if kind not in ("transfer", "emergency", "stability_lead", "escalation"):
        raise Invalid(f"110 不受理「{kind}」类推送")
    _check_offer(ctx, body)
    emergency = kind == "emergency" or bool(body.get("emergency"))
    incident = _returning_record(ctx, e, Incident)
    if incident is not None:
        # The matter comes back (a re-transfer, R-212): the same 警单 waits for 签收 again.
        incident.sign_due_at = rules.sign_due(ctx.now, ctx.settings.linkage.police_sign_limit, ctx.calendar)
        incident.kind, incident.emergency = kind, emergency or incident.emergency
        incident.closed_at = None
        _note(ctx, incident, "linkage_returned", e, to_state=IncidentState.RECEIVED,
              data={"order": body["matter"].get("number")})
    else:
        incident = ia.create_pushed_incident(ctx, matter=body["matter"], kind=kind, emergency=emergency, actor=actor)
    la.new_transfer(
        ctx, case_ref=e["case_ref"], peer=e["sender"], direction="in", kind=kind, channel=body["channel"],
        reason_code=body.get("reason_code", "other_scope"), reason=body.get("reason"),
        consent=bool(body.get("consent", True)), transfer_count=int(body.get("transfer_count", 1)),
        first_receiver=body.get("first_receiver") or e["sender"], offered_by=f"{actor.display_name}@{e['sender']}",
        local_number=incident.number, remote_number=body["matter"].get("number"), incident_id=incident.id,
        sign_due_at=incident.sign_due_at,
    )
    if emergency:
        ctx.session.flush()
        ia.do_dispatch_police(ctx, incident, iss.PoliceDispatchIn(version=incident.version,
                                                                  note="紧急警情，接收即派警（R-203）"), actor=SYSTEM)


def police_accept(ctx: Ctx, e: Envelope) -> None:
    _transfer_row, incident = _accepted(ctx, e)
    incident.hotline_number = e["body"]["number"]
    _note(ctx, incident, "linkage_accepted", e, data={"order": e["body"]["number"], "note": e["body"].get("note")})


def police_reject(ctx: Ctx, e: Envelope) -> None:
    """12345 returned our transfer: the police keep the matter (首接)."""
    transfer, incident = _rejected(ctx, e)
    body = e["body"]
    target = None
    if incident.state == IncidentState.TRANSFERRED_TO_12345:
        target = IncidentState.SIGNED
    if transfer.kind == "joint":
        incident.joint = False
    _note(ctx, incident, "linkage_rejected", e, to_state=target, data={"reason": body["reason"]})


def police_progress(ctx: Ctx, e: Envelope) -> None:
    transfer = _transfer(ctx, e, "out")
    body = e["body"]
    _note(ctx, _local(ctx, transfer), "hotline_progress", e, data={
        "order": body.get("number"), "node": body.get("node"), "unit": body.get("unit"), "note": body.get("note")})


def police_result(ctx: Ctx, e: Envelope) -> None:
    """12345 finished the matter we transferred (办结, with its 回访): written back here (R-503, R-506)."""
    transfer = _transfer(ctx, e, "out")
    body = e["body"]
    transfer.state, transfer.result_at, transfer.closed_at = "closed", ctx.now, ctx.now
    transfer.situation, transfer.result_note = body.get("situation"), body.get("result_note")
    transfer.satisfaction = body.get("satisfaction")
    incident = _local(ctx, transfer)
    incident.hotline_result, incident.satisfaction = body.get("situation"), body.get("satisfaction")
    target = None
    if incident.state == IncidentState.TRANSFERRED_TO_12345:
        incident.closed_at = ctx.now
        target = IncidentState.CLOSED
    _note(ctx, incident, "hotline_result", e, to_state=target, data={
        "order": body.get("number"), "situation": body.get("situation"), "satisfaction": body.get("satisfaction")})


def police_close(ctx: Ctx, e: Envelope) -> None:
    """12345 closed a matter linked with us (its 回访 done; or the 联合调处 case closed, R-307)."""
    body = e["body"]
    transfer = next((t for t in reversed(la.transfers_of(ctx, case_ref=e["case_ref"])) if t.peer == e["sender"]), None)
    if transfer is None:
        raise Invalid(f"本站没有案件 {e['case_ref']} 的记录")
    transfer.state, transfer.closed_at, transfer.satisfaction = "closed", ctx.now, body.get("satisfaction")
    incident = _local(ctx, transfer)
    incident.satisfaction = body.get("satisfaction")
    _note(ctx, incident, "hotline_closed", e, data={
        "joint_case": body.get("joint_case"), "satisfaction": body.get("satisfaction"), "note": body.get("note")})


# -- on either site ------------------------------------------------------------------------------------------


def consultation_opened(ctx: Ctx, e: Envelope) -> None:
    """The peer opened a 三方通话 (R-202): this site keeps its own record of it."""
    body = e["body"]
    links = [t for t in la.transfers_of(ctx, case_ref=e["case_ref"])]
    local = _local(ctx, links[-1]) if links else None
    consultation = Consultation(
        case_ref=e["case_ref"], peer=e["sender"], initiated_here=False,
        first_receiver=body.get("first_receiver") or e["sender"],
        order_id=local.id if isinstance(local, WorkOrder) else None,
        incident_id=local.id if isinstance(local, Incident) else None,
        local_number=local.number if local is not None else None, remote_number=body.get("number"),
        participants=json.dumps(body.get("participants") or [], ensure_ascii=False), opened_at=ctx.now,
        opened_by=f"{la.remote_actor(e).display_name}@{e['sender']}", summary=body.get("summary"),
    )
    ctx.session.add(consultation)
    if local is not None:
        sides = [p.get("side") for p in body.get("participants") or [] if isinstance(p, dict)]
        _note(ctx, local, "consultation_opened", e, data={"sides": sides})


def consultation_result(ctx: Ctx, e: Envelope) -> None:
    body = e["body"]
    consultation = ctx.session.execute(
        select(Consultation).where(Consultation.case_ref == e["case_ref"], Consultation.peer == e["sender"],
                                   Consultation.closed_at.is_(None)).order_by(Consultation.id.desc()).limit(1)
    ).scalar_one_or_none()
    if consultation is None:
        raise Invalid(f"本站没有案件 {e['case_ref']} 进行中的三方通话")
    if body["outcome"] not in ("other_side", "first_receiver", "emergency"):
        raise Invalid(f"未知的三方通话结果 {body['outcome']!r}")
    consultation.outcome, consultation.agreed_site = body["outcome"], body.get("agreed_site")
    consultation.note, consultation.closed_at = (str(body.get("note") or "")[:500] or None), ctx.now


HOTLINE_HANDLERS = {
    "transfer.offer": hotline_offer,
    "transfer.accept": hotline_accept,
    "transfer.reject": hotline_reject,
    "police.dispatched": hotline_police_dispatched,
    "police.arrived": hotline_police_arrived,
    "result": hotline_result,
    "joint.part_done": hotline_joint_part_done,
    "consultation.opened": consultation_opened,
    "consultation.result": consultation_result,
}
POLICE_HANDLERS = {
    "transfer.offer": police_offer,
    "transfer.accept": police_accept,
    "transfer.reject": police_reject,
    "progress": police_progress,
    "result": police_result,
    "close": police_close,
    "consultation.opened": consultation_opened,
    "consultation.result": consultation_result,
}


def handlers_for(site_role: str) -> dict:
    return HOTLINE_HANDLERS if site_role == "hotline" else POLICE_HANDLERS
