"""联合调处 in the console: a dispute 110 sends to 12345 becomes a joint case; the 派单员 signs the push and
dispatches it from the order page, adds a department's part from the joint-case page, and the 110's steps show
on the hotline order's timeline."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.helpers import console_login, incident_act

from civiclink.app import create_app
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as iss
from civiclink.linkage.models import JointCase, Transfer
from civiclink.workorders.models import WorkOrder


def _version(page_text: str) -> str:
    return page_text.split('name="version" value="', 1)[1].split('"', 1)[0]


def test_a_joint_case_is_worked_from_the_console(sites):
    pa = sites.police_actors
    with sites.write("police") as ctx:
        incident = ia.do_register_incident(ctx, iss.IncidentCreate(
            title="工地工人讨薪与包工头发生冲突", content="通州区金沙街道某工地工人聚集讨薪，与包工头推搡。",
            address="南通市通州区金沙街道新金路1号"), actor=pa["jjy"])
        ctx.session.flush()
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "joint_to_12345", pa["zhy"], reason="欠薪纠纷需人社部门和属地政府调处")
    sites.pump()
    with sites.hotline.sessions() as s:
        transfer = s.execute(select(Transfer).where(Transfer.direction == "in").order_by(Transfer.id.desc())
                             ).scalars().first()
        number = s.get(WorkOrder, transfer.order_id).number
        joint_number = s.get(JointCase, transfer.joint_case_id).number

    client = TestClient(create_app(sites.hotline.settings, state=sites.hotline))
    console_login(client, "dispatcher")
    page = client.get(f"/orders/{number}")
    assert page.status_code == 200 and f"/joint/{joint_number}" in page.text
    r = client.post(f"/orders/{number}/act/accept_transfer", data={"version": _version(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[-500:]
    page = client.get(f"/orders/{number}")
    r = client.post(f"/orders/{number}/act/dispatch", data={"version": _version(page.text), "unit": "320612"},
                    follow_redirects=False)
    assert r.status_code == 303
    joint = client.get(f"/joint/{joint_number}")
    assert joint.status_code == 200 and "增加12345分案" in joint.text and "联合调处回访" not in joint.text
    bad = client.post(f"/joint/{joint_number}/parts", data={"unit": "no-such-unit", "note": "欠薪核查"})
    assert bad.status_code in (404, 422) and "欠薪核查" in bad.text  # refused, and the note is still there
    r = client.post(f"/joint/{joint_number}/parts", data={"unit": "rsj", "note": "欠薪核查"}, follow_redirects=False)
    assert r.status_code == 303, r.text[-500:]
    joint = client.get(r.headers["location"])
    assert joint.text.count('href="/orders/') == 2  # two 12345 parts
    assert client.get("/joint").status_code == 200
    # The 110's own steps (派警, 联合调处) are on the hotline order's timeline, marked with the police site.
    page = client.get(f"/orders/{number}")
    timeline = page.text.split("流转记录", 1)[1]
    assert sites.police.settings.site_code in timeline
    console_login(client, "staff_csgl")
    assert client.get(f"/joint/{joint_number}").status_code == 403
