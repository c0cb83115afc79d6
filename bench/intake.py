"""Intake benchmark: register work orders over HTTP against a running server, side by side with the floor.

    .venv/bin/python bench/intake.py [--seconds 30] [--concurrency 16] [--rate 100] [--engines sqlite,postgres]

For each engine: a fresh database, CivicLink's full intake path (token auth, validation, 属地 resolution,
派单目录, number, clocks, audit chain) under uvicorn, then the floor app (bench/floor_app.py: one INSERT per
request into the same database, same server settings). Reports throughput and p50/p99 latency of a closed
loop, the ratio to the floor, and p99 at a fixed rate (100 req/s by default).
Targets (issue 2): ≥ 50 % of the floor's throughput on both engines; p99 < 50 ms at 100 req/s.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import SECRET, closed_loop, open_loop, postgres, prepare_database, server  # noqa: E402

ADDRESSES = ["南通市崇川区和平桥街道人民中路18号", "通州区金沙街道朝霞路88号", "海门区三星镇", "如皋市城南街道",
             "开发区竹行街道通盛大道", "崇川区唐闸镇街道南市街"]


def order_body(worker: int, n: int) -> dict:
    return {
        "channel": "phone",
        "caller": {"name": "张三", "phone": f"138{(worker * 100000 + n) % 100000000:08d}"},
        "title": f"路灯不亮 {worker}-{n}",
        "content": "人民中路一段路灯坏了一周，晚上很黑，请尽快修。",
        "request_type": "complaint",
        "category": "cxjs.szgl",
        "address": ADDRESSES[n % len(ADDRESSES)],
        "urgency": "normal",
    }


def floor_body(worker: int, n: int) -> dict:
    b = order_body(worker, n)
    return {"title": b["title"], "content": b["content"], "address": b["address"]}


def run_engine(name: str, url: str, args) -> list[tuple]:
    token = prepare_database(url, operator=True)
    rows = []
    env = {"CIVICLINK_DATABASE_URL": url, "CIVICLINK_SECRET_KEY": SECRET, "CIVICLINK_LOG_LEVEL": "WARNING"}
    targets = [
        ("CivicLink 登记", "civiclink.asgi:app", env, "/api/orders", order_body, {"Authorization": f"Bearer {token}"}),
        ("floor (bare insert)", "bench.floor_app:app", {"FLOOR_DATABASE_URL": url}, "/orders", floor_body, {}),
    ]
    for label, app_path, app_env, path, body, headers in targets:
        with server(app_path, app_env, workers=args.workers) as base:
            closed_loop(base + path, body, headers, 2, args.concurrency)  # warm-up
            closed = closed_loop(base + path, body, headers, args.seconds, args.concurrency)
            rated = open_loop(base + path, body, headers, args.rate_seconds, args.rate)
        rows.append((name, label, closed, rated))
        print(f"  {name:8} {label:20} {closed.throughput:8.1f} req/s  p50 {closed.p50:6.1f} ms  "
              f"p99 {closed.p99:6.1f} ms  | at {args.rate:.0f} req/s: p99 {rated.p99:6.1f} ms  "
              f"errors {closed.errors + rated.errors}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--rate-seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    results = []
    for engine in args.engines.split(","):
        with contextlib.ExitStack() as stack:
            if engine == "sqlite":
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = f"sqlite:///{tmp / 'bench.db'}"
            else:
                url = stack.enter_context(postgres())
            results.extend(run_engine(engine, url, args))
    print("\nengine    throughput ratio (CivicLink / floor)   p99 at fixed rate (CivicLink)")
    by_engine: dict[str, dict] = {}
    for engine, label, closed, rated in results:
        by_engine.setdefault(engine, {})[label.split()[0]] = (closed, rated)
    for engine, d in by_engine.items():
        ours, floor = d["CivicLink"], d["floor"]
        ratio = ours[0].throughput / floor[0].throughput
        print(f"{engine:9} {ratio:6.2f}  ({ours[0].throughput:.0f} vs {floor[0].throughput:.0f} req/s)"
              f"{'':14}{ours[1].p99:.1f} ms")


if __name__ == "__main__":
    main()
