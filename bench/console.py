"""Console benchmark: what a page costs on top of the API call that reads the same data.

    .venv/bin/python bench/console.py [--orders 3000] [--days 28] [--requests 30]

Builds a 12345 site with the demo's simulated activity (``--orders`` orders over ``--days`` days, every state),
serves it with uvicorn, logs in once through the console (cookie) and once through the API (token), then times
each console page and its API twin in turn, on the same server, the same data and the same user. Prints the
median and p90 of each, and the ratio page ÷ API: the price of rendering HTML (templates, labels, forms built
from the body models, allowed actions per row) over serialising JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2  # noqa: E402
from rich.console import Console  # noqa: E402

from bench.common import SECRET, server  # noqa: E402

PASSWORD = "demo1234"


def build(url: str, orders: int, days: int) -> None:
    from civiclink.config import get_settings
    from civiclink.demo.runner import build_demo

    model = Path(url.removeprefix("sqlite:///")).with_suffix(".pkl")
    settings = get_settings(_env_file=None, database_url=url, secret_key=SECRET, log_level="WARNING",
                            triage={"warm_up": False, "model_path": str(model)})
    build_demo(settings, orders=orders, days=days, seed=12345, console=Console(stderr=True))


def timed(client: httpx2.Client, method: str, path: str, n: int, **kwargs) -> list[float]:
    client.request(method, path, **kwargs).raise_for_status()  # warm-up (and a check that it works)
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        out.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return out


def p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/console-bench.db"
        started = time.perf_counter()
        build(url, args.orders, args.days)
        print(f"site built: {args.orders} orders in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        env = {"CIVICLINK_DATABASE_URL": url, "CIVICLINK_SECRET_KEY": SECRET, "CIVICLINK_LOG_LEVEL": "WARNING",
               "CIVICLINK_TRIAGE__MODEL_PATH": f"{tmp}/console-bench.pkl"}
        with server("civiclink.asgi:app", env) as base:
            rows = run(base, args.requests)
    print(f"\nconsole page vs its API twin, {args.orders} orders, {args.requests} requests each (ms)")
    print(f"{'page':34} {'page p50':>9} {'p90':>7} {'API p50':>9} {'p90':>7} {'ratio':>7}")
    for name, page, api in rows:
        ratio = statistics.median(page) / statistics.median(api)
        print(f"{name:34} {statistics.median(page):9.1f} {p90(page):7.1f} {statistics.median(api):9.1f} "
              f"{p90(api):7.1f} {ratio:7.2f}")


def run(base: str, n: int) -> list[tuple[str, list[float], list[float]]]:
    def pair(username: str) -> tuple[httpx2.Client, httpx2.Client]:
        page = httpx2.Client(base_url=base, timeout=30)
        login = page.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
        if login.status_code != 303:
            raise RuntimeError(f"console login of {username} failed: {login.status_code}")
        token = httpx2.post(base + "/api/auth/token", data={"username": username, "password": PASSWORD}).json()
        api = httpx2.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token['access_token']}"})
        return page, api

    dispatcher, dispatcher_api = pair("dispatcher1")
    supervisor, supervisor_api = pair("supervisor1")
    operator, operator_api = pair("operator1")
    leader, leader_api = pair("leader1")
    number = dispatcher_api.get("/api/orders", params={"state": "signed", "limit": 1}).json()["items"][0]["number"]
    text = "楼下小饭馆每天营业到凌晨两三点，客人喝酒划拳大声吵闹，整栋楼都睡不着"
    return [
        ("派单 queue / orders awaiting", timed(dispatcher, "GET", "/queue/dispatch", n),
         timed(dispatcher_api, "GET", "/api/orders", n, params={"state": ["awaiting_dispatch", "return_requested",
                                                                          "registered"], "limit": 30})),
        ("order page / order + timeline", timed(dispatcher, "GET", f"/orders/{number}", n),
         [a + b for a, b in zip(timed(dispatcher_api, "GET", f"/api/orders/{number}", n),
                                timed(dispatcher_api, "GET", f"/api/orders/{number}/timeline", n), strict=True)]),
        ("search 路灯 / orders?q=", timed(dispatcher, "GET", "/orders", n, params={"q": "路灯"}),
         timed(dispatcher_api, "GET", "/api/orders", n, params={"q": "路灯", "limit": 30})),
        ("督办台 / sla warnings", timed(supervisor, "GET", "/queue/supervise", n),
         timed(supervisor_api, "GET", "/api/sla/warnings", n, params={"limit": 200})),
        ("triage panel / POST triage", timed(operator, "POST", "/intake/triage", n,
                                             data={"content": text, "channel": "phone"}),
         timed(operator_api, "POST", "/api/triage", n, json={"text": text, "channel": "phone", "record": False})),
        ("大屏 data / analytics (year)", timed(leader, "GET", "/dashboard/data", n, params={"period": "year"}),
         timed(leader_api, "GET", "/api/analytics/dashboard", n, params={"period": "year"})),
    ]


if __name__ == "__main__":
    main()
