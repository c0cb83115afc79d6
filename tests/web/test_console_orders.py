"""Order pages of the console: each role's queue, the order detail with only the actions this user may take,
forms built from the API's body models, errors in Chinese next to the field with what was typed kept."""

import pytest
from tests.conftest import PASSWORD
from tests.helpers import console_login, register, to_signed

from civiclink.web.messages import t


@pytest.fixture
def signed_order(state, session, actors, client):
    """An order 城管 has signed for, with 城管's staff logged in."""
    order = to_signed(state.ctx(session), actors)
    session.commit()
    console_login(client, "staff_csgl")
    return order




def test_dispatcher_queue_dispatches_from_the_row(state, session, actors, client):
    ctx = state.ctx(session)
    order = register(ctx, actors)
    session.commit()
    console_login(client, "dispatcher")
    page = client.get("/queue/dispatch")
    assert page.status_code == 200, page.text
    assert order.number in page.text and t("queue.dispatch.title") in page.text
    r = client.post(f"/orders/{order.number}/act/dispatch",
                    data={"version": order.version, "unit": "csgl", "next": "/queue/dispatch"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/queue/dispatch")
    detail = client.get(f"/orders/{order.number}")
    assert detail.status_code == 200
    assert "已派单" in detail.text


def test_order_detail_shows_only_allowed_actions(signed_order, client):
    order = signed_order
    page = client.get(f"/orders/{order.number}")
    assert page.status_code == 200, page.text
    assert f'action="/orders/{order.number}/act/reply"' in page.text
    assert "/act/dispatch" not in page.text


def test_bad_form_keeps_what_was_typed(signed_order, client):
    order = signed_order
    r = client.post(f"/orders/{order.number}/act/return", data={"version": order.version, "reason": "不属于本单位职责范围"})
    assert r.status_code == 422
    assert "不属于本单位职责范围" in r.text and t("error.missing") in r.text


def test_intake_triage_panel_and_registration(state, session, client):
    console_login(client, "operator")
    page = client.get("/intake")
    assert page.status_code == 200 and t("intake.title") in page.text
    panel = client.post("/intake/triage", data={"content": "楼上邻居家里传出打斗声和呼救声，担心出事", "channel": "phone"})
    assert panel.status_code == 200 and 'data-route="110"' in panel.text
    r = client.post("/intake", data={"channel": "phone", "content": "小区门口路灯坏了一个星期，晚上很黑",
                                     "request_type": "help", "urgency": "normal", "submit": "true",
                                     "caller.phone": "13800000000"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    detail = client.get(r.headers["location"])
    assert "小区门口路灯坏了一个星期" in detail.text


def test_intake_error_keeps_the_text(client):
    console_login(client, "operator")
    r = client.post("/intake", data={"channel": "phone", "content": "", "title": "路灯", "request_type": "help",
                                     "caller.phone": "1" * 40})
    assert r.status_code == 422
    assert 'value="路灯"' in r.text and "field-error" in r.text


def _post(client, number, action, **data):
    page = client.get(f"/orders/{number}")
    version = int(page.text.split('name="version" value="', 1)[1].split('"', 1)[0])
    r = client.post(f"/orders/{number}/act/{action}", data={"version": version, **data}, follow_redirects=False)
    assert r.status_code == 303, r.text.split("notice error", 1)[-1][:300]
    return client.get(r.headers["location"])


def test_a_whole_12345_story_through_the_console(state, session, actors, client):
    """Dispatched, returned, re-dispatched, extended, replied, called back unsatisfied, reopened, closed — each
    step by the role whose page offers it, each form from the API's body model."""
    from civiclink.workorders.models import WorkOrder

    order = register(state.ctx(session), actors)
    session.commit()
    number = order.number

    def as_user(name):
        client.cookies.clear()
        return console_login(client, name)

    as_user("dispatcher")
    _post(client, number, "dispatch", unit="csgl")
    as_user("staff_csgl")
    _post(client, number, "sign")
    page = _post(client, number, "return", reason="路灯归属住建部门", basis="《南通市城市照明管理办法》第五条")
    assert "退单申请" in page.text
    as_user("dispatcher")
    page = client.get("/queue/dispatch")
    assert number in page.text
    _post(client, number, "dispatch", unit="zjj")  # 改派 approves the return
    as_user("staff_zjj")
    _post(client, number, "sign")
    _post(client, number, "request_extension", extra="5wd", reason="需更换电缆", basis="施工需协调供电部门")
    as_user("supervisor")
    assert number in client.get("/queue/supervise").text
    _post(client, number, "approve_extension")
    as_user("staff_zjj")
    _post(client, number, "reply", content="已更换电缆，路灯恢复照明。")
    as_user("dispatcher")
    _post(client, number, "approve_reply")
    as_user("callback")
    assert number in client.get("/queue/callback").text
    page = _post(client, number, "callback", method="phone", reached="true", satisfaction="4", resolved="false",
                 note="市民称只修好了一盏")
    as_user("supervisor")
    page = _post(client, number, "reopen", reason="市民不满意：仍有路灯不亮")
    assert "重办" in page.text
    as_user("staff_zjj")
    _post(client, number, "sign")  # 重办 comes back to the unit as a new piece of work
    _post(client, number, "reply", content="其余路灯的电缆也已更换，全部恢复照明。")
    as_user("dispatcher")
    _post(client, number, "approve_reply")
    as_user("callback")
    page = _post(client, number, "callback", method="phone", reached="true", satisfaction="2", resolved="true")
    # A satisfied call-back closes the order itself: no 办结 left to do by hand.
    assert f"/orders/{number}/act/close" not in page.text and "已办结" in page.text
    session.expire_all()
    final = session.query(WorkOrder).filter_by(number=number).one()
    assert final.state == "closed"
    assert final.reopen_count == 1 and final.return_count == 1 and final.extension_count == 1
    # The timeline shows every step with who did it.
    timeline = page.text.split(t("order.timeline"), 1)[1]
    for word in ("派单", "退单", "申请延期", "批准延期", "答复", "回访", "重办"):
        assert word in timeline, word


def test_pages_a_role_may_not_use(client):
    console_login(client, "staff_csgl")
    assert client.get("/queue/dispatch").status_code == 403
    assert client.get("/intake").status_code == 403
    home = client.get("/")
    assert 'href="/queue/unit"' in home.text and 'href="/queue/dispatch"' not in home.text
    assert 'href="/admin"' not in home.text


def test_stale_version_is_refused_and_the_typed_text_kept(signed_order, client):
    order = signed_order
    r = client.post(f"/orders/{order.number}/act/progress", data={"version": order.version - 1,
                                                                  "note": "已联系施工队"})
    assert r.status_code == 409
    assert "已联系施工队" in r.text


def test_queue_needs_login_and_comes_back_after_it(client):
    r = client.get("/queue/dispatch", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fqueue%2Fdispatch"
    # The triage panel of an expired session must not navigate away from what the operator is typing.
    r = client.post("/intake/triage", data={"content": "路灯坏了"}, headers={"HX-Request": "true"},
                    follow_redirects=False)
    assert r.status_code == 200 and "HX-Redirect" not in r.headers
    assert t("login.expired_fragment") in r.text and 'target="_blank"' in r.text
    # A form posted after the session expired comes back to the page it was posted from, after the login.
    r = client.post("/orders/NT1/act/reply", data={"version": 1, "content": "已处理"}, follow_redirects=False,
                    headers={"Referer": "http://testserver/orders/NT1"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Forders%2FNT1"


def test_forms_posted_from_another_origin_are_refused(client):
    console_login(client, "operator")
    for headers in ({"Origin": "http://127.0.0.1:8110"}, {"Sec-Fetch-Site": "same-site"}):
        r = client.post("/intake", data={"channel": "phone", "content": "路灯坏了", "request_type": "help"},
                        headers=headers, follow_redirects=False)
        assert r.status_code == 403 and t("error.cross_site") in r.text, headers
    r = client.post("/login", data={"username": "operator", "password": PASSWORD},
                    headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    same = client.post("/intake", data={"channel": "phone", "content": "小区路灯坏了", "request_type": "help",
                                        "submit": "false"},
                       headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
                       follow_redirects=False)
    assert same.status_code == 303


def test_register_only_keeps_the_order_unsubmitted(state, session, client):
    """仅登记: the button's submit=false wins over the form's default."""
    from sqlalchemy import select

    from civiclink.workorders.models import WorkOrder

    console_login(client, "operator")
    r = client.post("/intake", data={"channel": "phone", "content": "咨询公积金提取", "request_type": "consultation",
                                     "submit": ["true", "false"]}, follow_redirects=False)
    assert r.status_code == 303, r.text[-800:]
    assert session.execute(select(WorkOrder.state)).scalar_one() == "registered"


def test_a_matter_for_another_channel_is_referred_without_an_order(state, session, client):
    from sqlalchemy import func, select

    from civiclink.triage.models import TriageRecord
    from civiclink.workorders.models import WorkOrder

    console_login(client, "operator")
    text = "我要起诉前夫，法院判决他不执行，想申请强制执行"
    panel = client.post("/intake/triage", data={"content": text, "channel": "phone"})
    assert 'data-route="not_accepted"' in panel.text
    page = client.post("/intake", data={"channel": "phone", "content": text, "request_type": "help", "then": "refer"})
    assert page.status_code == 200 and "未生成工单" in page.text
    session.expire_all()
    assert session.execute(select(func.count()).select_from(WorkOrder)).scalar() == 0
    record = session.execute(select(TriageRecord)).scalars().one()
    assert record.decision["route"] == "not_accepted" and record.order_id is None


def test_one_click_transfer_registers_and_transfers_in_one_step(state, session, client):
    from sqlalchemy import select

    from civiclink.linkage.models import Transfer
    from civiclink.triage.models import TriageRecord
    from civiclink.workorders.models import WorkOrder

    console_login(client, "operator")
    text = "楼上邻居家里传出打斗声和呼救声，担心出事"
    r = client.post("/intake", data={"channel": "phone", "content": text, "request_type": "help",
                                     "urgency": "emergency", "then": "transfer_110", "consent": ["false", "true"]},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[-1500:]
    session.expire_all()
    order = session.execute(select(WorkOrder)).scalars().one()
    assert order.state == "transferred_to_110"
    transfer = session.execute(select(Transfer).where(Transfer.order_id == order.id)).scalars().one()
    assert transfer.channel == "one_click" and transfer.direction == "out"
    record = session.execute(select(TriageRecord)).scalars().one()
    assert record.decision["route"] == "110" and record.order_id == order.id
    assert "已转110" in client.get(r.headers["location"]).text


def test_close_at_intake_with_a_knowledge_answer(state, session, client):
    from sqlalchemy import select

    from civiclink.sites import load_starter_knowledge
    from civiclink.workorders.models import WorkOrder

    load_starter_knowledge(state.ctx(session))
    session.commit()
    console_login(client, "operator")
    code = "kb.guide.noise"
    r = client.post("/intake", data={"channel": "phone", "content": "噪音扰民应该打哪个电话",
                                     "request_type": "consultation", "close_with": code}, follow_redirects=False)
    assert r.status_code == 303, r.text[-1500:]
    session.expire_all()
    order = session.execute(select(WorkOrder)).scalars().one()
    assert order.state == "closed_at_intake" and order.intake_knowledge_code == code


def test_three_party_call_started_and_concluded_from_the_order_page(state, session, actors, client):
    from sqlalchemy import select

    from civiclink.linkage.models import Consultation

    order = register(state.ctx(session), actors)
    session.commit()
    console_login(client, "operator")
    r = client.post(f"/orders/{order.number}/consult", data={"summary": "来电人称与邻居争执，协商由谁受理"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert t("done.consult") in page.text and t("consult.conclude") in page.text
    again = client.post(f"/orders/{order.number}/consult", data={})
    assert again.status_code == 409 and "进行中的三方通话" in again.text
    consultation = session.execute(select(Consultation)).scalars().one()
    session.rollback()  # end this read transaction: the next read must see the page's write
    r = client.post(f"/orders/{order.number}/consult/{consultation.id}",
                    data={"outcome": "first_receiver", "note": "110认为不属警情"}, follow_redirects=False)
    assert r.status_code == 303, r.text.split("notice error", 1)[-1][:300]
    session.rollback()
    assert session.execute(select(Consultation.outcome)).scalar_one() == "first_receiver"


def test_supervise_board_ranks_the_unit_that_returned(state, session, actors, client):
    from tests.helpers import act

    from civiclink.workorders.states import Action

    ctx = state.ctx(session)
    order = to_signed(ctx, actors)  # 城管 signed …
    act(ctx, order, Action.RETURN, actors["staff_csgl"], reason="不属本单位", basis="职责清单")
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="zjj")  # … returned; 改派 to 住建
    session.commit()
    console_login(client, "supervisor")
    page = client.get("/queue/supervise").text
    import re

    ranking = page.split(t("supervise.ranking"), 1)[1]
    numbers = {}  # unit name → [red, returns in 30 days, open]
    for row in re.findall(r"<tr><td>(.*?)</tr>", ranking, flags=re.DOTALL):
        name = row.split("</td>", 1)[0]
        numbers[name] = [int(n) for n in re.findall(r'<td class="num[^"]*">(\d+)</td>', row)]
    csgl = next(v for k, v in numbers.items() if "城市管理" in k)
    zjj = next(v for k, v in numbers.items() if "住房" in k)
    assert csgl == [0, 1, 0]  # the return counts against 城管, who asked for it; it has nothing open now
    assert zjj == [0, 0, 1]


def test_a_reply_refused_because_a_colleague_replied_first_keeps_its_text(state, session, actors, signed_order,
                                                                            client):
    from tests.helpers import act

    from civiclink.workorders.states import Action

    stale_version = signed_order.version
    act(state.ctx(session), signed_order, Action.REPLY, actors["staff_csgl"], content="同事已答复：已修复。")
    session.commit()
    r = client.post(f"/orders/{signed_order.number}/act/reply",
                    data={"version": stale_version, "content": "我写了很长的答复：路灯线路老化，已全部更换。"})
    assert r.status_code == 409
    assert "我写了很长的答复：路灯线路老化，已全部更换。" in r.text  # not lost, though 答复 is no longer offered
    assert t("form.unsent", action="答复") in r.text


def test_a_returned_order_is_not_dispatched_from_the_row(state, session, actors, signed_order, client):
    from tests.helpers import act

    from civiclink.workorders.states import Action

    act(state.ctx(session), signed_order, Action.RETURN, actors["staff_csgl"], reason="不属本单位", basis="职责清单")
    session.commit()
    console_login(client, "dispatcher")
    page = client.get("/queue/dispatch").text
    row = page.split(signed_order.number, 1)[1].split("</tr>", 1)[0]
    assert "/act/dispatch" not in row and f'href="/orders/{signed_order.number}"' in page


def test_bad_addresses_get_a_chinese_page_not_json(client):
    console_login(client, "dispatcher")
    for path, status, key in (("/queue/dispatch?page=abc", 422, "error.bad_request_page"),
                              ("/orders?page=99999999999999", 422, "error.bad_request_page"),
                              ("/no-such-page", 404, "error.not_found_page"),
                              ("/orders/NT1/act/reply", 405, "error.method_page")):
        r = client.get(path)
        assert r.status_code == status and t(key) in r.text and r.headers["content-type"].startswith("text/html"), path
    assert client.get("/api/orders?limit=abc").headers["content-type"] == "application/json"  # the API keeps JSON
    r = client.post("/orders/NO-SUCH/act/sign", data={"version": 1})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
