"""The Alembic migrations build exactly the models' schema, and go down to nothing and up again.

The comparison runs on the suite's own database (SQLite, or PostgreSQL when CIVICLINK_TEST_DATABASE_URL is
set), which the session fixtures built with the migrations. Downgrading is only ever tried on a scratch SQLite
file: the PostgreSQL database is shared by the whole session.
"""

from __future__ import annotations

import importlib.util

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select
from typer.testing import CliRunner

import civiclink.models  # noqa: F401 - every table
from civiclink.cli import app as cli
from civiclink.db import Base, create_db_engine
from civiclink.migrate import alembic_config, current_revision, downgrade, head_revision, upgrade


def schema_diff(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, Base.metadata)


def scripts(url: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(url))


@pytest.fixture
def scratch(tmpdir_path):
    engine = create_db_engine(f"sqlite:///{(tmpdir_path / 'migrations.db').as_posix()}")
    yield engine
    engine.dispose()


def test_migrations_produce_exactly_the_models_schema(state):
    """compare_metadata on the test database (upgraded to head by the fixtures) finds no difference."""
    assert schema_diff(state.engine) == []
    tables = set(inspect(state.engine).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_test_database_is_at_head(state):
    head = head_revision(state.engine)
    assert head is not None and current_revision(state.engine) == head


def test_one_head_and_every_revision_can_go_down(state):
    script = scripts(state.settings.database_url)
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions and revisions[-1].down_revision is None  # one line back to base
    for rev in revisions:
        spec = importlib.util.spec_from_file_location(f"_migration_{rev.revision}", rev.path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert callable(getattr(module, "upgrade", None)) and callable(getattr(module, "downgrade", None))


def test_downgrade_to_base_and_upgrade_again(scratch):
    upgrade(scratch)
    assert schema_diff(scratch) == []
    downgrade(scratch, "base")
    assert set(inspect(scratch).get_table_names()) <= {"alembic_version"}
    assert current_revision(scratch) is None
    upgrade(scratch)
    assert schema_diff(scratch) == []
    assert current_revision(scratch) == head_revision(scratch)


def test_every_revision_step_by_step(scratch):
    """Up one revision at a time to head, then down one at a time to base."""
    script = scripts(str(scratch.url))
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]  # base first
    for rev in chain:
        upgrade(scratch, rev)
        assert current_revision(scratch) == rev
    assert schema_diff(scratch) == []
    for rev in reversed(chain):
        assert current_revision(scratch) == rev
        downgrade(scratch, "-1")
    assert current_revision(scratch) is None


def test_upgrade_again_at_head_changes_nothing(scratch):
    upgrade(scratch)
    with scratch.begin() as conn:
        conn.execute(insert(Base.metadata.tables["revision"]), [{"key": "org", "value": 7}])
    upgrade(scratch)
    with scratch.connect() as conn:
        assert conn.execute(select(Base.metadata.tables["revision"].c.value)).scalar_one() == 7


def test_cli_db_upgrade_on_a_fresh_file(tmpdir_path, monkeypatch):
    url = f"sqlite:///{(tmpdir_path / 'fresh.db').as_posix()}"
    monkeypatch.setenv("CIVICLINK_DATABASE_URL", url)
    monkeypatch.setenv("CIVICLINK_SECRET_KEY", "x")
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    engine = create_db_engine(url)
    try:
        head = head_revision(engine)
        assert f"数据库已升级到 {head}" in result.stdout
        assert current_revision(engine) == head and schema_diff(engine) == []
    finally:
        engine.dispose()
