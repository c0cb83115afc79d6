"""四班三运转 roster: coverage and rest invariants, month and year joins, leap Februaries, sizing from the
staffing need, and the shortfall per half hour on a hand-built need."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest

from civiclink.callcentre.roster import (
    EARLY,
    HALF_HOURS_PER_DAY,
    MIDDLE,
    NIGHT,
    ROTATION,
    ROTATION_EPOCH,
    SHIFTS,
    TEAMS,
    build_roster,
    roster_for_need,
    shift_at,
    shift_of,
    shortfall,
    size_teams,
)
from civiclink.callcentre.staffing import staffing_plan

MONTHS = [
    (2023, 11),
    (2023, 12),
    (2024, 1),
    (2024, 2),
    (2024, 3),
    (2024, 12),
    (2025, 1),
    (2023, 2),
    (2100, 2),
]


def _months(first: tuple[int, int], count: int) -> list[tuple[int, int]]:
    year, month = first
    result = []
    for _ in range(count):
        result.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return result


def _team_shifts(team: str, months: list[tuple[int, int]]) -> list[tuple[date, object]]:
    """A team's days across consecutive months, each month built on its own."""
    days = []
    for year, month in months:
        days.extend(build_roster(year, month, 1).schedule_of(team))
    return days


def test_the_cycle_and_the_team_offsets():
    codes = [shift.code if shift else "rest" for shift in ROTATION]
    assert codes == ["night", "night", "early", "early", "middle", "middle", "rest", "rest"]
    epoch = ROTATION_EPOCH
    assert [shift_of("A", epoch + timedelta(days=d)) for d in range(8)] == list(ROTATION)
    # B runs 2 days behind A: B's cycle starts on the epoch + 2.
    assert [shift_of("B", epoch + timedelta(days=2 + d)) for d in range(8)] == list(ROTATION)
    assert [shift_of("D", epoch + timedelta(days=6 + d)) for d in range(8)] == list(ROTATION)
    # The epoch's day by hand: A night, D early, C middle, B resting.
    assert [shift_of(team, epoch) for team in TEAMS] == [NIGHT, None, MIDDLE, EARLY]
    # Before the epoch the cycle runs backwards without a seam: 2023-12-31 is A's second rest day.
    assert shift_of("A", date(2023, 12, 31)) is None
    assert shift_of("A", date(2023, 12, 29)) == MIDDLE


@pytest.mark.parametrize(("year", "month"), MONTHS)
def test_every_hour_of_every_day_is_covered_by_exactly_one_team(year, month):
    roster = build_roster(year, month, 7)
    assert roster.days[0] == date(year, month, 1)
    for day in roster.days:
        assignments = roster.on_day(day)
        assert [a.shift for a in assignments] == list(SHIFTS)
        # 00:00 → 08:00 → 16:00 → 24:00 without gap or overlap.
        assert assignments[0].starts == datetime(day.year, day.month, day.day)
        for before, after in pairwise(assignments):
            assert before.ends == after.starts
        assert assignments[-1].ends == datetime(day.year, day.month, day.day) + timedelta(hours=24)
        teams = [a.team for a in assignments]
        assert len(set(teams)) == 3  # nobody on two shifts at once or two shifts a day
        assert sorted([*teams, roster.resting_team(day)]) == list(TEAMS)
        for half_hour in range(HALF_HOURS_PER_DAY):
            assert roster.on_duty(day, half_hour) == 7


@pytest.mark.parametrize(("year", "days"), [(2024, 29), (2000, 29), (2023, 28), (2100, 28)])
def test_february(year, days):
    roster = build_roster(year, 2, 5)
    assert len(roster.days) == days
    assert len(roster.assignments) == 3 * days
    assert roster.days[-1] == date(year, 2, days)


def test_months_join_up_and_continue_the_rotation():
    # Team A from 2024-01-29 (day 28 of the epoch, cycle position 4) to 2024-02-04 by hand: middle, middle,
    # rest, (February) rest, night, night, early.
    january_and_february = dict(_team_shifts("A", [(2024, 1), (2024, 2)]))
    assert [january_and_february[date(2024, 1, 29) + timedelta(days=d)] for d in range(7)] == [
        MIDDLE,
        MIDDLE,
        None,
        None,
        NIGHT,
        NIGHT,
        EARLY,
    ]
    for team in TEAMS:
        # Across a year end and a leap February, each month built alone, the days follow the cycle.
        days = _team_shifts(team, _months((2023, 11), 6))
        positions = [((day - ROTATION_EPOCH).days - 2 * TEAMS.index(team)) % 8 for day, _ in days]
        assert [shift for _, shift in days] == [ROTATION[p] for p in positions]
        assert all((b - a) % 8 == 1 for a, b in pairwise(positions))


def test_rest_between_shifts_and_rest_days():
    months = _months((2023, 12), 5)  # December → April, through a year end and 29 February 2024
    for team in TEAMS:
        days = _team_shifts(team, months)
        worked = [(shift.starts(day), shift.ends(day)) for day, shift in days if shift is not None]
        rests = {
            int((start - previous_end).total_seconds() // 3600)
            for (_, previous_end), (start, _) in pairwise(worked)
        }
        # 16 h between two days of the same shift, 24 h at a change of shift, 48 h over the two days off.
        assert rests == {16, 24, 48}
        rest_days = [day for day, shift in days if shift is None]
        # In every window of 8 consecutive days exactly 2 are rest days, and they are consecutive.
        for start in range(len(days) - 7):
            window = [shift is None for _, shift in days[start : start + 8]]
            assert window.count(True) == 2
            first = window.index(True)
            assert window[first + 1] or (first == 0 and window[7])  # side by side, or split by the window
        # Rest days come in runs of exactly 2, starting 8 days apart (runs cut by the range's ends left out).
        runs: list[list[date]] = []
        for day in rest_days:
            if runs and day - runs[-1][-1] == timedelta(days=1):
                runs[-1].append(day)
            else:
                runs.append([day])
        inner = [run for run in runs if days[0][0] not in run and days[-1][0] not in run]
        assert len(inner) >= 16
        assert {len(run) for run in inner} == {2}
        assert {(b[0] - a[0]).days for a, b in pairwise(inner)} == {8}


def test_hours_by_team_in_january_2024():
    # From the epoch: A works 24 of the 31 days, B, C and D 23 each (worked out from their cycle positions).
    roster = build_roster(2024, 1, 10)
    assert roster.hours_by_team() == {"A": 192, "B": 184, "C": 184, "D": 184}
    assert sum(roster.hours_by_team().values()) == 31 * 24


def test_to_rows_for_the_excel_export():
    roster = build_roster(2024, 1, {"A": 5, "B": 6, "C": 3, "D": 5}, standby=4)
    rows = roster.to_rows()
    assert len(rows) == 31 * 3
    assert rows[0] == {
        "date": date(2024, 1, 1),
        "weekday": 1,
        "shift": "night",
        "shift_name": "夜班",
        "start": datetime(2024, 1, 1, 0, 0),
        "end": datetime(2024, 1, 1, 8, 0),
        "team": "A",
        "members": 5,
        "hours": 8,
        "member_hours": 40,
    }
    assert (rows[2]["shift_name"], rows[2]["team"], rows[2]["members"], rows[2]["end"]) == (
        "中班",
        "C",
        3,
        datetime(2024, 1, 2, 0, 0),
    )
    hours = roster.hours_by_team()
    assert sum(row["member_hours"] for row in rows) == sum(hours[t] * roster.team_sizes[t] for t in TEAMS)
    with_rest = roster.to_rows(include_rest=True)
    assert len(with_rest) == 31 * 4
    assert with_rest[3] == {
        "date": date(2024, 1, 1),
        "weekday": 1,
        "shift": "rest",
        "shift_name": "休息",
        "start": None,
        "end": None,
        "team": "B",
        "members": 6,
        "hours": 0,
        "member_hours": 0,
    }
    assert roster.headcount == 5 + 6 + 3 + 5 + 4


def _profile(night: int, early: int, middle: int) -> list[int]:
    return [night] * 16 + [early] * 16 + [middle] * 16


def test_size_teams_takes_the_peak_of_every_shift():
    need = _profile(3, 10, 8)
    need[5], need[20], need[40] = 4, 12, 9  # 02:30, 10:00, 20:00
    sizing = size_teams(need, standby_share=0.1)
    assert sizing.peak_by_shift == {"night": 4, "early": 12, "middle": 9}
    assert sizing.team_size == 12
    assert sizing.standby == 5  # ceil(0.1 × 48)
    assert sizing.headcount == 53
    assert size_teams(need, standby=2).standby == 2
    assert size_teams([11.2] * 48).team_size == 12
    # Per date: the busiest date decides.
    by_date = {date(2024, 1, 1): _profile(3, 10, 8), date(2024, 1, 2): _profile(14, 10, 8)}
    assert size_teams(by_date).team_size == 14
    assert size_teams(by_date).peak_by_shift["night"] == 14


def test_shortfall_on_a_hand_built_need():
    # Night 2, early 5 except 6 at 10:00, middle 4; team C is 2 people short.
    need = _profile(2, 5, 4)
    need[20] = 6
    roster = build_roster(2024, 1, {"A": 5, "B": 5, "C": 3, "D": 5})
    gaps = shortfall(roster, need)
    assert len(gaps) == 31 * HALF_HOURS_PER_DAY
    first_day = [g for g in gaps if g.day == date(2024, 1, 1)]  # A night, D early, C middle
    assert [g.half_hour for g in first_day] == list(range(48))
    assert {(g.team, g.need, g.on_duty, g.gap) for g in first_day[:16]} == {("A", 2, 5, 3)}
    assert [g.gap for g in first_day[16:32]] == [0] * 4 + [-1] + [0] * 11
    assert first_day[20].starts == datetime(2024, 1, 1, 10, 0)
    assert {(g.shift, g.team, g.gap) for g in first_day[32:]} == {("middle", "C", -1)}
    # 2024-01-07: C on the early shift, 3 people for a need of 6 at 10:00.
    worst = min(gaps, key=lambda g: g.gap)
    assert (worst.day, worst.half_hour, worst.team, worst.need, worst.on_duty, worst.gap) == (
        date(2024, 1, 7),
        20,
        "C",
        6,
        3,
        -3,
    )
    # Short: every early or middle half hour of C (7 early days + 8 middle days in January) and 10:00 on the
    # 24 other days' early shift.
    assert sum(g.gap < 0 for g in gaps) == 16 * (7 + 8) + 24
    assert sum(g.gap for g in gaps if g.gap < 0) == -(2 * 16 * 7 + 1 * 7 + 1 * 16 * 8 + 24)


def test_shortfall_with_a_need_per_date():
    days = [date(2024, 2, 1) + timedelta(days=d) for d in range(29)]
    need = {day: _profile(2, 4, 4) for day in days}
    need[date(2024, 2, 14)] = _profile(2, 9, 4)
    roster = build_roster(2024, 2, 5)
    short = [g for g in shortfall(roster, need) if g.gap < 0]
    assert {(g.day, g.shift, g.gap) for g in short} == {(date(2024, 2, 14), "early", -4)}
    assert len(short) == 16
    del need[date(2024, 2, 29)]
    with pytest.raises(ValueError, match="no values for 2024-02-29"):
        shortfall(roster, need)


def test_roster_sized_from_the_staffing_plan_has_no_gap():
    calls = [20] * 14 + [60] * 4 + [140] * 8 + [100] * 10 + [80] * 8 + [30] * 4  # 48 half hours
    plan = staffing_plan(calls, 180, 0.8, 15)
    scheduled = [result.scheduled for result in plan]
    roster = roster_for_need(2024, 3, scheduled, standby_share=0.1)
    assert set(roster.team_sizes.values()) == {max(scheduled)}
    assert roster.standby == -(-4 * max(scheduled) // 10)
    gaps = shortfall(roster, scheduled)
    assert min(g.gap for g in gaps) == 0
    assert sum(g.gap == 0 for g in gaps) == 31 * 8  # the 140-call half hours are covered exactly


def test_shift_at():
    assert [shift_at(h) for h in (0, 15, 16, 31, 32, 47)] == [NIGHT, NIGHT, EARLY, EARLY, MIDDLE, MIDDLE]
    assert [MIDDLE.clock, NIGHT.clock] == ["16:00–24:00", "00:00–08:00"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_roster(2024, 13, 5), "month must be a whole number from 1 to 12"),
        (lambda: build_roster(0, 1, 5), "year must be a whole number"),
        (lambda: build_roster(2024, 1, -1), "team A's size must be a whole number"),
        (lambda: build_roster(2024, 1, {"A": 5, "B": 5, "C": 5}), "must name exactly the teams A, B, C, D"),
        (lambda: build_roster(2024, 1, 5, standby=-2), "standby must be a whole number"),
        (lambda: shift_of("E", date(2024, 1, 1)), "team must be one of A, B, C, D"),
        (lambda: shift_at(48), "half_hour must be a whole number from 0 to 47"),
        (lambda: size_teams([1] * 47), "must have 48 half-hour values, got 47"),
        (lambda: size_teams([1] * 47 + [-1]), "finite numbers ≥ 0"),
        (lambda: size_teams([1] * 48, standby=2, standby_share=0.1), "either standby"),
        (lambda: size_teams([1] * 48, standby_share=1.5), "standby_share must be a number from 0 to 1"),
        (lambda: build_roster(2024, 1, 5).on_day(date(2024, 2, 1)), "not in the roster's month 2024-01"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
