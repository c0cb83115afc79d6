"""The 110 site's 警单 API: roles, versions, personal data, and a consultation the police open (R-202)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import TEST_SECRET

from civiclink.app import create_app
from civiclink.orgs.actions import do_issue_token
from civiclink.orgs.models import User


@pytest.fixture
def police_client(sites):
    tokens = {}
    with sites.write("police") as ctx:
        for user in ctx.session.execute(select(User)).scalars():
            tokens[user.username], _ = do_issue_token(ctx.session, user, secret=TEST_SECRET, now=datetime.now(UTC),
                                                      ttl=sites.police.settings.token_ttl)
    with TestClient(create_app(sites.police.settings, state=sites.police)) as client:
        client.h = lambda u: {"Authorization": f"Bearer {tokens[u]}"}  # type: ignore[attr-defined]
        yield client


CALL = {"title": "商场门口有人打架", "content": "来电称商场门口两名男子打架。", "address": "南通市崇川区和平桥街道人民中路18号",
        "caller": {"name": "赵六", "phone": "13700003333"}}


def test_police_desk_register_dispatch_finish_with_roles_versions_and_masking(police_client):
    c = police_client
    r = c.post("/api/incidents", json=CALL, headers=c.h("jjy"))
    assert r.status_code == 201, r.text
    incident = r.json()
    assert incident["state"] == "signed" and incident["caller_phone"] == "13700003333"
    number, version = incident["number"], incident["version"]
    assert "dispatch" not in incident["allowed_actions"]  # 派警 is the commander's
    assert c.post(f"/api/incidents/{number}/dispatch", json={"version": version}, headers=c.h("jjy")).status_code == 403
    r = c.post(f"/api/incidents/{number}/dispatch", json={"version": version}, headers=c.h("zhy"))
    assert r.status_code == 200, r.text
    assert r.json()["police_unit"] == "南通市公安局崇川分局"  # the 分局 of the place's district
    # A stale version is refused and changes nothing.
    stale = c.post(f"/api/incidents/{number}/arrive", json={"version": version}, headers=c.h("zhy"))
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    current = r.json()["version"]
    r = c.post(f"/api/incidents/{number}/finish", json={"version": current, "situation": "已制止", "result_note": "调解"},
               headers=c.h("zhy"))
    assert r.status_code == 200 and r.json()["state"] == "finished"
    # Figures-only roles see the caller masked; unknown users see nothing.
    seen = c.get(f"/api/incidents/{number}", headers=c.h("leader")).json()
    assert seen["caller_phone"] != "13700003333" and "*" in seen["caller_phone"]
    assert c.get(f"/api/incidents/{number}").status_code == 401
    steps = [e["action"] for e in c.get(f"/api/incidents/{number}/timeline", headers=c.h("zhy")).json()]
    assert steps == ["incident.registered", "incident.dispatch", "incident.finish"]
    bad = c.post("/api/incidents", json={**CALL, "title": ""}, headers=c.h("jjy"))
    assert bad.status_code == 422


def test_police_open_a_three_party_call_and_cannot_transfer_around_it(police_client, sites):
    c = police_client
    number = c.post("/api/incidents", json={**CALL, "title": "噪音扰民还是治安？"}, headers=c.h("jjy")).json()["number"]
    people = [{"side": "citizen", "name": "来电人"}, {"side": "police", "name": "接警员"}, {"side": "hotline", "name": "12345"}]
    r = c.post("/api/linkage/consultations", json={"number": number, "participants": people}, headers=c.h("jjy"))
    assert r.status_code == 201, r.text
    consultation = r.json()
    incident = c.get(f"/api/incidents/{number}", headers=c.h("jjy")).json()
    assert "transfer_to_12345" not in incident["allowed_actions"]  # not while the call's outcome is open
    r = c.post(f"/api/linkage/consultations/{consultation['id']}/conclude",
               json={"outcome": "other_side", "note": "12345 受理"}, headers=c.h("jjy"))
    assert r.status_code == 200, r.text
    assert c.get(f"/api/incidents/{number}", headers=c.h("jjy")).json()["state"] == "transferred_to_12345"
    sites.pump()
    with sites.read("hotline") as ctx:
        from civiclink.linkage.models import Consultation, Transfer

        transfer = ctx.session.execute(select(Transfer).where(Transfer.remote_number == number)).scalar_one()
        assert transfer.channel == "three_party" and transfer.direction == "in"
        mirror = ctx.session.execute(select(Consultation)).scalar_one()
        assert mirror.outcome == "other_side" and not mirror.initiated_here
