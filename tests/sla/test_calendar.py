"""The working-day calendar: 春节 and 国庆 with their 调休 make-up days in 2023–2026, cross-checks against
``chinesecalendar`` and ``holidays``, working-time arithmetic, years nobody has published yet, and importing
a year (service, API and CLI).

The 2027 schedule below is MADE UP for these tests. It is not, and does not pretend to be, the official one.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from civiclink.audit.models import AuditEvent
from civiclink.cache import read_revision
from civiclink.errors import Forbidden, Invalid
from civiclink.sla.calendar import DayInfo, WorkCalendar
from civiclink.sla.models import CalendarDay, CalendarYear
from civiclink.sla.service import CALENDAR_REVISION, do_import_calendar, load_calendar, parse_calendar_csv

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.official(TZ)
IMPORTED_AT = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)

# A made-up 2027 schedule, for tests only (NOT the official one): 2027-01-01 (a Friday) off,
# 2027-01-09 (a Saturday) a make-up workday.
FAKE_2027_CSV = (
    "date,type,name\n"
    "2027-01-01,休,测试用假日（非官方）\n"
    "2027-01-09,班,测试用调休上班（非官方）\n"
)
# A second made-up version of 2027, to show that a re-import replaces the first one.
FAKE_2027_CSV_V2 = "date,type,name\n2027-01-04,holiday,测试用假日二（非官方）\n"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ)


def days(start: date, end: date):
    """Every day of [start, end]."""
    d = start
    while d <= end:
        yield d
        d += timedelta(days=1)


# -- 春节 and 国庆, 2023–2026 ------------------------------------------------------------------------------------

# Every day in the windows around 春节 (Jan 15 – Feb 28) and 国庆 (Sep 15 – Oct 20) where the official
# schedule departs from "Monday to Friday": weekday holidays (False) and weekend make-up workdays (True).
# Written out by hand from the State Council's notices.
EXCEPTIONS = {
    2023: {
        # 春节: 1-21..1-27 off; Sat 1-28 and Sun 1-29 are make-up workdays.
        **{date(2023, 1, d): False for d in (23, 24, 25, 26, 27)},
        date(2023, 1, 28): True, date(2023, 1, 29): True,
        # 中秋国庆: 9-29..10-06 off; Sat 10-07 and Sun 10-08 at work.
        date(2023, 9, 29): False, **{date(2023, 10, d): False for d in (2, 3, 4, 5, 6)},
        date(2023, 10, 7): True, date(2023, 10, 8): True,
    },
    2024: {
        # 春节: 2-10..2-17 off; Sun 2-04 and Sun 2-18 at work; 除夕 2-09 (Fri) is an ordinary workday.
        date(2024, 2, 4): True, **{date(2024, 2, d): False for d in (12, 13, 14, 15, 16)},
        date(2024, 2, 18): True,
        # 中秋: 9-15..9-17 off (Sat 9-14 at work, outside the window); 国庆: 10-01..10-07 off; Sun 9-29 and
        # Sat 10-12 at work.
        date(2024, 9, 16): False, date(2024, 9, 17): False,
        date(2024, 9, 29): True, **{date(2024, 10, d): False for d in (1, 2, 3, 4, 7)},
        date(2024, 10, 12): True,
    },
    2025: {
        # 春节: 1-28..2-04 off; Sun 1-26 and Sat 2-08 at work.
        date(2025, 1, 26): True, **{date(2025, 1, d): False for d in (28, 29, 30, 31)},
        date(2025, 2, 3): False, date(2025, 2, 4): False, date(2025, 2, 8): True,
        # 国庆中秋: 10-01..10-08 off; Sun 9-28 and Sat 10-11 at work.
        date(2025, 9, 28): True, **{date(2025, 10, d): False for d in (1, 2, 3, 6, 7, 8)},
        date(2025, 10, 11): True,
    },
    2026: {
        # 春节: 2-15..2-23 off; Sat 2-14 and Sat 2-28 at work.
        date(2026, 2, 14): True, **{date(2026, 2, d): False for d in (16, 17, 18, 19, 20, 23)},
        date(2026, 2, 28): True,
        # 中秋 9-25 (Fri) off; 国庆: 10-01..10-07 off; Sun 9-20 and Sat 10-10 at work.
        date(2026, 9, 20): True, date(2026, 9, 25): False,
        **{date(2026, 10, d): False for d in (1, 2, 5, 6, 7)}, date(2026, 10, 10): True,
    },
}

# (start, n, n-th working day after start): deadlines that cross each holiday, counted by hand.
DEADLINES = [
    # 2023 春节
    (date(2023, 1, 19), 1, date(2023, 1, 20)),
    (date(2023, 1, 20), 1, date(2023, 1, 28)),  # the Saturday make-up workday
    (date(2023, 1, 20), 2, date(2023, 1, 29)),  # …and the Sunday one
    (date(2023, 1, 20), 3, date(2023, 1, 30)),
    (date(2023, 1, 20), 5, date(2023, 2, 1)),
    (date(2023, 1, 21), 1, date(2023, 1, 28)),  # starting on a holiday
    (date(2023, 1, 28), 1, date(2023, 1, 29)),  # starting on a make-up Saturday
    # 2023 中秋国庆
    (date(2023, 9, 27), 2, date(2023, 10, 7)),
    (date(2023, 9, 28), 1, date(2023, 10, 7)),
    (date(2023, 9, 28), 3, date(2023, 10, 9)),
    (date(2023, 9, 28), 10, date(2023, 10, 18)),
    # 2024 春节
    (date(2024, 2, 2), 1, date(2024, 2, 4)),
    (date(2024, 2, 8), 2, date(2024, 2, 18)),  # 2-09 (除夕) still counts
    (date(2024, 2, 9), 1, date(2024, 2, 18)),
    (date(2024, 2, 9), 2, date(2024, 2, 19)),
    (date(2024, 2, 9), 5, date(2024, 2, 22)),
    # 2024 国庆
    (date(2024, 9, 27), 1, date(2024, 9, 29)),
    (date(2024, 9, 29), 1, date(2024, 9, 30)),
    (date(2024, 9, 30), 1, date(2024, 10, 8)),
    (date(2024, 9, 30), 5, date(2024, 10, 12)),
    (date(2024, 9, 30), 6, date(2024, 10, 14)),
    # 2025 春节
    (date(2025, 1, 24), 1, date(2025, 1, 26)),
    (date(2025, 1, 27), 1, date(2025, 2, 5)),
    (date(2025, 1, 27), 4, date(2025, 2, 8)),
    (date(2025, 1, 27), 5, date(2025, 2, 10)),
    # 2025 国庆中秋
    (date(2025, 9, 26), 1, date(2025, 9, 28)),
    (date(2025, 9, 30), 1, date(2025, 10, 9)),
    (date(2025, 9, 30), 3, date(2025, 10, 11)),
    (date(2025, 9, 30), 4, date(2025, 10, 13)),
    # 2026 春节
    (date(2026, 2, 13), 1, date(2026, 2, 14)),
    (date(2026, 2, 14), 1, date(2026, 2, 24)),
    (date(2026, 2, 13), 2, date(2026, 2, 24)),
    (date(2026, 2, 13), 5, date(2026, 2, 27)),
    (date(2026, 2, 24), 4, date(2026, 2, 28)),
    # 2026 中秋, 国庆
    (date(2026, 9, 18), 1, date(2026, 9, 20)),
    (date(2026, 9, 24), 1, date(2026, 9, 28)),
    (date(2026, 9, 30), 1, date(2026, 10, 8)),
    (date(2026, 9, 30), 3, date(2026, 10, 10)),
    (date(2026, 9, 30), 4, date(2026, 10, 12)),
]


@pytest.mark.parametrize("year", sorted(EXCEPTIONS))
def test_spring_festival_and_national_day_exceptions(year):
    """Around 春节 and 国庆 the calendar departs from Mon–Fri exactly on the hand-listed days."""
    windows = [(date(year, 1, 15), date(year, 2, 28)), (date(year, 9, 15), date(year, 10, 20))]
    found = {d: CAL.is_workday(d) for a, b in windows for d in days(a, b)
             if CAL.is_workday(d) != (d.weekday() < 5)}
    assert found == EXCEPTIONS[year]


def test_make_up_days_are_named_and_official():
    assert CAL.info(date(2023, 1, 28)) == DayInfo(date(2023, 1, 28), True, "春节调休上班", False)
    assert CAL.info(date(2023, 1, 23)).name == "春节" and not CAL.info(date(2023, 1, 23)).is_workday
    assert CAL.info(date(2023, 10, 7)).name == "国庆节调休上班"
    assert CAL.info(date(2026, 2, 14)).is_workday and CAL.info(date(2026, 2, 14)).name == "春节调休上班"
    assert CAL.info(date(2023, 1, 7)).name == "周末" and not CAL.info(date(2023, 1, 7)).is_workday
    assert CAL.info(date(2024, 2, 9)).name == "工作日"


@pytest.mark.parametrize(("start", "n", "expected"), DEADLINES, ids=[f"{s}+{n}" for s, n, _ in DEADLINES])
def test_add_workdays_across_holidays(start, n, expected):
    assert CAL.add_workdays(start, n) == expected


def test_hand_computed_deadlines_agree_with_both_libraries():
    """The hand-written cases above are themselves right: a naive loop over chinese_calendar.is_workday and
    holidays' get_nth_working_day reach the same days."""
    cn = holidays.China(years=range(2023, 2027))
    for start, n, expected in DEADLINES:
        day, left = start, n
        while left:
            day += timedelta(days=1)
            left -= chinese_calendar.is_workday(day)
        assert day == expected, (start, n)
        assert cn.get_nth_working_day(start, n) == expected, (start, n)
    for exceptions in EXCEPTIONS.values():
        for day, is_work in exceptions.items():
            assert chinese_calendar.is_workday(day) is is_work, day


def test_add_workdays_needs_at_least_one_day():
    with pytest.raises(ValueError):
        CAL.add_workdays(date(2023, 1, 20), 0)


def test_workdays_between_counts_the_half_open_interval():
    assert CAL.workdays_between(date(2023, 1, 20), date(2023, 1, 31)) == 4  # 1-28, 1-29, 1-30, 1-31
    assert CAL.workdays_between(date(2023, 1, 20), date(2023, 1, 27)) == 0
    assert CAL.workdays_between(date(2024, 9, 27), date(2024, 10, 12)) == 7  # 9-29, 9-30, 10-08..10-12
    assert CAL.workdays_between(date(2023, 1, 20), date(2023, 1, 20)) == 0


# -- cross-checks --------------------------------------------------------------------------------------------


def test_agrees_with_chinesecalendar_every_day_2004_to_2026():
    mismatches = [d for d in days(date(2004, 1, 1), date(2026, 12, 31))
                  if CAL.is_workday(d) != chinese_calendar.is_workday(d)]
    assert mismatches == []
    assert CAL.known_years == frozenset(range(2004, 2027))
    assert not any(CAL.info(d).provisional for d in (date(2004, 1, 1), date(2015, 9, 3), date(2026, 12, 31)))


def test_agrees_with_the_holidays_package_2023_to_2026():
    cn = holidays.China(years=range(2023, 2027))
    mismatches = [d for d in days(date(2023, 1, 1), date(2026, 12, 31))
                  if CAL.is_workday(d) != cn.is_working_day(d)]
    assert mismatches == []
    # holidays lists the 调休 make-up days separately: they are exactly our working weekend days.
    ours = {d for d in days(date(2023, 1, 1), date(2026, 12, 31)) if d.weekday() >= 5 and CAL.is_workday(d)}
    theirs = {d for d in cn.weekend_workdays if 2023 <= d.year <= 2026}
    assert ours == theirs and date(2023, 1, 29) in ours and len(ours) == 26


def test_add_workdays_agrees_with_holidays_for_every_start_day():
    cn = holidays.China(years=range(2023, 2027))
    for start in days(date(2023, 1, 1), date(2026, 11, 30)):
        for n in (1, 2, 5, 15):
            assert CAL.add_workdays(start, n) == cn.get_nth_working_day(start, n), (start, n)
    for a, b in [(date(2023, 1, 1), date(2023, 12, 31)), (date(2024, 2, 1), date(2024, 3, 1)),
                 (date(2025, 9, 1), date(2025, 10, 31)), (date(2026, 1, 1), date(2026, 12, 31))]:
        assert CAL.workdays_between(a, b) == cn.get_working_days_count(a + timedelta(days=1), b)


# -- working time --------------------------------------------------------------------------------------------


def test_next_midnight_is_local():
    assert CAL.next_midnight(local(2023, 1, 20, 10)) == local(2023, 1, 21)
    assert CAL.next_midnight(local(2023, 1, 20, 23, 59, 59)) == local(2023, 1, 21)
    assert CAL.next_midnight(local(2023, 1, 20, 0, 0)) == local(2023, 1, 21)
    # 16:30 UTC on the 20th is already 00:30 on the 21st in 南通.
    assert CAL.next_midnight(datetime(2023, 1, 20, 16, 30, tzinfo=UTC)) == local(2023, 1, 22)


def test_working_seconds_skip_the_holiday():
    # Fri 12:00 → Mon 06:00 over 春节: 12 h of Friday, the two make-up days, 6 h of Monday.
    worked = 12 * 3600 + 2 * 86400 + 6 * 3600
    assert CAL.working_seconds(local(2023, 1, 20, 12), local(2023, 1, 30, 6)) == (worked, False)
    assert CAL.working_seconds(local(2023, 1, 21), local(2023, 1, 28)) == (0, False)
    assert CAL.working_seconds(local(2023, 1, 30), local(2023, 1, 20)) == (0, False)
    assert CAL.add_working_seconds(local(2023, 1, 20, 18), 6 * 3600) == (local(2023, 1, 21), False)
    assert CAL.add_working_seconds(local(2023, 1, 20, 18), 6 * 3600 + 1) == (local(2023, 1, 28, 0, 0, 1),
                                                                              False)
    assert CAL.add_working_seconds(local(2023, 1, 21), 86400) == (local(2023, 1, 29), False)


moments = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 6, 30),
                       timezones=st.just(TZ)).map(lambda d: d.replace(microsecond=0))
spans = st.integers(min_value=0, max_value=40 * 86400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=moments, seconds=spans)
def test_add_working_seconds_is_inverse_of_working_seconds(start, seconds):
    end, provisional = CAL.add_working_seconds(start, seconds)
    assert not provisional and end >= start
    assert CAL.working_seconds(start, end) == (seconds, False)
    if seconds:
        # The earliest such moment: one second earlier, one second of working time is missing.
        assert CAL.working_seconds(start, end - timedelta(seconds=1))[0] == seconds - 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=moments, length=spans, cut=st.floats(min_value=0, max_value=1))
def test_working_seconds_then_add_lands_on_or_before_the_end(start, length, cut):
    end = start + timedelta(seconds=length)
    worked, _ = CAL.working_seconds(start, end)
    if worked:
        back, _ = CAL.add_working_seconds(start, worked)
        assert start < back <= end
        assert CAL.working_seconds(back, end)[0] == 0  # nothing but non-working time between them
        if CAL.is_workday(CAL.local_date(end)) and end != CAL.start_of_day(CAL.local_date(end)):
            assert back == end
    middle = start + timedelta(seconds=int(length * cut))
    assert CAL.working_seconds(start, middle)[0] + CAL.working_seconds(middle, end)[0] == worked


# -- years nobody has published ------------------------------------------------------------------------------


def test_2027_is_unknown_weekends_only_and_provisional():
    assert CAL.last_known_year == 2026 and not CAL.is_known(date(2027, 1, 1))
    for d in days(date(2027, 1, 1), date(2027, 12, 31)):
        assert CAL.is_workday(d) == (d.weekday() < 5), d
    info = CAL.info(date(2027, 1, 1))
    assert info.provisional and info.is_workday and info.name == "工作日"
    assert CAL.info(date(2027, 1, 2)).provisional and CAL.info(date(2027, 1, 2)).name == "周末"
    assert CAL.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 1)  # would be 元旦 in any real schedule
    assert CAL.working_seconds(local(2026, 12, 31), local(2027, 1, 2)) == (2 * 86400, True)
    assert CAL.working_seconds(local(2026, 12, 30), local(2026, 12, 31, 12)) == (36 * 3600, False)
    assert CAL.add_working_seconds(local(2026, 12, 31), 86400 + 1) == (local(2027, 1, 1, 0, 0, 1), True)
    assert CAL.add_working_seconds(local(2026, 12, 30), 86400) == (local(2026, 12, 31), False)


def test_years_before_2004_are_unknown_too():
    assert not CAL.is_known(date(2003, 12, 31)) and CAL.info(date(2003, 12, 31)).provisional
    assert CAL.working_seconds(local(2003, 12, 31), local(2004, 1, 2))[1] is True


def test_imported_year_replaces_only_that_year():
    cal = WorkCalendar.official(TZ, {2027: {date(2027, 1, 1): (False, "测试")}, 2026: {}})
    assert not cal.is_workday(date(2027, 1, 1)) and cal.is_known(date(2027, 1, 1))
    assert cal.is_workday(date(2026, 2, 16))  # the built-in 2026 春节 is gone: 2026 was replaced (by nothing)
    # Other years are untouched.
    assert cal.is_workday(date(2023, 1, 28)) and not cal.is_workday(date(2023, 1, 23))


# -- CSV parsing ---------------------------------------------------------------------------------------------


def test_parse_calendar_csv():
    years = parse_calendar_csv("\ufeff" + FAKE_2027_CSV)
    assert years == {2027: {date(2027, 1, 1): (False, "测试用假日（非官方）"),
                            date(2027, 1, 9): (True, "测试用调休上班（非官方）")}}
    assert parse_calendar_csv("date,type\n2027-01-01,holiday\n2027-01-09,WORKDAY\n") == {
        2027: {date(2027, 1, 1): (False, "节假日"), date(2027, 1, 9): (True, "调休上班")}}


@pytest.mark.parametrize(("text", "line"), [
    ("date,type,name\n2027-01-01,休,a\n2027-13-01,休,b\n", 3),   # bad date
    ("date,type,name\n2027/01/01,休,a\n", 2),                  # bad date format
    ("date,type,name\n2027-01-01,休,a\n2027-01-02,maybe,b\n", 3),  # bad type
    ("date,type,name\n2027-01-01,,a\n", 2),                    # missing type
    ("date,type\n2027-01-01,休\n2027-01-04,班\n2027-01-01,班\n", 4),  # duplicate date
], ids=["bad-date", "slashes", "bad-type", "no-type", "duplicate"])
def test_malformed_csv_names_the_line(text, line):
    with pytest.raises(Invalid, match=f"第 {line} 行"):
        parse_calendar_csv(text)


def test_malformed_csv_after_a_blank_line_names_the_physical_line():
    """A blank line is skipped by the CSV reader, but the error must still point at the line in the file."""
    with pytest.raises(Invalid, match="第 4 行"):
        parse_calendar_csv("date,type,name\n2027-01-01,休,a\n\n2027-02-30,休,b\n")


@pytest.mark.parametrize("text", ["date,type,name\n", "date,type\n\n\n", "", "day,kind\n2027-01-01,休\n"],
                         ids=["header-only", "blank-lines", "empty", "wrong-columns"])
def test_csv_without_rows_or_columns_is_invalid(text):
    with pytest.raises(Invalid):
        parse_calendar_csv(text)


# -- importing through the service ---------------------------------------------------------------------------


def calendar_settings(state) -> dict:
    return {"tz": state.settings.tz, "yellow_share": state.settings.sla.yellow_share}


def test_import_2027_makes_it_known_and_changes_answers(session, actors, state):
    before = load_calendar(session, state.settings.tz)
    assert before.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 1)
    revision = read_revision(session, CALENDAR_REVISION)

    assert do_import_calendar(session, parse_calendar_csv(FAKE_2027_CSV), actor=actors["admin"],
                              source="fake-2027.csv", now=IMPORTED_AT, **calendar_settings(state)) == [2027]
    session.flush()
    after = load_calendar(session, state.settings.tz)
    assert after.is_known(date(2027, 6, 1)) and not after.info(date(2027, 1, 1)).provisional
    assert not after.is_workday(date(2027, 1, 1)) and after.is_workday(date(2027, 1, 9))
    assert after.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert after.add_workdays(date(2027, 1, 8), 1) == date(2027, 1, 9)
    assert after.working_seconds(local(2027, 1, 4), local(2027, 1, 5)) == (86400, False)
    assert after.is_workday(date(2026, 2, 14)) and not after.is_workday(date(2026, 2, 16))  # 2026 untouched
    assert read_revision(session, CALENDAR_REVISION) == revision + 1  # every process's snapshot will reload
    session.commit()  # audit events are sealed into the chain at commit
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "calendar.imported")).scalar_one()
    assert event.entity_ref == "2027" and event.data["holidays"] == 1 and event.data["workdays"] == 1


def test_reimport_replaces_the_year(session, actors, state):
    admin = actors["admin"]
    do_import_calendar(session, parse_calendar_csv(FAKE_2027_CSV), actor=admin, source="v1.csv",
                       now=IMPORTED_AT, **calendar_settings(state))
    do_import_calendar(session, parse_calendar_csv(FAKE_2027_CSV_V2), actor=admin, source="v2.csv",
                       now=IMPORTED_AT + timedelta(days=1), **calendar_settings(state))
    session.flush()
    cal = load_calendar(session, state.settings.tz)
    assert cal.is_workday(date(2027, 1, 1)) and not cal.is_workday(date(2027, 1, 9))  # v1 is gone
    assert not cal.is_workday(date(2027, 1, 4))
    assert cal.add_workdays(date(2027, 1, 1), 1) == date(2027, 1, 5)
    assert session.execute(select(func.count()).select_from(CalendarDay)).scalar_one() == 1
    assert session.execute(select(CalendarYear.source)).scalars().all() == ["v2.csv"]


@pytest.mark.parametrize("username", ["operator", "dispatcher", "supervisor", "staff_csgl", "leader"])
def test_only_an_admin_may_import(session, actors, state, username):
    with pytest.raises(Forbidden):
        do_import_calendar(session, parse_calendar_csv(FAKE_2027_CSV), actor=actors[username], source="x.csv",
                           now=IMPORTED_AT, **calendar_settings(state))
    assert session.execute(select(func.count()).select_from(CalendarYear)).scalar_one() == 0
    assert not load_calendar(session, state.settings.tz).is_known(date(2027, 1, 1))


# -- API -----------------------------------------------------------------------------------------------------


def test_api_year_2023(client, auth):
    r = client.get("/api/calendar/2023", headers=auth("operator"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["year"] == 2023 and body["official"] is True
    year = list(days(date(2023, 1, 1), date(2023, 12, 31)))
    assert body["workdays"] == sum(chinese_calendar.is_workday(d) for d in year)
    exceptions = {e["day"]: e for e in body["exceptions"]}
    assert exceptions["2023-01-28"] == {"day": "2023-01-28", "is_workday": True, "name": "春节调休上班",
                                        "provisional": False}
    assert exceptions["2023-01-23"]["is_workday"] is False and exceptions["2023-01-23"]["name"] == "春节"
    assert "2023-01-21" not in exceptions  # a Saturday off is not an exception
    assert "2023-01-20" not in exceptions
    expected = {d.isoformat() for d in days(date(2023, 1, 1), date(2023, 12, 31))
                if chinese_calendar.is_workday(d) != (d.weekday() < 5)}
    assert set(exceptions) == expected


def test_api_unknown_year_and_refusals(client, auth):
    r = client.get("/api/calendar/2027", headers=auth("dispatcher"))
    assert r.status_code == 200
    assert r.json() == {"year": 2027, "official": False, "workdays": 261, "exceptions": []}
    assert client.get("/api/calendar/2023").status_code == 401
    assert client.get("/api/calendar/2003", headers=auth("operator")).status_code == 422


def test_api_deadline_compute(client, auth):
    def compute(start, n):
        r = client.get("/api/calendar/deadline/compute", params={"start": start, "workdays": n},
                       headers=auth("operator"))
        assert r.status_code == 200, r.text
        return r.json()

    assert compute("2023-01-20", 1) == {"start": "2023-01-20", "workdays": 1, "due": "2023-01-28",
                                        "provisional": False}
    assert compute("2024-09-30", 6)["due"] == "2024-10-14"
    assert compute("2026-02-13", 2)["due"] == "2026-02-24"
    assert compute("2026-12-31", 1) == {"start": "2026-12-31", "workdays": 1, "due": "2027-01-01",
                                        "provisional": True}
    bad = client.get("/api/calendar/deadline/compute", params={"start": "2023-01-20", "workdays": 0},
                     headers=auth("operator"))
    assert bad.status_code == 422


def _upload(client, auth, user, text, name="fake-2027.csv"):
    return client.post("/api/calendar/import", headers=auth(user),
                       files={"file": (name, text.encode("utf-8"), "text/csv")})


def test_api_import_as_admin_changes_answers(client, auth):
    deadline = {"start": "2026-12-31", "workdays": 1}
    before = client.get("/api/calendar/deadline/compute", params=deadline, headers=auth("operator")).json()
    assert before["due"] == "2027-01-01" and before["provisional"] is True  # also warms the calendar snapshot

    r = _upload(client, auth, "admin", FAKE_2027_CSV)
    assert r.status_code == 200, r.text
    assert r.json() == {"years": [2027]}

    after = client.get("/api/calendar/deadline/compute", params=deadline, headers=auth("operator")).json()
    assert after == {"start": "2026-12-31", "workdays": 1, "due": "2027-01-04", "provisional": False}
    year = client.get("/api/calendar/2027", headers=auth("operator")).json()
    assert year["official"] is True and year["workdays"] == 261
    assert [(e["day"], e["is_workday"]) for e in year["exceptions"]] == [("2027-01-01", False),
                                                                         ("2027-01-09", True)]

    again = _upload(client, auth, "admin", FAKE_2027_CSV_V2, name="v2.csv")
    assert again.status_code == 200
    year = client.get("/api/calendar/2027", headers=auth("operator")).json()
    assert [(e["day"], e["is_workday"]) for e in year["exceptions"]] == [("2027-01-04", False)]


def test_api_import_refusals(client, auth):
    r = _upload(client, auth, "operator", FAKE_2027_CSV)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert client.get("/api/calendar/2027", headers=auth("operator")).json()["official"] is False
    bad = _upload(client, auth, "admin", "date,type\n2027-01-01,休\n2027-01-32,休\n")
    assert bad.status_code == 422 and "第 3 行" in bad.json()["detail"]
    not_utf8 = client.post("/api/calendar/import", headers=auth("admin"),
                           files={"file": ("gbk.csv", "date,type\n2027-01-01,休\n".encode("gbk"), "text/csv")})
    assert not_utf8.status_code == 422
    assert _upload(client, auth, "admin", "date,type\n").status_code == 422
    assert client.post("/api/calendar/import", files={"file": ("x.csv", b"date,type\n")}).status_code == 401
    assert client.get("/api/calendar/2027", headers=auth("operator")).json()["official"] is False


# -- CLI -----------------------------------------------------------------------------------------------------


def test_cli_show_and_deadline(cli):
    shown = cli("calendar", "show", "2023")
    assert shown.exit_code == 0, shown.output
    assert "官方安排" in shown.stdout and "2023-01-28  班  春节调休上班" in shown.stdout
    assert "2023-01-23  休  春节" in shown.stdout and "2023-01-21" not in shown.stdout
    unknown = cli("calendar", "show", "2027")
    assert unknown.exit_code == 0 and "暂定" in unknown.stdout and "工作日 261 天" in unknown.stdout

    due = cli("calendar", "deadline", "2023-01-20", "1")
    assert due.exit_code == 0 and "2023-01-28" in due.stdout and "暂定" not in due.stdout
    assert "2025-10-13" in cli("calendar", "deadline", "2025-09-30", "4").stdout
    provisional = cli("calendar", "deadline", "2026-12-31", "1")
    assert "2027-01-01（暂定）" in provisional.stdout
    assert cli("calendar", "deadline", "2023/01/20", "1").exit_code == 1
    assert cli("calendar", "deadline", "2023-01-20", "0").exit_code == 1


def test_cli_import(cli, tmp_path):
    csv_file = tmp_path / "fake-2027.csv"
    csv_file.write_text(FAKE_2027_CSV, encoding="utf-8")

    refused = cli("calendar", "import", csv_file, "--as", "operator")
    assert refused.exit_code == 2 and "管理员" in refused.stderr
    assert "暂定" in cli("calendar", "show", "2027").stdout

    done = cli("calendar", "import", csv_file, "--as", "admin")
    assert done.exit_code == 0, done.output
    assert "2027" in done.stdout
    shown = cli("calendar", "show", "2027")
    assert "官方安排" in shown.stdout and "2027-01-01  休" in shown.stdout and "2027-01-09  班" in shown.stdout
    due = cli("calendar", "deadline", "2026-12-31", "1")
    assert "2027-01-04" in due.stdout and "暂定" not in due.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("date,type\n2027-01-01,休\n2027-01-01,班\n", encoding="utf-8")
    failed = cli("calendar", "import", bad, "--as", "admin")
    assert failed.exit_code == 1 and "第 3 行" in failed.stderr
