"""What every console page shares: the template environment, ``render``, the logged-in user (``PageActor``),
the navigation each role sees, Chinese messages for form errors, and running a write through the writer.

Pages call the same ``do_*`` actions and read functions as the API, with the same ``Actor``: the console can do
nothing the API would refuse, and a role sees only the links and buttons of what it may do (issue 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from civiclink.deps import CtxDep, StateDep, actor_for_token
from civiclink.errors import DomainError, Forbidden, NotAuthenticated
from civiclink.i18n import label, labels
from civiclink.orgs.roles import Actor, Role
from civiclink.web.messages import messages, t

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"


def cookie_name(settings) -> str:
    """The session cookie's name, one per site: browsers share cookies between ports of one host, and the demo
    (and a small deployment) runs several sites on one host — a login on one must not replace another's."""
    return f"civiclink_{settings.site_code}"


def _fmt_time(value, fmt: str = "%m-%d %H:%M") -> str:
    """A UTC datetime as the site's local time (the caller and the operator live in it)."""
    if value is None:
        return "—"
    tz = templates.globals.get("_tz")
    return (value.astimezone(tz) if tz is not None else value).strftime(fmt)


templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                        trim_blocks=True, lstrip_blocks=True)
templates.globals.update(t=t, label=label, labels=labels, static=lambda path: f"/static/{path}", quote=quote)
templates.filters["time"] = _fmt_time


def _fmt_iso(value: str | None, fmt: str = "%m-%d %H:%M") -> str:
    """An ISO timestamp from a JSON-shaped result (the triage suggestion), in the site's local time."""
    from datetime import datetime

    try:
        return _fmt_time(datetime.fromisoformat(value), fmt) if value else "—"
    except ValueError:
        return "—"


templates.filters["isotime"] = _fmt_iso


@dataclass(frozen=True)
class NavItem:
    href: str
    key: str  # message key


def navigation(actor: Actor | None, site_role: str) -> list[NavItem]:
    """The links a role sees (nothing it may not use)."""
    if actor is None:
        return []
    items = [NavItem("/", "nav.home")]
    if site_role == "police":
        if actor.has(Role.POLICE_OPERATOR, Role.POLICE_COMMANDER, Role.ADMIN, Role.LEADER):
            items.append(NavItem("/desk", "nav.desk"))
    else:
        if actor.has(Role.OPERATOR):
            items.append(NavItem("/intake", "nav.intake"))
        if actor.has(Role.DISPATCHER):
            items.append(NavItem("/queue/dispatch", "nav.queue.dispatch"))
        if actor.has(Role.UNIT_STAFF) and actor.unit_id is not None:
            items.append(NavItem("/queue/unit", "nav.queue.unit"))
        if actor.has(Role.SUPERVISOR):
            items.append(NavItem("/queue/supervise", "nav.queue.supervise"))
        if actor.has(Role.CALLBACK_AGENT):
            items.append(NavItem("/queue/callback", "nav.queue.callback"))
        items.append(NavItem("/orders", "nav.orders"))
        if actor.has(Role.DISPATCHER, Role.CALLBACK_AGENT, Role.SUPERVISOR):
            items.append(NavItem("/joint", "nav.joint"))
    from civiclink.linkage.service import READ_ROLES as LINKAGE_READERS

    if actor.roles & LINKAGE_READERS:
        items.append(NavItem("/transfers", "nav.transfers"))
    from civiclink.callcentre.service import CALL_READERS

    if actor.roles & CALL_READERS:
        items.append(NavItem("/calls", "nav.calls"))
    if actor.has(Role.LEADER, Role.SUPERVISOR, Role.ADMIN, Role.POLICE_COMMANDER):
        items.append(NavItem("/dashboard", "nav.dashboard"))
    if site_role == "hotline" and actor.has(Role.LEADER, Role.SUPERVISOR, Role.ADMIN):
        items.append(NavItem("/kpi", "nav.kpi"))
        items.append(NavItem("/reports", "nav.reports"))
    if actor.has(Role.ADMIN, Role.SUPERVISOR):  # who may read the audit chain (audit/api.py)
        items.append(NavItem("/audit", "nav.audit"))
    if actor.has(Role.ADMIN):
        items.append(NavItem("/admin", "nav.admin"))
    return items


def render(request: Request, name: str, *, actor: Actor | None = None, status_code: int = 200,
           headers: dict | None = None, **values) -> HTMLResponse:
    state = request.app.state.civiclink
    settings = state.settings
    templates.globals["_tz"] = settings.tz
    html = templates.get_template(name).render(
        site_name=settings.site_name, site_role=settings.site_role, actor=actor, request=request,
        nav=navigation(actor, settings.site_role), path=request.url.path, **values)
    return HTMLResponse(html, status_code=status_code, headers=headers)


class LoginRequired(Exception):
    """Raised by ``PageActor`` when there is no valid session; answered with a redirect to the login page."""

    def __init__(self, next_path: str):
        self.next_path = next_path


def cross_site(request: Request) -> bool:
    """A write that a page of another origin made the browser send. SameSite=Strict keeps the cookie from other
    sites, but "site" includes other ports and sibling hosts; the browser's Sec-Fetch-Site and Origin headers
    name the real origin. (Requests without them — scripts, tests — are not a browser being tricked.)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.headers.get("origin")
    if origin and origin != "null":
        from urllib.parse import urlsplit

        return urlsplit(origin).netloc != request.url.netloc
    return bool(origin)


async def page_actor(request: Request, state, ctx) -> Actor | None:
    token = request.cookies.get(cookie_name(state.settings))
    if not token:
        return None
    try:
        return await actor_for_token(state, ctx, token)
    except NotAuthenticated:
        return None


async def require_page_actor(request: Request, state: StateDep, ctx: CtxDep) -> Actor:
    if request.method not in ("GET", "HEAD") and cross_site(request):
        raise Forbidden(t("error.cross_site"))
    actor = await page_actor(request, state, ctx)
    if actor is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return actor


PageActor = Annotated[Actor, Depends(require_page_actor)]


def login_redirect(request: Request, exc: LoginRequired):
    """No session. A page goes to the login page and comes back after it. An htmx fragment (the triage panel
    while an operator types) must not navigate the page away from what is typed: it shows a note with a login
    link that opens a new window. A form post comes back to the page it was posted from (never to the POST-only
    address itself)."""
    from urllib.parse import urlsplit

    from fastapi.responses import RedirectResponse

    if is_htmx(request):
        html = (f'<p class="notice error" role="alert">{escape(t("login.expired_fragment"))} '
                f'<a href="/login" target="_blank" rel="noopener">{escape(t("login.open_login"))}</a></p>')
        return HTMLResponse(html, status_code=200)
    next_path = exc.next_path
    if request.method not in ("GET", "HEAD"):
        referer = urlsplit(request.headers.get("referer", ""))
        same = referer.netloc == request.url.netloc and referer.path.startswith("/")
        next_path = referer.path + (f"?{referer.query}" if referer.query else "") if same else "/"
    target = "/login" if next_path == "/" else f"/login?next={quote(next_path, safe='')}"
    return RedirectResponse(target, status_code=303)


# ---------------------------------------------------------------------------------------------- form errors

def _error_text(error: dict) -> str:
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    key = f"error.{kind}"
    if key in messages():
        try:
            return t(key, **{k: v for k, v in context.items() if isinstance(v, (int, float, str))})
        except (KeyError, IndexError):
            return t(key)
    message = str(error.get("msg", ""))
    # Our own validators already speak Chinese ("Value error, 联系上市民时必须填写满意度").
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")



def field_errors(exc: ValidationError) -> dict[str, str]:
    """{field: Chinese message}; errors of the whole form under ``""``. Nested fields as ``caller.phone``."""
    out: dict[str, str] = {}
    for error in exc.errors():
        where = ".".join(str(x) for x in error.get("loc", ()))
        out.setdefault(where, _error_text(error))
    return out


def domain_error_text(exc: Exception) -> str:
    if isinstance(exc, StaleDataError):
        return t("error.stale")
    if isinstance(exc, DomainError):
        return exc.message
    raise exc


async def run_write(request: Request, ctx, write) -> Any:
    """Run ``write(wctx)`` in the writer's batch (one transaction with its audit event and outbox message); its
    return value (called after the commit if it is callable) is returned."""
    state = request.app.state.civiclink

    def job(wctx):
        result = write(wctx)
        return lambda: result

    return await state.batcher.run(ctx, job)


def form_dict(form) -> dict[str, Any]:
    """An HTML form as a dict for a pydantic body: empty optional fields are left out (the model's default
    applies), ``a.b`` names nest, checkboxes arrive as "on"/"true"."""
    data: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            value = value.strip()
        if value == "":
            continue
        target = data
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        if parts[-1] in target:
            existing = target[parts[-1]]
            target[parts[-1]] = (existing if isinstance(existing, list) else [existing]) + [value]
        else:
            target[parts[-1]] = value
    return data


def done_text(done: str | None) -> str | None:
    """The confirmation shown for ``?done=<key>`` after a redirect: only a known key shows anything, so a link
    cannot make a page say what the system did not do."""
    if not done:
        return None
    from civiclink.i18n import LABELS
    from civiclink.web.messages import messages

    if f"done.{done}" in messages():
        return t(f"done.{done}")
    for family in ("action", "incident_action"):
        if done in LABELS[family]:
            return LABELS[family][done]
    return None


NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/static/", "/dashboard/data", "/open311/")


def is_console_page(request: Request) -> bool:
    """A request a person's browser made for a page (answered in HTML), not one for the API (JSON)."""
    return not request.url.path.startswith(NOT_PAGES)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """A refusal on a console address, in Chinese, as a page (never the API's JSON)."""
    return render(request, "error.html", status_code=status_code, message=message)


def is_htmx(request: Request) -> bool:
    return bool(request.headers.get("HX-Request"))
