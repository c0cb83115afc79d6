"""Helpers shared by tests: register an order, and walk it to a given state through the real actions."""

from __future__ import annotations

import uuid

from sqlalchemy import select

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
    result = a.take_action(ctx, order, action, body, actor=actor)
    ctx.session.flush()
    return result


def incident_act(ctx: Ctx, incident, action, actor, **body):
    """A 警单 action on the police site, as its API would take it."""
    from civiclink.incidents.actions import take_incident_action

    result = take_incident_action(ctx, incident, action, body, actor=actor)
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


POLICE_MATTER = {
    "number": "JJ20260101-000001",
    "title": "小区门口两户邻里因停车发生纠纷",
    "content": "民警到场后双方情绪平稳，系停车位归属纠纷，属物业管理和属地调解范围，转12345处理。",
    "address": "南通市崇川区和平桥街道人民中路18号",
    "place": None,
    "category": None,
    "request_type": "help",
    "urgency": "normal",
    "channel": "police_transfer",
    "registered_at": "2026-01-01T08:00:00+00:00",
    "caller": {"name": "李四", "phone": "13900001111", "confidential": False},
}


def push_from_110(ctx: Ctx, *, kind: str = "transfer", sender: str = "test-110", transfer_count: int = 1,
                  first_receiver: str | None = None, **matter) -> WorkOrder:
    """A push from the police site as the hotline receives it (through the real inbox and handler)."""
    from civiclink.exchange.service import apply_envelopes
    from civiclink.linkage.handlers import HOTLINE_HANDLERS
    from civiclink.linkage.models import Transfer

    number = matter.pop("number", f"JJ{uuid.uuid4().hex[:10]}")
    case_ref = f"{sender}:{number}"
    envelope = {
        "version": "1", "message_id": str(uuid.uuid4()), "case_ref": case_ref, "seq": 1, "type": "transfer.offer",
        "sender": sender, "receiver": ctx.settings.site_code, "sent_at": ctx.now.isoformat(),
        "body": {"actor": {"site": sender, "username": "jj", "name": "接警员", "unit": "gaj.110"},
                 "at": ctx.now.isoformat(), "kind": kind, "channel": "system_push", "reason_code": "other_scope",
                 "reason": "非警务求助（双非）", "consent": True, "transfer_count": transfer_count,
                 "first_receiver": first_receiver or sender, "emergency": False,
                 "matter": {**POLICE_MATTER, "number": number, **matter}},
        "signature": "not-checked-at-this-level",
    }
    acks = apply_envelopes(ctx, [envelope], HOTLINE_HANDLERS)
    assert acks[0].status == "applied", acks[0].detail
    transfer = ctx.session.execute(select(Transfer).where(Transfer.case_ref == case_ref)).scalars().one()
    ctx.session.flush()
    return ctx.session.get(WorkOrder, transfer.order_id)


def console_login(client, username: str, password: str | None = None):
    """Log ``client`` in to the console as ``username`` (forgetting any earlier login); returns the client."""
    from tests.conftest import PASSWORD

    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": password or PASSWORD, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client
