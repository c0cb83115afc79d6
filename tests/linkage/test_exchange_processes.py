"""The exchange channel over real sockets and real processes (design §6).

Each site runs as its own uvicorn process (tests/processes.py: ``civiclink.sites.launch``), configured only by
``CIVICLINK_*`` environment variables, on the suite's test databases (SQLite files, or PostgreSQL databases when
CIVICLINK_TEST_DATABASE_URL is set). The relay is killed with SIGKILL mid-batch and restarted: nothing may be
lost and nothing applied twice. Every process is killed in the fixture's teardown.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from tests.conftest import HOTLINE_SITE, PEER_SECRET
from tests.helpers import ORDER, act, register
from tests.processes import Api, Processes, spec_of, wait_for

from civiclink.audit.models import AuditEvent
from civiclink.audit.service import verify_chain
from civiclink.exchange.models import InboxMessage, OutboxMessage
from civiclink.incidents.models import Incident
from civiclink.linkage.models import Transfer
from civiclink.sites import pair
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action, State


@pytest.fixture
def processes(tmp_path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.kill_all()
        sys.stderr.write(procs.logs())  # pytest shows it only if the test failed


def count(state, q) -> int:
    with state.sessions() as s:
        return s.scalar(q)


def chains_ok(*states) -> None:
    for state in states:
        with state.sessions() as s:
            result = verify_chain(s)
            assert result.ok, result.problem


def outbox_states(state) -> dict[str, int]:
    with state.sessions() as s:
        return dict(s.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())


# -- a full round trip over HTTP -----------------------------------------------------------------------------


def test_transfer_round_trip_between_two_site_processes_over_http(sites, processes):
    """12345 and 110 as two server processes: each one's relay thread posts to the other's inbox over HTTP.
    转110 → 110 签收/派警/到场/处置反馈 → 12345 回访 → 110 hears the close; every step crosses a socket."""
    hotline = spec_of(sites.hotline, role="hotline")
    police = spec_of(sites.police, role="police")
    pair(hotline=hotline, police=police, secret=PEER_SECRET)
    processes.server(police)
    processes.server(hotline)
    operator, callback = Api(hotline, "operator"), Api(hotline, "callback")
    jjy, zhy = Api(police, "jjy"), Api(police, "zhy")
    try:
        order = operator.post("/api/orders", {**ORDER, "title": "邻居家中传出打斗声",
                                              "content": "来电称邻居家中持续传出打斗和呼救声。"}, status=201)
        number = order["number"]
        order = operator.post(f"/api/orders/{number}/transfer-to-110", {
            "version": order["version"], "reason": "涉嫌违法犯罪，属110受理范围", "consent": True})
        assert order["state"] == State.TRANSFERRED_TO_110

        def the_incident():
            items = jjy.get("/api/incidents")["items"]
            return next((i for i in items if i.get("hotline_number") == number), None)

        incident = wait_for(the_incident, timeout=20, what="the 警单 at 110")
        assert incident["state"] == "received" and incident["source"] == "push"
        inc = incident["number"]
        incident = jjy.post(f"/api/incidents/{inc}/sign", {"version": incident["version"]})
        incident = zhy.post(f"/api/incidents/{inc}/dispatch", {"version": incident["version"]})
        incident = zhy.post(f"/api/incidents/{inc}/arrive", {"version": incident["version"]})
        incident = zhy.post(f"/api/incidents/{inc}/finish", {
            "version": incident["version"], "situation": "民警到场，双方已分开，无人受伤", "result_note": "口头警告，双方和解"})
        assert incident["state"] == "finished"

        order = wait_for(lambda: (o := callback.get(f"/api/orders/{number}"))["state"] == State.AWAITING_CALLBACK
                         and o, timeout=20, what="the result written back to 12345")
        assert "双方和解" in order["reply_content"]
        order = callback.post(f"/api/orders/{number}/callback", {"version": order["version"], "satisfaction": 2})
        assert order["state"] == State.CLOSED
        incident = wait_for(lambda: (i := jjy.get(f"/api/incidents/{inc}")).get("satisfaction") == 2 and i,
                            timeout=20, what="the close written back to 110")

        # Both relays quiet: everything delivered, each message applied once on the other side.
        wait_for(lambda: set(outbox_states(sites.hotline)) == {"delivered"}
                 and set(outbox_states(sites.police)) == {"delivered"}, timeout=20, what="both outboxes delivered")
    finally:
        for api in (operator, callback, jjy, zhy):
            api.close()
    processes.kill_all()

    with sites.hotline.sessions() as s:
        sent = s.execute(select(OutboxMessage.type, OutboxMessage.ack_status).order_by(OutboxMessage.id)).all()
        received = s.execute(select(InboxMessage.type, InboxMessage.state).order_by(InboxMessage.seq)).all()
        transfer = s.execute(select(Transfer)).scalar_one()
        assert (transfer.state, transfer.remote_number, transfer.satisfaction) == ("closed", inc, 2)
        assert transfer.arrived_at is not None and transfer.police_unit
    assert [t for t, _ in sent] == ["transfer.offer", "close"] and {a for _, a in sent} == {"applied"}
    assert received == [("transfer.accept", "applied"), ("police.dispatched", "applied"),
                        ("police.arrived", "applied"), ("result", "applied")]
    with sites.police.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 1
        sent = s.execute(select(OutboxMessage.type, OutboxMessage.ack_status).order_by(OutboxMessage.seq)).all()
        received = s.execute(select(InboxMessage.type, InboxMessage.state).order_by(InboxMessage.seq)).all()
        events = s.execute(select(AuditEvent.action).where(AuditEvent.entity_ref == inc)
                           .order_by(AuditEvent.seq)).scalars().all()
    assert sent == [("transfer.accept", "applied"), ("police.dispatched", "applied"),
                    ("police.arrived", "applied"), ("result", "applied")]
    assert received == [("transfer.offer", "applied"), ("close", "applied")]
    assert events == ["incident.received", "incident.sign", "incident.dispatch", "incident.arrive",
                      "incident.finish", "incident.hotline_closed"]
    chains_ok(sites.hotline, sites.police)


# -- the relay killed mid-batch ------------------------------------------------------------------------------

TRANSFERS = 300


def test_relay_killed_mid_batch_and_restarted_loses_nothing_and_applies_nothing_twice(sites, processes):
    police = spec_of(sites.police, role="police")
    hotline = spec_of(sites.hotline, role="hotline", extra_env={
        "CIVICLINK_EXCHANGE__BATCH_SIZE": "20", "CIVICLINK_EXCHANGE__LEASE_SECONDS": "2"})
    pair(hotline=hotline, police=police, secret=PEER_SECRET)
    processes.server(police)

    ha = sites.hotline_actors
    numbers = []
    with sites.write("hotline") as ctx:
        for i in range(TRANSFERS):
            order = register(ctx, ha, title=f"邻居家中传出打斗声（{i}）", content=f"来电称邻居家中持续传出打斗和呼救声（{i}）。")
            act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围", consent=True)
            numbers.append(order.number)
    assert outbox_states(sites.hotline) == {"pending": TRANSFERS}

    table = OutboxMessage.__table__

    def progress() -> tuple[int, list[dict]]:
        with sites.hotline.sessions() as s:
            delivered = s.scalar(select(func.count()).where(table.c.state == "delivered"))
            claimed = [dict(r) for r in s.execute(select(table.c.id, table.c.claimed_by, table.c.claimed_until)
                                                  .where(table.c.state == "pending", table.c.claimed_by.is_not(None)))
                       .mappings()]
        return delivered, claimed

    first = processes.relay(hotline)
    # Kill it while it holds a claim, once some (not all) batches are through.
    deadline = time.monotonic() + 30
    while True:
        assert first.poll() is None, processes.logs()
        assert time.monotonic() < deadline, "the relay delivered nothing within 30 s"
        delivered, claimed = progress()
        if delivered >= 40 and claimed:
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    delivered_at_kill, left_claimed = progress()
    assert 0 < delivered_at_kill < TRANSFERS, "kill it mid-way: some but not all delivered"

    second = processes.relay(hotline)
    wait_for(lambda: outbox_states(sites.hotline) == {"delivered": TRANSFERS}, timeout=40,
             what="the restarted relay to deliver everything", interval=0.1)
    second.send_signal(signal.SIGTERM)  # it finishes its pass and exits cleanly
    assert second.wait(timeout=15) == 0, processes.logs()
    processes.kill_all()

    # The killed relay's claim was taken over by the restarted relay: on the same host a claim whose process is
    # gone is released at once (Relay.release_orphaned_claims), not after its lease; each row was tried again.
    assert left_claimed and all(c["claimed_by"].split(":")[1] == str(first.pid) for c in left_claimed)
    with sites.hotline.sessions() as s:
        rows = {r.id: r for r in s.execute(select(OutboxMessage)).scalars()}
    for claim in left_claimed:
        row = rows[claim["id"]]
        assert row.attempts >= 2
    assert all(r.state == "delivered" and r.claimed_by is None for r in rows.values())
    acks = {}
    for r in rows.values():
        acks[r.ack_status] = acks.get(r.ack_status, 0) + 1
    print(f"relay killed after {delivered_at_kill} delivered, holding {len(left_claimed)} claimed; acks {acks}")
    assert set(acks) <= {"applied", "duplicate"}, acks  # "duplicate": sent again after the kill — fine
    assert acks.get("applied", 0) + acks.get("duplicate", 0) == TRANSFERS

    with sites.police.sessions() as s:
        hotline_numbers = s.execute(select(Incident.hotline_number)).scalars().all()
        inbox = s.execute(select(InboxMessage.message_id, InboxMessage.state)).all()
        transfers = s.execute(select(Transfer.case_ref).where(Transfer.direction == "in")).scalars().all()
        received = s.execute(select(AuditEvent.entity_ref, func.count()).where(
            AuditEvent.action == "incident.received").group_by(AuditEvent.entity_ref)).all()
    lost = set(numbers) - set(hotline_numbers)
    duplicated = len(hotline_numbers) - len(set(hotline_numbers))
    assert (len(lost), duplicated) == (0, 0), f"lost {sorted(lost)[:5]}…, duplicated {duplicated}"
    assert len(hotline_numbers) == TRANSFERS
    assert len(inbox) == len({m for m, _ in inbox}) == TRANSFERS
    assert {m for m, _ in inbox} == {r.message_id for r in rows.values()}
    assert {st for _, st in inbox} == {"applied"}
    assert sorted(transfers) == sorted(f"{HOTLINE_SITE}:{n}" for n in numbers)
    assert len(received) == TRANSFERS and {c for _, c in received} == {1}
    with sites.hotline.sessions() as s:
        assert set(s.execute(select(WorkOrder.state)).scalars()) == {State.TRANSFERRED_TO_110}
    chains_ok(sites.hotline, sites.police)



# -- the peer's server killed mid-delivery -------------------------------------------------------------------


def test_peer_server_killed_mid_delivery_and_restarted_loses_nothing_and_applies_nothing_twice(sites, processes):
    """The 110 server dies with SIGKILL while the 12345 relay is posting to it (a batch may be committed there
    but never acknowledged), stays down for a while, and comes back on the same port."""
    from civiclink.config import PeerSettings
    from civiclink.exchange.relay import Relay
    from civiclink.exchange.transport import HttpTransport

    police = spec_of(sites.police, role="police")
    hotline = spec_of(sites.hotline, role="hotline")
    pair(hotline=hotline, police=police, secret=PEER_SECRET)
    server = processes.server(police)
    n = 120
    ha = sites.hotline_actors
    numbers = []
    with sites.write("hotline") as ctx:
        for i in range(n):
            order = register(ctx, ha, title=f"深夜噪声扰民（{i}）", content=f"来电称楼上深夜持续传出打砸声（{i}）。")
            act(ctx, order, Action.TRANSFER_TO_110, ha["operator"], reason="涉嫌违法犯罪，属110受理范围", consent=True)
            numbers.append(order.number)

    state = sites.hotline
    settings = state.settings.model_copy(update={
        "peers": [PeerSettings.model_validate(p) for p in hotline.peers],
        "exchange": state.settings.exchange.model_copy(update={
            "batch_size": 10, "lease_seconds": 2, "poll_interval": 0.05, "backoff_base": 0.05, "backoff_max": 0.3}),
    })
    killed = threading.Event()

    class KillingTransport(HttpTransport):
        """The real HTTP transport; its fourth POST is the one in flight when the 110 server gets SIGKILL. (Killing
        on a delivered count instead raced the relay: on a fast run all 120 were through before the kill.)"""
        posts = 0

        def send(self, peer, envelopes):
            self.posts += 1
            if self.posts == 4:
                def kill():
                    time.sleep(0.003)
                    server.send_signal(signal.SIGKILL)
                    killed.set()
                threading.Thread(target=kill).start()
            elif self.posts > 4:
                killed.wait(10)  # had the fourth beaten the kill, the fifth still goes to a dead server
            return super().send(peer, envelopes)

    transport = KillingTransport(timeout=5)
    relay = Relay(dataclasses.replace(state, settings=settings), transport, name="relay-in-test")
    table = OutboxMessage.__table__

    def delivered() -> int:
        return count(state, select(func.count()).where(table.c.state == "delivered"))

    relay.start()
    try:
        assert killed.wait(timeout=30), "the relay never reached its fourth batch"
        server.wait(timeout=10)
        at_kill = delivered()
        assert 30 <= at_kill <= 40  # three batches acknowledged; the fourth maybe, if it beat the kill
        # While it is down the relay keeps failing: the rest waits, with the error and a backoff.
        wait_for(lambda: count(state, select(func.count()).where(
            table.c.state == "pending", table.c.last_error.is_not(None))) > 0, timeout=10, what="a recorded failure")
        assert at_kill < n and delivered() < n
        assert count(state, select(func.count()).where(table.c.state == "dead")) == 0
        processes.server(police)  # the same port again
        wait_for(lambda: delivered() == n, timeout=40, what="everything delivered after the restart", interval=0.1)
    finally:
        relay.stop()
        transport.close()
    processes.kill_all()

    with state.sessions() as s:
        rows = s.execute(select(OutboxMessage)).scalars().all()
    assert all(r.state == "delivered" and r.ack_status in ("applied", "duplicate") for r in rows)
    print(f"peer killed after {at_kill} delivered; acks: "
          f"{sum(r.ack_status == 'applied' for r in rows)} applied, {sum(r.ack_status == 'duplicate' for r in rows)} "
          f"duplicate; max attempts {max(r.attempts for r in rows)}")
    with sites.police.sessions() as s:
        hotline_numbers = s.execute(select(Incident.hotline_number)).scalars().all()
        inbox = s.execute(select(InboxMessage.message_id, InboxMessage.state)).all()
        received = s.execute(select(AuditEvent.entity_ref, func.count()).where(
            AuditEvent.action == "incident.received").group_by(AuditEvent.entity_ref)).all()
    assert sorted(hotline_numbers) == sorted(numbers)  # none lost, none twice
    assert len(inbox) == len({m for m, _ in inbox}) == n and {st for _, st in inbox} == {"applied"}
    assert len(received) == n and {c for _, c in received} == {1}
    chains_ok(sites.hotline, sites.police)
