"""Calls per half hour with weekday and holiday effects (issue 7 part 3): a synthetic hotline with a known
truth — weekday pattern, a double-peaked working day, a 春节 dip, 调休 Saturdays that behave like workdays,
8 % growth a year and Poisson noise with a fixed seed — forecast, backtested against the seasonal-naive
baseline, and fed into the staffing plan; exact small cases by hand; bad input."""

from __future__ import annotations

import itertools
import math
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import pytest

from civiclink.callcentre.forecast import (
    HOLIDAY,
    LUNAR_NEW_YEAR,
    MAKEUP_WORKDAY,
    WEEKEND,
    WORKDAY,
    DayKind,
    backtest,
    chinese_day_kind,
    flatten,
    forecast_calls,
    weekday_day_kind,
)
from civiclink.callcentre.staffing import staffing_plan

# ------------------------------------------------------------------------------------------ the synthetic truth

START, END = date(2023, 1, 1), date(2026, 3, 31)
BASE_CALLS = 2000.0  # an average working day at START
GROWTH_PER_YEAR = 0.08
WEEKDAY_FACTOR = (1.15, 1.05, 1.0, 0.98, 0.95, 0.60, 0.55)  # Monday … Sunday
QUIETEST_SPRING_FESTIVAL = 0.40  # 除夕 and 初一
OTHER_SPRING_FESTIVAL = 0.60
OTHER_HOLIDAY = 0.55
MAKEUP = 1.0  # a 调休 Saturday or Sunday is an average working day
NEW_YEAR_DAY = {
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
}


def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-(((hours - centre) / width) ** 2))


HOURS = np.arange(48) / 2 + 0.25  # the middle of each half hour
WORKDAY_SHAPE = 0.03 + _bump(HOURS, 10.0, 1.5) + 0.8 * _bump(HOURS, 15.0, 1.7)  # morning and afternoon peaks
WORKDAY_SHAPE /= WORKDAY_SHAPE.sum()
REST_DAY_SHAPE = 0.03 + 0.8 * _bump(HOURS, 12.5, 3.5)  # weekends and holidays: one broad midday hump
REST_DAY_SHAPE /= REST_DAY_SHAPE.sum()


def true_factor_and_shape(day: date) -> tuple[float, np.ndarray]:
    """Straight from chinese_calendar and the 初一 dates above, independently of the module's day kinds."""
    is_holiday, name = chinese_calendar.get_holiday_detail(day)
    if is_holiday and name == "Spring Festival":
        quiet = (day - NEW_YEAR_DAY[day.year]).days in (-1, 0)
        return (QUIETEST_SPRING_FESTIVAL if quiet else OTHER_SPRING_FESTIVAL), REST_DAY_SHAPE
    if is_holiday and name is not None:
        return OTHER_HOLIDAY, REST_DAY_SHAPE
    if chinese_calendar.is_workday(day):
        return (MAKEUP if day.weekday() >= 5 else WEEKDAY_FACTOR[day.weekday()]), WORKDAY_SHAPE
    return WEEKDAY_FACTOR[day.weekday()], REST_DAY_SHAPE


def true_expected(day: date) -> np.ndarray:
    """Expected calls in the 48 half hours of ``day``."""
    factor, shape = true_factor_and_shape(day)
    level = BASE_CALLS * (1 + GROWTH_PER_YEAR) ** ((day - START).days / 365.25)
    return level * factor * shape


ALL_DAYS = [START + timedelta(days=i) for i in range((END - START).days + 1)]
EXPECTED = np.array([true_expected(day) for day in ALL_DAYS])
OBSERVED = np.random.default_rng(12345).poisson(EXPECTED)


@lru_cache(maxsize=8)
def history_until(last_day: date) -> dict[datetime, int]:
    """{half-hour start: calls} from START to ``last_day`` inclusive (zeros included)."""
    history = {}
    for index in range((last_day - START).days + 1):
        midnight = datetime.combine(START + timedelta(days=index), time())
        for slot, calls in enumerate(OBSERVED[index].tolist()):
            history[midnight + timedelta(minutes=30 * slot)] = calls
    return history


def expected_total(day: date) -> float:
    return float(EXPECTED[(day - START).days].sum())


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# The 2026 春节 window: history until a week before, forecast three weeks.
SPRING_2026 = days_between(date(2026, 2, 15), date(2026, 2, 23))
HISTORY_END_2026 = date(2026, 2, 8)
WINDOW_2026 = days_between(date(2026, 2, 9), date(2026, 3, 1))


@pytest.fixture(scope="module")
def forecast_2026():
    return {f.date: f for f in forecast_calls(history_until(HISTORY_END_2026), WINDOW_2026)}


# ------------------------------------------------------------------------------------------ day kinds


def test_lunar_new_year_table_matches_the_holidays_packages_lunisolar_calendar():
    chinese = pytest.importorskip("holidays.calendars.chinese")
    calendar = chinese._ChineseLunisolar()
    for year, new_year in LUNAR_NEW_YEAR.items():
        assert calendar.lunar_new_year_date(year)[0] == new_year, year


def test_chinese_calendar_knows_the_2026_spring_festival_and_its_makeup_saturdays():
    spring = [
        d
        for d in days_between(date(2026, 1, 1), date(2026, 3, 31))
        if chinese_calendar.is_holiday(d) and chinese_calendar.get_holiday_detail(d)[1] == "Spring Festival"
    ]
    assert spring == SPRING_2026
    assert chinese_calendar.is_workday(date(2026, 2, 14)) and chinese_calendar.is_workday(date(2026, 2, 28))


def test_day_kinds():
    labels = [chinese_day_kind(d).label for d in days_between(date(2026, 2, 13), date(2026, 2, 18))]
    assert labels == [
        "周五",
        "调休上班",
        "春节第1天（除夕前1天）",
        "春节第2天（除夕）",
        "春节第3天（初一）",
        "春节第4天（初二）",
    ]
    # 春节 days are counted from 初一 whichever day the time off starts on: 2025 started on 除夕, 2024 on 初一.
    assert (
        chinese_day_kind(date(2026, 2, 17)).key
        == chinese_day_kind(date(2024, 2, 10)).key
        == (HOLIDAY, "春节", 0)
    )
    assert chinese_day_kind(date(2025, 1, 28)).label == "春节第1天（除夕）"
    assert chinese_day_kind(date(2024, 2, 9)).label == "周五"  # 2024's 除夕 was officially a working day
    makeup = chinese_day_kind(date(2026, 2, 28))
    assert (makeup.category, makeup.weekday, makeup.label) == (MAKEUP_WORKDAY, 5, "调休上班")
    # 中秋 + 国庆 in one block: named after the holiday with the most days, days counted from the first day off.
    assert chinese_day_kind(date(2023, 9, 29)).label == "国庆节第1天"
    assert chinese_day_kind(date(2025, 10, 6)).label == "国庆节第6天"
    assert chinese_day_kind(date(2026, 1, 1)).label == "元旦第1天"
    assert chinese_day_kind(date(2026, 3, 7)).category == WEEKEND
    beyond = chinese_day_kind(date(2027, 2, 8))  # the package has no 2027 data
    assert (beyond.category, beyond.label, beyond.calendar_covered) == (WORKDAY, "周一", False)


def test_a_day_kind_checks_itself():
    with pytest.raises(ValueError, match="category"):
        DayKind("festival", 0, "x")
    with pytest.raises(ValueError, match="weekday"):
        DayKind(WORKDAY, 7, "x")
    with pytest.raises(ValueError, match="holiday_day"):
        DayKind(HOLIDAY, 0, "x", holiday="春节")


# ------------------------------------------------------------------------------------------ the forecast


def test_spring_festival_2026_is_forecast_from_earlier_spring_festivals(forecast_2026):
    plain = {
        f.date: f
        for f in forecast_calls(history_until(HISTORY_END_2026), SPRING_2026, day_kind=weekday_day_kind)
    }
    for day in SPRING_2026:
        forecast = forecast_2026[day]
        assert forecast.kind.category == HOLIDAY
        assert forecast.total == pytest.approx(expected_total(day), rel=0.15), forecast.label
        if day.weekday() < 5:  # the plain weekday model expects a normal working day
            assert forecast.total < 0.7 * plain[day].total, forecast.label
    # 除夕 and 初一 are the quietest, as in the history.
    quiet = [forecast_2026[date(2026, 2, 16)].total, forecast_2026[date(2026, 2, 17)].total]
    others = [forecast_2026[d].total for d in SPRING_2026 if d not in (date(2026, 2, 16), date(2026, 2, 17))]
    assert max(quiet) < min(others)


def test_makeup_saturdays_are_forecast_like_workdays(forecast_2026):
    ordinary_saturday = forecast_calls(history_until(HISTORY_END_2026), [date(2026, 3, 7)])[0]
    for day in (date(2026, 2, 14), date(2026, 2, 28)):
        forecast = forecast_2026[day]
        assert forecast.label == "调休上班"
        assert forecast.total == pytest.approx(expected_total(day), rel=0.10)
        assert forecast.total > 1.5 * ordinary_saturday.total
        # a working day's shape: the 10:00 peak, not the weekend's midday hump
        assert int(np.argmax(forecast.half_hours)) in (19, 20)
    assert int(np.argmax(ordinary_saturday.half_hours)) in (24, 25)


def test_half_hours_add_up_to_the_total_and_flatten_to_local_half_hours(forecast_2026):
    days = list(forecast_2026.values())
    for day in days:
        assert len(day.half_hours) == 48
        assert min(day.half_hours) >= 0
        assert sum(day.half_hours) == pytest.approx(day.total, rel=1e-12)
    pairs = flatten(days)
    assert len(pairs) == 48 * len(WINDOW_2026)
    assert pairs[0] == (datetime(2026, 2, 9, 0, 0), days[0].half_hours[0])
    assert pairs[21][0] == datetime(2026, 2, 9, 10, 30)
    assert all(b[0] - a[0] == timedelta(minutes=30) for a, b in itertools.pairwise(pairs))


def test_ordinary_days_are_accurate_per_half_hour(forecast_2026):
    march = [d for d in WINDOW_2026 if d >= date(2026, 2, 24) and forecast_2026[d].kind.category == WORKDAY]
    for day in march:
        expected = EXPECTED[(day - START).days]
        forecast = np.array(forecast_2026[day].half_hours)
        assert forecast.sum() == pytest.approx(expected.sum(), rel=0.05)
        assert np.abs(forecast - expected).sum() / expected.sum() < 0.08  # WAPE against the truth


def test_the_80_percent_range_covers_the_truth_on_most_ordinary_days(forecast_2026):
    ordinary = [f for f in forecast_2026.values() if f.kind.category in (WORKDAY, WEEKEND)]
    for forecast in forecast_2026.values():
        assert forecast.total_low < forecast.total < forecast.total_high
    inside = [f.total_low <= OBSERVED[(f.date - START).days].sum() <= f.total_high for f in ordinary]
    assert sum(inside) >= 0.6 * len(inside)


def test_dates_beyond_the_calendar_data_fall_back_to_the_weekday():
    days = days_between(date(2027, 2, 1), date(2027, 2, 14))  # 2027's 春节 (初一 02-06) is not in the package
    forecasts = forecast_calls(history_until(date(2025, 12, 31)), days)
    assert [f.label for f in forecasts[:7]] == ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
    assert not any(f.kind.calendar_covered for f in forecasts)
    monday, saturday = forecasts[0].total, forecasts[5].total
    assert saturday / monday == pytest.approx(WEEKDAY_FACTOR[5] / WEEKDAY_FACTOR[0], rel=0.05)


# ------------------------------------------------------------------------------------------ backtests


def test_backtest_around_spring_festival_beats_the_seasonal_naive_baseline():
    # hold out 2025-01-20 … 2025-02-16: the 调休 Sunday 01-26, 春节 01-28 … 02-04 and the 调休 Saturday 02-08
    result = backtest(history_until(date(2025, 2, 16)), 28)
    assert (result.first_day, result.last_day, result.days) == (date(2025, 1, 20), date(2025, 2, 16), 28)
    print(f"\n春节 2025 backtest: model {result.model}\nbaseline {result.baseline}")
    assert result.model.daily_wape < 0.5 * result.baseline.daily_wape
    assert result.model.half_hour_wape < 0.6 * result.baseline.half_hour_wape
    assert result.model.daily_wape < 0.08
    assert result.model.daily_mape < result.baseline.daily_mape
    assert result.model.half_hour_mape < result.baseline.half_hour_mape


def test_backtest_on_ordinary_weeks_beats_the_baseline_too():
    result = backtest(history_until(date(2025, 11, 30)), 28)  # 2025-11-03 … 11-30: no holiday
    print(f"\nordinary backtest: model {result.model}\nbaseline {result.baseline}")
    assert result.model.daily_wape < result.baseline.daily_wape
    assert result.model.half_hour_wape < result.baseline.half_hour_wape
    assert result.model.daily_wape < 0.05


# ------------------------------------------------------------------------------------------ exact small cases


def _constant_history(first: date, days: int, per_half_hour: dict[int, float]) -> dict[datetime, float]:
    """Each day of the week its own constant calls in every half hour (weekday → calls)."""
    history = {}
    for index in range(days):
        day = first + timedelta(days=index)
        for slot in range(48):
            history[datetime.combine(day, time()) + timedelta(minutes=30 * slot)] = per_half_hour[
                day.weekday()
            ]
    return history


def test_a_noiseless_history_is_forecast_exactly():
    # four weeks from Monday 2024-03-04: 10 calls per half hour Monday–Friday, 5 on Saturday, 4 on Sunday
    calls = {0: 10.0, 1: 10.0, 2: 10.0, 3: 10.0, 4: 10.0, 5: 5.0, 6: 4.0}
    history = _constant_history(date(2024, 3, 4), 28, calls)
    monday, saturday, sunday = forecast_calls(
        history, [date(2024, 4, 1), date(2024, 4, 6), date(2024, 4, 7)], day_kind=weekday_day_kind
    )
    # Factors: Monday–Friday 1; Saturday 0.5 and Sunday 0.4, each shrunk with weight 1 day towards the weekend
    # pool's 0.45 (4 Saturdays: (4·0.5 + 0.45) / 5 = 0.49). The level: the median de-seasonalised day, 480.
    assert monday.total == pytest.approx(480.0)
    assert saturday.total == pytest.approx(480 * (4 * 0.5 + 0.45) / 5)
    assert sunday.total == pytest.approx(480 * (4 * 0.4 + 0.45) / 5)
    assert monday.half_hours == pytest.approx([10.0] * 48)
    assert monday.total_low is None  # 28 days are too few for a range


def test_a_holiday_seen_once_is_shrunk_towards_the_weekend_by_hand():
    # A site calendar with one 城市节 a year; the history holds it once, on Wednesday 2024-03-13, at 40 % of a
    # working day. Weekends are exactly half a working day. Whole-holiday factor: (1·0.4 + 1·0.5) / (1 + 1)
    # = 0.45; the day itself: (1·0.4 + 0.5·0.45) / 1.5 = 0.41667. A holiday never seen gets the weekend's 0.5.
    calls = {0: 10.0, 1: 10.0, 2: 10.0, 3: 10.0, 4: 10.0, 5: 5.0, 6: 5.0}
    history = _constant_history(date(2024, 3, 4), 28, calls)
    for slot in range(48):
        history[datetime(2024, 3, 13) + timedelta(minutes=30 * slot)] = 4.0

    def site_calendar(day: date) -> DayKind:
        if (day.month, day.day) == (3, 13):
            return DayKind(HOLIDAY, day.weekday(), "城市节", holiday="城市节", holiday_day=1)
        if (day.month, day.day) == (4, 3):
            return DayKind(HOLIDAY, day.weekday(), "新节日", holiday="新节日", holiday_day=1)
        return weekday_day_kind(day)

    city_day, new_holiday = forecast_calls(
        history, [date(2025, 3, 13), date(2024, 4, 3)], day_kind=site_calendar
    )
    assert city_day.label == "城市节"
    assert city_day.total == pytest.approx(480 * (0.4 + 0.5 * 0.45) / 1.5)
    assert new_holiday.total == pytest.approx(240.0)


def test_tiny_histories_still_give_a_forecast():
    silent = forecast_calls({datetime(2025, 1, 6, 9): 0}, [date(2025, 1, 7)])[0]
    assert silent.total == 0.0 and silent.half_hours == (0.0,) * 48
    # One Monday with 8 calls: every kind falls back to it (nothing is known about weekends or holidays), and
    # the shape is that Monday's, pulled towards a flat day by the shape prior.
    one_day = {datetime(2025, 1, 6, 9): 5, datetime(2025, 1, 6, 14, 30): 3}
    tuesday, new_year = forecast_calls(one_day, [date(2025, 1, 7), date(2026, 1, 1)])
    assert tuesday.total == new_year.total == pytest.approx(8.0)
    assert tuesday.half_hours[18] > tuesday.half_hours[29] > tuesday.half_hours[0] > 0
    assert new_year.label == "元旦第1天"


def test_the_forecast_is_deterministic():
    history = history_until(date(2023, 3, 31))
    days = days_between(date(2023, 4, 1), date(2023, 4, 7))
    assert forecast_calls(history, days) == forecast_calls(dict(reversed(history.items())), days)


# ------------------------------------------------------------------------------------------ staffing


def test_the_forecast_feeds_the_staffing_plan(forecast_2026):
    makeup, first_day_of_spring = forecast_2026[date(2026, 2, 14)], forecast_2026[date(2026, 2, 17)]
    plans = {}
    for forecast in (makeup, first_day_of_spring):
        plans[forecast.label] = staffing_plan(forecast.half_hours, aht_seconds=240, target_level=0.8)
    busy = plans["调休上班"]
    assert len(busy) == 48
    peak = int(np.argmax(makeup.half_hours))
    assert busy[peak].agents == max(r.agents for r in busy) >= 10
    assert busy[peak].service_level >= 0.8
    assert busy[peak].traffic_erlangs == pytest.approx(makeup.half_hours[peak] * 240 / 1800)
    assert busy[4].agents < busy[peak].agents  # 02:00
    # 初一 needs far fewer agent half-hours than the 调休 Saturday
    assert sum(r.agents for r in plans["春节第3天（初一）"]) < 0.6 * sum(r.agents for r in busy)


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("history", "message"),
    [
        ({}, "history is empty"),
        ({datetime(2025, 1, 6, 9, 0): -1}, "must not be negative"),
        ({datetime(2025, 1, 6, 9, 15): 3}, "on the half hour"),
        ({datetime(2025, 1, 6, 9, 0, 30): 3}, "on the half hour"),
        ({datetime(2025, 1, 6, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")): 3}, "naive local"),
        ({datetime(2025, 1, 6, 9, 0): math.nan}, "finite number"),
        ({datetime(2025, 1, 6, 9, 0): "3"}, "finite number"),
        ({datetime(2025, 1, 6): 3, datetime(1995, 1, 6): 3}, "more than 3660"),
    ],
)
def test_bad_history_is_refused_with_a_clear_message(history, message):
    with pytest.raises(ValueError, match=message):
        forecast_calls(history, [date(2025, 1, 7)])


def test_wrong_types_are_refused():
    with pytest.raises(TypeError, match="must be datetimes"):
        forecast_calls({date(2025, 1, 6): 3}, [date(2025, 1, 7)])
    with pytest.raises(TypeError, match="must be dates"):
        forecast_calls({datetime(2025, 1, 6, 9): 3}, [datetime(2025, 1, 7)])
    with pytest.raises(TypeError, match="must return a DayKind"):
        forecast_calls({datetime(2025, 1, 6, 9): 3}, [date(2025, 1, 7)], day_kind=lambda day: "周二")


def test_backtest_refuses_a_hold_out_that_leaves_too_little():
    history = _constant_history(date(2024, 3, 4), 10, dict.fromkeys(range(7), 1.0))
    with pytest.raises(ValueError, match="fewer than the 7"):
        backtest(history, 4)
    with pytest.raises(ValueError, match="whole number"):
        backtest(history, 0)
