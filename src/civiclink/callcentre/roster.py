"""四班三运转: the call centre's four-team, three-shift rotation for a month, sized from the staffing need
(issue 7 part 5; R-606 7×24 receiving, R-807 the seed's shift pattern; anchors §6.3 "coverage gap per interval").

**Shifts** (local time, one calendar day each): 夜班 00:00–08:00, 早班 08:00–16:00, 中班 16:00–24:00. Every day
all three are worked, one by each of three teams, and the fourth team rests.

**Rotation.** Each team follows the same 8-day cycle, two days of each shift and then two days off::

    夜 夜 早 早 中 中 休 休

and team B runs 2 days behind A, C 2 behind B, D 2 behind C. On any day the four teams therefore stand in four
different pairs of the cycle: one on each shift, one resting. The order is a forward rotation (night → early →
middle) because the night shift belongs to the calendar day it is worked in: a team leaving 中班 at 24:00 would
otherwise start 夜班 at 00:00 the same instant. With this order the shortest rest between two shifts is 16 hours
(between two days of the same shift), a change of shift gives 24 hours, and the 2 days off after 中班 give 48
hours before the next 夜班. (The often-quoted "早早中中夜夜休休" is the same rotation when the 00:00–08:00 shift is
counted as the night of the day before.) Over a cycle a team works 6 shifts of 8 hours, 42 hours a week.

**Epoch.** The cycle is counted from a fixed date, ``ROTATION_EPOCH`` (2024-01-01, team A's first night), not
from the first of each month, so consecutive months join up and any month of any year can be generated alone.

**Sizing.** Because every team works every shift in turn, each team must be able to staff the busiest half hour
of the day: team size = max over the shifts of the peak scheduled need in that shift's half hours (the
``scheduled`` headcount from ``staffing.staffing_plan``, i.e. after shrinkage). An emergency standby pool
(应急梯队) of a given size, or a share of the shift teams' headcount, is added on top; it is not on duty in the
roster. ``shortfall`` compares the roster with a need per half hour (for instance when a team is short of
people, or the need of one day exceeds what the teams were sized for), so a chart can show where it falls short.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from numbers import Real

HALF_HOURS_PER_DAY = 48
SHIFT_HOURS = 8
TEAMS = ("A", "B", "C", "D")
ROTATION_EPOCH = date(2024, 1, 1)  # team A's first 夜班; every roster counts the cycle from here
TEAM_OFFSET_DAYS = 2  # team B runs 2 days behind A, C behind B, D behind C
_ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class Shift:
    """One eight-hour shift of a calendar day."""

    code: str
    name: str
    start_hour: int
    hours: int = SHIFT_HOURS

    def starts(self, day: date) -> datetime:
        return datetime.combine(day, time(self.start_hour))

    def ends(self, day: date) -> datetime:
        return self.starts(day) + timedelta(hours=self.hours)

    @property
    def half_hours(self) -> range:
        """Indexes (0–47) of the day's half hours this shift covers."""
        return range(self.start_hour * 2, (self.start_hour + self.hours) * 2)

    @property
    def clock(self) -> str:
        """Clock times, e.g. "16:00–24:00"."""
        return f"{self.start_hour:02d}:00–{self.start_hour + self.hours:02d}:00"


NIGHT = Shift("night", "夜班", 0)
EARLY = Shift("early", "早班", 8)
MIDDLE = Shift("middle", "中班", 16)
SHIFTS = (NIGHT, EARLY, MIDDLE)  # in clock order; together they cover 00:00–24:00 once
ROTATION: tuple[Shift | None, ...] = (NIGHT, NIGHT, EARLY, EARLY, MIDDLE, MIDDLE, None, None)  # None: 休
CYCLE_DAYS = len(ROTATION)


def _team(team: str) -> int:
    if team not in TEAMS:
        raise ValueError(f"team must be one of {', '.join(TEAMS)}, got {team!r}")
    return TEAMS.index(team)


def shift_of(team: str, day: date, epoch: date = ROTATION_EPOCH) -> Shift | None:
    """The shift ``team`` works on ``day`` (None: a rest day), by its place in the 8-day cycle."""
    position = ((day - epoch).days - TEAM_OFFSET_DAYS * _team(team)) % CYCLE_DAYS
    return ROTATION[position]


def shift_at(half_hour: int) -> Shift:
    """The shift covering half hour ``half_hour`` (0 = 00:00–00:30 … 47 = 23:30–24:00)."""
    if (
        isinstance(half_hour, bool)
        or not isinstance(half_hour, int)
        or not 0 <= half_hour < HALF_HOURS_PER_DAY
    ):
        raise ValueError(
            f"half_hour must be a whole number from 0 to {HALF_HOURS_PER_DAY - 1}, got {half_hour!r}"
        )
    return SHIFTS[half_hour // (SHIFT_HOURS * 2)]


# --------------------------------------------------------------------------------------------- need


NeedPerHalfHour = Sequence[float] | Mapping[date, Sequence[float]]
"""48 values for every day alike, or 48 values per date."""


def _day_profile(values: object, where: str) -> tuple[float, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise TypeError(f"need {where} must be a sequence of {HALF_HOURS_PER_DAY} numbers")
    if len(values) != HALF_HOURS_PER_DAY:
        raise ValueError(f"need {where} must have {HALF_HOURS_PER_DAY} half-hour values, got {len(values)}")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value < 0:
            raise ValueError(f"need {where} must be finite numbers ≥ 0, got {value!r}")
    return tuple(values)


def _profiles(need: NeedPerHalfHour) -> dict[date, tuple[float, ...]] | tuple[float, ...]:
    if isinstance(need, Mapping):
        if not need:
            raise ValueError("need per date is empty")
        return {day: _day_profile(values, f"for {day.isoformat()}") for day, values in need.items()}
    return _day_profile(need, "per half hour")


# --------------------------------------------------------------------------------------------- sizing


@dataclass(frozen=True)
class TeamSizing:
    """How many people each of the four teams needs, and the standby pool (应急梯队) on top."""

    team_size: int
    standby: int
    peak_by_shift: Mapping[str, float]  # shift code → the largest need in that shift's half hours

    @property
    def headcount(self) -> int:
        return len(TEAMS) * self.team_size + self.standby


def size_teams(
    need_per_half_hour: NeedPerHalfHour, standby: int = 0, standby_share: float | None = None
) -> TeamSizing:
    """Team size from the scheduled need per half hour: the peak over each shift's half hours, the largest of
    the three (every team works every shift in turn), rounded up. ``standby`` people, or ``standby_share`` of the
    four teams' headcount rounded up, form the 应急梯队.
    """
    profiles = _profiles(need_per_half_hour)
    days = list(profiles.values()) if isinstance(profiles, dict) else [profiles]
    peak_by_shift = {
        shift.code: max(profile[index] for profile in days for index in shift.half_hours) for shift in SHIFTS
    }
    team_size = math.ceil(max(peak_by_shift.values()) - _ROUNDING_SLACK)
    if standby_share is not None:
        if standby:
            raise ValueError("give either standby (people) or standby_share (a share), not both")
        if (
            isinstance(standby_share, bool)
            or not isinstance(standby_share, Real)
            or not 0 <= standby_share <= 1
        ):
            raise ValueError(f"standby_share must be a number from 0 to 1, got {standby_share!r}")
        standby = math.ceil(standby_share * len(TEAMS) * team_size - _ROUNDING_SLACK)
    elif isinstance(standby, bool) or not isinstance(standby, int) or standby < 0:
        raise ValueError(f"standby must be a whole number ≥ 0, got {standby!r}")
    return TeamSizing(team_size=team_size, standby=standby, peak_by_shift=peak_by_shift)


# --------------------------------------------------------------------------------------------- roster


@dataclass(frozen=True)
class ShiftAssignment:
    """One team on one shift of one day."""

    day: date
    shift: Shift
    team: str
    members: int

    @property
    def starts(self) -> datetime:
        return self.shift.starts(self.day)

    @property
    def ends(self) -> datetime:
        return self.shift.ends(self.day)

    @property
    def hours(self) -> int:
        return self.shift.hours


@dataclass(frozen=True)
class Roster:
    """A month of 四班三运转: three assignments per day in clock order (夜, 早, 中), one team resting."""

    year: int
    month: int
    team_sizes: Mapping[str, int]
    standby: int
    epoch: date
    assignments: tuple[ShiftAssignment, ...]

    @property
    def days(self) -> list[date]:
        return [self.assignments[index].day for index in range(0, len(self.assignments), len(SHIFTS))]

    @property
    def headcount(self) -> int:
        """Everybody the roster needs: the four teams and the standby pool."""
        return sum(self.team_sizes.values()) + self.standby

    def on_day(self, day: date) -> tuple[ShiftAssignment, ...]:
        """The day's three assignments in clock order."""
        offset = (day - date(self.year, self.month, 1)).days
        if not 0 <= offset < len(self.assignments) // len(SHIFTS):
            raise ValueError(f"{day.isoformat()} is not in the roster's month {self.year}-{self.month:02d}")
        return self.assignments[offset * len(SHIFTS) : (offset + 1) * len(SHIFTS)]

    def resting_team(self, day: date) -> str:
        working = {assignment.team for assignment in self.on_day(day)}
        (resting,) = set(TEAMS) - working
        return resting

    def on_duty(self, day: date, half_hour: int) -> int:
        """People on the phones' shift during half hour ``half_hour`` of ``day`` (standby not counted)."""
        shift = shift_at(half_hour)
        return next(a.members for a in self.on_day(day) if a.shift == shift)

    def schedule_of(self, team: str) -> list[tuple[date, Shift | None]]:
        """``team``'s month, day by day: the shift it works, or None on a rest day."""
        _team(team)
        by_day = {a.day: a.shift for a in self.assignments if a.team == team}
        return [(day, by_day.get(day)) for day in self.days]

    def hours_by_team(self) -> dict[str, int]:
        """Hours each team works in the month (per member)."""
        hours = dict.fromkeys(TEAMS, 0)
        for assignment in self.assignments:
            hours[assignment.team] += assignment.hours
        return hours

    def to_rows(self, include_rest: bool = False) -> list[dict[str, object]]:
        """One flat row per shift (for the Excel export): date, weekday, shift code and name, clock times, team,
        members, hours per member and member-hours. ``include_rest`` adds a row per day for the resting team
        (shift "rest", 休息, no hours)."""
        rows: list[dict[str, object]] = []
        for day in self.days:
            for assignment in self.on_day(day):
                rows.append(
                    {
                        "date": day,
                        "weekday": day.isoweekday(),
                        "shift": assignment.shift.code,
                        "shift_name": assignment.shift.name,
                        "start": assignment.starts,
                        "end": assignment.ends,
                        "team": assignment.team,
                        "members": assignment.members,
                        "hours": assignment.hours,
                        "member_hours": assignment.members * assignment.hours,
                    }
                )
            if include_rest:
                team = self.resting_team(day)
                rows.append(
                    {
                        "date": day,
                        "weekday": day.isoweekday(),
                        "shift": "rest",
                        "shift_name": "休息",
                        "start": None,
                        "end": None,
                        "team": team,
                        "members": self.team_sizes[team],
                        "hours": 0,
                        "member_hours": 0,
                    }
                )
        return rows


def _month(year: int, month: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise ValueError(f"year must be a whole number from 1 to 9999, got {year!r}")
    if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
        raise ValueError(f"month must be a whole number from 1 to 12, got {month!r}")


def _team_sizes(team_size: int | Mapping[str, int]) -> dict[str, int]:
    if isinstance(team_size, Mapping):
        if set(team_size) != set(TEAMS):
            raise ValueError(
                f"team sizes must name exactly the teams {', '.join(TEAMS)}, got {sorted(team_size)}"
            )
        sizes = {team: team_size[team] for team in TEAMS}
    else:
        sizes = dict.fromkeys(TEAMS, team_size)
    for team, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"team {team}'s size must be a whole number ≥ 0, got {size!r}")
    return sizes


def build_roster(
    year: int,
    month: int,
    team_size: int | Mapping[str, int],
    standby: int = 0,
    epoch: date = ROTATION_EPOCH,
) -> Roster:
    """The month's 四班三运转 roster. ``team_size`` is one size for all teams or one per team (e.g. a team
    with people on leave); ``standby`` is the 应急梯队, kept off the shifts."""
    _month(year, month)
    sizes = _team_sizes(team_size)
    if isinstance(standby, bool) or not isinstance(standby, int) or standby < 0:
        raise ValueError(f"standby must be a whole number ≥ 0, got {standby!r}")
    assignments = []
    for day_number in range(1, calendar.monthrange(year, month)[1] + 1):
        day = date(year, month, day_number)
        team_by_shift = {shift_of(team, day, epoch): team for team in TEAMS}
        assignments.extend(
            ShiftAssignment(day, shift, team_by_shift[shift], sizes[team_by_shift[shift]]) for shift in SHIFTS
        )
    return Roster(year, month, sizes, standby, epoch, tuple(assignments))


def roster_for_need(
    year: int,
    month: int,
    need_per_half_hour: NeedPerHalfHour,
    standby: int = 0,
    standby_share: float | None = None,
    epoch: date = ROTATION_EPOCH,
) -> Roster:
    """``size_teams`` then ``build_roster``: the month's roster with teams sized for the need."""
    sizing = size_teams(need_per_half_hour, standby=standby, standby_share=standby_share)
    return build_roster(year, month, sizing.team_size, standby=sizing.standby, epoch=epoch)


# --------------------------------------------------------------------------------------------- shortfall


@dataclass(frozen=True)
class IntervalGap:
    """One half hour: the need, the people on the shift, and ``gap = on_duty − need`` (negative: short)."""

    day: date
    half_hour: int
    starts: datetime
    shift: str
    team: str
    need: float
    on_duty: int
    gap: float


def shortfall(roster: Roster, need_per_half_hour: NeedPerHalfHour) -> list[IntervalGap]:
    """Need against on-duty people for every half hour of the roster's month (anchors §6.3 coverage gap).

    ``need_per_half_hour`` is 48 values for every day, or 48 per date covering every day of the month.
    """
    profiles = _profiles(need_per_half_hour)
    gaps = []
    for day in roster.days:
        if isinstance(profiles, dict):
            if day not in profiles:
                raise ValueError(f"need has no values for {day.isoformat()}")
            profile = profiles[day]
        else:
            profile = profiles
        for assignment in roster.on_day(day):
            for half_hour in assignment.shift.half_hours:
                need = profile[half_hour]
                gaps.append(
                    IntervalGap(
                        day=day,
                        half_hour=half_hour,
                        starts=datetime.combine(day, time()) + timedelta(minutes=30 * half_hour),
                        shift=assignment.shift.code,
                        team=assignment.team,
                        need=need,
                        on_duty=assignment.members,
                        gap=assignment.members - need,
                    )
                )
    return gaps
