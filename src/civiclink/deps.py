"""FastAPI dependencies and their typed aliases (``CtxDep``, ``CurrentActor``), and ``respond``.

One session per request. Reads (authentication, lookups) run in an ordinary transaction; a route that
changes things wraps the change in ``with writing(ctx.session):``, which starts the write transaction there
(BEGIN IMMEDIATE on SQLite) and commits at the end of the block, so a failed commit is answered as an
error, never as a success, and the write lock is held only for the change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from civiclink.batching import WriteBatcher
from civiclink.cache import Snapshot
from civiclink.config import Settings
from civiclink.context import Ctx
from civiclink.db import utcnow
from civiclink.errors import NotAuthenticated
from civiclink.orgs.actions import actor_for
from civiclink.orgs.roles import Actor
from civiclink.orgs.security import token_digest
from civiclink.orgs.service import OrgDirectory, find_token
from civiclink.sla.calendar import WorkCalendar


class TokenCache:
    """Recently seen tokens → the acting identity, for a few seconds, to spare a query per request.

    A logout or a user change in this process takes effect at once; in another process sharing the database
    it takes effect within ``ttl`` seconds.
    """

    def __init__(self, ttl: float = 10.0, size: int = 4096):
        self.ttl = ttl
        self.size = size
        self._items: dict[str, tuple[Actor, float, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, token_hash: str, now: datetime) -> Actor | None:
        item = self._items.get(token_hash)
        if item is None:
            return None
        actor, fetched, expires_at = item
        if time.monotonic() - fetched > self.ttl or now >= expires_at:
            self.forget(token_hash)
            return None
        return actor

    def put(self, token_hash: str, actor: Actor, expires_at: datetime) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[token_hash] = (actor, time.monotonic(), expires_at)

    def forget(self, token_hash: str) -> None:
        with self._lock:
            self._items.pop(token_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    calendar: Snapshot[WorkCalendar]
    directory: Snapshot[OrgDirectory]
    tokens: TokenCache = field(default_factory=TokenCache)
    batcher: WriteBatcher | None = None
    # The exchange channel: what this site does with each message type, and its outbox relay (if running).
    exchange_handlers: dict = field(default_factory=dict)
    relay: Any = None
    # Triage (design §7): the engine with its models and duplicate index, and the knowledge-base index.
    triage: Any = None
    knowledge: Any = None

    def __post_init__(self):
        if self.batcher is None:
            self.batcher = WriteBatcher(self)

    def ctx(self, session: Session, now=None) -> Ctx:
        return Ctx(
            session=session,
            settings=self.settings,
            calendar=self.calendar.get(session),
            directory=self.directory.get(session),
            now=now or utcnow(),
        )


async def get_state(request: Request) -> AppState:
    return request.app.state.civiclink


StateDep = Annotated[AppState, Depends(get_state)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def _fresh_ctx(state: AppState, session: Session) -> Ctx:
    ctx = state.ctx(session)
    session.rollback()  # the snapshot check must not keep a connection for the whole request
    return ctx


async def get_ctx(state: StateDep) -> AsyncIterator[Ctx]:
    """The request's session and snapshots.

    Async on purpose: most requests need no I/O here (fresh snapshots, a session not yet connected), and each
    sync dependency would cost a hop to a worker thread. Only what does I/O goes to a thread.
    """
    session = state.sessions()
    try:
        calendar, directory = state.calendar.peek(), state.directory.peek()
        if calendar is not None and directory is not None:
            yield Ctx(session=session, settings=state.settings, calendar=calendar, directory=directory, now=utcnow())
        else:
            yield await run_in_threadpool(_fresh_ctx, state, session)
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


CtxDep = Annotated[Ctx, Depends(get_ctx)]


def respond(model: BaseModel, status_code: int = 200) -> Response:
    """Serialize a response model once (FastAPI would validate it again before serializing)."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


async def get_current_actor(state: StateDep, ctx: CtxDep, token: TokenDep) -> Actor:
    if not token:
        raise NotAuthenticated("请先登录（Authorization: Bearer <token>）")
    return await actor_for_token(state, ctx, token)


async def actor_for_token(state: AppState, ctx: Ctx, token: str) -> Actor:
    """Who holds this token (a bearer header of the API, or the console's session cookie)."""
    digest = token_digest(token, secret=state.settings.secret_key.get_secret_value())
    cached = state.tokens.get(digest, ctx.now)
    if cached is not None:
        return cached
    return await run_in_threadpool(_look_up_token, state, ctx, digest)


def _look_up_token(state: AppState, ctx: Ctx, digest: str) -> Actor:
    found = find_token(ctx.session, token_hash=digest, now=ctx.now)
    if found is None:
        raise NotAuthenticated("登录已失效或令牌无效，请重新登录")
    token_row, user = found
    if not user.active:
        raise NotAuthenticated("账号已停用")
    unit = ctx.directory.unit(user.unit_id)
    actor = actor_for(user, unit_code=unit.code if unit else None)
    state.tokens.put(digest, actor, token_row.expires_at)
    # Give the connection back now: a request that goes on to wait for the writer must not hold one.
    ctx.session.rollback()
    return actor


CurrentActor = Annotated[Actor, Depends(get_current_actor)]
