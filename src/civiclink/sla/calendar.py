"""Chinese working-day calendar (法定节假日 and 调休) and working-time arithmetic.

The official schedule for 2004–2026 comes from ``chinesecalendar``; later years (or corrections) are imported
into the database (``civiclink calendar import``). A day in a year nobody has published yet falls back to
"Monday–Friday are workdays", and anything computed over such a day is flagged *provisional*.

Deadlines count whole working days *after* the day the clock starts (the start day itself never counts):
a 2-working-day limit started on Friday 2023-01-20 (before 春节) ends at the end of Sunday 2023-01-29, the
second 调休 make-up workday after it. Working time is measured in seconds of working days, so a clock's
yellow share and a pause are both measured on the same axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chinese_calendar import constants as _cc

DAY = 86400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def _builtin_exceptions() -> tuple[dict[date, tuple[bool, str]], set[int]]:
    """The library's official data as {day: (is_workday, name)} plus the years it covers."""
    exceptions: dict[date, tuple[bool, str]] = {}
    for day, holiday in _cc.holidays.items():
        name = str(getattr(holiday, "value", holiday))
        exceptions[day] = (False, HOLIDAY_NAMES_ZH.get(name, name))
    for day, holiday in _cc.workdays.items():
        name = str(getattr(holiday, "value", holiday))
        exceptions[day] = (True, f"{HOLIDAY_NAMES_ZH.get(name, name)}调休上班")
    years = set(range(min(d.year for d in _cc.holidays), max(d.year for d in _cc.holidays) + 1))
    return exceptions, years


@dataclass(frozen=True)
class DayInfo:
    day: date
    is_workday: bool
    name: str
    provisional: bool


class WorkCalendar:
    """Which days are working days, and time arithmetic over them, in one time zone."""

    def __init__(
        self,
        tz: ZoneInfo,
        exceptions: dict[date, tuple[bool, str]] | None = None,
        known_years: set[int] | None = None,
    ):
        self.tz = tz
        self._exceptions = dict(exceptions or {})
        self.known_years = frozenset(known_years or ())
        self._starts: dict[int, int] = {}
        self._kinds: dict[int, tuple[bool, bool]] = {}

    @classmethod
    def official(
        cls,
        tz: ZoneInfo,
        imported: dict[int, dict[date, tuple[bool, str]]] | None = None,
    ) -> WorkCalendar:
        """The chinesecalendar data, with imported years laid over it (an imported year replaces that year)."""
        exceptions, years = _builtin_exceptions()
        for year, days in (imported or {}).items():
            exceptions = {d: v for d, v in exceptions.items() if d.year != year}
            exceptions.update(days)
            years.add(year)
        return cls(tz, exceptions, years)

    @property
    def last_known_year(self) -> int | None:
        return max(self.known_years) if self.known_years else None

    def is_known(self, day: date) -> bool:
        return day.year in self.known_years

    def is_workday(self, day: date) -> bool:
        if day in self._exceptions:
            return self._exceptions[day][0]
        return day.weekday() < 5

    def info(self, day: date) -> DayInfo:
        is_work = self.is_workday(day)
        if day in self._exceptions:
            name = self._exceptions[day][1]
        else:
            name = "工作日" if is_work else "周末"
        return DayInfo(day, is_work, name, provisional=not self.is_known(day))

    # -- working-time arithmetic on aware datetimes -------------------------------------------------------

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def start_of_day(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)

    def next_midnight(self, moment: datetime) -> datetime:
        """The start of the local day after ``moment``: where a working-day limit starts counting."""
        return self.start_of_day(self.local_date(moment) + timedelta(days=1))

    # The loops below run on integer microseconds since the epoch, with each local day's start and kind
    # cached: deadlines are computed on every intake and every clock change, so this is a hot path.

    def _day_start(self, ordinal: int) -> int:
        value = self._starts.get(ordinal)
        if value is None:
            moment = datetime.combine(date.fromordinal(ordinal), time(0), tzinfo=self.tz)
            value = self._starts[ordinal] = (moment - _EPOCH) // _MICRO
        return value

    def _day_kind(self, ordinal: int) -> tuple[bool, bool]:
        """(is a working day, is in a known year) of the local day ``ordinal``."""
        value = self._kinds.get(ordinal)
        if value is None:
            day = date.fromordinal(ordinal)
            value = self._kinds[ordinal] = (self.is_workday(day), self.is_known(day))
        return value

    def _ordinal(self, us: int) -> int:
        return (_EPOCH + us * _MICRO).astimezone(self.tz).toordinal()

    def working_seconds(self, start: datetime, end: datetime) -> tuple[int, bool]:
        """Seconds of [start, end) that fall on working days, and whether an unknown year was crossed."""
        if end <= start:
            return 0, False
        total, provisional = 0, False
        cursor, stop = (start - _EPOCH) // _MICRO, (end - _EPOCH) // _MICRO
        ordinal = self._ordinal(cursor)
        while cursor < stop:
            segment_end = min(self._day_start(ordinal + 1), stop)
            workday, known = self._day_kind(ordinal)
            provisional = provisional or not known
            if workday:
                total += (segment_end - cursor) // 1_000_000
            cursor = segment_end
            ordinal += 1
        return total, provisional

    def add_working_seconds(self, start: datetime, seconds: int) -> tuple[datetime, bool]:
        """The moment when ``seconds`` of working time have passed after ``start``; and whether provisional."""
        cursor = (start - _EPOCH) // _MICRO
        ordinal = self._ordinal(cursor)
        remaining = seconds
        provisional = False
        for _ in range(3660):  # ten years of days: a hard stop for absurd inputs
            workday, known = self._day_kind(ordinal)
            provisional = provisional or not known
            day_end = self._day_start(ordinal + 1)
            if workday:
                available = (day_end - cursor) // 1_000_000
                if remaining <= available:
                    return _EPOCH + (cursor + remaining * 1_000_000) * _MICRO, provisional
                remaining -= available
            cursor = day_end
            ordinal += 1
        raise ValueError("working-time addition ran past ten years")

    def add_workdays(self, day: date, n: int) -> date:
        """The n-th working day after ``day`` (``day`` itself does not count; n ≥ 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        current = day
        while n:
            current += timedelta(days=1)
            if self.is_workday(current):
                n -= 1
        return current

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in (start, end]."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_workday(current):
                count += 1
        return count
