"""Shared pieces of the benchmarks: a throwaway PostgreSQL, server processes, a load generator, a report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SECRET = "bench-secret"


def prepare_database(url: str, *, operator: bool = False) -> str | None:
    """A fresh schema with the 南通 org tree; with ``operator``, also an operator and a token (returned)."""
    from datetime import UTC, datetime

    from civiclink.app import build_state
    from civiclink.config import get_settings
    from civiclink.db import begin_write
    from civiclink.migrate import upgrade
    from civiclink.orgs.actions import do_create_user, do_import_org_file, do_issue_token
    from civiclink.orgs.api import parse_org_file
    from civiclink.orgs.roles import SYSTEM, Role
    from civiclink.orgs.schemas import UserCreate

    settings = get_settings(_env_file=None, database_url=url, secret_key=SECRET, log_level="WARNING")
    state = build_state(settings)
    upgrade(state.engine)
    now = datetime.now(UTC)
    token = None
    with state.sessions() as s:
        begin_write(s)
        f = settings.resolved_org_file
        do_import_org_file(s, parse_org_file(f.name, f.read_bytes()), actor=SYSTEM, source=f.name,
                           today=now.date(), now=now)
        if operator:
            user = do_create_user(s, UserCreate(username="bench", display_name="bench", password="bench-password",
                                                roles=[Role.OPERATOR], unit_code="12345"), actor=SYSTEM, now=now)
            token, _ = do_issue_token(s, user, secret=SECRET, now=now, ttl=settings.token_ttl)
        s.commit()
    state.engine.dispose()
    return token


def median_seconds(jobs: dict, repeat: int, *, after=None) -> dict[str, float]:
    """Each job once to warm the caches and the planner, then the median of ``repeat`` timed runs; ``after()``
    follows every run (e.g. ending the read transaction)."""
    out = {}
    for name, job in jobs.items():
        job()
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            job()
            times.append(time.perf_counter() - started)
            if after is not None:
                after()
        out[name] = statistics.median(times)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server (Debian binaries), with the same settings the test suite uses."""
    url = os.environ.get("CIVICLINK_BENCH_PG_URL")
    if url:
        yield url
        return
    pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    work = Path(tempfile.mkdtemp(prefix="civiclink-bench-pg."))
    port = free_port()
    run: list[str] = []
    if os.geteuid() == 0:
        subprocess.run(["id", "postgres"], check=True, capture_output=True)
        shutil.chown(work, "postgres")
        run = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run([*run, str(pgbin / "initdb"), "-D", str(work / "data"), "-U", "civiclink", "--auth=trust",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        # Durable settings here (fsync on): the benchmark measures what production would see.
        subprocess.run([*run, str(pgbin / "pg_ctl"), "-D", str(work / "data"), "-l", str(work / "log"), "-w", "-o",
                        f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c max_connections=200", "start"],
                       check=True, capture_output=True)
        subprocess.run([str(pgbin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "civiclink", "bench"],
                       check=True)
        yield f"postgresql+psycopg://civiclink@127.0.0.1:{port}/bench"
    finally:
        subprocess.run([*run, str(pgbin / "pg_ctl"), "-D", str(work / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def server(app_path: str, env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """Run ``uvicorn app_path`` in a subprocess and wait until it answers."""
    port = free_port()
    cmd = [PYTHON, "-m", "uvicorn", app_path, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
           "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx2.get(base + "/openapi.json", timeout=1)
                break
            except httpx2.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}") from None
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.pct(99)


async def _closed_loop(url: str, make_body, headers: dict, seconds: float, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    limits = httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx2.AsyncClient(timeout=30, limits=limits) as client:
        async def worker(i: int):
            nonlocal errors
            n = 0
            while time.perf_counter() < stop_at:
                n += 1
                t0 = time.perf_counter()
                r = await client.post(url, json=make_body(i, n), headers=headers)
                latencies.append((time.perf_counter() - t0) * 1000)
                if r.status_code >= 300:
                    errors += 1
        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors, elapsed, latencies)


async def _open_loop(url: str, make_body, headers: dict, seconds: float, rate: float) -> LoadResult:
    """Requests at a fixed rate whatever the server does (latency includes any queueing)."""
    latencies: list[float] = []
    errors = 0
    async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=200)) as client:
        async def one(n: int, scheduled: float):
            nonlocal errors
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            t0 = time.perf_counter()
            r = await client.post(url, json=make_body(0, n), headers=headers)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code >= 300:
                errors += 1
        started = time.perf_counter()
        total = int(seconds * rate)
        await asyncio.gather(*(one(n, started + n / rate) for n in range(total)))
        elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors, elapsed, latencies)


def closed_loop(url, make_body, headers, seconds, concurrency) -> LoadResult:
    return asyncio.run(_closed_loop(url, make_body, headers, seconds, concurrency))


def open_loop(url, make_body, headers, seconds, rate) -> LoadResult:
    return asyncio.run(_open_loop(url, make_body, headers, seconds, rate))
