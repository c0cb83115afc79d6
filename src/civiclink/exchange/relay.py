"""The outbox relay: claims pending envelopes, sends them to the peer, records the outcome (design §6).

Several relays (threads of several app processes, or ``civiclink exchange relay``) may share one database.
A claim is one UPDATE that stamps ``claimed_by``/``claimed_until`` on up to ``batch_size`` rows that are due
and not claimed by a live relay — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two relays never take the same
row; on SQLite the write lock serializes claims. A relay killed after its claim leaves the rows to expire
(``lease_seconds``) and another takes them: an envelope may then be sent twice, which the peer's inbox
(keyed by ``message_id``) turns into "duplicate", changing nothing. Failures back off exponentially and
dead-letter after ``max_attempts``.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import bindparam, text

from civiclink.db import UTCDateTime, utcnow, write_session
from civiclink.exchange.transport import Transport, TransportError

log = logging.getLogger("civiclink.exchange.relay")

_CLAIM = """
UPDATE outbox_message SET claimed_by = :me, claimed_until = :until, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM outbox_message
    WHERE state = 'pending' AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)
    ORDER BY id LIMIT :n {lock}
)
RETURNING id, peer, envelope, attempts, message_id
"""
_UTC = UTCDateTime()
_CLAIM_SQL = {
    dialect: text(_CLAIM.format(lock=lock)).bindparams(bindparam("now", type_=_UTC), bindparam("until", type_=_UTC))
    for dialect, lock in (("postgresql", "FOR UPDATE SKIP LOCKED"), ("sqlite", ""))
}

_DELIVERED = text("""
UPDATE outbox_message SET state = 'delivered', delivered_at = :at, claimed_by = NULL, claimed_until = NULL,
    ack_status = :status, ack_detail = :detail, last_error = NULL
WHERE id = :id AND state = 'pending'
""").bindparams(bindparam("at", type_=_UTC))
_FAILED = text("""
UPDATE outbox_message SET state = :state, next_attempt_at = :next, claimed_by = NULL, claimed_until = NULL,
    last_error = :error
WHERE id = :id AND state = 'pending' AND claimed_by = :me
""").bindparams(bindparam("next", type_=_UTC))


_DUE_AGAIN = text("""
UPDATE outbox_message SET next_attempt_at = :now
WHERE peer = :peer AND state = 'pending' AND attempts > 0 AND next_attempt_at > :now
""").bindparams(bindparam("now", type_=_UTC))


def _is_dead_local(holder: str, host: str) -> bool:
    """``holder`` is "host:pid:…" (see Relay.name); True if it names a process of this host that is gone."""
    parts = holder.split(":")
    if len(parts) < 3 or parts[0] != host or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def backoff(attempts: int, *, base: float, cap: float) -> float:
    """Seconds before the next try after ``attempts`` failed ones: base·2^(n−1), capped, with ±20 % jitter."""
    delay = min(cap, base * 2.0 ** min(max(0, attempts - 1), 60))  # the exponent capped too: no overflow
    return delay * random.uniform(0.8, 1.2)


class Relay:
    def __init__(self, state, transport: Transport, *, name: str | None = None):
        self.state = state
        self.settings = state.settings.exchange
        self.transport = transport
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{id(self) & 0xFFFF:x}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass ---------------------------------------------------------------------------------------------

    def release_orphaned_claims(self) -> int:
        """Claims held by relays of this host whose process is gone (killed, crashed) are released at once,
        rather than after their lease: a restarted relay takes up where the dead one stopped. (Claims of other
        hosts' relays still wait for their lease.)"""
        host = socket.gethostname()
        with write_session(self.state.sessions) as session:
            holders = session.execute(text(
                "SELECT DISTINCT claimed_by FROM outbox_message WHERE state = 'pending' AND claimed_by IS NOT NULL"
            )).scalars().all()
            dead = [h for h in holders if _is_dead_local(h, host)]
            released = 0
            for holder in dead:
                released += session.execute(text(
                    "UPDATE outbox_message SET claimed_by = NULL, claimed_until = NULL "
                    "WHERE state = 'pending' AND claimed_by = :h"), {"h": holder}).rowcount
        if released:
            log.warning("relay %s released %d messages claimed by dead relays %s", self.name, released, dead)
        return released

    def claim(self) -> list:
        now = utcnow()
        with write_session(self.state.sessions) as session:
            return session.execute(_CLAIM_SQL[session.connection().dialect.name], {
                "me": self.name, "now": now, "until": now + timedelta(seconds=self.settings.lease_seconds),
                "n": self.settings.batch_size,
            }).all()

    def run_once(self) -> int:
        """Claim one batch, send it (one POST per peer), record the outcome. Returns how many were claimed."""
        rows = self.claim()
        if not rows:
            return 0
        by_peer: dict[str, list] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r.id):
            by_peer[row.peer].append(row)
        delivered: list[dict] = []
        failed: list[dict] = []
        reached: list[str] = []
        for peer_code, peer_rows in by_peer.items():
            peer = self.state.settings.peer(peer_code)
            if peer is None:
                error = f"站点 {peer_code} 已不在本站配置中"
                failed += [self._failure(r, error) for r in peer_rows]
                continue
            try:
                acks = self.transport.send(peer, [r.envelope for r in peer_rows])
            except TransportError as exc:
                failed += [self._failure(r, str(exc)) for r in peer_rows]
                continue
            by_id = {a.get("message_id"): a for a in acks}
            now = utcnow()
            reached.append(peer_code)
            for r in peer_rows:
                ack = by_id.get(r.message_id)
                if ack is None:
                    failed.append(self._failure(r, "对方未确认此消息"))
                else:
                    delivered.append({"id": r.id, "at": now, "status": ack.get("status"),
                                      "detail": (ack.get("detail") or None) and str(ack["detail"])[:500]})
        with write_session(self.state.sessions) as session:
            if delivered:
                session.execute(_DELIVERED, delivered)
            if failed:
                session.execute(_FAILED, failed)
            for peer_code in reached:
                # The peer answers again: what was backing off for it is due now, not minutes later.
                session.execute(_DUE_AGAIN, {"peer": peer_code, "now": utcnow()})
        if failed:
            log.warning("relay %s: %d of %d envelopes not delivered (%s)", self.name, len(failed), len(rows),
                        failed[0]["error"][:120])
        return len(rows)

    def _failure(self, row, error: str) -> dict:
        dead = row.attempts >= self.settings.max_attempts
        delay = backoff(row.attempts, base=self.settings.backoff_base, cap=self.settings.backoff_max)
        return {"id": row.id, "me": self.name, "state": "dead" if dead else "pending",
                "next": utcnow() + timedelta(seconds=delay), "error": error[:500]}

    def drain(self, *, max_rounds: int = 1000) -> int:
        """Run passes until nothing is due (tests, the demo builder, the CLI's --once)."""
        total = 0
        for _ in range(max_rounds):
            n = self.run_once()
            total += n
            if n == 0:
                return total
        return total

    # -- as a background thread -------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            try:
                self.release_orphaned_claims()
            except Exception:  # noqa: BLE001 - best effort: the leases expire anyway
                log.exception("could not release orphaned claims")
            self._thread = threading.Thread(target=self._loop, name="civiclink-relay", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.run_once()
            except Exception:  # a database hiccup must not end the relay; it tries again on the next tick
                log.exception("relay pass failed")
                busy = 0
            if busy >= self.settings.batch_size:
                continue  # more waiting: go on at once
            self._wake.wait(self.settings.poll_interval)
