"""The console's first pages (issue 5 builds on them): login with a session cookie, logout, and a home page
that shows each role its own work. Server-rendered (Jinja2); htmx and ECharts are vendored under static/.

The session cookie holds an ordinary API token (the same table, lifetime and revocation as the API's bearer
tokens), HttpOnly and SameSite=Strict so that another site can neither read it nor post forms with it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from civiclink.db import writing
from civiclink.deps import CtxDep, StateDep
from civiclink.i18n import labels
from civiclink.orgs import actions as org_actions
from civiclink.orgs.models import User
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.security import token_digest, verify_password
from civiclink.web.console import PageActor, cookie_name, cross_site, render
from civiclink.web.messages import t

router = APIRouter(include_in_schema=False)


def _safe_next(value: str | None) -> str:
    # Only paths of this site: never an open redirect to another host.
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", username="", error=None, next=_safe_next(next))


@router.post("/login")
def login(request: Request, state: StateDep, ctx: CtxDep, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
          next: Annotated[str, Form()] = "/") -> Response:
    from civiclink.orgs.api import DUMMY_HASH  # an unknown user costs a hash too: timing tells nothing

    username = username.strip()
    if cross_site(request):  # login CSRF: another origin must not log the browser in as someone else
        return render(request, "login.html", username="", error=t("error.cross_site"), next="/", status_code=403)
    if not username or not password:
        return render(request, "login.html", username=username, error=t("login.required"), next=_safe_next(next),
                      status_code=422)
    user = ctx.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    ok = verify_password(password, user.password_hash if user else DUMMY_HASH)
    if user is None or not ok or not user.active:
        error = t("login.inactive") if (user is not None and ok and not user.active) else t("login.failed")
        # What was typed stays in the form (but never the password).
        return render(request, "login.html", username=username, error=error, next=_safe_next(next), status_code=401)
    with writing(ctx.session):
        token, _row = org_actions.do_issue_token(
            ctx.session, user, secret=state.settings.secret_key.get_secret_value(), now=ctx.now,
            ttl=state.settings.token_ttl, label="console")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(cookie_name(state.settings), token, httponly=True, samesite="strict", path="/",
                        secure=state.settings.environment == "production",
                        max_age=int(state.settings.token_ttl / timedelta(seconds=1)))
    return response


@router.post("/logout")
async def logout(request: Request, state: StateDep, ctx: CtxDep) -> Response:
    token = request.cookies.get(cookie_name(state.settings))
    if token and not cross_site(request):
        await run_in_threadpool(_revoke, state, ctx, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(cookie_name(state.settings), path="/")
    return response


def _revoke(state, ctx, token: str) -> None:
    from civiclink.orgs.service import find_token

    digest = token_digest(token, secret=state.settings.secret_key.get_secret_value())
    found = find_token(ctx.session, token_hash=digest, now=ctx.now)
    if found is not None:
        token_row, user = found
        with writing(ctx.session):
            org_actions.do_revoke_token(ctx.session, token_row, user, now=ctx.now)
    state.tokens.forget(digest)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, state: StateDep, ctx: CtxDep, actor: PageActor) -> Response:
    work = await run_in_threadpool(my_work, state, ctx, actor)
    unit = ctx.directory.unit(actor.unit_id)
    return render(request, "home.html", actor=actor, work=work, roles=labels("role", sorted(actor.roles)),
                  unit=unit.label if unit else None)


def my_work(state, ctx, actor: Actor) -> list[dict]:
    """What waits for this user, by role: the counts a shift starts with."""
    session = ctx.session
    items: list[dict] = []

    def add(key: str, count: int, tone: str = "", href: str | None = None) -> None:
        items.append({"label": t(key), "count": count, "tone": tone, "href": href})

    if state.settings.site_role == "police":
        from civiclink.incidents.models import Incident
        from civiclink.incidents.states import IncidentState as S

        counts = dict(session.execute(select(Incident.state, func.count()).group_by(Incident.state)).all())
        add("work.incidents_received", counts.get(S.RECEIVED, 0), "red" if counts.get(S.RECEIVED) else "", "/desk")
        add("work.incidents_open", sum(counts.get(s, 0) for s in (S.SIGNED, S.DISPATCHED, S.ARRIVED)), href="/desk")
        return items
    from civiclink.workorders.models import WorkOrder
    from civiclink.workorders.states import State as S

    def by_state(*where) -> dict:
        q = select(WorkOrder.state, func.count()).group_by(WorkOrder.state)
        for w in where:
            q = q.where(w)
        return dict(session.execute(q).all())

    everyone = by_state()
    if actor.has(Role.OPERATOR):
        midnight = ctx.now.astimezone(ctx.settings.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        mine = session.execute(select(func.count()).select_from(WorkOrder).where(
            WorkOrder.registered_by_id == actor.user_id, WorkOrder.registered_at >= midnight)).scalar()
        add("work.registered_today", mine or 0, href="/intake")
        add("work.registered", everyone.get(S.REGISTERED, 0), href="/orders?state=registered")
    if actor.has(Role.DISPATCHER):
        add("work.awaiting_dispatch", everyone.get(S.AWAITING_DISPATCH, 0), href="/queue/dispatch")
        add("work.return_requested", everyone.get(S.RETURN_REQUESTED, 0), "yellow", "/orders?state=return_requested")
    if actor.has(Role.UNIT_STAFF) and actor.unit_id is not None:
        unit = by_state(WorkOrder.handling_unit_id == actor.unit_id)
        add("work.dispatched", unit.get(S.DISPATCHED, 0), "yellow" if unit.get(S.DISPATCHED) else "", "/queue/unit")
        add("work.in_progress", unit.get(S.SIGNED, 0) + unit.get(S.IN_PROGRESS, 0) + unit.get(S.REOPENED, 0),
            href="/queue/unit")
    if actor.has(Role.SUPERVISOR):
        add("work.extension_requested", everyone.get(S.EXTENSION_REQUESTED, 0), href="/queue/supervise")
        add("work.replied", everyone.get(S.REPLIED, 0), href="/orders?state=replied")
    if actor.has(Role.CALLBACK_AGENT):
        add("work.awaiting_callback", everyone.get(S.AWAITING_CALLBACK, 0), href="/queue/callback")
    return items
