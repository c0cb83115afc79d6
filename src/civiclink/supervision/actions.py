"""The supervision sweep (R-610 催办/督办, R-1004 repeats, R-612 returns counted per unit, R-1009).

``do_sweep`` finds, at ``ctx.now``:

- **催办** — a unit's running 签收 or 办理 clock past its yellow share (黄灯) and not yet due: one 催办 per clock;
- **督办** — a unit's running 签收 or 办理 clock past its deadline (红灯): one 督办 per clock (a re-dispatch or a
  重办 starts a new clock, which may be supervised again);
- **repeats** — a caller with ``repeat_threshold`` open 工单 in ``repeat_caller_days``, or one 属地 with that many
  open 工单 of one category in ``repeat_place_days``: a 督办 on the newest, once for each newest 工单 (a further
  repeat is a new breach);
- **units with many returns** — a unit that asked to return at least ``unit_returns_min`` of the rounds it received
  in ``unit_returns_days``, and at least ``unit_returns_rate`` of them: flagged once a week (an audit event on the
  unit, for the supervisors' report).

Each thing done is a ``SupervisionNotice`` with a unique key and the ordinary 催办/督办 action (its audit event) in
the same transaction; a key already taken — by an earlier sweep, or another process sweeping at the same moment —
is skipped. The sweep acts as the system (``SYSTEM``), so its audit events say so.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from civiclink.audit.service import record_event
from civiclink.context import Ctx
from civiclink.orgs.roles import SYSTEM, Actor
from civiclink.sla.models import StageClock
from civiclink.supervision.models import SupervisionNotice
from civiclink.workorders import actions as order_actions
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.schemas import SupervisionIn
from civiclink.workorders.states import TERMINAL, Action

UNIT_STAGES = ("sign", "handle")  # the clocks a handling unit runs (派单 and 回访 are the centre's own)
STAGE_NAMES = {"sign": "签收", "handle": "办理"}


@dataclass
class Candidate:
    key: str
    kind: str
    note: str
    order_number: str | None = None
    order_id: int | None = None
    unit_id: int | None = None
    data: dict = field(default_factory=dict)


@dataclass
class SweepReport:
    done: list[Candidate] = field(default_factory=list)
    already: int = 0  # found again, but already answered (by an earlier sweep)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.done:
            out[c.kind] = out.get(c.kind, 0) + 1
        return out


def _open():
    return WorkOrder.state.notin_([str(s) for s in TERMINAL])


def clock_candidates(ctx: Ctx) -> list[Candidate]:
    """Yellow clocks → 催办, red clocks → 督办 (R-610, R-1009)."""
    rows = ctx.session.execute(
        select(StageClock.id, StageClock.stage, StageClock.due_at, WorkOrder.id, WorkOrder.number,
               WorkOrder.handling_unit_id)
        .join(WorkOrder, WorkOrder.id == StageClock.order_id)
        .where(StageClock.stage.in_(UNIT_STAGES), StageClock.stopped_at.is_(None),
               StageClock.paused_since.is_(None), StageClock.warn_at <= ctx.now, _open())
        .order_by(StageClock.due_at)
    ).all()
    out = []
    for clock_id, stage, due_at, order_id, number, unit_id in rows:
        local_due = due_at.astimezone(ctx.settings.tz).strftime("%m-%d %H:%M")
        if due_at > ctx.now:
            out.append(Candidate(f"urge:{clock_id}", "urge", f"系统自动催办：{STAGE_NAMES[stage]}时限将于 {local_due} "
                                 f"到期（黄灯，R-610）", number, order_id, unit_id))
        else:
            out.append(Candidate(f"supervise:{clock_id}", "supervise", f"系统自动督办：{STAGE_NAMES[stage]}已于 "
                                 f"{local_due} 超期（红灯，R-610）", number, order_id, unit_id))
    return out


def repeat_candidates(ctx: Ctx) -> list[Candidate]:
    """R-1004: the same caller, or the same 属地 and category, ``repeat_threshold`` times or more."""
    cfg = ctx.settings.supervision
    out = []
    since = ctx.now - timedelta(days=cfg.repeat_caller_days)
    callers = ctx.session.execute(
        select(WorkOrder.caller_phone, func.count(), func.max(WorkOrder.id))
        .where(_open(), WorkOrder.caller_phone.is_not(None), WorkOrder.caller_phone != "",
               WorkOrder.registered_at >= since)
        .group_by(WorkOrder.caller_phone).having(func.count() >= cfg.repeat_threshold)
    ).all()
    for phone, n, newest in callers:
        # The key carries a digest, never the number itself (R-507: no phone numbers outside the order).
        digest = hashlib.sha256(phone.encode()).hexdigest()[:16]
        out.append(Candidate(f"repeat_caller:{digest}:{newest}", "repeat_caller",
                             f"系统自动督办：同一来电人 {cfg.repeat_caller_days} 天内有 {n} 件未办结诉求（R-1004）",
                             order_id=newest, data={"count": n}))
    since = ctx.now - timedelta(days=cfg.repeat_place_days)
    places = ctx.session.execute(
        select(WorkOrder.place_id, WorkOrder.category_id, func.count(), func.max(WorkOrder.id))
        .where(_open(), WorkOrder.place_id.is_not(None), WorkOrder.category_id.is_not(None),
               WorkOrder.registered_at >= since)
        .group_by(WorkOrder.place_id, WorkOrder.category_id).having(func.count() >= cfg.repeat_threshold)
    ).all()
    for place_id, category_id, n, newest in places:
        place = ctx.directory.unit(place_id)
        category = ctx.directory.category(category_id)
        out.append(Candidate(f"repeat_place:{place_id}:{category_id}:{newest}", "repeat_place",
                             f"系统自动督办：{place.name if place else ''}{cfg.repeat_place_days} 天内有 {n} 件"
                             f"「{category.path_name if category else ''}」未办结诉求（R-1004）",
                             order_id=newest, data={"count": n}))
    numbers = dict(ctx.session.execute(select(WorkOrder.id, WorkOrder.number)
                                       .where(WorkOrder.id.in_([c.order_id for c in out]))).all()) if out else {}
    for c in out:
        c.order_number = numbers.get(c.order_id)
    return out


def unit_return_candidates(ctx: Ctx) -> list[Candidate]:
    """Units that return much of what they receive (R-612): flagged once per ISO week."""
    cfg = ctx.settings.supervision
    since = ctx.now - timedelta(days=cfg.unit_returns_days)
    from civiclink.analytics import kpis

    # 退单率 as docs/kpi.md defines it, per unit, over the last ``unit_returns_days``.
    by_unit = kpis.return_rate(ctx.session, kpis.Scope(since, ctx.now + timedelta(microseconds=1)), by_unit=True)
    year, week, _ = ctx.now.astimezone(ctx.settings.tz).isocalendar()
    out = []
    for unit_id, rate in by_unit.items():
        rounds, returns = rate.denominator, rate.numerator
        if returns >= cfg.unit_returns_min and returns / rounds >= cfg.unit_returns_rate:
            unit = ctx.directory.unit(unit_id)
            out.append(Candidate(f"unit_returns:{unit_id}:{year}-W{week:02d}", "unit_returns",
                                 f"退单偏多：{unit.name if unit else unit_id} 近 {cfg.unit_returns_days} 天收到 {rounds} 件、"
                                 f"申请退单 {returns} 件（{returns / rounds:.0%}，R-612）", unit_id=unit_id,
                                 data={"rounds": rounds, "returns": returns}))
    return out


def candidates(ctx: Ctx) -> list[Candidate]:
    return clock_candidates(ctx) + repeat_candidates(ctx) + unit_return_candidates(ctx)


def do_sweep(ctx: Ctx, *, actor: Actor = SYSTEM, dry_run: bool = False) -> SweepReport:
    """Answer every breach found now that was not answered before, each in its own savepoint of the caller's
    transaction: a notice, and its 催办/督办 or its audit event, together or not at all."""
    report = SweepReport()
    found = candidates(ctx)
    taken = set(ctx.session.execute(select(SupervisionNotice.key)
                                    .where(SupervisionNotice.key.in_([c.key for c in found]))).scalars()) \
        if found else set()
    for c in found:
        if c.key in taken:
            report.already += 1
            continue
        if dry_run:
            report.done.append(c)
            continue
        try:
            with ctx.session.begin_nested():
                _answer(ctx, c, actor)
        except IntegrityError:  # another process answered it a moment ago
            report.already += 1
            continue
        report.done.append(c)
    return report


def _answer(ctx: Ctx, c: Candidate, actor: Actor) -> None:
    ctx.session.add(SupervisionNotice(key=c.key, kind=c.kind, order_id=c.order_id, unit_id=c.unit_id,
                                      created_at=ctx.now, note=c.note[:500]))
    ctx.session.flush()  # the unique key first: a duplicate stops here, before anything is sent
    if c.kind == "unit_returns":
        unit = ctx.directory.unit(c.unit_id)
        record_event(ctx.session, actor=actor, action="supervision.unit_returns", entity_type="org_unit",
                     entity_id=c.unit_id, entity_ref=unit.code if unit else None,
                     data={"note": c.note, **c.data}, at=ctx.now)
        return
    action = Action.URGE if c.kind == "urge" else Action.SUPERVISE
    order_actions.do_order_action(ctx, c.order_number, action, SupervisionIn(note=c.note[:1000]), actor=actor)
