"""HTTP routes of the calendar: which days are working days, deadlines, and importing a new year."""

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, UploadFile
from pydantic import BaseModel

from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, StateDep
from civiclink.errors import ERROR_RESPONSES, Forbidden, Invalid
from civiclink.orgs.roles import Role
from civiclink.sla import service

router = APIRouter(prefix="/api/calendar", tags=["工作日历"], responses=ERROR_RESPONSES)


class DayRead(BaseModel):
    day: date
    is_workday: bool
    name: str
    provisional: bool


class YearRead(BaseModel):
    year: int
    official: bool
    workdays: int
    exceptions: list[DayRead]


class DeadlineRead(BaseModel):
    start: date
    workdays: int
    due: date
    provisional: bool


class ImportResult(BaseModel):
    years: list[int]


@router.get("/{year}", summary="某年的节假日与调休")
def get_year(year: Annotated[int, Path(ge=2004, le=2100)], ctx: CtxDep, actor: CurrentActor) -> YearRead:
    """The year's holidays on weekdays and make-up workdays on weekends, and its number of working days."""
    cal = ctx.calendar
    day, end = date(year, 1, 1), date(year + 1, 1, 1)
    exceptions, workdays = [], 0
    while day < end:
        info = cal.info(day)
        workdays += info.is_workday
        if info.is_workday != (day.weekday() < 5):
            exceptions.append(DayRead(day=day, is_workday=info.is_workday, name=info.name, provisional=info.provisional))
        day += timedelta(days=1)
    return YearRead(year=year, official=year in cal.known_years, workdays=workdays, exceptions=exceptions)


@router.get("/deadline/compute", summary="计算 N 个工作日后的日期")
def deadline(
    ctx: CtxDep,
    actor: CurrentActor,
    start: date,
    workdays: Annotated[int, Query(ge=1, le=366)],
) -> DeadlineRead:
    """The n-th working day after ``start`` (the start day does not count)."""
    if not 2004 <= start.year <= 2099:
        raise Invalid("起始日期超出支持范围（2004–2099）", field="start")
    due = ctx.calendar.add_workdays(start, workdays)
    provisional = any(not ctx.calendar.is_known(start + timedelta(days=i)) for i in range((due - start).days + 1))
    return DeadlineRead(start=start, workdays=workdays, due=due, provisional=provisional)


@router.post("/import", summary="导入节假日安排（CSV）")
def import_calendar(
    ctx: CtxDep, actor: CurrentActor, state: StateDep, file: Annotated[UploadFile, File()]
) -> ImportResult:
    """Import a year's official schedule (``date,type,name``; type holiday/休 or workday/班)."""
    if not actor.has(Role.ADMIN):
        raise Forbidden("只有管理员可以导入节假日安排")
    try:
        text = file.file.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("文件必须是 UTF-8 编码") from exc
    schedule = service.parse_calendar_csv(text)
    with writing(ctx.session):
        years = service.do_import_calendar(
            ctx.session, schedule, actor=actor, source=file.filename or "upload", now=ctx.now,
            tz=state.settings.tz, yellow_share=state.settings.sla.yellow_share,
        )
    state.calendar.invalidate()
    return ImportResult(years=years)
