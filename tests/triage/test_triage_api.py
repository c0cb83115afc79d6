"""POST /api/triage and its place in intake: the suggestion, duplicates, knowledge, and the operator's
confirmation or override stored for the next training (design §7)."""

from sqlalchemy import select
from tests.triage.test_knowledge import load_items

from civiclink.audit.models import AuditEvent
from civiclink.triage.models import TriageRecord

CONTRACT = {"route", "urgency", "request_type", "category", "department", "place", "confidence", "cues",
            "duplicates", "knowledge"}


def register(client, auth, **fields):
    body = {"channel": "phone", "title": "人民中路路灯不亮", "content": "人民中路一段路灯坏了一周，晚上很黑，请尽快修。",
            "request_type": "complaint", "address": "崇川区和平桥街道人民中路18号", "caller": {"phone": "13900001111"},
            "category": "cxjs.szgl"} | fields
    r = client.post("/api/orders", json=body, headers=auth("operator"))
    assert r.status_code == 201, r.text
    return r.json()


def test_suggestion_has_every_part(state, client, auth):
    load_items(state)
    r = client.post("/api/triage", json={"text": "我想问一下公积金提取要带什么材料", "address": "南通市通州区金沙街道"},
                    headers=auth("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert CONTRACT <= set(body)
    assert body["id"] is not None
    assert body["route"] == "12345" and body["request_type"] == "consultation"
    assert body["place"]["district"]["name"] == "通州区" and body["place"]["town"]["name"] == "金沙街道"
    assert body["category"]["code"] == "cxjs.gjj" and body["department"]["code"] == "gjj"
    assert any("公积金" in k["title"] for k in body["knowledge"])
    assert set(body["confidence"]) == {"route", "urgency", "request_type", "category", "department", "place"}


def test_emergency_goes_to_110_with_its_cues(client, auth):
    r = client.post("/api/triage", json={"text": "快来人，工农路上有人拿刀砍人！", "record": False}, headers=auth("operator"))
    body = r.json()
    assert body["id"] is None  # a preview keeps nothing
    assert body["route"] == "110" and body["urgency"] == "emergency"
    assert any(c["rule"] == "R-102" for c in body["cues"])


def test_duplicates_same_caller_and_similar_text(state, client, auth):
    first = register(client, auth)
    r = client.post("/api/triage", json={"text": "人民中路那段路灯还是坏的，一周了晚上很黑，麻烦修一下",
                                         "address": "崇川区人民中路", "caller_phone": "13900001111"},
                    headers=auth("operator"))
    dups = r.json()["duplicates"]
    assert dups and dups[0]["number"] == first["number"]
    assert "同一来电人" in dups[0]["reasons"]
    assert r.json()["repeat"]["count"] == 2 and r.json()["repeat"]["warning"] is False


def test_three_repeats_raise_a_warning(state, client, auth):
    for _ in range(2):
        register(client, auth)
    r = client.post("/api/triage", json={"text": "人民中路一段路灯坏了一周，晚上很黑，请尽快修。", "title": "人民中路路灯不亮",
                                         "address": "崇川区和平桥街道人民中路18号"}, headers=auth("operator"))
    assert r.json()["repeat"] == {"count": 3, "warning": True}  # R-1004: 3+ → 预警


def test_registration_records_confirmation_and_override(state, client, auth):
    s = client.post("/api/triage", json={"text": "人民中路路灯坏了一周，晚上很黑", "address": "崇川区和平桥街道人民中路"},
                    headers=auth("operator")).json()
    # The operator keeps the category but changes the urgency.
    order = register(client, auth, urgency="urgent", request_type=s["request_type"],
                     category=s["category"]["code"] if s["category"] else "cxjs.szgl", triage_id=s["id"])
    with state.sessions() as db:
        record = db.execute(select(TriageRecord)).scalar_one()
        assert record.order_id is not None
        assert "urgency" in record.overridden
        assert record.decision["urgency"] == "urgent" and record.decision["route"] == "12345"
        events = db.execute(select(AuditEvent.action).where(AuditEvent.entity_type == "triage_record")).scalars()
        assert list(events) == ["triage.overridden"]
    # A suggestion is confirmed once; a resubmitted form still registers its order (the link is bookkeeping).
    again = client.post("/api/orders", json={"channel": "phone", "title": "x", "content": "路灯坏了", "request_type": "complaint",
                                             "triage_id": s["id"]}, headers=auth("operator"))
    assert again.status_code == 201
    with state.sessions() as db:
        record = db.execute(select(TriageRecord)).scalar_one()
        assert record.order_id is not None and record.decision["urgency"] == "urgent"
    # Someone else's suggestion is not linked either, and the order is registered all the same.
    other = client.post("/api/triage", json={"text": "路灯坏了"}, headers=auth("dispatcher")).json()
    assert client.post("/api/orders", json={"channel": "phone", "title": "y", "content": "路灯坏了", "request_type": "complaint",
                                            "triage_id": other["id"]}, headers=auth("operator")).status_code == 201
    with state.sessions() as db:
        assert db.get(TriageRecord, other["id"]).order_id is None
    assert order["number"]


def test_route_decision_for_a_transfer(state, client, auth):
    s = client.post("/api/triage", json={"text": "楼上好像有人在吵架，很凶"}, headers=auth("operator")).json()
    assert s["route"] == "ambiguous"
    r = client.post(f"/api/triage/{s['id']}/decision", json={"route": "110", "note": "三方通话后确认有家暴"},
                    headers=auth("operator"))
    assert r.status_code == 200, r.text
    assert r.json()["overridden"] == ["route"]
    # Another operator cannot confirm someone else's suggestion; 12345 is confirmed by registering an order.
    s2 = client.post("/api/triage", json={"text": "楼上吵架"}, headers=auth("operator")).json()
    assert client.post(f"/api/triage/{s2['id']}/decision", json={"route": "110"},
                       headers=auth("dispatcher")).status_code == 403
    assert client.post(f"/api/triage/{s2['id']}/decision", json={"route": "12345"},
                       headers=auth("operator")).status_code == 422
    assert client.post("/api/triage/999999/decision", json={"route": "110"}, headers=auth("operator")).status_code == 404


def test_roles_and_bad_input(client, auth):
    assert client.post("/api/triage", json={"text": "路灯坏了"}, headers=auth("staff_csgl")).status_code == 403
    assert client.post("/api/triage", json={"text": "路灯坏了"}).status_code == 401
    r = client.post("/api/triage", json={"text": "   "}, headers=auth("operator"))
    assert r.status_code == 422
    r = client.post("/api/triage", json={"text": "路灯", "unknown": 1}, headers=auth("operator"))
    assert r.status_code == 422


def test_model_endpoint_says_which_model(client, auth):
    r = client.get("/api/triage/model", headers=auth("operator"))
    assert r.status_code == 200
    assert r.json()["version"] == "builtin" and r.json()["parts"]["route"]["examples"] > 100


def test_duplicates_only_for_order_readers_and_phone_only_for_pii_roles(state, client, auth):
    register(client, auth, title="张三家门口路灯不亮")
    body = {"text": "人民中路一段路灯坏了一周，晚上很黑，请尽快修。", "caller_phone": "13900001111", "record": False}
    assert client.post("/api/triage", json=body, headers=auth("police")).json()["duplicates"] == []
    seen = client.post("/api/triage", json=body, headers=auth("supervisor")).json()["duplicates"]
    assert seen and all("同一来电人" not in d["reasons"] for d in seen)  # a supervisor does not see phones
    assert "同一来电人" in client.post("/api/triage", json=body, headers=auth("operator")).json()["duplicates"][0]["reasons"]


def test_decision_order_must_be_the_operators_own(state, client, auth, tokens):
    mine = register(client, auth)
    s = client.post("/api/triage", json={"text": "楼上有人喊救命"}, headers=auth("operator")).json()
    r = client.post(f"/api/triage/{s['id']}/decision", json={"route": "110", "order": mine["number"]},
                    headers=auth("operator"))
    assert r.status_code == 200
    s2 = client.post("/api/triage", json={"text": "楼上有人喊救命"}, headers=auth("dispatcher")).json()
    r = client.post(f"/api/triage/{s2['id']}/decision", json={"route": "110", "order": mine["number"]},
                    headers=auth("dispatcher"))
    assert r.status_code == 403
