"""Real server processes for the tests that need sockets: the exchange over HTTP (tests/linkage/
test_exchange_processes.py) and the browser tests (tests/e2e).

Each site runs as its own uvicorn process (``civiclink.sites.launch``), configured only by ``CIVICLINK_*``
environment variables, on the suite's test databases (SQLite files, or PostgreSQL databases when
CIVICLINK_TEST_DATABASE_URL is set). ``Processes`` keeps what it started, kills it all at teardown and shows the
logs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import httpx2 as httpx
from tests.conftest import PASSWORD, TEST_SECRET

from civiclink.sites import SiteSpec, free_port, launch, wait_until_up

# The relay of a server process polls every 0.1 s and retries quickly: a message crosses in well under a second.
FAST_EXCHANGE = {"CIVICLINK_EXCHANGE__POLL_INTERVAL": "0.1", "CIVICLINK_EXCHANGE__BACKOFF_BASE": "0.1",
                 "CIVICLINK_EXCHANGE__BACKOFF_MAX": "0.5"}


def spec_of(state, *, role: str, extra_env: dict | None = None) -> SiteSpec:
    """A SiteSpec for the test site ``state`` (its database, code, prefix), on a free port."""
    s = state.settings
    return SiteSpec(site_code=s.site_code, role=role, level=s.site_level, name=s.site_name, port=free_port(),
                    database_url=s.database_url, secret_key=TEST_SECRET, number_prefix=s.number_prefix,
                    extra_env={**FAST_EXCHANGE, **(extra_env or {})})


class Processes:
    """Subprocesses started by a test (or a fixture); all killed at teardown, their logs shown on failure."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.started: list[tuple[str, subprocess.Popen, Path]] = []

    def server(self, spec: SiteSpec, *, timeout: float = 60) -> subprocess.Popen:
        return self.servers(spec, timeout=timeout)[0]

    def servers(self, *specs: SiteSpec, timeout: float = 60) -> list[subprocess.Popen]:
        """Start the sites side by side (their start-ups overlap), then wait until each answers."""
        started = []
        for spec in specs:
            log = self.tmp / f"server-{spec.site_code}-{len(self.started)}.log"
            process = launch(spec, log=log)
            self.started.append((f"server {spec.site_code}", process, log))
            started.append(process)
        for spec, process in zip(specs, started, strict=True):
            try:
                wait_until_up(spec, timeout=timeout, process=process)
            except (RuntimeError, TimeoutError) as e:
                raise RuntimeError(f"{e}\n{self.logs()}") from e
        return started

    def relay(self, spec: SiteSpec) -> subprocess.Popen:
        """``civiclink exchange relay`` (not --once) with the site's environment, as an operator runs it."""
        log = self.tmp / f"relay-{len(self.started)}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen([sys.executable, "-m", "civiclink.cli", "exchange", "relay"],
                                       env={**os.environ, **spec.env()}, stdout=out, stderr=subprocess.STDOUT)
        self.started.append(("relay", process, log))
        return process

    def log_sizes(self) -> dict[Path, int]:
        """Where each log ends now: ``logs(since=…)`` shows only what was written after."""
        return {log: log.stat().st_size for _name, _p, log in self.started if log.exists()}

    def logs(self, *, since: dict[Path, int] | None = None, tail: int = 3000, skip_empty: bool = False) -> str:
        parts = []
        for name, p, log in self.started:
            if not log.exists():
                continue
            with open(log, "rb") as f:
                f.seek((since or {}).get(log, 0))
                text = f.read().decode(errors="replace")
            if skip_empty and not text.strip():
                continue
            parts.append(f"--- {name} (exit {p.poll()}) ---\n{text[-tail:] if tail else text}")
        return "\n".join(parts)

    def kill_all(self) -> None:
        for _name, process, _log in self.started:
            if process.poll() is None:
                process.kill()
        for _name, process, _log in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait for anyone
                pass


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.05):
    """Poll ``condition`` until it returns something true (returned), or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Api:
    """A logged-in user of one site, over HTTP (``with Api(spec, "jjy") as jjy: jjy.post(…)``)."""

    def __init__(self, spec: SiteSpec, username: str):
        self.client = httpx.Client(base_url=spec.base_url, timeout=30)
        r = self.client.post("/api/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

    def get(self, path: str, **params) -> dict | list:
        r = self.client.get(path, params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict, status: int = 200) -> dict:
        r = self.client.post(path, json=body)
        assert r.status_code == status, r.text
        return r.json()

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
