"""A hand-built morning of calls (seven calls, 26 CTI events) posted through the API, for the call-record tests
and the 话务 page's (a pytest plugin: tests/conftest.py lists it). The expected figures are in
tests/callcentre/test_calls.py."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from tests.conftest import PASSWORD
from tests.helpers import register

from civiclink.callcentre.models import Call
from civiclink.db import begin_write
from civiclink.orgs.actions import do_create_user, do_issue_token
from civiclink.orgs.models import User
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.orgs.schemas import UserCreate

TZ = ZoneInfo("Asia/Shanghai")
DAY = "2026-03-18"


def t(hms: str) -> str:
    return datetime.fromisoformat(f"{DAY}T{hms}").replace(tzinfo=TZ).isoformat()


A, B, C, D, E = "13800000001", "13800000002", "13800000003", "13800000004", "13800000005"


def log(order_number: str) -> list[dict]:
    """Seven calls of one morning (see the expected figures in the test below)."""
    def ev(call, kind, hms, **kw):
        return {"call_id": call, "type": kind, "at": t(hms), "line": "12345", **kw}
    return [
        # c1: A, answered after 8 s by team A, 3 minutes, a 工单 registered.
        ev("c1", "offered", "09:00:00", caller=A), ev("c1", "queued", "09:00:02", team="A"),
        ev("c1", "answered", "09:00:10", agent="operator", team="A", order=order_number),
        ev("c1", "hung_up", "09:03:10"),
        # c2: B gives up after 30 s (team B's queue) …
        ev("c2", "offered", "09:10:00", caller=B), ev("c2", "queued", "09:10:01", team="B"),
        ev("c2", "abandoned", "09:10:31"),
        # c3: … and redials 10 minutes later: answered after 20 s (not within 15 s).
        ev("c3", "offered", "09:20:00", caller=B), ev("c3", "queued", "09:20:01", team="B"),
        ev("c3", "answered", "09:20:21", agent="operator", team="B"), ev("c3", "hung_up", "09:25:21"),
        # c4: C hangs up within 3 s: a short abandon, not a call wanting a person.
        ev("c4", "offered", "10:00:00", caller=C), ev("c4", "queued", "10:00:00"), ev("c4", "abandoned", "10:00:03"),
        # c5: D gives up after 40 s and does not call again: waits for a call-back.
        ev("c5", "offered", "11:00:00", caller=D), ev("c5", "queued", "11:00:01"), ev("c5", "abandoned", "11:00:41"),
        # c6: E answered after 5 s, 一键转接 110.
        ev("c6", "offered", "11:30:00", caller=E), ev("c6", "queued", "11:30:00", team="A"),
        ev("c6", "answered", "11:30:05", agent="operator", team="A"),
        ev("c6", "transferred", "11:31:00", target="110"), ev("c6", "hung_up", "11:32:00"),
        # c7: A again at noon (the earlier call was answered: a first attempt), answered after 3 s.
        ev("c7", "offered", "12:00:00", caller=A), ev("c7", "queued", "12:00:00", team="A"),
        ev("c7", "answered", "12:00:03", agent="operator", team="A"), ev("c7", "hung_up", "12:04:03"),
    ]


@pytest.fixture
def cti_auth(state, auth):
    """auth() that also knows "cti", the telephony adapter's account."""
    s = state.sessions()
    begin_write(s)
    now = datetime.now(UTC)
    do_create_user(s, UserCreate(username="cti", display_name="CTI", password=PASSWORD, roles=[Role.CTI]),
                   actor=SYSTEM, now=now)
    s.flush()
    user = s.execute(select(User).where(User.username == "cti")).scalar_one()
    token, _ = do_issue_token(s, user, secret=state.settings.secret_key.get_secret_value(), now=now,
                              ttl=state.settings.token_ttl)
    s.commit()
    s.close()
    return lambda username: {"Authorization": f"Bearer {token}"} if username == "cti" else auth(username)


@pytest.fixture
def calls(state, session, actors, client, cti_auth):
    """The log posted in two batches, the second first (out of order), then the first batch again (resent)."""
    order = register(state.ctx(session), actors)
    session.commit()
    events = log(order.number)
    first, second = events[:12], events[12:]
    r = client.post("/api/calls/events", json={"events": second}, headers=cti_auth("cti"))
    assert r.status_code == 201, r.text
    r = client.post("/api/calls/events", json={"events": first}, headers=cti_auth("cti"))
    assert r.status_code == 201 and r.json()["recorded"] == 12
    again = client.post("/api/calls/events", json={"events": first}, headers=cti_auth("cti"))
    assert again.status_code == 200 and again.json() | {"batch": ""} == {
        "batch": "", "received": 12, "recorded": 0, "duplicates": 12, "calls": 0}
    session.rollback()
    return {c.call_ref: c for c in session.execute(select(Call)).scalars()}, order
