"""The 110 desk on the police site: pushes from 12345 to 签收 (oldest first), 警单 detail with its forms, 接警登记
with errors next to the field."""

import pytest
from tests.conftest import PASSWORD, restore_base

from civiclink.app import create_app
from civiclink.web.messages import t


@pytest.fixture
def police(police_app_state):
    restore_base(police_app_state)
    return police_app_state


def police_client(police_app_state):
    from fastapi.testclient import TestClient

    client = TestClient(create_app(police_app_state.settings, state=police_app_state))
    r = client.post("/login", data={"username": "jjy", "password": PASSWORD, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def test_desk_registers_and_handles_an_incident(police):
    client = police_client(police)
    page = client.get("/desk")
    assert page.status_code == 200 and t("desk.received") in page.text
    bad = client.post("/desk/new", data={"title": "", "content": "有人在小区门口打架"})
    assert bad.status_code == 422 and "有人在小区门口打架" in bad.text
    r = client.post("/desk/new", data={"title": "小区门口打架", "content": "有人在小区门口打架", "emergency": "true"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    detail = client.get(r.headers["location"])
    assert detail.status_code == 200 and "小区门口打架" in detail.text
    assert "/act/finish" in detail.text


def test_desk_triage_tells_a_non_police_matter(police):
    client = police_client(police)
    panel = client.post("/desk/triage", data={"content": "小区路灯坏了一个星期，晚上很黑，想请有关部门修一下"})
    assert panel.status_code == 200 and 'data-route="12345"' in panel.text
    assert "close_with" not in panel.text  # 直接办结 is the hotline's, not the desk's


def test_desk_reaches_every_incident_through_its_sections_pages(police):
    from civiclink.incidents import actions as ia
    from civiclink.incidents.schemas import IncidentCreate
    from civiclink.sites import _actors
    from civiclink.web.desk import DESK_ROWS

    jjy = _actors(police)["jjy"]
    with police.sessions() as session:
        ctx = police.ctx(session)
        numbers = [ia.do_register_incident(ctx, IncidentCreate(title=f"警情{i}", content="有人打架"), actor=jjy).number
                   for i in range(DESK_ROWS + 3)]
        session.commit()
    client = police_client(police)
    handling = client.get("/desk").text.split("desk-handling", 1)[1].split("</section>", 1)[0]
    assert numbers[0] in handling and numbers[-1] not in handling  # the oldest fifty first
    assert "/desk?section=handling" in handling
    rest = client.get("/desk?section=handling&page=1").text
    assert numbers[-1] in rest and numbers[0] not in rest
