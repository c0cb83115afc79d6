"""Every change of a 工单 goes through one ``do_*`` action here (design §3, the write rule).

An action runs inside the caller's transaction. It checks, in this order: the actor's role for the action
(403), the unit scope (403), the version the caller saw (409), the state (409) and the action's own guard
(409/422). Only then does it write: the order, its sub-records, its clocks, and one audit event, which is
sealed into the hash chain at commit. A refused action raises before writing anything.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import bindparam, event, insert, null, select, true, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import flag_modified

from civiclink.analytics.reply_quality import check_order_reply
from civiclink.audit.service import record_event
from civiclink.config import Limit
from civiclink.context import Ctx
from civiclink.errors import DomainError, Forbidden, Invalid, InvalidTransition, NotFound, StaleVersion
from civiclink.i18n import label, labels
from civiclink.orgs.roles import Actor, Role
from civiclink.sla import clocks
from civiclink.sla.models import StageClock
from civiclink.workorders import schemas as s
from civiclink.workorders.models import (
    SATISFIED_LEVELS,
    Assignment,
    Callback,
    Extension,
    NumberCounter,
    Reply,
    RequestType,
    Supervision,
    WorkOrder,
)
from civiclink.workorders.states import REGISTER_ROLES, RULES, TERMINAL, Action, State

GRASSROOTS_KINDS = frozenset({"street", "town", "community", "village"})
DISPATCH_TARGET_KINDS = frozenset({"department", "district", "county", "county_city", "zone", "street", "town"})

log = logging.getLogger("civiclink.workorders")


# -- loading and checking ------------------------------------------------------------------------------------


def load_order_for_update(ctx: Ctx, number: str) -> WorkOrder:
    """The order, row-locked for the rest of the transaction (PostgreSQL; SQLite holds the write lock)."""
    order = ctx.session.execute(
        select(WorkOrder).where(WorkOrder.number == number).with_for_update()
    ).scalar_one_or_none()
    if order is None:
        raise NotFound(f"工单 {number} 不存在")
    return order


def acting_role(action: Action, actor: Actor) -> Role | None:
    allowed = RULES[action].roles & actor.roles
    return sorted(allowed)[0] if allowed else None


def authorize(ctx: Ctx, order: WorkOrder, action: Action, actor: Actor, version: int | None) -> Role:
    """Raise unless ``actor`` may take ``action`` on ``order`` now. Changes nothing."""
    rule = RULES[action]
    role = acting_role(action, actor)
    if role is None:
        raise Forbidden(f"您的角色不能执行「{label('action', action)}」（需要：{labels('role', sorted(rule.roles))}）")
    if rule.unit_scoped and not actor.is_system and (
        order.handling_unit_id is None or actor.unit_id != order.handling_unit_id
    ):
        raise Forbidden(f"工单 {order.number} 不在您单位的办理范围内，不能{label('action', action)}")
    if version is not None and version != order.version:
        raise StaleVersion(
            f"工单 {order.number} 已被他人修改（您看到的是第 {version} 版，当前为第 {order.version} 版），请刷新后重试"
        )
    if order.state not in rule.sources:
        raise InvalidTransition(
            f"工单当前状态为「{label('state', order.state)}」，不能{label('action', action)}"
            f"（可{label('action', action)}的状态：{labels('state', sorted(rule.sources))}）"
        )
    for guard in _guards(action):
        problem = guard(ctx, order)
        if problem:
            raise InvalidTransition(problem)
    return role


@functools.cache
def _guards(action: Action) -> tuple[Callable[[Ctx, WorkOrder], str | None], ...]:
    """This module's guard of ``action`` and the linkage engine's (R-204, R-212, R-503)."""
    from civiclink.linkage import actions as linkage

    found = [g for g in (GUARDS.get(action), linkage.ORDER_GUARDS.get(action)) if g is not None]
    if action in linkage.CLOSING_GUARDS:
        found.append(linkage.guard_results_written_back)
    return tuple(found)


def allowed_actions(ctx: Ctx, order: WorkOrder, actor: Actor) -> list[Action]:
    """What ``actor`` may do to ``order`` right now (for the API and, later, the console's buttons)."""
    out = []
    for action in RULES:
        try:
            authorize(ctx, order, action, actor, None)
        except (Forbidden, InvalidTransition):
            continue
        out.append(action)
    return out


def _clocks(ctx: Ctx, order: WorkOrder) -> dict[str, StageClock]:
    """The latest clock of each stage (kept on the Ctx for the rest of the request, so that the response
    needs no second query)."""
    cached = ctx.clocks.get(id(order))
    if cached is not None:
        return cached
    if order.id is None:
        latest: dict[str, StageClock] = {}
    else:
        rows = ctx.session.execute(
            select(StageClock).where(StageClock.order_id == order.id).order_by(StageClock.stage, StageClock.round)
        ).scalars()
        latest = {c.stage: c for c in rows}
    ctx.clocks[id(order)] = latest
    return latest


def _running(clock: StageClock | None) -> bool:
    return clock is not None and clock.stopped_at is None


# -- guards: state-dependent conditions beyond the state table ---------------------------------------------


def _guard_close_at_intake(ctx: Ctx, order: WorkOrder) -> str | None:
    if order.request_type != RequestType.CONSULTATION:
        return f"只有咨询类诉求可以直接办结，本工单为「{label('request_type', order.request_type)}」"
    return None


def _guard_return(ctx: Ctx, order: WorkOrder) -> str | None:
    if order.state == State.DISPATCHED:
        return None
    assignment = _current_assignment(ctx, order)
    if assignment is None or assignment.signed_at is None:
        return None
    window = ctx.settings.sla.return_window
    deadline = _after(ctx, assignment.signed_at, window)
    if ctx.now > deadline:
        return f"签收后超过 {window.label} 不能再退单（R-612：退单须在时限内提出）"
    return None


def _guard_request_extension(ctx: Ctx, order: WorkOrder) -> str | None:
    handle = _clocks(ctx, order).get("handle")
    if handle is not None and handle.due_at is not None and ctx.now > handle.due_at:
        return "办理时限已到，不能再申请延期（R-609：须在期限届满前申请）"
    return None


def _guard_pause(ctx: Ctx, order: WorkOrder) -> str | None:
    return "计时已处于暂停状态" if order.waiting_on_citizen else None


def _guard_resume(ctx: Ctx, order: WorkOrder) -> str | None:
    return None if order.waiting_on_citizen else "计时没有暂停，无需恢复"


def _guard_close(ctx: Ctx, order: WorkOrder) -> str | None:
    if order.callback_count == 0 and order.caller_phone:
        return "尚未回访，不能办结（请先回访；回访满意将自动办结）"
    return None


def _guard_reopen(ctx: Ctx, order: WorkOrder) -> str | None:
    if order.satisfaction is None or order.satisfaction in SATISFIED_LEVELS:
        return "只有回访不满意的工单才能重办（R-611）"
    return None


GUARDS: dict[Action, Callable[[Ctx, WorkOrder], str | None]] = {
    Action.CLOSE_AT_INTAKE: _guard_close_at_intake,
    Action.RETURN: _guard_return,
    Action.REQUEST_EXTENSION: _guard_request_extension,
    Action.PAUSE: _guard_pause,
    Action.RESUME: _guard_resume,
    Action.CLOSE: _guard_close,
    Action.REOPEN: _guard_reopen,
}


# -- helpers that write --------------------------------------------------------------------------------------


def _after(ctx: Ctx, start, limit: Limit):
    if limit.unit == "wd":
        return ctx.calendar.add_working_seconds(ctx.calendar.next_midnight(start), limit.seconds)[0]
    return start + timedelta(seconds=limit.seconds)


def _record(ctx: Ctx, order: WorkOrder, action: str, *, actor: Actor, role, from_state, data=None) -> None:
    record_event(
        ctx.session,
        actor=actor,
        actor_role=str(role) if role else None,
        action=f"order.{action}",
        entity_type="work_order",
        entity=order,
        from_state=from_state,
        to_state=order.state,
        data=data or {},
        at=ctx.now,
    )


def _move(ctx: Ctx, order: WorkOrder, action: Action, to_state: State | str | None, *, actor, role, data=None):
    from_state = order.state
    if to_state is not None:
        order.state = str(to_state)
    order.updated_at = ctx.now
    flag_modified(order, "updated_at")  # every action bumps the version, even one that changes no column
    _record(ctx, order, action.value, actor=actor, role=role, from_state=from_state, data=data)
    if order.linked or order.joint_case_id is not None:
        # 反馈回写 and 联合调处: the linkage engine tells 110 and updates the joint case.
        from civiclink.linkage.actions import on_order_moved

        on_order_moved(ctx, order, action, data or {}, actor=actor)


def _start_clock(ctx: Ctx, order: WorkOrder, stage: str, existing: dict[str, StageClock]) -> StageClock:
    limit = ctx.settings.sla.stages[stage].for_order(request_type=order.request_type, urgency=order.urgency)
    previous = existing.get(stage)
    clock = clocks.start_clock(
        order=order,
        stage=stage,
        round=(previous.round + 1) if previous else 1,
        limit=limit,
        now=ctx.now,
        calendar=ctx.calendar,
        yellow_share=ctx.settings.sla.yellow_share,
    )
    ctx.session.add(clock)
    existing[stage] = clock
    return clock


def _clock_was(clock: StageClock | None) -> dict[str, list[datetime]]:
    """For the audit event's data of an action about to move a clock: the times it counted at (its stop, its
    deadline). The KPI roll-up rebuilds the days they fall on, which no longer count the clock
    (analytics/rollup.py). Empty when there is no such time."""
    times = [t for t in (clock.stopped_at, clock.due_at) if t is not None] if clock is not None else []
    return {"clock_was": times} if times else {}


def _stop_clock(ctx: Ctx, existing: dict[str, StageClock], stage: str, reason: str) -> None:
    clock = existing.get(stage)
    if _running(clock):
        clocks.stop(clock, now=ctx.now, reason=reason, calendar=ctx.calendar)


def _stop_all(ctx: Ctx, existing: dict[str, StageClock], reason: str) -> None:
    for stage in list(existing):
        _stop_clock(ctx, existing, stage, reason)


def _current_assignment(ctx: Ctx, order: WorkOrder) -> Assignment | None:
    if order.dispatch_round == 0:
        return None
    return ctx.session.execute(
        select(Assignment).where(Assignment.order_id == order.id, Assignment.round == order.dispatch_round)
    ).scalar_one_or_none()


def _hotline_center_id(ctx: Ctx) -> int | None:
    center = ctx.directory.hotline_center()
    return center.id if center else None


# -- numbers -------------------------------------------------------------------------------------------------
#
# Numbers such as NT20230129-000123: prefix, local date, a per-day sequence with no gaps between committed orders.
# The day's counter row is locked by the first registration of a transaction (one UPSERT, +1); the others in the
# same transaction (a batch of writes, see civiclink.batching) count on in memory, and the counter gets its final
# value once, before commit — one update of that hot row per transaction instead of one per registration.

_RESERVED = "civiclink.number_reservations"


def _counter_upsert(dialect_insert):
    table = NumberCounter.__table__
    return (
        dialect_insert(table)
        .values(key=bindparam("key"), value=1)
        .on_conflict_do_update(index_elements=[table.c.key], set_={"value": table.c.value + 1})
        .returning(table.c.value)
    )


_TAKE_NUMBER = {"sqlite": _counter_upsert(sqlite_insert), "postgresql": _counter_upsert(pg_insert)}
_SET_COUNTER = (
    update(NumberCounter.__table__)
    .where(NumberCounter.__table__.c.key == bindparam("k"))
    .values(value=bindparam("v"))
)


def take_number(ctx: Ctx) -> str:
    key = f"{ctx.settings.number_prefix}{ctx.calendar.local_date(ctx.now):%Y%m%d}"
    reserved = ctx.session.info.setdefault(_RESERVED, {})
    held = reserved.get(key)
    if held is None:
        connection = ctx.session.connection()
        value = connection.execute(_TAKE_NUMBER[connection.dialect.name], {"key": key}).scalar_one()
        # [value written to the row, last value handed out, the savepoint that took the row lock (the object
        # itself: an id() could be reused by a later savepoint)]
        reserved[key] = [value, value, ctx.session.get_nested_transaction()]
    else:
        held[1] += 1
        value = held[1]
    return f"{key}-{value:06d}"


def install_session_hooks(factory) -> None:
    """Keep the intake path's shortcuts right across commits and rollbacks.

    Reserved numbers are written back once before commit, and forgotten when the transaction — or the
    savepoint that took the counter's lock (PostgreSQL releases it with the savepoint) — is rolled back.
    Objects the intake path attached without the ORM's unit of work (see ``_persistent``) are forgotten with
    the savepoint or transaction that inserted their rows, as the ORM does for the objects it inserts itself.
    """

    @event.listens_for(factory, "before_commit")
    def _write_back(session) -> None:
        if session.in_nested_transaction():
            return
        session.info.pop(_ATTACHED, None)
        for key, (written, last, _savepoint) in session.info.pop(_RESERVED, {}).items():
            if last > written:
                session.connection().execute(_SET_COUNTER, {"k": key, "v": last})

    @event.listens_for(factory, "after_soft_rollback")
    def _forget(session, previous_transaction) -> None:
        root = previous_transaction.parent is None and not previous_transaction.nested
        if not (previous_transaction.nested or root):
            return
        reserved = session.info.get(_RESERVED) or {}
        for key in [k for k, held in reserved.items() if root or _inside(held[2], previous_transaction)]:
            del reserved[key]
        attached = session.info.get(_ATTACHED) or []
        keep = []
        for owner, obj in attached:
            if root or _inside(owner, previous_transaction):
                if obj in session:
                    session.expunge(obj)
            else:
                keep.append((owner, obj))
        session.info[_ATTACHED] = keep


def _inside(owner, rolled_back) -> bool:
    """Was ``owner`` (a savepoint, or None for the transaction itself) ``rolled_back`` or nested inside it?
    A savepoint released into its parent is undone when the parent is."""
    while owner is not None:
        if owner is rolled_back:
            return True
        owner = owner.parent
    return False


# -- registration --------------------------------------------------------------------------------------------

_NEW_ORDER_DEFAULTS = {c.name: None for c in WorkOrder.__table__.columns if c.name != "id"} | {
    "version": 1, "dispatch_round": 0, "return_count": 0, "reopen_count": 0, "extension_count": 0,
    "urge_count": 0, "supervise_count": 0, "supervised": False, "duplicate_count": 0,
    "waiting_on_citizen": False, "callback_count": 0, "linked": False,
}
_INSERT_ORDER = insert(WorkOrder.__table__).returning(WorkOrder.__table__.c.id)
_INSERT_CLOCK = insert(StageClock.__table__).returning(StageClock.__table__.c.id, sort_by_parameter_order=True)


def _new_clock(ctx: Ctx, request_type: str, urgency: str, stage: str) -> dict:
    limit = ctx.settings.sla.stages[stage].for_order(request_type=request_type, urgency=urgency)
    return clocks.new_clock_values(stage=stage, round=1, limit=limit, now=ctx.now, calendar=ctx.calendar,
                                   yellow_share=ctx.settings.sla.yellow_share)


def _insert_order(ctx: Ctx, values: dict, new_clocks: list[dict]) -> tuple[int, str, list[int]]:
    """Insert a new order and its clocks; returns the order's id and number and the clocks' ids.

    Intake is the hot path (every call of the day), so the rows go in as plain INSERTs rather than through
    the ORM's unit of work, which costs several times more per row. On PostgreSQL order and clocks are one
    statement (one round trip instead of two).
    """
    number = take_number(ctx)
    connection = ctx.session.connection()
    if connection.dialect.name == "postgresql":
        params = dict(values, number=number)
        for i, clock in enumerate(new_clocks):
            params.update({f"c{i}_{name}": value for name, value in clock.items()})
        rows = connection.execute(_pg_register_statement(len(new_clocks)), params).all()
        by_stage = {stage: clock_id for _, clock_id, stage in rows if clock_id is not None}
        return rows[0][0], number, [by_stage[c["stage"]] for c in new_clocks]
    order_id = connection.execute(_INSERT_ORDER, dict(values, number=number)).scalar_one()
    clock_ids = []
    if new_clocks:
        clock_ids = connection.execute(_INSERT_CLOCK, [dict(c, order_id=order_id) for c in new_clocks]).scalars().all()
    return order_id, number, list(clock_ids)


@functools.cache
def _pg_register_statement(clock_count: int):
    """WITH o AS (INSERT order RETURNING id), c AS (INSERT clocks RETURNING id) SELECT ids — one statement."""
    orders, clocks_table = WorkOrder.__table__, StageClock.__table__
    o = (
        insert(orders)
        .values({c.name: bindparam(c.name, type_=c.type) for c in orders.columns if c.name != "id"})
        .returning(orders.c.id).cte("o")
    )
    if not clock_count:
        return select(o.c.id, null(), null())
    clock_columns = [c for c in clocks_table.columns if c.name not in ("id", "order_id")]
    rows = [
        select(o.c.id, *[bindparam(f"c{i}_{c.name}", type_=c.type) for c in clock_columns]).select_from(o)
        for i in range(clock_count)
    ]
    c = (
        insert(clocks_table)
        .from_select(["order_id"] + [col.name for col in clock_columns], union_all(*rows) if len(rows) > 1 else rows[0])
        .returning(clocks_table.c.id, clocks_table.c.stage).cte("c")
    )
    return select(o.c.id, c.c.id, c.c.stage).select_from(o.join(c, true()))


_ATTACHED = "civiclink.attached_inserts"


def _persistent(ctx: Ctx, obj):
    """Attach an object whose row was just INSERTed as if it had been loaded (no second query)."""
    make_transient_to_detached(obj)
    ctx.session.add(obj)
    ctx.session.info.setdefault(_ATTACHED, []).append((ctx.session.get_nested_transaction(), obj))
    return obj



def do_register_order(ctx: Ctx, order_in: s.OrderCreate, *, actor: Actor, source: str = "api",
                      is_demo: bool = False) -> WorkOrder:
    """登记: a new 工单 with a number, an owner (the hotline centre until dispatch) and, once submitted,
    its 派单 and 办理 clocks (the 办理时限 counts from 受理)."""
    if not (actor.roles & REGISTER_ROLES):
        raise Forbidden(f"您的角色不能登记工单（需要：{labels('role', sorted(REGISTER_ROLES))}）")
    d = ctx.directory
    category = d.require_category(order_in.category) if order_in.category else None
    if order_in.place:
        place = d.require_unit(order_in.place, field="place")
        if not place.is_place():
            raise Invalid(f"「{place.name}」不是属地（区县、镇街、村社区），不能作为属地", field="place")
    else:
        place = d.resolve_place(order_in.address)
    if order_in.intake_answer and order_in.request_type != RequestType.CONSULTATION:
        raise Invalid("只有咨询类诉求可以直接办结", field="intake_answer")
    if order_in.knowledge_item and not order_in.intake_answer:
        raise Invalid("引用知识条目须同时填写直接办结的答复内容", field="knowledge_item")
    suggested = d.suggested_unit(category, place)
    role = sorted(actor.roles & REGISTER_ROLES)[0]
    submitted = order_in.submit or bool(order_in.intake_answer)
    values = dict(
        _NEW_ORDER_DEFAULTS,
        state=State.AWAITING_DISPATCH if submitted else State.REGISTERED,
        channel=order_in.channel,
        request_type=order_in.request_type,
        urgency=order_in.urgency,
        category_id=category.id if category else None,
        title=order_in.title,
        content=order_in.content,
        address=order_in.address,
        place_id=place.id if place else None,
        caller_name=order_in.caller.name,
        caller_phone=order_in.caller.phone,
        caller_confidential=order_in.caller.confidential,
        registered_at=ctx.now,
        registered_by_id=actor.user_id,
        owner_unit_id=_hotline_center_id(ctx),
        suggested_unit_id=suggested.id if suggested else None,
        source=source,
        is_demo=is_demo,
        updated_at=ctx.now,
    )
    stages = (["handle"] + ([] if order_in.intake_answer else ["dispatch"])) if submitted else []
    new_clocks = [_new_clock(ctx, order_in.request_type, order_in.urgency, stage) for stage in stages]
    values["id"], values["number"], clock_ids = _insert_order(ctx, values, new_clocks)
    order = _persistent(ctx, WorkOrder(**values))
    existing: dict[str, StageClock] = {}
    for row, clock_id in zip(new_clocks, clock_ids, strict=True):
        existing[row["stage"]] = _persistent(ctx, StageClock(**row, order_id=order.id, id=clock_id))
    ctx.clocks[id(order)] = existing
    _record(
        ctx, order, "registered", actor=actor, role=role, from_state=None,
        data={
            "channel": order.channel,
            "request_type": order.request_type,
            "urgency": order.urgency,
            "category": category.code if category else None,
            "place": place.code if place else None,
            "suggested_unit": suggested.code if suggested else None,
            # Never the caller's name or phone: only whether they were given.
            "caller_given": bool(order.caller_phone or order.caller_name),
            "confidential": order.caller_confidential,
        },
    )
    if order_in.intake_answer:
        _close_at_intake(ctx, order, order_in.intake_answer, existing, actor=actor, role=role,
                         knowledge_item=order_in.knowledge_item)
    if order_in.triage_id is not None:
        _link_triage(ctx, order_in.triage_id, order, actor=actor)
    return order


def _link_triage(ctx: Ctx, triage_id: int, order: WorkOrder, *, actor: Actor) -> None:
    """Record what the operator made of the suggestion. Bookkeeping only: a stale or foreign ``triage_id`` (a
    resubmitted form, one call with two matters) must not cost the caller their registration."""
    from civiclink.triage.actions import do_link_order

    try:
        with ctx.session.begin_nested():
            do_link_order(ctx, triage_id, order, actor=actor)
    except DomainError as exc:
        log.warning("triage suggestion %s not linked to %s: %s", triage_id, order.number, exc.code)


def _close_at_intake(ctx, order, answer, existing, *, actor, role, knowledge_item: str | None = None):
    data = {"answer": answer}
    if knowledge_item:
        from civiclink.knowledge.actions import note_item_used

        note_item_used(ctx, knowledge_item)  # the answer came from this item; it must be valid today
        order.intake_knowledge_code = knowledge_item
        data["knowledge_item"] = knowledge_item
    order.intake_answer = answer
    order.closed_at = ctx.now
    order.owner_unit_id = _hotline_center_id(ctx)
    _stop_all(ctx, existing, "closed_at_intake")
    _move(ctx, order, Action.CLOSE_AT_INTAKE, State.CLOSED_AT_INTAKE, actor=actor, role=role, data=data)


# -- transitions ---------------------------------------------------------------------------------------------


def do_submit_order(ctx: Ctx, order: WorkOrder, body: s.Versioned, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.SUBMIT, actor, body.version)
    existing = _clocks(ctx, order)
    _start_clock(ctx, order, "handle", existing)
    _start_clock(ctx, order, "dispatch", existing)
    _move(ctx, order, Action.SUBMIT, State.AWAITING_DISPATCH, actor=actor, role=role)
    return order


def do_close_at_intake(ctx: Ctx, order: WorkOrder, body: s.CloseAtIntakeIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.CLOSE_AT_INTAKE, actor, body.version)
    _close_at_intake(ctx, order, body.answer, _clocks(ctx, order), actor=actor, role=role,
                     knowledge_item=body.knowledge_item)
    return order


def do_dispatch_order(ctx: Ctx, order: WorkOrder, body: s.DispatchIn, *, actor: Actor) -> WorkOrder:
    """派单 to a handling unit; from a 退单 request this is 改派 and approves the return."""
    role = authorize(ctx, order, Action.DISPATCH, actor, body.version)
    unit = ctx.directory.require_unit(body.unit, field="unit")
    if unit.kind not in DISPATCH_TARGET_KINDS:
        raise Invalid(f"不能派单给「{unit.name}」（{label('unit_kind', unit.kind)}）", field="unit")
    category = ctx.directory.category(order.category_id)
    if category is not None and not category.local and category.owner_unit_id and unit.kind in GRASSROOTS_KINDS:
        owner = ctx.directory.unit(category.owner_unit_id)
        raise Invalid(
            f"「{category.path_name}」属于职能部门「{owner.name if owner else ''}」的职责，不得下派至基层「{unit.name}」（R-603）",
            field="unit",
        )
    existing = _clocks(ctx, order)
    redispatch = order.state == State.RETURN_REQUESTED
    previous_unit = None
    if redispatch:
        current = _current_assignment(ctx, order)
        if current is not None:
            current.return_decision, current.return_decided_at, current.ended_at = "redispatched", ctx.now, ctx.now
            previous_unit = current.unit_id
    _stop_clock(ctx, existing, "dispatch", "dispatched")
    if not _running(existing.get("handle")):
        _start_clock(ctx, order, "handle", existing)
    order.dispatch_round += 1
    ctx.session.add(
        Assignment(order_id=order.id, round=order.dispatch_round, unit_id=unit.id, dispatched_at=ctx.now,
                   dispatched_by_id=actor.user_id, note=body.note)
    )
    order.handling_unit_id = unit.id
    order.owner_unit_id = unit.id
    _start_clock(ctx, order, "sign", existing)
    data = {"unit": unit.code, "unit_name": unit.name, "round": order.dispatch_round, "note": body.note}
    if redispatch:
        data["redispatch_from"] = ctx.directory.unit(previous_unit).code if previous_unit else None
    _move(ctx, order, Action.DISPATCH, State.DISPATCHED, actor=actor, role=role, data=data)
    return order


def do_sign_order(ctx: Ctx, order: WorkOrder, body: s.NoteIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.SIGN, actor, body.version)
    existing = _clocks(ctx, order)
    _stop_clock(ctx, existing, "sign", "signed")
    assignment = _current_assignment(ctx, order)
    if assignment is not None:
        assignment.signed_at, assignment.signed_by_id = ctx.now, actor.user_id
    _move(ctx, order, Action.SIGN, State.SIGNED, actor=actor, role=role, data={"note": body.note})
    return order


def do_return_order(ctx: Ctx, order: WorkOrder, body: s.ReturnIn, *, actor: Actor) -> WorkOrder:
    """退单: the unit says the matter is not within its duties, with reason and legal basis (R-612)."""
    role = authorize(ctx, order, Action.RETURN, actor, body.version)
    existing = _clocks(ctx, order)
    if order.waiting_on_citizen:
        _resume(ctx, order, existing)  # the unit hands the matter back: it no longer waits on the citizen
    _stop_clock(ctx, existing, "sign", "returned")
    assignment = _current_assignment(ctx, order)
    if assignment is not None:
        assignment.return_requested_at = ctx.now
        assignment.return_reason, assignment.return_basis = body.reason, body.basis
    order.state_before = order.state
    order.return_count += 1
    order.owner_unit_id = _hotline_center_id(ctx)
    _move(ctx, order, Action.RETURN, State.RETURN_REQUESTED, actor=actor, role=role,
          data={"reason": body.reason, "basis": body.basis})
    return order


def do_approve_return(ctx: Ctx, order: WorkOrder, body: s.NoteIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.APPROVE_RETURN, actor, body.version)
    existing = _clocks(ctx, order)
    assignment = _current_assignment(ctx, order)
    if assignment is not None:
        assignment.return_decision, assignment.return_decided_at = "approved", ctx.now
        assignment.return_decision_note, assignment.ended_at = body.note, ctx.now
    order.handling_unit_id = None
    order.owner_unit_id = _hotline_center_id(ctx)
    order.state_before = None
    _start_clock(ctx, order, "dispatch", existing)
    _move(ctx, order, Action.APPROVE_RETURN, State.AWAITING_DISPATCH, actor=actor, role=role, data={"note": body.note})
    return order


def do_reject_return(ctx: Ctx, order: WorkOrder, body: s.ReasonIn, *, actor: Actor) -> WorkOrder:
    """退单驳回: the order goes back to the unit, in the state it was in."""
    role = authorize(ctx, order, Action.REJECT_RETURN, actor, body.version)
    existing = _clocks(ctx, order)
    assignment = _current_assignment(ctx, order)
    if assignment is not None:
        assignment.return_decision, assignment.return_decided_at = "rejected", ctx.now
        assignment.return_decision_note = body.reason
    back = order.state_before or State.DISPATCHED
    sign = existing.get("sign")
    was: dict = {}
    if back == State.DISPATCHED and sign is not None and sign.stopped_at is not None:
        # The time the dispute took does not count against the unit's 签收 clock.
        was = _clock_was(sign)
        clocks.restart(sign, now=ctx.now, calendar=ctx.calendar, yellow_share=ctx.settings.sla.yellow_share)
    order.state_before = None
    order.owner_unit_id = order.handling_unit_id
    _move(ctx, order, Action.REJECT_RETURN, back, actor=actor, role=role,
          data={"reason": body.reason} | was)
    return order


def do_record_progress(ctx: Ctx, order: WorkOrder, body: s.ProgressIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.PROGRESS, actor, body.version)
    _move(ctx, order, Action.PROGRESS, State.IN_PROGRESS, actor=actor, role=role, data={"note": body.note})
    return order


def do_request_extension(ctx: Ctx, order: WorkOrder, body: s.ExtensionIn, *, actor: Actor) -> WorkOrder:
    """延期申请 before the deadline, with the new limit, reason and legal basis (R-609)."""
    role = authorize(ctx, order, Action.REQUEST_EXTENSION, actor, body.version)
    extra = Limit.parse(body.extra)
    cap = ctx.settings.sla.max_extension
    if extra.seconds > cap.seconds:
        raise Invalid(f"延期不能超过 {cap.label}", field="extra")
    ctx.session.add(
        Extension(order_id=order.id, round=order.dispatch_round, requested_at=ctx.now, requested_by_id=actor.user_id,
                  extra=str(extra), reason=body.reason, basis=body.basis)
    )
    order.state_before = order.state
    _move(ctx, order, Action.REQUEST_EXTENSION, State.EXTENSION_REQUESTED, actor=actor, role=role,
          data={"extra": str(extra), "reason": body.reason, "basis": body.basis})
    return order


def _pending_extension(ctx: Ctx, order: WorkOrder) -> Extension | None:
    return ctx.session.execute(
        select(Extension).where(Extension.order_id == order.id, Extension.decision.is_(None))
        .order_by(Extension.id.desc()).limit(1)
    ).scalar_one_or_none()


def do_approve_extension(ctx: Ctx, order: WorkOrder, body: s.NoteIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.APPROVE_EXTENSION, actor, body.version)
    ext = _pending_extension(ctx, order)
    existing = _clocks(ctx, order)
    handle = existing.get("handle")
    extra = Limit.parse(ext.extra) if ext else None
    was = _clock_was(handle)
    if ext is not None:
        ext.decision, ext.decided_at, ext.decided_by_id, ext.decision_note = "approved", ctx.now, actor.user_id, body.note
    if handle is not None and extra is not None:
        clocks.extend(handle, limit=extra, calendar=ctx.calendar, yellow_share=ctx.settings.sla.yellow_share)
    order.extension_count += 1
    order.state_before = None
    _move(ctx, order, Action.APPROVE_EXTENSION, State.IN_PROGRESS, actor=actor, role=role,
          data={"extra": str(extra) if extra else None, "new_due_at": handle.due_at if handle else None,
                "note": body.note} | was)
    return order


def do_reject_extension(ctx: Ctx, order: WorkOrder, body: s.ReasonIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.REJECT_EXTENSION, actor, body.version)
    ext = _pending_extension(ctx, order)
    if ext is not None:
        ext.decision, ext.decided_at, ext.decided_by_id, ext.decision_note = "rejected", ctx.now, actor.user_id, body.reason
    order.state_before = None
    _move(ctx, order, Action.REJECT_EXTENSION, State.IN_PROGRESS, actor=actor, role=role, data={"reason": body.reason})
    return order


def do_pause_clock(ctx: Ctx, order: WorkOrder, body: s.PauseIn, *, actor: Actor) -> WorkOrder:
    """Waiting on the citizen (补充材料, 约定上门时间): the 办理 clock stops counting."""
    role = authorize(ctx, order, Action.PAUSE, actor, body.version)
    handle = _clocks(ctx, order).get("handle")
    was: dict = {}
    if _running(handle) and handle.paused_since is None:
        was = _clock_was(handle)  # a paused clock is late nowhere: not on its old deadline's day either
        clocks.pause(handle, now=ctx.now, reason=body.reason)
    order.waiting_on_citizen = True
    _move(ctx, order, Action.PAUSE, None, actor=actor, role=role,
          data={"reason": body.reason} | was)
    return order


def _resume(ctx: Ctx, order: WorkOrder, existing: dict[str, StageClock]) -> int:
    handle = existing.get("handle")
    added = 0
    if _running(handle) and handle.paused_since is not None:
        added = clocks.resume(handle, now=ctx.now, calendar=ctx.calendar, yellow_share=ctx.settings.sla.yellow_share)
    order.waiting_on_citizen = False
    return added


def do_resume_clock(ctx: Ctx, order: WorkOrder, body: s.NoteIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.RESUME, actor, body.version)
    existing = _clocks(ctx, order)
    added = _resume(ctx, order, existing)
    handle = existing.get("handle")
    _move(ctx, order, Action.RESUME, None, actor=actor, role=role,
          data={"paused_seconds": added, "new_due_at": handle.due_at if handle else None, "note": body.note})
    return order


def do_reply_order(ctx: Ctx, order: WorkOrder, body: s.ReplyIn, *, actor: Actor) -> WorkOrder:
    """答复: the unit's reply goes to the hotline for review; the 办理 clock stops."""
    role = authorize(ctx, order, Action.REPLY, actor, body.version)
    existing = _clocks(ctx, order)
    if order.waiting_on_citizen:
        _resume(ctx, order, existing)
    if order.state == State.EXTENSION_REQUESTED:
        ext = _pending_extension(ctx, order)
        if ext is not None:
            ext.decision, ext.decided_at = "withdrawn", ctx.now
    _stop_clock(ctx, existing, "handle", "replied")
    ctx.session.add(
        Reply(order_id=order.id, round=order.dispatch_round, unit_id=order.handling_unit_id, replied_at=ctx.now,
              replied_by_id=actor.user_id, content=body.content)
    )
    order.reply_content, order.replied_at = body.content, ctx.now
    order.state_before = None
    order.owner_unit_id = _hotline_center_id(ctx)
    data = {"content": body.content}
    # The reply-quality check (flags and score) is kept with the reply's event: a warning for the approver, never
    # a refusal (analytics/reply_quality.py).
    if (check := check_order_reply(order, body.content)) is not None:
        data["reply_check"] = check
    _move(ctx, order, Action.REPLY, State.REPLIED, actor=actor, role=role, data=data)
    return order


def _latest_reply(ctx: Ctx, order: WorkOrder) -> Reply | None:
    return ctx.session.execute(
        select(Reply).where(Reply.order_id == order.id).order_by(Reply.id.desc()).limit(1)
    ).scalar_one_or_none()


def do_approve_reply(ctx: Ctx, order: WorkOrder, body: s.NoteIn, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, Action.APPROVE_REPLY, actor, body.version)
    reply = _latest_reply(ctx, order)
    if reply is not None:
        reply.review, reply.reviewed_at, reply.reviewed_by_id, reply.review_note = "approved", ctx.now, actor.user_id, body.note
    existing = _clocks(ctx, order)
    _start_clock(ctx, order, "callback", existing)
    _move(ctx, order, Action.APPROVE_REPLY, State.AWAITING_CALLBACK, actor=actor, role=role, data={"note": body.note})
    return order


def do_reject_reply(ctx: Ctx, order: WorkOrder, body: s.ReasonIn, *, actor: Actor) -> WorkOrder:
    """The reply does not answer the request: back to the unit; its 办理 clock continues."""
    role = authorize(ctx, order, Action.REJECT_REPLY, actor, body.version)
    reply = _latest_reply(ctx, order)
    if reply is not None:
        reply.review, reply.reviewed_at, reply.reviewed_by_id, reply.review_note = "rejected", ctx.now, actor.user_id, body.reason
    existing = _clocks(ctx, order)
    handle = existing.get("handle")
    was: dict = {}
    if handle is not None and handle.stopped_at is not None:
        was = _clock_was(handle)
        clocks.restart(handle, now=ctx.now, calendar=ctx.calendar, yellow_share=ctx.settings.sla.yellow_share)
    order.owner_unit_id = order.handling_unit_id
    _move(ctx, order, Action.REJECT_REPLY, State.IN_PROGRESS, actor=actor, role=role,
          data={"reason": body.reason} | was)
    return order


def do_record_callback(ctx: Ctx, order: WorkOrder, body: s.CallbackIn, *, actor: Actor) -> WorkOrder:
    """回访 (R-611): a satisfied caller closes the order; an unsatisfied one leads to 重办 or a reasoned close."""
    role = authorize(ctx, order, Action.CALLBACK, actor, body.version)
    ctx.session.add(
        Callback(order_id=order.id, at=ctx.now, by_id=actor.user_id, method=body.method, reached=body.reached,
                 satisfaction=int(body.satisfaction) if body.satisfaction else None, resolved=body.resolved,
                 note=body.note)
    )
    order.callback_count += 1
    data = {
        "method": body.method,
        "reached": body.reached,
        "satisfaction": int(body.satisfaction) if body.satisfaction else None,
        "resolved": body.resolved,
        "note": body.note,
    }
    target = None
    if body.reached:
        order.satisfaction = int(body.satisfaction)
        if body.satisfaction in SATISFIED_LEVELS:
            existing = _clocks(ctx, order)
            _stop_all(ctx, existing, "closed")
            order.closed_at = ctx.now
            target = State.CLOSED
    _move(ctx, order, Action.CALLBACK, target, actor=actor, role=role, data=data)
    return order


def do_close_order(ctx: Ctx, order: WorkOrder, body: s.ReasonIn, *, actor: Actor) -> WorkOrder:
    """办结 after a callback that did not close it (unsatisfied for objective reasons, or unreachable)."""
    role = authorize(ctx, order, Action.CLOSE, actor, body.version)
    _stop_all(ctx, _clocks(ctx, order), "closed")
    order.closed_at, order.close_reason = ctx.now, body.reason
    _move(ctx, order, Action.CLOSE, State.CLOSED, actor=actor, role=role, data={"reason": body.reason})
    return order


def do_reopen_order(ctx: Ctx, order: WorkOrder, body: s.ReasonIn, *, actor: Actor) -> WorkOrder:
    """重办: back to the same unit after an unsatisfied callback, with fresh 签收 and 办理 clocks."""
    role = authorize(ctx, order, Action.REOPEN, actor, body.version)
    existing = _clocks(ctx, order)
    _stop_clock(ctx, existing, "callback", "reopened")
    order.reopen_count += 1
    order.dispatch_round += 1
    ctx.session.add(
        Assignment(order_id=order.id, round=order.dispatch_round, unit_id=order.handling_unit_id,
                   dispatched_at=ctx.now, dispatched_by_id=actor.user_id, note=f"重办：{body.reason}")
    )
    order.owner_unit_id = order.handling_unit_id
    order.satisfaction = None
    _start_clock(ctx, order, "sign", existing)
    _start_clock(ctx, order, "handle", existing)
    _move(ctx, order, Action.REOPEN, State.REOPENED, actor=actor, role=role,
          data={"reason": body.reason, "round": order.dispatch_round})
    return order


def do_merge_order(ctx: Ctx, order: WorkOrder, body: s.MergeIn, *, actor: Actor) -> WorkOrder:
    """并单: this order is a 重复件 of ``body.into`` (the 主单); it stops, and the 主单 counts it (R-603, R-1008)."""
    role = authorize(ctx, order, Action.MERGE, actor, body.version)
    if body.into == order.number:
        raise Invalid("不能把工单合并到它自己", field="into")
    target = load_order_for_update(ctx, body.into)
    if target.state in TERMINAL:
        raise InvalidTransition(f"主单 {target.number} 的状态为「{label('state', target.state)}」，不能再合并进去")
    _stop_all(ctx, _clocks(ctx, order), "merged")
    order.waiting_on_citizen = False
    order.merged_into_id = target.id
    target.duplicate_count += 1
    target.updated_at = ctx.now
    _move(ctx, order, Action.MERGE, State.MERGED, actor=actor, role=role, data={"into": target.number})
    _record(ctx, target, "duplicate_merged", actor=actor, role=role, from_state=target.state,
            data={"duplicate": order.number, "duplicate_count": target.duplicate_count})
    return order


def _supervision(ctx: Ctx, order: WorkOrder, body: s.SupervisionIn, action: Action, *, actor: Actor) -> WorkOrder:
    role = authorize(ctx, order, action, actor, body.version)
    kind = "urge" if action == Action.URGE else "supervise"
    ctx.session.add(
        Supervision(order_id=order.id, kind=kind, at=ctx.now, by_id=actor.user_id, unit_id=order.owner_unit_id,
                    note=body.note, automatic=actor.is_system)
    )
    if kind == "urge":
        order.urge_count += 1
    else:
        order.supervise_count += 1
        order.supervised = True
    owner = ctx.directory.unit(order.owner_unit_id)
    _move(ctx, order, action, None, actor=actor, role=role,
          data={"note": body.note, "unit": owner.code if owner else None})
    return order


def do_urge_order(ctx: Ctx, order: WorkOrder, body: s.SupervisionIn, *, actor: Actor) -> WorkOrder:
    """催办 (R-610)."""
    return _supervision(ctx, order, body, Action.URGE, actor=actor)


def do_supervise_order(ctx: Ctx, order: WorkOrder, body: s.SupervisionIn, *, actor: Actor) -> WorkOrder:
    """督办 (R-610): a formal supervision order; the order is marked 督办中."""
    return _supervision(ctx, order, body, Action.SUPERVISE, actor=actor)


ACTIONS: dict[Action, Callable] = {
    Action.SUBMIT: do_submit_order,
    Action.CLOSE_AT_INTAKE: do_close_at_intake,
    Action.DISPATCH: do_dispatch_order,
    Action.SIGN: do_sign_order,
    Action.RETURN: do_return_order,
    Action.APPROVE_RETURN: do_approve_return,
    Action.REJECT_RETURN: do_reject_return,
    Action.PROGRESS: do_record_progress,
    Action.REQUEST_EXTENSION: do_request_extension,
    Action.APPROVE_EXTENSION: do_approve_extension,
    Action.REJECT_EXTENSION: do_reject_extension,
    Action.PAUSE: do_pause_clock,
    Action.RESUME: do_resume_clock,
    Action.REPLY: do_reply_order,
    Action.APPROVE_REPLY: do_approve_reply,
    Action.REJECT_REPLY: do_reject_reply,
    Action.CALLBACK: do_record_callback,
    Action.CLOSE: do_close_order,
    Action.REOPEN: do_reopen_order,
    Action.MERGE: do_merge_order,
    Action.URGE: do_urge_order,
    Action.SUPERVISE: do_supervise_order,
}


def do_order_action(ctx: Ctx, number: str, action: Action, body, *, actor: Actor) -> WorkOrder:
    """Take ``action`` on order ``number`` (row-locked) with an already validated body."""
    order = load_order_for_update(ctx, number)
    return handler_for(action)(ctx, order, body, actor=actor)


def take_action(ctx: Ctx, order: WorkOrder, action: Action, fields: dict, *, actor: Actor) -> WorkOrder:
    """Take ``action`` with a body given as plain fields (the version defaults to the order's): for callers
    outside HTTP — the CLI, the demo builder, tests. A bad body raises pydantic's ValidationError."""
    model = s.ACTION_BODIES[action]
    if "version" in model.model_fields:
        fields = {"version": order.version, **fields}
    return handler_for(action)(ctx, order, model.model_validate(fields), actor=actor)


def handler_for(action: Action) -> Callable:
    """The ``do_*`` of ``action``: this module's, or the linkage engine's (转110, 签收/退回 a push from 110 …)."""
    handler = ACTIONS.get(action)
    if handler is None:
        from civiclink.linkage.actions import ORDER_ACTIONS

        handler = ORDER_ACTIONS[action]
    return handler

