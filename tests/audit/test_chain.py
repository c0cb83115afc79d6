"""The audit hash chain against tampering done directly in the database (R-507, issue "audit").

Each test commits a realistic history (several orders through their lifecycle, a merge, a new user) and then
edits, deletes or reorders rows with plain SQL on a separate connection, as someone with database access
would. ``verify_chain`` (and the API route and CLI command on top of it) must name the first broken event.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from tests.helpers import ORDER, act, register, to_awaiting_callback, to_signed
from typer.testing import CliRunner

from civiclink.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from civiclink.audit.service import compute_hash, verify_chain
from civiclink.errors import Forbidden, Invalid, InvalidTransition, StaleVersion
from civiclink.orgs.actions import do_create_user
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.orgs.schemas import UserCreate
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action

EVENTS = AuditEvent.__table__
HEAD = AuditHead.__table__
REPLY_TEXT = "已更换线路，路灯恢复。"


# -- helpers -------------------------------------------------------------------------------------------------


def build_history(ctx, session, actors) -> dict[str, WorkOrder]:
    """A realistic day: several orders and actions, committed in several transactions."""
    closed = to_awaiting_callback(ctx, actors)  # registered, dispatch, sign, reply, approve_reply
    session.commit()
    act(ctx, closed, Action.CALLBACK, actors["callback"], satisfaction=1, resolved=True)
    session.commit()

    working = to_signed(ctx, actors, title="和平桥小区垃圾清运不及时")
    act(ctx, working, Action.PROGRESS, actors["staff_csgl"], note="已联系环卫所")
    act(ctx, working, Action.URGE, actors["dispatcher"], note="群众再次来电")
    session.commit()

    duplicate = register(ctx, actors, title="和平桥小区垃圾没人收")
    act(ctx, duplicate, Action.MERGE, actors["operator"], into=working.number)
    session.commit()

    returned = register(ctx, actors, title="违章搭建")
    act(ctx, returned, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    act(ctx, returned, Action.RETURN, actors["staff_zjj"], reason="不属于住建职责", basis="三定方案")
    act(ctx, returned, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    session.commit()

    do_create_user(session, UserCreate(username="new_agent", display_name="新话务员", password="long-enough-1",
                                       roles=[Role.OPERATOR], unit_code="12345"), actor=SYSTEM, now=ctx.now)
    session.commit()
    return {"closed": closed, "working": working, "duplicate": duplicate, "returned": returned}


def rows(state) -> list[dict]:
    """Every event as a plain dict, in seq order, read on a fresh connection."""
    with state.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(EVENTS).order_by(EVENTS.c.seq)).mappings()]


def head(state) -> tuple[int, str] | None:
    with state.engine.connect() as conn:
        row = conn.execute(select(HEAD.c.last_seq, HEAD.c.last_hash).where(HEAD.c.id == 1)).first()
    return tuple(row) if row else None


def event_count(state) -> int:
    with state.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(EVENTS)).scalar_one()


def tamper(state, *statements) -> None:
    """Change the database behind the application's back, in one committed transaction."""
    with state.engine.begin() as conn:
        for stmt in statements:
            conn.execute(stmt)


def verify(state):
    with state.sessions() as s:
        return verify_chain(s)


def swap_seqs(state, a: int, b: int) -> None:
    """Exchange two events' seq values; a temporary seq dodges the unique constraint."""
    parking = -1_000_000
    tamper(
        state,
        update(EVENTS).where(EVENTS.c.seq == a).values(seq=parking),
        update(EVENTS).where(EVENTS.c.seq == b).values(seq=a),
        update(EVENTS).where(EVENTS.c.seq == parking).values(seq=b),
    )


def first(events, action: str) -> dict:
    return next(e for e in events if e["action"] == action)


@pytest.fixture
def history(ctx, session, actors, state):
    """The committed history and its events."""
    orders = build_history(ctx, session, actors)
    events = rows(state)
    assert len(events) >= 15, "the history should be long enough to tamper in the middle of"
    assert verify(state).ok
    return orders, events


# -- (f) an untouched chain ----------------------------------------------------------------------------------


def test_untouched_chain_is_ok_and_checks_every_event(history, state):
    _orders, events = history
    result = verify(state)
    assert result.ok is True
    assert result.checked == len(events) == event_count(state)
    assert result.last_seq == len(events)
    assert result.problem is None and result.bad_seq is None and result.bad_id is None
    # The structure, checked independently of verify_chain: contiguous seqs, linked hashes, anchored head.
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    assert head(state) == (len(events), events[-1]["hash"])


def test_hashes_recompute_after_a_database_round_trip(history, state):
    _orders, events = history
    with state.sessions() as s:
        for ev in s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars():
            assert compute_hash(ev, ev.prev_hash) == ev.hash, ev


def test_empty_database_verifies_ok(state):
    result = verify(state)
    assert result.ok and result.checked == 0 and result.last_seq == 0


def test_the_history_is_recorded_action_by_action(history, state):
    orders, events = history
    working = [e["action"] for e in events if e["entity_ref"] == orders["working"].number]
    assert working == ["order.registered", "order.dispatch", "order.sign", "order.progress", "order.urge",
                       "order.duplicate_merged"]
    assert first(events, "order.reply")["data"]["content"] == REPLY_TEXT
    assert first(events, "user.created")["actor_name"] == "system"


# -- (a) an edited event -------------------------------------------------------------------------------------


def _edit_reply_text(e):
    return {"data": {**e["data"], "content": "已处理完毕。"}}


EDITS = {
    "reply-text": ("order.reply", _edit_reply_text),
    "actor-name": ("order.dispatch", lambda e: {"actor_name": "someone_else"}),
    "actor-role": ("order.approve_reply", lambda e: {"actor_role": "supervisor"}),
    "to-state": ("order.callback", lambda e: {"to_state": "awaiting_callback"}),
    "occurred-at": ("order.sign", lambda e: {"occurred_at": e["occurred_at"] - timedelta(hours=3)}),
    "entity-ref": ("order.merge", lambda e: {"entity_ref": "NT20000101-000001"}),
    "return-reason": ("order.return", lambda e: {"data": {**e["data"], "basis": "无"}}),
    "user-roles": ("user.created", lambda e: {"data": {**e["data"], "roles": ["admin"]}}),
}


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_edited_event_is_named_as_tampered(history, state, edit):
    _orders, events = history
    action, change = EDITS[edit]
    target = first(events, action)
    tamper(state, update(EVENTS).where(EVENTS.c.id == target["id"]).values(**change(target)))

    result = verify(state)
    assert result.ok is False
    assert result.bad_seq == target["seq"]
    assert result.bad_id == target["id"]
    assert "篡改" in result.problem and f"第 {target['seq']} 号" in result.problem
    assert result.checked == target["seq"] - 1


@pytest.mark.parametrize("where", ["first", "last"])
def test_edits_at_either_end_are_found(history, state, where):
    _orders, events = history
    target = events[0] if where == "first" else events[-1]
    tamper(state, update(EVENTS).where(EVENTS.c.id == target["id"]).values(actor_name="mallory"))
    result = verify(state)
    assert not result.ok
    assert result.bad_seq == target["seq"] and "篡改" in result.problem


def test_edit_with_its_own_hash_recomputed_is_still_found(history, state):
    """Recomputing the edited event's own hash does not help: its successor no longer links to it."""
    _orders, events = history
    target = first(events, "order.reply")
    with state.sessions() as s:
        ev = s.get(AuditEvent, target["id"])
        ev.data = {**ev.data, "content": "已处理完毕。"}
        new_hash = compute_hash(ev, ev.prev_hash)
        s.rollback()
    tamper(state, update(EVENTS).where(EVENTS.c.id == target["id"])
           .values(data={**target["data"], "content": "已处理完毕。"}, hash=new_hash))
    result = verify(state)
    assert not result.ok
    assert result.bad_seq in (target["seq"], target["seq"] + 1)


# -- (b) a deleted event -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 3], ids=["one", "three-in-a-row"])
def test_deleted_middle_events_are_named_by_the_gap(history, state, count):
    _orders, events = history
    gap = len(events) // 2
    tamper(state, delete(EVENTS).where(EVENTS.c.seq.between(gap, gap + count - 1)))

    result = verify(state)
    assert result.ok is False
    assert f"应为第 {gap} 号" in result.problem and "删除" in result.problem
    # The first event present after the gap is the one reported.
    after = events[gap + count - 1]
    assert result.bad_seq == after["seq"] == gap + count
    assert result.bad_id == after["id"]
    assert result.checked == gap - 1


def test_deleted_first_event_is_found(history, state):
    _orders, events = history
    tamper(state, delete(EVENTS).where(EVENTS.c.seq == 1))
    result = verify(state)
    assert not result.ok
    assert "应为第 1 号" in result.problem and "删除" in result.problem
    assert result.bad_seq == 2 and result.checked == 0


def test_deleted_event_with_later_seqs_shifted_down_is_found(history, state):
    """Closing the gap by renumbering the later events breaks their hashes (the seq is hashed)."""
    _orders, events = history
    gap = len(events) // 2
    statements = [delete(EVENTS).where(EVENTS.c.seq == gap)]
    statements += [update(EVENTS).where(EVENTS.c.seq == e["seq"]).values(seq=e["seq"] - 1) for e in events[gap:]]
    statements.append(update(HEAD).where(HEAD.c.id == 1).values(last_seq=len(events) - 1))
    tamper(state, *statements)
    result = verify(state)
    assert not result.ok
    assert result.bad_seq == gap


# -- (c) reordered events ------------------------------------------------------------------------------------


@pytest.mark.parametrize("distance", [1, 3], ids=["adjacent", "three-apart"])
def test_swapped_events_are_named_at_the_first_position(history, state, distance):
    _orders, events = history
    a = len(events) // 2 - 1
    b = a + distance
    swap_seqs(state, a, b)

    result = verify(state)
    assert result.ok is False
    assert result.bad_seq == a
    assert result.bad_id == events[b - 1]["id"]  # the row now sitting at position a
    assert "调换" in result.problem and f"第 {a} 号位置" in result.problem
    assert result.checked == a - 1


@pytest.mark.parametrize(
    ("a", "b"), [(5, 8), (5, 6), (1, 2)], ids=["three-apart", "adjacent", "adjacent-at-start"]
)
def test_swap_message_names_where_the_event_came_from(history, state, a, b):
    """The row at position a came from position b; the message must say so (原本在第 b 号)."""
    swap_seqs(state, a, b)
    result = verify(state)
    assert not result.ok and result.bad_seq == a
    assert f"原本在第 {b} 号" in result.problem, result.problem


# -- (d) truncated tail --------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2])
def test_deleted_last_events_are_found_through_the_head(history, state, count):
    _orders, events = history
    n = len(events)
    tamper(state, delete(EVENTS).where(EVENTS.c.seq > n - count))

    result = verify(state)
    assert result.ok is False
    assert "链尾缺少事件" in result.problem
    assert f"链头记录到第 {n} 号" in result.problem and f"实际只到第 {n - count} 号" in result.problem
    assert result.bad_seq == n - count + 1
    assert result.checked == n - count


def test_all_events_deleted_is_found(history, state):
    _orders, events = history
    tamper(state, delete(EVENTS))
    result = verify(state)
    assert not result.ok and result.checked == 0 and result.bad_seq == 1
    assert f"链头记录到第 {len(events)} 号" in result.problem


def test_truncated_tail_with_head_seq_rolled_back_is_found(history, state):
    """Deleting the last event and lowering the head's seq still leaves the head's hash pointing at it."""
    _orders, events = history
    n = len(events)
    tamper(state, delete(EVENTS).where(EVENTS.c.seq == n),
           update(HEAD).where(HEAD.c.id == 1).values(last_seq=n - 1))
    result = verify(state)
    assert not result.ok
    assert "链头" in result.problem
    assert result.bad_seq == n - 1


def test_missing_head_is_found(history, state):
    tamper(state, delete(HEAD))
    result = verify(state)
    assert not result.ok and "链头" in result.problem


# -- (e) edited hashes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["prev_hash", "hash"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_edited_hash_columns_are_found(history, state, column, where):
    _orders, events = history
    target = {"first": events[0], "middle": events[len(events) // 2], "last": events[-1]}[where]
    tamper(state, update(EVENTS).where(EVENTS.c.id == target["id"]).values({column: "f" * 64}))

    result = verify(state)
    assert result.ok is False
    assert result.bad_seq == target["seq"]
    assert "篡改" in result.problem


def test_edited_head_hash_is_found(history, state):
    _orders, events = history
    tamper(state, update(HEAD).where(HEAD.c.id == 1).values(last_hash="e" * 64))
    result = verify(state)
    assert not result.ok and "链头" in result.problem
    assert result.checked == len(events)


# -- (g) refused actions leave no trace ----------------------------------------------------------------------


REFUSALS = {
    # kind: (order, expected error, attempt)
    "wrong-role": ("returned", Forbidden, lambda ctx, o, a: act(ctx, o, Action.DISPATCH, a["operator"], unit="csgl")),
    "wrong-unit": ("returned", Forbidden, lambda ctx, o, a: act(ctx, o, Action.SIGN, a["staff_zjj"])),
    "stale-version": ("returned", StaleVersion,
                      lambda ctx, o, a: act(ctx, o, Action.SIGN, a["staff_csgl"], version=o.version - 1)),
    "wrong-state": ("returned", InvalidTransition,
                    lambda ctx, o, a: act(ctx, o, Action.APPROVE_REPLY, a["dispatcher"])),
    "guard": ("working", InvalidTransition, lambda ctx, o, a: act(ctx, o, Action.RESUME, a["staff_csgl"])),
    "invalid-input": ("returned", Invalid,
                      lambda ctx, o, a: act(ctx, o, Action.MERGE, a["dispatcher"], into=o.number)),
}


@pytest.mark.parametrize("kind", list(REFUSALS), ids=list(REFUSALS))
def test_refused_action_leaves_the_chain_unchanged(history, ctx, session, actors, state, kind):
    orders, _events = history
    key, error, attempt = REFUSALS[kind]
    order = orders[key]
    before_head, before_count = head(state), event_count(state)
    before_version, before_state = order.version, order.state

    with pytest.raises(error):
        attempt(ctx, order, actors)
    # Committing after the refusal would seal anything the refused action had queued.
    session.commit()

    assert head(state) == before_head
    assert event_count(state) == before_count
    assert order.version == before_version and order.state == before_state
    assert verify(state).ok


def test_refused_merge_into_a_closed_order_leaves_the_chain_unchanged(history, ctx, session, actors, state):
    orders, _events = history
    before_head, before_count = head(state), event_count(state)
    with pytest.raises(InvalidTransition):
        act(ctx, orders["returned"], Action.MERGE, actors["dispatcher"], into=orders["closed"].number)
    session.commit()
    assert head(state) == before_head and event_count(state) == before_count


def test_refused_http_actions_leave_the_chain_unchanged(history, client, auth, state):
    orders, _events = history
    number = orders["returned"].number
    version = client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()["version"]
    before_head, before_count = head(state), event_count(state)

    attempts = [
        ("dispatch", "operator", {"version": version, "unit": "csgl"}, 403),  # wrong role
        ("sign", "staff_zjj", {"version": version}, 403),  # wrong unit
        ("sign", "staff_csgl", {"version": version - 1}, 409),  # stale version
        ("approve-reply", "dispatcher", {"version": version}, 409),  # wrong state
        ("dispatch", "leader", {"version": version, "unit": "csgl"}, 403),
        ("merge", "dispatcher", {"version": version, "into": orders["closed"].number}, 409),
    ]
    for action, user, body, status in attempts:
        r = client.post(f"/api/orders/{number}/{action}", json=body, headers=auth(user))
        assert r.status_code == status, (action, user, r.text)
        assert head(state) == before_head, (action, user)
        assert event_count(state) == before_count, (action, user)
    assert client.get(f"/api/orders/{number}", headers=auth("dispatcher")).json()["version"] == version


def test_rolled_back_savepoint_keeps_the_events_queued_before_it(ctx, session, actors, state):
    """A failed step inside a savepoint (the demo seeder's pattern) must drop only its own events."""
    order = register(ctx, actors)  # queues order.registered in the outer transaction
    savepoint = session.begin_nested()
    with pytest.raises(Forbidden):
        act(ctx, order, Action.DISPATCH, actors["operator"], unit="csgl")
    savepoint.rollback()
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    session.commit()

    actions = [e["action"] for e in rows(state) if e["entity_ref"] == order.number]
    assert actions == ["order.registered", "order.dispatch"]


# -- (h) the API route and the CLI ---------------------------------------------------------------------------


def test_verify_route_reports_tampering_to_admin_and_supervisor_only(history, client, auth, state):
    _orders, events = history
    for user in ("admin", "supervisor"):
        r = client.get("/api/audit/verify", headers=auth(user))
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["checked"] == event_count(state)

    target = first(events, "order.reply")
    tamper(state, update(EVENTS).where(EVENTS.c.id == target["id"])
           .values(data={**target["data"], "content": "已处理完毕。"}))

    for user in ("admin", "supervisor"):
        r = client.get("/api/audit/verify", headers=auth(user))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is False and body["bad_seq"] == target["seq"] and body["bad_id"] == target["id"]
        assert "篡改" in body["problem"]
    for user in ("operator", "dispatcher", "staff_csgl", "police"):
        r = client.get("/api/audit/verify", headers=auth(user))
        assert r.status_code == 403, (user, r.text)
        assert "problem" not in r.json()
    assert client.get("/api/audit/verify").status_code == 401


def test_events_route_serves_the_chain_in_order(history, client, auth, state):
    _orders, events = history
    r = client.get("/api/audit/events", params={"limit": 1000}, headers=auth("supervisor"))
    assert r.status_code == 200
    served = r.json()
    assert [e["seq"] for e in served] == [e["seq"] for e in rows(state)]
    assert [e["hash"] for e in served][: len(events)] == [e["hash"] for e in events]
    page = client.get("/api/audit/events", params={"after_seq": 3, "limit": 2}, headers=auth("admin")).json()
    assert [e["seq"] for e in page] == [4, 5]
    assert client.get("/api/audit/events", headers=auth("operator")).status_code == 403


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_cli_verify_exit_codes(history, state, monkeypatch):
    from civiclink.cli import app as cli

    _orders, events = history
    monkeypatch.setenv("CIVICLINK_DATABASE_URL", state.settings.database_url)
    monkeypatch.setenv("CIVICLINK_SECRET_KEY", state.settings.secret_key.get_secret_value())
    monkeypatch.setenv("CIVICLINK_ENVIRONMENT", "test")
    monkeypatch.setenv("COLUMNS", "300")
    runner = CliRunner()

    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.stdout and f"共{len(events)}个事件" in _flat(ok.stdout)

    gap = len(events) // 2
    tamper(state, delete(EVENTS).where(EVENTS.c.seq == gap))
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 3, broken.output
    out = _flat(broken.stdout)
    assert "审计链被破坏" in out and f"应为第{gap}号" in out and f"seq={gap + 1}" in out


# -- (i) no personal data in the chain -----------------------------------------------------------------------


CALLER_NAME = "欧阳娜娜"
CALLER_PHONE = "13987654321"


def test_events_never_contain_the_callers_phone_or_name(client, auth, ctx, session, actors, state):
    session.commit()  # release the fixture's write transaction so that the HTTP requests can write
    caller = {"name": CALLER_NAME, "phone": "139-8765-4321"}
    r = client.post("/api/orders", json={**ORDER, "caller": caller}, headers=auth("operator"))
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    assert client.get(f"/api/orders/{number}", headers=auth("operator")).json()["caller_phone"] == CALLER_PHONE
    consult = {**ORDER, "caller": {**caller, "confidential": True}, "request_type": "consultation",
               "intake_answer": "公积金提取可在南通市住房公积金中心网站办理。"}
    assert client.post("/api/orders", json=consult, headers=auth("operator")).status_code == 201
    draft = client.post("/api/orders", json={**ORDER, "caller": caller, "submit": False}, headers=auth("operator"))
    assert draft.status_code == 201

    walked = to_awaiting_callback(ctx, actors, caller={"name": CALLER_NAME, "phone": CALLER_PHONE})
    act(ctx, walked, Action.CALLBACK, actors["callback"], satisfaction=5, resolved=False, note="群众仍不满意")
    act(ctx, walked, Action.REOPEN, actors["callback"], reason="仍未解决")
    act(ctx, register(ctx, actors, caller={"name": CALLER_NAME, "phone": CALLER_PHONE}), Action.MERGE,
        actors["dispatcher"], into=walked.number)
    session.commit()

    events = rows(state)
    assert sum(e["action"] == "order.registered" for e in events) == 5
    dumped = json.dumps(events, ensure_ascii=False, default=str)
    assert CALLER_PHONE not in dumped
    assert CALLER_NAME not in dumped
    assert "139-8765-4321" not in dumped
    registered = first(events, "order.registered")
    assert registered["data"]["caller_given"] is True  # that a caller was given is all the chain keeps

    served = client.get("/api/audit/events", params={"limit": 1000}, headers=auth("admin")).json()
    served_text = json.dumps(served, ensure_ascii=False)
    assert CALLER_PHONE not in served_text and CALLER_NAME not in served_text
    timeline = client.get(f"/api/orders/{walked.number}/timeline", headers=auth("operator")).json()
    timeline_text = json.dumps(timeline, ensure_ascii=False)
    assert CALLER_PHONE not in timeline_text and CALLER_NAME not in timeline_text
