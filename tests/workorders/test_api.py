"""The 工单 API end to end over HTTP: register, walk the lifecycle, refusals and their status codes."""

import logging

from tests.helpers import ORDER


def post(client, path, user, auth, json=None):
    return client.post(path, json=json or {}, headers=auth(user))


def test_register_and_walk_the_whole_lifecycle(client, auth):
    r = post(client, "/api/orders", "operator", auth, ORDER)
    assert r.status_code == 201, r.text
    order = r.json()
    number = order["number"]
    assert order["state"] == "awaiting_dispatch" and order["state_label"] == "待派单"
    assert order["owner_unit"]["code"] == "12345"
    assert {c["stage"] for c in order["clocks"]} == {"dispatch", "handle"}
    assert all(c["due_at"] for c in order["clocks"])

    def step(action, user, **body):
        current = client.get(f"/api/orders/{number}", headers=auth(user)).json()
        r = post(client, f"/api/orders/{number}/{action}", user, auth, {"version": current["version"], **body})
        assert r.status_code == 200, (action, r.text)
        return r.json()

    assert step("dispatch", "dispatcher", unit="csgl")["state"] == "dispatched"
    assert step("sign", "staff_csgl")["state"] == "signed"
    assert step("progress", "staff_csgl", note="已到现场")["state"] == "in_progress"
    assert step("request-extension", "staff_csgl", extra="3wd", reason="需要采购配件", basis="养护规定")["state"] \
        == "extension_requested"
    assert step("approve-extension", "supervisor")["extension_count"] == 1
    assert step("pause", "staff_csgl", reason="等群众补材料")["waiting_on_citizen"] is True
    assert step("resume", "staff_csgl")["waiting_on_citizen"] is False
    assert step("reply", "staff_csgl", content="已更换灯具，恢复照明。")["state"] == "replied"
    assert step("approve-reply", "dispatcher")["state"] == "awaiting_callback"
    assert step("callback", "callback", satisfaction=5, resolved=False)["state"] == "awaiting_callback"
    assert step("reopen", "callback", reason="群众反映仍不亮")["state"] == "reopened"
    assert step("sign", "staff_csgl")["state"] == "signed"
    assert step("reply", "staff_csgl", content="已再次维修。")["state"] == "replied"
    assert step("approve-reply", "dispatcher")["state"] == "awaiting_callback"
    closed = step("callback", "callback", satisfaction=1, resolved=True)
    assert closed["state"] == "closed" and closed["allowed_actions"] == []

    timeline = client.get(f"/api/orders/{number}/timeline", headers=auth("supervisor")).json()
    assert [t["action"] for t in timeline][:3] == ["order.registered", "order.dispatch", "order.sign"]
    assert timeline[-1]["to_state"] == "closed"
    assert all(t["actor"] and t["at"] for t in timeline)


def test_refusals_have_the_right_status_and_change_nothing(client, auth):
    number = post(client, "/api/orders", "operator", auth, ORDER).json()["number"]
    before = client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()
    events_before = len(client.get(f"/api/orders/{number}/timeline", headers=auth("dispatcher")).json())

    wrong_role = post(client, f"/api/orders/{number}/dispatch", "operator", auth,
                      {"version": before["version"], "unit": "csgl"})
    assert wrong_role.status_code == 403 and "派单" in wrong_role.json()["detail"]
    wrong_state = post(client, f"/api/orders/{number}/approve-reply", "dispatcher", auth,
                       {"version": before["version"]})
    assert wrong_state.status_code == 409 and wrong_state.json()["code"] == "invalid_transition"
    stale = post(client, f"/api/orders/{number}/dispatch", "dispatcher", auth,
                 {"version": before["version"] - 1, "unit": "csgl"})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    missing = post(client, f"/api/orders/{number}/dispatch", "dispatcher", auth, {"version": before["version"]})
    assert missing.status_code == 422 and missing.json()["field"] == "unit"
    unknown_unit = post(client, f"/api/orders/{number}/dispatch", "dispatcher", auth,
                        {"version": before["version"], "unit": "nope"})
    assert unknown_unit.status_code == 422 and "nope" in unknown_unit.json()["detail"]
    anonymous = client.post(f"/api/orders/{number}/dispatch", json={"version": 1, "unit": "csgl"})
    assert anonymous.status_code == 401

    after = client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()
    assert after == before
    assert len(client.get(f"/api/orders/{number}/timeline", headers=auth("dispatcher")).json()) == events_before


def test_return_needs_reason_and_legal_basis(client, auth):
    number = post(client, "/api/orders", "operator", auth, ORDER).json()["number"]
    v = client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()["version"]
    v = post(client, f"/api/orders/{number}/dispatch", "dispatcher", auth, {"version": v, "unit": "zjj"}).json()["version"]
    r = post(client, f"/api/orders/{number}/return", "staff_zjj", auth, {"version": v, "reason": "不归我们管"})
    assert r.status_code == 422 and r.json()["field"] == "basis"
    r = post(client, f"/api/orders/{number}/return", "staff_zjj", auth,
             {"version": v, "reason": "不归我们管", "basis": "  "})
    assert r.status_code == 422
    r = post(client, f"/api/orders/{number}/return", "staff_zjj", auth,
             {"version": v, "reason": "不属于住建职责", "basis": "市住建局三定方案"})
    assert r.status_code == 200 and r.json()["state"] == "return_requested"


def test_personal_data_is_masked_by_role(client, auth):
    number = post(client, "/api/orders", "operator", auth, ORDER).json()["number"]
    seen = {u: client.get(f"/api/orders/{number}", headers=auth(u)).json()
            for u in ("operator", "dispatcher", "callback", "supervisor", "leader", "admin")}
    for u in ("operator", "dispatcher", "callback"):
        assert seen[u]["caller_phone"] == "13812345678" and seen[u]["caller_name"] == "张三"
    for u in ("supervisor", "leader", "admin"):
        assert seen[u]["caller_phone"] == "138****5678" and seen[u]["caller_name"] == "张*"
        assert seen[u]["pii_masked"] is True


def test_unit_staff_see_pii_unless_confidential(client, auth):
    open_number = post(client, "/api/orders", "operator", auth, ORDER).json()["number"]
    secret = {**ORDER, "caller": {**ORDER["caller"], "confidential": True}}
    secret_number = post(client, "/api/orders", "operator", auth, secret).json()["number"]
    for number in (open_number, secret_number):
        v = client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()["version"]
        post(client, f"/api/orders/{number}/dispatch", "dispatcher", auth, {"version": v, "unit": "csgl"})
    assert client.get(f"/api/orders/{open_number}", headers=auth("staff_csgl")).json()["caller_phone"] == "13812345678"
    masked = client.get(f"/api/orders/{secret_number}", headers=auth("staff_csgl")).json()
    assert masked["caller_phone"] == "138****5678" and masked["caller_confidential"] is True


def test_unit_staff_see_only_their_units_orders(client, auth):
    mine = post(client, "/api/orders", "operator", auth, ORDER).json()["number"]
    other = post(client, "/api/orders", "operator", auth, ORDER).json()["number"]
    v = client.get(f"/api/orders/{mine}", headers=auth("dispatcher")).json()["version"]
    post(client, f"/api/orders/{mine}/dispatch", "dispatcher", auth, {"version": v, "unit": "csgl"})
    listed = client.get("/api/orders", headers=auth("staff_csgl")).json()
    assert [o["number"] for o in listed["items"]] == [mine] and listed["total"] == 1
    assert client.get(f"/api/orders/{other}", headers=auth("staff_csgl")).status_code == 403
    assert client.get("/api/orders", headers=auth("staff_zjj")).json()["total"] == 0
    assert client.get("/api/orders", headers=auth("police")).json()["total"] == 0


def test_caller_phone_never_reaches_the_logs(client, auth, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("civiclink.test").info("caller %s called", "13812345678")
    post(client, "/api/orders", "operator", auth, ORDER)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "13812345678" not in text
    assert "138****5678" in text


def test_list_filters_and_paging(client, auth):
    for _ in range(3):
        post(client, "/api/orders", "operator", auth, ORDER)
    post(client, "/api/orders", "operator", auth, {**ORDER, "category": "hjbh.zswr", "title": "夜间施工噪声"})
    page = client.get("/api/orders", params={"limit": 2}, headers=auth("dispatcher")).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    noise = client.get("/api/orders", params={"category": "hjbh"}, headers=auth("dispatcher")).json()
    assert noise["total"] == 1 and noise["items"][0]["title"] == "夜间施工噪声"
    chongchuan = client.get("/api/orders", params={"place": "320613"}, headers=auth("dispatcher")).json()
    assert chongchuan["total"] == 4
    street = page["items"][0]["place"]["code"]  # 和平桥街道, from the address: the 属地 itself counts too
    assert client.get("/api/orders", params={"place": street}, headers=auth("dispatcher")).json()["total"] == 4
    q = client.get("/api/orders", params={"q": "噪声"}, headers=auth("dispatcher")).json()
    assert q["total"] == 1


def test_validation_errors_are_clear(client, auth):
    r = post(client, "/api/orders", "operator", auth, {**ORDER, "request_type": "rant"})
    assert r.status_code == 422 and r.json()["field"] == "request_type"
    r = post(client, "/api/orders", "operator", auth, {**ORDER, "caller": {"phone": "call me"}})
    assert r.status_code == 422 and "电话" in r.json()["detail"]
    r = post(client, "/api/orders", "operator", auth, {**ORDER, "category": "nope"})
    assert r.status_code == 422 and r.json()["field"] == "category"
    r = post(client, "/api/orders", "operator", auth, {**ORDER, "place": "csgl"})
    assert r.status_code == 422 and "属地" in r.json()["detail"]
    assert client.get("/api/orders", headers=auth("dispatcher")).json()["total"] == 0


def test_nul_characters_are_refused_everywhere(client, auth):
    """PostgreSQL refuses NUL in text: it must be a clear 422 on every engine, never a 500."""
    r = post(client, "/api/orders", "operator", auth, {**ORDER, "title": "路灯\u0000不亮"})
    assert r.status_code == 422 and "空字符" in r.json()["detail"]
    r = client.get("/api/orders", params={"q": "a\u0000b"}, headers=auth("dispatcher"))
    assert r.status_code == 422
    r = client.post("/api/users", json={"username": "x1", "display_name": "a\u0000", "password": "long-enough-1",
                                        "roles": ["admin"]}, headers=auth("admin"))
    assert r.status_code == 422
