"""Fault tolerance of the exchange channel between two real sites (design §6), in-process and deterministic.

Every test asserts "nothing lost, nothing applied twice" on concrete counts — 警单 (incidents), 工单, transfer
records, audit events, inbox/outbox rows and per-case sequences — and that both sites' audit chains verify.
The same faults over real sockets and processes: tests/linkage/test_exchange_processes.py.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from tests.conftest import HOTLINE_SITE, PEER_SECRET, POLICE_SITE
from tests.helpers import act, incident_act, register

from civiclink.app import create_app
from civiclink.audit.models import AuditEvent, AuditHead
from civiclink.audit.service import verify_chain
from civiclink.db import utcnow, write_session
from civiclink.errors import Forbidden
from civiclink.exchange import envelope as env
from civiclink.exchange.api import list_message_reads, peer_status, retry_dead
from civiclink.exchange.envelope import BadSignature, EnvelopeError
from civiclink.exchange.models import ExchangeSequence, InboxMessage, OutboxMessage
from civiclink.exchange.receiver import receive_raw
from civiclink.exchange.relay import Relay
from civiclink.incidents.models import Incident
from civiclink.linkage.models import Transfer
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State

# -- helpers -------------------------------------------------------------------------------------------------


def transfer_orders(sites, n: int) -> list[str]:
    """Register ``n`` orders on the hotline and transfer each to 110 (one transfer.offer each); their numbers."""
    ha = sites.hotline_actors
    numbers = []
    with sites.write("hotline") as ctx:
        for i in range(n):
            order = register(ctx, ha, title=f"邻居家中传出打斗声（{i}）", content=f"来电称邻居家中持续传出打斗和呼救声（{i}）。")
            act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围", consent=True)
            numbers.append(order.number)
    return numbers


def snapshot(state) -> dict:
    """Everything the exchange may change on a site: counts, and each record's state and version."""
    with state.sessions() as s:
        def count(model):
            return s.scalar(select(func.count()).select_from(model))

        def by_state(model):
            return dict(s.execute(select(model.state, func.count()).group_by(model.state)).all())

        return {
            "incidents": count(Incident), "orders": count(WorkOrder), "transfers": count(Transfer),
            "audit_events": count(AuditEvent), "inbox": count(InboxMessage), "outbox": count(OutboxMessage),
            "audit_head": s.execute(select(AuditHead.last_seq, AuditHead.last_hash)).first(),
            "inbox_states": by_state(InboxMessage), "outbox_states": by_state(OutboxMessage),
            "incident_rows": s.execute(select(Incident.number, Incident.state, Incident.version,
                                              Incident.hotline_number).order_by(Incident.id)).all(),
            "order_rows": s.execute(select(WorkOrder.number, WorkOrder.state, WorkOrder.version)
                                    .order_by(WorkOrder.id)).all(),
            "transfer_rows": s.execute(select(Transfer.case_ref, Transfer.direction, Transfer.state,
                                              Transfer.remote_number).order_by(Transfer.id)).all(),
            "sequences": s.execute(select(ExchangeSequence.case_ref, ExchangeSequence.peer, ExchangeSequence.last_sent,
                                          ExchangeSequence.last_applied).order_by(ExchangeSequence.id)).all(),
        }


def outbox_rows(site, **where) -> list[dict]:
    table = OutboxMessage.__table__
    q = select(table).order_by(table.c.id)
    for name, value in where.items():
        q = q.where(table.c[name] == value)
    with site.sessions() as s:
        return [dict(r) for r in s.execute(q).mappings()]


def inbox_rows(state) -> list[dict]:
    table = InboxMessage.__table__
    with state.sessions() as s:
        return [dict(r) for r in s.execute(select(table).order_by(table.c.id)).mappings()]


def make_due(state) -> None:
    """Pretend the backoff has passed: every pending message is due now (instead of sleeping)."""
    with write_session(state.sessions) as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.state == "pending")
                  .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def batch(*envelopes: str | dict) -> bytes:
    """The inbox request body for these envelopes (signed JSON texts or dicts)."""
    items = [json.loads(e) if isinstance(e, str) else e for e in envelopes]
    return json.dumps({"envelopes": items}, ensure_ascii=False).encode("utf-8")


def chains_ok(sites) -> None:
    for site in (sites.hotline, sites.police):
        with site.sessions() as s:
            result = verify_chain(s)
            assert result.ok, result.problem




def incident_for(ctx, hotline_number: str) -> Incident:
    return ctx.session.execute(select(Incident).where(Incident.hotline_number == hotline_number)).scalar_one()


def assert_delivered_once(sites, numbers: list[str]) -> None:
    """Each transferred order has exactly one 警单 and one incoming transfer at the police site, one applied
    inbox row per offer, and one 'incident.received' audit event per 警单."""
    with sites.police.sessions() as s:
        hotline_numbers = s.execute(select(Incident.hotline_number)).scalars().all()
        assert sorted(hotline_numbers) == sorted(numbers)  # none missing, none twice
        transfers = s.execute(select(Transfer.case_ref).where(Transfer.direction == "in")).scalars().all()
        assert sorted(transfers) == sorted(f"{HOTLINE_SITE}:{n}" for n in numbers)
        inbox = s.execute(select(InboxMessage.message_id, InboxMessage.state, InboxMessage.type)).all()
        assert len(inbox) == len({m for m, _, _ in inbox}) == len(numbers)
        assert {(st, t) for _, st, t in inbox} == {("applied", "transfer.offer")}
        received = s.execute(select(AuditEvent.entity_ref, func.count()).where(
            AuditEvent.action == "incident.received").group_by(AuditEvent.entity_ref)).all()
        assert len(received) == len(numbers) and all(c == 1 for _, c in received)
        assert {st for st in s.execute(select(Incident.state)).scalars()} == {"received"}
    with sites.hotline.sessions() as s:
        orders = s.execute(select(WorkOrder.number, WorkOrder.state).where(WorkOrder.number.in_(numbers))).all()
        assert {st for _, st in orders} == {State.TRANSFERRED_TO_110} and len(orders) == len(numbers)
    out = outbox_rows(sites.hotline, peer=POLICE_SITE)
    assert len(out) == len(numbers)
    assert all(r["state"] == "delivered" and r["claimed_by"] is None and r["last_error"] is None for r in out)


# -- the peer is down for a while ----------------------------------------------------------------------------


def assert_backing_off(sites, relay) -> None:
    """Nothing is claimed before its backoff has passed (checked only while the earliest due time is ahead, so
    that a slow machine cannot make it flaky)."""
    earliest = min(r["next_attempt_at"] for r in outbox_rows(sites.hotline, state="pending"))
    if utcnow() < earliest - timedelta(seconds=0.05):
        assert relay.run_once() == 0


def test_peer_down_messages_pile_up_with_backoff_then_deliver_exactly_once(sites):
    relay = sites.relays["hotline"]
    base, cap = relay.settings.backoff_base, relay.settings.backoff_max
    police_before = snapshot(sites.police)
    sites.transport.down.add(POLICE_SITE)

    first = transfer_orders(sites, 3)
    before = utcnow()
    assert relay.run_once() == 3  # claimed, sent, failed
    after = utcnow()
    rows = outbox_rows(sites.hotline)
    assert len(rows) == 3
    for r in rows:
        assert (r["state"], r["attempts"], r["claimed_by"], r["claimed_until"]) == ("pending", 1, None, None)
        assert POLICE_SITE in r["last_error"] and "不可达" in r["last_error"]
        assert r["delivered_at"] is None and r["ack_status"] is None
        # backoff after the 1st failure: base · 2⁰ ± 20 % jitter, in the future
        assert before + timedelta(seconds=0.8 * base) <= r["next_attempt_at"] <= after + timedelta(seconds=1.2 * base)
    assert_backing_off(sites, relay)

    # More work while the peer is still down: it queues behind the first.
    second = transfer_orders(sites, 2)
    make_due(sites.hotline)
    before = utcnow()
    assert relay.run_once() == 5
    after = utcnow()
    rows = outbox_rows(sites.hotline)
    assert [r["attempts"] for r in rows] == [2, 2, 2, 1, 1]
    assert {r["state"] for r in rows} == {"pending"}
    for r in rows[:3]:  # the 2nd failure waits twice as long (2·base ± 20 %): the backoff grows
        assert before + timedelta(seconds=min(cap, 1.6 * base)) <= r["next_attempt_at"]
        assert r["next_attempt_at"] <= after + timedelta(seconds=min(cap, 2 * base) * 1.2)
    assert snapshot(sites.police) == police_before  # nothing reached the police site

    with sites.read("hotline") as ctx:
        reads = list_message_reads(ctx.session, direction="out", state="pending", case_ref=None, limit=100)
        assert len(reads) == 5 and all(m.last_error and m.attempts >= 1 for m in reads)
        [status] = peer_status(ctx.session, ctx.settings)
        assert status.outbox == {"pending": 5} and status.oldest_pending_at is not None
        assert status.last_delivered_at is None

    # The peer is back; once the messages are due they go, each exactly once.
    sites.transport.down.discard(POLICE_SITE)
    assert_backing_off(sites, relay)
    make_due(sites.hotline)
    assert sites.pump() == 5
    assert {r["ack_status"] for r in outbox_rows(sites.hotline)} == {"applied"}
    assert_delivered_once(sites, first + second)
    settled = (snapshot(sites.hotline), snapshot(sites.police))
    assert sites.pump() == 0
    make_due(sites.hotline)
    assert sites.pump() == 0
    assert (snapshot(sites.hotline), snapshot(sites.police)) == settled
    with sites.read("hotline") as ctx:
        [status] = peer_status(ctx.session, ctx.settings)
        assert status.outbox == {"delivered": 5} and status.oldest_pending_at is None
    chains_ok(sites)


def test_small_backoff_settings_redeliver_without_moving_the_clock(sites):
    """A relay configured with a small backoff retries on its own after a short wait."""
    state = sites.hotline
    exchange = state.settings.exchange.model_copy(update={"backoff_base": 0.02, "backoff_max": 0.05})
    fast = Relay(dataclasses.replace(state, settings=state.settings.model_copy(update={"exchange": exchange})),
                 sites.transport, name="relay-fast")
    sites.transport.down.add(POLICE_SITE)
    numbers = transfer_orders(sites, 2)
    assert fast.run_once() == 2
    assert fast.run_once() == 0
    sites.transport.down.discard(POLICE_SITE)
    deadline = time.monotonic() + 5
    while any(r["state"] == "pending" for r in outbox_rows(state)):  # each row has its own jittered due time
        assert time.monotonic() < deadline, "the backoff never expired"
        fast.run_once()
        time.sleep(0.005)
    assert [r["attempts"] for r in outbox_rows(state)] == [2, 2]  # one failure, one delivery each
    assert fast.run_once() == 0
    assert_delivered_once(sites, numbers)
    chains_ok(sites)


# -- dead letters --------------------------------------------------------------------------------------------


def test_dead_letter_after_max_attempts_then_retry_delivers_once(sites):
    state = sites.hotline
    exchange = state.settings.exchange.model_copy(update={"max_attempts": 3, "backoff_base": 0.01,
                                                          "backoff_max": 0.02})
    relay = Relay(dataclasses.replace(state, settings=state.settings.model_copy(update={"exchange": exchange})),
                  sites.transport, name="relay-dl")
    police_before = snapshot(sites.police)
    sites.transport.down.add(POLICE_SITE)
    [number] = transfer_orders(sites, 1)

    for attempt in (1, 2, 3):
        make_due(state)
        assert relay.run_once() == 1
        [row] = outbox_rows(state)
        assert row["attempts"] == attempt and row["last_error"]
        assert row["state"] == ("dead" if attempt == 3 else "pending")
    make_due(state)
    assert relay.run_once() == 0  # a dead letter is not tried again
    sites.transport.down.discard(POLICE_SITE)
    time.sleep(0.05)
    assert relay.run_once() == 0  # … not even once the peer is back
    assert snapshot(sites.police) == police_before

    with sites.read("hotline") as ctx:
        [dead] = list_message_reads(ctx.session, direction="out", state="dead", case_ref=None, limit=10)
        assert (dead.type, dead.attempts, dead.delivered_at) == ("transfer.offer", 3, None)
        assert dead.case_ref == f"{HOTLINE_SITE}:{number}" and "不可达" in dead.last_error
        assert list_message_reads(ctx.session, direction="out", state="pending", case_ref=None, limit=10) == []
        [status] = peer_status(ctx.session, ctx.settings)
        assert status.outbox == {"dead": 1} and status.oldest_pending_at is None

    assert retry_dead(state, message_id=str(uuid.uuid4())) == 0  # not a dead letter: nothing happens
    assert retry_dead(state) == 1
    [row] = outbox_rows(state)
    assert (row["state"], row["attempts"], row["claimed_by"]) == ("pending", 0, None)
    assert relay.run_once() == 1
    [row] = outbox_rows(state)
    assert (row["state"], row["ack_status"], row["attempts"]) == ("delivered", "applied", 1)
    assert retry_dead(state) == 0
    assert sites.pump() == 0
    assert_delivered_once(sites, [number])
    chains_ok(sites)


# -- the same envelope twice ---------------------------------------------------------------------------------


def test_same_envelope_delivered_twice_changes_nothing_the_second_time(sites):
    [number] = transfer_orders(sites, 1)
    [row] = outbox_rows(sites.hotline)
    raw = batch(row["envelope"])

    [ack] = receive_raw(sites.police, raw)
    assert ack["status"] == "applied" and ack["message_id"] == row["message_id"]
    applied = snapshot(sites.police)
    assert applied["incidents"] == 1 and applied["inbox"] == 1

    [ack] = receive_raw(sites.police, raw)
    assert ack["status"] == "duplicate" and ack["message_id"] == row["message_id"]
    assert snapshot(sites.police) == applied

    # The relay still holds it as pending (it was delivered behind its back): sending it is a duplicate too.
    assert sites.pump() == 1
    [row] = outbox_rows(sites.hotline)
    assert (row["state"], row["ack_status"]) == ("delivered", "duplicate")
    assert snapshot(sites.police) == applied

    # Re-delivery through the relay: the row is put back to pending (as after a lost acknowledgement).
    with write_session(sites.hotline.sessions) as s:
        s.execute(update(OutboxMessage).values(state="pending", delivered_at=None, ack_status=None,
                                               next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert sites.pump() == 1
    [row] = outbox_rows(sites.hotline)
    assert (row["state"], row["ack_status"], row["attempts"]) == ("delivered", "duplicate", 2)
    assert snapshot(sites.police) == applied

    # Twice within one request: applied once.
    hotline_before = snapshot(sites.hotline)
    [again] = transfer_orders(sites, 1)
    new_row = outbox_rows(sites.hotline)[-1]
    acks = receive_raw(sites.police, batch(new_row["envelope"], new_row["envelope"]))
    assert [a["message_id"] for a in acks] == [new_row["message_id"]] * 2
    assert [a["status"] for a in acks] == ["applied", "duplicate"]
    after = snapshot(sites.police)
    assert (after["incidents"], after["inbox"], after["transfers"]) == (2, 2, 2)
    assert hotline_before["orders"] + 1 == snapshot(sites.hotline)["orders"]
    sites.pump()
    assert_delivered_once(sites, [number, again])
    chains_ok(sites)


# -- out of order --------------------------------------------------------------------------------------------


def _police_round(sites) -> tuple[str, list[dict]]:
    """A transfer delivered to 110, then signed, dispatched and finished there: the three police envelopes
    (transfer.accept seq 1, police.dispatched seq 2, result seq 3), not yet sent."""
    pa = sites.police_actors
    [number] = transfer_orders(sites, 1)
    assert sites.pump() == 1
    with sites.write("police") as ctx:
        incident = incident_for(ctx, number)
        incident_act(ctx, incident, "sign", pa["jjy"])
        incident_act(ctx, incident, "dispatch", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="民警到场，双方已分开，无人受伤",
                     result_note="口头警告，双方和解")
    rows = outbox_rows(sites.police, peer=HOTLINE_SITE)
    assert [(r["seq"], r["type"]) for r in rows] == [(1, "transfer.accept"), (2, "police.dispatched"), (3, "result")]
    assert {r["case_ref"] for r in rows} == {f"{HOTLINE_SITE}:{number}"}
    return number, rows


def _order_linkage_actions(state, number: str) -> list[str]:
    with state.sessions() as s:
        return s.execute(select(AuditEvent.action).where(
            AuditEvent.entity_type == "work_order", AuditEvent.entity_ref == number,
            AuditEvent.action.in_(["order.linkage_accepted", "order.police_dispatched", "order.police_result"]),
        ).order_by(AuditEvent.seq)).scalars().all()


def _assert_round_applied(sites, number: str) -> None:
    with sites.read("hotline") as ctx:
        order = ctx.session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
        transfer = ctx.session.execute(select(Transfer).where(Transfer.order_id == order.id)).scalar_one()
        incident_number = sites_incident_number(sites, number)
        assert (transfer.state, transfer.remote_number) == ("result", incident_number)
        assert transfer.accepted_at is not None and transfer.dispatched_at is not None
        assert transfer.police_unit and "双方和解" in (transfer.result_note or "")
        assert order.state == State.AWAITING_CALLBACK and "双方和解" in order.reply_content
    assert _order_linkage_actions(sites.hotline, number) == [
        "order.linkage_accepted", "order.police_dispatched", "order.police_result"]


def sites_incident_number(sites, number: str) -> str:
    with sites.read("police") as ctx:
        return incident_for(ctx, number).number


def test_out_of_order_envelopes_wait_for_their_predecessor_then_apply_in_order(sites):
    number, (accept, dispatched, result) = _police_round(sites)
    untouched = snapshot(sites.hotline)

    acks = receive_raw(sites.hotline, batch(result["envelope"], dispatched["envelope"]))
    assert [(a["message_id"], a["status"]) for a in acks] == [
        (result["message_id"], "waiting"), (dispatched["message_id"], "waiting")]
    waiting = snapshot(sites.hotline)
    assert waiting["inbox"] == untouched["inbox"] + 2 and waiting["inbox_states"].get("waiting") == 2
    # Nothing of the two was applied: the same records, versions, transfer state and audit chain.
    for key in ("order_rows", "transfer_rows", "audit_events", "audit_head", "incidents", "orders", "transfers"):
        assert waiting[key] == untouched[key], key
    assert _order_linkage_actions(sites.hotline, number) == []

    # The waiting one again: a duplicate, still waiting.
    [ack] = receive_raw(sites.hotline, batch(result["envelope"]))
    assert ack["status"] == "duplicate" and "waiting" in ack["detail"]
    assert snapshot(sites.hotline) == waiting

    [ack] = receive_raw(sites.hotline, batch(accept["envelope"]))
    assert ack["status"] == "applied"
    states = {r["message_id"]: (r["seq"], r["state"]) for r in inbox_rows(sites.hotline)}
    assert [states[m["message_id"]] for m in (accept, dispatched, result)] == [
        (1, "applied"), (2, "applied"), (3, "applied")]
    _assert_round_applied(sites, number)
    applied = snapshot(sites.hotline)
    assert applied["audit_events"] == untouched["audit_events"] + 3  # one per step, each once
    with sites.hotline.sessions() as s:
        seq = s.execute(select(ExchangeSequence).where(ExchangeSequence.case_ref == f"{HOTLINE_SITE}:{number}",
                                                       ExchangeSequence.peer == POLICE_SITE)).scalar_one()
        assert seq.last_applied == 3

    # The police relay still has all three as pending: sending them now changes nothing.
    assert sites.pump() == 3
    assert {r["ack_status"] for r in outbox_rows(sites.police, peer=HOTLINE_SITE)} == {"duplicate"}
    assert snapshot(sites.hotline) == applied
    chains_ok(sites)


def test_envelopes_reversed_within_one_batch_apply_in_seq_order(sites):
    number, (accept, dispatched, result) = _police_round(sites)
    before = snapshot(sites.hotline)
    acks = receive_raw(sites.hotline, batch(result["envelope"], dispatched["envelope"], accept["envelope"]))
    assert [a["status"] for a in acks] == ["applied", "applied", "applied"]
    _assert_round_applied(sites, number)
    assert snapshot(sites.hotline)["audit_events"] == before["audit_events"] + 3
    chains_ok(sites)


def test_relay_delivers_a_later_envelope_first_when_an_earlier_one_is_held_back(sites):
    """seq 1 cannot be sent yet (it is backing off), seq 2 and 3 go: they wait at the hotline; then seq 1 goes."""
    number, (accept, dispatched, result) = _police_round(sites)
    with write_session(sites.police.sessions) as s:
        s.execute(update(OutboxMessage).where(OutboxMessage.message_id == accept["message_id"])
                  .values(next_attempt_at=utcnow() + timedelta(hours=1)))
    assert sites.relays["police"].run_once() == 2
    out = {r["seq"]: r for r in outbox_rows(sites.police, peer=HOTLINE_SITE)}
    assert (out[2]["ack_status"], out[3]["ack_status"]) == ("waiting", "waiting")
    assert _order_linkage_actions(sites.hotline, number) == []
    make_due(sites.police)
    assert sites.pump() == 1
    assert outbox_rows(sites.police, message_id=accept["message_id"])[0]["ack_status"] == "applied"
    _assert_round_applied(sites, number)
    chains_ok(sites)


# -- forged, tampered, misaddressed ----------------------------------------------------------------------------


def _forgeries(text: str) -> dict[str, tuple[bytes, type, int]]:
    """Ways an envelope can be wrong, with the refusal each must get (exception class, HTTP status)."""
    good = json.loads(text)
    unsigned = {k: v for k, v in good.items() if k != "signature"}
    phone = good["body"]["matter"]["caller"]["phone"]
    assert phone and phone[-1] != "0"

    def signed(secret=PEER_SECRET, **changes):
        e = {**unsigned, **changes}
        e["signature"] = env.sign(e, secret)
        return e

    tampered = text.replace(phone, phone[:-1] + "0", 1)  # one byte of the body
    assert len(tampered.encode()) == len(text.encode()) and tampered != text
    missing = {k: v for k, v in good.items() if k != "seq"}
    return {
        "tampered_body": (batch(tampered), BadSignature, 401),
        "wrong_secret": (batch(signed(secret="not-the-shared-secret")), BadSignature, 401),
        "no_signature_change": (batch({**good, "message_id": str(uuid.uuid4())}), BadSignature, 401),
        "unknown_sender": (batch(signed(sender="test-999")), BadSignature, 401),
        "wrong_receiver": (batch(signed(receiver="other-110")), Forbidden, 403),
        "missing_field": (batch(missing), EnvelopeError, 422),
        "from_the_future": (batch(signed(sent_at=(utcnow() + timedelta(days=1)).isoformat())), EnvelopeError, 422),
        "not_json": (b'{"envelopes": [', EnvelopeError, 422),
        # One forged envelope refuses the whole request: the good one beside it is not applied either.
        "good_with_forged": (batch(text, signed(secret="not-the-shared-secret", message_id=str(uuid.uuid4()))),
                             BadSignature, 401),
    }


def test_bad_envelopes_are_refused_and_nothing_is_written(sites):
    transfer_orders(sites, 1)
    [row] = outbox_rows(sites.hotline)
    before = snapshot(sites.police)
    for name, (raw, error, status) in _forgeries(row["envelope"]).items():
        with pytest.raises(error) as caught:
            receive_raw(sites.police, raw)
        assert type(caught.value) is error and caught.value.status_code == status, name
        assert snapshot(sites.police) == before, name
    # The genuine envelope is accepted (the refusals above were about the forgeries, not the channel).
    assert receive_raw(sites.police, batch(row["envelope"]))[0]["status"] == "applied"
    assert snapshot(sites.police)["incidents"] == 1
    chains_ok(sites)


def test_bad_envelopes_over_http_get_401_403_422_with_a_detail(sites):
    transfer_orders(sites, 1)
    [row] = outbox_rows(sites.hotline)
    before = snapshot(sites.police)
    police = sites.police
    with TestClient(create_app(police.settings, state=police)) as client:
        for name, (raw, _error, status) in _forgeries(row["envelope"]).items():
            response = client.post("/api/exchange/inbox", content=raw, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (name, response.text)
            body = response.json()
            assert isinstance(body["detail"], str) and body["detail"], name
            assert body["code"] in ("bad_signature", "forbidden", "bad_envelope"), name
            assert snapshot(sites.police) == before, name
        response = client.post("/api/exchange/inbox", content=batch(row["envelope"]),
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 200
        assert response.json()["acks"] == [{"message_id": row["message_id"], "status": "applied", "detail": None}]
        applied = snapshot(sites.police)
        assert (applied["incidents"], applied["inbox"]) == (1, 1)
        # And replayed over HTTP: a duplicate, nothing changes.
        response = client.post("/api/exchange/inbox", content=batch(row["envelope"]),
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 200 and response.json()["acks"][0]["status"] == "duplicate"
        assert snapshot(sites.police) == applied
    chains_ok(sites)


# -- replay --------------------------------------------------------------------------------------------------


def test_replayed_envelope_after_it_was_applied_is_a_duplicate(sites):
    numbers = transfer_orders(sites, 2)
    assert sites.pump() == 2
    assert_delivered_once(sites, numbers)
    first, second = outbox_rows(sites.hotline)
    applied = snapshot(sites.police)

    # Replayed as it was, alone or together: duplicates, nothing changes.
    for raw in (batch(first["envelope"]), batch(second["envelope"], first["envelope"])):
        acks = receive_raw(sites.police, raw)
        assert {a["status"] for a in acks} == {"duplicate"}
        assert snapshot(sites.police) == applied

    # Replayed with a fresh message_id: the signature no longer matches.
    with pytest.raises(BadSignature):
        receive_raw(sites.police, batch({**json.loads(first["envelope"]), "message_id": str(uuid.uuid4())}))
    assert snapshot(sites.police) == applied

    # Even re-signed with the shared key (a confused peer re-sending under a new id), the case's seq is taken:
    # recorded as rejected, nothing applied a second time.
    e = {k: v for k, v in json.loads(first["envelope"]).items() if k != "signature"}
    e["message_id"] = str(uuid.uuid4())
    e["signature"] = env.sign(e, PEER_SECRET)
    [ack] = receive_raw(sites.police, batch(e))
    assert ack["status"] == "rejected"
    after = snapshot(sites.police)
    assert after["inbox"] == applied["inbox"] + 1 and after["inbox_states"]["rejected"] == 1
    for key in ("incidents", "transfers", "audit_events", "audit_head", "incident_rows", "transfer_rows", "sequences"):
        assert after[key] == applied[key], key
    chains_ok(sites)


# -- a peer that answers, but not with acks ------------------------------------------------------------------


def _http_relay(sites, handler, **exchange) -> Relay:
    """A hotline relay whose HTTP transport talks to ``handler`` (request → response) instead of a socket."""
    import httpx2 as httpx

    from civiclink.exchange.transport import HttpTransport

    state = sites.hotline
    settings = state.settings.model_copy(update={"exchange": state.settings.exchange.model_copy(update=exchange)})
    transport = HttpTransport(timeout=5)
    transport._client = httpx.Client(transport=httpx.MockTransport(handler),
                                     headers={"Content-Type": "application/json"})
    return Relay(dataclasses.replace(state, settings=settings), transport, name="relay-http")


def test_peer_errors_and_partial_acks_are_retried_and_nothing_is_lost(sites):
    import httpx2 as httpx

    answers = []

    def peer(request):
        mode = answers.pop(0)
        if mode == "503":
            return httpx.Response(503, json={"detail": "数据库繁忙，请稍后重试", "code": "unavailable"})
        if mode == "html":
            return httpx.Response(200, text="<html>gateway</html>")
        acks = receive_raw(sites.police, request.content)  # the peer really applies the whole batch …
        return httpx.Response(200, json={"acks": acks[:1] if mode == "partial" else acks})  # … and may ack part

    relay = _http_relay(sites, peer)
    numbers = transfer_orders(sites, 3)
    police_before = snapshot(sites.police)

    for mode, error in (("503", "HTTP 503: 数据库繁忙"), ("html", "确认格式不正确")):
        answers.append(mode)
        assert relay.run_once() == 3
        rows = outbox_rows(sites.hotline)
        assert {r["state"] for r in rows} == {"pending"} and all(error in r["last_error"] for r in rows), mode
        assert snapshot(sites.police) == police_before
        make_due(sites.hotline)

    answers.append("partial")
    assert relay.run_once() == 3
    first, *rest = outbox_rows(sites.hotline)
    assert (first["state"], first["ack_status"], first["last_error"]) == ("delivered", "applied", None)
    assert [(r["state"], r["last_error"]) for r in rest] == [("pending", "对方未确认此消息")] * 2
    make_due(sites.hotline)
    answers.append("all")
    assert relay.run_once() == 2  # the unacknowledged two again: the peer has them already
    assert [r["ack_status"] for r in outbox_rows(sites.hotline)] == ["applied", "duplicate", "duplicate"]
    assert answers == []
    assert_delivered_once(sites, numbers)
    chains_ok(sites)


# -- robustness of the relay and the inbox's answers ------------------------------------------------------


def test_an_envelope_twice_in_one_request_is_acked_applied_then_duplicate(sites):
    transfer_orders(sites, 1)
    [row] = outbox_rows(sites.hotline)
    acks = receive_raw(sites.police, batch(row["envelope"], row["envelope"]))
    assert snapshot(sites.police)["incidents"] == 1  # applied once: that part holds
    assert [a["status"] for a in acks] == ["applied", "duplicate"]


def test_a_peer_answering_200_with_a_json_list_is_a_recorded_transport_failure(sites):
    import httpx2 as httpx

    relay = _http_relay(sites, lambda request: httpx.Response(200, json=[]))
    transfer_orders(sites, 1)
    relay.run_once()  # a refused answer is a recorded failure, not an exception out of the relay
    [row] = outbox_rows(sites.hotline)
    assert (row["state"], row["claimed_by"]) == ("pending", None) and row["last_error"]


def test_backoff_after_very_many_attempts_is_capped_not_an_overflow(sites):
    """A long outage with a large max_attempts: the failure is still recorded, with a capped backoff."""
    from civiclink.exchange.relay import backoff

    state = sites.hotline
    exchange = state.settings.exchange.model_copy(update={"max_attempts": 100_000})
    relay = Relay(dataclasses.replace(state, settings=state.settings.model_copy(update={"exchange": exchange})),
                  sites.transport, name="relay-long-outage")
    sites.transport.down.add(POLICE_SITE)
    transfer_orders(sites, 1)
    with write_session(state.sessions) as s:
        s.execute(update(OutboxMessage).values(attempts=1100))
    assert relay.run_once() == 1  # once raised OverflowError in backoff() (base * 2 ** 1100 as a float)
    assert backoff(1101, base=0.5, cap=300) <= 360
    [row] = outbox_rows(state)
    assert (row["state"], row["attempts"], row["claimed_by"]) == ("pending", 1101, None)


def test_cli_relay_survives_a_database_hiccup(sites, monkeypatch):
    """`civiclink exchange relay` may be the only relay: one database error must not end it."""
    from sqlalchemy.exc import OperationalError
    from typer.testing import CliRunner

    from civiclink import cli
    from civiclink.exchange import transport as transport_module
    from civiclink.sites import SiteSpec

    numbers = transfer_orders(sites, 2)
    monkeypatch.setattr(transport_module, "HttpTransport", lambda **_: sites.transport)
    original, calls = Relay.run_once, []

    def flaky(self):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE outbox_message …", {}, Exception("database is locked"))
        return original(self)

    monkeypatch.setattr(Relay, "run_once", flaky)
    s = sites.hotline.settings
    spec = SiteSpec(site_code=s.site_code, role="hotline", level=s.site_level, name=s.site_name, port=9,
                    database_url=s.database_url, secret_key="test-secret-please-ignore",
                    number_prefix=s.number_prefix, peers=[p.model_dump(mode="json") | {
                        "secret": p.secret.get_secret_value()} for p in s.peers],
                    extra_env={"CIVICLINK_EXCHANGE__POLL_INTERVAL": "0.01"})
    result = CliRunner().invoke(cli.app, ["exchange", "relay", "--once"], env=spec.env())
    assert result.exit_code == 0, f"{type(result.exception).__name__}: {result.exception}"
    assert_delivered_once(sites, numbers)
