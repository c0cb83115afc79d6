"""The JSON Schemas of docs/exchange/schemas/ against the traffic the two real sites actually send.

Every linkage flow of design §5 is driven across two real sites (tests/linkage/conftest.py); then every envelope
either site wrote to its outbox is validated — the envelope against ``envelope.schema.json``, its body against
``<type>.schema.json`` — with ``jsonschema_rs`` (draft 2020-12, formats checked). Every type of
``MESSAGE_TYPES`` must have been sent at least once. If the code starts sending a field the schema does not
know, or stops sending one it requires, this test fails: the documentation stays what the code does.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jsonschema_rs
import pytest
from sqlalchemy import select
from tests.helpers import act, incident_act, register, to_signed

from civiclink.exchange import envelope as env
from civiclink.exchange.models import InboxMessage, OutboxMessage
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.incidents.models import Incident
from civiclink.linkage import actions as la
from civiclink.linkage.models import JointCase, Transfer
from civiclink.linkage.schemas import ConsultationConclude, ConsultationOpen, JointCallbackIn
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "exchange" / "schemas"
DOC = ROOT / "docs" / "exchange.md"

PEOPLE = [{"side": "citizen", "name": "来电人"}, {"side": "hotline", "name": "12345话务员"},
          {"side": "police", "name": "110接警员"}]


def load(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validator(name: str):
    return jsonschema_rs.Draft202012Validator(load(name), validate_formats=True)


def errors(validator_, instance) -> list[str]:
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator_.iter_errors(instance)]


def undocumented(schema: dict, instance, path: str = "", root: dict | None = None) -> list[str]:
    """Keys the code sends that the schema does not describe. The bodies allow extra keys (every receiver
    ignores what it does not know), so validation alone would not notice a new field: this does."""
    root = root or schema
    if "$ref" in schema:
        schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    out = []
    if isinstance(instance, dict) and "properties" in schema:
        for key, value in instance.items():
            if key not in schema["properties"]:
                out.append(f"{path}/{key}")
            else:
                out += undocumented(schema["properties"][key], value, f"{path}/{key}", root)
    elif isinstance(instance, list) and "items" in schema:
        for i, item in enumerate(instance):
            out += undocumented(schema["items"], item, f"{path}/{i}", root)
    return out


@pytest.fixture(scope="module")
def validators() -> dict:
    return {name: validator(name) for name in ("envelope", *env.MESSAGE_TYPES)}


# -- the schema files themselves ---------------------------------------------------------------------------


def test_there_is_one_valid_draft_2020_12_schema_per_message_type_and_the_envelope_lists_them_all():
    files = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.schema.json")}
    assert files == {"envelope", *env.MESSAGE_TYPES}
    for name in files:
        schema = load(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert jsonschema_rs.meta.is_valid(schema), name
        assert schema.get("description"), name
    envelope = load("envelope")
    assert envelope["properties"]["type"]["enum"] == list(env.MESSAGE_TYPES)
    assert envelope["properties"]["version"]["const"] == env.PROTOCOL_VERSION
    assert set(envelope["required"]) == {*env.FIELDS, "signature"}
    assert envelope["additionalProperties"] is False  # check_shape refuses unknown envelope fields


def test_the_worked_signature_example_in_the_protocol_document_is_what_the_code_computes():
    """docs/exchange.md §3 shows an envelope and its signature: recompute both with the real code."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- example-envelope -->\s*```json\n(.*?)```", text, re.S)
    assert block, "docs/exchange.md lost its example envelope"
    example = json.loads(block.group(1))
    secret = re.search(r"Shared secret for this example only: `([^`]+)`", text).group(1)
    rebuilt = env.build(case_ref=example["case_ref"], seq=example["seq"], type=example["type"],
                        sender=example["sender"], receiver=example["receiver"], body=example["body"], secret=secret,
                        sent_at=datetime.fromisoformat(example["sent_at"]), message_id=example["message_id"])
    assert rebuilt == example
    canonical = re.search(r"<!-- example-canonical -->\s*```\n(.*?)\n```", text, re.S).group(1)
    assert canonical == env.canonical(example).decode("utf-8")
    env.verify(example, secret)
    assert validator("envelope").is_valid(example) and validator(example["type"]).is_valid(example["body"])


# -- real traffic --------------------------------------------------------------------------------------------


def order_of(ctx, number: str) -> WorkOrder:
    return ctx.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()


def incident_for(ctx, hotline_number: str) -> Incident:
    return ctx.session.execute(select(Incident).where(Incident.hotline_number == hotline_number)).scalar_one()


def incident_no(ctx, number: str) -> Incident:
    return ctx.session.execute(select(Incident).where(Incident.number == number)).scalar_one()


def pushed_order(ctx, incident_number: str) -> WorkOrder:
    transfer = ctx.session.execute(select(Transfer).where(Transfer.direction == "in",
                                                          Transfer.remote_number == incident_number)).scalar_one()
    return ctx.session.get(WorkOrder, transfer.order_id)




def police_call(ctx, pa, **fields) -> Incident:
    incident = ia.do_register_incident(ctx, iss.IncidentCreate(**{
        "address": "南通市崇川区和平桥街道人民中路18号", "caller": {"name": "王五", "phone": "13900002222"},
        **fields}), actor=pa["jjy"])
    ctx.session.flush()
    return incident


def drive_every_flow(sites) -> None:
    ha, pa = sites.hotline_actors, sites.police_actors

    # R-201 一键转接 12345 → 110: offer; 签收 (accept), 派警, 到场, 处置反馈 (result); 回访 → close.
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="邻居家中传出打斗声", content="来电称邻居家中持续传出打斗和呼救声。",
                         caller={"name": "张三", "phone": "13812345678", "confidential": True})
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围", consent=True)
        r201 = order.number
    sites.pump()
    with sites.write("police") as ctx:
        incident = incident_for(ctx, r201)
        incident_act(ctx, incident, "sign", pa["jjy"], note="已签收")
        incident_act(ctx, incident, "dispatch", pa["zhy"], note="崇川分局出警")
        incident_act(ctx, incident, "arrive", pa["zhy"], note="民警已到场")
        incident_act(ctx, incident, "finish", pa["zhy"], situation="民警到场，双方已分开，无人受伤",
                     result_note="口头警告，双方和解")
    sites.pump()
    with sites.write("hotline") as ctx:
        order = order_of(ctx, r201)
        assert order.state == State.AWAITING_CALLBACK
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=2)
        assert order.state == State.CLOSED

    # R-204 系统推送 of an internet matter; 110 returns it (transfer.reject from 110).
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, channel="wechat", title="网上举报有人组织赌博", content="微信留言举报某棋牌室聚众赌博。",
                         request_type="report")
        act(ctx, order, Action.TRANSFER_TO_110, ha["dispatcher"], reason="涉嫌赌博违法")
        r204 = order.number
    sites.pump()
    with sites.write("police") as ctx:
        incident_act(ctx, incident_for(ctx, r204), "return", pa["jjy"], reason="经核查属市场监管范围")
    sites.pump()

    # R-202 三方通话: one concluded "other_side" (→ transfer by three_party), one "first_receiver" (首接).
    with sites.write("hotline") as ctx:
        agreed = register(ctx, ha, title="商铺门口有人长期占道并辱骂路人", content="职责不清：占道经营还是寻衅滋事？")
        kept = register(ctx, ha, title="小区有人遛狗不牵绳咬伤邻居", content="职责交叉：养犬管理还是治安？")
        c1 = la.do_open_consultation(ctx, ConsultationOpen(number=agreed.number, participants=PEOPLE,
                                                           summary="职责交叉，三方协商"), actor=ha["operator"])
        c2 = la.do_open_consultation(ctx, ConsultationOpen(number=kept.number, participants=PEOPLE),
                                     actor=ha["operator"])
        ids = (c1.id, c2.id)
    sites.pump()
    with sites.write("hotline") as ctx:
        la.do_conclude_consultation(ctx, ids[0], ConsultationConclude(outcome="other_side", note="110 同意受理"),
                                    actor=ha["operator"])
        la.do_conclude_consultation(ctx, ids[1], ConsultationConclude(outcome="first_receiver", note="协商不成"),
                                    actor=ha["operator"])
    sites.pump()

    # R-203 emergency during an open 三方通话: outcome "emergency", 110 dispatches on receipt.
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="有人在小区门口持刀威胁他人", content="来电称有人持刀威胁邻居，情绪激动。",
                         urgency="emergency", request_type="help")
        la.do_open_consultation(ctx, ConsultationOpen(number=order.number, participants=PEOPLE[:2]),
                                actor=ha["operator"])
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="持刀威胁，危及人身安全", emergency=True)
        r203 = order.number
    sites.pump()
    with sites.read("police") as ctx:
        assert incident_for(ctx, r203).state == "dispatched"

    # R-205 稳定线索 to the same-level 110.
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="多名工人欲到市政府聚集讨薪", content="来电称三十余名工人被拖欠工资，计划聚集。",
                         category=None, request_type="help")
        act(ctx, order, Action.REPORT_TO_110, ha["operator"], reason="群体性讨薪，可能聚集")

    # R-206 the handling unit (城管, staff_csgl) calls in 110 on an order dispatched to it.
    with sites.write("hotline") as ctx:
        order = to_signed(ctx, ha)
        act(ctx, order, Action.ESCALATE_TO_110, ha["staff_csgl"], reason="现场双方推搡，矛盾激化")
    sites.pump()

    # 双非 110 → 12345 (R-201/R-204 from the police side): 签收, progress as the 工单 moves, result back.
    with sites.write("police") as ctx:
        incident = police_call(ctx, pa, title="小区路灯坏了一个月", content="来电反映小区路灯不亮，不属于警务事项。")
        incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], channel="one_click", reason="非警务事项（双非）")
        shuangfei = incident.number
    sites.pump()
    with sites.write("hotline") as ctx:
        order = pushed_order(ctx, shuangfei)
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"], note="已签收")
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, order, Action.SIGN, ha["staff_csgl"])
        act(ctx, order, Action.REPLY, ha["staff_csgl"], content="已更换路灯灯泡。")
        act(ctx, order, Action.APPROVE_REPLY, ha["dispatcher"])
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=1)
        assert order.state == State.CLOSED
    sites.pump()

    # 110 pushes, 12345 returns it (transfer.reject from 12345).
    with sites.write("police") as ctx:
        incident = police_call(ctx, pa, title="咨询社保缴费", content="来电咨询社保缴费基数，不属于警务事项。")
        incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], reason="非警务咨询")
        returned = incident.number
    sites.pump()
    with sites.write("hotline") as ctx:
        act(ctx, pushed_order(ctx, returned), Action.REJECT_TRANSFER, ha["dispatcher"], reason="请110告知来电人拨打12333")
    sites.pump()

    # R-207 联合调处: 110 dispatches first, hands the 12345 part on; the police part done → joint.part_done;
    # the 12345 part handled; 回访 of the joint case → close.
    with sites.write("police") as ctx:
        incident = police_call(ctx, pa, title="邻里因违建发生纠纷", content="双方因加建阳台发生推搡，可能激化。")
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "arrive", pa["zhy"])
        incident_act(ctx, incident, "joint_to_12345", pa["zhy"], reason="违建纠纷需属地政府和城管联合调处")
        joint_incident = incident.number
    sites.pump()
    with sites.write("hotline") as ctx:
        order = pushed_order(ctx, joint_incident)
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"])
    sites.pump()
    with sites.write("police") as ctx:
        incident_act(ctx, incident_no(ctx, joint_incident), "finish", pa["zhy"], situation="民警到场平息推搡",
                     result_note="双方情绪稳定，待属地调解")
    sites.pump()
    with sites.write("hotline") as ctx:
        order = pushed_order(ctx, joint_incident)
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, order, Action.SIGN, ha["staff_csgl"])
        act(ctx, order, Action.REPLY, ha["staff_csgl"], content="已组织双方调解，违建部分限期拆除。")
        act(ctx, order, Action.APPROVE_REPLY, ha["dispatcher"])
        joint = ctx.session.get(JointCase, order.joint_case_id)
        assert joint.state == "awaiting_callback"
        la.do_joint_callback(ctx, joint.number, JointCallbackIn(version=joint.version, satisfaction=2, note="满意"),
                             actor=ha["callback"])
        assert joint.state == "closed"
    sites.pump()


def test_every_message_the_two_sites_send_matches_its_schema(sites, validators):
    drive_every_flow(sites)
    seen: Counter = Counter()
    problems: list[str] = []
    for site in (sites.hotline, sites.police):
        with site.sessions() as session:
            rows = session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().all()
            applied = {m.message_id: m.state for m in session.execute(select(InboxMessage)).scalars()}
        assert rows, f"{site.settings.site_code} sent nothing"
        for row in rows:
            envelope = json.loads(row.envelope)
            where = f"{site.settings.site_code} #{row.id} {row.type}"
            problems += [f"{where} envelope {e}" for e in errors(validators["envelope"], envelope)]
            problems += [f"{where} body {e}" for e in errors(validators[row.type], envelope["body"])]
            problems += [f"{where} body field not in the schema: {k}" for k in undocumented(load(row.type), envelope["body"])]
            # The stored text is exactly what was signed and sent, and the peer applied it.
            env.verify(envelope, site.settings.peers[0].secret.get_secret_value())
            assert (row.state, row.ack_status) == ("delivered", "applied"), (where, row.ack_detail)
            seen[(row.type, site.settings.site_role)] += 1
        assert not applied or set(applied.values()) == {"applied"}
    assert not problems, "\n".join(problems)
    types_seen = {t for t, _ in seen}
    assert types_seen == set(env.MESSAGE_TYPES), f"never sent: {set(env.MESSAGE_TYPES) - types_seen}"
    # Who sends what (docs/exchange.md §6): both sides offer, accept, reject, consult and send results.
    both = {"transfer.offer", "transfer.accept", "transfer.reject", "result"}
    assert {t for t, role in seen if role == "police"} >= both | {"police.dispatched", "police.arrived",
                                                                   "joint.part_done"}
    assert {t for t, role in seen if role == "hotline"} >= both | {"consultation.opened", "consultation.result",
                                                                    "progress", "close"}


def test_offer_bodies_cover_every_kind_and_channel_the_code_sends(sites, validators):
    """The enums of transfer.offer are not wider than needed: every kind is really sent by some flow."""
    drive_every_flow(sites)
    kinds, channels, reasons, outcomes = set(), set(), set(), set()
    for site in (sites.hotline, sites.police):
        with site.sessions() as session:
            for row in session.execute(select(OutboxMessage)).scalars():
                body = json.loads(row.envelope)["body"]
                if row.type == "transfer.offer":
                    kinds.add(body["kind"]), channels.add(body["channel"]), reasons.add(body["reason_code"])
                if row.type == "consultation.result":
                    outcomes.add(body["outcome"])
    offer = load("transfer.offer")["properties"]
    assert kinds == set(offer["kind"]["enum"])
    assert channels == set(offer["channel"]["enum"])
    assert reasons <= set(offer["reason_code"]["enum"])
    assert outcomes == set(load("consultation.result")["properties"]["outcome"]["enum"])


# -- the schemas refuse what the receiver would refuse ---------------------------------------------------------


def _envelope(type_: str, body: dict) -> dict:
    return env.build(case_ref="nt-110:JJ20260101-000001", seq=1, type=type_, sender="nt-110", receiver="nt-12345",
                     body=body, secret="s", sent_at=datetime(2026, 1, 1, 8, 0, tzinfo=UTC),
                     message_id="5f0c6a7e-9d0b-4c1e-8f3a-2b7d9e4c1a00")


ACTOR = {"site": "nt-110", "username": "jjy", "name": "接警员", "unit": "gaj.110"}
ACCEPT = {"actor": ACTOR, "at": "2026-01-01T08:00:00+00:00", "number": "JJ20260101-000001", "note": None}


def test_a_body_missing_a_field_the_receiver_reads_fails_validation(validators):
    assert validators["transfer.accept"].is_valid(ACCEPT)
    missing = {k: v for k, v in ACCEPT.items() if k != "number"}  # hotline_accept reads body["number"]
    assert not validators["transfer.accept"].is_valid(missing)
    reject = {"actor": ACTOR, "at": ACCEPT["at"], "number": "JJ1"}  # no reason: body["reason"]
    assert not validators["transfer.reject"].is_valid(reject)
    assert validators["transfer.reject"].is_valid({**reject, "reason": "不属于本平台受理范围"})
    result = {"actor": ACTOR, "at": ACCEPT["at"], "outcome": "first_receiver", "agreed_site": "nt-12345", "note": None}
    assert validators["consultation.result"].is_valid(result)
    assert not validators["consultation.result"].is_valid({k: v for k, v in result.items() if k != "outcome"})


def test_enums_and_ranges_are_enforced(validators):
    offer = {
        "actor": ACTOR, "at": ACCEPT["at"], "kind": "transfer", "channel": "system_push", "reason_code": "other_scope",
        "reason": "非警务事项（双非）", "consent": True, "transfer_count": 1, "first_receiver": "nt-110",
        "emergency": False, "matter": {
            "number": "JJ20260101-000001", "title": "小区路灯不亮", "content": "来电反映小区路灯不亮。", "address": None,
            "place": None, "category": None, "request_type": "help", "urgency": "normal", "channel": "police_transfer",
            "registered_at": "2026-01-01T08:00:00+00:00",
            "caller": {"name": "王五", "phone": "13900002222", "confidential": False}},
    }
    v = validators["transfer.offer"]
    assert v.is_valid(offer), errors(v, offer)
    assert not v.is_valid({**offer, "kind": "handover"})
    assert not v.is_valid({**offer, "channel": "fax"})
    assert not v.is_valid({**offer, "reason_code": "because"})
    no_title = copy.deepcopy(offer)
    del no_title["matter"]["title"]  # both receivers read matter["title"]
    assert not v.is_valid(no_title)
    close = {"actor": ACTOR, "at": ACCEPT["at"], "number": "NT1", "satisfaction": 2, "note": None}
    assert validators["close"].is_valid(close)
    for bad in (0, 6, "2", 2.5):
        assert not validators["close"].is_valid({**close, "satisfaction": bad}), bad
    assert not validators["consultation.result"].is_valid(
        {"actor": ACTOR, "at": ACCEPT["at"], "outcome": "maybe", "agreed_site": None, "note": None})


def test_the_envelope_schema_refuses_what_check_shape_refuses(validators):
    good = _envelope("transfer.accept", ACCEPT)
    v = validators["envelope"]
    assert v.is_valid(good) and env.check_shape(copy.deepcopy(good))
    bad = [
        {k: val for k, val in good.items() if k != "signature"},
        {**good, "extra": 1},
        {**good, "seq": 0},
        {**good, "seq": True},
        {**good, "version": "2"},
        {**good, "type": "transfer.cancel"},
        {**good, "message_id": "not-a-uuid"},
        {**good, "sent_at": "2026-01-01T08:00:00"},  # no time zone
        {**good, "body": []},
        {**good, "case_ref": "x" * 101},
    ]
    for envelope in bad:
        assert not v.is_valid(envelope), envelope
        with pytest.raises(env.EnvelopeError):
            env.check_shape(envelope)

