"""Exchange benchmark: 12345 → 110 → 12345 round trips between two real site processes, side by side with the
floor (a raw HTTP POST round trip between the same two processes), then the same under SIGKILLs of the 110.

    .venv/bin/python bench/exchange.py [--quick] [--round-trips 10000] [--kill-round-trips 500] [--in-flight 128]
                                       [--floor-seconds 10] [--kill-every 3:6] [--py-spy DIR]

Set-up (not timed). A hotline site (12345) and a police site (110), each its own SQLite file under a temp dir,
made each other's peer with ``civiclink.sites.pair``, prepared with ``sites.prepare`` and started with
``sites.launch`` — ``civiclink serve`` in its own process, configured only by ``CIVICLINK_*`` variables, every
setting at its default (relay thread in each server, batch 200, poll 1 s, lease 30 s, backoff 0.5 s…) — i.e.
what a deployment runs. Users: a 话务员 (operator) on 12345 and a 110 指挥员 (police_commander: may sign,
dispatch and finish) on 110, each logged in once. The orders to transfer are registered beforehand over the
API (``submit: false``: 已登记), as many as both timed runs need.

One round trip (what the issue calls transfer → accept → result):
  1. the benchmark, as the 12345 operator, calls ``POST /api/orders/{n}/transfer-to-110`` (一键转接, not an
     emergency) — the clock of the case starts just before this call;
  2. the hotline's relay thread delivers the ``transfer.offer`` envelope to the 110 inbox; a 警单 appears in
     state ``received`` (待签收);
  3. an automated 110 desk in this process — what the 110 指挥员 does through the police API — polls
     ``GET /api/incidents?state=received`` (one page, newest first; never more than --in-flight are waiting) and
     works each new 警单 through ``/sign`` (签收 → ``transfer.accept``), ``/dispatch`` (派警 →
     ``police.dispatched``) and ``/finish`` with situation + result_note (处置反馈 → ``result``), each with the
     version it saw; a refused or unanswered step re-reads the 警单 and continues from its real state (so a
     step committed just before a SIGKILL is never done twice);
  4. the police relay delivers the three envelopes back; the round trip ends when the hotline shows the transfer
     in state ``result`` (and the order in ``awaiting_callback``, checked at the end from the database). A
     watcher polls ``GET /api/linkage/transfers?direction=out&state=result`` newest first with a page sized to
     what has arrived since the last poll (it doubles while the page is all new); a case still unseen after 2 s
     is also asked for on its own (``GET /api/orders/{n}``) once a second, since a late older case may sit
     below the page. Latency therefore includes the watcher's detection delay (a 20 ms poll + one request).
The emergency path (a transfer with ``emergency: true`` is dispatched on receipt) would skip two desk steps;
it is not what most transfers are, so the desk does the whole 签收/派警/反馈 path.

Load: a closed loop keeping --in-flight cases open at once (128 by default: enough for the relays to carry
batches of tens of envelopes); a new transfer starts whenever a case completes. Throughput = completed round
trips ÷ (last completion − first transfer). The stage columns split the median case into: to the 110 (transfer
call until the desk first sees the 警单), desk (first sight until /finish answered), back (until the hotline
shows the result).

The floor: a raw HTTP POST round trip between the same two server processes, with no writes: the benchmark
posts ``{"envelopes": [e]}`` to the 110's ``/api/exchange/inbox``, then ``{"envelopes": [e']}`` to the 12345's
— one hop there and one back, as the case's messages travel. ``e``/``e'`` are minimal valid envelopes, signed
with the pair's key, whose ``message_id`` was posted once during set-up: each POST goes through the whole
inbox path (parse, shape check, known sender, HMAC verify, the write batcher's transaction, the inbox lookup)
and is answered "duplicate", changing nothing. Same client library, a closed loop of --floor-concurrency
workers. (The app processes cannot be made to POST to each other on demand without changing src/, so the
benchmark's process makes both hops; the relay's own POSTs carry up to 200 envelopes each, the floor's one.)
Target (issue): system throughput ≥ 50 % of the floor's.

Then the crash run: --kill-round-trips more round trips while a thread SIGKILLs the 110 process every
--kill-every seconds (uniform in the range) and starts it again on the same port and database. Afterwards the
benchmark waits until both outboxes are empty and checks both databases (read directly with sqlite3):
  lost = a transferred order without exactly one finished 110 警单, or whose order is not awaiting_callback
         with its transfer in state result, or a message not delivered (outbox rows still pending/dead);
  duplicated = 110 警单 or inbound transfer records beyond one per case, inbox rows beyond one per
         (sender, case, seq), audit events of a step recorded twice (two ``incident.sign`` on one 警单, two
         ``police_result`` on one order).
Both runs' cases are checked (the whole databases), and redeliveries the inbox turned into "duplicate" acks
are counted (expected after a kill: the peer applied a batch but died before answering).

--quick: 600 round trips, 200 under kills, a 4 s floor. --py-spy DIR: sample both servers with py-spy during
the middle of the system run (raw collapsed stacks in DIR; a summary of the hottest frames is printed).
Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import collections
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

import httpx2 as httpx  # noqa: E402

PASSWORD = "bench-password-1"
PEER_SECRET = "bench-peer-secret-0123456789abcdef"
HOTLINE_CODE, POLICE_CODE = "nt-12345", "nt-110"
ADDRESSES = ["南通市崇川区和平桥街道人民中路18号", "通州区金沙街道朝霞路88号", "海门区三星镇", "如皋市城南街道",
             "开发区竹行街道通盛大道", "崇川区唐闸镇街道南市街"]

_PROCS: dict[str, subprocess.Popen] = {}  # every server process we started, by site


def _cleanup() -> None:
    for proc in list(_PROCS.values()):
        if proc.poll() is None:
            proc.kill()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_cleanup)


# -- the police routes' workaround (see report) ----------------------------------------------------------------


def incident_routes_broken() -> bool:
    """True when the 警单 action routes take ``body`` from the query string (the annotation ``body_model`` of
    ``incidents/api.py::_action_route`` is left a string by ``from __future__ import annotations``)."""
    from fastapi.routing import APIRoute

    from civiclink.incidents import api as iapi

    return any(isinstance(r, APIRoute) and any(p.name == "body" for p in r.dependant.query_params)
               for r in iapi.router.routes)


def patch_incident_routes() -> int:
    """Re-register src's own action endpoints with their annotations resolved (no code of ours on the path)."""
    from fastapi.routing import APIRoute

    from civiclink.incidents import api as iapi
    from civiclink.incidents.schemas import INCIDENT_ACTION_BODIES, IncidentRead
    from civiclink.incidents.states import IncidentAction

    broken = [r for r in iapi.router.routes
              if isinstance(r, APIRoute) and any(p.name == "body" for p in r.dependant.query_params)]
    for route in broken:
        iapi.router.routes.remove(route)
        endpoint = route.endpoint
        action = IncidentAction(endpoint.__name__.removeprefix("incident_"))
        endpoint.__annotations__ = {"number": str, "body": INCIDENT_ACTION_BODIES[action], "ctx": iapi.CtxDep,
                                    "actor": iapi.CurrentActor, "state": iapi.StateDep, "return": IncidentRead}
        iapi.router.add_api_route(route.path.removeprefix(iapi.router.prefix), endpoint, methods=["POST"],
                                  summary=route.summary, response_model=IncidentRead)
    return len(broken)


def serve_patched(host: str, port: int) -> None:
    """What ``civiclink serve --workers 1 --no-upgrade`` does, after ``patch_incident_routes``."""
    import uvicorn

    from civiclink.app import create_app
    from civiclink.config import get_settings

    patch_incident_routes()
    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


# -- sites --------------------------------------------------------------------------------------------------


@dataclass
class Pair:
    tmp: Path
    hotline: object  # SiteSpec
    police: object
    patched: bool
    logs: Path
    restarts: int = 0

    def db(self, site: str) -> Path:
        spec = self.hotline if site == "hotline" else self.police
        return Path(spec.database_url.removeprefix("sqlite:///"))


def start(pair: Pair, site: str) -> subprocess.Popen:
    from civiclink import sites

    spec = pair.hotline if site == "hotline" else pair.police
    log = pair.logs / f"{site}.log"
    if site == "police" and pair.patched:
        out = open(log, "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen([sys.executable, __file__, "--serve-patched", spec.host, str(spec.port)],
                                env={**os.environ, **spec.env()}, stdout=out, stderr=subprocess.STDOUT)
        out.close()
    else:
        proc = sites.launch(spec, log=log)
    _PROCS[site] = proc
    sites.wait_until_up(spec, process=proc, timeout=60)
    return proc


def make_pair(tmp: Path) -> Pair:
    from civiclink import sites

    hotline = sites.SiteSpec(site_code=HOTLINE_CODE, role="hotline", level="city", name="南通市12345热线",
                             port=sites.free_port(), database_url=f"sqlite:///{tmp / 'hotline.db'}",
                             secret_key="bench-hotline-secret-key-0123456789", number_prefix="GD")
    police = sites.SiteSpec(site_code=POLICE_CODE, role="police", level="city", name="南通市110报警服务台",
                            port=sites.free_port(), database_url=f"sqlite:///{tmp / 'police.db'}",
                            secret_key="bench-police-secret-key-0123456789", number_prefix="JJ")
    sites.pair(hotline=hotline, police=police, secret=PEER_SECRET)
    sites.prepare(hotline, [("op", "话务员甲", ["operator"], "12345")], password=PASSWORD)
    sites.prepare(police, [("desk", "指挥员乙", ["police_commander"], "gaj.110")], password=PASSWORD)
    logs = tmp / "logs"
    logs.mkdir()
    return Pair(tmp=tmp, hotline=hotline, police=police, patched=incident_routes_broken(), logs=logs)


def login(base: str, username: str) -> dict[str, str]:
    r = httpx.post(base + "/api/auth/token", data={"username": username, "password": PASSWORD}, timeout=30)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def client(base: str, headers: dict | None = None, *, connections: int = 64) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers=headers or {}, timeout=30,
                             limits=httpx.Limits(max_connections=connections,
                                                 max_keepalive_connections=connections))


async def register_orders(base: str, headers: dict, n: int, concurrency: int = 16) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    todo = iter(range(n))
    async with client(base, headers, connections=concurrency) as c:
        async def worker():
            for i in todo:
                r = await c.post("/api/orders", json={
                    "channel": "phone", "caller": {"name": "张三", "phone": f"138{i:08d}"},
                    "title": f"邻居家中传出打斗声 {i}", "content": "来电称邻居家中持续传出打斗和呼救声，请110处置。",
                    "request_type": "help", "address": ADDRESSES[i % len(ADDRESSES)], "submit": False})
                r.raise_for_status()
                out.append((r.json()["number"], r.json()["version"]))
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


# -- the floor ------------------------------------------------------------------------------------------------


def floor_envelopes(pair: Pair) -> tuple[str, str]:
    """One envelope for each inbox, posted once now (stored, refused for want of a matching case)."""
    from civiclink.exchange import envelope as env

    bodies = []
    for sender, receiver, base in ((HOTLINE_CODE, POLICE_CODE, pair.police.base_url),
                                   (POLICE_CODE, HOTLINE_CODE, pair.hotline.base_url)):
        e = env.build(case_ref=f"bench-floor:{receiver}", seq=1, type="progress", sender=sender, receiver=receiver,
                      body={"note": "floor"}, secret=PEER_SECRET)
        body = '{"envelopes":[' + env.dumps(e) + "]}"
        r = httpx.post(base + "/api/exchange/inbox", content=body.encode(),
                       headers={"Content-Type": "application/json"}, timeout=30)
        r.raise_for_status()
        r2 = httpx.post(base + "/api/exchange/inbox", content=body.encode(),
                        headers={"Content-Type": "application/json"}, timeout=30)
        assert r2.json()["acks"][0]["status"] == "duplicate", r2.text
        bodies.append(body)
    return bodies[0], bodies[1]


@dataclass
class Result:
    label: str
    n: int
    seconds: float
    latencies_ms: list[float]
    stages_ms: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return self.n / self.seconds if self.seconds else float("nan")

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]


async def run_floor(pair: Pair, seconds: float, concurrency: int) -> Result:
    to_police, to_hotline = floor_envelopes(pair)
    hj = {"Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    async with client(pair.police.base_url, hj, connections=concurrency) as pc, \
            client(pair.hotline.base_url, hj, connections=concurrency) as hc:
        async def worker(stop_at: float, record: bool):
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                r1 = await pc.post("/api/exchange/inbox", content=to_police)
                r2 = await hc.post("/api/exchange/inbox", content=to_hotline)
                if record:
                    latencies.append((time.perf_counter() - t0) * 1000)
                    ok = r1.status_code == r2.status_code == 200 and \
                        r1.json()["acks"][0]["status"] == r2.json()["acks"][0]["status"] == "duplicate"
                    errors += not ok
        await asyncio.gather(*(worker(time.perf_counter() + 1.5, False) for _ in range(concurrency)))  # warm-up
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Result("floor (2 duplicate-ack POSTs)", len(latencies), elapsed, latencies, errors=errors)


# -- the system round trip ----------------------------------------------------------------------------------


@dataclass
class Case:
    number: str
    version: int
    t0: float = 0.0
    seen_by_desk: float = 0.0
    finished: float = 0.0
    done: float = 0.0
    last_probe: float = 0.0


class Driver:
    """The 12345 operator (transfers), the 110 desk and the watcher, in one event loop."""

    def __init__(self, pair: Pair, hheaders: dict, pheaders: dict, cases: list[Case], in_flight: int):
        self.pair = pair
        self.hheaders, self.pheaders = hheaders, pheaders
        self.cases = cases
        self.by_number = {c.number: c for c in cases}
        self.in_flight = in_flight
        self.open: dict[str, Case] = {}
        self.completed = 0
        self.all_done = asyncio.Event()
        self.desk_seen: set[str] = set()  # 警单 numbers the desk has taken
        self.desk_slots = asyncio.Semaphore(48)
        self.counters: collections.Counter = collections.Counter()
        self.anomalies: list[str] = []
        self.recent_latencies: list[float] = []
        self.last_probe_round = 0.0

    # 12345 operator ------------------------------------------------------------------------------------------

    async def operator(self, hc: httpx.AsyncClient):
        slots = asyncio.Semaphore(self.in_flight)
        calls = asyncio.Semaphore(32)
        tasks = []

        async def one(case: Case):
            async with calls:
                case.t0 = time.perf_counter()
                self.open[case.number] = case
                while True:
                    r = await hc.post(f"/api/orders/{case.number}/transfer-to-110",
                                      json={"version": case.version, "reason": "涉嫌违法犯罪，属110受理范围"})
                    if r.status_code == 200:
                        break
                    self.counters[f"transfer HTTP {r.status_code}"] += 1
                    if r.status_code == 409:  # a retry after an unanswered commit: check the real state
                        g = await hc.get(f"/api/orders/{case.number}")
                        if g.json()["state"] != "registered":
                            break
                        case.version = g.json()["version"]
                    await asyncio.sleep(0.05)

        for case in self.cases:
            await slots.acquire()
            case.slot = slots  # type: ignore[attr-defined]
            tasks.append(asyncio.create_task(one(case)))
        await asyncio.gather(*tasks)

    def complete(self, case: Case, now: float) -> None:
        if case.done or case.number not in self.open:
            return
        case.done = now
        del self.open[case.number]
        self.completed += 1
        self.recent_latencies.append(now - case.t0)
        case.slot.release()  # type: ignore[attr-defined]
        if self.completed == len(self.cases):
            self.all_done.set()

    # 12345 watcher -------------------------------------------------------------------------------------------

    async def watcher(self, hc: httpx.AsyncClient):
        limit = 64
        while not self.all_done.is_set():
            try:
                r = await hc.get("/api/linkage/transfers", params={"direction": "out", "state": "result",
                                                                  "limit": limit})
                now = time.perf_counter()
                rows = r.json() if r.status_code == 200 else []
                self.counters["watcher polls"] += 1
                new = 0
                for row in rows:
                    case = self.by_number.get(row["local_number"])
                    if case is not None and not case.done and case.t0:
                        self.complete(case, now)
                        new += 1
                if rows and new == len(rows) and limit < 1000:
                    limit = min(1000, limit * 2)
                    continue  # all new: there may be more below the page
                full = len(rows) == limit
                limit = max(64, min(1000, 4 * new, limit)) if new else max(64, limit // 2)
                if full:  # an older case may sit below the page
                    await self.probe_stale(hc, now)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.02)

    async def probe_stale(self, hc: httpx.AsyncClient, now: float):
        """Cases open for much longer than usual (3 × the median so far, at least 2 s) are asked for one by one,
        each at most once a second, 8 every 0.2 s at most (≤ 40/s; in practice a handful)."""
        if now - self.last_probe_round < 0.2:
            return
        self.last_probe_round = now
        recent = self.recent_latencies[-200:]
        threshold = max(2.0, 3 * statistics.median(recent)) if recent else 2.0
        stale = sorted((c for c in list(self.open.values())
                        if c.t0 and now - c.t0 > threshold and now - c.last_probe > 1.0),
                       key=lambda c: c.last_probe)[:8]
        if not stale:
            return

        async def probe(case: Case):
            case.last_probe = time.perf_counter()
            self.counters["watcher single probes"] += 1
            r = await hc.get(f"/api/orders/{case.number}")
            if r.status_code == 200 and r.json()["state"] == "awaiting_callback":
                self.complete(case, time.perf_counter())
        await asyncio.gather(*(probe(c) for c in stale), return_exceptions=True)

    # 110 desk ------------------------------------------------------------------------------------------------

    async def desk(self, pc_factory):
        pc = pc_factory()
        tasks: set[asyncio.Task] = set()
        try:
            while not self.all_done.is_set():
                try:
                    r = await pc.get("/api/incidents", params={"state": "received", "limit": 500})
                    self.counters["desk polls"] += 1
                    items = r.json()["items"] if r.status_code == 200 else []
                except (httpx.HTTPError, ValueError):
                    self.counters["desk poll failed (110 down)"] += 1
                    await asyncio.sleep(0.1)
                    continue
                now = time.perf_counter()
                for item in reversed(items):  # oldest first
                    if item["number"] in self.desk_seen:
                        continue
                    self.desk_seen.add(item["number"])
                    case = self.by_number.get(item["hotline_number"])
                    if case is None:
                        self.anomalies.append(f"unknown 警单 {item['number']} for {item['hotline_number']}")
                        continue
                    if not case.seen_by_desk:
                        case.seen_by_desk = now
                    t = asyncio.create_task(self.work(pc, item["number"], item["version"], item["state"], case))
                    tasks.add(t)
                    t.add_done_callback(tasks.discard)
                await asyncio.sleep(0.02)
        finally:
            for t in tasks:
                t.cancel()
            await pc.aclose()

    async def work(self, pc: httpx.AsyncClient, number: str, version: int, state: str, case: Case):
        async with self.desk_slots:
            while True:
                try:
                    if state == "received":
                        r = await pc.post(f"/api/incidents/{number}/sign", json={"version": version})
                    elif state == "signed":
                        r = await pc.post(f"/api/incidents/{number}/dispatch", json={"version": version})
                    elif state in ("dispatched", "arrived"):
                        r = await pc.post(f"/api/incidents/{number}/finish", json={
                            "version": version, "situation": "民警到场，双方已分开，无人受伤",
                            "result_note": "口头警告，双方和解"})
                    elif state == "finished":
                        if not case.finished:
                            case.finished = time.perf_counter()
                        return
                    else:
                        self.anomalies.append(f"警单 {number} in state {state}")
                        return
                    if r.status_code == 200:
                        j = r.json()
                        version, state = j["version"], j["state"]
                        continue
                    self.counters[f"desk HTTP {r.status_code}"] += 1
                except (httpx.HTTPError, ValueError):
                    self.counters["desk step failed (110 down)"] += 1
                    await asyncio.sleep(0.2)
                # refused or unanswered: read the 警单 and go on from its real state
                while True:
                    try:
                        g = await pc.get(f"/api/incidents/{number}")
                        if g.status_code == 200:
                            version, state = g.json()["version"], g.json()["state"]
                            break
                    except (httpx.HTTPError, ValueError):
                        pass
                    await asyncio.sleep(0.2)

    async def run(self) -> float:
        p = self.pair
        async with client(p.hotline.base_url, self.hheaders) as hc, \
                client(p.hotline.base_url, self.hheaders, connections=8) as wc:
            def police_client():
                return client(p.police.base_url, self.pheaders)
            started = time.perf_counter()
            desk = asyncio.create_task(self.desk(police_client))
            watcher = asyncio.create_task(self.watcher(wc))
            operator = asyncio.create_task(self.operator(hc))
            await self.all_done.wait()
            elapsed = max(c.done for c in self.cases) - started
            for t in (desk, watcher, operator):
                t.cancel()
            await asyncio.gather(desk, watcher, operator, return_exceptions=True)
        return elapsed


def result_of(label: str, cases: list[Case], elapsed: float, driver: Driver) -> Result:
    lat = [(c.done - c.t0) * 1000 for c in cases]
    complete = [c for c in cases if c.seen_by_desk and c.finished]

    def med(xs):
        return statistics.median(xs) if xs else float("nan")
    stages = {
        "to 110": med([(c.seen_by_desk - c.t0) * 1000 for c in complete]),
        "desk": med([(c.finished - c.seen_by_desk) * 1000 for c in complete]),
        "back": med([(c.done - c.finished) * 1000 for c in complete if c.done >= c.finished]),
    }
    return Result(label, len(cases), elapsed, lat, stages, extra={"counters": dict(driver.counters),
                                                                  "anomalies": driver.anomalies[:10]})


# -- CPU accounting ------------------------------------------------------------------------------------------


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) used so far by each server process and by this one."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for site, proc in _PROCS.items():
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
            out[site] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[site] = float("nan")
    t = os.times()
    out["driver"] = t.user + t.system
    out["machine"] = machine_busy()
    return out


def machine_busy() -> float:
    """CPU seconds used by everything on the machine so far (/proc/stat, all cores)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_line(before: dict, after: dict, n: int, seconds: float) -> str:
    parts = [f"{k} {1000 * (after[k] - before[k]) / n:.1f} ms ({(after[k] - before[k]) / seconds:.2f} cores)"
             for k in ("hotline", "police", "driver")]
    total = sum(after[k] - before[k] for k in ("hotline", "police", "driver"))
    others = (after["machine"] - before["machine"]) - total
    return f"CPU per round trip: {' · '.join(parts)} · total {1000 * total / n:.1f} ms ({total / seconds:.2f} of " \
           f"{os.cpu_count()} cores; other processes on the machine used {max(0.0, others) / seconds:.2f} cores)"


# -- the killer ----------------------------------------------------------------------------------------------


class Killer(threading.Thread):
    def __init__(self, pair: Pair, every: tuple[float, float]):
        super().__init__(name="bench-killer", daemon=True)
        self.pair, self.every = pair, every
        self.stop = threading.Event()
        self.kills = 0
        self.downtime = 0.0
        self.error: BaseException | None = None

    def run(self):
        try:
            while not self.stop.wait(random.uniform(*self.every)):
                proc = _PROCS["police"]
                t = time.perf_counter()
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                self.kills += 1
                start(self.pair, "police")
                self.downtime += time.perf_counter() - t
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            self.error = exc


# -- checking both databases -------------------------------------------------------------------------------


def wait_quiet(pair: Pair, timeout: float) -> dict:
    """Until neither outbox has a pending row (or the timeout); returns the outbox states."""
    deadline = time.monotonic() + timeout
    while True:
        states = {}
        for site in ("hotline", "police"):
            with sqlite3.connect(f"file:{pair.db(site)}?mode=ro", uri=True, timeout=30) as c:
                states[site] = dict(c.execute("SELECT state, count(*) FROM outbox_message GROUP BY state"))
        if not any(s.get("pending") for s in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(0.5)


def verify(pair: Pair, numbers: list[str]) -> dict:
    """lost / duplicated, from both databases (see the module docstring)."""
    h = sqlite3.connect(f"file:{pair.db('hotline')}?mode=ro", uri=True, timeout=30)
    p = sqlite3.connect(f"file:{pair.db('police')}?mode=ro", uri=True, timeout=30)
    try:
        want = set(numbers)
        orders = dict(h.execute("SELECT number, state FROM work_order"))
        out = collections.defaultdict(list)
        for local, state, remote in h.execute(
                "SELECT local_number, state, remote_number FROM transfer WHERE direction = 'out'"):
            out[local].append((state, remote))
        incidents = collections.defaultdict(list)
        for number, state, hotline_number in p.execute("SELECT number, state, hotline_number FROM incident"):
            incidents[hotline_number].append((number, state))
        police_in = collections.Counter(r[0] for r in p.execute(
            "SELECT case_ref FROM transfer WHERE direction = 'in'"))
        lost = []
        for n in numbers:
            t, inc = out.get(n, []), incidents.get(n, [])
            ok = (orders.get(n) == "awaiting_callback" and len(t) == 1 and t[0][0] == "result"
                  and len(inc) >= 1 and all(s == "finished" for _, s in inc) and t[0][1] == inc[0][0])
            if not ok:
                lost.append(n)
        dup_incidents = sum(len(v) - 1 for k, v in incidents.items() if len(v) > 1)
        stray_incidents = sum(len(v) for k, v in incidents.items() if k not in want)
        dup_transfers_in = sum(v - 1 for v in police_in.values() if v > 1)
        dup_out = sum(len(v) - 1 for k, v in out.items() if len(v) > 1)
        inbox, dup_inbox, outbox = {}, 0, {}
        for site, c in (("hotline", h), ("police", p)):
            inbox[site] = dict(c.execute("SELECT state, count(*) FROM inbox_message "
                                         "WHERE case_ref NOT LIKE 'bench-floor:%' GROUP BY state"))
            dup_inbox += c.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM inbox_message "
                                   "GROUP BY sender, case_ref, seq HAVING n > 1)").fetchone()[0]
            outbox[site] = {f"{s}/{a}": k for s, a, k in c.execute(
                "SELECT state, ack_status, count(*) FROM outbox_message GROUP BY state, ack_status")}
        # A step recorded twice: two 签收 on one 警单, two results written back on one order.
        dup_steps = p.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM audit_event "
                              "WHERE entity_type = 'incident' AND action IN ('incident.sign', 'incident.dispatch', "
                              "'incident.finish', 'incident.received') GROUP BY entity_id, action HAVING n > 1)"
                              ).fetchone()[0]
        dup_steps += h.execute("SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM audit_event "
                               "WHERE entity_type = 'work_order' AND action LIKE '%police_result' "
                               "GROUP BY entity_id HAVING n > 1)").fetchone()[0]
        undelivered = sum(k for site in outbox.values() for key, k in site.items()
                          if not key.startswith("delivered/"))
        return {
            "cases": len(numbers), "lost": len(lost), "lost_examples": lost[:5],
            "duplicated": dup_incidents + dup_transfers_in + dup_out + dup_inbox + dup_steps,
            "duplicated_detail": {"警单": dup_incidents, "inbound transfers": dup_transfers_in,
                                  "outbound transfers": dup_out, "inbox (sender,case,seq)": dup_inbox,
                                  "steps in audit": dup_steps},
            "stray 警单": stray_incidents, "undelivered outbox rows": undelivered,
            "inbox": inbox, "outbox": outbox,
        }
    finally:
        h.close()
        p.close()


# -- py-spy -------------------------------------------------------------------------------------------------


def py_spy(pair: Pair, out: Path, seconds: float) -> list[subprocess.Popen]:
    exe = Path("/tmp/venvtest/bin/py-spy")
    exe = exe if exe.exists() else Path(sys.executable).with_name("py-spy")
    out.mkdir(parents=True, exist_ok=True)
    procs = []
    for site in ("hotline", "police"):
        procs.append(subprocess.Popen(
            [str(exe), "record", "--pid", str(_PROCS[site].pid), "--duration", str(int(seconds)), "--rate", "200",
             "--format", "raw", "--threads", "--output", str(out / f"{site}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def spy_summary(path: Path, top: int = 12) -> list[str]:
    """Share of samples by thread, and the frames (own code only, innermost civiclink/sqlalchemy/… first)
    present in the most samples."""
    if not path.exists():
        return [f"  (no profile at {path})"]
    total = 0
    threads: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        k = int(n)
        frames = stack.split(";")
        total += k
        threads[frames[0][:60]] += k
        for f in set(frames):
            if "civiclink/" in f and "(" in f:
                inclusive[f.split(" (")[0] + " " + f.split("civiclink/")[-1].rstrip(")")] += k
    lines = [f"  samples {total}: " + ", ".join(f"{t} {100 * k / total:.0f}%" for t, k in threads.most_common(4))]
    lines += [f"    {100 * k / total:5.1f}%  {f}" for f, k in inclusive.most_common(top)]
    return lines


# -- main ---------------------------------------------------------------------------------------------------


def print_table(floor: Result, system: Result, in_flight: int, floor_c: int) -> None:
    ratio = system.throughput / floor.throughput
    print()
    print(f"{'':34}{'round trips/s':>14}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'floor (2 POSTs, duplicate ack), c=' + str(floor_c):34}{floor.throughput:14.1f}{floor.pct(50):10.1f}"
          f"{floor.pct(99):10.1f}")
    print(f"{'CivicLink transfer→accept→result':34}{system.throughput:14.1f}{system.pct(50):10.1f}"
          f"{system.pct(99):10.1f}   ({in_flight} in flight)")
    print(f"{'ratio (CivicLink / floor)':34}{ratio:14.2f}{system.pct(50) / floor.pct(50):10.1f}"
          f"{system.pct(99) / floor.pct(99):10.1f}")
    print(f"target ≥ 0.50 of the floor's throughput: {'MET' if ratio >= 0.5 else 'MISSED'}")
    s = system.stages_ms
    print(f"floor  {floor.extra['cpu']}")
    print(f"system {system.extra['cpu']}")
    print(f"median case by stage: to 110 {s['to 110']:.0f} ms · desk (签收+派警+反馈) {s['desk']:.0f} ms · "
          f"back to 12345 {s['back']:.0f} ms")


async def amain(args) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="civiclink-bench-exchange."))
    print(f"sites under {tmp} (2 SQLite files; server logs in logs/)", flush=True)
    t = time.perf_counter()
    pair = make_pair(tmp)
    if pair.patched:
        print("WARNING: src/civiclink/incidents/api.py's 警单 action routes read `body` from the query string "
              "(string annotation `body_model` under `from __future__ import annotations`), so /sign, /dispatch "
              "and /finish answer 422 to every JSON request. The 110 server here is started by this script with "
              "src's own endpoints re-registered with resolved annotations (patch_incident_routes); everything "
              "else is `civiclink serve` as is.", flush=True)
    start(pair, "hotline")
    start(pair, "police")
    hh = login(pair.hotline.base_url, "op")
    ph = login(pair.police.base_url, "desk")
    total = args.round_trips + args.kill_round_trips
    orders = await register_orders(pair.hotline.base_url, hh, total + 32)
    print(f"set-up: 2 sites, {len(orders)} orders registered in {time.perf_counter() - t:.0f} s", flush=True)
    warm, orders = orders[:32], orders[32:]

    # Warm-up: a few round trips (imports, caches, connection pools), not counted.
    wcases = [Case(n, v) for n, v in warm]
    await Driver(pair, hh, ph, wcases, 16).run()

    c0 = cpu_seconds()
    floor = await run_floor(pair, args.floor_seconds, args.floor_concurrency)
    floor.extra["cpu"] = cpu_line(c0, cpu_seconds(), floor.n, floor.seconds + 1.5)
    print(f"floor: {floor.n} round trips in {floor.seconds:.1f} s, errors {floor.errors}", flush=True)

    cases = [Case(n, v) for n, v in orders[:args.round_trips]]
    driver = Driver(pair, hh, ph, cases, args.in_flight)
    spies = []
    if args.py_spy:
        loop = asyncio.get_running_loop()
        est = max(4.0, min(30.0, args.round_trips / 120 / 2))
        loop.call_later(min(5.0, est / 2), lambda: spies.extend(py_spy(pair, Path(args.py_spy), est)))
    print(f"system: {len(cases)} round trips, {args.in_flight} in flight …", flush=True)
    c0 = cpu_seconds()
    elapsed = await driver.run()
    system = result_of("system", cases, elapsed, driver)
    system.extra["cpu"] = cpu_line(c0, cpu_seconds(), system.n, elapsed)
    print(f"  done in {elapsed:.1f} s; client counters {system.extra['counters']}", flush=True)
    if system.extra["anomalies"]:
        print(f"  anomalies: {system.extra['anomalies']}")
    for sp in spies:
        sp.wait()
    print_table(floor, system, args.in_flight, args.floor_concurrency)
    if args.py_spy:
        for site in ("hotline", "police"):
            print(f"py-spy {site} (inclusive, by civiclink frame):")
            print("\n".join(spy_summary(Path(args.py_spy) / f"{site}.txt")))

    status = 0
    if args.kill_round_trips:
        kcases = [Case(n, v) for n, v in orders[args.round_trips:total]]
        killer = Killer(pair, args.kill_every)
        print(f"\ncrash run: {len(kcases)} round trips while the 110 is SIGKILLed every "
              f"{args.kill_every[0]:g}–{args.kill_every[1]:g} s and restarted …", flush=True)
        killer.start()
        try:
            kdriver = Driver(pair, hh, ph, kcases, args.in_flight)
            kelapsed = await asyncio.wait_for(kdriver.run(), timeout=args.kill_timeout)
        finally:
            killer.stop.set()
            killer.join()
        if killer.error:
            raise killer.error
        kres = result_of("crash", kcases, kelapsed, kdriver)
        print(f"  done in {kelapsed:.1f} s: {killer.kills} SIGKILLs (110 down {killer.downtime:.1f} s in all), "
              f"{kres.throughput:.1f} round trips/s, p50 {kres.pct(50):.0f} ms, p99 {kres.pct(99):.0f} ms, "
              f"max {max(kres.latencies_ms):.0f} ms")
        print(f"  client counters {kres.extra['counters']}")
        if kres.extra["anomalies"]:
            print(f"  anomalies: {kres.extra['anomalies']}")

    states = wait_quiet(pair, 120)
    check = verify(pair, [c.number for c in wcases + cases] + ([c.number for c in kcases] if args.kill_round_trips else []))
    print(f"\nchecked from both databases ({check['cases']} cases: warm-up, normal run and crash run):")
    print(f"  lost = {check['lost']}   duplicated = {check['duplicated']}   "
          f"(undelivered outbox rows {check['undelivered outbox rows']}, stray 警单 {check['stray 警单']})")
    print(f"  duplicated by kind: {check['duplicated_detail']}")
    if check["lost"]:
        print(f"  lost, e.g.: {check['lost_examples']}")
    print(f"  outbox (state/ack): hotline {check['outbox']['hotline']}; police {check['outbox']['police']}")
    print(f"  inbox: hotline {check['inbox']['hotline']}; police {check['inbox']['police']}")
    if check["lost"] or check["duplicated"] or check["undelivered outbox rows"] or check["stray 警单"]:
        status = 1
    del states
    return status


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-patched":
        serve_patched(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="600 + 400 round trips, a 4 s floor")
    parser.add_argument("--round-trips", type=int, default=10000)
    parser.add_argument("--kill-round-trips", type=int, default=None,
                        help="default: 500 (a tenth of --round-trips if that is less)")
    parser.add_argument("--in-flight", type=int, default=128)
    parser.add_argument("--floor-seconds", type=float, default=10)
    parser.add_argument("--floor-concurrency", type=int, default=16)
    parser.add_argument("--kill-every", default="3:6", help="seconds between SIGKILLs of the 110, min:max")
    parser.add_argument("--kill-timeout", type=float, default=1800)
    parser.add_argument("--py-spy", metavar="DIR", default=None)
    args = parser.parse_args()
    if args.quick:
        args.round_trips, args.floor_seconds = 600, 4
        args.kill_round_trips = 200 if args.kill_round_trips is None else args.kill_round_trips
    if args.kill_round_trips is None:
        args.kill_round_trips = min(500, max(1, args.round_trips // 10))
    lo, _, hi = args.kill_every.partition(":")
    args.kill_every = (float(lo), float(hi or lo))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        code = asyncio.run(amain(args))
    finally:
        _cleanup()
    sys.exit(code)


if __name__ == "__main__":
    main()
