"""Each linkage rule as a scenario across two real sites (design §5). Names cite the requirement."""

from __future__ import annotations

from sqlalchemy import select
from tests.helpers import act, incident_act, register

from civiclink.audit.service import verify_chain
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.incidents.models import Incident
from civiclink.linkage.models import Transfer
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State

POLICE_CALL = {
    "title": "有人在小区门口持刀威胁他人",
    "content": "来电称和平桥街道人民中路18号小区门口有人持刀威胁邻居，情绪激动。",
    "urgency": "emergency",
    "request_type": "help",
}


def order_of(ctx, number: str) -> WorkOrder:
    return ctx.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()


def incident_for(ctx, hotline_number: str) -> Incident:
    return ctx.session.execute(select(Incident).where(Incident.hotline_number == hotline_number)).scalar_one()




def test_r201_one_click_transfer_gives_the_police_a_linked_incident_and_the_result_comes_back(sites):
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="邻居家中传出打斗声", content="来电称邻居家中持续传出打斗和呼救声。")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围", consent=True)
        number = order.number
    sites.pump()

    with sites.write("police") as ctx:
        incident = incident_for(ctx, number)
        assert incident.state == "received" and incident.source == "push" and incident.sign_due_at is not None
        assert incident.caller_phone == "13812345678"  # the police need to call back
        incident_act(ctx, incident, "sign", pa["jjy"])
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "arrive", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="民警到场，双方已分开，无人受伤",
                     result_note="口头警告，双方和解")
        incident_number = incident.number
    sites.pump()

    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        transfer = ctx.session.execute(select(Transfer).where(Transfer.order_id == order.id)).scalar_one()
        assert (transfer.direction, transfer.kind, transfer.channel) == ("out", "transfer", "one_click")
        assert transfer.remote_number == incident_number and transfer.state == "result"
        assert transfer.police_unit == "南通市公安局崇川分局" and transfer.arrived_at is not None
        assert order.state == State.AWAITING_CALLBACK and "双方和解" in order.reply_content
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=2)
        assert order.state == State.CLOSED
    sites.pump()

    with sites.read("police") as ctx:
        incident = incident_for(ctx, number)
        assert incident.satisfaction == 2
        actions = [t["action"] for t in __import__("civiclink.incidents.service", fromlist=["x"]).timeline(ctx, incident)]
        assert actions[:2] == ["incident.received", "incident.sign"]
        assert "incident.hotline_closed" in actions
    for site in (sites.hotline, sites.police):
        with site.sessions() as s:
            assert verify_chain(s).ok


def _transfer(ctx, **where) -> Transfer:
    q = select(Transfer)
    for k, v in where.items():
        q = q.where(getattr(Transfer, k) == v)
    return ctx.session.execute(q.order_by(Transfer.id.desc()).limit(1)).scalar_one()


def test_r201_police_transfers_a_non_police_matter_and_the_hotline_result_is_written_back(sites):
    """双非: 110 hands a non-police matter to 12345; 12345 signs, handles, closes; 110 sees it all."""
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("police") as ctx:
        incident = ia.do_register_incident(ctx, iss.IncidentCreate(
            title="小区路灯坏了一个月", content="来电反映小区路灯不亮，不属于警务事项。",
            address="南通市崇川区和平桥街道人民中路18号", caller={"name": "王五", "phone": "13900002222"}),
            actor=pa["jjy"])
        ctx.session.flush()
        incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], channel="one_click", reason="非警务事项（双非）")
        assert incident.state == "transferred_to_12345"
        incident_number = incident.number
    sites.pump()

    with sites.write("hotline") as ctx:
        transfer = _transfer(ctx, direction="in", remote_number=incident_number)
        order = ctx.session.get(WorkOrder, transfer.order_id)
        assert order.state == State.REGISTERED and order.channel == "police_transfer" and order.linked
        assert transfer.sign_due_at is not None and transfer.state == "offered"
        # 签收 first: it cannot be submitted around the push.
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"], note="已签收")
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="csgl")
        act(ctx, order, Action.SIGN, ha["staff_csgl"])
        act(ctx, order, Action.REPLY, ha["staff_csgl"], content="已更换路灯灯泡。")
        act(ctx, order, Action.APPROVE_REPLY, ha["dispatcher"])
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=1)
        assert order.state == State.CLOSED
        order_number = order.number
    sites.pump()

    with sites.read("police") as ctx:
        incident = ctx.session.execute(select(Incident).where(Incident.number == incident_number)).scalar_one()
        assert incident.state == "closed" and incident.hotline_number == order_number
        assert incident.satisfaction == 1 and "路灯" in incident.hotline_result
        from civiclink.incidents.service import timeline

        steps = [e["action"] for e in timeline(ctx, incident)]
        assert steps.count("incident.hotline_progress") >= 3  # 派单, 签收, 答复 as they happened
        assert "incident.linkage_accepted" in steps and "incident.hotline_result" in steps


def test_r203_emergency_is_dispatched_on_receipt_even_during_a_three_party_call(sites):
    from civiclink.linkage.actions import do_open_consultation
    from civiclink.linkage.schemas import ConsultationOpen

    ha = sites.hotline_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, **POLICE_CALL)
        do_open_consultation(ctx, ConsultationOpen(number=order.number, participants=[
            {"side": "citizen", "name": "来电人"}, {"side": "hotline", "name": "话务员"}]), actor=ha["operator"])
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="持刀威胁，危及人身安全", emergency=True)
        number = order.number
    sites.pump()
    with sites.read("police") as ctx:
        incident = incident_for(ctx, number)
        assert incident.emergency and incident.state == "dispatched" and incident.police_unit_id is not None
        assert incident.signed_at is not None  # signed and dispatched at once, by the system
        # An emergency cannot be returned.
        assert "return" not in [str(a) for a in ia.allowed_actions(ctx, incident, sites.police_actors["jjy"])]
    with sites.read("hotline") as ctx:
        order = order_of(ctx, number)
        transfer = _transfer(ctx, order_id=order.id)
        assert order.state == State.TRANSFERRED_TO_110 and transfer.kind == "emergency"
        assert transfer.state == "accepted" and transfer.dispatched_at is not None
        from civiclink.linkage.models import Consultation

        consultation = ctx.session.execute(select(Consultation)).scalar_one()
        assert consultation.outcome == "emergency" and consultation.closed_at is not None


def test_r204_internet_matter_is_pushed_and_a_return_sends_it_back_to_the_first_receiver(sites):
    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, channel="wechat", title="网上举报有人组织赌博", content="微信留言举报某棋牌室聚众赌博。",
                         request_type="report")
        # 一键转接 is for calls; an internet matter goes by 系统推送.
        import pytest as _pytest

        from civiclink.errors import Invalid
        with _pytest.raises(Invalid):
            act(ctx, order, Action.TRANSFER_TO_110, ha["dispatcher"], reason="涉赌", channel="one_click")
    with sites.write("hotline") as ctx:
        order = order_of(ctx, order.number)
        act(ctx, order, Action.TRANSFER_TO_110, ha["dispatcher"], reason="涉嫌赌博违法")
        number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        incident = incident_for(ctx, number)
        assert incident.sign_due_at is not None
        incident_act(ctx, incident, "return", pa["jjy"], reason="经核查为合法棋牌室经营纠纷，属市场监管范围")
    sites.pump()
    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        transfer = _transfer(ctx, order_id=order.id)
        assert transfer.state == "rejected" and "市场监管" in transfer.reject_reason
        assert transfer.channel == "system_push" and transfer.reason_code == "internet_channel"
        # Back with the hotline (首接), its clocks running again; it is dispatched as usual.
        assert order.state == State.AWAITING_DISPATCH
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="csgl")


def test_r204_a_push_not_signed_for_in_time_is_listed_as_overdue(sites):
    from datetime import timedelta

    from civiclink.incidents.service import list_incidents
    from civiclink.linkage.service import list_transfers

    ha = sites.hotline_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="有人在路边打架", content="来电称路边两人打架。")
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="治安案件")
    sites.pump()
    with sites.read("police") as ctx:
        assert list_incidents(ctx, sites.police_actors["zhy"], overdue=True).total == 0
    sites.now = __import__("datetime").datetime.now(__import__("datetime").UTC) + timedelta(minutes=11)
    with sites.read("police") as ctx:
        page = list_incidents(ctx, sites.police_actors["zhy"], overdue=True)
        assert page.total == 1 and page.items[0].sign_overdue
        assert list_transfers(ctx, sites.police_actors["zhy"], overdue=True)[0].sign_overdue


def test_r205_stability_lead_goes_to_the_same_level_110_flagged_and_the_order_goes_on(sites):
    ha = sites.hotline_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha, title="多名工人欲到市政府聚集讨薪", content="来电称某工地三十余名工人被拖欠工资，计划明天到市政府聚集。",
                         category=None, request_type="help")
        act(ctx, order, Action.REPORT_TO_110, ha["operator"], reason="群体性讨薪，可能聚集")
        assert order.state == State.AWAITING_DISPATCH  # the 工单 goes on
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="320613")
        number = order.number
    sites.pump()
    with sites.read("police") as ctx:
        incident = incident_for(ctx, number)
        assert incident.stability_lead and incident.kind == "stability_lead" and incident.state == "received"
    with sites.read("hotline") as ctx:
        transfer = _transfer(ctx, order_id=order_of(ctx, number).id)
        assert transfer.kind == "stability_lead" and transfer.peer == "test-110"
    # Same level only (design §2): a city 12345 with only a county 110 configured cannot push.
    from civiclink.config import PeerSettings
    from civiclink.errors import Invalid
    from civiclink.linkage import rules

    county_only = sites.hotline.settings.model_copy(update={"peers": [PeerSettings(
        site_code="rd-110", base_url="http://x", secret="s", role="police", level="county")]})
    import pytest as _pytest

    with _pytest.raises(Invalid):
        rules.same_level_peer(county_only)
    both = county_only.model_copy(update={"peers": [*county_only.peers, *sites.hotline.settings.peers]})
    assert rules.same_level_peer(both).site_code == "test-110"


def test_r206_handling_unit_calls_in_110_and_the_order_cannot_close_before_the_result(sites):
    from tests.helpers import to_signed

    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = to_signed(ctx, ha)
        act(ctx, order, Action.ESCALATE_TO_110, ha["staff_csgl"], reason="现场双方推搡，矛盾激化")
        assert order.state == State.SIGNED  # the 工单 carries on
        act(ctx, order, Action.REPLY, ha["staff_csgl"], content="已协调，路灯已修复。")
        act(ctx, order, Action.APPROVE_REPLY, ha["dispatcher"])
        number = order.number
    sites.pump()
    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        # R-503: no 回访/办结 while 110's result is not back.
        import pytest as _pytest

        from civiclink.errors import InvalidTransition

        with _pytest.raises(InvalidTransition, match="R-503"):
            act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=2)
    with sites.write("police") as ctx:
        incident = incident_for(ctx, number)
        assert incident.kind == "escalation"
        incident_act(ctx, incident, "sign", pa["jjy"])
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="民警到场平息", result_note="双方情绪稳定")
    sites.pump()
    with sites.write("hotline") as ctx:
        order = order_of(ctx, number)
        assert order.state == State.AWAITING_CALLBACK  # untouched by the result: the unit's reply stands
        act(ctx, order, Action.CALLBACK, ha["callback"], satisfaction=2)
        assert order.state == State.CLOSED


def test_r212_no_ping_pong_after_one_re_transfer_the_first_receiver_keeps_it(sites):
    ha, pa = sites.hotline_actors, sites.police_actors
    import pytest as _pytest

    from civiclink.errors import InvalidTransition

    # 110 first received it and transferred it to 12345 (1); 12345 transfers it back (2, the one re-transfer).
    with sites.write("police") as ctx:
        incident = ia.do_register_incident(ctx, iss.IncidentCreate(title="邻里噪音", content="楼上深夜噪音扰民。"),
                                           actor=pa["jjy"])
        ctx.session.flush()
        incident_act(ctx, incident, "transfer_to_12345", pa["jjy"], reason="噪音扰民属社区调解")
        incident_number = incident.number
    sites.pump()
    with sites.write("hotline") as ctx:
        transfer = _transfer(ctx, direction="in", remote_number=incident_number)
        order = ctx.session.get(WorkOrder, transfer.order_id)
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"])
        act(ctx, order, Action.TRANSFER_TO_110, ha["dispatcher"], reason="深夜噪音属治安管理处罚范围")
        order_number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        pushed = incident_for(ctx, order_number)
        # It came back to the first receiver (110): it stays there — no return …
        assert "return" not in [str(a) for a in ia.allowed_actions(ctx, pushed, pa["jjy"])]
        incident_act(ctx, pushed, "sign", pa["jjy"])
        # … and no third transfer.
        with _pytest.raises(InvalidTransition, match="R-212"):
            incident_act(ctx, pushed, "transfer_to_12345", pa["jjy"], reason="再转")
    with sites.read("hotline") as ctx:
        transfers = ctx.session.execute(select(Transfer).order_by(Transfer.id)).scalars().all()
        assert [t.transfer_count for t in transfers] == [1, 2]
        assert {t.case_ref for t in transfers} == {f"test-110:{incident_number}"}  # one case across both moves


def test_r212_three_party_call_past_the_limit_ends_with_the_first_receiver():
    from civiclink.linkage import rules

    assert rules.consultation_outcome("other_side", previous_transfers=0, max_retransfers=1) == "other_side"
    assert rules.consultation_outcome("other_side", previous_transfers=2, max_retransfers=1) == "first_receiver"
    assert rules.consultation_outcome("first_receiver", previous_transfers=0, max_retransfers=1) == "first_receiver"
    assert rules.transfer_allowed(1, max_retransfers=1) and not rules.transfer_allowed(2, max_retransfers=1)
    assert rules.may_return(own_site="a", first_receiver="a", previous_transfers=1, emergency=False)
    assert rules.may_return(own_site="b", first_receiver="a", previous_transfers=0, emergency=False) is None
    assert rules.may_return(own_site="b", first_receiver="a", previous_transfers=0, emergency=True)


def test_r202_three_party_call_other_side_takes_it_or_the_first_receiver_keeps_it(sites):
    from civiclink.linkage.actions import do_conclude_consultation, do_open_consultation
    from civiclink.linkage.models import Consultation
    from civiclink.linkage.schemas import ConsultationConclude, ConsultationOpen

    ha = sites.hotline_actors
    people = [{"side": "citizen", "name": "来电人"}, {"side": "hotline", "name": "话务员"},
              {"side": "police", "name": "110接警员"}]
    with sites.write("hotline") as ctx:
        agreed = register(ctx, ha, title="商铺门口有人长期占道并辱骂路人", content="职责不清：占道经营还是寻衅滋事？")
        kept = register(ctx, ha, title="小区有人遛狗不牵绳咬伤邻居", content="职责交叉：养犬管理还是治安？")
        c1 = do_open_consultation(ctx, ConsultationOpen(number=agreed.number, participants=people), actor=ha["operator"])
        c2 = do_open_consultation(ctx, ConsultationOpen(number=kept.number, participants=people), actor=ha["operator"])
        ids = (c1.id, c2.id)
    sites.pump()
    with sites.read("police") as ctx:
        mirrors = ctx.session.execute(select(Consultation).order_by(Consultation.id)).scalars().all()
        assert [m.initiated_here for m in mirrors] == [False, False] and len(mirrors[0].participants) > 10
    with sites.write("hotline") as ctx:
        do_conclude_consultation(ctx, ids[0], ConsultationConclude(outcome="other_side", note="110 同意受理"),
                                 actor=ha["operator"])
        do_conclude_consultation(ctx, ids[1], ConsultationConclude(outcome="first_receiver", note="协商不成"),
                                 actor=ha["operator"])
        assert order_of(ctx, agreed.number).state == State.TRANSFERRED_TO_110
        assert order_of(ctx, kept.number).state == State.AWAITING_DISPATCH  # 首接: 12345 keeps it
        assert _transfer(ctx, order_id=agreed.id).channel == "three_party"
    sites.pump()
    with sites.read("police") as ctx:
        mirrors = ctx.session.execute(select(Consultation).order_by(Consultation.id)).scalars().all()
        assert [m.outcome for m in mirrors] == ["other_side", "first_receiver"]
        assert incident_for(ctx, agreed.number).state == "received"
        assert ctx.session.execute(select(Incident).where(Incident.hotline_number == kept.number)).first() is None


def test_r207_r307_dispute_becomes_a_joint_case_that_closes_only_when_every_part_and_the_callback_are_done(sites):
    import pytest as _pytest

    from civiclink.errors import InvalidTransition
    from civiclink.linkage.actions import do_add_joint_part, do_joint_callback
    from civiclink.linkage.models import JointCase
    from civiclink.linkage.schemas import JointCallbackIn, JointPartIn
    from civiclink.linkage.service import case_read, joint_read

    ha, pa = sites.hotline_actors, sites.police_actors
    # 1. 110 gets a dispute that may turn violent and dispatches police first.
    with sites.write("police") as ctx:
        incident = ia.do_register_incident(ctx, iss.IncidentCreate(
            title="工地十余名工人讨薪与包工头发生冲突", content="通州区金沙街道某工地工人聚集讨薪，与包工头推搡。",
            address="南通市通州区金沙街道新金路1号"), actor=pa["jjy"])
        ctx.session.flush()
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        # 2. The administrative part (欠薪) goes to 12345; the police part carries on.
        incident_act(ctx, incident, "joint_to_12345", pa["zhy"], reason="欠薪纠纷需人社部门和属地政府调处")
        assert incident.state == "dispatched" and incident.joint
        incident_number = incident.number
    sites.pump()

    # 3. 12345 routes it to the 属地政府 and to the department: a 联合调处 case with parts.
    with sites.write("hotline") as ctx:
        transfer = _transfer(ctx, direction="in", remote_number=incident_number)
        joint = ctx.session.get(JointCase, transfer.joint_case_id)
        order = ctx.session.get(WorkOrder, transfer.order_id)
        act(ctx, order, Action.ACCEPT_TRANSFER, ha["dispatcher"])
        act(ctx, order, Action.DISPATCH, ha["dispatcher"], unit="320612")  # 通州区人民政府
        do_add_joint_part(ctx, joint.number, JointPartIn(unit="rsj", note="欠薪核查"), actor=ha["dispatcher"])
        read = joint_read(ctx, joint)
        assert [p.side for p in read.parts] == ["police", "hotline", "hotline"]
        assert all(p.due_at is not None for p in read.parts) and read.state == "open"
        joint_number = joint.number
        part_numbers = [p.order_number for p in read.parts if p.side == "hotline"]

    # 4. Each 12345 part is handled by its unit.
    with sites.write("hotline") as ctx:
        units = {"320612": "staff_tongzhou", "rsj": None}
        for number in part_numbers:
            order = order_of(ctx, number)
            unit = ctx.directory.unit(order.handling_unit_id).code
            staff = units.get(unit) or "staff_tongzhou"
            if unit == "rsj":
                # no base user in 人社局: its part is handled through the system actor's rights
                from civiclink.orgs.roles import SYSTEM as staff_actor
            else:
                staff_actor = ha[staff]
            act(ctx, order, Action.SIGN, staff_actor)
            act(ctx, order, Action.REPLY, staff_actor, content="已调解，约定分期支付工资。")
            act(ctx, order, Action.APPROVE_REPLY, ha["dispatcher"])
        joint = ctx.session.execute(select(JointCase).where(JointCase.number == joint_number)).scalar_one()
        # The police part is not done yet: no callback, no closing.
        assert joint.state == "open"
        with _pytest.raises(InvalidTransition, match="R-307"):
            do_joint_callback(ctx, joint_number, JointCallbackIn(version=joint.version, satisfaction=2),
                              actor=ha["callback"])

    # 5. The police part finishes → part done → the case waits for its callback.
    with sites.write("police") as ctx:
        incident = ctx.session.execute(select(Incident).where(Incident.number == incident_number)).scalar_one()
        incident_act(ctx, incident, "finish", pa["zhy"], situation="现场秩序恢复", result_note="移交属地和人社调处")
    sites.pump()
    with sites.write("hotline") as ctx:
        joint = ctx.session.execute(select(JointCase).where(JointCase.number == joint_number)).scalar_one()
        assert joint.state == "awaiting_callback"
        do_joint_callback(ctx, joint_number, JointCallbackIn(version=joint.version, satisfaction=2), actor=ha["callback"])
        assert joint.state == "closed"
        assert all(order_of(ctx, n).state == State.CLOSED for n in part_numbers)
        case = case_read(ctx, joint.case_ref, ha["supervisor"])
        sites_seen = {e["site"] for e in case.timeline}
        assert sites_seen == {"test-12345", "test-110"}  # one cross-site timeline (全程可溯)
    sites.pump()
    with sites.read("police") as ctx:
        incident = ctx.session.execute(select(Incident).where(Incident.number == incident_number)).scalar_one()
        assert incident.satisfaction == 2
        transfer = ctx.session.execute(select(Transfer).where(Transfer.incident_id == incident.id)).scalar_one()
        assert transfer.state == "closed" and transfer.kind == "joint"
    for site in (sites.hotline, sites.police):
        with site.sessions() as s:
            assert verify_chain(s).ok


def test_r503_cross_site_timeline_shows_every_step_with_who_when_where(sites):
    from fastapi.testclient import TestClient
    from tests.conftest import TEST_SECRET

    from civiclink.app import create_app

    ha, pa = sites.hotline_actors, sites.police_actors
    with sites.write("hotline") as ctx:
        order = register(ctx, ha)
        act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法")
        number = order.number
    sites.pump()
    with sites.write("police") as ctx:
        incident = incident_for(ctx, number)
        incident_act(ctx, incident, "sign", pa["jjy"])
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="已处置", result_note="已查处")
    sites.pump()
    from datetime import UTC, datetime

    from civiclink.orgs.actions import do_issue_token
    from civiclink.orgs.models import User

    with sites.write("hotline") as ctx:
        user = ctx.session.execute(select(User).where(User.username == "supervisor")).scalar_one()
        token, _ = do_issue_token(ctx.session, user, secret=TEST_SECRET, now=datetime.now(UTC),
                                  ttl=sites.hotline.settings.token_ttl)
    with TestClient(create_app(sites.hotline.settings, state=sites.hotline)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        case_ref = f"test-12345:{number}"
        r = client.get(f"/api/linkage/cases/{case_ref}", headers=headers)
        assert r.status_code == 200, r.text
        timeline = r.json()["timeline"]
        police_steps = [(e["action"], e["site"], e["actor"]) for e in timeline if e["site"] == "test-110"]
        assert [s[0] for s in police_steps] == ["order.linkage_accepted", "order.police_dispatched",
                                                "order.police_result"]
        assert all(s[2].endswith("@test-110") for s in police_steps)  # who, and where
        assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)  # when, in order
        r = client.get(f"/api/orders/{number}/timeline", headers=headers)
        assert "110处置反馈" in [e["action_label"] for e in r.json()]
        transfers = client.get("/api/linkage/transfers?direction=out", headers=headers).json()
        assert transfers[0]["state"] == "result" and transfers[0]["remote_number"] == incident.number
        # Unit staff see no linkage records; nobody sees them unauthenticated.
        assert client.get("/api/linkage/transfers").status_code == 401


def _joint_from_police(sites, title="欠薪纠纷") -> tuple[str, str]:
    pa = sites.police_actors
    with sites.write("police") as ctx:
        incident = ia.do_register_incident(ctx, iss.IncidentCreate(title=title, content="工人讨薪与老板推搡。",
                                                                    address="南通市通州区金沙街道新金路1号"),
                                           actor=pa["jjy"])
        ctx.session.flush()
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="现场平息", result_note="移交调处")
        incident_act(ctx, incident, "joint_to_12345", pa["zhy"], reason="欠薪纠纷需联合调处")
        number = incident.number
    sites.pump()
    with sites.read("hotline") as ctx:
        transfer = _transfer(ctx, direction="in", remote_number=number)
        from civiclink.linkage.models import JointCase

        return ctx.session.get(JointCase, transfer.joint_case_id).number, ctx.session.get(
            WorkOrder, transfer.order_id).number


def test_r307_the_link_follows_a_merge_and_a_reopen_reopens_the_case(sites):
    from civiclink.linkage.actions import do_joint_callback
    from civiclink.linkage.models import JointCase, JointPart
    from civiclink.linkage.schemas import JointCallbackIn

    ha = sites.hotline_actors
    joint_number, part_number = _joint_from_police(sites)
    with sites.write("hotline") as ctx:
        part = order_of(ctx, part_number)
        act(ctx, part, Action.ACCEPT_TRANSFER, ha["dispatcher"])
        main = register(ctx, ha, title="同一工地欠薪（另一来电）", content="工人反映被拖欠三个月工资。")
        act(ctx, part, Action.MERGE, ha["dispatcher"], into=main.number)  # 并单 into a 主单 (R-307: keep the link)
        joint = ctx.session.execute(select(JointCase).where(JointCase.number == joint_number)).scalar_one()
        hotline_part = ctx.session.execute(select(JointPart).where(JointPart.joint_case_id == joint.id,
                                                                   JointPart.side == "hotline")).scalar_one()
        assert hotline_part.order_id == main.id and main.joint_case_id == joint.id
        act(ctx, main, Action.DISPATCH, ha["dispatcher"], unit="320612")
        act(ctx, main, Action.SIGN, ha["staff_tongzhou"])
        act(ctx, main, Action.REPLY, ha["staff_tongzhou"], content="已调解。")
        act(ctx, main, Action.APPROVE_REPLY, ha["dispatcher"])
        assert joint.state == "awaiting_callback"  # the police part was already done
        # An unsatisfied callback leaves the case open; 重办 of the part keeps it open until done again.
        do_joint_callback(ctx, joint_number, JointCallbackIn(version=joint.version, satisfaction=5),
                          actor=ha["callback"])
        assert joint.state == "open" and main.state == State.AWAITING_CALLBACK
        act(ctx, main, Action.REOPEN, ha["callback"], reason="工资仍未发放")
        assert joint.state == "open"
        act(ctx, main, Action.SIGN, ha["staff_tongzhou"])
        act(ctx, main, Action.REPLY, ha["staff_tongzhou"], content="工资已全部发放。")
        act(ctx, main, Action.APPROVE_REPLY, ha["dispatcher"])
        assert joint.state == "awaiting_callback"
        do_joint_callback(ctx, joint_number, JointCallbackIn(version=joint.version, satisfaction=1),
                          actor=ha["callback"])
        assert joint.state == "closed" and main.state == State.CLOSED
