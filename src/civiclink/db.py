"""Engine factory, declarative Base with a naming convention, and the UTC datetime column type.

One set of models serves SQLite (the embedded default, one file per site) and PostgreSQL (production).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, declared_attr, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

# Named constraints let Alembic's batch mode drop and recreate them on SQLite.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    @declared_attr.directive
    def __tablename__(cls) -> str:  # noqa: N805 - SQLAlchemy passes the class
        return _snake_case(cls.__name__)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every engine.

    SQLite has no time zone type and returns naive values; we store naive UTC and hand back aware UTC,
    so that comparisons and the audit hash see the same value on both engines.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, *, echo: bool = False, pool_size: int = 20, max_overflow: int = 20) -> Engine:
    """Create the engine; on SQLite turn on WAL, foreign keys and a busy timeout."""
    if is_sqlite(url):
        parsed = make_url(url)
        memory = parsed.database in (None, "", ":memory:")
        if not memory:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
            **({} if memory else {"pool_size": pool_size, "max_overflow": max_overflow}),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own transaction handling would BEGIN lazily and never for SELECT; take control so
            # that a write transaction takes the write lock at BEGIN (no upgrade deadlocks).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        writer_lock = threading.Lock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # A write transaction (begin_write, or the first statement inside ``writing``) takes SQLite's write
            # lock at BEGIN, so two writers queue instead of failing to upgrade a read snapshot (WAL mode).
            # In this process they queue on a Python lock first: SQLite's busy handler polls with sleeps,
            # which under load hands the lock over late and unfairly; a Python lock wakes the next writer at once.
            write = conn.get_execution_options().get("sqlite_begin") == "IMMEDIATE" or _write_intent()
            if not write:
                conn.exec_driver_sql("BEGIN")
                return
            if not writer_lock.acquire(timeout=30):
                raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked (writer queue timeout)"))
            conn.info[_WRITER_LOCK] = writer_lock
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                conn.info.pop(_WRITER_LOCK, None)
                writer_lock.release()
                raise

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _sqlite_end(conn):
            _release_writer_lock(conn.info)

        # A connection that goes back to the pool never keeps the writer lock.
        @event.listens_for(engine.pool, "checkin")
        def _sqlite_checkin(_dbapi_connection, record):
            if record is not None:
                _release_writer_lock(record.info)

        @event.listens_for(engine.pool, "reset")
        def _sqlite_reset(_dbapi_connection, record, _reset_state):
            _release_writer_lock(record.info)

        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


_WRITER_LOCK = "civiclink.sqlite_writer_lock"
_intent = threading.local()


def _write_intent() -> bool:
    return getattr(_intent, "write", False)


def _release_writer_lock(info: dict) -> None:
    lock = info.pop(_WRITER_LOCK, None)
    if lock is not None:
        lock.release()


def begin_write(session: Session) -> None:
    """Start the session's transaction now, as a write transaction (BEGIN IMMEDIATE on SQLite).

    Must be called before the session has touched the database in this transaction.
    """
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


@contextmanager
def writing(session: Session) -> Iterator[Session]:
    """Run the block as one write transaction, committed at the end (rolled back on any error).

    A read transaction the session had open (authentication, lookups) is ended first, and the write
    transaction begins at the block's first statement, not before: work the block does before touching the
    database (validation, deadlines) does not hold the write lock.
    """
    if session.in_transaction():
        session.commit()
    previous = _write_intent()
    _intent.write = True
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _intent.write = previous


@contextmanager
def write_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A new session in a write transaction: committed on success, rolled back on any error."""
    session = factory()
    try:
        with writing(session):
            yield session
    finally:
        session.close()


@contextmanager
def read_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A new session for reading; whatever it did is rolled back."""
    session = factory()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
