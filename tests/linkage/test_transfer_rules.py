"""Each linkage rule as a scenario across two real sites (design §5). Names cite the requirement."""

from __future__ import annotations

from sqlalchemy import select

from civiclink.audit.service import verify_chain
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.incidents.models import Incident
from civiclink.linkage.models import Transfer
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State
from tests.helpers import act, register

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


def incident_act(ctx, incident, action, actor, **body):
    model = iss.INCIDENT_ACTION_BODIES[action]
    return ia.ACTIONS[action](ctx, incident, model.model_validate({"version": incident.version, **body}), actor=actor)


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
