"""Relays sharing one database claim disjoint sets of outbox rows (FOR UPDATE SKIP LOCKED on PostgreSQL, the
write lock on SQLite), and a claim left by a dead relay is taken over once its lease has run out."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select, update

from civiclink.db import utcnow, write_session
from civiclink.exchange import service as exchange
from civiclink.exchange.models import OutboxMessage
from civiclink.exchange.relay import Relay, backoff
from civiclink.exchange.transport import LocalTransport


def Unreachable():  # noqa: N802 - reads as the transport it is
    """The real in-process transport with no site to deliver to: every send fails as an outage does."""
    return LocalTransport({})


def queue(state, n: int) -> None:
    with write_session(state.sessions) as s:
        ctx = state.ctx(s)
        peer = state.settings.linked_peer()
        for i in range(n):
            exchange.send(ctx, peer=peer, case_ref=f"claims:{i % 7}", type="progress", body={"i": i})


def test_two_relays_claiming_at_once_never_take_the_same_message(state):
    queue(state, 240)
    small = replace(state, settings=state.settings.model_copy(update={
        "exchange": state.settings.exchange.model_copy(update={"batch_size": 7})}))
    relays = [Relay(small, Unreachable(), name=f"relay-{i}") for i in range(2)]
    claimed: dict[str, list[int]] = {r.name: [] for r in relays}
    barrier = threading.Barrier(2)

    def work(relay: Relay) -> None:
        barrier.wait()
        while rows := relay.claim():
            claimed[relay.name] += [r.id for r in rows]

    threads = [threading.Thread(target=work, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    a, b = (set(v) for v in claimed.values())
    assert not a & b, "a message was claimed by both relays"
    assert len(a | b) == 240 and len(claimed["relay-0"]) + len(claimed["relay-1"]) == 240
    with state.sessions() as s:
        owners = dict(s.execute(select(OutboxMessage.claimed_by, func.count()).group_by(OutboxMessage.claimed_by)).all())
    assert owners == {"relay-0": len(a), "relay-1": len(b)}


def test_a_dead_relays_claim_is_taken_over_after_its_lease(state):
    queue(state, 5)
    dead = Relay(state, Unreachable(), name="dead")
    assert len(dead.claim()) == 5  # … and it dies before sending
    other = Relay(state, Unreachable(), name="other")
    assert other.claim() == []  # the lease still runs
    with write_session(state.sessions) as s:
        s.execute(update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1)))
    taken = other.claim()
    assert len(taken) == 5 and all(r.attempts == 2 for r in taken)


def test_failures_back_off_and_dead_letter_after_the_limit(state):
    queue(state, 1)
    limited = replace(state, settings=state.settings.model_copy(update={
        "exchange": state.settings.exchange.model_copy(update={"max_attempts": 3})}))
    relay = Relay(limited, Unreachable(), name="r")
    for attempt in range(1, 4):
        with write_session(state.sessions) as s:
            s.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert relay.run_once() == 1
        with state.sessions() as s:
            row = s.execute(select(OutboxMessage)).scalar_one()
        assert row.attempts == attempt and "不可达" in row.last_error
        assert row.state == ("dead" if attempt == 3 else "pending")
        if attempt < 3:
            assert row.next_attempt_at > utcnow()  # backed off, not due at once
    assert 0.4 <= backoff(1, base=0.5, cap=300) <= 0.6 and 240 <= backoff(20, base=0.5, cap=300) <= 360


def test_once_the_peer_answers_again_what_was_backing_off_is_due_at_once(sites):
    state = sites.hotline
    relay = sites.relays["hotline"]
    sites.transport.down.add(state.settings.linked_peer().site_code)
    queue(state, 3)
    for _ in range(4):  # four failures: the next try is seconds away
        with write_session(state.sessions) as s:
            s.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        relay.run_once()
    with state.sessions() as s:
        assert all(r.next_attempt_at > utcnow() + timedelta(seconds=1) for r in s.execute(select(OutboxMessage)).scalars())
    sites.transport.down.clear()
    queue(state, 1)  # a new message goes through …
    assert relay.run_once() == 1
    assert relay.run_once() == 3  # … and the three that were backing off follow at once
    with state.sessions() as s:
        assert {r.state for r in s.execute(select(OutboxMessage)).scalars()} == {"delivered"}
