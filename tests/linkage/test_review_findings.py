"""Findings of a review of the 12345 ↔ 110 linkage, each kept as a regression test across two real sites:
re-transfers, emergencies past the transfer limit, leads beside transfers, 并单 around linked orders, a returned
joint push, 重办 of a matter 110 handled, callers' names in 三方通话 records, and what the API offers.

Every test drives the real actions and the real exchange (``sites.pump()``).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from tests.helpers import act, incident_act, register, to_signed

from civiclink.errors import DomainError, InvalidTransition
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.incidents.models import Incident
from civiclink.linkage.models import JointCase, Transfer
from civiclink.workorders import actions as wo
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State

# -- helpers -------------------------------------------------------------------------------------------------


def order_of(ctx, number: str) -> WorkOrder:
    return ctx.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()


def incidents_for(ctx, hotline_number: str) -> list[Incident]:
    return list(ctx.session.execute(select(Incident).where(Incident.hotline_number == hotline_number)
                                    .order_by(Incident.id)).scalars())


def incident_by_number(ctx, number: str) -> Incident:
    return ctx.session.execute(select(Incident).where(Incident.number == number)).scalar_one()




def transfers(ctx, **where) -> list[Transfer]:
    q = select(Transfer).order_by(Transfer.id)
    for name, value in where.items():
        q = q.where(getattr(Transfer, name) == value)
    return list(ctx.session.execute(q).scalars())


def police_call(ctx, pa, **overrides) -> Incident:
    data = {"title": "小区路灯坏了一个月", "content": "来电反映小区路灯不亮，不属于警务事项。",
            "address": "南通市崇川区和平桥街道人民中路18号", "caller": {"name": "王五", "phone": "13900002222"},
            **overrides}
    incident = ia.do_register_incident(ctx, iss.IncidentCreate(**data), actor=pa["jjy"])
    ctx.session.flush()
    return incident


def push_from_police(sites) -> str:
    """110 registers a 双非 matter and pushes it to 12345 (系统推送); delivered. Returns the 警单 number."""
    pa = sites.police_actors
    with sites.write("police") as ctx:
        incident = police_call(ctx, pa)
        incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], channel="system_push", reason="非警务事项（双非）")
        number = incident.number
    sites.pump()
    return number


def pushed_order(ctx, incident_number: str) -> WorkOrder:
    [transfer] = transfers(ctx, direction="in", remote_number=incident_number)
    return ctx.session.get(WorkOrder, transfer.order_id)


def hotline_first_then_back_from_110(sites) -> str:
    """12345 first receives a call and transfers it to 110 (1); 110 signs and transfers it back (2, the one
    re-transfer of R-212). Returns the 工单 number, which now waits for 签收 at 12345 again."""
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="小区邻里纠纷", content="来电称与邻居因噪音发生口角。")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="邻里纠纷，可能治安")
        number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        [incident] = incidents_for(ctx, number)
        incident_act(ctx, incident, "sign", pa["jjy"])
        incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], reason="噪音纠纷属社区调解，非警务")
    sites.pump()
    with sites.read("hotline") as ctx:
        order = order_of(ctx, number)
        assert order.state == State.REGISTERED  # back at its first receiver, waiting for 签收
        assert [t.transfer_count for t in transfers(ctx, order_id=order.id)] == [1, 2]
    return number


# -- a matter that comes back keeps its old "out" link open forever ----------------------------


def test_r212_a_matter_transferred_back_to_12345_can_be_closed(sites):
    ha = sites.hotline_actors
    number = hotline_first_then_back_from_110(sites)
    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"])
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, order, Action.SIGN, ha["staff_csgl"])
        act(ctx, order, Action.REPLY, ha["staff_csgl"], content="已上门调解，双方和解。")
        act(ctx, order, Action.APPROVE_REPLY, ha["dispatcher"])
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=2)  # raises: "R-503 … 尚未反馈"
        assert order.state == State.CLOSED


# -- the emergency is refused once the transfer limit is reached ---------------------------------------


def test_r203_an_emergency_goes_to_110_even_after_the_one_re_transfer(sites):
    ha = sites.hotline_actors
    number = hotline_first_then_back_from_110(sites)
    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"])
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, order, Action.SIGN, ha["staff_csgl"])
        # The neighbour now threatens the caller with a knife: danger to life.
        act(ctx, order, Action.TRANSFER_TO_110, ha["dispatcher"], emergency=True, channel="system_push",
            reason="邻居持刀威胁，危及人身安全")
        assert order.state == State.TRANSFERRED_TO_110
    sites.pump()
    with sites.read("police") as ctx:
        [incident] = incidents_for(ctx, number)
        assert incident.emergency and incident.state == "dispatched"


# -- two open links of one case: the peer's messages land on the wrong one ----------------------------------


def test_r205_lead_then_transfer_of_the_same_order_each_message_finds_its_own_link(sites):
    """A lead is a case of its own (its own case_ref): 110's answers to it never land on the transfer."""
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="多名工人欲聚集讨薪并扬言堵路", content="来电称三十余名工人被拖欠工资，扬言明天堵路。",
                         category=None, request_type="help")
        act(ctx, order, Action.REPORT_TO_110, ha["operator"], reason="群体性讨薪，可能聚集")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="扬言堵路，属110受理范围")
        number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        by_kind = {i.kind: i for i in incidents_for(ctx, number)}
        lead, matter = by_kind["stability_lead"], by_kind["transfer"]
        assert lead.stability_lead and matter.state == "received"
        incident_act(ctx, lead, "sign", pa["jjy"])  # only the lead is signed for
        lead_number = lead.number
    sites.pump()
    with sites.read("hotline") as ctx:
        order = order_of(ctx, number)
        by_kind = {t.kind: t for t in transfers(ctx, order_id=order.id)}
        assert (by_kind["stability_lead"].state, by_kind["stability_lead"].remote_number) == ("accepted", lead_number)
        assert by_kind["transfer"].state == "offered" and by_kind["transfer"].remote_number is None
    with sites.write("police") as ctx:
        lead = incident_by_number(ctx, lead_number)
        incident_act(ctx, lead, "finish", pa["jjy"], situation="已掌握情况，布控", result_note="线索已核实")
    sites.pump()
    with sites.read("hotline") as ctx:
        # 110 has not handled the transferred matter: the 工单 must still wait for its result.
        assert order_of(ctx, number).state == State.TRANSFERRED_TO_110


# -- a transfer back onto a 工单 that is being handled resets it ----------------------------------------------


def test_r206_police_cannot_hand_an_escalation_back_onto_the_order_the_unit_is_handling(sites):
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = to_signed(ctx, ha)
        act(ctx, order, Action.ESCALATE_TO_110, ha["staff_csgl"], reason="现场双方推搡，矛盾激化")
        number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        [incident] = incidents_for(ctx, number)
        incident_act(ctx, incident, "sign", pa["jjy"])
        # A unit's call for police is answered with 处置反馈 or 退回, not handed back.
        with pytest.raises(InvalidTransition):
            incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], reason="现场已平息，属城管事项")
    sites.pump()
    with sites.read("hotline") as ctx:
        order = order_of(ctx, number)
        assert order.state == State.SIGNED, order.state  # the unit is still handling it


# -- 并单 (merge) around the linkage ---------------------------------------------------------------------------


def test_r204_a_push_waiting_for_signature_cannot_be_merged_away(sites):
    ha = sites.hotline_actors
    incident_number = push_from_police(sites)
    with sites.write("hotline") as ctx:
        pushed = pushed_order(ctx, incident_number)
        main = register(ctx, ha, title="同一小区路灯不亮（另一来电）", content="小区路灯坏了。")
        assert Action.MERGE not in wo.allowed_actions(ctx, pushed, ha["dispatcher"])
        with pytest.raises(InvalidTransition, match="R-204"):
            act(ctx, pushed, Action.MERGE, ha["dispatcher"], into=main.number)


def test_r503_an_accepted_push_merged_into_a_main_order_gets_its_result_back_to_110(sites):
    ha = sites.hotline_actors
    incident_number = push_from_police(sites)
    with sites.write("hotline") as ctx:
        pushed = pushed_order(ctx, incident_number)
        act(ctx, pushed, Action.ACCEPT_TRANSFER, ha["dispatcher"])
        main = register(ctx, ha, title="同一小区路灯不亮（另一来电）", content="小区路灯坏了。")
        act(ctx, pushed, Action.MERGE, ha["dispatcher"], into=main.number)
        act(ctx, main, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, main, Action.SIGN, ha["staff_csgl"])
        act(ctx, main, Action.REPLY, ha["staff_csgl"], content="已更换路灯。")
        act(ctx, main, Action.APPROVE_REPLY, ha["dispatcher"])
        act(ctx, main, Action.CALLBACK, ha["callback"], satisfaction=1)
        assert main.state == State.CLOSED
    sites.pump()
    with sites.read("police") as ctx:
        incident = incident_by_number(ctx, incident_number)
        assert incident.state == "closed", incident.state  # 反馈回写 of the matter 110 handed over


def test_r503_an_escalated_order_merged_before_110_writes_back_keeps_the_main_order_waiting(sites):
    ha = sites.hotline_actors
    with sites.write("hotline") as ctx:
        order = to_signed(ctx, ha)
        act(ctx, order, Action.ESCALATE_TO_110, ha["staff_csgl"], reason="现场双方推搡，矛盾激化")
        main = register(ctx, ha, title="同一路段路灯不亮（另一来电）", content="人民中路路灯坏了。")
        act(ctx, order, Action.MERGE, ha["dispatcher"], into=main.number)
        # The open link follows the 重复件 to its 主单 …
        [link] = transfers(ctx, kind="escalation")
        assert link.order_id == main.id and main.linked
        act(ctx, main, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, main, Action.SIGN, ha["staff_csgl"])
        act(ctx, main, Action.REPLY, ha["staff_csgl"], content="已修复。")
        act(ctx, main, Action.APPROVE_REPLY, ha["dispatcher"])
        # … so the 主单 cannot close before 110 writes back.
        with pytest.raises(InvalidTransition, match="R-503"):
            act(ctx, main, Action.CALLBACK, ha["callback"], satisfaction=1)


# -- 联合调处 after the 12345 part was returned --------------------------------------------------------------


def test_r307_a_returned_joint_push_closes_its_joint_case_which_takes_no_new_parts(sites):
    from civiclink.linkage.actions import do_add_joint_part
    from civiclink.linkage.schemas import JointPartIn

    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("police") as ctx:
        incident = police_call(ctx, pa, title="工地工人讨薪与包工头推搡", content="工人讨薪与老板推搡。",
                               address="南通市通州区金沙街道新金路1号")
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "joint_to_12345", pa["zhy"], reason="欠薪纠纷需联合调处")
        incident_number = incident.number
    sites.pump()
    with sites.write("hotline") as ctx:
        [transfer] = transfers(ctx, direction="in", remote_number=incident_number)
        order = ctx.session.get(WorkOrder, transfer.order_id)
        act(ctx, order, Action.REJECT_TRANSFER, ha["dispatcher"], reason="属劳动监察，应由人社部门直接受理")
        assert order.state == State.RETURNED_TO_110
        joint = ctx.session.get(JointCase, transfer.joint_case_id)
        joint_number = joint.number
    sites.pump()
    with sites.write("hotline") as ctx:
        joint = ctx.session.execute(select(JointCase).where(JointCase.number == joint_number)).scalar_one()
        refused = False
        try:
            do_add_joint_part(ctx, joint_number, JointPartIn(unit="rsj", note="欠薪核查"), actor=ha["dispatcher"])
        except DomainError:
            refused = True
        assert joint.state != "open" and refused, (joint.state, refused)


# -- 重办 of a matter 110 handled ----------------------------------------------------------------------------


def test_reopen_of_an_order_handled_by_110_is_a_clear_refusal(sites):
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="邻居家中传出打斗声", content="来电称邻居家中持续传出打斗和呼救声。")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪")
        number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        [incident] = incidents_for(ctx, number)
        incident_act(ctx, incident, "sign", pa["jjy"])
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="民警到场", result_note="口头警告")
    sites.pump()
    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        assert order.state == State.AWAITING_CALLBACK and order.handling_unit_id is None
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=4)  # 不满意
        assert Action.REOPEN not in wo.allowed_actions(ctx, order, ha["callback"])
        with pytest.raises(InvalidTransition, match="110"):  # a clear 409, not a database error
            act(ctx, order, Action.REOPEN, ha["callback"], reason="仍有打斗声")
        act(ctx, order, Action.CLOSE, ha["callback"], reason="110 已处置完毕，群众对处置结果不满意，已解释")
        assert order.state == State.CLOSED


# -- the citizen's name in 三方通话 records, shown to read-only roles ----------------------------------


def test_r507_a_leader_sees_the_callers_name_masked_in_the_three_party_call_record(sites):
    from civiclink.linkage.actions import do_open_consultation
    from civiclink.linkage.schemas import ConsultationOpen
    from civiclink.linkage.service import list_consultations
    from civiclink.workorders.service import order_read

    ha = sites.hotline_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, caller={"name": "欧阳明远", "phone": "13812345678"},
                         title="商铺门口有人长期占道并辱骂路人", content="职责不清：占道经营还是寻衅滋事？")
        do_open_consultation(ctx, ConsultationOpen(number=order.number, participants=[
            {"side": "citizen", "name": "欧阳明远"}, {"side": "hotline", "name": "话务员"},
            {"side": "police", "name": "110接警员"}]), actor=ha["operator"])
        number = order.number
    with sites.read("hotline") as ctx:
        leader = ha["leader"]
        assert order_read(ctx, order_of(ctx, number), leader).caller_name != "欧阳明远"  # masked on the 工单 …
        shown = json.dumps([c.model_dump(mode="json") for c in list_consultations(ctx, leader)], ensure_ascii=False)
        assert "欧阳明远" not in shown  # … and must be in the 三方通话 record too


# -- allowed_actions says yes, the action says no ------------------------------------------------------------


def test_allowed_actions_agree_with_what_the_actions_accept_during_a_three_party_call(sites):
    from civiclink.linkage.actions import do_open_consultation
    from civiclink.linkage.schemas import ConsultationOpen

    ha = sites.hotline_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="商铺门口有人长期占道并辱骂路人", content="职责不清：占道经营还是寻衅滋事？")
        do_open_consultation(ctx, ConsultationOpen(number=order.number, participants=[
            {"side": "citizen", "name": "来电人"}, {"side": "hotline", "name": "话务员"}]), actor=ha["operator"])
        act(ctx, order, Action.REPORT_TO_110, ha["operator"], reason="可能聚集")
        offered = wo.allowed_actions(ctx, order, ha["operator"])
        with pytest.raises(InvalidTransition):
            act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="属110")
        with pytest.raises(InvalidTransition):
            act(ctx, order, Action.REPORT_TO_110, ha["operator"], reason="再报一次")
        assert Action.REPORT_TO_110 not in offered, offered
        # Offered: an emergency goes to 110 whatever is pending, closing the 三方通话 as "110 先行处置".
        assert Action.TRANSFER_TO_110 in offered
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="持械威胁", emergency=True)
        assert order.state == State.TRANSFERRED_TO_110
