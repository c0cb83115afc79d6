"""Writes of triage: keep a suggestion, and the operator's decision on it (design §7: overrides are kept
and used by the next ``civiclink model train``). Each with its audit event, in the caller's transaction."""

from __future__ import annotations

import hashlib

from civiclink.audit.service import record_event
from civiclink.context import Ctx
from civiclink.errors import Conflict, Forbidden, Invalid, NotFound
from civiclink.orgs.roles import Actor
from civiclink.triage.models import TriageRecord
from civiclink.triage.text import normalize

# What the operator decides on; the rest of a suggestion (cues, duplicates, knowledge) is advice.
DECIDED = ("route", "urgency", "request_type", "category", "department", "place")


def suggestion_summary(result: dict) -> dict:
    return {
        "route": result["route"], "urgency": result["urgency"], "request_type": result["request_type"],
        "category": (result["category"] or {}).get("code"), "department": (result["department"] or {}).get("code"),
        "place": (result["place"] or {}).get("code"),
    }


def do_record_suggestion(ctx: Ctx, text: str, result: dict, *, actor: Actor) -> TriageRecord:
    record = TriageRecord(
        created_at=ctx.now, created_by_id=actor.user_id,
        # A fingerprint only: the text belongs to the order it becomes, not to this table.
        text_digest=hashlib.sha256(normalize(text).encode()).hexdigest(),
        model_version=result["model"], suggestion=suggestion_summary(result), overridden=[],
        used_in_training=False,
    )
    ctx.session.add(record)
    ctx.session.flush()
    return record


def _own_record(ctx: Ctx, record_id: int, actor: Actor) -> TriageRecord:
    record = ctx.session.get(TriageRecord, record_id, with_for_update=True)
    if record is None:
        raise NotFound(f"分诊建议 {record_id} 不存在", field="triage_id")
    if record.created_by_id is not None and actor.user_id is not None and record.created_by_id != actor.user_id:
        raise Forbidden("只能确认自己收到的分诊建议")
    if record.decision is not None:
        raise Conflict("这条分诊建议已经确认过了")
    return record


def _decide(ctx: Ctx, record: TriageRecord, decision: dict, *, actor: Actor, entity_ref: str | None) -> None:
    record.decision = decision
    record.overridden = [k for k in DECIDED if k in decision and decision[k] != record.suggestion.get(k)]
    record.decided_at = ctx.now
    record.decided_by_id = actor.user_id
    record_event(
        ctx.session, actor=actor, action="triage.overridden" if record.overridden else "triage.confirmed",
        entity_type="triage_record", entity=record, entity_ref=entity_ref,
        data={"overridden": {k: [record.suggestion.get(k), decision[k]] for k in record.overridden},
              "model": record.model_version},
        at=ctx.now,
    )


def do_link_order(ctx: Ctx, record_id: int, order, *, actor: Actor) -> TriageRecord:
    """The suggestion became this 工单: what the operator registered is the decision (route 12345)."""
    record = _own_record(ctx, record_id, actor)
    d = ctx.directory
    category = d.category(order.category_id)
    place = d.unit(order.place_id)
    department = d.unit(order.suggested_unit_id)
    record.order_id = order.id
    _decide(ctx, record, {
        "route": "12345", "urgency": str(order.urgency), "request_type": str(order.request_type),
        "category": category.code if category else None, "department": department.code if department else None,
        "place": place.code if place else None,
    }, actor=actor, entity_ref=order.number)
    return record


def do_record_route(ctx: Ctx, record_id: int, route: str, note: str | None, *, actor: Actor,
                    order=None) -> TriageRecord:
    """The operator routed the request another way than a plain 12345 工单 (转110, 联动, 告知其他渠道,
    三方通话); ``order`` is the 工单 the transfer was made from, if any (its text is the training example)."""
    record = _own_record(ctx, record_id, actor)
    if order is not None:
        # The order the operator transferred is one they registered; any other would teach the model a text
        # that was never this suggestion's.
        if order.registered_by_id != actor.user_id or actor.user_id is None:
            raise Forbidden(f"工单 {order.number} 不是您登记的，不能作为这条建议的转办工单", field="order")
        record.order_id = order.id
    if route == "12345":
        raise Invalid("12345 受理的诉求请直接登记工单（登记时提交 triage_id）", field="route")
    decision = {"route": route}
    if note:
        decision["note"] = note
    _decide(ctx, record, decision, actor=actor, entity_ref=order.number if order is not None else None)
    return record
