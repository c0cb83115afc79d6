"""Recording, sealing and verifying audit events."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from civiclink.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from civiclink.orgs.roles import Actor

_PENDING = "civiclink.audit_pending"
_SITE = "civiclink.site_code"
_MARKS = "civiclink.audit_savepoints"


@dataclass
class _Pending:
    occurred_at: datetime
    actor: Actor
    actor_role: str | None
    action: str
    entity_type: str
    entity: Any  # an ORM object (its id may only exist after flush) or None
    entity_id: int | None
    entity_ref: str | None
    from_state: str | None
    to_state: str | None
    data: dict


def record_event(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity_type: str,
    entity: Any = None,
    entity_id: int | None = None,
    entity_ref: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    data: dict | None = None,
    actor_role: str | None = None,
    at: datetime | None = None,
) -> None:
    """Queue an audit event in the session's transaction; it is sealed into the chain at commit."""
    session.info.setdefault(_PENDING, []).append(
        _Pending(
            occurred_at=at or datetime.now(UTC),
            actor=actor,
            actor_role=actor_role,
            action=action,
            entity_type=entity_type,
            entity=entity,
            entity_id=entity_id,
            entity_ref=entity_ref,
            from_state=from_state,
            to_state=to_state,
            data=_jsonable(data or {}),
        )
    )


def _jsonable(value):
    """Only JSON-native values go into events, so that the hash is the same after a round trip."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):
        return str(value)
    return str(value)


HASHED_FIELDS = (
    "seq", "occurred_at", "site_code", "actor_id", "actor_name", "actor_role", "actor_unit", "action",
    "entity_type", "entity_id", "entity_ref", "from_state", "to_state", "data",
)


def canonical_row(row) -> str:
    """The exact text that is hashed: every field but the hashes, as sorted compact JSON."""
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    fields = {k: get(k) for k in HASHED_FIELDS}
    fields["occurred_at"] = fields["occurred_at"].astimezone(UTC).isoformat(timespec="microseconds")
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical(ev: AuditEvent, *, seq: int | None = None) -> str:
    if seq is None:
        return canonical_row(ev)
    return canonical_row({**{k: getattr(ev, k) for k in HASHED_FIELDS}, "seq": seq})


def compute_hash(ev: AuditEvent, prev_hash: str, *, seq: int | None = None) -> str:
    return hashlib.sha256((prev_hash + canonical(ev, seq=seq)).encode("utf-8")).hexdigest()


def _original_seq(ev: AuditEvent, last_seq: int, *, window: int = 200_000) -> int | None:
    """The position a moved event was sealed at: its hash covers its original seq, so try the nearest ones."""
    for delta in range(1, min(window, last_seq) + 1):
        for candidate in (ev.seq + delta, ev.seq - delta):
            if 1 <= candidate <= last_seq and compute_hash(ev, ev.prev_hash, seq=candidate) == ev.hash:
                return candidate
    return None


def pending_count(session: Session) -> int:
    return len(session.info.get(_PENDING, ()))


def truncate_pending(session: Session, mark: int) -> None:
    """Forget events queued after ``mark`` (a savepoint was rolled back)."""
    pending = session.info.get(_PENDING)
    if pending is not None:
        del pending[mark:]


def discard_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


_EVENTS = AuditEvent.__table__
_HEAD = AuditHead.__table__
_LOCK_HEAD = select(_HEAD.c.last_seq, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(last_seq=bindparam("seq"), last_hash=bindparam("hash"))


_EVENT_COLUMNS = [c for c in _EVENTS.columns if c.name != "id"]
# Written out once as text (a CTE of an UPDATE would otherwise be compiled again on every commit).
_PG_SEAL_ONE = text(
    f"WITH e AS (INSERT INTO audit_event ({', '.join(c.name for c in _EVENT_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c.name for c in _EVENT_COLUMNS)})) "
    "UPDATE audit_head SET last_seq = :head_seq, last_hash = :head_hash WHERE id = 1"
).bindparams(*[bindparam(c.name, type_=c.type) for c in _EVENT_COLUMNS])


def _seal(session: Session) -> None:
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()  # new entities get their ids
    site_code = session.info.get(_SITE, "local")
    rows = []
    for p in pending:
        entity_id = p.entity_id if p.entity_id is not None or p.entity is None else p.entity.id
        entity_ref = p.entity_ref
        if entity_ref is None and p.entity is not None:
            entity_ref = getattr(p.entity, "audit_ref", None)
        rows.append({
            "occurred_at": p.occurred_at.astimezone(UTC),
            "site_code": site_code,
            "actor_id": p.actor.user_id,
            "actor_name": p.actor.username,
            "actor_role": p.actor_role,
            "actor_unit": p.actor.unit_code,
            "action": p.action,
            "entity_type": p.entity_type,
            "entity_id": entity_id,
            "entity_ref": entity_ref,
            "from_state": p.from_state,
            "to_state": p.to_state,
            "data": p.data,
        })
    # Everything above ran before taking the chain's lock. The head row is locked last and held only for
    # three statements until commit: concurrent writers queue here, and every other lock they take (order
    # rows, counters) is taken before it, so there is no lock-order inversion.
    # Plain Core statements on the tables (not the ORM classes): this runs while the chain is locked.
    connection = session.connection()
    head = connection.execute(_LOCK_HEAD).first()
    if head is None:
        connection.execute(insert(_HEAD).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
        head = (0, GENESIS_HASH)
    seq, prev = head
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = hashlib.sha256((prev + canonical_row(row)).encode("utf-8")).hexdigest()
    if connection.dialect.name == "postgresql" and len(rows) == 1:
        # One round trip while the chain is locked: the event goes in through a CTE of the head's UPDATE.
        connection.execute(_PG_SEAL_ONE, {**rows[0], "head_seq": seq, "head_hash": prev})
    else:
        connection.execute(insert(_EVENTS), rows)
        connection.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})


def install(factory: sessionmaker[Session], *, site_code: str) -> None:
    """Seal queued events in every transaction of sessions made by ``factory``."""

    @event.listens_for(factory, "before_commit")
    def _before_commit(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint's events are sealed with the transaction that contains it
        session.info[_SITE] = site_code
        session.info.pop(_MARKS, None)
        _seal(session)

    # Events queued inside a savepoint that is rolled back are dropped with it; events queued before it stay.
    @event.listens_for(factory, "after_transaction_create")
    def _mark_savepoint(session: Session, transaction) -> None:
        if transaction.nested:
            session.info.setdefault(_MARKS, {})[id(transaction)] = pending_count(session)

    @event.listens_for(factory, "after_soft_rollback")
    def _after_rollback(session: Session, previous_transaction) -> None:
        if previous_transaction.nested:
            mark = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
            if mark is not None:
                truncate_pending(session, mark)
        elif previous_transaction.parent is None:
            discard_pending(session)
            session.info.pop(_MARKS, None)

    @event.listens_for(factory, "after_begin")
    def _after_begin(session: Session, _tx, _conn) -> None:
        session.info[_SITE] = site_code


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    last_seq: int
    problem: str | None = None
    bad_seq: int | None = None
    bad_id: int | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "last_seq": self.last_seq,
            "problem": self.problem,
            "bad_seq": self.bad_seq,
            "bad_id": self.bad_id,
        }


def verify_chain(session: Session, *, progress=None) -> VerifyResult:
    """Walk the chain in seq order; report OK or the first event that was altered, removed or reordered."""
    head = session.get(AuditHead, 1)
    expected_seq, expected_prev, checked = 1, GENESIS_HASH, 0
    rows = session.execute(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=5000))
    for ev in rows.scalars():
        problem = None
        own_hash_ok = compute_hash(ev, ev.prev_hash) == ev.hash
        if ev.seq != expected_seq:
            problem = (
                f"缺少事件：应为第 {expected_seq} 号，实际为第 {ev.seq} 号（事件被删除）"
                if ev.seq > expected_seq
                else f"事件序号重复或倒退：第 {ev.seq} 号出现在第 {expected_seq} 号的位置"
            )
        elif ev.prev_hash != expected_prev or not own_hash_ok:
            last_seq = max(head.last_seq if head else 0, session.execute(select(func.max(AuditEvent.seq))).scalar() or 0)
            origin = None if own_hash_ok else _original_seq(ev, last_seq)
            if origin is not None:
                problem = f"第 {ev.seq} 号位置上的事件原本在第 {origin} 号（事件顺序被调换）"
            elif own_hash_ok:
                problem = f"第 {ev.seq} 号事件与前一事件不衔接（前面的事件被删除或调换）"
            else:
                problem = f"第 {ev.seq} 号事件内容被篡改（哈希不符）"
        if problem:
            return VerifyResult(False, checked, expected_seq - 1, problem, ev.seq, ev.id)
        checked += 1
        expected_prev = ev.hash
        expected_seq += 1
        if progress is not None:
            progress(1)
    last = expected_seq - 1
    if head is None:
        if checked:
            return VerifyResult(False, checked, last, "审计链头记录缺失")
        return VerifyResult(True, 0, 0)
    if head.last_seq != last or head.last_hash != expected_prev:
        if head.last_seq > last:
            return VerifyResult(
                False, checked, last, f"链尾缺少事件：链头记录到第 {head.last_seq} 号，实际只到第 {last} 号",
                last + 1, None,
            )
        return VerifyResult(False, checked, last, "链头与最后一个事件不符（链尾被改动）", last, None)
    return VerifyResult(True, checked, last)
