"""The 12345 KPIs (R-803..805, design §8), one function each, as `docs/kpi.md` defines them.

Every KPI takes a ``Scope`` — any period (UTC, start inclusive, end exclusive), optionally one 属地 with
everything under it — and, where it makes sense per handling unit, ``by_unit=True`` gives one value per unit
(the 承办单位 scorecard) from the same query grouped by unit. Rates come as numerator, denominator and percent, so
that a report can always say what was counted. All queries are aggregates in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import and_, case, false, func, null, or_, select
from sqlalchemy.orm import Session

from civiclink.analytics.service import (
    CountRead,
    LinkageFlowRead,
    RateRead,
    SatisfactionRead,
    _ranked,
    _rate,
    _RollUp,
    _seconds,
    _unindexed,
    _year_earlier,
    linkage_flows,
)
from civiclink.audit.models import AuditEvent
from civiclink.i18n import label
from civiclink.orgs.service import OrgDirectory
from civiclink.sla.models import StageClock
from civiclink.workorders.models import Assignment, Callback, WorkOrder
from civiclink.workorders.states import State

# 满意 in 满意率: 非常满意, 满意 and 一般/基本满意 (R-805 leaves 基本满意 to local choice; the 大屏 uses the same).
SATISFIED_LEVELS = (1, 2, 3)
# 工单 that are not the hotline's own work: a duplicate folded into its 主单, a matter handed to 110.
NOT_HANDLED_HERE = (State.MERGED.value, State.TRANSFERRED_TO_110.value)


@dataclass(frozen=True)
class Scope:
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    place_ids: tuple[int, ...] | None = None  # a 属地 and every unit under it; None: the whole site

    @classmethod
    def local_days(cls, first: date, last: date, tz: ZoneInfo, *, place_ids=None) -> Scope:
        """Local calendar days ``first``..``last`` (both included)."""
        start = datetime.combine(first, datetime.min.time(), tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=tz)
        return cls(start, end, place_ids)

    def previous(self) -> Scope:
        """The span of the same length just before (环比)."""
        return replace(self, start=self.start - (self.end - self.start), end=self.start)

    def year_earlier(self) -> Scope:
        """The same span a year earlier (同比); 29 February stands for 28 February."""
        return replace(self, start=_year_earlier(self.start), end=_year_earlier(self.end))


def place_scope(directory: OrgDirectory, code: str | None) -> tuple[int, ...] | None:
    """The ids of a 属地 and of every unit under it (a district: its streets, towns and communities)."""
    if not code:
        return None
    unit = directory.require_unit(code, field="place")
    return tuple(u.id for u in directory.units.values() if u.id == unit.id or unit.id in u.ancestor_ids)


def _in(column, scope: Scope):
    return and_(column >= scope.start, column < scope.end)


def _where_place(stmt, scope: Scope):
    return stmt.where(WorkOrder.place_id.in_(scope.place_ids)) if scope.place_ids is not None else stmt


def _rates(rows, by_unit: bool) -> RateRead | dict[int, RateRead]:
    """(unit, numerator, denominator) rows → one RateRead, or one per unit."""
    if by_unit:
        return {unit: RateRead(numerator=int(n or 0), denominator=int(d or 0), rate=_rate(int(n or 0), int(d or 0)))
                for unit, n, d in rows if unit is not None}
    n = sum(int(r[1] or 0) for r in rows)
    d = sum(int(r[2] or 0) for r in rows)
    return RateRead(numerator=n, denominator=d, rate=_rate(n, d))


# -- volumes ---------------------------------------------------------------------------------------------------

VOLUME_DIMENSIONS = ("day", "channel", "category", "place", "request_type")


def volume(session: Session, scope: Scope) -> int:
    """受理量: 工单 registered in the scope, whatever became of them (直接办结, 重复件, 转110 included)."""
    stmt = select(func.count()).select_from(WorkOrder).where(_in(WorkOrder.registered_at, scope))
    return session.execute(_where_place(stmt, scope)).scalar_one()


def volume_by(session: Session, scope: Scope, dimension: str, *, directory: OrgDirectory,
              tz: ZoneInfo) -> list[CountRead]:
    """受理量 by local day, intake channel, first-level category, district (属地 rolled up to 区/县) or request
    type (咨询/求助/投诉/举报/建议). Days in the site's local time, every day of the scope listed (zero days too)."""
    if dimension == "day":
        return _volume_by_day(session, scope, tz)
    column = {"channel": WorkOrder.channel, "request_type": WorkOrder.request_type,
              "category": _unindexed(WorkOrder.category_id), "place": _unindexed(WorkOrder.place_id)}[dimension]
    stmt = select(column, func.count()).where(_in(WorkOrder.registered_at, scope)).group_by(column)
    rows = session.execute(_where_place(stmt, scope)).all()
    counts: dict[str | None, tuple[str | None, int]] = {}
    roll_up = _RollUp(directory)
    for key, n in rows:
        if dimension in ("channel", "request_type"):
            code, name = key, label(dimension, key)
        elif dimension == "category":
            top = roll_up.category(key)
            code, name = (top.code, top.name) if top else (None, None)
        else:
            district = roll_up.district(key)
            code, name = (district.code, district.name) if district else (None, None)
        counts[code] = (name, counts.get(code, (name, 0))[1] + n)
    return _ranked(counts)


def _volume_by_day(session: Session, scope: Scope, tz: ZoneInfo, where=None) -> list[CountRead]:
    first = scope.start.astimezone(tz).date()
    last = (scope.end - timedelta(microseconds=1)).astimezone(tz).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    edges = [datetime.combine(d, datetime.min.time(), tzinfo=tz) for d in days[1:]]
    if not edges:
        stmt = select(func.count()).select_from(WorkOrder).where(_in(WorkOrder.registered_at, scope))
        if where is not None:
            stmt = stmt.where(where)
        by_index = {0: session.execute(_where_place(stmt, scope)).scalar_one()}
    else:
        # The day of each order, as the index of the first edge after it: one scan, no time-zone functions in SQL.
        index = case(*[(WorkOrder.registered_at < edge, i) for i, edge in enumerate(edges)], else_=len(edges))
        stmt = select(index, func.count()).where(_in(WorkOrder.registered_at, scope)).group_by(index)
        if where is not None:
            stmt = stmt.where(where)
        by_index = dict(session.execute(_where_place(stmt, scope)).all())
    return [CountRead(code=d.isoformat(), name=f"{d.month}月{d.day}日", count=int(by_index.get(i, 0)))
            for i, d in enumerate(days)]


def topic_condition(category_ids, keywords):
    """The 工单 of a watched topic (专题): in one of ``category_ids`` (the caller passes a first-level category's
    children too), or whose title or content holds one of ``keywords`` (a plain substring, no wildcards)."""
    terms = [WorkOrder.category_id.in_(tuple(category_ids))] if category_ids else []
    for word in keywords:
        terms += [WorkOrder.title.contains(word, autoescape=True), WorkOrder.content.contains(word, autoescape=True)]
    return or_(*terms) if terms else false()


def topic_volume_by_day(session: Session, scope: Scope, tz: ZoneInfo, *, category_ids=(), keywords=()
                        ) -> list[CountRead]:
    """专题受理量 by local day (专题日报, R-807): ``volume`` — 工单 registered in the scope, whatever became of
    them — of one topic's 工单 (``topic_condition``), every day of the scope listed (zero days too: 零报告)."""
    return _volume_by_day(session, scope, tz, where=topic_condition(category_ids, keywords))


# -- rates -----------------------------------------------------------------------------------------------------


def direct_answer_rate(session: Session, scope: Scope) -> RateRead:
    """直接答复率 = 直接办结 ÷ 受理量: 工单 registered in the scope that the operator closed at intake with an
    answer (often from the 知识库, R-902), over all registered in the scope except duplicates folded into a 主单
    and matters transferred to 110 (not the hotline's to answer)."""
    closed_at_intake = func.sum(case((WorkOrder.state == State.CLOSED_AT_INTAKE.value, 1), else_=0))
    stmt = (select(closed_at_intake, func.count()).where(_in(WorkOrder.registered_at, scope),
                                                          WorkOrder.state.notin_(NOT_HANDLED_HERE)))
    n, d = session.execute(_where_place(stmt, scope)).one()
    return RateRead(numerator=int(n or 0), denominator=int(d), rate=_rate(int(n or 0), int(d)))


def on_time_sign_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """按时签收率 = 按时签收 ÷ 应签收. 应签收: 签收 clocks that ended in the scope (signed, or returned without
    签收) plus those still running whose deadline passed in the scope; 按时签收: signed by the deadline. The unit is
    the one the round was dispatched to."""
    ended = and_(StageClock.stop_reason.in_(("signed", "returned")), _in(StageClock.stopped_at, scope))
    overdue = and_(StageClock.stopped_at.is_(None), StageClock.paused_since.is_(None), _in(StageClock.due_at, scope))
    on_time = func.sum(case((and_(StageClock.stop_reason == "signed", _in(StageClock.stopped_at, scope),
                                  StageClock.breached.is_(False)), 1), else_=0))
    stmt = (select(Assignment.unit_id if by_unit else null(), on_time, func.count())
            .select_from(StageClock)
            # Every 派单 (and 重办) starts one dispatch round and one 签收 clock: their rounds are the same number.
            .join(Assignment, and_(Assignment.order_id == StageClock.order_id, Assignment.round == StageClock.round))
            .join(WorkOrder, WorkOrder.id == StageClock.order_id)
            .where(StageClock.stage == "sign", ended | overdue))
    if by_unit:
        stmt = stmt.group_by(Assignment.unit_id)
    return _rates(session.execute(_where_place(stmt, scope)).all(), by_unit)


def on_time_completion_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """按时办结率 = 按时办结 ÷ 应办结, on the 办理 clock (受理 to the unit's 答复, R-608). 应办结: 办理 clocks
    that ended with the reply in the scope, plus those still running whose deadline passed in the scope (超期未
    办结); 按时办结: replied by the deadline (extensions and time waiting on the citizen included, as the clock
    counts them). Each 办理 round counts (重办 starts a new one); clocks ended otherwise (直接办结, 并单, 转110)
    and paused ones are left out. The unit is the order's handling unit (the one that replied, or holds it)."""
    finished = and_(StageClock.stop_reason == "replied", _in(StageClock.stopped_at, scope))
    overdue = and_(StageClock.stopped_at.is_(None), StageClock.paused_since.is_(None), _in(StageClock.due_at, scope))
    on_time = func.sum(case((and_(finished, StageClock.breached.is_(False)), 1), else_=0))
    stmt = (select(WorkOrder.handling_unit_id if by_unit else null(), on_time, func.count())
            .select_from(StageClock).join(WorkOrder, WorkOrder.id == StageClock.order_id)
            .where(StageClock.stage == "handle", finished | overdue))
    if by_unit:
        stmt = stmt.group_by(WorkOrder.handling_unit_id)
    return _rates(session.execute(_where_place(stmt, scope)).all(), by_unit)


def return_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """退单率 = 退单申请 ÷ 派单: dispatch rounds made in the scope whose unit asked to return the 工单 (R-612),
    over all dispatch rounds made in the scope (a re-dispatch is a new round). Counted against the unit that
    asked, whatever the dispatcher decided."""
    returned = func.sum(case((Assignment.return_requested_at.is_not(None), 1), else_=0))
    stmt = (select(Assignment.unit_id if by_unit else null(), returned, func.count())
            .select_from(Assignment).join(WorkOrder, WorkOrder.id == Assignment.order_id)
            .where(_in(Assignment.dispatched_at, scope)))
    if by_unit:
        stmt = stmt.group_by(Assignment.unit_id)
    return _rates(session.execute(_where_place(stmt, scope)).all(), by_unit)


def _decisions_after_callback(scope: Scope, by_unit: bool):
    """(unit, reopened, decided) of the audit events that ended a 回访 in the scope: 重办, or 办结 (by the
    callback itself when the caller was satisfied, or by 办结 after it)."""
    reopen = AuditEvent.action == "order.reopen"
    closing = and_(AuditEvent.action.in_(("order.callback", "order.close")),
                   AuditEvent.to_state == State.CLOSED.value)
    reopened = func.sum(case((reopen, 1), else_=0))
    return (select(WorkOrder.handling_unit_id if by_unit else null(), reopened, func.count())
            .select_from(AuditEvent).join(WorkOrder, and_(AuditEvent.entity_type == "work_order",
                                                          AuditEvent.entity_id == WorkOrder.id))
            .where(_in(AuditEvent.occurred_at, scope), reopen | closing))


def reopen_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """重办率 = 重办 ÷ (重办 + 办结): of the 工单 whose 回访 ended in the scope with a decision, the share sent back to
    the unit for 重办 (R-611) rather than closed; 直接办结 is not in it (no unit handled it)."""
    stmt = _decisions_after_callback(scope, by_unit)
    if by_unit:
        stmt = stmt.group_by(WorkOrder.handling_unit_id)
    return _rates(session.execute(_where_place(stmt, scope)).all(), by_unit)


def callback_rate(session: Session, scope: Scope) -> RateRead:
    """回访率 = 已回访 ÷ 办结 (R-805): 工单 closed in the scope after a unit handled them (not 直接办结, not merged
    or transferred) that had at least one 回访 attempt, over all of them."""
    visited = select(Callback.id).where(Callback.order_id == WorkOrder.id).exists()
    stmt = (select(func.sum(case((visited, 1), else_=0)), func.count())
            .where(WorkOrder.state == State.CLOSED.value, _in(WorkOrder.closed_at, scope)))
    n, d = session.execute(_where_place(stmt, scope)).one()
    return RateRead(numerator=int(n or 0), denominator=int(d), rate=_rate(int(n or 0), int(d)))


def satisfaction_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """满意率 = (非常满意 + 满意 + 一般) ÷ 有效回访. 有效回访: a 回访 in the scope that reached the caller and
    recorded a level (1–5); unreachable callers are not in the denominator. Each 回访 counts (a 重办 visited again
    counts twice). Per unit: the order's handling unit."""
    satisfied = func.sum(case((Callback.satisfaction.in_(SATISFIED_LEVELS), 1), else_=0))
    stmt = (select(WorkOrder.handling_unit_id if by_unit else null(), satisfied, func.count())
            .select_from(Callback).join(WorkOrder, WorkOrder.id == Callback.order_id)
            .where(_in(Callback.at, scope), Callback.reached.is_(True), Callback.satisfaction.is_not(None)))
    if by_unit:
        stmt = stmt.group_by(WorkOrder.handling_unit_id)
        return _rates(session.execute(_where_place(stmt, scope)).all(), True)
    stmt = stmt.add_columns(Callback.satisfaction).group_by(Callback.satisfaction)
    rows = session.execute(_where_place(stmt, scope)).all()
    by_level = {int(level): int(d) for _u, _n, d, level in rows}
    n = sum(c for level, c in by_level.items() if level in SATISFIED_LEVELS)
    d = sum(by_level.values())
    return SatisfactionRead(numerator=n, denominator=d, rate=_rate(n, d), levels=[
        CountRead(code=str(level), name=label("satisfaction", level), count=by_level.get(level, 0))
        for level in range(1, 6)])


class DurationRead(BaseModel):
    count: int
    average_hours: float | None


def average_handling_hours(session: Session, scope: Scope, *, by_unit: bool = False):
    """平均办理时长: the mean natural hours from the start of a 办理 clock (the first 派单) to the unit's 答复, over
    the 办理 rounds replied in the scope. Natural hours, not working hours: what the caller waited."""
    dialect = session.get_bind().dialect.name
    hours = func.avg(_seconds(StageClock.started_at, StageClock.stopped_at, dialect)) / 3600.0
    stmt = (select(WorkOrder.handling_unit_id if by_unit else null(), func.count(), hours)
            .select_from(StageClock).join(WorkOrder, WorkOrder.id == StageClock.order_id)
            .where(StageClock.stage == "handle", StageClock.stop_reason == "replied",
                   _in(StageClock.stopped_at, scope)))
    if by_unit:
        stmt = stmt.group_by(WorkOrder.handling_unit_id)
    rows = session.execute(_where_place(stmt, scope)).all()
    reads = {unit: DurationRead(count=int(c), average_hours=round(float(h), 1) if h is not None else None)
             for unit, c, h in rows}
    return {u: r for u, r in reads.items() if u is not None} if by_unit else reads.get(None, DurationRead(
        count=0, average_hours=None))


def linkage(session: Session, scope: Scope, site_role: str) -> list[LinkageFlowRead]:
    """Linkage counts each way with acceptance time (R-805): the 大屏's definition, for the scope's period (the
    whole site: a transfer's 属地 is its order's, and 110's side has none)."""
    return linkage_flows(session, _Span(scope.start, scope.end - timedelta(microseconds=1)), site_role)


@dataclass(frozen=True)
class _Span:
    start: datetime
    end: datetime


# -- the set and the scorecard -----------------------------------------------------------------------------------


class ChangeRead(BaseModel):
    previous: float | None  # the same figure 环比 / 同比
    change: float | None  # volume: percent change; a rate: difference in percentage points


class KpiSetRead(BaseModel):
    start: datetime
    end: datetime
    place: str | None
    volume: int
    volume_previous: ChangeRead
    volume_year_earlier: ChangeRead
    by_day: list[CountRead]
    by_channel: list[CountRead]
    by_category: list[CountRead]
    by_place: list[CountRead]
    by_request_type: list[CountRead]
    direct_answer: RateRead
    on_time_sign: RateRead
    on_time_completion: RateRead
    on_time_completion_year_earlier: ChangeRead
    returns: RateRead
    reopens: RateRead
    callbacks: RateRead
    satisfaction: SatisfactionRead
    satisfaction_year_earlier: ChangeRead
    handling: DurationRead
    linkage: list[LinkageFlowRead]


def _volume_change(current: int, previous: int) -> ChangeRead:
    return ChangeRead(previous=previous, change=round(100 * (current - previous) / previous, 1) if previous else None)


def _rate_change(current: RateRead, previous: RateRead) -> ChangeRead:
    change = round(current.rate - previous.rate, 2) if current.rate is not None and previous.rate is not None \
        else None
    return ChangeRead(previous=previous.rate, change=change)


def kpi_set(session: Session, scope: Scope, *, directory: OrgDirectory, tz: ZoneInfo, site_role: str,
            place_code: str | None = None) -> KpiSetRead:
    total = volume(session, scope)
    completion = on_time_completion_rate(session, scope)
    satisfaction = satisfaction_rate(session, scope)
    earlier = scope.year_earlier()
    return KpiSetRead(
        start=scope.start, end=scope.end, place=place_code, volume=total,
        volume_previous=_volume_change(total, volume(session, scope.previous())),
        volume_year_earlier=_volume_change(total, volume(session, earlier)),
        by_day=volume_by(session, scope, "day", directory=directory, tz=tz),
        by_channel=volume_by(session, scope, "channel", directory=directory, tz=tz),
        by_category=volume_by(session, scope, "category", directory=directory, tz=tz),
        by_place=volume_by(session, scope, "place", directory=directory, tz=tz),
        by_request_type=volume_by(session, scope, "request_type", directory=directory, tz=tz),
        direct_answer=direct_answer_rate(session, scope),
        on_time_sign=on_time_sign_rate(session, scope),
        on_time_completion=completion,
        on_time_completion_year_earlier=_rate_change(completion, on_time_completion_rate(session, earlier)),
        returns=return_rate(session, scope), reopens=reopen_rate(session, scope),
        callbacks=callback_rate(session, scope), satisfaction=satisfaction,
        satisfaction_year_earlier=_rate_change(satisfaction, satisfaction_rate(session, earlier)),
        handling=average_handling_hours(session, scope),
        linkage=linkage(session, scope, site_role),
    )


class ScorecardRow(BaseModel):
    unit: CountRead  # code, name; count: dispatch rounds received in the period
    on_time_sign: RateRead
    returns: RateRead
    on_time_completion: RateRead
    handling: DurationRead
    reopens: RateRead
    satisfaction: RateRead


def scorecard(session: Session, scope: Scope, *, directory: OrgDirectory) -> list[ScorecardRow]:
    """承办单位考核表: each KPI that belongs to a handling unit, per unit, for the scope (every unit that had any
    of them), ordered by dispatch rounds received. The same functions as the site-wide KPIs, grouped by unit."""
    empty = RateRead(numerator=0, denominator=0, rate=None)
    sign = on_time_sign_rate(session, scope, by_unit=True)
    returns = return_rate(session, scope, by_unit=True)
    completion = on_time_completion_rate(session, scope, by_unit=True)
    handling = average_handling_hours(session, scope, by_unit=True)
    reopens = reopen_rate(session, scope, by_unit=True)
    satisfied = satisfaction_rate(session, scope, by_unit=True)
    rows = []
    for unit_id in set(sign) | set(returns) | set(completion) | set(handling) | set(reopens) | set(satisfied):
        unit = directory.unit(unit_id)
        if unit is None:
            continue
        rounds = returns.get(unit_id, empty).denominator
        rows.append(ScorecardRow(
            unit=CountRead(code=unit.code, name=unit.name, count=rounds),
            on_time_sign=sign.get(unit_id, empty), returns=returns.get(unit_id, empty),
            on_time_completion=completion.get(unit_id, empty),
            handling=handling.get(unit_id, DurationRead(count=0, average_hours=None)),
            reopens=reopens.get(unit_id, empty), satisfaction=satisfied.get(unit_id, empty)))
    rows.sort(key=lambda r: (-r.unit.count, r.unit.code or ""))
    return rows
