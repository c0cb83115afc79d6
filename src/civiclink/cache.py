"""Small in-process snapshots of slowly changing data (org tree, calendar), shared by every request.

A snapshot is rebuilt when its revision in the ``revision`` table changes; the revision is looked at most
once per ``ttl`` seconds, so several app processes sharing one database converge within that time, and the
process that made the change invalidates its own snapshot at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Integer, String, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from civiclink.db import Base

T = TypeVar("T")


class Revision(Base):
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def bump_revision(session: Session, key: str) -> None:
    """Mark ``key`` changed, in the caller's transaction."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Revision).values(key=key, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=[Revision.key], set_={"value": Revision.value + 1})
    session.execute(stmt)


def read_revision(session: Session, key: str) -> int:
    return session.execute(select(Revision.value).where(Revision.key == key)).scalar_one_or_none() or 0


class Snapshot(Generic[T]):
    def __init__(self, key: str, build: Callable[[Session], T], *, ttl: float = 5.0):
        self.key = key
        self._build = build
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: T | None = None
        self._revision: int | None = None
        self._checked = 0.0

    def get(self, session: Session) -> T:
        now = time.monotonic()
        if self._value is not None and now - self._checked < self._ttl:
            return self._value
        with self._lock:
            if self._value is not None and time.monotonic() - self._checked < self._ttl:
                return self._value  # another thread refreshed it while this one waited
            revision = read_revision(session, self.key)
            if self._value is None or revision != self._revision:
                self._value = self._build(session)
                self._revision = revision
            self._checked = time.monotonic()
            return self._value

    def peek(self) -> T | None:
        """The value if it is fresh enough to use without looking at the database, else None."""
        if self._value is not None and time.monotonic() - self._checked < self._ttl:
            return self._value
        return None

    def invalidate(self) -> None:
        with self._lock:
            self._value = None
            self._revision = None
