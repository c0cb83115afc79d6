"""Calls per half hour for the coming days, from history, with weekday and holiday effects (issue 7 part 3).

The forecast feeds ``staffing.staffing_plan`` (anchors §6): ``DayForecast.half_hours`` is the 48 expected call
counts of one local day, the ``calls_per_interval`` that function takes with its default 1800 s interval.

**Why day kinds.** A hotline's volume is driven by whether people are at work, not by the name of the weekday:
"春节 is not a Monday". Forecasting a holiday from its weekday (the plain weekday model, or the seasonal-naive
"same half hour a week earlier") gets every holiday wrong, and so does forecasting a 调休 make-up Saturday,
when offices are open, like a Saturday. So each date gets a *day kind* (``chinese_day_kind``, from the
``chinese_calendar`` package and its State Council schedule):

* a statutory holiday: which one (春节, 国庆节, … the majority name of the run of consecutive days off, so
  2023's 中秋 + 国庆 block counts as 国庆节) and the day's place in it. For 春节 the place is counted from
  初一 (0 = 初一, −1 = 除夕), not from the first day off: 除夕 and 初一 are the quietest days, and the first
  day off is 除夕 in 2025 but 腊月廿八 in 2026 and 初一 in 2024. 初一 comes from ``LUNAR_NEW_YEAR``; the other
  holidays use the n-th day off (1, 2, …);
* a 调休 make-up workday (a Saturday or Sunday that is a working day);
* an ordinary day by weekday (周一 … 周日).

A year the package has no data for (it raises NotImplementedError) falls back to the weekday alone and is
flagged ``calendar_covered=False``; a site with its own calendar passes ``day_kind=``.

**Model.** ``daily total = level × factor(kind)`` and ``half hour = daily total × share(kind, half hour)``:

1. *Local level* of each past day: the median daily total of the ordinary Monday–Friday days within ±14 days
   (holidays and make-up days left out, so 春节 does not drag its own yardstick down).
2. *Factor* of a kind: the mean of ``total / local level`` over the past days of that kind, shrunk towards a
   prior with a weight of a few pseudo-days, ``(n·mean + k·prior) / (n + k)``, so a kind seen once or never
   gets a sensible value. Priors: a weekday the mean of its pool (ordinary Monday–Friday, or Saturday and
   Sunday; 1 for an empty pool), weight 1 day; a make-up workday the mean Monday–Friday factor, weight 2; a
   holiday day (春节 初一) the whole holiday (春节 over all its days and years), weight 0.5, and that in turn
   the mean weekend factor, weight 1. The holiday-day weight is small because a holiday repeats from year to
   year and 除夕/初一 differ from the later days; so a holiday day seen once (a year earlier) mostly keeps its
   own value, and a holiday never seen gets the weekend factor.
3. *Shape* of a kind: the 48 half-hour shares of its days (their calls per half hour over their calls), shrunk
   the same way (weight 2 days, a single day's shares are noisy) towards the shape of its pool: workdays,
   weekends, and for a holiday its other days and then the weekend shape; all shapes sum to 1.
4. *Forecast level*: the median of the de-seasonalised totals (``total / factor``) of the ordinary days in the
   last 28 days of history. There is no trend term: over a horizon of days to weeks a median of the last four
   weeks lags a growth of 10 % a year by about 0.4 %.
5. *80 % range* of a daily total: the 10th and 90th percentiles of ``actual / forecast`` over the history, each
   day forecast from the level of the 28 days before it and, for a holiday or 调休 day, a factor estimated
   without that day (as if it were the first time). Ordinary and special days get their own range (the
   pooled one when either has fewer than 20 days; None with no 20 days at all). A rough range: it ignores
   the error of the ordinary factors and grows no wider with the horizon.

Everything is deterministic and in numpy; no database. ``backtest`` holds out the last days of a history,
forecasts them from the rest and compares MAPE/WAPE with the seasonal-naive baseline in the same run.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from numbers import Real

import chinese_calendar
import numpy as np

from civiclink.sla.calendar import HOLIDAY_NAMES_ZH

HALF_HOURS_PER_DAY = 48
HALF_HOUR = timedelta(minutes=30)
WEEK_DAYS = 7

LOCAL_LEVEL_HALF_WIDTH = 14  # days either side for the local level of a past day
LEVEL_WINDOW_DAYS = 28  # the forecast level: the last four weeks of history
ORDINARY_PRIOR_DAYS = 1.0  # shrinkage weights, in pseudo-days
HOLIDAY_PRIOR_DAYS = 1.0
HOLIDAY_DAY_PRIOR_DAYS = 0.5
MAKEUP_PRIOR_DAYS = 2.0
SHAPE_PRIOR_DAYS = 2.0
INTERVAL_QUANTILES = (0.10, 0.90)  # an 80 % range
INTERVAL_MIN_DAYS = 20
INTERVAL_MIN_WINDOW_DAYS = 7  # ordinary days needed in the 28 days before a day to forecast it for the range
MAX_HISTORY_DAYS = 3660  # ten years; a longer span is almost certainly a mistyped timestamp

WORKDAY = "workday"  # an ordinary Monday–Friday
WEEKEND = "weekend"  # an ordinary Saturday or Sunday
MAKEUP_WORKDAY = "makeup_workday"  # 调休: a Saturday or Sunday that is a working day
HOLIDAY = "holiday"  # a statutory holiday (法定节假日), weekend days inside the block included
CATEGORIES = (WORKDAY, WEEKEND, MAKEUP_WORKDAY, HOLIDAY)

WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
MAKEUP_LABEL = "调休上班"
SPRING_FESTIVAL = "春节"

# 初一 (the first day of the lunar year) by Gregorian year, for counting 春节 days from it. Checked against the
# ``holidays`` package's lunisolar calendar in the tests; chinese_calendar covers 2004–2026.
LUNAR_NEW_YEAR: dict[int, date] = {
    year: date(year, month, day)
    for year, (month, day) in {
        2004: (1, 22), 2005: (2, 9), 2006: (1, 29), 2007: (2, 18), 2008: (2, 7), 2009: (1, 26),
        2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10), 2014: (1, 31), 2015: (2, 19),
        2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5), 2020: (1, 25), 2021: (2, 12),
        2022: (2, 1), 2023: (1, 22), 2024: (2, 10), 2025: (1, 29), 2026: (2, 17), 2027: (2, 6),
        2028: (1, 26), 2029: (2, 13), 2030: (2, 3), 2031: (1, 23), 2032: (2, 11), 2033: (1, 31),
        2034: (2, 19), 2035: (2, 8),
    }.items()
}  # fmt: skip

_LUNAR_DAY_NAMES = ("初一", "初二", "初三", "初四", "初五", "初六", "初七", "初八", "初九", "初十")


# --------------------------------------------------------------------------------------------- day kinds


@dataclass(frozen=True)
class DayKind:
    """What sort of day a date is, for the forecast.

    ``category`` is one of WORKDAY, WEEKEND (ordinary days by ``weekday``, 0 = Monday), MAKEUP_WORKDAY (调休)
    or HOLIDAY. A holiday has a ``holiday`` name and a ``holiday_day``, its place in the holiday: for 春节 days
    from 初一 (0 = 初一, −1 = 除夕), for others the n-th day off. Days with the same ``key`` share a factor and
    a shape. ``calendar_covered`` is False when the official calendar had no data and the kind is by weekday
    only (a holiday in that year is not known).
    """

    category: str
    weekday: int
    label: str
    holiday: str | None = None
    holiday_day: int | None = None
    calendar_covered: bool = True

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"day kind category must be one of {CATEGORIES}, got {self.category!r}")
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) … 6 (Sunday), got {self.weekday!r}")
        if (self.category == HOLIDAY) != (self.holiday is not None and self.holiday_day is not None):
            raise ValueError(
                "a holiday day kind needs both holiday and holiday_day, and only a holiday has them"
            )

    @property
    def key(self) -> tuple[object, ...]:
        """Days with the same key are one kind to the model."""
        if self.category == HOLIDAY:
            return (HOLIDAY, self.holiday, self.holiday_day)
        if self.category == MAKEUP_WORKDAY:
            return (MAKEUP_WORKDAY,)
        return ("weekday", self.weekday)


def weekday_day_kind(day: date) -> DayKind:
    """The kind by weekday alone (周一 … 周日): the fallback outside the official calendar's years, and the
    "plain weekday" model to compare against."""
    weekday = day.weekday()
    return DayKind(WORKDAY if weekday < 5 else WEEKEND, weekday, WEEKDAY_LABELS[weekday])


def _lunar_day_name(offset: int) -> str:
    """The name of the day ``offset`` days after 初一: 除夕 for −1, 初一 … 初十, 正月十一 …"""
    if offset == -1:
        return "除夕"
    if offset < -1:
        return f"除夕前{-offset - 1}天"
    if offset < len(_LUNAR_DAY_NAMES):
        return _LUNAR_DAY_NAMES[offset]
    return f"正月第{offset + 1}天"


def _holiday_name(day: date) -> str | None:
    """The Chinese name of the statutory holiday ``day`` is a day off of; None otherwise or outside the data."""
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    if not is_holiday or name is None:
        return None  # an ordinary weekend (or a weekend next to a holiday but not part of it)
    return HOLIDAY_NAMES_ZH.get(name, name)


@lru_cache(maxsize=8192)
def chinese_day_kind(day: date) -> DayKind:
    """The kind of ``day`` from the official schedule (chinese_calendar): holiday, 调休 or ordinary weekday.

    Outside the package's years (NotImplementedError) the weekday alone, with ``calendar_covered=False``.
    """
    weekday = day.weekday()
    try:
        is_workday = chinese_calendar.is_workday(day)
    except NotImplementedError:
        kind = weekday_day_kind(day)
        return DayKind(kind.category, kind.weekday, kind.label, calendar_covered=False)
    name = _holiday_name(day)
    if name is not None:
        first = day
        while _holiday_name(first - timedelta(days=1)) is not None:
            first -= timedelta(days=1)
        last = day
        while _holiday_name(last + timedelta(days=1)) is not None:
            last += timedelta(days=1)
        names = [_holiday_name(first + timedelta(days=i)) for i in range((last - first).days + 1)]
        holiday = max(dict.fromkeys(names), key=names.count)  # the most days; a tie goes to the earlier name
        position = (day - first).days + 1
        label = f"{holiday}第{position}天"
        holiday_day = position
        if holiday == SPRING_FESTIVAL and day.year in LUNAR_NEW_YEAR:
            holiday_day = (day - LUNAR_NEW_YEAR[day.year]).days
            label += f"（{_lunar_day_name(holiday_day)}）"
        return DayKind(HOLIDAY, weekday, label, holiday=holiday, holiday_day=holiday_day)
    if is_workday and weekday >= 5:
        return DayKind(MAKEUP_WORKDAY, weekday, MAKEUP_LABEL)
    return weekday_day_kind(day)


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class DayForecast:
    """Expected calls for one local day: the total, 48 half hours from 00:00 (they add up to the total) and,
    when the history allows, a rough 80 % range of the total."""

    date: date
    kind: DayKind
    label: str
    total: float
    half_hours: tuple[float, ...]
    total_low: float | None = None
    total_high: float | None = None

    def half_hour_pairs(self) -> list[tuple[datetime, float]]:
        """(local half-hour start, expected calls) for the 48 half hours of the day."""
        midnight = datetime.combine(self.date, time())
        return [(midnight + i * HALF_HOUR, calls) for i, calls in enumerate(self.half_hours)]


def flatten(forecasts: Iterable[DayForecast]) -> list[tuple[datetime, float]]:
    """All (local half-hour start, expected calls) pairs of several days, in the order given."""
    return [pair for day in forecasts for pair in day.half_hour_pairs()]


@dataclass(frozen=True)
class Accuracy:
    """Errors as fractions (0.05 = 5 %). WAPE = Σ|forecast − actual| / Σ actual; MAPE averages
    |forecast − actual| / actual over the values whose actual is above 0 (NaN when there are none)."""

    daily_mape: float
    daily_wape: float
    half_hour_mape: float
    half_hour_wape: float


@dataclass(frozen=True)
class BacktestResult:
    """The held-out days (``first_day`` … ``last_day``), forecast from the history before them, against the
    seasonal-naive baseline: each half hour as the same half hour one week earlier, going back whole weeks
    until the day is in the training history (so day 9 of the hold-out uses the day 14 days before it)."""

    first_day: date
    last_day: date
    days: int
    model: Accuracy
    baseline: Accuracy


# --------------------------------------------------------------------------------------------- input


def _history_matrix(history: Mapping[datetime, float]) -> tuple[date, np.ndarray]:
    """(first day, calls[day, half hour]) from {naive local half-hour start: calls}; missing half hours are 0."""
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a mapping of half-hour start → calls, got {type(history).__name__}")
    if not history:
        raise ValueError("history is empty: at least one day of calls per half hour is needed")
    days: list[date] = []
    slots: list[int] = []
    values: list[float] = []
    for start, calls in history.items():
        if not isinstance(start, datetime):
            raise TypeError(f"history keys must be datetimes (half-hour starts), got {start!r}")
        if start.tzinfo is not None:
            raise ValueError(f"history timestamps must be naive local times, got {start.isoformat()}")
        if start.minute not in (0, 30) or start.second or start.microsecond:
            raise ValueError(
                f"history timestamps must be on the half hour (hh:00 or hh:30), got {start.isoformat()}"
            )
        if isinstance(calls, bool) or not isinstance(calls, Real) or not math.isfinite(calls):
            raise ValueError(f"calls at {start.isoformat()} must be a finite number, got {calls!r}")
        if calls < 0:
            raise ValueError(f"calls at {start.isoformat()} must not be negative, got {calls!r}")
        days.append(start.date())
        slots.append(start.hour * 2 + start.minute // 30)
        values.append(float(calls))
    first, last = min(days), max(days)
    span = (last - first).days + 1
    if span > MAX_HISTORY_DAYS:
        raise ValueError(
            f"history spans {span} days ({first} … {last}), more than {MAX_HISTORY_DAYS}: a bad timestamp?"
        )
    counts = np.zeros((span, HALF_HOURS_PER_DAY))
    rows = np.fromiter(((d - first).days for d in days), dtype=np.int64, count=len(days))
    counts[rows, np.asarray(slots)] = values
    return first, counts


def _dates(dates: Iterable[date]) -> list[date]:
    checked = list(dates)
    for day in checked:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"dates to forecast must be dates (not datetimes), got {day!r}")
    return checked


def _kind_of(day_kind: Callable[[date], DayKind], day: date) -> DayKind:
    kind = day_kind(day)
    if not isinstance(kind, DayKind):
        raise TypeError(f"day_kind({day}) must return a DayKind, got {kind!r}")
    return kind


# --------------------------------------------------------------------------------------------- the model


def _shrink(count: float, mean: float | np.ndarray, prior: float | np.ndarray, weight: float):
    """``(n·mean + k·prior) / (n + k)``: the mean of ``count`` days pulled towards ``prior``."""
    if count == 0:
        return prior
    return (count * mean + weight * prior) / (count + weight)


def _quantiles(ratios: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(ratios, INTERVAL_QUANTILES)
    return float(low), float(high)


def _nanmedian_rows(windows: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN; NaN for rows without any value (and without a warning)."""
    result = np.full(windows.shape[0], np.nan)
    filled = ~np.isnan(windows).all(axis=1)
    if filled.any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result[filled] = np.nanmedian(windows[filled], axis=1)
    return result


class _Model:
    """Factors, shapes, level and range fitted on a history (see the module docstring)."""

    def __init__(self, first_day: date, counts: np.ndarray, day_kind: Callable[[date], DayKind]):
        self.day_kind = day_kind
        days = counts.shape[0]
        self.kinds = [_kind_of(day_kind, first_day + timedelta(days=i)) for i in range(days)]
        totals = counts.sum(axis=1)
        categories = np.array([kind.category for kind in self.kinds])
        ordinary_workday = categories == WORKDAY
        ordinary = ordinary_workday | (categories == WEEKEND)

        # 1. local level of each past day: median of ordinary Monday–Friday totals within ±14 days
        width = LOCAL_LEVEL_HALF_WIDTH
        workday_totals = np.where(ordinary_workday, totals, np.nan)
        padded = np.concatenate((np.full(width, np.nan), workday_totals, np.full(width, np.nan)))
        local = _nanmedian_rows(np.lib.stride_tricks.sliding_window_view(padded, 2 * width + 1))
        fallback = (
            float(np.median(totals[ordinary_workday])) if ordinary_workday.any() else float(np.median(totals))
        )
        local = np.where(np.isnan(local), fallback, local)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(local > 0, totals / local, np.nan)

        # 2./3. statistics per kind and per pool: ratios for factors, calls per half hour for shapes
        ratio_lists: dict[tuple[object, ...], list[float]] = defaultdict(list)
        shape_sums: dict[tuple[object, ...], list] = {}

        def add_shape(key: tuple[object, ...], row: np.ndarray, total: float) -> None:
            entry = shape_sums.setdefault(key, [0, np.zeros(HALF_HOURS_PER_DAY), 0.0])
            entry[0] += 1
            entry[1] += row
            entry[2] += total

        for index, kind in enumerate(self.kinds):
            keys = [kind.key]
            if kind.category == HOLIDAY:
                keys.append((HOLIDAY, kind.holiday))
            elif kind.category == WEEKEND:
                keys.append(("pool", WEEKEND))
            elif kind.category == WORKDAY:
                keys.append(("pool", WORKDAY))
            if not math.isnan(ratios[index]):
                for key in keys:
                    ratio_lists[key].append(float(ratios[index]))
            if totals[index] > 0:
                for key in [*keys, ("pool", "all")]:
                    add_shape(key, counts[index], float(totals[index]))
        self._ratios = {key: (len(values), float(np.mean(values))) for key, values in ratio_lists.items()}
        self._shapes = {key: (n, row / total) for key, (n, row, total) in shape_sums.items()}

        # 4. forecast level: median de-seasonalised total of the ordinary days in the last 28 days
        factors = np.array([self.factor(kind) for kind in self.kinds])
        with np.errstate(divide="ignore", invalid="ignore"):
            seasonal_free = np.where(ordinary & (factors > 0), totals / factors, np.nan)
        recent = seasonal_free[-LEVEL_WINDOW_DAYS:]
        if not np.isnan(recent).all():
            self.level = float(np.nanmedian(recent))
        elif not np.isnan(seasonal_free).all():
            self.level = float(np.nanmedian(seasonal_free))
        else:
            usable = factors > 0
            self.level = float(np.median(totals[usable] / factors[usable])) if usable.any() else 0.0

        # 5. rough 80 % ranges, ordinary days and special days (holidays, 调休) apart: each past day forecast
        # from the level of the 28 days before it and a factor from the other days of its kind
        self.ranges: dict[bool, tuple[float, float]] = {}  # special? → (low, high) multipliers
        if days > LEVEL_WINDOW_DAYS:
            left_out = factors.copy()
            for index in np.flatnonzero(~ordinary & ~np.isnan(ratios)):
                left_out[index] = self.factor(self.kinds[index], leave_out=float(ratios[index]))
            windows = np.lib.stride_tricks.sliding_window_view(seasonal_free[:-1], LEVEL_WINDOW_DAYS)
            enough = (~np.isnan(windows)).sum(axis=1) >= INTERVAL_MIN_WINDOW_DAYS
            predicted = _nanmedian_rows(windows) * left_out[LEVEL_WINDOW_DAYS:]
            actual = totals[LEVEL_WINDOW_DAYS:]
            usable = enough & (predicted > 0)
            special = ~ordinary[LEVEL_WINDOW_DAYS:]
            if usable.sum() >= INTERVAL_MIN_DAYS:
                everything = _quantiles(actual[usable] / predicted[usable])
                for is_special in (False, True):
                    chosen = usable & (special == is_special)
                    enough_days = chosen.sum() >= INTERVAL_MIN_DAYS
                    self.ranges[is_special] = (
                        _quantiles(actual[chosen] / predicted[chosen]) if enough_days else everything
                    )

    # factors -------------------------------------------------------------------------------------

    def _shrunk_ratio(
        self, key: tuple[object, ...], prior: float, weight: float, leave_out: float | None = None
    ) -> float:
        count, mean = self._ratios.get(key, (0, 0.0))
        if leave_out is not None and count > 0:  # as if that one past day had not been seen
            count, mean = count - 1, ((count * mean - leave_out) / (count - 1) if count > 1 else 0.0)
        return float(_shrink(count, mean, prior, weight))

    def _weekday_factor(self, weekday: int) -> float:
        pool = ("pool", WORKDAY if weekday < 5 else WEEKEND)
        pooled = self._ratios[pool][1] if pool in self._ratios else 1.0
        return self._shrunk_ratio(("weekday", weekday), pooled, ORDINARY_PRIOR_DAYS)

    def factor(self, kind: DayKind, leave_out: float | None = None) -> float:
        """Daily total of ``kind`` relative to the level (an ordinary Monday–Friday is about 1).

        ``leave_out``: the ratio of one past holiday or 调休 day of this kind, estimated without it (for the
        ranges; ordinary days have so many examples that one more or less does not matter).
        """
        if kind.category in (WORKDAY, WEEKEND):
            return self._weekday_factor(kind.weekday)
        if kind.category == MAKEUP_WORKDAY:
            workday = float(np.mean([self._weekday_factor(w) for w in range(5)]))
            return self._shrunk_ratio(kind.key, workday, MAKEUP_PRIOR_DAYS, leave_out)
        weekend = (self._weekday_factor(5) + self._weekday_factor(6)) / 2
        whole_holiday = self._shrunk_ratio((HOLIDAY, kind.holiday), weekend, HOLIDAY_PRIOR_DAYS, leave_out)
        return self._shrunk_ratio(kind.key, whole_holiday, HOLIDAY_DAY_PRIOR_DAYS, leave_out)

    # shapes --------------------------------------------------------------------------------------

    def _shrunk_shape(self, key: tuple[object, ...], prior: np.ndarray) -> np.ndarray:
        count, mean = self._shapes.get(key, (0, prior))
        return _shrink(count, mean, prior, SHAPE_PRIOR_DAYS)

    def shape(self, kind: DayKind) -> np.ndarray:
        """The 48 half-hour shares of ``kind``, adding up to 1."""
        uniform = np.full(HALF_HOURS_PER_DAY, 1.0 / HALF_HOURS_PER_DAY)
        overall = self._shrunk_shape(("pool", "all"), uniform)
        workdays = self._shrunk_shape(("pool", WORKDAY), overall)
        weekends = self._shrunk_shape(("pool", WEEKEND), overall)
        if kind.category in (WORKDAY, WEEKEND):
            prior = workdays if kind.weekday < 5 else weekends
        elif kind.category == MAKEUP_WORKDAY:
            prior = workdays
        else:
            prior = self._shrunk_shape((HOLIDAY, kind.holiday), weekends)
        shares = self._shrunk_shape(kind.key, prior)
        return shares / shares.sum()

    # forecast ------------------------------------------------------------------------------------

    def forecast(self, day: date) -> DayForecast:
        kind = _kind_of(self.day_kind, day)
        total = self.level * self.factor(kind)
        half_hours = tuple(float(v) for v in total * self.shape(kind))
        low = high = None
        multipliers = self.ranges.get(kind.category in (HOLIDAY, MAKEUP_WORKDAY))
        if multipliers is not None:
            low, high = total * multipliers[0], total * multipliers[1]
        return DayForecast(day, kind, kind.label, float(total), half_hours, low, high)


# --------------------------------------------------------------------------------------------- public API


def forecast_calls(
    history: Mapping[datetime, float],
    dates: Iterable[date],
    *,
    day_kind: Callable[[date], DayKind] | None = None,
) -> list[DayForecast]:
    """Expected calls per half hour for each of ``dates``, from ``history``.

    ``history`` maps naive local half-hour starts (minute 0 or 30) to call counts (≥ 0). It covers whole days
    from the date of its earliest to the date of its latest timestamp; half hours missing in between count as
    0 calls, so pass complete days (a half-filled last day would look like a quiet one). ``day_kind`` decides
    what sort of day a date is (default ``chinese_day_kind``). Raises ValueError on bad values (negative or
    non-finite counts, timestamps off the half hour or with a time zone, an empty history) and TypeError on
    wrong types (keys that are not datetimes, dates that are not dates).
    """
    first_day, counts = _history_matrix(history)
    checked = _dates(dates)
    model = _Model(first_day, counts, day_kind or chinese_day_kind)
    return [model.forecast(day) for day in checked]


def _accuracy(forecast: np.ndarray, actual: np.ndarray) -> Accuracy:
    """``forecast`` and ``actual`` are [day, half hour]."""

    def mape(f: np.ndarray, a: np.ndarray) -> float:
        positive = a > 0
        return float(np.mean(np.abs(f[positive] - a[positive]) / a[positive])) if positive.any() else math.nan

    def wape(f: np.ndarray, a: np.ndarray) -> float:
        return float(np.abs(f - a).sum() / a.sum()) if a.sum() > 0 else math.nan

    daily_f, daily_a = forecast.sum(axis=1), actual.sum(axis=1)
    return Accuracy(
        mape(daily_f, daily_a), wape(daily_f, daily_a), mape(forecast, actual), wape(forecast, actual)
    )


def backtest(
    history: Mapping[datetime, float],
    days_to_hold_out: int,
    *,
    day_kind: Callable[[date], DayKind] | None = None,
) -> BacktestResult:
    """Forecast the last ``days_to_hold_out`` days of ``history`` from the days before them and measure the
    errors of the daily totals and the half hours, for the model and the seasonal-naive baseline."""
    if isinstance(days_to_hold_out, bool) or not isinstance(days_to_hold_out, int) or days_to_hold_out < 1:
        raise ValueError(f"days_to_hold_out must be a whole number ≥ 1, got {days_to_hold_out!r}")
    first_day, counts = _history_matrix(history)
    training_days = counts.shape[0] - days_to_hold_out
    if training_days < WEEK_DAYS:
        raise ValueError(
            f"history has {counts.shape[0]} days: holding out {days_to_hold_out} leaves {max(training_days, 0)}, "
            f"fewer than the {WEEK_DAYS} the seasonal-naive baseline needs"
        )
    model = _Model(first_day, counts[:training_days], day_kind or chinese_day_kind)
    held_out = [first_day + timedelta(days=training_days + i) for i in range(days_to_hold_out)]
    forecast = np.array([model.forecast(day).half_hours for day in held_out])
    baseline_rows = [
        training_days + i - WEEK_DAYS * math.ceil((i + 1) / WEEK_DAYS) for i in range(days_to_hold_out)
    ]
    actual = counts[training_days:]
    return BacktestResult(
        first_day=held_out[0],
        last_day=held_out[-1],
        days=days_to_hold_out,
        model=_accuracy(forecast, actual),
        baseline=_accuracy(counts[baseline_rows], actual),
    )
