"""Running several sites side by side on one machine: the demo (12345 + 110, city and county), the socket
tests and the exchange benchmark all use this.

``LinkedPair`` is a 12345 site and its 110 site in one process, delivering envelopes between them in-process
(still signed, posted through the receiving site's inbox code and applied by its handlers) when told to: the
demo builder and the tests drive it step by step.

A ``SiteSpec`` says what a site is; ``settings_for`` turns it into Settings; ``prepare`` creates its database
(schema, org tree, users); ``launch`` starts it as its own server process (uvicorn), configured only through
``CIVICLINK_*`` environment variables, exactly as an operator would run it; ``wait_until_up`` polls /api/health.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import select

from civiclink.config import Settings, get_settings


@dataclass
class SiteSpec:
    site_code: str
    role: str  # hotline | police
    level: str  # city | county
    name: str
    port: int
    database_url: str
    secret_key: str
    number_prefix: str
    peers: list[dict] = field(default_factory=list)  # {"site_code", "base_url", "secret", "role", "level"}
    host: str = "127.0.0.1"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def model_path(self) -> Path:
        """The site's trained triage models: next to its SQLite file, else under var/models/."""
        if self.database_url.startswith("sqlite:///"):
            db = Path(self.database_url.removeprefix("sqlite:///"))
            return db.with_name(db.stem + ".triage.pkl")
        return Path("var/models") / f"{self.site_code}.triage.pkl"

    def env(self) -> dict[str, str]:
        env = {
            "CIVICLINK_ENVIRONMENT": "local",
            "CIVICLINK_SITE_ROLE": self.role,
            "CIVICLINK_SITE_LEVEL": self.level,
            "CIVICLINK_SITE_CODE": self.site_code,
            "CIVICLINK_SITE_NAME": self.name,
            "CIVICLINK_DATABASE_URL": self.database_url,
            "CIVICLINK_TRIAGE__MODEL_PATH": str(self.model_path),
            "CIVICLINK_SECRET_KEY": self.secret_key,
            "CIVICLINK_NUMBER_PREFIX": self.number_prefix,
            "CIVICLINK_PEERS": json.dumps(self.peers, ensure_ascii=False),
            "CIVICLINK_LOG_LEVEL": "WARNING",
        }
        env.update(self.extra_env)
        return env


def pair(*, hotline: SiteSpec, police: SiteSpec, secret: str) -> None:
    """Make two sites each other's peer, with one shared signing key."""
    hotline.peers.append({"site_code": police.site_code, "base_url": police.base_url, "secret": secret,
                          "role": "police", "level": police.level, "name": police.name})
    police.peers.append({"site_code": hotline.site_code, "base_url": hotline.base_url, "secret": secret,
                         "role": "hotline", "level": hotline.level, "name": hotline.name})


def settings_for(spec: SiteSpec, **overrides) -> Settings:
    return get_settings(
        _env_file=None, environment="local", site_role=spec.role, site_level=spec.level, site_code=spec.site_code,
        site_name=spec.name, database_url=spec.database_url, secret_key=spec.secret_key,
        number_prefix=spec.number_prefix, peers=spec.peers, log_level="WARNING",
        **({"triage": {"model_path": spec.model_path}} | overrides),
    )


def prepare(spec: SiteSpec, users: list[tuple[str, str, list[str], str | None]], *, password: str) -> None:
    """Schema, the org tree and ``users`` (username, display name, roles, unit code) in a fresh database."""
    from civiclink.app import build_state
    from civiclink.db import begin_write, utcnow
    from civiclink.migrate import upgrade
    from civiclink.orgs.actions import do_create_user
    from civiclink.orgs.roles import SYSTEM
    from civiclink.orgs.schemas import UserCreate

    settings = settings_for(spec)
    state = build_state(settings)
    try:
        upgrade(state.engine)
        session = state.sessions()
        begin_write(session)
        now = utcnow()
        import_packaged_org(session, settings, now=now)
        for username, display_name, roles, unit in users:
            do_create_user(session, UserCreate(username=username, display_name=display_name, password=password,
                                               roles=roles, unit_code=unit), actor=SYSTEM, now=now)
        load_starter_knowledge(state.ctx(session, now=now))
        session.commit()
        session.close()
    finally:
        state.engine.dispose()


def import_packaged_org(session, settings: Settings, *, now) -> None:
    """The configured org file (the bundled 南通 tree by default), in the caller's transaction."""
    from civiclink.orgs.actions import do_import_org_file
    from civiclink.orgs.api import parse_org_file
    from civiclink.orgs.roles import SYSTEM

    org_file = settings.resolved_org_file
    do_import_org_file(session, parse_org_file(org_file.name, org_file.read_bytes()), actor=SYSTEM,
                       source=org_file.name, today=now.date(), now=now)
    session.flush()


def load_starter_knowledge(ctx) -> dict:
    """The demo city's starter knowledge base (R-905), in the caller's transaction."""
    from civiclink.knowledge.actions import do_load_items
    from civiclink.knowledge.schemas import STARTER_FILE, read_item_file
    from civiclink.orgs.roles import SYSTEM

    return do_load_items(ctx, read_item_file(STARTER_FILE), actor=SYSTEM)


def launch(spec: SiteSpec, *, log: Path | None = None, workers: int = 1) -> subprocess.Popen:
    """Start the site as its own process: ``civiclink serve`` with the spec's environment."""
    env = {**os.environ, **spec.env()}
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it open
    return subprocess.Popen(
        [sys.executable, "-m", "civiclink.cli", "serve", "--host", spec.host, "--port", str(spec.port),
         "--workers", str(workers), "--no-upgrade"],
        env=env, stdout=out, stderr=subprocess.STDOUT,
    )


def wait_until_up(spec: SiteSpec, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"site {spec.site_code} exited with {process.returncode}")
        try:
            if httpx.get(spec.base_url + "/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"site {spec.site_code} did not come up on {spec.base_url}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LinkedPair:
    """A 12345 site and a 110 site (AppStates) linked in-process; ``pump()`` delivers until both are quiet."""

    def __init__(self, hotline, police):
        from civiclink.exchange.relay import Relay
        from civiclink.exchange.transport import LocalTransport

        self.hotline, self.police = hotline, police
        # Deliveries happen at the pair's time too, so that a simulated story (the demo) keeps one clock.
        self.transport = LocalTransport({hotline.settings.site_code: hotline, police.settings.site_code: police},
                                        clock=lambda: self.now)
        self.relays = {"hotline": Relay(hotline, self.transport, name=f"relay-{hotline.settings.site_code}"),
                       "police": Relay(police, self.transport, name=f"relay-{police.settings.site_code}")}
        self.hotline_actors, self.police_actors = _actors(hotline), _actors(police)
        self.now: datetime | None = None  # None: the real clock

    def _state(self, site: str):
        return self.hotline if site == "hotline" else self.police

    @contextmanager
    def write(self, site: str):
        """A Ctx in a write transaction on one site, committed at the end (as an API request would be)."""
        from civiclink.db import write_session

        state = self._state(site)
        with write_session(state.sessions) as session:
            yield state.ctx(session, now=self.now)

    @contextmanager
    def read(self, site: str):
        state = self._state(site)
        session = state.sessions()
        try:
            yield state.ctx(session, now=self.now)
        finally:
            session.rollback()
            session.close()

    def pump(self, *, max_rounds: int = 50) -> int:
        """Deliver everything both outboxes hold (and whatever the deliveries cause), until both are quiet."""
        total = 0
        for _ in range(max_rounds):
            moved = sum(relay.run_once() for relay in self.relays.values())
            total += moved
            if moved == 0:
                return total
        raise RuntimeError(f"the two sites kept sending for {max_rounds} rounds")


def _actors(state) -> dict:
    """The acting identity of every user of a site, by username."""
    from civiclink.orgs.actions import actor_for
    from civiclink.orgs.models import User

    with state.sessions() as session:
        directory = state.directory.get(session)
        return {u.username: actor_for(u, unit_code=directory.unit(u.unit_id).code if u.unit_id else None)
                for u in session.execute(select(User)).scalars()}
