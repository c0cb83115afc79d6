"""Helpers shared by tests: register an order, and walk it to a given state through the real actions."""

from __future__ import annotations

from civiclink.context import Ctx
from civiclink.workorders import actions as a
from civiclink.workorders import schemas as s
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action

ORDER = {
    "channel": "phone",
    "caller": {"name": "张三", "phone": "13812345678"},
    "title": "人民中路路灯不亮",
    "content": "崇川区和平桥街道人民中路一段路灯坏了一周，晚上很黑，请尽快修。",
    "request_type": "complaint",
    "category": "cxjs.szgl",
    "address": "南通市崇川区和平桥街道人民中路18号",
    "urgency": "normal",
}


def order_in(**overrides) -> s.OrderCreate:
    data = {**ORDER, **overrides}
    return s.OrderCreate.model_validate(data)


def register(ctx: Ctx, actors, **overrides) -> WorkOrder:
    order = a.do_register_order(ctx, order_in(**overrides), actor=actors["operator"])
    ctx.session.flush()
    return order


def act(ctx: Ctx, order: WorkOrder, action: Action, actor, **body) -> WorkOrder:
    model = s.ACTION_BODIES[action]
    if "version" in model.model_fields and "version" not in body:
        body["version"] = order.version
    result = a.ACTIONS[action](ctx, order, model.model_validate(body), actor=actor)
    ctx.session.flush()
    return result


def to_signed(ctx, actors, **overrides) -> WorkOrder:
    order = register(ctx, actors, **overrides)
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    act(ctx, order, Action.SIGN, actors["staff_csgl"])
    return order


def to_awaiting_callback(ctx, actors, **overrides) -> WorkOrder:
    order = to_signed(ctx, actors, **overrides)
    act(ctx, order, Action.REPLY, actors["staff_csgl"], content="已更换线路，路灯恢复。")
    act(ctx, order, Action.APPROVE_REPLY, actors["dispatcher"])
    return order
