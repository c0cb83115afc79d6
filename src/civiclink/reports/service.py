"""The figures of a report for any local date range, like the seed's holiday report ("春节七天 N 件，日均 M 件，
较去年同期 ±x%，一次接通率，满意率，热点"), and the days of a watched topic (专题日报).

Every figure comes from a KPI function of ``civiclink.analytics.kpis`` (docs/kpi.md) — nothing here counts on its
own — and the hotspots from ``civiclink.analytics.service.hotspots``. What this module adds is arithmetic on those
figures (the daily average and its change), the choice of the comparison span, and the words (from the console's
catalogue, ``report.*`` keys), so that the page, the Excel file and the PDF say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select

from civiclink.analytics import kpis
from civiclink.analytics import service as analytics
from civiclink.analytics.service import (
    ConnectionRateRead,
    CountRead,
    LinkageFlowRead,
    RateRead,
    SatisfactionRead,
)
from civiclink.context import Ctx
from civiclink.errors import Forbidden, Invalid, NotFound
from civiclink.orgs.roles import Actor
from civiclink.orgs.service import OrgDirectory
from civiclink.reports.models import ReportTopic, TopicDayReport
from civiclink.sla.calendar import WorkCalendar
from civiclink.web.messages import t

# Who reads and makes reports: those who read the dashboard on a 12345 site (指挥中心领导, 督办员, 管理员).
REPORT_READERS = analytics.HOTLINE_READERS
MAX_REPORT_DAYS = 3 * 366  # as /api/analytics/kpis
HOTSPOT_DAYS = 10  # hotspots are looked for at the end of each of the range's last 10 days (春节: 7–9)
HOTSPOT_LIMIT = 10
HEADLINE_HOTSPOTS = 3
ORDER_LIST_LIMIT = 200  # 工单 numbers kept with one day's topic report
MAX_TOPIC_DAYS = 366


def require_reader(actor: Actor, site_role: str) -> None:
    if not (actor.is_system or actor.roles & REPORT_READERS):
        raise Forbidden(t("report.forbidden"))
    if site_role != "hotline":
        raise Invalid(t("report.hotline_only"), field="site")


# -- dates and words -------------------------------------------------------------------------------------------


def day_text(day: date, *, year: bool = True) -> str:
    return t("report.date", year=day.year, month=day.month, day=day.day) if year else \
        t("report.date_short", month=day.month, day=day.day)


def short_span(first: date, last: date) -> str:
    if first == last:
        return day_text(first, year=False)
    return t("report.span", first=day_text(first, year=False), last=day_text(last, year=False))


def span_text(first: date, last: date) -> str:
    if first == last:
        return day_text(first)
    return t("report.span", first=day_text(first), last=day_text(last, year=last.year != first.year))


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.2f}%"


def change_text(pct: float | None) -> str:
    """±x% in words, as the seed writes it: 下降 21.5%, 增长 3.0%, 持平."""
    if pct is None:
        return t("report.change.none")
    if pct == 0:
        return t("report.change.flat")
    return t("report.change.down" if pct < 0 else "report.change.up", pct=f"{abs(pct):.1f}")


def signed(pct: float | None, unit: str = "%") -> str:
    return "—" if pct is None else f"{pct:+.1f}{unit}".replace("-", "−")


def local_start(day: date, tz) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def today_of(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


# -- presets ---------------------------------------------------------------------------------------------------


class PresetRead(BaseModel):
    key: str
    label: str
    start: date
    end: date
    compare_start: date | None = None  # None: the same dates a year earlier (同比)
    compare_end: date | None = None
    compare_label: str | None = None


def holiday_span(calendar: WorkCalendar, year: int, name: str = "春节") -> tuple[date, date] | None:
    """The days off of a statutory holiday in ``year`` (春节: the block of 法定节假日 and the weekend days inside it,
    7 to 9 days), from the site's working calendar (chinesecalendar, with imported years laid over it); None when
    that year's schedule is not known."""
    days = [d for d in (date(year, 1, 1) + timedelta(days=i) for i in range(120))
            if not calendar.is_workday(d) and calendar.info(d).name == name]
    return (min(days), max(days)) if days else None


def presets(calendar: WorkCalendar, today: date) -> list[PresetRead]:
    """昨日, 近7天 (the seven days up to yesterday), and 春节 of this year (once it has begun) and of last year, each
    compared with the 春节 before it."""
    yesterday = today - timedelta(days=1)
    out = [PresetRead(key="yesterday", label=t("report.preset.yesterday"), start=yesterday, end=yesterday),
           PresetRead(key="7d", label=t("report.preset.7d"), start=today - timedelta(days=7), end=yesterday)]
    for key, year in (("spring_this", today.year), ("spring_last", today.year - 1)):
        span = holiday_span(calendar, year)
        if span is None or span[0] > today:
            continue
        before = holiday_span(calendar, year - 1)
        days = (span[1] - span[0]).days + 1
        out.append(PresetRead(
            key=key, label=t("report.preset.spring", year=year, days=days), start=span[0], end=min(span[1], today),
            compare_start=before[0] if before else None, compare_end=before[1] if before else None,
            compare_label=t("report.compare.spring", year=year - 1) if before else None))
    return out


# -- the summary report ----------------------------------------------------------------------------------------


class ComparisonRead(BaseModel):
    basis: Literal["year_earlier", "custom"]
    label: str  # 去年同期 / 2025年春节
    start: date
    end: date
    days: int
    volume: int
    daily_average: float
    change_pct: float | None  # of the daily average (= of the total when the spans are as long); None: nothing then
    by_day: list[CountRead]
    satisfaction: RateRead
    satisfaction_change: float | None  # percentage points


class PreviousRead(BaseModel):
    start: date
    end: date
    volume: int
    change_pct: float | None  # 环比: the span of the same length just before


class ReportHotspot(BaseModel):
    category: CountRead | None  # what (a rise: its category)
    place: CountRead | None  # where (a rise: its district)
    days: list[date]  # the days at whose end it was a hotspot
    peak_day: date
    recent: int  # orders in the 24 hours before the peak day's end
    baseline_daily: float | None
    ratio: float | None
    reason: str


class TopicDayRead(BaseModel):
    day: date
    # reported: a 专题日报 is kept; pending: the day is over, no report yet (the count is live); today: under way;
    # future: not yet
    status: Literal["reported", "pending", "today", "future"]
    count: int | None
    zero: bool  # 零报告: reported, with none
    orders: list[str] = []
    trigger: str | None = None
    generated_at: datetime | None = None
    generated_by: str | None = None
    revision: int | None = None


class TopicRead(BaseModel):
    id: int
    name: str
    keywords: list[str]
    categories: list[CountRead]  # code and name (count unused: 0)
    season_start: date
    season_end: date
    active: bool
    created_by: str
    created_at: datetime


class TopicDaysRead(BaseModel):
    topic: TopicRead
    start: date
    end: date
    place: str | None = None  # set: live counts in that 属地 (the kept reports are of the whole site)
    total: int
    reported: int
    zero_reports: int
    days: list[TopicDayRead]


class SummaryReport(BaseModel):
    site_name: str
    title: str
    start: date
    end: date
    days: int
    place: CountRead | None
    generated_at: datetime
    volume: int
    daily_average: float
    comparison: ComparisonRead
    previous: PreviousRead
    by_day: list[CountRead]
    by_channel: list[CountRead]
    by_category: list[CountRead]
    by_place: list[CountRead]
    by_request_type: list[CountRead]
    satisfaction: SatisfactionRead
    on_time_completion: RateRead
    direct_answer: RateRead
    first_attempt_connection: ConnectionRateRead
    linkage: list[LinkageFlowRead]
    hotspots: list[ReportHotspot]
    topics: list[TopicDaysRead]
    headline: str
    definitions: list[str]


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # the days a report may cover


def _validate_range(start: date, end: date, field: str = "end") -> None:
    if not (FIRST_DAY <= start <= LAST_DAY and FIRST_DAY <= end <= LAST_DAY):
        raise Invalid(t("report.error.out_of_range", first=FIRST_DAY.isoformat(), last=LAST_DAY.isoformat()),
                      field=field)
    if end < start:
        raise Invalid(t("report.error.order"), field=field)
    if (end - start).days >= MAX_REPORT_DAYS:
        raise Invalid(t("report.error.too_long", days=MAX_REPORT_DAYS), field=field)


def _span_dates(scope: kpis.Scope, tz) -> tuple[date, date]:
    return scope.start.astimezone(tz).date(), (scope.end - timedelta(microseconds=1)).astimezone(tz).date()


def _days_read(scope: kpis.Scope, tz) -> int:
    """The local days of ``scope`` read so far (all of them for a past range; none for one still to come)."""
    until = scope.read_until()
    if until <= scope.start:
        return 0
    return ((until - timedelta(microseconds=1)).astimezone(tz).date() - scope.start.astimezone(tz).date()).days + 1


def _average(total: int, days: int) -> float:
    return total / days if days else 0.0


def summary(ctx: Ctx, actor: Actor, start: date, end: date, *, place: str | None = None,
            compare_start: date | None = None, compare_end: date | None = None,
            title: str | None = None, compare_label: str | None = None) -> SummaryReport:
    """The report of local days ``start``..``end`` (both included), for the whole site or one 属地 and what is under
    it, compared with ``compare_start``..``compare_end`` (a holiday with last year's same holiday) or, without them,
    with the same dates a year earlier (同比)."""
    require_reader(actor, ctx.settings.site_role)
    _validate_range(start, end)
    if (compare_start is None) != (compare_end is None):
        raise Invalid(t("report.error.compare_pair"), field="compare_end")
    if compare_start is not None:
        _validate_range(compare_start, compare_end, "compare_end")
    session, tz, directory = ctx.session, ctx.settings.tz, ctx.directory
    place_ids, district_id = kpis.district_scope(directory, place)
    place_unit = directory.require_unit(place, field="place") if place else None
    scope = kpis.Scope.local_days(start, end, tz, place_ids=place_ids, district_id=district_id, now=ctx.now)
    if compare_start is not None:
        basis, earlier = "custom", kpis.Scope.local_days(compare_start, compare_end, tz, place_ids=place_ids,
                                                         district_id=district_id, now=ctx.now)
    else:
        basis, earlier = "year_earlier", scope.year_earlier()
    days = (end - start).days + 1
    c_first, c_last = _span_dates(earlier, tz)
    c_days = (c_last - c_first).days + 1

    volume = kpis.volume(session, scope)
    c_volume = kpis.volume(session, earlier)
    # A range still going on (this month) is averaged over its days so far, today included; so is its 同比.
    daily, c_daily = _average(volume, _days_read(scope, tz)), _average(c_volume, _days_read(earlier, tz))
    change = round(100 * (daily - c_daily) / c_daily, 1) if c_volume else None
    satisfaction = kpis.satisfaction_rate(session, scope)
    c_satisfaction = kpis.satisfaction_rate(session, earlier)
    sat_change = round(satisfaction.rate - c_satisfaction.rate, 2) \
        if satisfaction.rate is not None and c_satisfaction.rate is not None else None
    before = scope.previous()
    b_volume = kpis.volume(session, before)
    b_first, b_last = _span_dates(before, tz)

    def by(dimension: str, s: kpis.Scope = scope) -> list[CountRead]:
        return kpis.volume_by(session, s, dimension, directory=directory, tz=tz)

    comparison = ComparisonRead(
        basis=basis, label=compare_label or (t("report.compare.year_earlier") if basis == "year_earlier"
                                             else span_text(c_first, c_last)),
        start=c_first, end=c_last, days=c_days, volume=c_volume, daily_average=round(c_daily, 1),
        change_pct=change, by_day=by("day", earlier),
        satisfaction=RateRead(numerator=c_satisfaction.numerator, denominator=c_satisfaction.denominator,
                              rate=c_satisfaction.rate),
        satisfaction_change=sat_change)
    report = SummaryReport(
        site_name=ctx.settings.site_name, title=title or span_text(start, end), start=start, end=end, days=days,
        place=CountRead(code=place_unit.code, name=place_unit.name, count=0) if place_unit else None,
        generated_at=ctx.now, volume=volume, daily_average=round(daily, 1), comparison=comparison,
        previous=PreviousRead(start=b_first, end=b_last, volume=b_volume,
                              change_pct=round(100 * (volume - b_volume) / b_volume, 1) if b_volume else None),
        by_day=by("day"), by_channel=by("channel"), by_category=by("category"), by_place=by("place"),
        by_request_type=by("request_type"), satisfaction=satisfaction,
        on_time_completion=kpis.on_time_completion_rate(session, scope),
        direct_answer=kpis.direct_answer_rate(session, scope),
        first_attempt_connection=analytics.first_attempt_connection_rate(session, scope.start, scope.end, tz),
        linkage=kpis.linkage(session, scope, ctx.settings.site_role),
        hotspots=report_hotspots(ctx, start, end, place_unit, place_ids),
        topics=[topic_days(ctx, topic, start, end, place=place)
                for topic in topics_overlapping(session, start, end)],
        headline="", definitions=definitions())
    report.headline = headline(report)
    return report


def headline(report: SummaryReport) -> str:
    """The seed's sentence: N 件，日均 M 件，较去年同期 ±x%；满意率；一次接通率；热点."""
    sat = report.satisfaction
    first_attempt = report.first_attempt_connection
    hot = "、".join(hotspot_text(h) for h in report.hotspots[:HEADLINE_HOTSPOTS]) or t("report.hotspots.none")
    place = t("report.headline.place", place=report.place.name) if report.place else ""
    return t("report.headline", title=report.title, place=place,
             volume=f"{report.volume:,}", daily=f"{report.daily_average:,.1f}",
             compare=report.comparison.label, change=change_text(report.comparison.change_pct),
             satisfaction=percent(sat.rate) if sat.rate is not None else t("report.no_callbacks"),
             first_attempt=percent(first_attempt.rate) if first_attempt.available else t("report.no_call_data"),
             hotspots=hot)


def hotspot_text(h: ReportHotspot) -> str:
    return t("report.hotspot.short", category=h.category.name if h.category else "",
             place=h.place.name if h.place else "",
             days=short_span(min(h.days), max(h.days)))


def definitions() -> list[str]:
    keys = ("volume", "daily", "compare", "satisfaction", "on_time", "direct", "first_attempt", "hotspot", "topic")
    return [t(f"report.def.{k}", days=HOTSPOT_DAYS) for k in keys]


# -- hotspots --------------------------------------------------------------------------------------------------


def report_hotspots(ctx: Ctx, start: date, end: date, place_unit=None, place_ids=None) -> list[ReportHotspot]:
    """The hotspots of the range: ``analytics.service.hotspots`` (the 大屏's rule for the 24 hours before a moment)
    asked at the end of each of its last ``HOTSPOT_DAYS`` days (today: now), merged by category and place — one
    that fired on several days is one row listing those days; within a 属地, those of that 属地 (or of the
    district it is in)."""
    tz = ctx.settings.tz
    today = today_of(ctx)
    first = max(start, end - timedelta(days=HOTSPOT_DAYS - 1))
    found: dict[tuple, ReportHotspot] = {}
    day = first
    while day <= min(end, today):
        moment = min(local_start(day + timedelta(days=1), tz), ctx.now)
        for h in analytics.hotspots(ctx.session, ctx.directory, moment):
            category, place = getattr(h, "category", None), getattr(h, "place", None)
            if not _in_place(ctx.directory, place.code if place else None, place_unit, place_ids):
                continue
            key = (category.code if category else getattr(h, "title", None), place.code if place else None)
            recent = int(getattr(h, "recent", 0) or 0)
            row = found.get(key)
            if row is None:
                found[key] = ReportHotspot(category=category, place=place, days=[day], peak_day=day, recent=recent,
                                           baseline_daily=getattr(h, "baseline_daily", None),
                                           ratio=getattr(h, "ratio", None), reason=_reason(h))
                continue
            row.days.append(day)
            if recent > row.recent:
                row.peak_day, row.recent, row.reason = day, recent, _reason(h)
                row.baseline_daily, row.ratio = getattr(h, "baseline_daily", None), getattr(h, "ratio", None)
        day += timedelta(days=1)
    rows = sorted(found.values(), key=lambda r: (-r.recent, -len(r.days), r.category.code if r.category else "",
                                                 r.place.code if r.place and r.place.code else ""))
    return rows[:HOTSPOT_LIMIT]


def _reason(h) -> str:
    reason = getattr(h, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    ratio, recent = getattr(h, "ratio", None), getattr(h, "recent", 0)
    if ratio is None:
        return t("report.hotspot.why_new", recent=recent)
    return t("report.hotspot.why", recent=recent, daily=f"{getattr(h, 'baseline_daily', 0) or 0:.1f}",
             ratio=f"{ratio:.1f}")


def _in_place(directory: OrgDirectory, code: str | None, place_unit, place_ids) -> bool:
    if place_unit is None:
        return True
    unit = directory.unit_by_code(code) if code else None
    if unit is None:
        return False
    return unit.id in (place_ids or ()) or unit.id in place_unit.ancestor_ids


# -- topics ----------------------------------------------------------------------------------------------------


def category_ids(directory: OrgDirectory, codes) -> tuple[int, ...]:
    """The ids of the categories named and of every category under them."""
    wanted = set(codes)
    out = []
    for category in directory.categories.values():
        node = category
        while node is not None:
            if node.code in wanted:
                out.append(category.id)
                break
            node = directory.category(node.parent_id)
    return tuple(sorted(out))


def topic_status(day: TopicDayRead) -> str:
    if day.status == "reported":
        return t("report.topic.status.zero" if day.zero else "report.topic.status.reported")
    return t(f"report.topic.status.{day.status}")


def topic_read(directory: OrgDirectory, topic: ReportTopic) -> TopicRead:
    categories = []
    for code in topic.categories or ():
        info = directory.category_by_code(code)
        categories.append(CountRead(code=code, name=info.path_name if info else code, count=0))
    return TopicRead(id=topic.id, name=topic.name, keywords=list(topic.keywords or ()), categories=categories,
                     season_start=topic.season_start, season_end=topic.season_end, active=topic.active,
                     created_by=topic.created_by, created_at=topic.created_at)


def get_topic(session, topic_id: int) -> ReportTopic:
    topic = session.get(ReportTopic, topic_id)
    if topic is None:
        raise NotFound(t("report.topic.not_found", id=topic_id))
    return topic


def list_topics(session) -> list[ReportTopic]:
    return list(session.execute(select(ReportTopic).order_by(ReportTopic.active.desc(), ReportTopic.season_start.desc(),
                                                             ReportTopic.id)).scalars())


def topics_overlapping(session, start: date, end: date) -> list[ReportTopic]:
    return list(session.execute(select(ReportTopic).where(ReportTopic.season_start <= end,
                                                          ReportTopic.season_end >= start)
                                .order_by(ReportTopic.id)).scalars())


def topic_counts(ctx: Ctx, topic: ReportTopic, first: date, last: date,
                 place_ids: tuple[int, ...] | None = None) -> dict[date, int]:
    """The topic's 受理量 on each local day ``first``..``last`` (``kpis.topic_volume_by_day``)."""
    scope = kpis.Scope.local_days(first, last, ctx.settings.tz, place_ids=place_ids, now=ctx.now)
    rows = kpis.topic_volume_by_day(ctx.session, scope, ctx.settings.tz,
                                    category_ids=category_ids(ctx.directory, topic.categories or ()),
                                    keywords=tuple(topic.keywords or ()))
    return {date.fromisoformat(r.code): r.count for r in rows}


def topic_days(ctx: Ctx, topic: ReportTopic, start: date | None = None, end: date | None = None, *,
               place: str | None = None) -> TopicDaysRead:
    """One row per day of the topic's window (within ``start``..``end`` when given), zero days included: the kept
    report of a day, or — for a day without one — its count now. With ``place``: live counts in that 属地."""
    if start is not None and end is not None:
        _validate_range(start, end)
    first = max(topic.season_start, start or topic.season_start)
    last = min(topic.season_end, end or topic.season_end)
    today = today_of(ctx)
    place_ids = kpis.place_scope(ctx.directory, place) if place else None
    kept = {} if place else {r.day: r for r in ctx.session.execute(
        select(TopicDayReport).where(TopicDayReport.topic_id == topic.id, TopicDayReport.day >= first,
                                     TopicDayReport.day <= last)).scalars()}
    counted_last = min(last, today)
    live = topic_counts(ctx, topic, first, counted_last, place_ids) if first <= counted_last else {}
    rows = []
    day = first
    while day <= last:
        report = kept.get(day)
        if report is not None:
            rows.append(TopicDayRead(day=day, status="reported", count=report.count, zero=report.count == 0,
                                     orders=list(report.orders or ()), trigger=report.trigger,
                                     generated_at=report.generated_at, generated_by=report.generated_by,
                                     revision=report.revision))
        elif day > today:
            rows.append(TopicDayRead(day=day, status="future", count=None, zero=False))
        else:
            rows.append(TopicDayRead(day=day, status="today" if day == today else "pending",
                                     count=live.get(day, 0), zero=False))
        day += timedelta(days=1)
    return TopicDaysRead(topic=topic_read(ctx.directory, topic), start=first, end=last, place=place,
                         total=sum(r.count or 0 for r in rows),
                         reported=sum(1 for r in rows if r.status == "reported"),
                         zero_reports=sum(1 for r in rows if r.zero), days=rows)


def topic_orders(ctx: Ctx, topic: ReportTopic, day: date) -> list[str]:
    """The numbers of the topic's 工单 registered that local day (a listing for the report, not a count)."""
    from civiclink.workorders.models import WorkOrder

    tz = ctx.settings.tz
    condition = kpis.topic_condition(category_ids(ctx.directory, topic.categories or ()),
                                     tuple(topic.keywords or ()))
    stmt = (select(WorkOrder.number)
            .where(WorkOrder.registered_at >= local_start(day, tz),
                   WorkOrder.registered_at < local_start(day + timedelta(days=1), tz), condition)
            .order_by(WorkOrder.registered_at, WorkOrder.id).limit(ORDER_LIST_LIMIT))
    return list(ctx.session.execute(stmt).scalars())


@dataclass
class DayDue:
    topic: ReportTopic
    day: date


def days_due(ctx: Ctx, catch_up_days: int) -> list[DayDue]:
    """The days the daily task owes a report: for every active topic, each finished day of its window among the
    last ``catch_up_days`` (yesterday and before) without one."""
    yesterday = today_of(ctx) - timedelta(days=1)
    first = yesterday - timedelta(days=catch_up_days - 1)
    out = []
    topics = ctx.session.execute(select(ReportTopic).where(
        ReportTopic.active.is_(True), ReportTopic.season_start <= yesterday, ReportTopic.season_end >= first)
        .order_by(ReportTopic.id)).scalars().all()
    for topic in topics:
        kept = set(ctx.session.execute(select(TopicDayReport.day).where(
            TopicDayReport.topic_id == topic.id, TopicDayReport.day >= first)).scalars())
        day = max(first, topic.season_start)
        while day <= min(yesterday, topic.season_end):
            if day not in kept:
                out.append(DayDue(topic, day))
            day += timedelta(days=1)
    return out
