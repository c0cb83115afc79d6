"""A month's staffing plan from the call records (issue 7, parts 3–5; docs/cti.md, "Planning"): the calls of
every half hour forecast from history (``forecast.py``: 春节 from 春节, 调休 as workdays), the agents each half
hour needs for the service target (``staffing.py``: Erlang C, or Erlang A with the callers' patience), the
四班三运转 roster sized for that need with its standby pool (``roster.py``), and where the roster falls short.

History: the calls wanting a person (short abandons aside), per local half hour, over up to ``HISTORY_DAYS``
complete days before the month (or before today, for the current month). Average handling time, when not
given, is the mean talk of answered calls in the last 28 days plus ``WRAP_UP_SECONDS`` of 话后处理 (registering
the 工单), or ``DEFAULT_AHT_SECONDS`` without history."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from civiclink.callcentre.forecast import DayForecast, forecast_calls
from civiclink.callcentre.models import Call
from civiclink.callcentre.roster import Roster, roster_for_need, shortfall
from civiclink.callcentre.staffing import staffing_plan
from civiclink.context import Ctx
from civiclink.errors import Invalid

HISTORY_DAYS = 400  # a year and a bit: last year's 春节 and 国庆 are in it
WRAP_UP_SECONDS = 60.0
DEFAULT_AHT_SECONDS = 240.0


class PlanInputs(BaseModel):
    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)
    service_level: float = Field(default=0.8, gt=0, lt=1, description="接听目标比例，如 0.8")
    answer_seconds: int = Field(default=15, ge=1, le=600, description="目标接听秒数")
    aht_seconds: float | None = Field(default=None, gt=0, le=7200, description="平均处理时长（秒）；不填按历史")
    shrinkage: float = Field(default=0.3, ge=0, lt=1, description="缺勤、培训、休息等占比")
    max_occupancy: float = Field(default=0.85, gt=0, le=1)
    standby_share: float = Field(default=0.3, ge=0, le=1, description="应急梯队占四班人数的比例")


class PlanDayRead(BaseModel):
    date: date
    label: str
    calls: float  # forecast
    peak_need: int  # the most people any half hour of the day needs (scheduled, with shrinkage)
    short_half_hours: int  # half hours where the team on the shift is smaller than the need
    worst_gap: float  # the most negative on-duty − need of the day (0: never short)


class PlanRead(BaseModel):
    year: int
    month: int
    inputs: PlanInputs
    aht_seconds: float
    aht_from_history: bool
    history_days: int
    team_size: int
    standby: int
    headcount: int
    hours_by_team: dict[str, int]
    days: list[PlanDayRead]
    short_half_hours: int


@dataclass(frozen=True)
class MonthPlan:
    read: PlanRead
    forecasts: list[DayForecast]
    need: dict[date, tuple[int, ...]]  # scheduled people per half hour
    roster: Roster
    gaps: list  # roster.IntervalGap, every half hour of the month


def history(ctx: Ctx, before: date, days: int = HISTORY_DAYS) -> dict[datetime, float]:
    """Calls wanting a person per local half hour (naive local datetimes) of the complete days before ``before``
    (at most ``days`` back), from the first to the last day with a call — every half hour of that span present,
    zeros included; days after the last call (the CTI not yet connected, or down) are not taken for quiet days."""
    first_day = before - timedelta(days=days)
    rows = ctx.session.execute(
        select(Call.local_day, Call.local_slot, func.count())
        .where(Call.local_day >= first_day, Call.local_day < before, Call.short_abandon.is_(False))
        .group_by(Call.local_day, Call.local_slot)).all()
    if not rows:
        return {}
    start = min(day for day, _slot, _n in rows)
    end = max(day for day, _slot, _n in rows) + timedelta(days=1)
    out = {datetime.combine(start + timedelta(days=d), time()) + timedelta(minutes=30 * s): 0.0
           for d in range((end - start).days) for s in range(48)}
    for day, slot, n in rows:
        out[datetime.combine(day, time()) + timedelta(minutes=30 * slot)] = float(n)
    return out


def average_handling_seconds(ctx: Ctx, before: date) -> float | None:
    """Mean talk of answered calls in the 28 days before ``before`` plus the wrap-up, or None without calls."""
    talk = ctx.session.execute(select(func.avg(Call.talk_seconds)).where(
        Call.local_day >= before - timedelta(days=28), Call.local_day < before, Call.outcome == "answered",
        Call.talk_seconds.is_not(None))).scalar_one()
    return float(talk) + WRAP_UP_SECONDS if talk is not None else None


def plan_month(ctx: Ctx, inputs: PlanInputs) -> MonthPlan:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    first = date(inputs.year, inputs.month, 1)
    days = [first + timedelta(days=i) for i in range(calendar.monthrange(inputs.year, inputs.month)[1])]
    before = min(first, today)
    past = history(ctx, before)
    if not past:
        raise Invalid("没有可用于预测的话务记录（需要该月之前的通话记录）", field="month")
    aht = inputs.aht_seconds or average_handling_seconds(ctx, before)
    from_history = inputs.aht_seconds is None and aht is not None
    aht = aht or DEFAULT_AHT_SECONDS
    forecasts = forecast_calls(past, days)
    need: dict[date, tuple[int, ...]] = {}
    for day in forecasts:
        plan = staffing_plan(list(day.half_hours), aht, inputs.service_level, inputs.answer_seconds,
                             max_occupancy=inputs.max_occupancy, shrinkage=inputs.shrinkage)
        need[day.date] = tuple(r.scheduled for r in plan)
    roster = roster_for_need(inputs.year, inputs.month, need, standby_share=inputs.standby_share)
    gaps = shortfall(roster, need)
    by_day: dict[date, list] = {d: [] for d in days}
    for gap in gaps:
        by_day[gap.day].append(gap)
    day_reads = [PlanDayRead(date=f.date, label=f.label, calls=round(f.total, 1), peak_need=max(need[f.date]),
                             short_half_hours=sum(1 for g in by_day[f.date] if g.gap < 0),
                             worst_gap=round(min((g.gap for g in by_day[f.date]), default=0.0), 1) if any(
                                 g.gap < 0 for g in by_day[f.date]) else 0.0)
                 for f in forecasts]
    read = PlanRead(year=inputs.year, month=inputs.month, inputs=inputs, aht_seconds=round(aht, 1),
                    aht_from_history=from_history, history_days=len(past) // 48, team_size=roster.team_sizes["A"],
                    standby=roster.standby, headcount=roster.headcount, hours_by_team=roster.hours_by_team(),
                    days=day_reads, short_half_hours=sum(d.short_half_hours for d in day_reads))
    return MonthPlan(read, forecasts, need, roster, gaps)


def day_series(plan: MonthPlan, day: date) -> dict:
    """Need and people on duty per half hour of one day (the chart of where the roster falls short)."""
    gaps = [g for g in plan.gaps if g.day == day]
    return {"labels": [f"{g.starts:%H:%M}" for g in gaps], "need": [g.need for g in gaps],
            "on_duty": [g.on_duty for g in gaps], "team": [g.team for g in gaps]}


def workbook(plan: MonthPlan) -> bytes:
    """The plan for the office: 排班表 (one row per shift), 人力需求 (people per half hour, per day), 缺口 (the
    half hours where the roster falls short) and 预测 (calls per day)."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "排班表"
    rows = plan.roster.to_rows(include_rest=True)
    headers = {"date": "日期", "weekday": "星期", "shift_name": "班次", "start": "开始", "end": "结束", "team": "班组",
               "members": "人数", "hours": "时长（小时）"}
    sheet.append(list(headers.values()))
    weekdays = "一二三四五六日"
    for row in rows:
        start, end = row["start"], row["end"]
        sheet.append([row["date"].isoformat(), f"周{weekdays[row['weekday'] - 1]}", row["shift_name"],
                      f"{start:%H:%M}" if start else "", f"{end:%H:%M}" if end else "", row["team"],
                      row["members"], row["hours"]])
    need = book.create_sheet("人力需求")
    need.append(["日期", "说明"] + [f"{h // 2:02d}:{30 * (h % 2):02d}" for h in range(48)])
    for forecast in plan.forecasts:
        need.append([forecast.date.isoformat(), forecast.label, *plan.need[forecast.date]])
    short = book.create_sheet("缺口")
    short.append(["日期", "时段", "班次", "班组", "需要", "在岗", "缺口"])
    for gap in plan.gaps:
        if gap.gap < 0:
            short.append([gap.day.isoformat(), f"{gap.starts:%H:%M}", gap.shift, gap.team, gap.need, gap.on_duty,
                          round(gap.gap, 1)])
    calls = book.create_sheet("预测")
    calls.append(["日期", "说明", "预计来电", "低", "高"])
    for forecast in plan.forecasts:
        calls.append([forecast.date.isoformat(), forecast.label, round(forecast.total, 1),
                      round(forecast.total_low, 1) if forecast.total_low is not None else None,
                      round(forecast.total_high, 1) if forecast.total_high is not None else None])
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
