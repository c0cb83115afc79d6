"""Two real sites — a 12345 (the suite's main site) and a 110 — each with its own database, linked through the
real exchange channel (``civiclink.sites.LinkedPair``): envelopes are signed, posted through the receiving site's
real inbox code and applied by its handlers. Delivery is in-process and driven by the test (``sites.pump()``), so
that every step is deterministic; tests/linkage/test_exchange_processes.py runs the same over real HTTP sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.conftest import HOTLINE_SITE, PEER_SECRET, POLICE_SITE, TEST_SECRET, build_site, restore_base

from civiclink.config import get_settings
from civiclink.orgs.roles import Role
from civiclink.sites import LinkedPair

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
        exchange={"relay_enabled": False}, triage={"warm_up": False},
    )
    state = build_site(police_settings, POLICE_USERS)
    yield state
    state.engine.dispose()


@pytest.fixture
def sites(state, police_app_state) -> Iterator[LinkedPair]:
    restore_base(police_app_state)
    yield LinkedPair(state, police_app_state)
