"""The demo's 12345 ↔ 110 activity: one of every linkage rule, run through the real actions and delivered
through the real exchange channel between the demo's two sites (design §5), so that both consoles and both
timelines show them. A few are left half-way (a push waiting for 签收, a joint case in progress)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.incidents.models import Incident
from civiclink.linkage import actions as la
from civiclink.linkage import schemas as ls
from civiclink.linkage.models import JointCase, Transfer
from civiclink.orgs.roles import Role
from civiclink.sites import LinkedPair
from civiclink.workorders import actions as wo
from civiclink.workorders import schemas as ws
from civiclink.workorders.models import WorkOrder

POLICE_USERS = [
    ("admin", "系统管理员", [Role.ADMIN], None),
    ("jjy1", "110接警员·张伟", [Role.POLICE_OPERATOR], "gaj.110"),
    ("jjy2", "110接警员·刘洋", [Role.POLICE_OPERATOR], "gaj.110"),
    ("zhy1", "110指挥员·赵军", [Role.POLICE_COMMANDER], "gaj.110"),
    ("leader1", "指挥中心·钱主任", [Role.LEADER], None),
]


def _order(ctx, actor, **fields) -> WorkOrder:
    order = wo.do_register_order(
        ctx,
        ws.OrderCreate.model_validate(
            {
                "channel": "phone",
                "request_type": "help",
                "caller": {"name": "市民", "phone": "13800000000"},
                **fields,
            }
        ),
        actor=actor,
        is_demo=True,
    )
    ctx.session.flush()
    return order


def _act(ctx, order, action, actor, **body):
    return wo.take_action(ctx, order, action, body, actor=actor)


def _iact(ctx, incident, action, actor, **body):
    return ia.take_incident_action(ctx, incident, action, body, actor=actor)


def _incident_for(ctx, hotline_number: str) -> Incident:
    return ctx.session.execute(select(Incident).where(Incident.hotline_number == hotline_number)).scalar_one()


def seed_linkage(
    sites: LinkedPair,
    *,
    now: datetime,
    staff_of: Callable[[str], object],
    place: str = "南通市崇川区和平桥街道人民中路18号",
) -> int:
    """One story per rule. ``staff_of(unit_code)`` gives the demo staff account of a handling unit."""
    from civiclink.workorders.states import Action as A

    h, p = sites.hotline_actors, sites.police_actors
    op, disp, cb = h["operator1"], h["dispatcher1"], h["callback1"]
    jjy, zhy = p["jjy1"], p["zhy1"]
    stories = 0

    def at(hours_ago: float) -> None:
        sites.now = now - timedelta(hours=hours_ago)

    # R-201: a call in 110's scope, put through; police sign, dispatch, arrive and write the result back.
    at(30)
    with sites.write("hotline") as ctx:
        a = _order(
            ctx,
            op,
            title="邻居家中传出打斗和呼救声",
            content="来电称楼上邻居家中持续传出打斗声和呼救声，担心出事。",
            address=place,
        )
        _act(ctx, a, A.TRANSFER_TO_110, op, reason="涉嫌家庭暴力，属110受理范围", consent=True)
    sites.pump()
    at(29.9)
    with sites.write("police") as ctx:
        i = _incident_for(ctx, a.number)
        _iact(ctx, i, "sign", jjy)
        _iact(ctx, i, "dispatch", zhy)
    sites.pump()
    at(29.7)
    with sites.write("police") as ctx:
        i = _incident_for(ctx, a.number)
        _iact(ctx, i, "arrive", zhy)
        _iact(
            ctx,
            i,
            "finish",
            zhy,
            situation="民警到场，系夫妻争吵，无人受伤",
            result_note="已批评教育，双方和好",
        )
    sites.pump()
    stories += 1

    # an emergency is dispatched on receipt.
    at(6)
    with sites.write("hotline") as ctx:
        e = _order(
            ctx,
            op,
            title="有人在超市门口持刀威胁他人",
            content="来电称有男子在超市门口持刀与人争执，情绪激动。",
            address="南通市通州区金沙街道金沙大道88号",
            urgency="emergency",
        )
        _act(ctx, e, A.TRANSFER_TO_110, op, reason="持刀威胁，危及人身安全", emergency=True)
    sites.pump()
    stories += 1

    # an internet matter pushed; 110 returns it with a reason; 12345 keeps it (首接).
    at(20)
    with sites.write("hotline") as ctx:
        w = _order(
            ctx,
            op,
            channel="wechat",
            title="网上举报某棋牌室聚众赌博",
            content="微信留言举报某棋牌室常有人聚众赌博。",
            request_type="report",
            address=place,
        )
        _act(ctx, w, A.TRANSFER_TO_110, disp, reason="涉嫌赌博违法")
    sites.pump()
    at(19.8)
    with sites.write("police") as ctx:
        _iact(
            ctx,
            _incident_for(ctx, w.number),
            "return",
            jjy,
            reason="经核查为棋牌室经营纠纷，属市场监管部门职责",
        )
    sites.pump()
    # … and one still waiting for 签收 (shown as overdue on the 110 desk).
    at(1)
    with sites.write("hotline") as ctx:
        q = _order(
            ctx,
            op,
            channel="app",
            title="APP反映小区有人深夜聚众斗殴",
            content="APP留言：小区广场深夜常有人聚众斗殴。",
            address=place,
        )
        _act(ctx, q, A.TRANSFER_TO_110, disp, reason="治安案件")
    sites.pump()
    stories += 2

    # a stability lead, flagged; the 工单 goes on.
    at(10)
    with sites.write("hotline") as ctx:
        s = _order(
            ctx,
            op,
            title="三十余名工人计划到区政府聚集讨薪",
            content="来电称某工地三十余名工人被拖欠工资，计划明天聚集。",
            address="南通市通州区金沙街道新金路1号",
        )
        _act(ctx, s, A.REPORT_TO_110, op, reason="群体性讨薪，可能聚集，影响社会稳定")
    sites.pump()
    stories += 1

    # the handling unit calls in 110 while the 工单 carries on.
    at(26)
    with sites.write("hotline") as ctx:
        u = _order(
            ctx,
            op,
            title="商户占道经营与城管发生争执",
            content="来电反映某商户长期占道经营，城管劝离时发生争执。",
            request_type="complaint",
            category="cxjs.szgl",
            address=place,
        )
        _act(ctx, u, A.DISPATCH, disp, unit="csgl")
        staff = staff_of("csgl")
        _act(ctx, u, A.SIGN, staff)
        _act(ctx, u, A.ESCALATE_TO_110, staff, reason="现场推搡，矛盾激化，请求出警")
    sites.pump()
    at(25.5)
    with sites.write("police") as ctx:
        i = _incident_for(ctx, u.number)
        _iact(ctx, i, "sign", jjy)
        _iact(ctx, i, "dispatch", zhy)
        _iact(ctx, i, "finish", zhy, situation="民警到场平息争执", result_note="双方情绪稳定，由城管依法处理")
    sites.pump()
    stories += 1

    # 双非: 110 hands a non-police matter to 12345; 12345 signs, handles it, and writes the result back.
    at(50)
    with sites.write("police") as ctx:
        n = ia.do_register_incident(
            ctx,
            iss.IncidentCreate(
                title="小区路灯坏了一个月无人修",
                content="来电反映小区路灯不亮，非警务事项。",
                address=place,
                caller={"name": "王女士", "phone": "13900002222"},
            ),
            actor=jjy,
            is_demo=True,
        )
        ctx.session.flush()
        _iact(ctx, n, "transfer_to_12345", jjy, channel="one_click", reason="非警务事项（双非）")
    sites.pump()
    at(49)
    with sites.write("hotline") as ctx:
        t = ctx.session.execute(select(Transfer).where(Transfer.remote_number == n.number)).scalar_one()
        o = ctx.session.get(WorkOrder, t.order_id)
        _act(ctx, o, A.ACCEPT_TRANSFER, disp, note="已签收")
        _act(ctx, o, A.DISPATCH, disp, unit="csgl")
        _act(ctx, o, A.SIGN, staff_of("csgl"))
        _act(ctx, o, A.REPLY, staff_of("csgl"), content="已更换路灯灯具，恢复照明。")
        _act(ctx, o, A.APPROVE_REPLY, disp)
        _act(ctx, o, A.CALLBACK, cb, satisfaction=1)
    sites.pump()
    stories += 1

    # a dispute → police first → 联合调处 with the 属地政府 and 人社局; in progress now.
    at(8)
    with sites.write("police") as ctx:
        j = ia.do_register_incident(
            ctx,
            iss.IncidentCreate(
                title="工地十余名工人讨薪与包工头发生冲突",
                content="工人聚集讨薪，与包工头推搡，情绪激动。",
                address="南通市通州区金沙街道新金路1号",
            ),
            actor=jjy,
            is_demo=True,
        )
        ctx.session.flush()
        _iact(ctx, j, "dispatch", zhy)
        _iact(ctx, j, "joint_to_12345", zhy, reason="欠薪纠纷需人社部门和属地政府联合调处")
    sites.pump()
    at(7.5)
    with sites.write("hotline") as ctx:
        t = ctx.session.execute(select(Transfer).where(Transfer.remote_number == j.number)).scalar_one()
        o = ctx.session.get(WorkOrder, t.order_id)
        _act(ctx, o, A.ACCEPT_TRANSFER, disp)
        _act(ctx, o, A.DISPATCH, disp, unit="320612")
        joint = ctx.session.get(JointCase, t.joint_case_id)
        la.do_add_joint_part(ctx, joint.number, ls.JointPartIn(unit="rsj", note="欠薪核查"), actor=disp)
    sites.pump()
    stories += 1

    # two 三方通话 — the other side takes one, the first receiver keeps the other (首接).
    at(3)
    people = [
        {"side": "citizen", "name": "来电人"},
        {"side": "hotline", "name": "话务员·陈晓"},
        {"side": "police", "name": "110接警员·张伟"},
    ]
    with sites.write("hotline") as ctx:
        c1 = _order(
            ctx,
            op,
            title="商铺门口有人长期占道并辱骂路人",
            content="职责不清：占道经营还是寻衅滋事？",
            address=place,
        )
        c2 = _order(
            ctx, op, title="遛狗不牵绳咬伤邻居", content="职责交叉：养犬管理还是治安案件？", address=place
        )
        k1 = la.do_open_consultation(
            ctx, ls.ConsultationOpen(number=c1.number, participants=people), actor=op
        )
        k2 = la.do_open_consultation(
            ctx, ls.ConsultationOpen(number=c2.number, participants=people), actor=op
        )
        la.do_conclude_consultation(
            ctx, k1.id, ls.ConsultationConclude(outcome="other_side", note="110同意受理"), actor=op
        )
        la.do_conclude_consultation(
            ctx, k2.id, ls.ConsultationConclude(outcome="first_receiver", note="协商不成"), actor=op
        )
    sites.pump()
    stories += 2
    sites.now = None
    return stories
