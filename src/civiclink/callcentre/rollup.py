"""The call roll-up (docs/cti.md, "Roll-up"): per finished local day, the connection KPIs' sums per hour and 班组,
so that a year's 接通率, 一次接通率 and 15秒接通率 add up about 9,000 rows a year instead of reading every call.

- **Exact at once.** A batch of CTI events that changes calls of a built day (a late event, a redial found
  afterwards) removes that day's mark in its own write transaction (``unbuild``); the day is read from the calls
  until it is built again. Building reads a day and writes it in one write transaction, taken with the same lock
  as ``unbuild`` (SQLite: the write transaction; PostgreSQL: an advisory lock), so a batch can never slip between
  the read and the write.
- **Today** is read from the calls (a day's calls are a few thousand: cheap through ``ix_call_local_day_hour``).
- **Settings.** The rows count 15秒接通率 with ``calls.answer_target_seconds``; a day built with another target is
  read from the calls and built again. Redials and short abandons are judged per call when it is assembled.

The server keeps it up to date in the background (both sites take calls); ``civiclink calls rollup`` by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from civiclink.callcentre.models import Call, CallRollup, CallRollupDay
from civiclink.db import begin_write

SUMS = ("offered", "answered", "in_target", "abandoned", "short", "contacts", "first", "wait", "talk", "talked")
DAYS_PER_WRITE = 7  # days read and written per write transaction (each holds the write lock a few ms to 0.1 s)
_PG_LOCK_KEY = 0x63616C6C  # "call"


def _lock(session: Session) -> None:
    """Builders and ``unbuild`` one at a time (SQLite: the write transaction already is; PostgreSQL: a lock)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def unbuild(session: Session, days: set[date]) -> None:
    """In the caller's write transaction: the calls of ``days`` changed, so their rows no longer hold."""
    if not days:
        return
    _lock(session)
    session.execute(delete(CallRollupDay).where(CallRollupDay.day.in_(sorted(days))))


def built_days(session: Session, first: date, last: date, answer_target_seconds: int) -> set[date]:
    """The days of ``first``..``last`` whose rows hold (built with this answer target)."""
    return set(session.execute(select(CallRollupDay.day).where(
        CallRollupDay.day >= first, CallRollupDay.day <= last,
        CallRollupDay.answer_target_seconds == answer_target_seconds)).scalars())


@dataclass
class CallRollupReport:
    built: list[date] = field(default_factory=list)
    remaining: int = 0

    def describe(self) -> str | None:
        if not self.built:
            return None
        return f"{len(self.built)} days of calls rolled up, {self.remaining} left"


def _days_to_build(session: Session, today: date, target: int) -> list[date]:
    first = session.execute(select(func.min(Call.local_day))).scalar_one()
    if first is None or first >= today:
        return []
    built = built_days(session, first, today - timedelta(days=1), target)
    return [d for d in (first + timedelta(days=i) for i in range((today - first).days)) if d not in built]


def _build(session: Session, days: list[date], judge) -> list[date]:
    """Read and write ``days`` in one write transaction."""
    from civiclink.callcentre.service import sums

    begin_write(session)
    _lock(session)
    session.execute(delete(CallRollup).where(CallRollup.day.in_(days)))
    session.execute(delete(CallRollupDay).where(CallRollupDay.day.in_(days)))
    team = func.coalesce(Call.team, "")
    rows = [dict(zip(("day", "hour", "team", *SUMS), (day, hour, t, *(v or 0 for v in values)), strict=True))
            for day, hour, t, *values in session.execute(
                select(Call.local_day, Call.local_hour, team, *sums(judge))
                .where(Call.local_day.in_(days)).group_by(Call.local_day, Call.local_hour, team))]
    if rows:
        session.execute(insert(CallRollup), rows)
    now = datetime.now(UTC)
    session.execute(insert(CallRollupDay), [{"day": d, "answer_target_seconds": judge.answer_target_seconds,
                                              "built_at": now} for d in days])
    session.commit()
    return days


def refresh(state, *, max_days: int | None = None, rebuild: bool = False, now: datetime | None = None,
            progress: Callable[[int, int], None] | None = None) -> CallRollupReport:
    """Build every finished day not built (with this answer target); ``max_days``: at most that many in this run
    (a backlog a slice at a time); ``rebuild``: forget every built day first. ``progress(done, total)``."""
    from civiclink.callcentre.service import Judgement

    judge = Judgement.of(state.settings)
    report = CallRollupReport()
    with state.sessions() as session:
        today = (now or datetime.now(UTC)).astimezone(state.settings.tz).date()
        if rebuild:
            begin_write(session)
            _lock(session)
            session.execute(delete(CallRollupDay))
            session.execute(delete(CallRollup))
            session.commit()
        todo = _days_to_build(session, today, judge.answer_target_seconds)
        session.rollback()
        report.remaining = max(0, len(todo) - max_days) if max_days is not None else 0
        todo = todo[:max_days] if max_days is not None else todo
        for i in range(0, len(todo), DAYS_PER_WRITE):
            chunk = todo[i:i + DAYS_PER_WRITE]
            report.built += _build(session, chunk, judge)
            if progress is not None:
                progress(i + len(chunk), len(todo))
    return report


def rollup_task(state):
    """The server's background task (both sites; ``analytics.rollup_enabled``)."""
    from civiclink import periodic

    return periodic.rollup_task(state, name="call-rollup", refresh=refresh, describe=CallRollupReport.describe)
