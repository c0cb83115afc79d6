"""What each KPI counts, as numerator/denominator "facts", and where a period's facts are read from.

A KPI (``analytics.kpis``) asks ``totals(session, metric, scope, by=…)``. The facts of a period come from two
places (docs/kpi.md, "Pre-aggregation"):

- the **roll-up** (``analytics.rollup``): the counts of every finished local day and month, and of today's
  finished hours, written once and rebuilt when a change reaches back into them — a year is a few hundred small
  rows, whatever the size of the tables;
- the **base tables** for the rest: the hour going on, partial hours at the ends of the period, and days or
  hours not (or no longer) rolled up. These reads use the date indexes, so they cost what the period holds, not what the table holds.

Both run the same fact query (``fact_select``), so a period gives the same numbers either way; the tests compare
them. The roll-up keeps three grains — the whole site, each district (区/县 level) and each handling unit —
so a scope limited to a town (not a district), or a per-unit figure limited to a 属地, is read from the base
tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal, literal_column, null, or_, select
from sqlalchemy.orm import Session

from civiclink.audit.models import AuditEvent
from civiclink.orgs.service import CategoryInfo, OrgDirectory, UnitInfo
from civiclink.sla.models import StageClock
from civiclink.workorders.models import Assignment, Callback, WorkOrder
from civiclink.workorders.states import State

# 工单 that are not the hotline's own work: a duplicate folded into its 主单, a matter handed to 110.
NOT_HANDLED_HERE = (State.MERGED.value, State.TRANSFERRED_TO_110.value)

# Grain members in the roll-up that are no unit: the whole site; an unknown district or no handling unit.
SITE, NONE = 0, -1


def _year_earlier(moment: datetime) -> datetime:
    """The same local wall-clock time a year earlier (29 February → 28 February)."""
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:
        return moment.replace(year=moment.year - 1, day=28)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


HOUR = timedelta(hours=1)


def hour_starts(day: date, tz: ZoneInfo) -> list[datetime] | None:
    """The starts of a local day's 24 hour blocks (roll-up periods ``h00``…``h23``), or None for a day of a
    daylight-saving change (not 24 hours long: it is rolled up as a whole day only)."""
    start = local_midnight(day, tz)
    if local_midnight(day + timedelta(days=1), tz) - start != timedelta(hours=24):
        return None
    return [start + i * HOUR for i in range(24)]


def hour_period(index: int) -> str:
    return f"h{index:02d}"


@dataclass(frozen=True)
class Scope:
    """What a KPI counts over: a period (UTC, start inclusive, end exclusive) and optionally one 属地 with every
    unit under it. ``tz`` (the site's) lets the period be read from the roll-up's local days; ``district_id``
    says the 属地 is a whole district, which the roll-up keeps. Without them the base tables are read (the same
    numbers, only slower on a long period)."""

    start: datetime
    end: datetime
    place_ids: tuple[int, ...] | None = None  # a 属地 and every unit under it; None: the whole site
    tz: ZoneInfo | None = None
    district_id: int | None = None  # set when place_ids is exactly a district's subtree
    # The moment the figures are read as of. A period reaching past it is read only up to it: what is dated
    # later has not happened, and a clock still running whose deadline is later today is not late yet (it is
    # not counted against 按时签收率/按时办结率 before its deadline has passed — docs/kpi.md). None: no clipping.
    now: datetime | None = None

    @classmethod
    def local_days(cls, first: date, last: date, tz: ZoneInfo, *, place_ids=None, district_id=None,
                   now: datetime | None = None) -> Scope:
        """Local calendar days ``first``..``last`` (both included), read as of ``now``."""
        return cls(local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz), place_ids, tz,
                   district_id, now)

    def previous(self) -> Scope:
        """The span of the same length just before (环比), whole. (Read only as far as this one is read — yesterday
        up to this time of day — it would be a partial day of base tables at every read: 0.1 s more for today's
        KPI set at 10 M 工单 on SQLite, 5× the 100 k time. The 大屏 compares the same wall-clock instead.)"""
        return replace(self, start=self.start - (self.end - self.start), end=self.start)

    def year_earlier(self) -> Scope:
        """The same span a year earlier (同比), whole; 29 February stands for 28 February."""
        return replace(self, start=_year_earlier(self.start), end=_year_earlier(self.end))

    def read_until(self) -> datetime:
        """Where the span is read to: its end, or now when now comes first."""
        return max(self.start, min(self.end, self.now)) if self.now is not None else self.end


def _unindexed(column):
    """``column`` for GROUP BY, with NULL as -1 — in a form no index matches. Grouped by the bare column, SQLite
    walks that column's index to save a sort and fetches every row's time from the table in index order (3–4×
    slower than one scan of the table); an expression makes it scan and group in a temporary b-tree. The -1 is
    inlined (no bound parameter), so that PostgreSQL sees the same expression in SELECT and GROUP BY."""
    return func.coalesce(column, literal_column("-1", Integer))


def _no_index(column):
    """A string column in a form no index matches (``column || ''``): without statistics SQLite prefers an index
    on an equality (``entity_type = 'work_order'``, ``state = 'closed'``) to the date range that picks out one
    day, and would read every row of that kind for it. The date's index must lead."""
    return column.op("||")(literal_column("''"))


def _running(clock):
    """Running and not paused — as one expression, so that no index on ``stopped_at`` is chosen over the
    deadline's (``due_at``) for "still running and due in the span"."""
    return func.coalesce(clock.stopped_at, clock.paused_since).is_(None)


def _in(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def seconds_between(start, end, dialect: str):
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


# -- the facts of each KPI ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """One KPI's fact query for a span: FROM ``source`` WHERE ``where``, summing ``n``, ``d`` and ``s`` per
    ``key`` (and per ``unit`` when asked). Every source has the 工单 in it (for its 属地)."""

    source: object
    where: object
    n: object
    d: object
    s: object = None
    key: object = None
    unit: object = None  # the handling unit the KPI belongs to, for the scorecard
    day_column: object = None  # the one time the KPI is dated by, when it has one (for by="day")


@dataclass(frozen=True)
class Metric:
    name: str
    facts: Callable[[datetime, datetime, str], Facts]
    has_unit: bool = False


def _volume(key):
    def facts(start, end, _dialect):
        return Facts(WorkOrder, _in(WorkOrder.registered_at, start, end), n=literal(0), d=func.count(), key=key,
                     day_column=WorkOrder.registered_at)
    return facts


def _direct(start, end, _dialect):
    # 直接答复率: 直接办结 ÷ registered ones the hotline handles (not merged, not transferred to 110).
    return Facts(WorkOrder, and_(_in(WorkOrder.registered_at, start, end), WorkOrder.state.notin_(NOT_HANDLED_HERE)),
                 n=func.sum(case((WorkOrder.state == State.CLOSED_AT_INTAKE.value, 1), else_=0)), d=func.count())


def _sign(start, end, _dialect):
    # 按时签收率: 签收 clocks ended in the span (signed, or returned without 签收) and running ones due in it.
    ended = and_(StageClock.stop_reason.in_(("signed", "returned")), _in(StageClock.stopped_at, start, end))
    overdue = and_(_running(StageClock), _in(StageClock.due_at, start, end))
    on_time = and_(StageClock.stop_reason == "signed", _in(StageClock.stopped_at, start, end),
                   StageClock.breached.is_(False))
    # Every 派单 (and 重办) starts one dispatch round and one 签收 clock: their rounds are the same number. The
    # round's unit is a scalar subquery, not a join: joined, SQLite (no statistics) scanned the whole stage_clock
    # table on a 2 M-工单 database instead of the two date indexes (0.48 s for a few hours' span, not 4 ms).
    unit = (select(Assignment.unit_id).where(Assignment.order_id == StageClock.order_id,
                                             Assignment.round == StageClock.round)
            .limit(1).scalar_subquery())
    source = StageClock.__table__.join(WorkOrder, WorkOrder.id == StageClock.order_id)
    return Facts(source, and_(StageClock.stage == "sign", ended | overdue),
                 n=func.sum(case((on_time, 1), else_=0)), d=func.count(), unit=unit)


def _handle(start, end, _dialect):
    # 按时办结率: 办理 clocks replied in the span, and running ones due in it (超期未办结).
    finished = and_(StageClock.stop_reason == "replied", _in(StageClock.stopped_at, start, end))
    overdue = and_(_running(StageClock), _in(StageClock.due_at, start, end))
    source = StageClock.__table__.join(WorkOrder, WorkOrder.id == StageClock.order_id)
    return Facts(source, and_(StageClock.stage == "handle", finished | overdue),
                 n=func.sum(case((and_(finished, StageClock.breached.is_(False)), 1), else_=0)), d=func.count(),
                 unit=WorkOrder.handling_unit_id)


def _handled(start, end, dialect):
    # 平均办理时长: natural seconds from the 办理 clock's start to the reply, over rounds replied in the span.
    source = StageClock.__table__.join(WorkOrder, WorkOrder.id == StageClock.order_id)
    return Facts(source, and_(StageClock.stage == "handle", StageClock.stop_reason == "replied",
                              _in(StageClock.stopped_at, start, end)),
                 n=literal(0), d=func.count(),
                 s=func.sum(seconds_between(StageClock.started_at, StageClock.stopped_at, dialect)),
                 unit=WorkOrder.handling_unit_id)


def _returns(start, end, _dialect):
    # 退单率: dispatch rounds made in the span whose unit asked to return the 工单.
    source = Assignment.__table__.join(WorkOrder, WorkOrder.id == Assignment.order_id)
    return Facts(source, _in(Assignment.dispatched_at, start, end),
                 n=func.sum(case((Assignment.return_requested_at.is_not(None), 1), else_=0)), d=func.count(),
                 unit=Assignment.unit_id)


def _reopens(start, end, _dialect):
    # 重办率: the decisions that ended a 回访 in the span — 重办, or 办结 (by the 回访 itself or after it).
    action = _no_index(AuditEvent.action)
    reopen = action == "order.reopen"
    closing = and_(action.in_(("order.callback", "order.close")), AuditEvent.to_state == State.CLOSED.value)
    source = AuditEvent.__table__.join(WorkOrder, and_(_no_index(AuditEvent.entity_type) == "work_order",
                                                       AuditEvent.entity_id == WorkOrder.id))
    return Facts(source, and_(_in(AuditEvent.occurred_at, start, end), reopen | closing),
                 n=func.sum(case((reopen, 1), else_=0)), d=func.count(), unit=WorkOrder.handling_unit_id)


def _callbacks(start, end, _dialect):
    # 回访率: 工单 closed in the span after a unit handled them, with at least one 回访 attempt.
    visited = select(Callback.id).where(Callback.order_id == WorkOrder.id).exists()
    return Facts(WorkOrder, and_(_no_index(WorkOrder.state) == State.CLOSED.value,
                                 _in(WorkOrder.closed_at, start, end)),
                 n=func.sum(case((visited, 1), else_=0)), d=func.count())


def _satisfaction(start, end, _dialect):
    # 满意率: 回访 in the span that reached the caller and recorded a level, counted per level.
    source = Callback.__table__.join(WorkOrder, WorkOrder.id == Callback.order_id)
    return Facts(source, and_(_in(Callback.at, start, end), Callback.reached.is_(True),
                              Callback.satisfaction.is_not(None)),
                 n=literal(0), d=func.count(), key=Callback.satisfaction, unit=WorkOrder.handling_unit_id)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("volume.channel", _volume(WorkOrder.channel)),
    Metric("volume.category", _volume(_unindexed(WorkOrder.category_id))),
    Metric("volume.type", _volume(WorkOrder.request_type)),
    Metric("direct", _direct),
    Metric("sign", _sign, has_unit=True),
    Metric("handle", _handle, has_unit=True),
    Metric("handled", _handled, has_unit=True),
    Metric("returns", _returns, has_unit=True),
    Metric("reopens", _reopens, has_unit=True),
    Metric("callbacks", _callbacks),
    Metric("satisfaction", _satisfaction, has_unit=True),
)}


def _day_index(column, start: datetime, end: datetime, tz: ZoneInfo):
    """The local day of ``column`` as days since the local date of ``start``: the index of the first local
    midnight after it (one CASE, no time-zone functions in SQL; right across DST changes)."""
    first = start.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    edges = [local_midnight(first + timedelta(days=i), tz) for i in range(1, (last - first).days + 1)]
    if not edges:
        return None  # one day: index 0 for every row
    return case(*[(column < edge, i) for i, edge in enumerate(edges)], else_=len(edges))


def fact_select(metric: Metric, start: datetime, end: datetime, *, dialect: str, place_ids=None,
                by_place: bool = False, by_unit: bool = False, by_day: ZoneInfo | None = None):
    """The fact query of ``metric`` for [start, end): rows of (day index, place, unit, key, n, d, s), the
    dimensions not asked for being NULL. ``place_ids`` limits it to a 属地."""
    f = metric.facts(start, end, dialect)
    day = _day_index(f.day_column, start, end, by_day) if by_day is not None else None
    place = _unindexed(WorkOrder.place_id) if by_place else None
    unit = _unindexed(f.unit) if by_unit and f.unit is not None else None
    dims = [c for c in (day, place, unit, f.key) if c is not None]
    if by_day is not None and day is None:
        day = literal_column("0", Integer)
    def column(value, name):
        return (value if value is not None else null()).label(name)

    stmt = select(column(day, "day"), column(place, "place"), column(unit, "unit"), column(f.key, "key"),
                  f.n.label("n"), f.d.label("d"), column(f.s if f.s is not None else literal(0.0), "s")
                  ).select_from(f.source).where(f.where)
    if place_ids is not None:
        stmt = stmt.where(WorkOrder.place_id.in_(place_ids))
    return stmt.group_by(*dims) if dims else stmt


# -- reading a scope -------------------------------------------------------------------------------------------


@dataclass
class Total:
    n: int = 0
    d: int = 0
    s: float = 0.0

    def add(self, n, d, s) -> None:
        self.n += int(n or 0)
        self.d += int(d or 0)
        self.s += float(s or 0.0)


By = Literal["unit", "district", "day"] | None
Totals = dict[tuple[object, str], Total]


def key_text(key) -> str:
    return "" if key is None else str(key)


@dataclass(frozen=True)
class _Plan:
    days: tuple[date, ...]  # rolled-up days to read
    months: tuple[date, ...]  # rolled-up months to read (first days)
    live: tuple[tuple[datetime, datetime], ...]  # spans read from the base tables
    hours: tuple[tuple[date, tuple[str, ...]], ...] = ()  # rolled-up hour blocks to read, per local day


def _month_end(first: date) -> date:
    """The first day of the next month."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def _plan(session: Session, scope: Scope, *, months_allowed: bool) -> _Plan:
    tz = scope.tz
    first = scope.start.astimezone(tz).date()
    if local_midnight(first, tz) < scope.start:
        first += timedelta(days=1)
    after = scope.end.astimezone(tz).date()  # days before ``after`` end by scope.end
    if after <= first:
        return _with_hours(session, tz, _Plan((), (), ((scope.start, scope.end),)))
    from civiclink.analytics.models import KpiRollupPeriod

    built = session.execute(select(KpiRollupPeriod.period, KpiRollupPeriod.day).where(
        KpiRollupPeriod.day >= first.replace(day=1), KpiRollupPeriod.day < after)).all()
    built_days = {d for p, d in built if p == "day"}
    built_months = {d for p, d in built if p == "month"} if months_allowed else set()
    months, days, live = [], [], []
    head = local_midnight(first, tz)
    if scope.start < head:
        live.append((scope.start, head))
    day = first
    while day < after:
        month_first = day.replace(day=1)
        if day == month_first and month_first in built_months and _month_end(month_first) <= after:
            months.append(month_first)
            day = _month_end(month_first)
            continue
        if day in built_days:
            days.append(day)
        else:
            span = (local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))
            if live and live[-1][1] == span[0]:
                live[-1] = (live[-1][0], span[1])
            else:
                live.append(span)
        day += timedelta(days=1)
    tail = local_midnight(after, tz)
    if tail < scope.end:
        if live and live[-1][1] == tail:
            live[-1] = (live[-1][0], scope.end)
        else:
            live.append((tail, scope.end))
    return _with_hours(session, tz, _Plan(tuple(days), tuple(months), tuple(live)))


def _with_hours(session: Session, tz: ZoneInfo, plan: _Plan) -> _Plan:
    """``plan`` with the built hour blocks inside its live spans read from the roll-up: today's finished hours
    (and a past day's, until the day itself is built), so that today costs what the hour going on holds."""
    from civiclink.analytics.models import KpiRollupPeriod

    dates: set[date] = set()
    for start, end in plan.live:
        day = start.astimezone(tz).date()
        while local_midnight(day, tz) < end:
            dates.add(day)
            day += timedelta(days=1)
    if not dates:
        return plan
    built = set(session.execute(select(KpiRollupPeriod.day, KpiRollupPeriod.period).where(
        KpiRollupPeriod.day.in_(dates), KpiRollupPeriod.period.like("h%"))).all())
    if not built:
        return plan
    live: list[tuple[datetime, datetime]] = []
    hours: dict[date, list[str]] = defaultdict(list)
    for start, end in plan.live:
        cursor = start
        for day in sorted(d for d in dates if local_midnight(d, tz) < end
                          and local_midnight(d + timedelta(days=1), tz) > start):
            for index, block in enumerate(hour_starts(day, tz) or ()):
                if block >= cursor and block + HOUR <= end and (day, hour_period(index)) in built:
                    if cursor < block:
                        live.append((cursor, block))
                    hours[day].append(hour_period(index))
                    cursor = block + HOUR
        if cursor < end:
            live.append((cursor, end))
    return replace(plan, live=tuple(live), hours=tuple((d, tuple(p)) for d, p in sorted(hours.items())))


def day_runs(days) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _grain(scope: Scope, by: By) -> tuple[str, int | None] | None:
    """The roll-up grain (and the one member to read) that answers ``scope`` grouped ``by``, or None."""
    if scope.tz is None:
        return None
    if scope.place_ids is not None:
        if scope.district_id is None or by == "unit":
            return None
        return "district", scope.district_id
    if by == "unit":
        return "unit", None
    if by == "district":
        return "district", None
    return "site", SITE


def totals(session: Session, metric_name: str, scope: Scope, *, by: By = None,
           directory: OrgDirectory | None = None) -> Totals:
    """The facts of ``metric_name`` over ``scope``, summed per (member, key): member None for the whole scope,
    a unit id (None: no unit) for by="unit", a district id (None: unknown) for by="district" (``directory``
    needed), a local date for by="day" (the metric must be dated by one time)."""
    from civiclink.analytics.models import KpiRollup

    metric = METRICS[metric_name]
    dialect = session.get_bind().dialect.name
    out: Totals = defaultdict(Total)
    # A period reaching past now is read up to now: no roll-up block that ends later (the background task may
    # have built the hour that ended a moment after this request's now), and no running clock due later.
    scope = replace(scope, end=scope.read_until(), now=None)
    grain = _grain(scope, by)
    plan = (_plan(session, scope, months_allowed=by != "day") if grain is not None
            else _Plan((), (), ((scope.start, scope.end),)))
    if plan.days or plan.months or plan.hours:
        name, member = grain
        periods = [and_(KpiRollup.period == "day", KpiRollup.day.between(a, b)) for a, b in day_runs(plan.days)]
        if plan.months:
            periods.append(and_(KpiRollup.period == "month", KpiRollup.day.in_(plan.months)))
        periods += [and_(KpiRollup.day == day, KpiRollup.period.in_(blocks)) for day, blocks in plan.hours]
        group = KpiRollup.day if by == "day" else KpiRollup.member
        stmt = (select(group, KpiRollup.key, func.sum(KpiRollup.n), func.sum(KpiRollup.d), func.sum(KpiRollup.s))
                .where(KpiRollup.metric == metric_name, KpiRollup.grain == name, or_(*periods))
                .group_by(group, KpiRollup.key))
        if member is not None:
            stmt = stmt.where(KpiRollup.member == member)
        for who, key, n, d, s in session.execute(stmt):
            if by is None:
                who = None
            elif by != "day":
                who = None if who == NONE else who
            out[(who, key)].add(n, d, s)
    roll_up = RollUp(directory) if by == "district" else None
    for start, end in plan.live:
        stmt = fact_select(metric, start, end, dialect=dialect, place_ids=scope.place_ids,
                           by_place=by == "district", by_unit=by == "unit", by_day=scope.tz if by == "day" else None)
        first = start.astimezone(scope.tz).date() if by == "day" else None
        for day, place, unit, key, n, d, s in session.execute(stmt):
            if by == "day":
                who = first + timedelta(days=int(day))
            elif by == "unit":
                who = None if unit in (None, NONE) else unit
            elif by == "district":
                who = roll_up.district_id(None if place == NONE else place)
            else:
                who = None
            out[(who, key_text(key))].add(n, d, s)
    return out


class RollUp:
    """The first-level category of a category and the district of a place, remembered for the rows of one query
    (thousands of rows share a few hundred ids)."""

    def __init__(self, directory: OrgDirectory):
        self.directory = directory
        self._categories: dict[int | None, CategoryInfo | None] = {}
        self._districts: dict[int | None, UnitInfo | None] = {}

    def category(self, category_id: int | None) -> CategoryInfo | None:
        if category_id not in self._categories:
            category = self.directory.category(category_id)
            if category is not None and category.parent_id is not None:
                category = self.directory.category(category.parent_id) or category
            self._categories[category_id] = category
        return self._categories[category_id]

    def district(self, place_id: int | None) -> UnitInfo | None:
        if place_id not in self._districts:
            self._districts[place_id] = self.directory.county_level(self.directory.unit(place_id))
        return self._districts[place_id]

    def district_id(self, place_id: int | None) -> int | None:
        district = self.district(place_id)
        return district.id if district is not None else None


def rate_parts(found: Totals) -> tuple[int, int]:
    return sum(t.n for t in found.values()), sum(t.d for t in found.values())


def district_scope(directory: OrgDirectory, code: str | None) -> tuple[tuple[int, ...] | None, int | None]:
    """The ids of a 属地 and of every unit under it (a district: its streets, towns and communities), and the
    district's id when the 属地 is one (the roll-up keeps districts)."""
    if not code:
        return None, None
    unit = directory.require_unit(code, field="place")
    ids = directory.subtree_ids(unit)
    district = directory.county_level(unit)
    return ids, (unit.id if district is not None and district.id == unit.id else None)
