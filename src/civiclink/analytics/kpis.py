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
from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from civiclink.analytics.facts import (
    NOT_HANDLED_HERE,
    RollUp,
    Scope,
    Totals,
    district_scope,
    rate_parts,
    totals,
)
from civiclink.analytics.service import (
    CountRead,
    LinkageFlowRead,
    RateRead,
    SatisfactionRead,
    _ranked,
    _rate,
    linkage_flows,
)
from civiclink.i18n import label
from civiclink.orgs.service import OrgDirectory
from civiclink.workorders.models import WorkOrder

__all__ = ["NOT_HANDLED_HERE", "SATISFIED_LEVELS", "Scope", "district_scope", "place_scope"]

# 满意 in 满意率: 非常满意, 满意 and 一般/基本满意 (R-805 leaves 基本满意 to local choice; the 大屏 uses the same).
SATISFIED_LEVELS = (1, 2, 3)


def place_scope(directory: OrgDirectory, code: str | None) -> tuple[int, ...] | None:
    """The ids of a 属地 and of every unit under it (a district: its streets, towns and communities)."""
    return district_scope(directory, code)[0]


def _in(column, scope: Scope):
    return and_(column >= scope.start, column < scope.end)


def _where_place(stmt, scope: Scope):
    return stmt.where(WorkOrder.place_id.in_(scope.place_ids)) if scope.place_ids is not None else stmt


def _rate_read(found: Totals) -> RateRead:
    n, d = rate_parts(found)
    return RateRead(numerator=n, denominator=d, rate=_rate(n, d))


def _rates(session: Session, metric: str, scope: Scope, by_unit: bool) -> RateRead | dict[int, RateRead]:
    """One RateRead for the scope, or one per handling unit (the scorecard)."""
    found = totals(session, metric, scope, by="unit" if by_unit else None)
    if not by_unit:
        return _rate_read(found)
    per_unit: dict[int, Totals] = {}
    for (unit, key), total in found.items():
        if unit is not None:
            per_unit.setdefault(unit, {})[(unit, key)] = total
    return {unit: _rate_read(t) for unit, t in per_unit.items()}


# -- volumes ---------------------------------------------------------------------------------------------------

VOLUME_DIMENSIONS = ("day", "channel", "category", "place", "request_type")


def volume(session: Session, scope: Scope) -> int:
    """受理量: 工单 registered in the scope, whatever became of them (直接办结, 重复件, 转110 included)."""
    return rate_parts(totals(session, "volume.type", scope))[1]


def volume_by(session: Session, scope: Scope, dimension: str, *, directory: OrgDirectory,
              tz: ZoneInfo) -> list[CountRead]:
    """受理量 by local day, intake channel, first-level category, district (属地 rolled up to 区/县) or request
    type (咨询/求助/投诉/举报/建议). Days in the site's local time, every day of the scope listed (zero days too)."""
    scope = scope if scope.tz is not None else replace(scope, tz=tz)
    if dimension == "day":
        return volume_by_day(session, scope)
    if dimension == "place":
        found = totals(session, "volume.type", scope, by="district", directory=directory)
    else:
        found = totals(session, {"channel": "volume.channel", "request_type": "volume.type",
                                 "category": "volume.category"}[dimension], scope)
    counts: dict[str | None, tuple[str | None, int]] = {}
    roll_up = RollUp(directory)
    for (member, key), total in found.items():
        if dimension in ("channel", "request_type"):
            code, name = key, label(dimension, key)
        elif dimension == "category":
            top = roll_up.category(None if key in ("", "-1") else int(key))
            code, name = (top.code, top.name) if top else (None, None)
        else:
            district = directory.unit(member)
            code, name = (district.code, district.name) if district else (None, None)
        counts[code] = (name, counts.get(code, (name, 0))[1] + total.d)
    return _ranked(counts)


def daily_volume(session: Session, scope: Scope) -> dict[date, int]:
    """受理量 per local day of the scope (``scope.tz``); days without any are left out."""
    by_day: dict[date, int] = {}
    for (day, _key), total in totals(session, "volume.type", scope, by="day").items():
        by_day[day] = by_day.get(day, 0) + total.d
    return by_day


def volume_by_day(session: Session, scope: Scope) -> list[CountRead]:
    """受理量 per local day of the scope (``scope.tz``), every day listed (zero days too)."""
    first = scope.start.astimezone(scope.tz).date()
    last = (scope.end - timedelta(microseconds=1)).astimezone(scope.tz).date()
    by_day = daily_volume(session, scope)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [CountRead(code=d.isoformat(), name=f"{d.month}月{d.day}日", count=int(by_day.get(d, 0))) for d in days]


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
    return _rates(session, "direct", scope, False)


def on_time_sign_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """按时签收率 = 按时签收 ÷ 应签收. 应签收: 签收 clocks that ended in the scope (signed, or returned without
    签收) plus those still running whose deadline passed in the scope; 按时签收: signed by the deadline. The unit is
    the one the round was dispatched to."""
    return _rates(session, "sign", scope, by_unit)


def on_time_completion_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """按时办结率 = 按时办结 ÷ 应办结, on the 办理 clock (受理 to the unit's 答复, R-608). 应办结: 办理 clocks
    that ended with the reply in the scope, plus those still running whose deadline passed in the scope (超期未
    办结); 按时办结: replied by the deadline (extensions and time waiting on the citizen included, as the clock
    counts them). Each 办理 round counts (重办 starts a new one); clocks ended otherwise (直接办结, 并单, 转110)
    and paused ones are left out. The unit is the order's handling unit (the one that replied, or holds it)."""
    return _rates(session, "handle", scope, by_unit)


def return_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """退单率 = 退单申请 ÷ 派单: dispatch rounds made in the scope whose unit asked to return the 工单 (R-612),
    over all dispatch rounds made in the scope (a re-dispatch is a new round). Counted against the unit that
    asked, whatever the dispatcher decided."""
    return _rates(session, "returns", scope, by_unit)


def reopen_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """重办率 = 重办 ÷ (重办 + 办结): of the 工单 whose 回访 ended in the scope with a decision (the audit events
    of 重办, or of 办结 by the 回访 itself or after it), the share sent back to the unit for 重办 (R-611) rather
    than closed; 直接办结 is not in it (no unit handled it)."""
    return _rates(session, "reopens", scope, by_unit)


def callback_rate(session: Session, scope: Scope) -> RateRead:
    """回访率 = 已回访 ÷ 办结 (R-805): 工单 closed in the scope after a unit handled them (not 直接办结, not merged
    or transferred) that had at least one 回访 attempt, over all of them."""
    return _rates(session, "callbacks", scope, False)


def satisfaction_rate(session: Session, scope: Scope, *, by_unit: bool = False):
    """满意率 = (非常满意 + 满意 + 一般) ÷ 有效回访. 有效回访: a 回访 in the scope that reached the caller and
    recorded a level (1–5); unreachable callers are not in the denominator. Each 回访 counts (a 重办 visited again
    counts twice). Per unit: the order's handling unit."""
    found = totals(session, "satisfaction", scope, by="unit" if by_unit else None)
    satisfied = {str(level) for level in SATISFIED_LEVELS}
    if by_unit:
        parts: dict[int, list[int]] = {}
        for (unit, key), total in found.items():
            if unit is not None:
                counts = parts.setdefault(unit, [0, 0])
                counts[0] += total.d if key in satisfied else 0
                counts[1] += total.d
        return {unit: RateRead(numerator=n, denominator=d, rate=_rate(n, d)) for unit, (n, d) in parts.items()}
    by_level: dict[int, int] = {}
    for (_member, key), total in found.items():
        by_level[int(key)] = by_level.get(int(key), 0) + total.d
    n = sum(c for level, c in by_level.items() if level in SATISFIED_LEVELS)
    d = sum(by_level.values())
    return SatisfactionRead(numerator=n, denominator=d, rate=_rate(n, d), levels=[
        CountRead(code=str(level), name=label("satisfaction", level), count=by_level.get(level, 0))
        for level in range(1, 6)])


class DurationRead(BaseModel):
    count: int
    average_hours: float | None


def _duration(count: int, seconds: float) -> DurationRead:
    return DurationRead(count=count, average_hours=round(seconds / count / 3600.0, 1) if count else None)


def average_handling_hours(session: Session, scope: Scope, *, by_unit: bool = False):
    """平均办理时长: the mean natural hours from the start of a 办理 clock (the first 派单) to the unit's 答复, over
    the 办理 rounds replied in the scope. Natural hours, not working hours: what the caller waited."""
    found = totals(session, "handled", scope, by="unit" if by_unit else None)
    if by_unit:
        return {unit: _duration(t.d, t.s) for (unit, _key), t in found.items() if unit is not None}
    return _duration(sum(t.d for t in found.values()), sum(t.s for t in found.values()))


def linkage(session: Session, scope: Scope, site_role: str) -> list[LinkageFlowRead]:
    """Linkage counts each way with acceptance time (R-805): the 大屏's definition, for the scope's period (the
    whole site: a transfer's 属地 is its order's, and 110's side has none)."""
    return linkage_flows(session, _Span(scope.start, scope.end - timedelta(microseconds=1)), site_role,
                         now=scope.now)


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
    scope = scope if scope.tz is not None else replace(scope, tz=tz)
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
