"""The calendar in force (built-in official years plus imported ones) and the import of a new year."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from civiclink.audit.service import record_event
from civiclink.cache import Snapshot, bump_revision
from civiclink.errors import Forbidden, Invalid
from civiclink.orgs.roles import Actor, Role
from civiclink.sla import clocks
from civiclink.sla.calendar import WorkCalendar
from civiclink.sla.models import CalendarDay, CalendarYear, StageClock

CALENDAR_REVISION = "calendar"
HOLIDAY_WORDS = {"holiday", "休", "假", "off"}
WORKDAY_WORDS = {"workday", "班", "work", "上班"}


def load_calendar(session: Session, tz: ZoneInfo) -> WorkCalendar:
    imported: dict[int, dict[date, tuple[bool, str]]] = defaultdict(dict)
    for year in session.execute(select(CalendarYear.year)).scalars():
        imported[year] = {}
    for row in session.execute(select(CalendarDay)).scalars():
        imported[row.year][row.day] = (row.is_workday, row.name)
    return WorkCalendar.official(tz, dict(imported))


def calendar_snapshot(tz: ZoneInfo) -> Snapshot[WorkCalendar]:
    return Snapshot(CALENDAR_REVISION, lambda session: load_calendar(session, tz), ttl=30.0)


def parse_calendar_csv(text: str) -> dict[int, dict[date, tuple[bool, str]]]:
    """``date,type,name`` rows; type is holiday/休 or workday/班 (a weekend make-up workday).

    Only the exceptions are listed: weekdays off and weekend days on. Every date's year becomes a year whose
    schedule this file defines in full.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"date", "type"} <= set(reader.fieldnames):
        raise Invalid("日历文件需要列 date,type[,name]")
    years: dict[int, dict[date, tuple[bool, str]]] = defaultdict(dict)
    for row in reader:
        line = reader.line_num  # the physical line, even after blank lines or multi-line fields
        try:
            day = date.fromisoformat((row.get("date") or "").strip())
        except ValueError as exc:
            raise Invalid(f"第 {line} 行：日期格式应为 YYYY-MM-DD") from exc
        kind = (row.get("type") or "").strip().lower()
        if kind in HOLIDAY_WORDS:
            is_workday = False
        elif kind in WORKDAY_WORDS:
            is_workday = True
        else:
            raise Invalid(f"第 {line} 行：type 应为 holiday（休）或 workday（班），而不是 {kind!r}")
        if day in years[day.year]:
            raise Invalid(f"第 {line} 行：{day} 重复")
        name = (row.get("name") or "").strip() or ("调休上班" if is_workday else "节假日")
        years[day.year][day] = (is_workday, name)
    if not years:
        raise Invalid("日历文件没有任何日期")
    return dict(years)


def do_import_calendar(
    session: Session,
    years: dict[int, dict[date, tuple[bool, str]]],
    *,
    actor: Actor,
    source: str,
    now: datetime,
    tz: ZoneInfo,
    yellow_share: float,
) -> list[int]:
    """Make the given years' schedules official (replacing any earlier import of those years).

    Running clocks whose deadlines were provisional, or fall in a re-imported year, are recomputed on the new
    calendar, so the yellow/red lists are right at once.
    """
    if not actor.has(Role.ADMIN):
        raise Forbidden("只有管理员可以导入节假日安排")
    for year, days in sorted(years.items()):
        session.execute(delete(CalendarDay).where(CalendarDay.year == year))
        session.execute(delete(CalendarYear).where(CalendarYear.year == year))
        session.flush()
        session.add(CalendarYear(year=year, source=source[:200], imported_at=now))
        session.flush()
        for day, (is_workday, name) in sorted(days.items()):
            session.add(CalendarDay(day=day, year=year, is_workday=is_workday, name=name[:100]))
        record_event(
            session, actor=actor, actor_role=Role.ADMIN, action="calendar.imported", entity_type="calendar",
            entity_id=year, entity_ref=str(year), at=now,
            data={"source": source, "holidays": sum(1 for v in days.values() if not v[0]),
                  "workdays": sum(1 for v in days.values() if v[0])},
        )
    bump_revision(session, CALENDAR_REVISION)
    session.flush()
    _recompute_running_clocks(session, load_calendar(session, tz), since=min(years), yellow_share=yellow_share)
    return sorted(years)


def _recompute_running_clocks(session: Session, calendar: WorkCalendar, *, since: int, yellow_share: float) -> int:
    start = calendar.start_of_day(date(since, 1, 1))
    rows = session.execute(
        select(StageClock).where(
            StageClock.stopped_at.is_(None),
            or_(StageClock.provisional.is_(True), StageClock.due_at >= start, StageClock.due_at.is_(None)),
        )
    ).scalars()
    count = 0
    for clock in rows:
        if clock.calendar == "working":
            clocks.recompute(clock, calendar=calendar, yellow_share=yellow_share)
            count += 1
    return count
