"""对接记录 and 审计 pages: who may open them, what they show (the chain's verdict; overdue pushes in red)."""

from tests.helpers import act, console_login, register

from civiclink.web.messages import t
from civiclink.workorders.states import Action


def test_transfers_page_lists_a_transfer_with_its_order(state, session, actors, client):
    ctx = state.ctx(session)
    order = register(ctx, actors)
    act(ctx, order, Action.TRANSFER_TO_110, actors["operator"], reason="涉嫌违法犯罪", consent=True)
    session.commit()
    console_login(client, "dispatcher")
    page = client.get("/transfers")
    assert page.status_code == 200 and f'href="/orders/{order.number}"' in page.text
    assert "12345→110" in page.text
    assert client.get("/transfers?direction=in").text.count(f'href="/orders/{order.number}"') == 0
    console_login(client, "staff_csgl")
    assert client.get("/transfers").status_code == 403


def test_audit_page_verifies_the_chain_for_supervisors_only(state, session, actors, client):
    register(state.ctx(session), actors)
    session.commit()
    console_login(client, "supervisor")
    page = client.get("/audit")
    assert page.status_code == 200 and "order.registered" in page.text and "审计链完整" not in page.text
    assert "审计链完整" in client.get("/audit?verify=true").text  # walked only when asked
    assert "13812345678" not in page.text and "张三" not in page.text  # no caller in the events
    console_login(client, "dispatcher")
    r = client.get("/audit")
    assert r.status_code == 403 and t("audit.forbidden") in r.text
    assert 'href="/audit"' not in client.get("/").text
