"""Keeping the KPI roll-up (``analytics.models``; docs/kpi.md, "Pre-aggregation") true.

``refresh`` does, in order:

1. **Changes.** The audit events since the last look (``KpiRollupMark``) name the 工单 that changed (and import
   batches, which name theirs). Every local day such a 工单 can count in — its registration, its clocks' ends
   and deadlines, its dispatch rounds, 回访 and closing decisions — loses its "built" mark (and so does its
   month): from then on it is read from the base tables, exactly, until it is built again. A change of a
   unit's parent (a town moved to another district) unbuilds everything.
2. **Days.** Every finished local day without its mark, from the month of the first 工单 to yesterday, is built:
   the facts of each KPI are read (outside any write transaction) grouped by place and unit, rolled up to
   the site, each district and each unit, and written with the day's mark in one short write transaction.
3. **Months.** A finished month whose days are all built gets month rows (the sums of its days), so a year is
   read from twelve months' rows.
4. **Today's hours.** Once no day is left to build, today's finished hours (``h00``…``h23``) are built the same
   way, so that today's figures read the base tables only for the hour going on. A day's hour rows are dropped
   when the day itself is built.

The server runs it every ``analytics.rollup_interval_seconds``: a change that reaches back into a finished day
or hour (a late 签收 of a clock due yesterday, a 回访 of last week's 工单, a 工单 of this morning reclassified)
shows in its figures from the next run on — until then its rows are those built before the change (the hour
going on is always exact: it is never rolled up). ``civiclink analytics rollup`` runs it by hand with progress.
Several processes may run it: each period is written under the write lock after checking that no one else built
it meanwhile.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from civiclink.analytics.facts import (
    HOUR,
    METRICS,
    NONE,
    SITE,
    RollUp,
    _month_end,
    fact_select,
    hour_period,
    hour_starts,
    key_text,
    local_midnight,
)
from civiclink.analytics.models import KpiRollup, KpiRollupMark, KpiRollupPeriod
from civiclink.audit.models import AuditEvent
from civiclink.db import begin_write
from civiclink.orgs.service import OrgDirectory
from civiclink.sla.models import StageClock
from civiclink.workorders.models import Assignment, Callback, WorkOrder

log = logging.getLogger("civiclink.analytics.rollup")

DAYS_PER_WRITE = 7  # days written per write transaction: each holds the write lock only for its inserts
_ORDER_CHUNK = 500
_PG_LOCK_KEY = 0x6B7069_726F6C6C  # "kpi" "roll", for pg_advisory_xact_lock


@dataclass
class RefreshReport:
    changed_orders: int = 0
    unbuilt: int = 0  # built days a change reached back into
    built: list[date] = field(default_factory=list)
    months: list[date] = field(default_factory=list)
    hours: int = 0  # hour blocks built
    remaining: int = 0  # days still to build (a bounded run stops early)

    def describe(self) -> str | None:
        if not (self.built or self.months or self.unbuilt):
            return None  # today's hours are built every few minutes: not worth a log line of their own
        return (f"{len(self.built)} days, {len(self.months)} months and {self.hours} hours built, {self.unbuilt} "
                f"days reopened by changes ({self.changed_orders} 工单 changed), {self.remaining} days left")


def _lock(session: Session) -> None:
    """The roll-up's writers one at a time (SQLite: the write transaction already is; PostgreSQL: a lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


# -- 1. changes --------------------------------------------------------------------------------------------------


@dataclass
class _Changes:
    orders: set[int] = field(default_factory=set)
    everything: bool = False  # a unit changed its parent: every district's figures may move
    since: date | None = None  # a working calendar imported: running clocks' deadlines from then on moved


def _changed_orders(session: Session, after: int, upto: int) -> _Changes:
    """What the audit events in (after, upto] change: the 工单 they name, a unit moved, a calendar imported."""
    changes = _Changes()
    batches: set[str] = set()
    rows = session.execute(select(AuditEvent.entity_type, AuditEvent.entity_id, AuditEvent.entity_ref,
                                  AuditEvent.action, AuditEvent.data)
                           .where(AuditEvent.seq > after, AuditEvent.seq <= upto,
                                  AuditEvent.entity_type.in_(("work_order", "import_batch", "org_unit", "calendar"))))
    for entity_type, entity_id, entity_ref, action, data in rows:
        if entity_type == "work_order" and entity_id is not None:
            changes.orders.add(entity_id)
        elif entity_type == "import_batch" and entity_ref:
            batches.add(entity_ref)
        elif action == "org.unit_updated" and "parent" in ((data or {}).get("changes") or {}):
            changes.everything = True
        elif action == "calendar.imported" and entity_id is not None:
            # sla/service.py recomputes every running clock due from 1 January of the year imported on.
            first = date(int(entity_id), 1, 1)
            changes.since = first if changes.since is None else min(changes.since, first)
    for batch in batches:
        changes.orders.update(session.execute(select(WorkOrder.id)
                                              .where(WorkOrder.import_batch == batch)).scalars())
    return changes


# The actions that move a clock's stop or deadline (and say where they were, in the event's ``clock_was``).
CLOCK_MOVES = ("order.reject_return", "order.reject_reply", "order.pause", "order.approve_extension")


def _stamps_of(session: Session, order_ids: set[int]) -> list[datetime]:
    """Every time the 工单 can count at, by any KPI (the times their facts are dated by)."""
    stamps: list[datetime | None] = []
    ids = sorted(order_ids)
    for i in range(0, len(ids), _ORDER_CHUNK):
        chunk = ids[i:i + _ORDER_CHUNK]
        for registered, closed in session.execute(select(WorkOrder.registered_at, WorkOrder.closed_at)
                                                  .where(WorkOrder.id.in_(chunk))):
            stamps += [registered, closed]
        for stopped, due in session.execute(select(StageClock.stopped_at, StageClock.due_at)
                                            .where(StageClock.order_id.in_(chunk))):
            stamps += [stopped, due]
        stamps += session.execute(select(Assignment.dispatched_at).where(Assignment.order_id.in_(chunk))).scalars()
        stamps += session.execute(select(Callback.at).where(Callback.order_id.in_(chunk))).scalars()
        # A reopened 工单 no longer shows when it was closed: its closing and reopening events do.
        stamps += session.execute(select(AuditEvent.occurred_at).where(
            AuditEvent.entity_type == "work_order", AuditEvent.entity_id.in_(chunk),
            AuditEvent.action.in_(("order.reopen", "order.callback", "order.close", "order.close_at_intake")),
        )).scalars()
        # A clock restarted, paused or extended no longer shows the stop or deadline a day counted it at: the
        # event that moved them does (``clock_was``, workorders/actions.py).
        for data in session.execute(select(AuditEvent.data).where(
                AuditEvent.entity_type == "work_order", AuditEvent.entity_id.in_(chunk),
                AuditEvent.action.in_(CLOCK_MOVES))).scalars():
            stamps += [datetime.fromisoformat(t) for t in (data or {}).get("clock_was") or ()]
    return [s for s in stamps if s is not None]


def _hour_of(moment: datetime, tz) -> tuple[date, str]:
    day = moment.astimezone(tz).date()
    return day, hour_period(int((moment - local_midnight(day, tz)) // HOUR))


def _take_changes(session: Session, tz, today: date, report: RefreshReport) -> None:
    begin_write(session)
    _lock(session)
    top = session.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar_one()
    mark = session.get(KpiRollupMark, 1)
    now = datetime.now(UTC)
    if mark is None:
        session.add(KpiRollupMark(id=1, seq=top, updated_at=now))
    elif top > mark.seq:
        changes = _changed_orders(session, mark.seq, top)
        orders = changes.orders
        report.changed_orders = len(orders)
        if changes.everything:
            report.unbuilt = session.execute(select(func.count()).select_from(KpiRollupPeriod)
                                             .where(KpiRollupPeriod.period == "day")).scalar_one()
            session.execute(delete(KpiRollupPeriod))
            orders = set()
        elif changes.since is not None:
            report.unbuilt = session.execute(delete(KpiRollupPeriod).where(
                KpiRollupPeriod.period == "day", KpiRollupPeriod.day >= changes.since)).rowcount
            session.execute(delete(KpiRollupPeriod).where(KpiRollupPeriod.day >= changes.since))
        if orders:
            stamps = _stamps_of(session, orders)
            days = {s.astimezone(tz).date() for s in stamps}
            hours = {_hour_of(s, tz) for s in stamps}
            built_hours = set(session.execute(select(KpiRollupPeriod.day, KpiRollupPeriod.period).where(
                KpiRollupPeriod.period.like("h%"), KpiRollupPeriod.day.in_(days))).all())
            for day, period in built_hours & hours:
                session.execute(delete(KpiRollupPeriod).where(KpiRollupPeriod.period == period,
                                                              KpiRollupPeriod.day == day))
            days = {d for d in days if d < today}
            if days:
                report.unbuilt += session.execute(delete(KpiRollupPeriod).where(
                    KpiRollupPeriod.period == "day", KpiRollupPeriod.day.in_(days))).rowcount
                session.execute(delete(KpiRollupPeriod).where(
                    KpiRollupPeriod.period == "month", KpiRollupPeriod.day.in_({d.replace(day=1) for d in days})))
        mark.seq, mark.updated_at = top, now
    session.commit()


# -- 2. days -----------------------------------------------------------------------------------------------------


def day_rows(session: Session, day: date, tz, directory: OrgDirectory) -> list[dict]:
    """The roll-up rows of one local day: every KPI's facts, site-wide, per district and per unit."""
    return block_rows(session, "day", day, local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz),
                      directory)


def block_rows(session: Session, period: str, day: date, start: datetime, end: datetime,
               directory: OrgDirectory) -> list[dict]:
    """The roll-up rows of the period [start, end) (a day, or an hour of ``day``)."""
    dialect = session.get_bind().dialect.name
    roll_up = RollUp(directory)
    rows = []
    for metric in METRICS.values():
        sums: dict[tuple[str, int, str], list] = defaultdict(lambda: [0, 0, 0.0])
        stmt = fact_select(metric, start, end, dialect=dialect, by_place=True, by_unit=metric.has_unit)
        for _day, place, unit, key, n, d, s in session.execute(stmt):
            key = key_text(key)
            district = roll_up.district_id(None if place == NONE else place)
            members = [("site", SITE), ("district", NONE if district is None else district)]
            if metric.has_unit:
                members.append(("unit", NONE if unit is None else unit))
            for grain, member in members:
                total = sums[(grain, member, key)]
                total[0] += int(n or 0)
                total[1] += int(d or 0)
                total[2] += float(s or 0.0)
        rows += [{"period": period, "day": day, "grain": grain, "member": member, "metric": metric.name, "key": key,
                  "n": n, "d": d, "s": s} for (grain, member, key), (n, d, s) in sums.items()]
    return rows


def _write_blocks(session: Session, built: dict[tuple[str, date], list[dict]]) -> list[tuple[str, date]]:
    """Write the periods' rows and marks in one write transaction; a period someone else built meanwhile is
    left. A day built drops its hour blocks (the day's rows answer for them)."""
    begin_write(session)
    _lock(session)
    days = {d for _p, d in built}
    already = set(session.execute(select(KpiRollupPeriod.period, KpiRollupPeriod.day).where(
        KpiRollupPeriod.day.in_(days))).all())
    todo = [key for key in built if key not in already]
    if todo:
        whole_days = [d for p, d in todo if p == "day"]
        for period, day in todo:
            session.execute(delete(KpiRollup).where(KpiRollup.period == period, KpiRollup.day == day))
        if whole_days:
            session.execute(delete(KpiRollup).where(KpiRollup.period.like("h%"), KpiRollup.day.in_(whole_days)))
            session.execute(delete(KpiRollupPeriod).where(KpiRollupPeriod.period.like("h%"),
                                                          KpiRollupPeriod.day.in_(whole_days)))
        rows = [r for key in todo for r in built[key]]
        if rows:
            session.execute(insert(KpiRollup), rows)
        now = datetime.now(UTC)
        session.execute(insert(KpiRollupPeriod), [{"period": p, "day": d, "built_at": now} for p, d in todo])
    session.commit()
    return todo


def _hours_to_build(session: Session, now: datetime, tz) -> list[tuple[str, date, datetime]]:
    """Today's finished hours without their mark: (period, day, start)."""
    today = now.astimezone(tz).date()
    starts = hour_starts(today, tz)
    if starts is None:
        return []
    built = set(session.execute(select(KpiRollupPeriod.period).where(
        KpiRollupPeriod.day == today, KpiRollupPeriod.period.like("h%"))).scalars())
    return [(hour_period(i), today, start) for i, start in enumerate(starts)
            if start + HOUR <= now and hour_period(i) not in built]


def _days_to_build(session: Session, today: date, tz) -> list[date]:
    first = session.execute(select(func.min(WorkOrder.registered_at))).scalar_one()
    if first is None:
        return []
    # From the first of the month of the first 工单 (so that its month can be rolled up), up to yesterday.
    start = first.astimezone(tz).date().replace(day=1)
    built = set(session.execute(select(KpiRollupPeriod.day).where(KpiRollupPeriod.period == "day",
                                                                   KpiRollupPeriod.day >= start)).scalars())
    days = [start + timedelta(days=i) for i in range((today - start).days)]
    return [d for d in days if d not in built]


# -- 3. months ---------------------------------------------------------------------------------------------------


def _build_months(session: Session, today: date) -> list[date]:
    """Month rows for every finished month whose days are all built and that has none yet."""
    begin_write(session)
    _lock(session)
    day_marks = select(KpiRollupPeriod.day).where(KpiRollupPeriod.period == "day")
    counts: dict[date, int] = defaultdict(int)
    for day in session.execute(day_marks).scalars():
        counts[day.replace(day=1)] += 1
    have = set(session.execute(select(KpiRollupPeriod.day).where(KpiRollupPeriod.period == "month")).scalars())
    done = []
    now = datetime.now(UTC)
    for first, n in sorted(counts.items()):
        end = _month_end(first)
        if first in have or end > today or n != (end - first).days:
            continue
        session.execute(delete(KpiRollup).where(KpiRollup.period == "month", KpiRollup.day == first))
        sums = (select(literal("month"), literal(first), KpiRollup.grain, KpiRollup.member, KpiRollup.metric,
                       KpiRollup.key, func.sum(KpiRollup.n), func.sum(KpiRollup.d), func.sum(KpiRollup.s))
                .where(KpiRollup.period == "day", KpiRollup.day >= first, KpiRollup.day < end)
                .group_by(KpiRollup.grain, KpiRollup.member, KpiRollup.metric, KpiRollup.key))
        session.execute(insert(KpiRollup).from_select(
            ["period", "day", "grain", "member", "metric", "key", "n", "d", "s"], sums))
        session.add(KpiRollupPeriod(period="month", day=first, built_at=now))
        done.append(first)
    session.commit()
    return done


# -- the whole refresh ---------------------------------------------------------------------------------------------


def refresh(state, *, max_days: int | None = None, rebuild: bool = False, now: datetime | None = None,
            progress: Callable[[int, int], None] | None = None) -> RefreshReport:
    """Bring the roll-up up to date (see the module's description); ``max_days``: build at most that many days
    in this run (the server's task builds a backlog a slice at a time); ``rebuild``: forget every built period
    first; ``now``: the moment whose local day is "today" (not built: it is still going on). ``progress(done,
    total)`` after each write."""
    report = RefreshReport()
    tz = state.settings.tz
    with state.sessions() as session:
        ctx = state.ctx(session, now=now)
        today, directory = ctx.now.astimezone(tz).date(), ctx.directory
        session.rollback()
        if rebuild:
            begin_write(session)
            _lock(session)
            session.execute(delete(KpiRollupPeriod))
            session.execute(delete(KpiRollup))
            session.commit()
        _take_changes(session, tz, today, report)
        todo = _days_to_build(session, today, tz)
        session.rollback()
        report.remaining = max(0, len(todo) - max_days) if max_days is not None else 0
        todo = todo[:max_days] if max_days is not None else todo
        for i in range(0, len(todo), DAYS_PER_WRITE):
            chunk = todo[i:i + DAYS_PER_WRITE]
            built = {("day", day): day_rows(session, day, tz, directory) for day in chunk}
            session.rollback()  # end the read transaction: the write starts afresh
            report.built += [d for _p, d in _write_blocks(session, built)]
            if progress is not None:
                progress(i + len(chunk), len(todo))
        report.months = _build_months(session, today)
        if not report.remaining:
            hours = _hours_to_build(session, ctx.now, tz)
            built = {(period, day): block_rows(session, period, day, start, start + HOUR, directory)
                     for period, day, start in hours}
            session.rollback()
            if built:
                report.hours = len(_write_blocks(session, built))
    return report


def rollup_task(state):
    """The server's background task (a 12345 site; ``analytics.rollup_enabled``)."""
    from civiclink import periodic

    return periodic.rollup_task(state, name="kpi-rollup", refresh=refresh, describe=RefreshReport.describe)
