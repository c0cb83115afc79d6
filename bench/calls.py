"""Call-record benchmark (issue 7): a year of a large city's calls — 3 million CTI events — then the connection
KPIs for the year and for one day, and the 大屏's 一次接通率.

    .venv/bin/python bench/calls.py [--events 3000000] [--engines sqlite,postgres] [--repeat 3]

For each engine: a fresh database; ``--events`` events over the last 365 days (offered, queued, answered or
abandoned, hung up; a share transferred to 110), their calls assembled by ``callcentre.service`` rules but
bulk-inserted with SQLAlchemy Core (the bench measures reads, not the per-call assembly). The ingestion path
itself (``do_record_call_events``: dedupe, assemble, redials, audit) is timed on ``--ingest`` events posted in
batches of 1,000, as the CTI adapter would. Reads, median of ``--repeat``: the KPIs (total, by hour, day and
team, worst 24 h) for 365 days and for one day, and the 大屏's 一次接通率 for the year — first from the calls, then
from the call roll-up (``callcentre.rollup``, built once, timed). Baseline, measured in the same run: one COUNT(*)
of the period's calls — the least any read of them can cost; the ratio says what the KPIs read from the calls
cost beyond it, and the roll-up's how much faster it answers the same.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.common import SECRET, median_seconds, postgres, prepare_database

CHUNK = 20_000
TEAMS = ("A", "B", "C", "D")
# Every column a generated call may set (one executemany needs the same keys in every row).
COLUMNS = ("answered_at", "ended_at", "talk_seconds", "agent", "transferred_to", "transferred_at", "callback_state")


def _settings(url: str):
    from civiclink.config import get_settings

    return get_settings(_env_file=None, database_url=url, secret_key=SECRET, log_level="WARNING",
                        triage={"warm_up": False})


def generate(url: str, events: int, now: datetime) -> int:
    """Calls whose events add up to ``events``; returns the number of calls. Arrivals follow a double-peaked day
    (09–11 and 14–16) with fewer at night; 4 % give up, a third of those within 5 s; 1 % go to 110."""
    from sqlalchemy import create_engine, insert

    import civiclink.models  # noqa: F401 - every table
    from civiclink.db import Base

    settings = _settings(url)
    tz = settings.tz
    engine = create_engine(url)
    t = Base.metadata.tables
    rng = np.random.default_rng(12345)
    calls = events // 4  # four events a call on average
    hour_weight = np.array([1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 10, 13, 13, 11, 9, 7, 6, 5, 4, 3, 2], float)
    hour_weight /= hour_weight.sum()
    written_events = 0
    with Progress(TextColumn(f"生成 {calls:,} 通电话"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress, engine.begin() as conn:
        task = progress.add_task("calls", total=calls)
        call_id = event_id = 0
        for start in range(0, calls, CHUNK):
            n = min(CHUNK, calls - start)
            days = rng.integers(0, 365, n)
            hours = rng.choice(24, n, p=hour_weight)
            seconds = rng.integers(0, 3600, n)
            fate = rng.random(n)
            waits = rng.gamma(1.2, 8.0, n)
            talks = rng.gamma(2.0, 90.0, n)
            callers = rng.integers(0, 400_000, n)
            rows, event_rows = [], []
            for i in range(n):
                call_id += 1
                day = (now.astimezone(tz) - timedelta(days=int(days[i]))).date()
                local = datetime(day.year, day.month, day.day, int(hours[i]), tzinfo=tz) + timedelta(
                    seconds=int(seconds[i]))
                offered = local.astimezone(UTC)
                queued = offered + timedelta(seconds=2)
                caller = f"139{int(callers[i]):08d}"
                ref = f"b{call_id:09d}"
                answered = fate[i] >= 0.04
                wait = float(waits[i]) if answered or fate[i] >= 0.013 else float(rng.uniform(0.5, 4.5))
                end = queued + timedelta(seconds=wait)
                row = dict.fromkeys(COLUMNS) | {"call_ref": ref, "version": 1, "line": "12345", "caller": caller, "offered_at": offered,
                       "local_day": local.date(), "local_hour": local.hour,
                       "local_slot": local.hour * 2 + (local.minute >= 30), "queued_at": queued,
                       "outcome": "answered" if answered else "abandoned", "wait_seconds": wait,
                       "short_abandon": not answered and wait < 5, "redial": False,
                       "team": TEAMS[(call_id // 7) % 4], "updated_at": now}
                kinds = [("offered", offered), ("queued", queued)]
                if answered:
                    hung = end + timedelta(seconds=float(talks[i]))
                    row |= {"answered_at": end, "ended_at": hung, "talk_seconds": float(talks[i]),
                            "agent": f"op{call_id % 300:03d}"}
                    if fate[i] > 0.99:
                        row |= {"transferred_to": "110", "transferred_at": hung - timedelta(seconds=5)}
                        kinds.append(("transferred", hung - timedelta(seconds=5)))
                    kinds += [("answered", end), ("hung_up", hung)]
                else:
                    row |= {"ended_at": end, "callback_state": None if wait < 5 else "pending"}
                    kinds.append(("abandoned", end))
                rows.append(row)
                for kind, at in kinds:
                    event_id += 1
                    event_rows.append({"digest": hashlib.sha256(f"{ref}{kind}".encode()).hexdigest(),
                                       "call_ref": ref, "kind": kind, "at": at, "caller": caller, "line": "12345",
                                       "batch": "bench", "recorded_at": now})
            conn.execute(insert(t["call"]), rows)
            conn.execute(insert(t["call_event"]), event_rows)
            written_events += len(event_rows)
            progress.advance(task, n)
    engine.dispose()
    if url.startswith("postgresql"):
        from sqlalchemy import text

        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
    print(f"  {calls:,} calls, {written_events:,} events", file=sys.stderr)
    return calls


def ingest(url: str, events: int, now: datetime) -> float:
    """Events per second through ``do_record_call_events`` in batches of 1,000 (fresh calls)."""
    from civiclink.app import build_state
    from civiclink.callcentre.actions import do_record_call_events
    from civiclink.callcentre.schemas import CallEventIn
    from civiclink.db import begin_write
    from civiclink.orgs.roles import SYSTEM

    state = build_state(_settings(url))
    batch: list[CallEventIn] = []
    started = time.perf_counter()
    try:
        for i in range(events // 4):
            at = now - timedelta(hours=2) + timedelta(seconds=i)
            ref, caller = f"i{i:08d}", f"138{i % 50_000:08d}"
            batch += [CallEventIn(call_id=ref, type="offered", at=at, caller=caller, line="12345"),
                      CallEventIn(call_id=ref, type="queued", at=at + timedelta(seconds=1), team="A"),
                      CallEventIn(call_id=ref, type="answered", at=at + timedelta(seconds=9), agent="op001"),
                      CallEventIn(call_id=ref, type="hung_up", at=at + timedelta(seconds=150))]
            if len(batch) >= 1000:
                with state.sessions() as session:
                    begin_write(session)
                    do_record_call_events(state.ctx(session), batch, actor=SYSTEM, source="bench")
                    session.commit()
                batch = []
    finally:
        state.engine.dispose()
    return events / (time.perf_counter() - started)


def measure(url: str, repeat: int) -> dict[str, float]:
    from sqlalchemy import func, select

    from civiclink.analytics.service import first_attempt_connection_rate
    from civiclink.app import build_state
    from civiclink.callcentre.models import Call
    from civiclink.callcentre.rollup import refresh
    from civiclink.callcentre.service import connection_kpis

    state = build_state(_settings(url))
    out = {}
    try:
        with state.sessions() as session:
            ctx = state.ctx(session)
            today = ctx.now.astimezone(ctx.settings.tz).date()
            first = today - timedelta(days=364)
            year_start = datetime.combine(first, datetime.min.time(), tzinfo=ctx.settings.tz)
            day_start = datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=ctx.settings.tz)

            def count(since, until):
                return session.execute(select(func.count()).select_from(Call).where(
                    Call.offered_at >= since, Call.offered_at < until)).scalar_one()

            tz = ctx.settings.tz
            jobs = {
                "baseline: COUNT(*) 365 days": lambda: count(year_start, ctx.now),
                "KPIs 365 days": lambda: connection_kpis(ctx, first, today),
                "大屏 一次接通率 365 days": lambda: first_attempt_connection_rate(session, year_start, ctx.now, tz),
                "baseline: COUNT(*) 1 day": lambda: count(day_start, day_start + timedelta(days=1)),
                "KPIs 1 day (yesterday)": lambda: connection_kpis(ctx, today - timedelta(days=1),
                                                                  today - timedelta(days=1)),
            }
            # First from the calls (nothing rolled up yet), then from the roll-up the server keeps.
            out |= {f"{name} · calls" if not name.startswith("baseline") else name: seconds
                    for name, seconds in median_seconds(jobs, repeat, after=session.rollback).items()}
            session.rollback()
            started = time.perf_counter()
            report = refresh(state, now=ctx.now)
            print(f"  call roll-up: {len(report.built)} days in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
            reads = {name: job for name, job in jobs.items() if not name.startswith("baseline")}
            out |= {f"{name} · roll-up": seconds
                    for name, seconds in median_seconds(reads, repeat, after=session.rollback).items()}
    finally:
        state.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--ingest", type=int, default=20_000, help="events timed through the ingestion action")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    now = datetime.now(UTC)
    for engine in args.engines.split(","):
        with contextlib.ExitStack() as stack:
            if engine == "sqlite":
                tmp = stack.enter_context(tempfile.TemporaryDirectory())
                url = f"sqlite:///{tmp}/calls.db"
            else:
                url = stack.enter_context(postgres())
            prepare_database(url)
            started = time.perf_counter()
            generate(url, args.events, now)
            print(f"{engine}: generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            results = measure(url, args.repeat)
            rate = ingest(url, args.ingest, now)
        print(f"\n{engine}: call-record reads (median of {args.repeat}, seconds; ratio = ÷ the baseline above it)")
        baseline = None
        for name, seconds in results.items():
            if name.startswith("baseline"):
                baseline = seconds
                print(f"  {name:42} {seconds:9.3f}")
            elif name.endswith("· roll-up"):
                from_calls = results[name.replace("· roll-up", "· calls")]
                print(f"  {name:42} {seconds:9.3f}   {from_calls / seconds:.0f}× faster than from the calls")
            else:
                print(f"  {name:42} {seconds:9.3f}   ×{seconds / baseline:.1f}")
        print(f"  ingestion (do_record_call_events, batches of 1,000): {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
