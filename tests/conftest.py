"""Shared fixtures. The suite runs against SQLite by default and against PostgreSQL when
CIVICLINK_TEST_DATABASE_URL points at one (``make test`` runs it both ways).

The schema is built once per session by the real Alembic migrations. Each test starts from the same base
data (the 南通 org tree and a set of users), restored by truncating every table and bulk-inserting the rows
saved after the first setup, which is much faster than re-running the import.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

# schemathesis imports its transports lazily, from inside a Hypothesis run; pytest's assertion rewriter then parses
# them while Hypothesis has raised the recursion limit, which can trip a CPython 3.11 bug ("SystemError: AST
# constructor recursion depth mismatch", seen once in CI). Imported here, they are parsed once, up front.
import schemathesis.transport.asgi  # noqa: F401
import schemathesis.transport.requests  # noqa: F401
import schemathesis.transport.wsgi  # noqa: F401
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

import civiclink.models  # noqa: F401 - every table
from civiclink.app import build_state, create_app
from civiclink.config import Settings, get_settings
from civiclink.context import Ctx
from civiclink.db import Base, begin_write
from civiclink.migrate import upgrade
from civiclink.orgs.actions import actor_for, do_create_user, do_import_org_file, do_issue_token
from civiclink.orgs.api import parse_org_file
from civiclink.orgs.models import Category, OrgUnit, User
from civiclink.orgs.roles import SYSTEM, Role
from civiclink.orgs.schemas import UserCreate

# Fixtures shared across test folders, kept beside the tests they belong to.
pytest_plugins = ["tests.callcentre.story"]

TEST_SECRET = "test-secret-please-ignore"
PASSWORD = "correct-horse-42"

# username, roles, unit code
BASE_USERS = [
    ("admin", [Role.ADMIN], None),
    ("operator", [Role.OPERATOR], "12345"),
    ("dispatcher", [Role.DISPATCHER], "12345"),
    ("supervisor", [Role.SUPERVISOR], "12345"),
    ("callback", [Role.CALLBACK_AGENT], "12345"),
    ("leader", [Role.LEADER], None),
    ("staff_csgl", [Role.UNIT_STAFF], "csgl"),  # 城管
    ("staff_zjj", [Role.UNIT_STAFF], "zjj"),  # 住建
    ("staff_chongchuan", [Role.UNIT_STAFF], "320613"),  # 崇川区
    ("staff_tongzhou", [Role.UNIT_STAFF], "320612"),  # 通州区
    ("police", [Role.POLICE_OPERATOR], None),
]


def _test_database_url(tmp_root: Path) -> str:
    url = os.environ.get("CIVICLINK_TEST_DATABASE_URL")
    return url or f"sqlite:///{(tmp_root / 'test.db').as_posix()}"


# No background thread reading the database: tests deliver envelopes themselves (tests/linkage/conftest.py), so
# that every step is deterministic, and train, sweep, report and roll up when they mean to. (A thread that fails
# while pytest is still collecting also logs a traceback, and CPython 3.11's traceback module parses source with
# ``ast`` — racing pytest's assertion rewriter on the interpreter-wide AST recursion counter: "SystemError: AST
# constructor recursion depth mismatch", cpython#106905.)
NO_BACKGROUND_WORK = {
    "exchange": {"relay_enabled": False}, "triage": {"warm_up": False}, "supervision": {"sweep_enabled": False},
    "reports": {"daily_enabled": False}, "analytics": {"rollup_enabled": False},
}

# The two sites of the linkage tests share this key (each direction is signed with it).
PEER_SECRET = "peer-secret-for-tests"
HOTLINE_SITE, POLICE_SITE = "test-12345", "test-110"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    root = tmp_path_factory.mktemp("db")
    return get_settings(
        _env_file=None,
        environment="test",
        database_url=_test_database_url(root),
        secret_key=TEST_SECRET,
        site_code=HOTLINE_SITE,
        log_level="WARNING",
        peers=[{"site_code": POLICE_SITE, "base_url": "http://127.0.0.1:9", "secret": PEER_SECRET,
                "role": "police", "level": "city"}],
        **NO_BACKGROUND_WORK,
    )


def _reset_schema(engine) -> None:
    """Drop whatever a previous run left (PostgreSQL keeps state between runs)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))


def build_site(settings: Settings, users) -> object:
    """A site's AppState on a fresh schema with the 南通 org tree and ``users``; its rows are kept for restore."""
    state = build_state(settings)
    _reset_schema(state.engine)
    upgrade(state.engine)
    now = datetime.now(UTC)
    session = state.sessions()
    begin_write(session)
    org_file = settings.resolved_org_file
    do_import_org_file(session, parse_org_file(org_file.name, org_file.read_bytes()), actor=SYSTEM,
                       source=org_file.name, today=now.date(), now=now)
    session.flush()
    for username, roles, unit in users:
        do_create_user(session, UserCreate(username=username, display_name=username, password=PASSWORD,
                                           roles=roles, unit_code=unit), actor=SYSTEM, now=now)
    session.commit()
    base = {}
    for model in (OrgUnit, Category, User):
        rows = session.execute(select(model.__table__)).mappings().all()
        base[model.__table__] = [dict(r) for r in rows]
    session.close()
    state.base_rows = base  # type: ignore[attr-defined]
    return state


@pytest.fixture(scope="session")
def app_state(settings):
    state = build_site(settings, BASE_USERS)
    yield state
    state.engine.dispose()


def restore_base(state) -> None:
    engine = state.engine
    tables = [t for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in reversed(tables):
                conn.execute(t.delete())
        for table, rows in state.base_rows.items():
            # Parents were imported before their children, so id order satisfies the self-references.
            if rows:
                conn.execute(insert(table), sorted(rows, key=lambda r: r["id"]))
        if engine.dialect.name == "postgresql":
            for table in state.base_rows:
                conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM \"{table.name}\"))"
                ))
    state.directory.invalidate()
    state.calendar.invalidate()
    state.knowledge.invalidate()


# The 110 site of the linkage and browser tests: its own database next to the 12345's (tests/linkage, tests/e2e).
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
    """The 110 site's AppState (session-wide); restore it per test with ``restore_base`` (the ``sites`` fixture of
    tests/linkage and the ``live`` fixture of tests/e2e do)."""
    police_settings = get_settings(
        _env_file=None, environment="test", site_role="police", site_code=POLICE_SITE,
        site_name="测试市110报警服务台", number_prefix="JJ", secret_key=TEST_SECRET, log_level="WARNING",
        database_url=police_database_url(settings.database_url, tmp_path_factory.mktemp("police")),
        peers=[{"site_code": HOTLINE_SITE, "base_url": "http://127.0.0.1:9", "secret": PEER_SECRET,
                "role": "hotline", "level": "city"}],
        **NO_BACKGROUND_WORK,
    )
    state = build_site(police_settings, POLICE_USERS)
    yield state
    state.engine.dispose()


@pytest.fixture
def sites(state, police_app_state):
    """The suite's 12345 site and the 110 site linked through the real exchange channel, delivered in-process
    when the test says (``sites.pump()``); see tests/linkage/conftest.py."""
    from civiclink.sites import LinkedPair

    restore_base(police_app_state)
    yield LinkedPair(state, police_app_state)


@pytest.fixture
def state(app_state):
    restore_base(app_state)
    yield app_state


@pytest.fixture
def session(state):
    s = state.sessions()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def ctx(state, session) -> Ctx:
    return state.ctx(session)


@pytest.fixture
def actors(state):
    """Actor objects of the base users, by username."""
    s = state.sessions()
    try:
        users = s.execute(select(User)).scalars().all()
        d = state.directory.get(s)
        return {u.username: actor_for(u, unit_code=d.unit(u.unit_id).code if u.unit_id else None) for u in users}
    finally:
        s.close()


@pytest.fixture
def app(state):
    return create_app(state.settings, state=state)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(state) -> dict[str, str]:
    """A bearer token for every base user (issued directly, not through the login route)."""
    s = state.sessions()
    begin_write(s)
    out = {}
    now = datetime.now(UTC)
    for user in s.execute(select(User)).scalars():
        token, _ = do_issue_token(s, user, secret=TEST_SECRET, now=now, ttl=state.settings.token_ttl)
        out[user.username] = token
    s.commit()
    s.close()
    return out


@pytest.fixture
def auth(tokens):
    """auth("dispatcher") → headers for that user."""
    return lambda username: {"Authorization": f"Bearer {tokens[username]}"}


@pytest.fixture
def cli(state, monkeypatch):
    """cli("order", "show", …, input=…) → the CliRunner result of ``civiclink …`` run in-process against the test
    database."""
    from typer.testing import CliRunner

    import civiclink.cli as cli_module

    monkeypatch.setenv("CIVICLINK_DATABASE_URL", state.settings.database_url)
    monkeypatch.setenv("CIVICLINK_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CIVICLINK_ENVIRONMENT", "test")
    monkeypatch.setenv("CIVICLINK_LOG_LEVEL", "WARNING")
    # Rich wraps at 80 columns when not on a terminal; assertions read whole lines.
    monkeypatch.setattr(cli_module.console, "_width", 400)
    monkeypatch.setattr(cli_module.err, "_width", 400)
    runner = CliRunner()
    return lambda *args, input=None: runner.invoke(cli_module.app, [str(a) for a in args], input=input)


@pytest.fixture(scope="session", autouse=True)
def _no_network_downloads():
    # Nothing in the suite may reach the network (models, browsers, data are all local).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture
def tmpdir_path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)
