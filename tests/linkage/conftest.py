"""Two real sites — a 12345 (the suite's main site) and a 110 — each with its own database, linked through the
real exchange channel: envelopes are signed, posted through the receiving site's real inbox code and applied by
its handlers. Delivery is in-process (``LocalTransport``) and driven by the test (``sites.pump()``), so that
every step is deterministic; tests/exchange/test_sockets.py runs the same over real HTTP sockets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from tests.conftest import HOTLINE_SITE, PEER_SECRET, POLICE_SITE, TEST_SECRET, build_site, restore_base

from civiclink.config import get_settings
from civiclink.context import Ctx
from civiclink.db import write_session
from civiclink.exchange.relay import Relay
from civiclink.exchange.transport import LocalTransport
from civiclink.orgs.actions import actor_for
from civiclink.orgs.models import User
from civiclink.orgs.roles import Role

POLICE_USERS = [
    ("admin", [Role.ADMIN], None),
    ("jjy", [Role.POLICE_OPERATOR], "gaj.110"),  # 110 接警员
    ("zhy", [Role.POLICE_COMMANDER], "gaj.110"),  # 110 指挥员
    ("leader", [Role.LEADER], None),
]


def police_database_url(hotline_url: str, tmp_root) -> str:
    if hotline_url.startswith("sqlite"):
        return f"sqlite:///{(tmp_root / 'police.db').as_posix()}"
    url = make_url(hotline_url)
    name = f"{url.database}_police"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def police_app_state(settings, tmp_path_factory):
    police_settings = get_settings(
        _env_file=None, environment="test", site_role="police", site_code=POLICE_SITE,
        site_name="测试市110报警服务台", number_prefix="JJ", secret_key=TEST_SECRET, log_level="WARNING",
        database_url=police_database_url(settings.database_url, tmp_path_factory.mktemp("police")),
        peers=[{"site_code": HOTLINE_SITE, "base_url": "http://127.0.0.1:9", "secret": PEER_SECRET,
                "role": "hotline", "level": "city"}],
        exchange={"relay_enabled": False},
    )
    state = build_site(police_settings, POLICE_USERS)
    yield state
    state.engine.dispose()


@dataclass
class Sites:
    hotline: object
    police: object
    transport: LocalTransport
    relays: dict = field(default_factory=dict)
    hotline_actors: dict = field(default_factory=dict)
    police_actors: dict = field(default_factory=dict)
    now: datetime | None = None  # None: the real clock

    def pump(self, *, max_rounds: int = 50) -> int:
        """Deliver everything both outboxes hold (and whatever the deliveries cause), until both are quiet."""
        total = 0
        for _ in range(max_rounds):
            moved = sum(relay.run_once() for relay in self.relays.values())
            total += moved
            if moved == 0:
                return total
        raise AssertionError("the two sites kept sending for 50 rounds")

    @contextmanager
    def write(self, site: str) -> Iterator[Ctx]:
        """A write transaction on one site, committed at the end (as an API request would)."""
        state = self.hotline if site == "hotline" else self.police
        with write_session(state.sessions) as session:
            yield state.ctx(session, now=self.now)

    @contextmanager
    def read(self, site: str) -> Iterator[Ctx]:
        state = self.hotline if site == "hotline" else self.police
        session = state.sessions()
        try:
            yield state.ctx(session, now=self.now)
        finally:
            session.rollback()
            session.close()


def _actors(state) -> dict:
    s = state.sessions()
    try:
        d = state.directory.get(s)
        return {u.username: actor_for(u, unit_code=d.unit(u.unit_id).code if u.unit_id else None)
                for u in s.execute(select(User)).scalars()}
    finally:
        s.close()


@pytest.fixture
def sites(state, police_app_state) -> Iterator[Sites]:
    restore_base(police_app_state)
    transport = LocalTransport({HOTLINE_SITE: state, POLICE_SITE: police_app_state})
    s = Sites(hotline=state, police=police_app_state, transport=transport,
              hotline_actors=_actors(state), police_actors=_actors(police_app_state))
    s.relays = {"hotline": Relay(state, transport, name="relay-12345"),
                "police": Relay(police_app_state, transport, name="relay-110")}
    yield s


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)
