"""Console pages of 工单 (hotline site): the work queues of 派单员, 承办单位, 督办员 and 回访员, the order search,
and the order detail with its cross-site timeline and the forms of exactly the actions this user may take.

Every action form is built from the API's body model (``ACTION_BODIES``) and runs the same ``do_order_action``
with the same actor, so the console can do what the API allows and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import func, select

from civiclink.deps import CtxDep
from civiclink.errors import Forbidden, NotFound
from civiclink.i18n import LABELS, label
from civiclink.linkage import service as linkage_service
from civiclink.orgs.roles import Actor, Role
from civiclink.web import consult
from civiclink.web.console import PageActor, done_text, render
from civiclink.web.forms import fields_of, submit, unsent_form
from civiclink.web.messages import messages, t
from civiclink.workorders import actions, service
from civiclink.workorders.actions import DISPATCH_TARGET_KINDS
from civiclink.workorders.models import Assignment, WorkOrder
from civiclink.workorders.schemas import ACTION_BODIES
from civiclink.workorders.states import TERMINAL, Action, State

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 30
PageNumber = Annotated[int, Query(ge=0, le=100_000)]  # past the last page is an empty page, not an overflow

# The order in which an order's actions are offered: the usual next step first.
ACTION_ORDER = [
    Action.SUBMIT, Action.DISPATCH, Action.SIGN, Action.PROGRESS, Action.REPLY, Action.APPROVE_REPLY,
    Action.REJECT_REPLY, Action.CALLBACK, Action.CLOSE, Action.REOPEN, Action.APPROVE_RETURN, Action.REJECT_RETURN,
    Action.RETURN, Action.REQUEST_EXTENSION, Action.APPROVE_EXTENSION, Action.REJECT_EXTENSION, Action.PAUSE,
    Action.RESUME, Action.URGE, Action.SUPERVISE, Action.CLOSE_AT_INTAKE, Action.MERGE, Action.TRANSFER_TO_110,
    Action.REPORT_TO_110, Action.ESCALATE_TO_110, Action.ACCEPT_TRANSFER, Action.REJECT_TRANSFER,
]
ACTION_ORDER += [a for a in Action if a not in ACTION_ORDER]
# Actions that end, refuse or hand over the order: shown apart, in red, so that a slip of the hand is unlikely.
WEIGHTY = {Action.RETURN, Action.REJECT_RETURN, Action.REJECT_REPLY, Action.REOPEN, Action.TRANSFER_TO_110,
           Action.REJECT_TRANSFER, Action.CLOSE, Action.MERGE, Action.ESCALATE_TO_110, Action.REPORT_TO_110}


@dataclass(frozen=True)
class Queue:
    key: str
    roles: frozenset[Role]
    states: tuple[State, ...] = ()
    own_unit: bool = False
    primary: Action | None = None  # the action offered on each row


QUEUES = {
    "dispatch": Queue("dispatch", frozenset({Role.DISPATCHER}),
                      (State.AWAITING_DISPATCH, State.RETURN_REQUESTED, State.REGISTERED), primary=Action.DISPATCH),
    "unit": Queue("unit", frozenset({Role.UNIT_STAFF}), own_unit=True, primary=Action.SIGN),
    "callback": Queue("callback", frozenset({Role.CALLBACK_AGENT}), (State.AWAITING_CALLBACK,)),
}


def unit_options(ctx) -> list[tuple[str, str]]:
    """Units an order may be dispatched to, 职能部门 first, then the 属地 governments and their streets/towns."""
    rank = {"department": 0, "district": 1, "county": 1, "county_city": 1, "zone": 1, "street": 2, "town": 2}
    units = [u for u in ctx.directory.units.values() if u.active and u.kind in DISPATCH_TARGET_KINDS]
    units.sort(key=lambda u: (rank.get(u.kind, 9), u.code))
    return [(u.code, f"{u.label}（{label('unit_kind', u.kind)}）") for u in units]


def action_form(ctx, order_read, action: Action, *, values: dict | None = None, errors: dict | None = None) -> dict:
    body = ACTION_BODIES[action]
    values = dict(values or {})
    values["version"] = order_read.version
    options = {}
    if action is Action.DISPATCH:
        options["unit"] = unit_options(ctx)
        suggested = order_read.suggested_unit or order_read.handling_unit
        if suggested and "unit" not in values:
            values["unit"] = suggested.code
    fields = fields_of(body, values=values, errors=errors, options=options, hidden={"version"})
    return {"action": action.value, "label": label("action", action), "fields": fields,
            "weighty": action in WEIGHTY, "error": (errors or {}).get(""), "open": bool(errors),
            "help": t(f"action_help.{action.value}") if f"action_help.{action.value}" in messages() else ""}


# ------------------------------------------------------------------------------------------------ queues


def _queue_page(ctx, actor: Actor, queue: Queue, page: int, q: str | None) -> dict:
    flt = service.OrderFilter(state=list(queue.states) or None, open_only=not queue.states, q=q or None,
                              unit=actor.unit_code if queue.own_unit else None, sort="due")
    result = service.list_orders(ctx, actor, flt, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    numbers = [o.number for o in result.items]
    orm = {o.number: o for o in ctx.session.execute(select(WorkOrder).where(WorkOrder.number.in_(numbers))).scalars()}
    rows = []
    for item in result.items:
        order = orm[item.number]
        allowed = actions.allowed_actions(ctx, order, actor)
        primary = queue.primary if queue.primary in allowed else None
        if order.state == State.RETURN_REQUESTED:
            # A return is decided on the order page, with the unit's reason and basis in view: a one-click
            # dispatch from the row would send it back to the unit that returned it.
            primary = None
        if queue.key == "dispatch" and primary is None and Action.SUBMIT in allowed:
            primary = Action.SUBMIT
        suggested = ctx.directory.unit(order.suggested_unit_id) if order.suggested_unit_id and primary else None
        rows.append({"order": item, "primary": primary, "suggested": suggested,
                     "primary_label": label("action", primary) if primary else None})
    return {"total": result.total, "rows": rows, "page": page, "pages": max(1, -(-result.total // PAGE_SIZE))}


@router.get("/queue/{key}")
async def queue_page(key: str, request: Request, ctx: CtxDep, actor: PageActor, page: PageNumber = 0,
                     q: str | None = None, done: str | None = None) -> Response:
    if key == "supervise":
        return await supervise_page(request, ctx, actor, done=done)
    queue = QUEUES.get(key)
    if queue is None:
        raise NotFound("没有这个工作队列")
    if not actor.roles & queue.roles or (queue.own_unit and actor.unit_id is None):
        return forbidden(request, actor)
    data = await run_in_threadpool(_queue_page, ctx, actor, queue, max(0, page), q)
    units = await run_in_threadpool(unit_options, ctx) if queue.primary is Action.DISPATCH else []
    return render(request, "queue.html", actor=actor, queue=queue, title=t(f"queue.{key}.title"), units=units,
                  q=q or "", done=done_text(done), **data)


def _supervise_data(ctx, actor: Actor) -> dict:
    warnings = service.warnings(ctx, actor, limit=200)
    pending = service.list_orders(ctx, actor, service.OrderFilter(
        state=[State.EXTENSION_REQUESTED, State.REPLIED, State.RETURN_REQUESTED], sort="due"), limit=100)
    # 承办单位排名: each unit's open orders, red clocks now, and the returns it asked for in the last 30 days
    # (a later analytics issue adds the full scorecard).
    open_by_unit = dict(ctx.session.execute(
        select(WorkOrder.owner_unit_id, func.count())
        .where(WorkOrder.state.notin_([str(x) for x in TERMINAL]), WorkOrder.owner_unit_id.is_not(None))
        .group_by(WorkOrder.owner_unit_id)).all())
    returns_by_unit = dict(ctx.session.execute(
        select(Assignment.unit_id, func.count())
        .where(Assignment.return_requested_at >= ctx.now - timedelta(days=30)).group_by(Assignment.unit_id)).all())
    red = {}
    for w in warnings:
        if w.color == "red" and w.handling_unit:
            red[w.handling_unit.code] = red.get(w.handling_unit.code, 0) + 1
    units = []
    for unit_id in set(open_by_unit) | set(returns_by_unit):
        unit = ctx.directory.unit(unit_id)
        if unit is None:
            continue
        units.append({"unit": unit, "open": open_by_unit.get(unit_id, 0), "returns": returns_by_unit.get(unit_id, 0),
                      "red": red.get(unit.code, 0)})
    units.sort(key=lambda u: (-u["red"], -u["returns"], -u["open"]))
    return {"warnings": warnings, "pending": pending.items, "ranking": units[:20]}


async def supervise_page(request: Request, ctx, actor: Actor, *, done: str | None) -> Response:
    if not actor.has(Role.SUPERVISOR):
        return forbidden(request, actor)
    data = await run_in_threadpool(_supervise_data, ctx, actor)
    return render(request, "supervise.html", actor=actor, title=t("queue.supervise.title"), done=done_text(done),
                  **data)


# ------------------------------------------------------------------------------------------- search page


@router.get("/orders")
async def orders_page(request: Request, ctx: CtxDep, actor: PageActor, q: str | None = None,
                      state: str | None = None, page: PageNumber = 0) -> Response:
    states = [State(state)] if state in {s.value for s in State} else None

    def load():
        flt = service.OrderFilter(state=states, q=(q or "").strip()[:100] or None)
        return service.list_orders(ctx, actor, flt, offset=max(0, page) * PAGE_SIZE, limit=PAGE_SIZE)

    result = await run_in_threadpool(load)
    query = {k: v for k, v in {"q": q, "state": state}.items() if v}
    return render(request, "orders.html", actor=actor, result=result, q=q or "", state=state or "",
                  states=[(s.value, label("state", s)) for s in State], page=max(0, page),
                  pages=max(1, -(-result.total // PAGE_SIZE)), query=urlencode(query))


# ------------------------------------------------------------------------------------------- order detail


def _detail(ctx, number: str, actor: Actor) -> dict:
    order = service.get_visible_order(ctx, number, actor)
    read = service.order_read(ctx, order, actor)
    own = ctx.settings.site_code
    # A step the other site took is recorded here as it arrived, with that site's code in its data.
    entries = [{"at": e.at, "site": (e.data or {}).get("site") or own, "here": (e.data or {}).get("site", own) == own,
                "action": e.action_label, "actor": e.actor, "role": e.actor_role_label, "unit": e.actor_unit,
                "state": label("state", e.to_state) if e.to_state else "", "data": _visible_data(e.data)}
               for e in service.timeline(ctx, order)]
    seen = {(e["at"], e["action"]) for e in entries}
    # The other site's steps on the linked 警单 (签收, 派警, 到场, 处置结果), as this site received them.
    for link in read.links:
        try:
            case = linkage_service.case_read(ctx, link.case_ref, actor)
        except (Forbidden, NotFound):
            continue
        for e in case.timeline:
            if e["site"] == ctx.settings.site_code or e["record"] == order.number:
                continue
            from datetime import datetime

            at = datetime.fromisoformat(e["at"])
            if (at, e["action_label"]) in seen:
                continue
            seen.add((at, e["action_label"]))
            entries.append({"at": at, "site": e["site"], "here": False, "action": e["action_label"],
                            "actor": e["actor"], "role": None, "unit": e["actor_unit"],
                            "state": label("incident_state", e["to_state"]) if e["to_state"] else "",
                            "data": _visible_data(e["data"] or {})})
    entries.sort(key=lambda e: e["at"])
    consultations = consult.consultations_of(ctx, actor, order_id=order.id)
    return {"order": read, "timeline": entries, "consultations": consultations}


# Keys of an event's data worth showing in the timeline (the rest is bookkeeping), in this order.
TIMELINE_KEYS = ("unit_name", "reason", "basis", "note", "content", "extra", "satisfaction", "situation",
                 "result_note", "channel", "remote_number", "case_ref")


def _visible_data(data: dict) -> list[tuple[str, str]]:
    out = []
    for key in TIMELINE_KEYS:
        value = data.get(key)
        if value not in (None, "", [], {}):
            if key == "satisfaction":
                value = label("satisfaction", value)
            elif key == "channel":
                value = LABELS["channel"].get(value) or label("transfer_channel", value)
            out.append((t(f"timeline.{key}"), str(value)))
    return out


def _forms(ctx, detail: dict, actor: Actor, *, failed: str | None = None, values: dict | None = None,
           errors: dict | None = None) -> list[dict]:
    allowed = set(detail["order"].allowed_actions)
    forms = []
    for action in ACTION_ORDER:
        if action not in allowed or action not in ACTION_BODIES:
            continue
        mine = action.value == failed
        forms.append(action_form(ctx, detail["order"], action, values=values if mine else None,
                                 errors=errors if mine else None))
    if failed and failed not in {a.value for a in allowed} and values:
        chosen = Action(failed)
        forms.insert(0, unsent_form(ACTION_BODIES[chosen], failed, label("action", chosen), values,
                                    (errors or {}).get("")))
    return forms


async def _render_detail(request: Request, ctx, actor: Actor, number: str, *, status_code: int = 200,
                         failed: str | None = None, values: dict | None = None, errors: dict | None = None,
                         message: str | None = None, done: str | None = None) -> Response:
    def load():
        detail = _detail(ctx, number, actor)
        detail["forms"] = _forms(ctx, detail, actor, failed=failed, values=values, errors=errors)
        return detail

    detail = await run_in_threadpool(load)
    can_consult = consult.may_start(ctx, actor, state=detail["order"].state, consultations=detail["consultations"],
                                    closed_states={s.value for s in TERMINAL} | {State.TRANSFERRED_TO_110.value})
    return render(request, "order.html", actor=actor, status_code=status_code, message=message,
                  done=done_text(done), can_consult=can_consult, may_conclude=consult.can_consult(ctx, actor),
                  conclude_fields=consult.conclude_fields, **detail)


@router.get("/orders/{number}")
async def order_page(number: str, request: Request, ctx: CtxDep, actor: PageActor,
                     done: str | None = None) -> Response:
    try:
        return await _render_detail(request, ctx, actor, number, done=done)
    except (Forbidden, NotFound) as exc:
        return render(request, "error.html", actor=actor, status_code=exc.status_code, message=exc.message)


@router.post("/orders/{number}/act/{action}")
async def order_action(number: str, action: str, request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    """One action from the order page or a queue row. On an error the page comes back with the message next to
    the field and everything typed still in the form (nothing is lost)."""
    try:
        chosen = Action(action)
    except ValueError:
        return render(request, "error.html", actor=actor, status_code=404, message=t("order.no_such_action"))
    back = str((await request.form()).get("next", ""))
    target = f"{back}{'&' if '?' in back else '?'}done={chosen.value}" if back.startswith("/queue/") else \
        f"/orders/{number}?done={chosen.value}"

    async def rerender(**shown):
        return await _render_detail(request, ctx, actor, number, failed=chosen.value, **shown)

    return await submit(request, ctx, ACTION_BODIES[chosen],
                        lambda wctx, body: actions.do_order_action(wctx, number, chosen, body, actor=actor),
                        rerender=rerender, redirect_to=target)


consult.add_routes(router, "/orders", lambda request, ctx, actor, number, **shown: _render_detail(
    request, ctx, actor, number, **shown))


def forbidden(request: Request, actor: Actor) -> Response:
    return render(request, "error.html", actor=actor, status_code=403, message=t("error.forbidden_page"))
