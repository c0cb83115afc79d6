"""Every change of a 警单 goes through one ``do_*`` action here (police site; design §3, the write rule).

Where the matter is linked with 12345 the action queues the envelope that tells 12345 (签收, 退回, 派警, 到场,
处置反馈) in the same transaction — 反馈回写 as it happens (R-503).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm.attributes import flag_modified

from civiclink.audit.service import record_event
from civiclink.context import Ctx
from civiclink.errors import Forbidden, Invalid, InvalidTransition, NotFound, StaleVersion
from civiclink.i18n import label, labels
from civiclink.incidents import schemas as s
from civiclink.incidents.models import Incident
from civiclink.incidents.states import INCIDENT_RULES, IncidentAction, IncidentState
from civiclink.linkage import actions as la
from civiclink.linkage import rules
from civiclink.linkage.models import Transfer
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.service import UnitInfo
from civiclink.workorders.actions import take_number

REGISTER_ROLES = frozenset({Role.POLICE_OPERATOR})


def load_incident_for_update(ctx: Ctx, number: str) -> Incident:
    incident = ctx.session.execute(select(Incident).where(Incident.number == number).with_for_update()
                                   ).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"警单 {number} 不存在")
    return incident


def authorize(ctx: Ctx, incident: Incident, action: IncidentAction, actor: Actor, version: int | None) -> Role:
    rule = INCIDENT_RULES[action]
    allowed = rule.roles & actor.roles
    if not allowed:
        raise Forbidden(f"您的角色不能执行「{label('incident_action', action)}」（需要：{labels('role', sorted(rule.roles))}）")
    if version is not None and version != incident.version:
        raise StaleVersion(f"警单 {incident.number} 已被他人修改（您看到的是第 {version} 版，当前为第 {incident.version} 版），"
                           f"请刷新后重试")
    if incident.state not in rule.sources:
        raise InvalidTransition(
            f"警单当前状态为「{label('incident_state', incident.state)}」，不能{label('incident_action', action)}"
            f"（可执行的状态：{labels('incident_state', sorted(rule.sources))}）")
    problem = GUARDS.get(action, lambda _c, _i: None)(ctx, incident)
    if problem:
        raise InvalidTransition(problem)
    return sorted(allowed)[0]


def allowed_actions(ctx: Ctx, incident: Incident, actor: Actor) -> list[IncidentAction]:
    out = []
    for action in INCIDENT_RULES:
        try:
            authorize(ctx, incident, action, actor, None)
        except (Forbidden, InvalidTransition):
            continue
        out.append(action)
    return out


def _incoming(ctx: Ctx, incident: Incident) -> Transfer | None:
    """The transfer from 12345 this 警单 was made for, if any."""
    return next((t for t in reversed(la.transfers_of(ctx, incident_id=incident.id)) if t.direction == "in"), None)


def _guard_return(ctx: Ctx, incident: Incident) -> str | None:
    transfer = _incoming(ctx, incident)
    if transfer is None:
        return "只有 12345 推送的警单可以退回"
    return rules.may_return(own_site=ctx.settings.site_code, first_receiver=transfer.first_receiver,
                            previous_transfers=transfer.transfer_count - 1, emergency=incident.emergency)


def _guard_dispatch(ctx: Ctx, incident: Incident) -> str | None:
    if incident.state == IncidentState.RECEIVED and not incident.emergency:
        return "请先签收再派警（紧急警情可直接派警，R-203）"
    return None


def _guard_transfer(ctx: Ctx, incident: Incident) -> str | None:
    if incident.kind in ("stability_lead", "escalation"):
        # A lead or a unit's call for police is answered with 处置反馈 or 退回; the 工单 it came
        # from is still with 12345.
        return f"「{label('transfer_kind', incident.kind)}」警单以处置反馈或退回答复，不能转12345"
    if incident.emergency and incident.dispatched_at is None:
        return "紧急警情须先派警处置（R-203）"
    if la._open_consultation(ctx, incident_id=incident.id) is not None:
        return "三方通话尚未记录结果，请先记录通话结果（R-202）"
    _, count, first = la.case_history(ctx, la.transfers_of(ctx, incident_id=incident.id))
    if not rules.transfer_allowed(count, max_retransfers=ctx.settings.linkage.max_retransfers):
        return f"该事项已在 12345 与 110 之间转办 {count} 次，不能再转（R-212）；按首接负责制由首接平台（{first}）办理"
    return None


def _guard_joint(ctx: Ctx, incident: Incident) -> str | None:
    if incident.joint:
        return "该警单已移交 12345 联合调处"
    return _guard_transfer(ctx, incident)


GUARDS: dict[IncidentAction, Callable[[Ctx, Incident], str | None]] = {
    IncidentAction.RETURN: _guard_return,
    IncidentAction.DISPATCH: _guard_dispatch,
    IncidentAction.TRANSFER_TO_12345: _guard_transfer,
    IncidentAction.JOINT_TO_12345: _guard_joint,
}


def _move(ctx: Ctx, incident: Incident, action: str, to_state: IncidentState | None, *, actor: Actor,
          role: Role | None, data: dict | None = None) -> None:
    from_state = incident.state
    if to_state is not None:
        incident.state = str(to_state)
    incident.updated_at = ctx.now
    flag_modified(incident, "updated_at")
    record_event(ctx.session, actor=actor, actor_role=str(role) if role else None, action=f"incident.{action}",
                 entity_type="incident", entity=incident, from_state=from_state, to_state=incident.state,
                 data=data or {}, at=ctx.now)


def police_unit_for(ctx: Ctx, place: UnitInfo | None) -> UnitInfo | None:
    """The police unit for a place: the 分局 of its district/county, else the city's 110 command centre."""
    d = ctx.directory
    candidates = sorted((u for u in d.units.values() if u.kind == "police" and u.active), key=lambda u: u.code)
    county = d.county_level(place) if place else None
    if county is not None:
        local = [u for u in candidates if u.parent_id == county.id]
        if local:
            return local[0]
    city_level = [u for u in candidates if (parent := d.unit(u.parent_id)) is not None and parent.kind == "city"]
    return (city_level or candidates or [None])[0]


def _tell(ctx: Ctx, incident: Incident, type: str, *, actor: Actor, **fields) -> None:
    transfer = _incoming(ctx, incident)
    if transfer is not None and transfer.state not in ("rejected",):
        la.notify(ctx, transfer, type, actor=actor, number=incident.number, **fields)


# -- registration and transitions ----------------------------------------------------------------------------


def do_register_incident(ctx: Ctx, body: s.IncidentCreate, *, actor: Actor, is_demo: bool = False) -> Incident:
    """接警登记 of a call to 110 (R-701): accepted at once (已受理)."""
    if not (actor.roles & REGISTER_ROLES):
        raise Forbidden(f"您的角色不能接警登记（需要：{labels('role', sorted(REGISTER_ROLES))}）")
    place = ctx.directory.resolve_place(body.address)
    incident = Incident(
        number=take_number(ctx), state=IncidentState.SIGNED, source="call", kind="call", emergency=body.emergency,
        title=body.title, content=body.content, address=body.address, place_id=place.id if place else None,
        caller_name=body.caller.name, caller_phone=body.caller.phone, caller_confidential=body.caller.confidential,
        received_at=ctx.now, received_by_id=actor.user_id, signed_at=ctx.now, signed_by_id=actor.user_id,
        is_demo=is_demo, updated_at=ctx.now,
    )
    ctx.session.add(incident)
    ctx.session.flush()
    _move(ctx, incident, "registered", None, actor=actor, role=Role.POLICE_OPERATOR, data={
        "emergency": body.emergency, "place": place.code if place else None,
        "caller_given": bool(body.caller.phone or body.caller.name),
    })
    return incident


def create_pushed_incident(ctx: Ctx, *, matter: dict, kind: str, emergency: bool, actor: Actor) -> Incident:
    """A 警单 for a matter 12345 pushed (R-204), waiting to be signed for within the limit."""
    place = None
    if matter.get("place"):
        place = ctx.directory.unit_by_code(matter["place"].get("code") or "")
    if place is None:
        place = ctx.directory.resolve_place(matter.get("address"))
    caller = matter.get("caller") or {}
    incident = Incident(
        number=take_number(ctx), state=IncidentState.RECEIVED, source="push", kind=kind, emergency=emergency,
        stability_lead=kind == "stability_lead", title=str(matter["title"])[:200], content=str(matter["content"]),
        address=matter.get("address"), place_id=place.id if place else None,
        caller_name=caller.get("name"), caller_phone=caller.get("phone"),
        caller_confidential=bool(caller.get("confidential")), received_at=ctx.now,
        sign_due_at=rules.sign_due(ctx.now, ctx.settings.linkage.police_sign_limit, ctx.calendar),
        hotline_number=matter.get("number"), updated_at=ctx.now,
    )
    ctx.session.add(incident)
    ctx.session.flush()
    _move(ctx, incident, "received", None, actor=actor, role=None, data={
        "kind": kind, "emergency": emergency, "hotline_number": matter.get("number"),
        "place": place.code if place else None,
    })
    return incident


def do_sign_incident(ctx: Ctx, incident: Incident, body: s.IncidentNoteIn, *, actor: Actor) -> Incident:
    """签收 a push from 12345 (R-204); 12345 hears our 警单 number."""
    role = authorize(ctx, incident, IncidentAction.SIGN, actor, body.version)
    _sign(ctx, incident, actor=actor, role=role, note=body.note)
    return incident


def _sign(ctx: Ctx, incident: Incident, *, actor: Actor, role, note: str | None) -> None:
    incident.signed_at, incident.signed_by_id = ctx.now, actor.user_id
    transfer = _incoming(ctx, incident)
    if transfer is not None:
        transfer.state, transfer.accepted_at, transfer.accepted_by = "accepted", ctx.now, la.actor_label(ctx, actor)
        transfer.local_number = incident.number
        la.notify(ctx, transfer, "transfer.accept", actor=actor, number=incident.number, note=note)
    _move(ctx, incident, IncidentAction.SIGN, IncidentState.SIGNED, actor=actor, role=role, data={
        "note": note, "overdue": bool(incident.sign_due_at and ctx.now > incident.sign_due_at)})


def do_return_incident(ctx: Ctx, incident: Incident, body: s.IncidentReasonIn, *, actor: Actor) -> Incident:
    """退回 a push to 12345 with a reason (R-204); not an emergency (R-203), not to a first receiver (R-212)."""
    role = authorize(ctx, incident, IncidentAction.RETURN, actor, body.version)
    transfer = _incoming(ctx, incident)
    transfer.state, transfer.rejected_at, transfer.reject_reason = "rejected", ctx.now, body.reason
    incident.return_reason, incident.closed_at = body.reason, ctx.now
    la.notify(ctx, transfer, "transfer.reject", actor=actor, number=incident.number, reason=body.reason)
    _move(ctx, incident, IncidentAction.RETURN, IncidentState.RETURNED, actor=actor, role=role,
          data={"reason": body.reason})
    return incident


def do_dispatch_police(ctx: Ctx, incident: Incident, body: s.PoliceDispatchIn, *, actor: Actor) -> Incident:
    """派警: a police unit is sent (an emergency straight from 待签收, R-203); 12345 hears unit and time."""
    role = authorize(ctx, incident, IncidentAction.DISPATCH, actor, body.version)
    if body.unit:
        unit = ctx.directory.require_unit(body.unit, field="unit")
        if unit.kind != "police":
            raise Invalid(f"「{unit.name}」不是公安单位，不能派警", field="unit")
    else:
        unit = police_unit_for(ctx, ctx.directory.unit(incident.place_id))
        if unit is None:
            raise Invalid("没有可派的公安单位（请在组织架构中配置公安单位）", field="unit")
    if incident.state == IncidentState.RECEIVED:
        _sign(ctx, incident, actor=actor, role=role, note="紧急警情，先行派警（R-203）")
    incident.police_unit_id = unit.id
    incident.dispatched_at, incident.dispatched_by_id = ctx.now, actor.user_id
    _tell(ctx, incident, "police.dispatched", actor=actor, unit=unit.label, dispatched_at=ctx.now.isoformat(),
          note=body.note)
    _move(ctx, incident, IncidentAction.DISPATCH, IncidentState.DISPATCHED, actor=actor, role=role,
          data={"unit": unit.code, "unit_name": unit.label, "note": body.note})
    return incident


def do_record_arrival(ctx: Ctx, incident: Incident, body: s.IncidentNoteIn, *, actor: Actor) -> Incident:
    role = authorize(ctx, incident, IncidentAction.ARRIVE, actor, body.version)
    incident.arrived_at = ctx.now
    _tell(ctx, incident, "police.arrived", actor=actor, arrived_at=ctx.now.isoformat(), note=body.note)
    _move(ctx, incident, IncidentAction.ARRIVE, IncidentState.ARRIVED, actor=actor, role=role,
          data={"note": body.note})
    return incident


def do_finish_incident(ctx: Ctx, incident: Incident, body: s.FinishIn, *, actor: Actor) -> Incident:
    """处置反馈: 出警处置情况 and 处理结果说明, written back to 12345 (反馈回写, R-503/R-506)."""
    role = authorize(ctx, incident, IncidentAction.FINISH, actor, body.version)
    incident.situation, incident.result_note = body.situation, body.result_note
    incident.finished_at, incident.finished_by_id = ctx.now, actor.user_id
    unit = ctx.directory.unit(incident.police_unit_id)
    for transfer in la.transfers_of(ctx, incident_id=incident.id):
        if transfer.state in ("accepted",) and transfer.direction == "in":
            transfer.state, transfer.result_at = "result", ctx.now
            transfer.situation, transfer.result_note = body.situation, body.result_note
            la.notify(ctx, transfer, "result", actor=actor, number=incident.number, situation=body.situation,
                      result_note=body.result_note, unit=unit.label if unit else None)
        elif transfer.kind == "joint" and transfer.direction == "out" and transfer.state in ("offered", "accepted"):
            # The police part of a 联合调处 case is done; the 12345 part goes on.
            la.notify(ctx, transfer, "joint.part_done", actor=actor, number=incident.number, side="police",
                      situation=body.situation, result_note=body.result_note, unit=unit.label if unit else None)
    _move(ctx, incident, IncidentAction.FINISH, IncidentState.FINISHED, actor=actor, role=role,
          data={"situation": body.situation, "result_note": body.result_note})
    return incident


def _matter_of_incident(ctx: Ctx, incident: Incident, request_type: str) -> dict:
    place = ctx.directory.unit(incident.place_id)
    return {
        "number": incident.number, "title": incident.title, "content": incident.content,
        "address": incident.address, "place": {"code": place.code, "name": place.name} if place else None,
        "category": None, "request_type": request_type, "urgency": "urgent" if incident.emergency else "normal",
        "channel": "police_transfer", "registered_at": incident.received_at.isoformat(),
        "caller": {"name": incident.caller_name, "phone": incident.caller_phone,
                   "confidential": incident.caller_confidential},
    }


def do_transfer_to_12345(ctx: Ctx, incident: Incident, body: s.IncidentTransferIn, *, actor: Actor) -> Incident:
    """转12345: a matter outside police duties (双非), by 一键转接 / 三方通话 / 系统推送 (R-201, R-202, R-204)."""
    role = authorize(ctx, incident, IncidentAction.TRANSFER_TO_12345, actor, body.version)
    transfer = la.offer(ctx, actor=actor, kind="transfer", channel=body.channel, reason_code=body.reason_code,
                        reason=body.reason, consent=body.consent,
                        matter=_matter_of_incident(ctx, incident, body.request_type), local_number=incident.number,
                        previous=la.transfers_of(ctx, incident_id=incident.id), incident_id=incident.id)
    _move(ctx, incident, IncidentAction.TRANSFER_TO_12345, IncidentState.TRANSFERRED_TO_12345, actor=actor,
          role=role, data={"case_ref": transfer.case_ref, "channel": body.channel, "reason": body.reason,
                           "transfer_count": transfer.transfer_count})
    return incident


def do_joint_to_12345(ctx: Ctx, incident: Incident, body: s.IncidentTransferIn, *, actor: Actor) -> Incident:
    """R-207: police dispatched first; the part within 12345's scope goes to 12345, which routes it to the 属地政府
    and departments as a 联合调处 case. The police part goes on here and reports its result as a part."""
    role = authorize(ctx, incident, IncidentAction.JOINT_TO_12345, actor, body.version)
    unit = ctx.directory.unit(incident.police_unit_id)
    transfer = la.offer(ctx, actor=actor, kind="joint", channel="system_push", reason_code="joint_mediation",
                        reason=body.reason, consent=body.consent,
                        matter=_matter_of_incident(ctx, incident, body.request_type), local_number=incident.number,
                        previous=la.transfers_of(ctx, incident_id=incident.id), incident_id=incident.id,
                        extra={"police_part": {
                            "number": incident.number, "unit": unit.label if unit else None,
                            "dispatched_at": incident.dispatched_at.isoformat() if incident.dispatched_at else None,
                            "finished": incident.finished_at is not None,
                            "situation": incident.situation, "result_note": incident.result_note,
                        }})
    incident.joint = True
    _move(ctx, incident, IncidentAction.JOINT_TO_12345, None, actor=actor, role=role,
          data={"case_ref": transfer.case_ref, "reason": body.reason})
    return incident


ACTIONS: dict[IncidentAction, Callable] = {
    IncidentAction.SIGN: do_sign_incident,
    IncidentAction.RETURN: do_return_incident,
    IncidentAction.DISPATCH: do_dispatch_police,
    IncidentAction.ARRIVE: do_record_arrival,
    IncidentAction.FINISH: do_finish_incident,
    IncidentAction.TRANSFER_TO_12345: do_transfer_to_12345,
    IncidentAction.JOINT_TO_12345: do_joint_to_12345,
}


def do_incident_action(ctx: Ctx, number: str, action: IncidentAction, body, *, actor: Actor) -> Incident:
    incident = load_incident_for_update(ctx, number)
    return ACTIONS[action](ctx, incident, body, actor=actor)


def take_incident_action(ctx: Ctx, incident: Incident, action: IncidentAction | str, fields: dict, *,
                         actor: Actor) -> Incident:
    """As ``workorders.actions.take_action``: a body given as plain fields, the version defaulting to the 警单's."""
    action = IncidentAction(action)
    body = s.INCIDENT_ACTION_BODIES[action].model_validate({"version": incident.version, **fields})
    return ACTIONS[action](ctx, incident, body, actor=actor)
