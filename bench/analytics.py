"""Analytics benchmark: the 大屏 figures, the KPI set and the 承办单位 scorecard, for a year and for a day, on
databases of different sizes — does the time grow with the table or with the period?

    .venv/bin/python bench/analytics.py [--sizes 100000,1000000] [--engines sqlite,postgres] [--repeat 3]

For each engine and size: a fresh database with the 南通 org tree and ``size`` synthetic 工单 spread over the last
two years (with their 签收/办理 clocks, dispatch rounds, 回访 and the audit events of 重办/办结 the KPIs read), bulk
inserted with SQLAlchemy Core (the bench measures the reads, not the writes). Then the KPI roll-up is built
(``analytics.rollup.refresh``, what the server does in the background; its time is printed), and, median of
``--repeat``: the 大屏 (year, today), the KPI set (365 days; today: its finished hours rolled up, the hour going
on read live; yesterday, rolled up), the
scorecard (365 days). Prints each time and the ratio of the largest size to the smallest (issue 6's target:
the 10 M time ≤ 3× the 100 k time). ``--no-rollup`` measures the same reads on the base tables alone (the
baseline the roll-up is for).
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
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from bench.common import SECRET, median_seconds, postgres, prepare_database  # noqa: E402

CHUNK = 20_000
BULK_TABLES = ("work_order", "assignment", "stage_clock", "callback", "audit_event")
CHANNELS = ["phone", "phone", "phone", "website", "wechat", "app", "sms"]
TYPES = ["complaint", "complaint", "consultation", "report", "help", "suggestion"]


TZ = ZoneInfo("Asia/Shanghai")  # the demo city's (the settings' default)


def generate(url: str, size: int, now: datetime, days: int = 730) -> None:
    """``size`` 工单 over ``days`` days (two years), in the shapes the KPIs read (states, clocks, rounds, visits,
    decisions)."""
    from sqlalchemy import create_engine, func, insert, select

    import civiclink.models  # noqa: F401 - every table
    from civiclink.db import Base
    from civiclink.orgs.models import Category, OrgUnit

    engine = create_engine(url)
    t = Base.metadata.tables
    with engine.connect() as conn:
        units = [r for r in conn.execute(select(OrgUnit.id, OrgUnit.kind))]
        places = [u for u, kind in units if kind in ("street", "town", "community", "village")]
        handlers = [u for u, kind in units if kind in ("department", "district", "county", "street", "town")]
        categories = [c for (c,) in conn.execute(select(Category.id).where(Category.parent_id.is_not(None)))]
        first_event = conn.execute(select(func.coalesce(func.max(t["audit_event"].c.seq), 0))).scalar_one()
    rng = np.random.default_rng(12345)
    span = days * 86400
    order_id = clock_id = assign_id = callback_id = 0
    event_id = first_event  # after the org import's own events
    # The secondary indexes are built once the rows are in, as a bulk load would: kept live, a 10 M insert spends
    # its time in index pages (SQLite had written 11 GB in 100 minutes that way, in one transaction).
    indexes = [i for name in BULK_TABLES for i in t[name].indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    with Progress(TextColumn(f"生成 {size:,} 件工单"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress, engine.connect() as conn:
        task = progress.add_task("orders", total=size)
        # Oldest first over the whole run, as a live system writes them: the rows of one day lie together in the
        # tables (drawn per chunk, a day's rows were spread over the whole file — at 10 M on SQLite, 15 GB).
        all_offsets = np.sort(rng.integers(0, span, size))[::-1]
        for start in range(0, size, CHUNK):
            n = min(CHUNK, size - start)
            offsets = all_offsets[start:start + n]
            fate = rng.random(n)  # < .12 直接办结, < .16 in hand, < .20 awaiting callback, else closed (.05 重办 first)
            orders, clocks, rounds, visits, events = [], [], [], [], []
            for i in range(n):
                order_id += 1
                at = now - timedelta(seconds=int(offsets[i]))
                handler = handlers[int(rng.integers(len(handlers)))]
                intake = fate[i] < 0.12
                state = ("closed_at_intake" if intake else "in_progress" if fate[i] < 0.16
                         else "awaiting_callback" if fate[i] < 0.20 else "closed")
                replied = at + timedelta(hours=float(rng.gamma(2.0, 48.0)))
                # What would happen after now has not happened: still in hand, or still waiting for its 回访
                # (so that "today" holds one day's events, not every recent order's piled onto now).
                if not intake and replied >= now:
                    state = "in_progress"
                elif state == "closed" and replied + timedelta(days=1) >= now:
                    state = "awaiting_callback"
                orders.append({
                    "id": order_id, "number": f"B{order_id:09d}", "version": 1, "state": state,
                    "channel": CHANNELS[order_id % len(CHANNELS)], "request_type": TYPES[order_id % len(TYPES)],
                    "urgency": "normal", "category_id": categories[int(rng.integers(len(categories)))],
                    "title": "路灯不亮", "content": "人民中路路灯坏了", "place_id": places[int(rng.integers(len(places)))],
                    "caller_phone": f"139{int(rng.integers(10**8)):08d}", "registered_at": at,
                    "handling_unit_id": None if intake else handler, "owner_unit_id": None if intake else handler,
                    "dispatch_round": 0 if intake else 1, "closed_at": replied + timedelta(days=1)
                    if state == "closed" else (at if intake else None), "updated_at": at,
                })
                if intake:
                    continue
                assign_id += 1
                returned = rng.random() < 0.06
                rounds.append({"id": assign_id, "order_id": order_id, "round": 1, "unit_id": handler,
                               "dispatched_at": at + timedelta(minutes=20),
                               "return_requested_at": at + timedelta(hours=5) if returned else None})
                sign_due = at + timedelta(hours=4)
                signed = at + timedelta(hours=float(rng.gamma(1.5, 1.5)))
                handle_due = at + timedelta(days=10)
                done = state != "in_progress"
                for stage, started, due, stopped, reason in (
                        ("sign", at + timedelta(minutes=20), sign_due, signed if signed < now else None,
                         "signed" if signed < now else None),
                        ("handle", at + timedelta(minutes=20), handle_due, replied if done else None,
                         "replied" if done else None)):
                    clock_id += 1
                    clocks.append({"id": clock_id, "order_id": order_id, "stage": stage, "round": 1,
                                   "calendar": "working", "limit_label": "bench", "budget_seconds": 3600,
                                   "started_at": started, "effective_start": started, "stopped_at": stopped,
                                   "stop_reason": reason, "due_at": due, "warn_at": due - timedelta(hours=1),
                                   "breached": bool(stopped and stopped > due)})
                if state == "closed" and replied > at:
                    callback_id += 1
                    level = int(rng.choice([1, 1, 2, 2, 2, 3, 4, 5]))
                    visit = replied + timedelta(days=1)
                    visits.append({"id": callback_id, "order_id": order_id, "at": visit, "method": "phone",
                                   "reached": True, "satisfaction": level})
                    decisions = [("order.callback", "closed", visit)]
                    if rng.random() < 0.05:  # 重办 after an unsatisfied 回访, then closed after the second
                        decisions.insert(0, ("order.reopen", "in_progress", visit - timedelta(hours=12)))
                    for action, to_state, moment in decisions:
                        event_id += 1
                        digest = hashlib.sha256(str(event_id).encode()).hexdigest()
                        events.append({"id": event_id, "seq": event_id, "occurred_at": moment, "site_code": "bench",
                                       "actor_name": "bench", "action": action, "entity_type": "work_order",
                                       "entity_id": order_id, "from_state": "awaiting_callback",
                                       "to_state": to_state, "data": {}, "prev_hash": digest, "hash": digest})
            for table, rows in (("work_order", orders), ("assignment", rounds), ("stage_clock", clocks),
                                ("callback", visits), ("audit_event", events)):
                if rows:
                    conn.execute(insert(t[table]), rows)
            conn.commit()
            progress.advance(task, n)
    with Progress(TextColumn("建立索引"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as progress, engine.begin() as conn:
        task = progress.add_task("indexes", total=len(indexes))
        for index in indexes:
            index.create(conn)
            progress.advance(task)
    engine.dispose()
    if url.startswith("postgresql"):
        with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            from sqlalchemy import text

            conn.execute(text("VACUUM ANALYZE"))


def measure(url: str, repeat: int, rollup: bool, now: datetime) -> dict[str, float]:
    from civiclink.analytics import kpis, service
    from civiclink.analytics.rollup import refresh
    from civiclink.app import build_state
    from civiclink.config import get_settings

    settings = get_settings(_env_file=None, database_url=url, secret_key=SECRET, log_level="WARNING",
                            triage={"warm_up": False})
    state = build_state(settings)
    out = {}
    try:
        if rollup:
            with Progress(TextColumn("汇总考核指标"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          transient=True) as progress:
                task = progress.add_task("days", total=None)
                started = time.perf_counter()
                report = refresh(state, now=now, progress=lambda done, total: progress.update(task, completed=done,
                                                                                     total=total))
                out["roll-up build (once)"] = time.perf_counter() - started
            print(f"  roll-up: {len(report.built)} days, {len(report.months)} months, {report.hours} hours in "
                  f"{out['roll-up build (once)']:.1f} s", file=sys.stderr)
        with state.sessions() as session:
            ctx = state.ctx(session, now=now)
            today = ctx.now.astimezone(settings.tz).date()
            # As the API reads them: as of now (today's period ends at now, not at midnight).
            year = kpis.Scope.local_days(today - timedelta(days=364), today, settings.tz, now=ctx.now)
            day = kpis.Scope.local_days(today, today, settings.tz, now=ctx.now)
            yesterday = kpis.Scope.local_days(today - timedelta(days=1), today - timedelta(days=1), settings.tz,
                                              now=ctx.now)
            jobs = {
                "大屏 year": lambda: service.hotline_figures(ctx, "year"),
                "大屏 today": lambda: service.hotline_figures(ctx, "today"),
                "KPI set 365 days": lambda: kpis.kpi_set(session, year, directory=ctx.directory, tz=settings.tz,
                                                         site_role="hotline"),
                "KPI set today": lambda: kpis.kpi_set(session, day, directory=ctx.directory, tz=settings.tz,
                                                      site_role="hotline"),
                "KPI set yesterday": lambda: kpis.kpi_set(session, yesterday, directory=ctx.directory,
                                                          tz=settings.tz, site_role="hotline"),
                "scorecard 365 days": lambda: kpis.scorecard(session, year, directory=ctx.directory),
            }
            out |= median_seconds(jobs, repeat, after=session.rollback)
    finally:
        state.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-rollup", action="store_true", help="read the base tables only")
    parser.add_argument("--days", type=int, default=730, help="the span the 工单 are spread over")
    parser.add_argument("--at", default="16:45", help="the local time of day of 'now' (the last time that was)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # "Now" is a fixed local time of day (the newest 工单 are from then; the reads are as of then): today's
    # figures read its finished hours from the roll-up and the hour going on live, so the time of day matters.
    local_now = datetime.now(TZ)
    hour, minute = (int(x) for x in args.at.split(":"))
    at = local_now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    now = (at if at <= local_now else at - timedelta(days=1)).astimezone(UTC)
    print(f"now: {now.astimezone(TZ):%Y-%m-%d %H:%M} local", file=sys.stderr)
    results: dict[tuple[str, int], dict[str, float]] = {}
    for engine in args.engines.split(","):
        for size in sizes:
            with contextlib.ExitStack() as stack:
                if engine == "sqlite":
                    tmp = stack.enter_context(tempfile.TemporaryDirectory())
                    url = f"sqlite:///{tmp}/analytics.db"
                else:
                    url = stack.enter_context(postgres())
                prepare_database(url)
                started = time.perf_counter()
                generate(url, size, now, days=args.days)
                print(f"{engine} {size:,}: generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
                results[(engine, size)] = measure(url, args.repeat, rollup=not args.no_rollup, now=now)
    names = [n for n in next(iter(results.values())) if n != "roll-up build (once)"] + (
        [] if args.no_rollup else ["roll-up build (once)"])
    print(f"\nanalytics reads (median of {args.repeat}, seconds); ratio = largest size ÷ smallest")
    for engine in args.engines.split(","):
        header = "".join(f"{s:>12,}" for s in sizes)
        print(f"\n{engine:10} {'':22}{header}{'ratio':>9}")
        for name in names:
            row = [results[(engine, s)][name] for s in sizes]
            print(f"{'':10} {name:22}" + "".join(f"{v:12.3f}" for v in row) + f"{row[-1] / row[0]:9.1f}")


if __name__ == "__main__":
    main()
