"""Writes of the call records, each in the caller's write transaction with its audit event (design §3): a batch
of CTI events (from the adapter's API calls or a CSV import), and the result of a 漏接回拨 (R-605)."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import select

from civiclink.audit.service import record_event
from civiclink.callcentre import rollup, service
from civiclink.callcentre.models import Call, CallEvent
from civiclink.callcentre.schemas import MAX_EVENTS, CallEventIn, IngestRead, MissedCallbackIn
from civiclink.context import Ctx
from civiclink.errors import Forbidden, Invalid, StaleVersion
from civiclink.orgs.roles import Actor


def _digest(e: CallEventIn) -> str:
    parts = (e.call_id, e.type, e.at.isoformat(), e.agent or "", e.target or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def do_record_call_events(ctx: Ctx, events: list[CallEventIn], *, actor: Actor, source: str = "api") -> IngestRead:
    """Record a batch of call events (resent ones are skipped), assemble the calls they belong to again, mark
    redials and settle call-backs of the callers concerned; one audit event for the batch (the numbers called
    from are not in it: R-507)."""
    service.require_event_writer(actor)
    session = ctx.session
    batch = f"cti-{ctx.now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    digests = {_digest(e): e for e in events}
    known = set(session.execute(select(CallEvent.digest).where(CallEvent.digest.in_(list(digests)))).scalars())
    new = [(d, e) for d, e in digests.items() if d not in known]
    for digest, e in new:
        session.add(CallEvent(digest=digest, call_ref=e.call_id, kind=e.type, at=e.at, caller=e.caller,
                              line=e.line, agent=e.agent, team=e.team, target=e.target, order_number=e.order,
                              incident_number=e.incident, batch=batch, recorded_at=ctx.now))
    session.flush()
    refs = sorted({e.call_id for _d, e in new})
    # The days whose calls change — where they count, where they counted before, and those of calls that became
    # or stopped being redials — are no longer rolled up.
    calls, days = service.assemble(ctx, set(refs))
    callers = {c.caller for c in calls if c.caller}
    if callers:
        times = [c.offered_at for c in calls]
        days |= service.mark_redials_and_settle(ctx, callers, min(times), max(times))
    rollup.unbuild(session, days)
    result = IngestRead(batch=batch, received=len(events), recorded=len(new), duplicates=len(events) - len(new),
                        calls=len(refs))
    if new:
        record_event(session, actor=actor, action="calls.events", entity_type="call_batch", entity_ref=batch,
                     at=ctx.now, data={"source": source, "events": len(new), "duplicates": result.duplicates,
                                       "calls": len(refs),
                                       "sha256": hashlib.sha256("".join(sorted(d for d, _e in new)).encode())
                                       .hexdigest()})
    return result


def do_record_missed_callback(ctx: Ctx, call: Call, body: MissedCallbackIn, *, actor: Actor) -> Call:
    """The result of calling a missed caller back (R-605): 已回拨, 未能联系 or 无需回拨, with a note."""
    if not (actor.is_system or actor.roles & service.CALLBACK_ROLES):
        raise Forbidden("只有话务员、回访员、督办员或管理员可以登记漏接回拨")
    if call.version != body.version:
        raise StaleVersion("这通电话已被他人更新，请刷新后再登记")
    if call.callback_state is None:
        raise Invalid("这通电话不需要回拨（已接通或来电号码未知）", field="result")
    if call.callback_state != "pending":
        raise Invalid(f"这通电话的回拨已登记为「{service.CALLBACK_LABELS[call.callback_state]}」", field="result")
    before = call.callback_state
    call.callback_state, call.callback_at = body.result, ctx.now
    call.callback_by, call.callback_note = actor.username, body.note
    call.updated_at = ctx.now
    record_event(ctx.session, actor=actor, action="call.callback", entity_type="call", entity_id=call.id,
                 entity_ref=call.call_ref, from_state=before, to_state=body.result, at=ctx.now,
                 data={"note": body.note or ""})
    ctx.session.flush()
    return call


# -- CSV -------------------------------------------------------------------------------------------------------

CSV_COLUMNS = ("call_id", "type", "at", "caller", "line", "agent", "team", "target", "order", "incident")


@dataclass
class CsvProblem:
    line: int
    reason: str


@dataclass
class CsvRead:
    events: list[tuple[int, CallEventIn]] = field(default_factory=list)
    problems: list[CsvProblem] = field(default_factory=list)


def read_csv(lines: Iterable[str]) -> Iterator[tuple[int, CallEventIn | CsvProblem]]:
    """The events of a CSV file (UTF-8, header row with ``CSV_COLUMNS``; times ISO 8601 with their offset), one
    by one with their line numbers; a bad row is a problem with its reason, never a stop."""
    reader = csv.DictReader(lines)
    missing = [c for c in ("call_id", "type", "at") if c not in (reader.fieldnames or ())]
    if missing:
        raise Invalid(f"CSV 缺少列：{', '.join(missing)}（需要 {', '.join(CSV_COLUMNS)}）", field="file")
    unknown = [c for c in reader.fieldnames or () if c not in CSV_COLUMNS]
    if unknown:
        raise Invalid(f"CSV 有不认识的列：{', '.join(unknown)}", field="file")
    for row in reader:
        line = reader.line_num
        values = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
        values = {k: v for k, v in values.items() if v not in (None, "")}
        if None in row:
            yield line, CsvProblem(line, "列数多于表头")
            continue
        try:
            yield line, CallEventIn.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ())) or "行"
            yield line, CsvProblem(line, f"{where}: {first.get('msg')}")


def csv_batches(text: str | io.TextIOBase, size: int = MAX_EVENTS) -> Iterator[CsvRead]:
    """The file in batches of at most ``size`` good events (each batch is one write transaction)."""
    lines = io.StringIO(text) if isinstance(text, str) else text
    current = CsvRead()
    for line, item in read_csv(lines):
        if isinstance(item, CsvProblem):
            current.problems.append(item)
        else:
            current.events.append((line, item))
        if len(current.events) >= size:
            yield current
            current = CsvRead()
    if current.events or current.problems:
        yield current
