"""Reads of the 工单 domain: visibility by role, personal-data masking, lists, the timeline, yellow/red lists."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, select, true

from civiclink.analytics.reply_quality import reply_check_read
from civiclink.audit.models import AuditEvent
from civiclink.context import Ctx
from civiclink.errors import Forbidden, NotFound
from civiclink.i18n import label
from civiclink.orgs.roles import Actor, Role
from civiclink.sla import clocks
from civiclink.sla.models import StageClock
from civiclink.workorders import schemas as s
from civiclink.workorders.actions import allowed_actions
from civiclink.workorders.models import Assignment, WorkOrder
from civiclink.workorders.states import READ_ALL_ROLES, TERMINAL, State

# -- personal data (R-507) -----------------------------------------------------------------------------------


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    if len(phone) >= 11:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    return "*" * max(1, len(phone) - 2) + phone[-2:]


# -- visibility ----------------------------------------------------------------------------------------------


def can_view(order: WorkOrder, actor: Actor, ctx: Ctx) -> bool:
    if actor.roles & READ_ALL_ROLES or actor.is_system:
        return True
    if Role.UNIT_STAFF in actor.roles and actor.unit_id is not None:
        if order.handling_unit_id == actor.unit_id:
            return True
        return ctx.session.execute(
            select(exists().where(Assignment.order_id == order.id, Assignment.unit_id == actor.unit_id))
        ).scalar_one()
    return False


def visibility_clause(actor: Actor):
    """SQL condition for the orders ``actor`` may see (None: all)."""
    if actor.roles & READ_ALL_ROLES or actor.is_system:
        return None
    if Role.UNIT_STAFF in actor.roles and actor.unit_id is not None:
        return or_(
            WorkOrder.handling_unit_id == actor.unit_id,
            exists().where(Assignment.order_id == WorkOrder.id, Assignment.unit_id == actor.unit_id),
        )
    return WorkOrder.id.is_(None)  # nobody else sees orders


def get_visible_order(ctx: Ctx, number: str, actor: Actor) -> WorkOrder:
    order = ctx.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one_or_none()
    if order is None:
        raise NotFound(f"工单 {number} 不存在")
    if not can_view(order, actor, ctx):
        raise Forbidden(f"您无权查看工单 {number}")
    return order


# -- shaping -------------------------------------------------------------------------------------------------


def _unit_ref(ctx: Ctx, unit_id: int | None) -> s.UnitRef | None:
    unit = ctx.directory.unit(unit_id)
    return s.UnitRef(code=unit.code, name=unit.name) if unit else None


def _clock_reads(ctx: Ctx, rows: list[StageClock]) -> list[s.ClockRead]:
    latest: dict[str, StageClock] = {}
    for c in sorted(rows, key=lambda c: (c.stage, c.round)):
        latest[c.stage] = c
    out = []
    for stage in clocks.STAGES:
        c = latest.get(stage)
        if c is None:
            continue
        st = clocks.status(c, now=ctx.now, calendar=ctx.calendar)
        out.append(
            s.ClockRead(
                stage=stage, round=st.round, color=st.color, color_label=label("color", st.color),
                used_share=st.used_share, due_at=st.due_at, limit=st.limit, provisional=st.provisional,
                breached=st.breached,
            )
        )
    return out


def _clocks_by_order(ctx: Ctx, order_ids: list[int]) -> dict[int, list[StageClock]]:
    out: dict[int, list[StageClock]] = defaultdict(list)
    if order_ids:
        for c in ctx.session.execute(select(StageClock).where(StageClock.order_id.in_(order_ids))).scalars():
            out[c.order_id].append(c)
    return out


def _summary_fields(ctx: Ctx, order: WorkOrder, clock_rows: list[StageClock]) -> dict:
    category = ctx.directory.category(order.category_id)
    return {
        "number": order.number,
        "version": order.version,
        "state": order.state,
        "state_label": label("state", order.state),
        "channel": order.channel,
        "request_type": order.request_type,
        "urgency": order.urgency,
        "title": order.title,
        "category": category.code if category else None,
        "category_name": category.path_name if category else None,
        "place": _unit_ref(ctx, order.place_id),
        "handling_unit": _unit_ref(ctx, order.handling_unit_id),
        "registered_at": order.registered_at,
        "closed_at": order.closed_at,
        "is_demo": order.is_demo,
        "clocks": _clock_reads(ctx, clock_rows),
    }


def order_read(ctx: Ctx, order: WorkOrder, actor: Actor) -> s.OrderRead:
    """The whole order as ``actor`` may see it: caller name and phone masked unless the role needs them."""
    known = ctx.clocks.get(id(order))
    clock_rows = list(known.values()) if known is not None else _clocks_by_order(ctx, [order.id])[order.id]
    sees_pii = actor.sees_pii(confidential=order.caller_confidential)
    merged_into = None
    if order.merged_into_id:
        merged_into = ctx.session.execute(
            select(WorkOrder.number).where(WorkOrder.id == order.merged_into_id)
        ).scalar_one_or_none()
    return s.OrderRead(
        **_summary_fields(ctx, order, clock_rows),
        content=order.content,
        address=order.address,
        caller_name=order.caller_name if sees_pii else mask_name(order.caller_name),
        caller_phone=order.caller_phone if sees_pii else mask_phone(order.caller_phone),
        caller_confidential=order.caller_confidential,
        pii_masked=not sees_pii,
        owner_unit=_unit_ref(ctx, order.owner_unit_id),
        suggested_unit=_unit_ref(ctx, order.suggested_unit_id),
        dispatch_round=order.dispatch_round,
        return_count=order.return_count,
        reopen_count=order.reopen_count,
        extension_count=order.extension_count,
        urge_count=order.urge_count,
        supervise_count=order.supervise_count,
        supervised=order.supervised,
        duplicate_count=order.duplicate_count,
        merged_into=merged_into,
        waiting_on_citizen=order.waiting_on_citizen,
        intake_answer=order.intake_answer,
        intake_knowledge_item=order.intake_knowledge_code,
        reply_content=order.reply_content,
        replied_at=order.replied_at,
        reply_check=reply_check_read(order, actor),
        satisfaction=order.satisfaction,
        close_reason=order.close_reason,
        links=_links(ctx, order),
        joint_case=_joint_number(ctx, order),
        allowed_actions=allowed_actions(ctx, order, actor),
    )


def _links(ctx: Ctx, order: WorkOrder) -> list[s.LinkSummary]:
    if not order.linked:
        return []
    from civiclink.linkage.models import Transfer

    rows = ctx.session.execute(select(Transfer).where(Transfer.order_id == order.id).order_by(Transfer.id)).scalars()
    return [s.LinkSummary(
        case_ref=t.case_ref, direction=t.direction, kind=t.kind, channel=t.channel, state=t.state,
        remote_number=t.remote_number, offered_at=t.offered_at, accepted_at=t.accepted_at, police_unit=t.police_unit,
        dispatched_at=t.dispatched_at, arrived_at=t.arrived_at, result_at=t.result_at, situation=t.situation,
        result_note=t.result_note, reject_reason=t.reject_reason,
    ) for t in rows]


def _joint_number(ctx: Ctx, order: WorkOrder) -> str | None:
    if order.joint_case_id is None:
        return None
    from civiclink.linkage.models import JointCase

    return ctx.session.execute(select(JointCase.number).where(JointCase.id == order.joint_case_id)).scalar_one()


@dataclass
class OrderFilter:
    state: list[State] | None = None
    open_only: bool = False
    unit: str | None = None
    place: str | None = None
    category: str | None = None
    q: str | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    demo: bool | None = None
    # "newest" (the API's default) or "due": the nearest running deadline first (a queue's order of work), orders
    # without a running clock last.
    sort: str = "newest"


def list_orders(ctx: Ctx, actor: Actor, flt: OrderFilter, *, offset: int = 0, limit: int = 50) -> s.OrderPage:
    conditions = []
    visible = visibility_clause(actor)
    if visible is not None:
        conditions.append(visible)
    if flt.state:
        conditions.append(WorkOrder.state.in_([str(x) for x in flt.state]))
    if flt.open_only:
        conditions.append(WorkOrder.state.notin_([str(x) for x in TERMINAL]))
    if flt.unit:
        unit = ctx.directory.unit_by_code(flt.unit)
        conditions.append(WorkOrder.handling_unit_id == (unit.id if unit else -1))
    if flt.place:
        place = ctx.directory.unit_by_code(flt.place)
        # The 属地 itself and everything under it (a 工单 placed at a street is the street's).
        conditions.append(WorkOrder.place_id.in_(ctx.directory.subtree_ids(place) if place else [-1]))
    if flt.category:
        cat = ctx.directory.category_by_code(flt.category)
        ids = [c.id for c in ctx.directory.categories.values() if cat and (c.id == cat.id or c.parent_id == cat.id)]
        conditions.append(WorkOrder.category_id.in_(ids or [-1]))
    if flt.q:
        pattern = f"%{flt.q}%"
        conditions.append(or_(WorkOrder.title.like(pattern), WorkOrder.number.like(pattern),
                              WorkOrder.content.like(pattern)))
    if flt.registered_from:
        conditions.append(WorkOrder.registered_at >= flt.registered_from)
    if flt.registered_to:
        conditions.append(WorkOrder.registered_at < flt.registered_to)
    if flt.demo is not None:
        conditions.append(WorkOrder.is_demo.is_(flt.demo))
    where = and_(true(), *conditions)
    total = ctx.session.execute(select(func.count()).select_from(WorkOrder).where(where)).scalar_one()
    if flt.sort == "due":
        due = (select(func.min(StageClock.due_at)).where(StageClock.order_id == WorkOrder.id,
                                                         StageClock.stopped_at.is_(None))
               .correlate(WorkOrder).scalar_subquery())
        order_by = (due.is_(None), due, WorkOrder.id)
    else:
        order_by = (WorkOrder.registered_at.desc(), WorkOrder.id.desc())
    rows = list(ctx.session.execute(select(WorkOrder).where(where).order_by(*order_by).offset(offset).limit(limit)
                                    ).scalars())
    by_order = _clocks_by_order(ctx, [o.id for o in rows])
    return s.OrderPage(
        total=total, items=[s.OrderSummary(**_summary_fields(ctx, o, by_order[o.id])) for o in rows]
    )


def timeline(ctx: Ctx, order: WorkOrder) -> list[s.TimelineEntry]:
    """Every audit event of this order, oldest first (全程可溯)."""
    conditions = [and_(AuditEvent.entity_type == "work_order", AuditEvent.entity_id == order.id)]
    if order.import_batch:
        conditions.append(and_(AuditEvent.entity_type == "import_batch", AuditEvent.entity_ref == order.import_batch))
    events = ctx.session.execute(select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.seq)).scalars()
    return [
        s.TimelineEntry(
            seq=e.seq,
            at=e.occurred_at,
            action=e.action,
            action_label=label("action", e.action.split(".", 1)[-1]) if e.action != "order.registered"
            else "登记",
            actor=e.actor_name,
            actor_role=e.actor_role,
            actor_role_label=label("role", e.actor_role) if e.actor_role else None,
            actor_unit=e.actor_unit,
            from_state=e.from_state,
            to_state=e.to_state,
            data=_timeline_data(e),
        )
        for e in events
    ]


def _timeline_data(event: AuditEvent) -> dict:
    if event.entity_type == "import_batch":
        return {"source": event.data.get("source"), "rows": event.data.get("rows")}
    return event.data


def warnings(ctx: Ctx, actor: Actor, *, color: str = "all", stage: str | None = None,
             unit: str | None = None, limit: int = 500) -> list[s.WarningRead]:
    """Orders whose running clock is yellow or red now (R-1009 红黄灯)."""
    conditions = [
        StageClock.stopped_at.is_(None),
        StageClock.paused_since.is_(None),
        StageClock.warn_at <= ctx.now,
        WorkOrder.state.notin_([str(x) for x in TERMINAL]),
    ]
    if color == "red":
        conditions.append(StageClock.due_at < ctx.now)
    elif color == "yellow":
        conditions.append(StageClock.due_at >= ctx.now)
    if stage:
        conditions.append(StageClock.stage == stage)
    visible = visibility_clause(actor)
    if visible is not None:
        conditions.append(visible)
    if unit:
        u = ctx.directory.unit_by_code(unit)
        conditions.append(WorkOrder.owner_unit_id == (u.id if u else -1))
    rows = ctx.session.execute(
        select(StageClock, WorkOrder).join(WorkOrder, WorkOrder.id == StageClock.order_id)
        .where(*conditions).order_by(StageClock.due_at).limit(limit)
    ).all()
    out = []
    for clock, order in rows:
        red = ctx.now > clock.due_at
        out.append(
            s.WarningRead(
                number=order.number, title=order.title, state=order.state, state_label=label("state", order.state),
                handling_unit=_unit_ref(ctx, order.owner_unit_id), stage=clock.stage,
                stage_label=label("stage", clock.stage), color="red" if red else "yellow", due_at=clock.due_at,
                overdue_hours=round((ctx.now - clock.due_at).total_seconds() / 3600, 1),
            )
        )
    return out
