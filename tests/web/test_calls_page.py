"""The 话务 page: KPI tiles for readers of figures, the 漏接回拨 list with its form for those who call back (a
refusal shown next to the call, nothing lost), the masked numbers for others, and its place in the menu."""

from __future__ import annotations

from tests.callcentre.story import DAY, D
from tests.helpers import console_login

from civiclink.callcentre.models import Call


def test_callback_from_the_page(calls, client, session):
    console_login(client, "callback")
    page = client.get("/calls", params={"start": DAY})
    assert page.status_code == 200 and "待回拨的漏接电话" in page.text and D in page.text
    assert "一次接通率" not in page.text  # a 回访员 does not read the figures
    call = session.query(Call).filter_by(call_ref="c5").one()
    stale = client.post(f"/calls/{call.id}/callback", data={"version": call.version + 1, "result": "called_back",
                                                            "note": "打过去了", "start": DAY})
    assert stale.status_code == 409 or (stale.status_code == 422 and "已被他人更新" in stale.text)
    bad = client.post(f"/calls/{call.id}/callback", data={"version": call.version, "result": "maybe", "start": DAY})
    assert bad.status_code == 422 and "warn-red" in bad.text
    done = client.post(f"/calls/{call.id}/callback", follow_redirects=False,
                       data={"version": call.version, "result": "called_back", "note": "已回拨", "start": DAY})
    assert done.status_code == 303 and "done=call_callback" in done.headers["location"]
    after = client.get(done.headers["location"])
    assert "回拨结果已登记" in after.text and "没有待回拨的漏接电话" in after.text


def test_leader_sees_figures_and_masked_numbers(calls, client):
    console_login(client, "leader")
    page = client.get("/calls", params={"start": DAY})
    assert page.status_code == 200
    assert "一次接通率" in page.text and "60.00%" in page.text and "3 / 5" in page.text
    assert D not in page.text  # masked: a leader does not talk to callers
    assert 'action="/calls/' not in page.text  # and records no call-backs
    assert 'href="/calls"' in client.get("/").text


def test_unit_staff_may_not_read_calls(client):
    console_login(client, "staff_csgl")
    assert client.get("/calls").status_code == 403
    assert 'href="/calls"' not in client.get("/").text
