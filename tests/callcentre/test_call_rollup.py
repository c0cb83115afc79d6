"""The call roll-up (docs/cti.md, "Roll-up"): the connection KPIs and 一次接通率 read from it equal those read from
the calls — after it is built, at once after late events and redials change a built day, and with another answer
target — and the reads really use it."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select, update
from tests.callcentre.story import TZ

from civiclink.callcentre.actions import do_record_call_events
from civiclink.callcentre.models import CallRollup, CallRollupDay
from civiclink.callcentre.rollup import refresh
from civiclink.callcentre.schemas import CallEventIn
from civiclink.callcentre.service import connection_kpis, first_attempt_rate
from civiclink.db import begin_write

NOW = datetime(2026, 3, 18, 13, 0, tzinfo=TZ).astimezone(UTC)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


def _events(days: int = 6, per_day: int = 40, seed: int = 7) -> list[dict]:
    """Calls over the days before NOW and this morning: answered fast or slowly, given up (some within 5 s),
    from a small set of numbers, so that some are redials."""
    rng = random.Random(seed)
    out = []
    first = (NOW.astimezone(TZ) - timedelta(days=days)).date()
    for d in range(days + 1):
        for i in range(per_day):
            at = datetime(first.year, first.month, first.day, tzinfo=TZ) + timedelta(days=d, minutes=rng.randrange(
                7 * 60, 22 * 60 if d < days else 12 * 60))
            ref, caller, team = f"r{d}-{i}", f"1390000{rng.randrange(60):04d}", rng.choice(["A", "B", "C", None])
            wait = rng.choice([3, 8, 12, 20, 40, 90])
            out += [{"call_id": ref, "type": "offered", "at": at.isoformat(), "caller": caller, "line": "12345"},
                    {"call_id": ref, "type": "queued", "at": (at + timedelta(seconds=1)).isoformat(),
                     **({"team": team} if team else {})}]
            end = at + timedelta(seconds=1 + wait)
            if rng.random() < 0.7:
                out += [{"call_id": ref, "type": "answered", "at": end.isoformat(), "agent": "operator",
                         **({"team": team} if team else {})},
                        {"call_id": ref, "type": "hung_up", "at": (end + timedelta(minutes=3)).isoformat()}]
            else:
                out.append({"call_id": ref, "type": "abandoned", "at": end.isoformat()})
    return out


def _post(state, actors, events: list[dict], now: datetime = NOW) -> None:
    """Through the action, in its own write transaction, as the API does."""
    session = state.sessions()
    try:
        begin_write(session)
        for i in range(0, len(events), 1000):
            do_record_call_events(state.ctx(session, now=now), [CallEventIn.model_validate(e)
                                                                for e in events[i:i + 1000]], actor=actors["admin"])
        session.commit()
    finally:
        session.close()


def _figures(ctx):
    return {
        "kpis": connection_kpis(ctx, date(2026, 3, 10), date(2026, 3, 18)).model_dump(),
        "one day": connection_kpis(ctx, date(2026, 3, 14), date(2026, 3, 14)).model_dump(),
        "一次接通率 odd span": first_attempt_rate(ctx.session, local(2026, 3, 13, 7, 30), NOW, TZ),
        "一次接通率 days": first_attempt_rate(ctx.session, local(2026, 3, 12), local(2026, 3, 18), TZ),
    }


def _live(ctx):
    ctx.session.execute(delete(CallRollupDay))
    try:
        return _figures(ctx)
    finally:
        ctx.session.rollback()


def _marks(session) -> set[date]:
    session.rollback()
    return set(session.execute(select(CallRollupDay.day)).scalars())


def test_rolled_up_call_figures_equal_the_calls_and_follow_late_events(state, session, actors):
    _post(state, actors, _events())
    ctx = state.ctx(session, now=NOW)
    live = _figures(ctx)
    assert live["kpis"]["total"]["offered"] > 200 and live["kpis"]["total"]["contacts"] < live["kpis"]["total"][
        "offered"]  # there are redials
    report = refresh(state, now=NOW)
    assert report.built == [date(2026, 3, 12) + timedelta(days=i) for i in range(6)]  # not today
    assert _marks(session) == set(report.built)
    assert _figures(ctx) == live
    # …and they are read from the roll-up: a row changed by hand changes the figures (then undone).
    session.execute(update(CallRollup).where(CallRollup.day == date(2026, 3, 14))
                    .values(offered=CallRollup.offered + 100, first=CallRollup.first + 10))
    changed = _figures(ctx)
    assert changed["one day"]["total"]["offered"] == live["one day"]["total"]["offered"] + 100 * session.execute(
        select(func.count()).select_from(CallRollup).where(CallRollup.day == date(2026, 3, 14))).scalar_one()
    assert changed["一次接通率 days"][0] > live["一次接通率 days"][0]
    session.rollback()

    # Late events for a built day: the answer of a call that had been given up, and a call the CTI sent late from
    # a number that had just given up (a redial). The day is read from the calls at once, before any refresh.
    late = [{"call_id": "late-1", "type": "offered", "at": local(2026, 3, 14, 10, 0).isoformat(),
             "caller": "13900009999", "line": "12345"},
            {"call_id": "late-1", "type": "abandoned", "at": local(2026, 3, 14, 10, 0, 40).isoformat()},
            {"call_id": "late-2", "type": "offered", "at": local(2026, 3, 14, 10, 5).isoformat(),
             "caller": "13900009999", "line": "12345"},
            {"call_id": "late-2", "type": "answered", "at": local(2026, 3, 14, 10, 5, 9).isoformat(),
             "agent": "operator", "team": "A"}]
    _post(state, actors, late)
    assert date(2026, 3, 14) not in _marks(session) and date(2026, 3, 13) in _marks(session)
    after = _figures(ctx)
    assert after == _live(ctx)
    assert after["one day"]["total"]["offered"] == live["one day"]["total"]["offered"] + 2
    assert after["one day"]["total"]["contacts"] == live["one day"]["total"]["contacts"] + 1  # late-2 redials
    assert refresh(state, now=NOW).built == [date(2026, 3, 14)]
    assert _figures(ctx) == after


def test_another_answer_target_reads_the_calls(state, session, actors):
    _post(state, actors, _events(days=3, per_day=30, seed=11))
    refresh(state, now=NOW)
    session.rollback()
    ctx = state.ctx(session, now=NOW)
    slower = replace(ctx, settings=ctx.settings.model_copy(update={
        "calls": ctx.settings.calls.model_copy(update={"answer_target_seconds": 25})}))
    figures = connection_kpis(slower, date(2026, 3, 15), date(2026, 3, 18))
    ctx.session.execute(delete(CallRollupDay))
    assert figures == connection_kpis(slower, date(2026, 3, 15), date(2026, 3, 18))
    session.rollback()
    assert figures.total.answered_in_target > connection_kpis(ctx, date(2026, 3, 15),
                                                             date(2026, 3, 18)).total.answered_in_target


def test_cli_rolls_up_calls(state, session, actors, cli):
    _post(state, actors, _events(days=2, per_day=5, seed=3), now=datetime.now(UTC))
    first = cli("calls", "rollup")
    assert first.exit_code == 0, first.output
    assert "汇总话务" in first.output and "尚余 0 天" in first.output
    again = cli("calls", "rollup", "--rebuild", "--max-days", "1")
    assert again.exit_code == 0 and "汇总话务 1 天" in again.output
    assert len(_marks(session)) == 1
