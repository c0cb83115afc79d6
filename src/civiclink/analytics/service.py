"""The dashboard's figures (大屏, design §8, R-805), one function per figure, each saying what it counts.

Every figure is aggregate SQL (COUNT/SUM … GROUP BY), one statement per figure and one scan for all the
volumes of a period; Python only rolls the grouped rows up (second-level categories into their first level,
towns into their district) and does the arithmetic. On 100,000 orders the whole dashboard takes about 0.1–0.3 s
on SQLite and on PostgreSQL (the year to date the slowest). ``work_order.registered_at`` has no index of
its own yet, so a period is a scan of the table; an index on it would make today and 7 days much cheaper.

Times: the database stores UTC; "today", a day and a month are those of the site's time zone
(``settings.tz``). A period ends *now* (inclusive), and its year-on-year comparison is the same local wall-clock
span one year earlier, so a half-day today is compared with the same half-day last year.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Integer, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from civiclink.analytics.facts import _year_earlier
from civiclink.analytics.facts import local_midnight as _local_midnight
from civiclink.analytics.facts import seconds_between as _seconds
from civiclink.context import Ctx
from civiclink.errors import Forbidden
from civiclink.i18n import label
from civiclink.incidents.models import Incident
from civiclink.incidents.states import IncidentState
from civiclink.linkage.models import Transfer
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.service import OrgDirectory
from civiclink.workorders.models import WorkOrder

Period = Literal["today", "7d", "30d", "year"]
PERIODS: tuple[str, ...] = ("today", "7d", "30d", "year")
Bucket = Literal["hour", "day", "month"]

# Who reads the dashboard: the figures-only and oversight roles; on a 110 site also its commanders.
HOTLINE_READERS = frozenset({Role.LEADER, Role.SUPERVISOR, Role.ADMIN})
POLICE_READERS = HOTLINE_READERS | {Role.POLICE_COMMANDER}

# How many first-level categories a chart shows before the rest are folded into "其他".
TOP_CATEGORIES = 10

# Hotspots (热点): rises and clusters, defined in ``civiclink.analytics.hotspots`` (docs/hotspots.md); the
# dashboard shows at most HOTSPOT_LIMIT of them.
HOTSPOT_LIMIT = 10

# Codes of grouped values that are not a real unit or category (the page names them from its catalogue).
OTHER = "_other"

OPEN_INCIDENT_STATES = (IncidentState.SIGNED, IncidentState.DISPATCHED, IncidentState.ARRIVED)
ACCEPTED_TRANSFER_STATES = ("accepted", "result", "closed")


def dashboard_readers(site_role: str) -> frozenset[Role]:
    return POLICE_READERS if site_role == "police" else HOTLINE_READERS


def can_read_dashboard(actor: Actor, site_role: str) -> bool:
    return actor.is_system or bool(actor.roles & dashboard_readers(site_role))


def require_dashboard_reader(actor: Actor, site_role: str) -> None:
    if not can_read_dashboard(actor, site_role):
        who = "指挥中心领导、督办员、管理员" + ("或110指挥员" if site_role == "police" else "")
        raise Forbidden(f"大屏数据仅供{who}查看")


# -- periods ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A span of time cut into buckets: ``starts`` are the buckets' local starts; the span ends at ``end``
    (UTC, inclusive)."""

    bucket: Bucket
    starts: tuple[datetime, ...]
    end: datetime

    @property
    def start(self) -> datetime:
        return self.starts[0].astimezone(UTC)

    def boundaries(self) -> list[datetime]:
        """UTC boundaries: bucket i is [b[i], b[i+1]); the last bucket ends at ``end`` inclusive."""
        return [s.astimezone(UTC) for s in self.starts] + [self.end]


def _days_earlier(moment: datetime, days: int) -> datetime:
    # On the local calendar, so that a midnight stays a midnight across a DST change.
    return (moment.replace(tzinfo=None) - timedelta(days=days)).replace(tzinfo=moment.tzinfo)


def period_window(period: str, now: datetime, tz: ZoneInfo) -> Window:
    """The period as buckets: today by hour, 7 and 30 days (today included) by day, the year so far by month."""
    local_now = now.astimezone(tz)
    today = local_now.date()
    if period == "today":
        starts = tuple(datetime.combine(today, time(h), tzinfo=tz) for h in range(local_now.hour + 1))
        return Window("hour", starts, now)
    if period in ("7d", "30d"):
        days = 7 if period == "7d" else 30
        starts = tuple(_local_midnight(today - timedelta(days=days - 1 - i), tz) for i in range(days))
        return Window("day", starts, now)
    if period == "year":
        starts = tuple(_local_midnight(date(today.year, m, 1), tz) for m in range(1, today.month + 1))
        return Window("month", starts, now)
    raise ValueError(f"unknown period {period!r}")


def year_earlier(window: Window, tz: ZoneInfo) -> Window:
    """The same local span one year earlier (同比). A span of days that holds 29 February compares 28 February with
    28 February, and 29 February with nothing (its bucket a year earlier is empty), not with the 28th twice."""
    def start(moment: datetime) -> datetime:
        local = moment.astimezone(tz)
        if window.bucket == "day" and (local.month, local.day) == (2, 29):
            return _local_midnight(date(local.year - 1, 3, 1), tz)  # an empty bucket: it ends where it starts
        return _year_earlier(moment)

    starts = [start(s) for s in window.starts]
    return Window(window.bucket, tuple(starts), _year_earlier(window.end.astimezone(tz)).astimezone(UTC))


def previous_window(window: Window, period: str, tz: ZoneInfo) -> Window | None:
    """The span of the same length just before (环比): yesterday up to this time, the 7 or 30 days before.
    None for the year so far, whose comparison is the year before (同比)."""
    days = {"today": 1, "7d": 7, "30d": 30}.get(period)
    if days is None:
        return None
    return Window(window.bucket, tuple(_days_earlier(s, days) for s in window.starts),
                  _days_earlier(window.end.astimezone(tz), days).astimezone(UTC))


# -- shapes ----------------------------------------------------------------------------------------------------


class CountRead(BaseModel):
    code: str | None  # None: without a value (no category, no 属地); "_other": the rest folded together
    name: str | None
    count: int


class RateRead(BaseModel):
    numerator: int
    denominator: int
    rate: float | None  # percent, two decimals; None when the denominator is 0


class ComparisonRead(BaseModel):
    current: int
    previous: int
    change_pct: float | None  # None when there is nothing to compare with
    previous_start: datetime
    previous_end: datetime


class SeriesRead(BaseModel):
    bucket: Bucket
    starts: list[datetime]  # local starts of the buckets
    current: list[int]
    last_year: list[int]


class SatisfactionRead(RateRead):
    levels: list[CountRead]  # every valid visit by level, 非常满意 … 非常不满意


class ConnectionRateRead(BaseModel):
    available: bool
    rate: float | None = None
    numerator: int | None = None  # first attempts answered by a person
    denominator: int | None = None  # first attempts wanting a person
    reason: str | None = None  # why it is not available: "no_call_data" while no call was ever recorded


class LinkageFlowRead(BaseModel):
    flow: Literal["hotline_to_police", "police_to_hotline"]  # 12345→110 / 110→12345
    direction: Literal["out", "in"]  # seen from this site
    total: int
    by_kind: list[CountRead]
    accepted: int
    rejected: int
    waiting: int  # of this period's, still waiting for 签收
    waiting_now: int  # all still waiting for 签收 now, whenever offered
    overdue_now: int  # of those, past the 签收 limit
    avg_accept_minutes: float | None  # offer → 签收, of this period's accepted ones


class HotspotRead(BaseModel):
    """One hotspot (热点, docs/hotspots.md): a rise of one category in one district against its own baseline
    (``kind="rise"``), or a cluster of similar requests about one place and matter (``kind="cluster"``)."""

    kind: Literal["rise", "cluster"]
    title: str  # what: the category (rise) or the most representative member's title (cluster)
    category: CountRead | None  # rise: the category as registered; cluster: the commonest among the members
    place: CountRead | None  # rise: the district (code); cluster: the place name the members share (no code)
    start: datetime  # the time window
    end: datetime
    count: int  # orders in the hotspot
    recent: int  # rise: orders in its peak 24 hours; cluster: members of the last 24 hours
    baseline_total: int | None = None  # rise: orders of the pair in the 28 days before the peak window
    baseline_daily: float | None = None  # … their daily average
    ratio: float | None = None  # rise: peak ÷ daily average (None: none in the 28 days before)
    p_value: float | None = None  # rise: the chance of at least that many under the pair's own baseline
    reporters: int | None = None  # cluster: distinct callers
    cohesion: float | None = None  # cluster: the members' mean combined similarity
    score: float  # to rank by within a kind (docs/hotspots.md)
    reason: str  # why it fired, in plain Chinese
    members: list[str]  # order numbers, at most hotspots.MEMBERS_SHOWN (the most representative first)
    members_total: int


class HotlineFigures(BaseModel):
    today: int
    volume: SeriesRead
    total: int
    year_on_year: ComparisonRead
    period_on_period: ComparisonRead | None
    by_channel: list[CountRead]
    by_category: list[CountRead]
    by_district: list[CountRead]
    satisfaction: SatisfactionRead
    on_time_completion: RateRead
    first_attempt_connection: ConnectionRateRead
    linkage: list[LinkageFlowRead]
    hotspots: list[HotspotRead]


class PoliceFigures(BaseModel):
    today: int
    volume: SeriesRead
    total: int
    year_on_year: ComparisonRead
    period_on_period: ComparisonRead | None
    by_state: list[CountRead]
    open_now: int
    pushes_waiting: int
    pushes_overdue: int
    linkage: list[LinkageFlowRead]


class DashboardRead(BaseModel):
    site_code: str
    site_name: str
    site_role: Literal["hotline", "police"]
    period: Period
    start: datetime
    end: datetime
    generated_at: datetime
    hotline: HotlineFigures | None = None
    police: PoliceFigures | None = None


# -- SQL helpers -----------------------------------------------------------------------------------------------


def _bucket_case(column, edges: list[tuple[datetime, int]], lo: int, hi: int):
    """A CASE that maps a time to the code of the last edge at or before it, as a balanced tree of comparisons
    (log2 of the number of buckets per row instead of a linear chain of WHENs)."""
    if hi - lo == 1:
        return literal_column(str(int(edges[lo][1])), Integer)  # our own integer, inlined: typed on every engine
    mid = (lo + hi) // 2
    return case((column < edges[mid][0], _bucket_case(column, edges, lo, mid)),
                else_=_bucket_case(column, edges, mid, hi))


@dataclass(frozen=True)
class _Buckets:
    counts: list[list[int]]  # per window, per bucket
    since: int  # rows at or after ``since`` (in any window)


def _bucketed_counts(session: Session, column, windows: list[Window], since: datetime) -> _Buckets:
    """Counts per bucket of each window, and of the rows since a moment, in one scan.

    Portable (no engine-specific date functions) and right across DST changes, because the buckets' edges are
    computed here, in the site's time zone. The windows must not overlap."""
    edges: list[tuple[datetime, int]] = []
    ranges = []
    for k, window in sorted(enumerate(windows), key=lambda kw: kw[1].start):
        bounds = window.boundaries()
        edges += [(bounds[i], k * 10_000 + i) for i in range(len(bounds) - 1)]
        ranges.append(and_(column >= bounds[0], column <= bounds[-1]))
    bucket = _bucket_case(column, edges, 0, len(edges)).label("bucket")
    recent = case((column >= since, 1), else_=0).label("recent")
    rows = select(bucket, recent).where(or_(*ranges)).subquery()
    out = [[0] * len(w.starts) for w in windows]
    total_since = 0
    for code, n, n_since in session.execute(
        select(rows.c.bucket, func.count(), func.sum(rows.c.recent)).group_by(rows.c.bucket)
    ):
        out[code // 10_000][code % 10_000] = n
        total_since += int(n_since or 0)
    return _Buckets(out, total_since)


class VolumeRead(BaseModel):
    today: int
    total: int
    series: SeriesRead
    year_on_year: ComparisonRead
    period_on_period: ComparisonRead | None


def _window_scope(window: Window):
    """The KPI scope of a window (its end is inclusive; the scope's exclusive), in the window's time zone."""
    from civiclink.analytics.facts import Scope

    return Scope(window.start, window.end + timedelta(microseconds=1), tz=window.starts[0].tzinfo)


def _days_into_buckets(per_day: dict[date, int], window: Window) -> list[int]:
    """Counts per local day summed into the window's day or month buckets (an empty bucket — 29 February a year
    earlier — starts where the next one does and gets nothing)."""
    firsts = [s.date() for s in window.starts]
    out = [0] * len(firsts)
    for day, n in per_day.items():
        i = bisect_right(firsts, day) - 1
        if i >= 0:
            out[i] += n
    return out


def _volumes(session: Session, column, period: str, now: datetime, tz: ZoneInfo, per_day=None) -> VolumeRead:
    """Volumes of a period in buckets, with its 同比 and 环比 windows. ``per_day(scope) → {date: count}``, when
    given, answers day and month buckets (the 工单's, from the KPI roll-up); otherwise, and for hours, one scan."""
    window = period_window(period, now, tz)
    earlier = year_earlier(window, tz)
    before = previous_window(window, period, tz)
    windows = [window, earlier] + ([before] if before else [])
    today = now.astimezone(tz).date()
    if per_day is not None and window.bucket != "hour":
        days = [per_day(_window_scope(w)) for w in windows]
        found = _Buckets([_days_into_buckets(d, w) for d, w in zip(days, windows, strict=True)],
                         days[0].get(today, 0))
    else:
        found = _bucketed_counts(session, column, windows, since=_local_midnight(today, tz))
    current, last_year = found.counts[0], found.counts[1]
    total = sum(current)
    return VolumeRead(
        today=found.since,
        total=total,
        series=SeriesRead(bucket=window.bucket, starts=list(window.starts), current=current, last_year=last_year),
        year_on_year=_comparison(total, sum(last_year), earlier),
        period_on_period=_comparison(total, sum(found.counts[2]), before) if before else None,
    )


def _rate(numerator: int, denominator: int) -> float | None:
    return round(100 * numerator / denominator, 2) if denominator else None


def _change_pct(current: int, previous: int) -> float | None:
    return round(100 * (current - previous) / previous, 1) if previous else None


def _comparison(current: int, previous: int, window: Window) -> ComparisonRead:
    return ComparisonRead(current=current, previous=previous, change_pct=_change_pct(current, previous),
                          previous_start=window.start, previous_end=window.end)


def _ranked(counts: dict[str | None, tuple[str | None, int]], top: int | None = None) -> list[CountRead]:
    """Largest first (ties by code); beyond ``top`` the rest is one "_other" item."""
    items = sorted(counts.items(), key=lambda kv: (-kv[1][1], kv[0] is None, kv[0] or ""))
    out = [CountRead(code=code, name=name, count=n) for code, (name, n) in items if n]
    if top is not None and len(out) > top:
        rest = sum(c.count for c in out[top:])
        out = out[:top] + [CountRead(code=OTHER, name=None, count=rest)]
    return out


# -- 12345 figures ---------------------------------------------------------------------------------------------


def order_volumes(session: Session, period: str, now: datetime, tz: ZoneInfo) -> VolumeRead:
    """受理量: 工单 registered in the period — every 工单 whatever its state (直接办结 and 重复件 included), as
    the seed's "16,528 requests in 7 days" counts requests received; per bucket (hour / day / month, local).
    今日: registered since local midnight. 同比: the same local span a year earlier, change = (this − that) ÷
    that. 环比: the span of the same length just before (today: yesterday up to this time). One scan for all."""
    from civiclink.analytics import kpis

    return _volumes(session, WorkOrder.registered_at, period, now, tz,
                    per_day=lambda scope: kpis.daily_volume(session, scope))


def orders_by_channel(session: Session, directory: OrgDirectory, window: Window) -> list[CountRead]:
    """受理量 of the period by intake channel (电话, 网站, 微信, 110转入 …): ``kpis.volume_by``."""
    from civiclink.analytics import kpis

    scope = _window_scope(window)
    return kpis.volume_by(session, scope, "channel", directory=directory, tz=scope.tz)


def orders_by_category(session: Session, directory: OrgDirectory, window: Window) -> list[CountRead]:
    """受理量 of the period by first-level category (诉求分类一级; ``kpis.volume_by``): second-level categories
    count towards their parent; orders without a category are one item with code None. The 10 largest, then
    "其他"."""
    from civiclink.analytics import kpis

    scope = _window_scope(window)
    items = kpis.volume_by(session, scope, "category", directory=directory, tz=scope.tz)
    return _ranked({c.code: (c.name, c.count) for c in items}, TOP_CATEGORIES)


def orders_by_district(session: Session, directory: OrgDirectory, window: Window) -> list[CountRead]:
    """受理量 of the period by 属地 at district/county level (区、县、县级市、开发区; ``kpis.volume_by``): a town or
    community counts towards its district; orders whose 属地 is unknown or the city as a whole are one item
    with code None."""
    from civiclink.analytics import kpis

    scope = _window_scope(window)
    return kpis.volume_by(session, scope, "place", directory=directory, tz=scope.tz)


def satisfaction_rate(session: Session, window: Window) -> SatisfactionRead:
    """满意率 of the period: ``civiclink.analytics.kpis.satisfaction_rate`` (docs/kpi.md), the 大屏's window
    (end inclusive) as a KPI scope."""
    from civiclink.analytics import kpis

    return kpis.satisfaction_rate(session, _window_scope(window))


def on_time_completion_rate(session: Session, window: Window) -> RateRead:
    """按时办结率 of the period: ``civiclink.analytics.kpis.on_time_completion_rate`` (docs/kpi.md)."""
    from civiclink.analytics import kpis

    return kpis.on_time_completion_rate(session, _window_scope(window))


def first_attempt_connection_rate(session: Session, start: datetime, end: datetime,
                                  tz: ZoneInfo | None = None) -> ConnectionRateRead:
    """一次接通率 of calls offered in [start, end) (``callcentre.service``, docs/cti.md): first attempts answered
    by a person ÷ first attempts wanting a person (a call after an unanswered one from the same number within 30
    minutes is a redial, not a first attempt; one given up within 5 s wanted no one). The whole site: calls have
    no 属地. While no call was ever recorded (no telephony connected) the figure says so instead of 0."""
    from civiclink.callcentre import service as calls

    if not calls.has_calls(session):
        return ConnectionRateRead(available=False, reason="no_call_data")
    n, d = calls.first_attempt_rate(session, start, end, tz)  # tz: whole local days from the call roll-up
    return ConnectionRateRead(available=True, rate=_rate(n, d), numerator=n, denominator=d)


def linkage_flows(session: Session, window: Window, site_role: str,
                  now: datetime | None = None) -> list[LinkageFlowRead]:
    """Linkage counts each way (R-805, R-211): transfer records offered in the period, 12345→110 and
    110→12345, by kind (转办, 紧急, 稳定线索, 提请出警, 联合调处), with how many the receiver signed for or
    returned and the average minutes from offer to 签收; and, whenever offered, how many still wait for 签收
    now and how many of those are past the limit (R-204) at ``now`` (default: the window's end, which is now on
    the 大屏)."""
    in_period = and_(Transfer.offered_at >= window.start, Transfer.offered_at <= window.end)
    dialect = session.get_bind().dialect.name
    rows = session.execute(
        select(Transfer.direction, Transfer.kind, Transfer.state, func.count())
        .where(in_period).group_by(Transfer.direction, Transfer.kind, Transfer.state)
    ).all()
    waiting_now = dict(session.execute(
        select(Transfer.direction, func.count()).where(Transfer.state == "offered").group_by(Transfer.direction)
    ).all())
    overdue_now = dict(session.execute(
        select(Transfer.direction, func.count())
        .where(Transfer.state == "offered", Transfer.sign_due_at < (now or window.end)).group_by(Transfer.direction)
    ).all())
    accept_minutes = dict(session.execute(
        select(Transfer.direction, func.avg(_seconds(Transfer.offered_at, Transfer.accepted_at, dialect)) / 60.0)
        .where(in_period, Transfer.accepted_at.is_not(None)).group_by(Transfer.direction)
    ).all())
    hotline_out = site_role != "police"
    out = []
    for flow in ("hotline_to_police", "police_to_hotline"):
        direction = "out" if (flow == "hotline_to_police") == hotline_out else "in"
        mine = [(kind, state, n) for d, kind, state, n in rows if d == direction]
        kinds: dict[str | None, tuple[str | None, int]] = {}
        for kind, _state, n in mine:
            kinds[kind] = (label("transfer_kind", kind), kinds.get(kind, (None, 0))[1] + n)
        minutes = accept_minutes.get(direction)
        out.append(LinkageFlowRead(
            flow=flow, direction=direction, total=sum(n for *_, n in mine), by_kind=_ranked(kinds),
            accepted=sum(n for _k, state, n in mine if state in ACCEPTED_TRANSFER_STATES),
            rejected=sum(n for _k, state, n in mine if state == "rejected"),
            waiting=sum(n for _k, state, n in mine if state == "offered"),
            waiting_now=waiting_now.get(direction, 0), overdue_now=overdue_now.get(direction, 0),
            avg_accept_minutes=round(float(minutes), 1) if minutes is not None else None,
        ))
    return out


def hotspots(session: Session, directory: OrgDirectory, now: datetime) -> list[HotspotRead]:
    """热点 rises of the last 24 hours before ``now``: (category, district) pairs whose count in that window is
    unusual against their own 28 days before (``analytics.hotspots``: a Poisson or negative-binomial tail
    probability of at most 0.001, at least 3 orders and twice the daily average), most significant first."""
    from civiclink.analytics import hotspots as hs

    return hs.site_rises(session, directory, now, days=1)[:HOTSPOT_LIMIT]


def _dashboard_hotspots(ctx: Ctx, period: str) -> list[HotspotRead]:
    """The dashboard's hotspots for its period (``analytics.hotspots.compute_site_hotspots``): the rises first
    (they are alerts; at most half of the rows unless there are fewer clusters), then the clusters, at most
    ``HOTSPOT_LIMIT`` in all."""
    from civiclink.analytics import hotspots as hs

    found = hs.compute_site_hotspots(ctx, period)
    rises = found.rises[: max(HOTSPOT_LIMIT // 2, HOTSPOT_LIMIT - len(found.clusters))]
    return (rises + found.clusters)[:HOTSPOT_LIMIT]


def hotline_figures(ctx: Ctx, period: str) -> HotlineFigures:
    session, tz, directory = ctx.session, ctx.settings.tz, ctx.directory
    window = period_window(period, ctx.now, tz)
    volumes = order_volumes(session, period, ctx.now, tz)
    return HotlineFigures(
        today=volumes.today,
        volume=volumes.series,
        total=volumes.total,
        year_on_year=volumes.year_on_year,
        period_on_period=volumes.period_on_period,
        by_channel=orders_by_channel(session, directory, window),
        by_category=orders_by_category(session, directory, window),
        by_district=orders_by_district(session, directory, window),
        satisfaction=satisfaction_rate(session, window),
        on_time_completion=on_time_completion_rate(session, window),
        first_attempt_connection=first_attempt_connection_rate(session, window.start,
                                                               window.end + timedelta(microseconds=1), tz),
        linkage=linkage_flows(session, window, "hotline"),
        hotspots=_dashboard_hotspots(ctx, period),
    )


# -- 110 figures -----------------------------------------------------------------------------------------------


def incident_volumes(session: Session, period: str, now: datetime, tz: ZoneInfo) -> VolumeRead:
    """警单量: 警单 received in the period (110's own calls and 12345's pushes alike), per bucket, with 今日,
    同比 and 环比 defined as for ``order_volumes``."""
    return _volumes(session, Incident.received_at, period, now, tz)


def incidents_by_state(session: Session, window: Window) -> list[CountRead]:
    """警单 received in the period by their state now (待签收, 已受理, 已派警 … 已办结)."""
    rows = session.execute(
        select(Incident.state, func.count())
        .where(Incident.received_at >= window.start, Incident.received_at <= window.end)
        .group_by(Incident.state)
    ).all()
    order = {s.value: i for i, s in enumerate(IncidentState)}
    return sorted((CountRead(code=state, name=label("incident_state", state), count=n) for state, n in rows),
                  key=lambda c: order.get(c.code, 99))


def incidents_open_now(session: Session) -> int:
    """处置中: 警单 signed for and not yet finished (已受理, 已派警, 已到场), whenever received."""
    q = select(func.count()).where(Incident.state.in_([str(s) for s in OPEN_INCIDENT_STATES]))
    return session.execute(q).scalar_one()


def police_figures(ctx: Ctx, period: str) -> PoliceFigures:
    session, tz = ctx.session, ctx.settings.tz
    window = period_window(period, ctx.now, tz)
    volumes = incident_volumes(session, period, ctx.now, tz)
    linkage = linkage_flows(session, window, "police")
    # Pushes from 12345 awaiting 签收 here: the incoming 12345→110 records still offered.
    incoming = next(f for f in linkage if f.flow == "hotline_to_police")
    return PoliceFigures(
        today=volumes.today,
        volume=volumes.series,
        total=volumes.total,
        year_on_year=volumes.year_on_year,
        period_on_period=volumes.period_on_period,
        by_state=incidents_by_state(session, window),
        open_now=incidents_open_now(session),
        pushes_waiting=incoming.waiting_now,
        pushes_overdue=incoming.overdue_now,
        linkage=linkage,
    )


# -- the dashboard ---------------------------------------------------------------------------------------------


def dashboard(ctx: Ctx, actor: Actor, period: str) -> DashboardRead:
    """Every figure of this site's dashboard for ``period``, for a reader of the dashboard (403 otherwise)."""
    settings = ctx.settings
    require_dashboard_reader(actor, settings.site_role)
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    window = period_window(period, ctx.now, settings.tz)
    out = DashboardRead(site_code=settings.site_code, site_name=settings.site_name, site_role=settings.site_role,
                        period=period, start=window.start, end=window.end, generated_at=ctx.now)
    if settings.site_role == "police":
        out.police = police_figures(ctx, period)
    else:
        out.hotline = hotline_figures(ctx, period)
    return out
