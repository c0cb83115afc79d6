"""FastAPI dependencies and their typed aliases (``SessionDep``, ``CurrentActor``, ``CtxDep``).

One session per request. A request that changes things (POST/PUT/PATCH/DELETE) gets a write transaction
from its first statement (BEGIN IMMEDIATE on SQLite); routes commit explicitly, so a failed commit is
answered as an error, never as a success.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from civiclink.cache import Snapshot
from civiclink.config import Settings
from civiclink.context import Ctx
from civiclink.db import begin_write, utcnow
from civiclink.errors import NotAuthenticated
from civiclink.orgs.actions import actor_for
from civiclink.orgs.roles import Actor
from civiclink.orgs.security import token_digest
from civiclink.orgs.service import OrgDirectory, find_token
from civiclink.sla.calendar import WorkCalendar

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    calendar: Snapshot[WorkCalendar]
    directory: Snapshot[OrgDirectory]

    def ctx(self, session: Session, now=None) -> Ctx:
        return Ctx(
            session=session,
            settings=self.settings,
            calendar=self.calendar.get(session),
            directory=self.directory.get(session),
            now=now or utcnow(),
        )


def get_state(request: Request) -> AppState:
    return request.app.state.civiclink


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(request: Request, state: StateDep) -> Iterator[Session]:
    session = state.sessions()
    try:
        if request.method not in READ_METHODS:
            begin_write(session)
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def get_ctx(state: StateDep, session: SessionDep) -> Ctx:
    return state.ctx(session)


CtxDep = Annotated[Ctx, Depends(get_ctx)]


def get_current_actor(state: StateDep, ctx: CtxDep, token: TokenDep) -> Actor:
    if not token:
        raise NotAuthenticated("请先登录（Authorization: Bearer <token>）")
    found = find_token(
        ctx.session, token_hash=token_digest(token, secret=state.settings.secret_key.get_secret_value()), now=ctx.now
    )
    if found is None:
        raise NotAuthenticated("登录已失效或令牌无效，请重新登录")
    _token, user = found
    if not user.active:
        raise NotAuthenticated("账号已停用")
    unit = ctx.directory.unit(user.unit_id)
    return actor_for(user, unit_code=unit.code if unit else None)


CurrentActor = Annotated[Actor, Depends(get_current_actor)]
