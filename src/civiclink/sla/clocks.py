"""Stage clocks: start, pause, resume, stop, extend, and their colour now (R-608, R-609, R-1009).

Green until ``yellow_share`` of the allowed time is used, yellow until the deadline, red after it.
Time waiting on the citizen pauses the clock: the paused span is added to the allowance, measured on the
clock's own axis (working seconds for working-day limits), so the deadline moves by exactly the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from civiclink.config import Limit
from civiclink.sla.calendar import WorkCalendar
from civiclink.sla.models import StageClock

STAGES = ("dispatch", "sign", "handle", "callback")


def new_clock_values(
    *, stage: str, round: int, limit: Limit, now: datetime, calendar: WorkCalendar, yellow_share: float
) -> dict:
    """The column values of a clock starting ``now`` (plain data: the intake path inserts them directly)."""
    kind = "working" if limit.unit == "wd" else "natural"
    # The day the clock starts never counts towards a working-day limit (see sla.calendar).
    effective_start = calendar.next_midnight(now) if kind == "working" else now
    due_at, provisional = _point(kind, effective_start, limit.seconds, calendar)
    warn_at, _ = _point(kind, effective_start, int(limit.seconds * yellow_share), calendar)
    return {
        "stage": stage, "round": round, "calendar": kind, "limit_label": str(limit),
        "budget_seconds": limit.seconds, "extended_seconds": 0, "paused_seconds": 0,
        "started_at": now, "effective_start": effective_start, "paused_since": None, "pause_reason": None,
        "stopped_at": None, "stop_reason": None, "due_at": due_at, "warn_at": warn_at,
        "provisional": provisional, "breached": False,
    }


def start_clock(
    *,
    order,
    stage: str,
    round: int,
    limit: Limit,
    now: datetime,
    calendar: WorkCalendar,
    yellow_share: float,
) -> StageClock:
    values = new_clock_values(stage=stage, round=round, limit=limit, now=now, calendar=calendar,
                              yellow_share=yellow_share)
    return StageClock(order=order, **values)


def _point(kind: str, effective_start: datetime, seconds: int, calendar: WorkCalendar) -> tuple[datetime, bool]:
    """The moment ``seconds`` after ``effective_start`` on the clock's axis, and whether it is provisional."""
    if kind == "working":
        return calendar.add_working_seconds(effective_start, seconds)
    return effective_start + timedelta(seconds=seconds), False


def _measure(clock: StageClock, start: datetime, end: datetime, calendar: WorkCalendar) -> int:
    """Seconds between two moments on the clock's axis, counting only from its effective start."""
    start = max(start, clock.effective_start)
    end = max(end, clock.effective_start)
    if clock.calendar == "working":
        return calendar.working_seconds(start, end)[0]
    return max(0, int((end - start).total_seconds()))


def _at(clock: StageClock, seconds: int, calendar: WorkCalendar) -> tuple[datetime, bool]:
    return _point(clock.calendar, clock.effective_start, seconds, calendar)


def allowed_seconds(clock: StageClock) -> int:
    return clock.budget_seconds + clock.extended_seconds


def recompute(clock: StageClock, *, calendar: WorkCalendar, yellow_share: float) -> None:
    if clock.stopped_at is not None or clock.paused_since is not None:
        clock.due_at = clock.warn_at = None
        return
    allowed = allowed_seconds(clock)
    clock.due_at, due_provisional = _at(clock, allowed + clock.paused_seconds, calendar)
    clock.warn_at, _ = _at(clock, int(allowed * yellow_share) + clock.paused_seconds, calendar)
    clock.provisional = due_provisional


def pause(clock: StageClock, *, now: datetime, reason: str) -> None:
    clock.paused_since = now
    clock.pause_reason = reason
    clock.due_at = clock.warn_at = None


def resume(clock: StageClock, *, now: datetime, calendar: WorkCalendar, yellow_share: float) -> int:
    """End a pause; returns the paused seconds added to the allowance."""
    assert clock.paused_since is not None
    added = _measure(clock, clock.paused_since, now, calendar)
    clock.paused_seconds += added
    clock.paused_since = None
    clock.pause_reason = None
    recompute(clock, calendar=calendar, yellow_share=yellow_share)
    return added


def stop(clock: StageClock, *, now: datetime, reason: str, calendar: WorkCalendar) -> None:
    if clock.stopped_at is not None:
        return
    if clock.paused_since is not None:
        clock.paused_seconds += _measure(clock, clock.paused_since, now, calendar)
        clock.paused_since = None
        clock.pause_reason = None
    due, _ = _at(clock, allowed_seconds(clock) + clock.paused_seconds, calendar)
    clock.breached = now > due
    clock.due_at = due  # keep the deadline it was measured against, for reports
    clock.warn_at = None
    clock.stopped_at = now
    clock.stop_reason = reason


def restart(clock: StageClock, *, now: datetime, calendar: WorkCalendar, yellow_share: float) -> None:
    """Continue a stopped clock (a rejected reply goes back to the unit): the stopped span does not count."""
    assert clock.stopped_at is not None
    clock.paused_seconds += _measure(clock, clock.stopped_at, now, calendar)
    clock.stopped_at = None
    clock.stop_reason = None
    clock.breached = False
    recompute(clock, calendar=calendar, yellow_share=yellow_share)


def extend(clock: StageClock, *, limit: Limit, calendar: WorkCalendar, yellow_share: float) -> None:
    """Add an approved extension (延期, R-609) to the clock's allowance."""
    # On an hour-based clock a working day of extension counts as 24 hours.
    clock.extended_seconds += limit.seconds
    recompute(clock, calendar=calendar, yellow_share=yellow_share)


@dataclass(frozen=True)
class ClockStatus:
    stage: str
    round: int
    color: str  # green | yellow | red | paused | done
    used_share: float
    due_at: datetime | None
    limit: str
    provisional: bool
    breached: bool
    paused: bool


def status(clock: StageClock, *, now: datetime, calendar: WorkCalendar) -> ClockStatus:
    allowed = allowed_seconds(clock)
    end = clock.stopped_at or clock.paused_since or now
    used = max(0, _measure(clock, clock.effective_start, end, calendar) - clock.paused_seconds)
    share = round(used / allowed, 4) if allowed else 1.0
    if clock.stopped_at is not None:
        color = "done"
    elif clock.paused_since is not None:
        color = "paused"
    elif clock.due_at is not None and now > clock.due_at:  # the deadline itself is still on time
        color = "red"
    elif clock.warn_at is not None and now >= clock.warn_at:
        color = "yellow"
    else:
        color = "green"
    return ClockStatus(
        stage=clock.stage,
        round=clock.round,
        color=color,
        used_share=share,
        due_at=clock.due_at,
        limit=clock.limit_label,
        provisional=clock.provisional,
        breached=clock.breached or (color == "red"),
        paused=clock.paused_since is not None,
    )
