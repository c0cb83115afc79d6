"""Reads of the linkage: transfer records, 三方通话, 联合调处 cases, and one case across both sites."""

from __future__ import annotations

import json

from sqlalchemy import and_, or_, select

from civiclink.audit.models import AuditEvent
from civiclink.context import Ctx
from civiclink.errors import Forbidden, NotFound
from civiclink.i18n import label
from civiclink.linkage import schemas as ls
from civiclink.linkage.models import Consultation, JointCase, JointPart, Transfer
from civiclink.orgs.roles import Actor, Role
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.service import mask_name
from civiclink.workorders.states import READ_ALL_ROLES

READ_ROLES = READ_ALL_ROLES | {Role.POLICE_OPERATOR, Role.POLICE_COMMANDER}


def require_reader(actor: Actor) -> None:
    if not (actor.roles & READ_ROLES):
        raise Forbidden("您的角色不能查看对接联动记录")


def transfer_read(ctx: Ctx, t: Transfer) -> ls.TransferRead:
    joint = ctx.session.get(JointCase, t.joint_case_id) if t.joint_case_id else None
    return ls.TransferRead(
        id=t.id, case_ref=t.case_ref, peer=t.peer, direction=t.direction, kind=t.kind,
        kind_label=label("transfer_kind", t.kind), channel=t.channel, channel_label=label("transfer_channel", t.channel),
        reason_code=t.reason_code, reason=t.reason, consent=t.consent, transfer_count=t.transfer_count,
        first_receiver=t.first_receiver, local_number=t.local_number, remote_number=t.remote_number, state=t.state,
        state_label=label("transfer_state", t.state), offered_at=t.offered_at, offered_by=t.offered_by,
        sign_due_at=t.sign_due_at, sign_overdue=bool(t.state == "offered" and t.sign_due_at and ctx.now > t.sign_due_at),
        accepted_at=t.accepted_at, accepted_by=t.accepted_by, rejected_at=t.rejected_at, reject_reason=t.reject_reason,
        police_unit=t.police_unit, dispatched_at=t.dispatched_at, arrived_at=t.arrived_at, result_at=t.result_at,
        situation=t.situation, result_note=t.result_note, result_by=t.result_by, closed_at=t.closed_at,
        satisfaction=t.satisfaction, joint_case=joint.number if joint else None,
    )


def list_transfers(ctx: Ctx, actor: Actor, *, direction: str | None = None, state: str | None = None,
                   kind: str | None = None, overdue: bool = False, limit: int = 200) -> list[ls.TransferRead]:
    """Transfer records, newest first; ``overdue``: pushes not signed for within the limit (R-204)."""
    require_reader(actor)
    q = select(Transfer)
    if direction:
        q = q.where(Transfer.direction == direction)
    if state:
        q = q.where(Transfer.state == state)
    if kind:
        q = q.where(Transfer.kind == kind)
    if overdue:
        q = q.where(Transfer.state == "offered", Transfer.sign_due_at < ctx.now)
    rows = ctx.session.execute(q.order_by(Transfer.id.desc()).limit(limit)).scalars()
    return [transfer_read(ctx, t) for t in rows]


def sees_caller(ctx: Ctx, actor: Actor) -> bool:
    """R-507: who may read a caller's name here — on a 110 site its police roles, on a 12345 site the roles
    that talk to the caller (as on the 工单 itself)."""
    if ctx.settings.site_role == "police":
        return bool(actor.roles & {Role.POLICE_OPERATOR, Role.POLICE_COMMANDER})
    return actor.sees_pii(confidential=False)


def consultation_read(c: Consultation, *, sees_pii: bool) -> ls.ConsultationRead:
    participants = json.loads(c.participants or "[]")
    if not sees_pii:
        participants = [{**p, "name": mask_name(p.get("name"))} if p.get("side") == "citizen" else p
                        for p in participants]
    return ls.ConsultationRead(
        id=c.id, case_ref=c.case_ref, peer=c.peer, initiated_here=c.initiated_here, first_receiver=c.first_receiver,
        local_number=c.local_number, remote_number=c.remote_number, participants=participants,
        opened_at=c.opened_at, opened_by=c.opened_by, summary=c.summary, outcome=c.outcome,
        outcome_label=label("consultation_outcome", c.outcome) if c.outcome else None, agreed_site=c.agreed_site,
        note=c.note, closed_at=c.closed_at,
    )


def list_consultations(ctx: Ctx, actor: Actor, *, open_only: bool = False, limit: int = 200):
    require_reader(actor)
    q = select(Consultation)
    if open_only:
        q = q.where(Consultation.closed_at.is_(None))
    sees = sees_caller(ctx, actor)
    return [consultation_read(c, sees_pii=sees)
            for c in ctx.session.execute(q.order_by(Consultation.id.desc()).limit(limit)).scalars()]


def joint_read(ctx: Ctx, joint: JointCase) -> ls.JointCaseRead:
    from civiclink.linkage.actions import _part_done

    parts = ctx.session.execute(select(JointPart).where(JointPart.joint_case_id == joint.id).order_by(JointPart.id)
                                ).scalars().all()
    reads = []
    for p in parts:
        order = ctx.session.get(WorkOrder, p.order_id) if p.order_id else None
        reads.append(ls.JointPartRead(
            side=p.side, order_number=order.number if order else None, order_state=order.state if order else None,
            remote_number=p.remote_number, owner=p.owner, due_at=p.due_at, done=_part_done(p, order),
            done_at=p.done_at, result=p.result,
        ))
    return ls.JointCaseRead(
        number=joint.number, version=joint.version, case_ref=joint.case_ref, title=joint.title, state=joint.state,
        state_label=label("joint_state", joint.state), opened_at=joint.opened_at, due_at=joint.due_at,
        callback_at=joint.callback_at, satisfaction=joint.satisfaction, closed_at=joint.closed_at, parts=reads,
    )


def get_joint(ctx: Ctx, number: str, actor: Actor) -> JointCase:
    require_reader(actor)
    joint = ctx.session.execute(select(JointCase).where(JointCase.number == number)).scalar_one_or_none()
    if joint is None:
        raise NotFound(f"联合调处案件 {number} 不存在")
    return joint


def list_joint(ctx: Ctx, actor: Actor, *, state: str | None = None, limit: int = 200) -> list[ls.JointCaseRead]:
    require_reader(actor)
    q = select(JointCase)
    if state:
        q = q.where(JointCase.state == state)
    return [joint_read(ctx, j) for j in ctx.session.execute(q.order_by(JointCase.id.desc()).limit(limit)).scalars()]


def case_read(ctx: Ctx, case_ref: str, actor: Actor) -> ls.CaseRead:
    """One case as this site knows it: its transfer records, 三方通话, joint case, and every step on either
    side in time order (the peer's steps arrive as messages and are recorded with the peer's person and site)."""
    require_reader(actor)
    transfers = ctx.session.execute(select(Transfer).where(Transfer.case_ref == case_ref).order_by(Transfer.id)
                                    ).scalars().all()
    consultations = ctx.session.execute(
        select(Consultation).where(Consultation.case_ref == case_ref).order_by(Consultation.id)).scalars().all()
    joint = ctx.session.execute(select(JointCase).where(JointCase.case_ref == case_ref)).scalar_one_or_none()
    if not transfers and not consultations and joint is None:
        raise NotFound(f"本站没有案件 {case_ref} 的记录")
    order_ids = {t.order_id for t in transfers if t.order_id} | {c.order_id for c in consultations if c.order_id}
    incident_ids = {t.incident_id for t in transfers if t.incident_id} | {
        c.incident_id for c in consultations if c.incident_id}
    if joint is not None:
        order_ids |= {p.order_id for p in ctx.session.execute(
            select(JointPart).where(JointPart.joint_case_id == joint.id)).scalars() if p.order_id}
    conditions = []
    if order_ids:
        conditions.append(and_(AuditEvent.entity_type == "work_order", AuditEvent.entity_id.in_(order_ids)))
    if incident_ids:
        conditions.append(and_(AuditEvent.entity_type == "incident", AuditEvent.entity_id.in_(incident_ids)))
    if joint is not None:
        conditions.append(and_(AuditEvent.entity_type == "joint_case", AuditEvent.entity_id == joint.id))
    events = ctx.session.execute(select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.occurred_at,
                                                                                       AuditEvent.seq)).scalars()
    timeline = [timeline_entry(e, own_site=ctx.settings.site_code) for e in events]
    return ls.CaseRead(case_ref=case_ref, transfers=[transfer_read(ctx, t) for t in transfers],
                       consultations=[consultation_read(c, sees_pii=sees_caller(ctx, actor)) for c in consultations],
                       joint_case=joint_read(ctx, joint) if joint else None, timeline=timeline)


def timeline_entry(e: AuditEvent, *, own_site: str) -> dict:
    kind, _, verb = e.action.partition(".")
    vocabulary = {"order": "action", "incident": "incident_action"}.get(kind, "action")
    site = (e.data or {}).get("site") or own_site
    return {
        "seq": e.seq, "at": e.occurred_at.isoformat(), "site": site, "record": e.entity_ref,
        "action": e.action, "action_label": label(vocabulary, verb), "actor": e.actor_name,
        "actor_unit": e.actor_unit, "from_state": e.from_state, "to_state": e.to_state, "data": e.data,
    }
