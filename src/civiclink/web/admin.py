"""Console pages (issue 5): 管理 — the administrator's pages on both sites.

组织机构 (the org tree, the 派单目录, importing an org file), 用户与角色, 时限规则 with the working-day
calendar, the 12345 ↔ 110 对接事项清单, the 知识库 and the 对接站点 (exchange channel). Reads use the API's
own read functions; every write is the ``do_*`` action the API calls, run by the writer in one transaction
with its audit event (``run_write``), followed by the same cache invalidation the API does after it.

What has no write action is shown read-only and says where it is set: stage and linkage limits are
configuration (``CIVICLINK_SLA_FILE``, ``CIVICLINK_LINKAGE__…``), the state machines and the linkage rules are
code, the route cues are a data file shipped with the release, and the peers are configuration.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import UploadFile

from civiclink.deps import CtxDep, StateDep
from civiclink.errors import Conflict, DomainError, InvalidTransition, NotFound, StaleVersion
from civiclink.exchange.api import list_message_reads, peer_status, retry_dead
from civiclink.exchange.models import OutboxMessage
from civiclink.i18n import label
from civiclink.incidents.states import INCIDENT_RULES
from civiclink.knowledge import actions as knowledge_actions
from civiclink.knowledge.api import item_read, list_items
from civiclink.knowledge.models import KnowledgeItem
from civiclink.knowledge.schemas import ItemCreate, ItemRetire, ItemUpdate
from civiclink.knowledge.service import get_item
from civiclink.linkage.rules import REASON_CODES
from civiclink.orgs import actions as org_actions
from civiclink.orgs.api import parse_org_file, user_read
from civiclink.orgs.models import User
from civiclink.orgs.roles import Actor, Role
from civiclink.orgs.schemas import UserCreate, UserUpdate
from civiclink.orgs.service import get_user
from civiclink.sla import service as sla_service
from civiclink.sla.api import get_year
from civiclink.sla.models import CalendarYear
from civiclink.triage.cues import default_lexicon
from civiclink.web.console import PageActor, domain_error_text, field_errors, render, run_write
from civiclink.web.messages import messages, t
from civiclink.workorders.states import RULES, State

# Each role belongs to one kind of site; a user keeps a role of the other kind if they already have it.
SITE_ROLES = {
    "hotline": (Role.OPERATOR, Role.DISPATCHER, Role.UNIT_STAFF, Role.SUPERVISOR, Role.CALLBACK_AGENT,
                Role.LEADER, Role.ADMIN, Role.CTI),
    "police": (Role.POLICE_OPERATOR, Role.POLICE_COMMANDER, Role.LEADER, Role.ADMIN, Role.CTI),
}
KNOWLEDGE_KINDS = ("policy", "procedure", "which_number", "boundary")
KNOWLEDGE_STATUSES = ("valid", "not_yet_valid", "expired", "retired")
MESSAGE_STATES = {"out": ("pending", "delivered", "dead"), "in": ("applied", "waiting", "rejected")}
# Values a confirmation (?done=…) may show; anything else in the query string is ignored.
FLASH_TEXT = ("ref",)
FLASH_NUMBERS = ("count", "units_created", "units_updated", "units_deactivated", "categories_created",
                 "categories_updated", "categories_deactivated")
ADMIN_NAV = (
    ("overview", "/admin", "admin.nav.overview"),
    ("orgs", "/admin/orgs", "admin.nav.orgs"),
    ("users", "/admin/users", "admin.nav.users"),
    ("sla", "/admin/sla", "admin.nav.sla"),
    ("linkage", "/admin/linkage", "admin.nav.linkage"),
    ("knowledge", "/admin/knowledge", "admin.nav.knowledge"),
    ("peers", "/admin/peers", "admin.nav.peers"),
    ("open311", "/admin/open311", "admin.nav.open311"),  # the 12345 site only (docs/open311.md)
)
_CJK = re.compile(r"[\u4e00-\u9fff]")


class NotAdmin(Exception):
    """A logged-in user without the admin role opened an admin page: answered with the 403 page."""

    def __init__(self, actor: Actor):
        self.actor = actor


class AdminRoute(APIRoute):
    """Turns ``NotAdmin`` (raised by the ``AdminActor`` dependency) into the console's 403 page: the app's own
    handlers answer in the API's JSON, and the console's shared handlers are not this area's to change."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except NotAdmin as exc:
                return render(request, "admin_forbidden.html", actor=exc.actor, status_code=403)

        return guarded


router = APIRouter(prefix="/admin", include_in_schema=False, route_class=AdminRoute)


async def require_admin(actor: PageActor) -> Actor:
    if not actor.has(Role.ADMIN):
        raise NotAdmin(actor)
    return actor


AdminActor = Annotated[Actor, Depends(require_admin)]


# ---------------------------------------------------------------------------------------------------- helpers


def done(path: str, key: str, **values) -> RedirectResponse:
    """After a successful POST: back to the list (303: a reload does not post again) with a confirmation."""
    query = urlencode({"done": key, **{k: v for k, v in values.items() if v is not None}})
    return RedirectResponse(f"{path}?{query}", status_code=303)


def flash(request: Request) -> str | None:
    """The confirmation named by ``?done=`` — only catalogue texts, filled with short plain values."""
    key = f"admin.done.{request.query_params.get('done', '')}"
    if key not in messages():
        return None
    values = {name: request.query_params.get(name, "")[:100] for name in FLASH_TEXT}
    for name in FLASH_NUMBERS:
        raw = request.query_params.get(name, "0")
        values[name] = raw if raw.isdigit() else "0"
    return t(key, **values)


def page(request: Request, name: str, actor: Actor, *, section: str, status_code: int = 200,
         **values) -> Response:
    return render(request, name, actor=actor, status_code=status_code, section=section, flash=flash(request),
                  admin_nav=_nav(request), **values)


def _nav(request: Request) -> tuple:
    hotline = request.app.state.civiclink.settings.site_role == "hotline"
    return tuple(item for item in ADMIN_NAV if hotline or item[0] != "open311")


def not_found(request: Request, actor: Actor, message: str, back: str) -> Response:
    return render(request, "admin_not_found.html", actor=actor, status_code=404, message=message, back=back,
                  section="", admin_nav=_nav(request), flash=None)


def form_errors(exc: ValidationError, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """{top-level field: Chinese message} for a form. ``overrides`` maps ``field:error_type`` (or ``field:*``
    for any type but "missing") to a message key, for errors whose generic wording would mislead (a too-short
    password is not "empty"). Pydantic's English wording never reaches the page."""
    overrides = overrides or {}
    generic = field_errors(exc)
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(x) for x in error.get("loc", ())]
        field = loc[0] if loc else ""
        kind = error.get("type", "")
        key = overrides.get(f"{field}:{kind}") or (overrides.get(f"{field}:*") if kind != "missing" else None)
        text = t(key) if key else generic.get(".".join(loc), "")
        if not _CJK.search(text):
            text = t("admin.error.format")
        out.setdefault(field, text)
    return out


REFUSALS = (DomainError, StaleDataError, IntegrityError)
STALE = (StaleVersion, StaleDataError)


def write_errors(exc: Exception, *, conflict_field: str = "") -> tuple[dict[str, str], int]:
    """A refused write as ({field: message}, HTTP status). A domain error names its field when it knows it;
    a plain conflict (a code or username that exists) belongs to the form's key field."""
    if isinstance(exc, IntegrityError):
        # Two admins created the same code in one instant: the database's unique index said no.
        return {conflict_field: t("admin.error.duplicate")}, 409
    text = domain_error_text(exc)  # re-raises anything that is not a refusal
    if isinstance(exc, StaleDataError):
        return {"": text}, 409
    assert isinstance(exc, DomainError)
    field = exc.field or ""
    if not field and isinstance(exc, Conflict) and not isinstance(exc, (StaleVersion, InvalidTransition)):
        field = conflict_field
    return {field: text}, exc.status_code


def released(ctx, read: Callable, *args):
    """Run a read before a write, then end its transaction: a request waiting for the writer must hold no
    read transaction (on SQLite it would block the writer's commit) and no pooled connection."""
    try:
        return read(*args)
    finally:
        ctx.session.rollback()


def text(form, name: str) -> str:
    return str(form.get(name, "")).strip()


def split_list(value: str, *, lines: bool = False) -> list[str]:
    """A textarea (one per line) or a one-line list (separated by commas, 顿号 or semicolons) as a list."""
    parts = value.splitlines() if lines else re.split(r"[,，、;；\n]+", value)
    return [p.strip() for p in parts if p.strip()]


async def read_upload(request: Request) -> tuple[str, bytes] | None:
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return upload.filename, await upload.read()


def unit_options(ctx) -> list[dict]:
    """Active units for a unit field's suggestion list: the code, with name and kind as the visible label."""
    units = sorted((u for u in ctx.directory.units.values() if u.active),
                   key=lambda u: (len(u.ancestor_ids), u.code))
    return [{"code": u.code, "label": f"{u.label}（{label('unit_kind', u.kind)}）"} for u in units]


# -------------------------------------------------------------------------------------------------- overview


@router.get("")
def overview(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    session, d = ctx.session, ctx.directory
    today = ctx.calendar.local_date(ctx.now)
    users = dict(session.execute(select(User.active, func.count()).group_by(User.active)).all())
    knowledge = session.execute(select(func.count()).select_from(KnowledgeItem).where(
        KnowledgeItem.retired_at.is_(None), KnowledgeItem.effective_from <= today,
        KnowledgeItem.expires_on.is_(None) | (KnowledgeItem.expires_on > today))).scalar_one()
    dead = session.execute(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.state == "dead")).scalar_one()
    last_year = ctx.calendar.last_known_year
    tiles = [
        {"href": "/admin/orgs", "key": "admin.overview.units",
         "count": sum(u.active for u in d.units.values())},
        {"href": "/admin/users", "count": users.get(True, 0), "key": "admin.overview.users"},
        {"href": "/admin/knowledge", "count": knowledge, "key": "admin.overview.knowledge"},
        {"href": "/admin/peers", "count": dead, "key": "admin.overview.dead", "tone": "red" if dead else ""},
        # Next year's holidays must be imported before it starts, or its deadlines are only provisional.
        {"href": "/admin/sla#calendar", "count": last_year or "—", "key": "admin.overview.calendar",
         "tone": "yellow" if (last_year or 0) <= today.year else ""},
    ]
    if ctx.settings.site_role == "hotline":
        tiles.insert(1, {"href": "/admin/orgs#categories", "key": "admin.overview.categories",
                         "count": sum(c.active for c in d.categories.values())})
    return page(request, "admin.html", actor, section="overview", tiles=tiles)


# ------------------------------------------------------------------------------------------------ org tree


def _org_view(ctx, q: str) -> dict:
    d = ctx.directory
    active = [u for u in d.units.values() if u.active]
    children: dict[int | None, list] = {}
    for u in sorted(active, key=lambda u: u.code):
        children.setdefault(u.parent_id, []).append(u)
    matches = None
    if q:
        needle = q.lower()

        def hit(u) -> bool:
            names = (u.code, u.name, u.full_name or "", *u.aliases)
            return any(needle in name.lower() for name in names)

        matches = [u for u in sorted(d.units.values(), key=lambda u: (len(u.ancestor_ids), u.code)) if hit(u)]
    categories = []
    if ctx.settings.site_role == "hotline":  # the 派单目录 is the hotline's; a 110 site dispatches police
        for c in sorted(d.categories.values(), key=lambda c: c.code):
            if c.active:
                owner = d.unit(c.owner_unit_id)
                categories.append({"code": c.code, "path": c.path_name, "local": c.local,
                                   "owner": owner.label if owner else None,
                                   "keywords": "、".join(c.keywords)})
    return {"roots": children.get(None, []), "children": children, "q": q,
            "parent_label": {u.id: u.label for u in d.units.values()},
            "matches": matches[:200] if matches is not None else None, "match_count": len(matches or ()),
            "categories": categories, "active_count": len(active),
            "inactive": sorted((u for u in d.units.values() if not u.active), key=lambda u: u.code)}


@router.get("/orgs")
def orgs(request: Request, ctx: CtxDep, actor: AdminActor, q: str = "") -> Response:
    view = _org_view(ctx, q.strip()[:50])
    return page(request, "admin_orgs.html", actor, section="orgs", errors={}, **view)


@router.post("/orgs/import")
async def import_orgs(request: Request, state: StateDep, ctx: CtxDep, actor: AdminActor) -> Response:
    upload = await read_upload(request)
    errors, status = {"file": t("admin.error.file_required")}, 422
    if upload is not None:
        filename, raw = upload
        try:
            org_file = parse_org_file(filename, raw)  # the API's parser: the same formats and messages

            def write(wctx):
                report = org_actions.do_import_org_file(
                    wctx.session, org_file, actor=actor, source=filename,
                    today=wctx.calendar.local_date(wctx.now), now=wctx.now)
                return report.model_dump()

            report = await run_write(request, ctx, write)
        except REFUSALS as exc:
            found, status = write_errors(exc)
            errors = {"file": next(iter(found.values()))}
        else:
            state.directory.invalidate()  # as the API does: this process sees the new tree at once
            return done("/admin/orgs", "org_imported", ref=filename[:100], **report)
    view = await run_in_threadpool(_org_view, ctx, "")
    return page(request, "admin_orgs.html", actor, section="orgs", errors=errors, status_code=status, **view)


# --------------------------------------------------------------------------------------------------- users

USER_OVERRIDES = {
    "username:string_pattern_mismatch": "admin.error.pattern",
    "roles:*": "admin.users.roles_required",
    "roles:missing": "admin.users.roles_required",
    "password:string_too_short": "admin.users.password_short",
}


def _role_choices(site_role: str, current: list[str]) -> list[dict]:
    offered = list(SITE_ROLES[site_role])
    offered += [Role(r) for r in current if r in Role._value2member_map_ and Role(r) not in offered]
    return [{"value": r.value, "label": label("role", r)} for r in offered]


def _user_form(request: Request, ctx, actor: Actor, *, user=None, typed: dict, errors: dict,
               status_code: int = 200) -> Response:
    current = [r.value for r in user.roles] if user is not None else []
    return page(request, "admin_user_form.html", actor, section="users", user=user, typed=typed,
                errors=errors, roles=_role_choices(ctx.settings.site_role, current), units=unit_options(ctx),
                status_code=status_code)


def _load_user(ctx, username: str):
    return user_read(ctx, get_user(ctx.session, username=username))


@router.get("/users")
def users(request: Request, ctx: CtxDep, actor: AdminActor, q: str = "") -> Response:
    q = q.strip()[:50]
    rows = [user_read(ctx, u) for u in ctx.session.execute(select(User).order_by(User.username)).scalars()]
    if q:
        rows = [u for u in rows if q.lower() in u.username.lower() or q in u.display_name]
    return page(request, "admin_users.html", actor, section="users", users=rows, q=q)


@router.get("/users/new")
def new_user(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    return _user_form(request, ctx, actor, typed={"roles": []}, errors={})


@router.post("/users")
async def create_user(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    form = await request.form()
    # What the admin typed, to show again on error — never the password.
    typed = {"username": text(form, "username"), "display_name": text(form, "display_name"),
             "roles": [str(r) for r in form.getlist("roles")], "unit_code": text(form, "unit_code")}
    data: dict[str, Any] = {"username": typed["username"], "display_name": typed["display_name"],
                            "roles": typed["roles"], "password": str(form.get("password", ""))}
    if typed["unit_code"]:
        data["unit_code"] = typed["unit_code"]
    try:
        user_in = UserCreate.model_validate(data)
    except ValidationError as exc:
        errors = form_errors(exc, USER_OVERRIDES)
        return _user_form(request, ctx, actor, typed=typed, errors=errors, status_code=422)

    def write(wctx):
        return org_actions.do_create_user(wctx.session, user_in, actor=actor, now=wctx.now).username

    try:
        username = await run_write(request, ctx, write)
    except REFUSALS as exc:
        errors, status = write_errors(exc, conflict_field="username")
        return _user_form(request, ctx, actor, typed=typed, errors=errors, status_code=status)
    return done("/admin/users", "user_created", ref=username)


@router.get("/users/{username}")
def edit_user(username: str, request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    try:
        user = _load_user(ctx, username)
    except NotFound as exc:
        return not_found(request, actor, exc.message, "/admin/users")
    typed = {"display_name": user.display_name, "roles": [r.value for r in user.roles],
             "unit_code": user.unit_code or "", "active": user.active, "version": user.version}
    return _user_form(request, ctx, actor, user=user, typed=typed, errors={})


@router.post("/users/{username}")
async def update_user(username: str, request: Request, state: StateDep, ctx: CtxDep,
                      actor: AdminActor) -> Response:
    form = await request.form()
    try:
        user = await run_in_threadpool(released, ctx, _load_user, ctx, username)
    except NotFound as exc:
        return not_found(request, actor, exc.message, "/admin/users")
    typed = {"display_name": text(form, "display_name"), "roles": [str(r) for r in form.getlist("roles")],
             "unit_code": text(form, "unit_code"), "active": form.get("active") is not None,
             "version": text(form, "version")}
    # Every field is sent, so that clearing the unit clears it (an absent unit_code means "unchanged").
    data: dict[str, Any] = {"version": typed["version"], "display_name": typed["display_name"],
                            "roles": typed["roles"], "unit_code": typed["unit_code"] or None,
                            "active": typed["active"]}
    if form.get("password"):
        data["password"] = str(form.get("password"))
    try:
        user_in = UserUpdate.model_validate(data)
    except ValidationError as exc:
        errors = form_errors(exc, USER_OVERRIDES)
        return _user_form(request, ctx, actor, user=user, typed=typed, errors=errors, status_code=422)

    def write(wctx):
        row = get_user(wctx.session, username=username)
        org_actions.do_update_user(wctx.session, row, user_in, actor=actor, now=wctx.now)
        return row.username

    try:
        await run_write(request, ctx, write)
    except REFUSALS as exc:
        errors, status = write_errors(exc)
        return _user_form(request, ctx, actor, user=user, typed=typed, errors=errors, status_code=status)
    state.tokens.clear()  # as the API does: no cached identity outlives a change of roles, unit or active
    return done("/admin/users", "user_updated", ref=username)


# ------------------------------------------------------------------------------------- SLA rules and calendar


def _limit_rows(settings) -> list[dict]:
    return [{
        "stage": label("stage", stage),
        "default": limits.default.label,
        "by_request_type": [(label("request_type", k), v.label) for k, v in limits.by_request_type.items()],
        "by_urgency": [(label("urgency", k), v.label) for k, v in limits.by_urgency.items()],
    } for stage, limits in settings.sla.stages.items()]


def _transition_rows(site_role: str) -> list[dict]:
    """This site's state machine, exactly the table its actions enforce."""
    if site_role == "police":
        return [{"action": label("incident_action", a),
                 "from": [label("incident_state", s) for s in sorted(r.sources)],
                 "roles": [label("role", x) for x in sorted(r.roles)],
                 "to": label("incident_state", r.target) if r.target else None, "unit_scoped": False}
                for a, r in INCIDENT_RULES.items()]
    order = {s: i for i, s in enumerate(State)}
    return [{"action": label("action", a),
             "from": [label("state", s) for s in sorted(r.sources, key=order.get)],
             "roles": [label("role", x) for x in sorted(r.roles)],
             "to": label("state", r.target) if r.target else None, "unit_scoped": r.unit_scoped}
            for a, r in RULES.items()]


def _sla_view(ctx, actor: Actor, year: int) -> dict:
    settings = ctx.settings
    linkage = settings.linkage
    imported = ctx.session.execute(select(CalendarYear).order_by(CalendarYear.year)).scalars().all()
    return {
        "hotline": settings.site_role == "hotline",
        "sla_file": str(settings.sla_file) if settings.sla_file else None,
        "stages": _limit_rows(settings),
        "yellow_percent": round(settings.sla.yellow_share * 100),
        "return_window": settings.sla.return_window.label,
        "max_extension": settings.sla.max_extension.label,
        "linkage": [
            ("admin.sla.police_sign_limit", linkage.police_sign_limit.label),
            ("admin.sla.hotline_sign_limit", linkage.hotline_sign_limit.label),
            ("admin.sla.max_retransfers", t("admin.sla.times", n=linkage.max_retransfers)),
            ("admin.sla.joint_police_part_limit", linkage.joint_police_part_limit.label),
            ("admin.sla.joint_case_limit", linkage.joint_case_limit.label),
        ],
        "transitions": _transition_rows(settings.site_role),
        "year": get_year(year, ctx, actor),  # the same read as GET /api/calendar/{year}
        "imported": imported,
        "imported_by_year": {y.year: y for y in imported},
    }


def _year(ctx, raw: str | None) -> tuple[int, str | None]:
    today = ctx.calendar.local_date(ctx.now)
    if not raw:
        return today.year, None
    if raw.strip().isdigit() and 2004 <= int(raw) <= 2100:
        return int(raw), None
    return today.year, t("admin.calendar.bad_year")


@router.get("/sla")
def sla(request: Request, ctx: CtxDep, actor: AdminActor, year: str | None = None) -> Response:
    chosen, error = _year(ctx, year)
    return page(request, "admin_sla.html", actor, section="sla", errors={"year": error} if error else {},
                typed_year=year or chosen, status_code=422 if error else 200, **_sla_view(ctx, actor, chosen))


@router.post("/sla/calendar")
async def import_calendar(request: Request, state: StateDep, ctx: CtxDep, actor: AdminActor) -> Response:
    upload = await read_upload(request)
    errors, status = {"file": t("admin.error.file_required")}, 422
    if upload is not None:
        filename, raw = upload
        try:
            schedule = sla_service.parse_calendar_csv(raw.decode("utf-8"))

            def write(wctx):
                return sla_service.do_import_calendar(
                    wctx.session, schedule, actor=actor, source=filename, now=wctx.now, tz=state.settings.tz,
                    yellow_share=state.settings.sla.yellow_share)

            years = await run_write(request, ctx, write)
        except UnicodeDecodeError:
            errors = {"file": t("admin.error.encoding")}
        except REFUSALS as exc:
            found, status = write_errors(exc)
            errors = {"file": next(iter(found.values()))}
        else:
            state.calendar.invalidate()  # as the API does: this process counts on the new calendar at once
            return done("/admin/sla", "calendar_imported", ref="、".join(str(y) for y in years))
    chosen, _ = _year(ctx, None)
    view = await run_in_threadpool(_sla_view, ctx, actor, chosen)
    return page(request, "admin_sla.html", actor, section="sla", errors=errors, typed_year=chosen,
                status_code=status, **view)


# ---------------------------------------------------------------------------------------- 对接事项清单

# Design §5 as the linkage engine implements it (linkage/rules.py, linkage/actions.py, incidents/actions.py):
# R-number, direction, and the catalogue stem of its situation / mechanism / result.
MECHANISMS = (
    ("R-201", "both", "r201"),
    ("R-202", "both", "r202"),
    ("R-203", "to110", "r203"),
    ("R-204", "both", "r204"),
    ("R-205", "to110", "r205"),
    ("R-206", "to110", "r206"),
    ("R-207", "to12345", "r207"),
    ("R-307", "both", "r307"),
    ("R-212", "both", "r212"),
    ("R-503", "both", "r503"),
)
# Which way each kind of triage cue sends a matter (triage/cues.py decides the route from these kinds);
# "resolved" only cancels other cues and is no matter of its own.
CUE_ROUTES = ("police", "danger", "group", "unclear", "urgent", "refer")


def _linkage_view(ctx) -> dict:
    cues = default_lexicon().cues
    items = [{"rule": cue.rule, "label": cue.label, "route": t(f"admin.linkage.route.{kind}"), "kind": kind,
              "channel": cue.channel, "also": cue.also,
              "urgency": label("urgency", cue.urgency) if cue.urgency else None}
             for kind in CUE_ROUTES for cue in cues if cue.kind == kind]
    linkage = ctx.settings.linkage
    limits = {"r204": t("admin.linkage.r204.limits", police=linkage.police_sign_limit.label,
                        hotline=linkage.hotline_sign_limit.label),
              "r212": t("admin.sla.times", n=linkage.max_retransfers),
              "r307": t("admin.linkage.r307.limits", part=linkage.joint_police_part_limit.label,
                        case=linkage.joint_case_limit.label)}
    mechanisms = [{"rule": rule, "direction": t(f"admin.linkage.dir.{direction}"),
                   "situation": t(f"admin.linkage.{stem}.situation"),
                   "mechanism": t(f"admin.linkage.{stem}.mechanism"),
                   "result": t(f"admin.linkage.{stem}.result"), "limit": limits.get(stem)}
                  for rule, direction, stem in MECHANISMS]
    return {"mechanisms": mechanisms, "items": items, "reasons": sorted(REASON_CODES.items())}


@router.get("/linkage")
def linkage(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    return page(request, "admin_linkage.html", actor, section="linkage", **_linkage_view(ctx))


# ------------------------------------------------------------------------------------------------ 知识库

KNOWLEDGE_FIELDS = ("code", "title", "kind", "questions", "answer", "keywords", "owner", "region", "source",
                    "effective_from", "expires_on")
KNOWLEDGE_OVERRIDES = {
    "code:string_pattern_mismatch": "admin.knowledge.code_pattern",
    "effective_from:*": "admin.error.date",
    "expires_on:*": "admin.error.date",
    "kind:*": "admin.knowledge.kind_required",
}


def _knowledge_typed(form) -> dict[str, str]:
    return {name: text(form, name) for name in KNOWLEDGE_FIELDS}


def _knowledge_data(typed: dict[str, str], *, with_code: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"title": typed["title"], "kind": typed["kind"] or "policy",
                            "answer": typed["answer"], "keywords": split_list(typed["keywords"]),
                            "questions": split_list(typed["questions"], lines=True)}
    if with_code:
        data["code"] = typed["code"]
    for name in ("owner", "region", "source", "effective_from", "expires_on"):
        if typed[name]:
            data[name] = typed[name]
    return data


def _typed_from_item(item) -> dict[str, str]:
    return {"code": item.code, "title": item.title, "kind": item.kind, "questions": "\n".join(item.questions),
            "answer": item.answer, "keywords": "、".join(item.keywords), "owner": item.owner or "",
            "region": item.region or "", "source": item.source or "",
            "effective_from": item.effective_from.isoformat(),
            "expires_on": item.expires_on.isoformat() if item.expires_on else ""}


def _knowledge_form(request: Request, ctx, actor: Actor, *, item=None, typed: dict, errors: dict,
                    retire_errors: dict | None = None, retire_reason: str = "", current=None,
                    version: int | None = None, status_code: int = 200) -> Response:
    return page(request, "admin_knowledge_form.html", actor, section="knowledge", item=item, typed=typed,
                errors=errors, retire_errors=retire_errors or {}, retire_reason=retire_reason,
                current=current, version=version if version is not None else (item.version if item else None),
                kinds=KNOWLEDGE_KINDS, units=unit_options(ctx), status_code=status_code)


def _knowledge_list(ctx, state, actor: Actor, q: str, status: str, kind: str) -> list:
    if not q:
        return list_items(ctx, actor, status=status or None, kind=kind or None)  # GET /api/knowledge
    # The index of /api/knowledge/search, but an admin finds retired and expired items too.
    hits = state.knowledge.get(ctx.session).search(q, today=ctx.calendar.local_date(ctx.now), limit=50,
                                                    include_invalid=True)
    codes = [h.item.code for h in hits]
    found = ctx.session.execute(select(KnowledgeItem).where(KnowledgeItem.code.in_(codes))).scalars()
    rows = {i.code: i for i in found}
    reads = [item_read(ctx, rows[c]) for c in codes if c in rows]
    return [r for r in reads if (not status or r.status == status) and (not kind or r.kind == kind)]


def _load_item(ctx, code: str):
    return item_read(ctx, get_item(ctx.session, code))


async def _item_or_404(request: Request, ctx, actor: Actor, code: str):
    try:
        return await run_in_threadpool(released, ctx, _load_item, ctx, code), None
    except NotFound as exc:
        return None, not_found(request, actor, exc.message, "/admin/knowledge")


@router.get("/knowledge")
def knowledge(request: Request, ctx: CtxDep, state: StateDep, actor: AdminActor, q: str = "",
              status: str = "", kind: str = "") -> Response:
    q = q.strip()[:200]
    status = status if status in KNOWLEDGE_STATUSES else ""
    kind = kind if kind in KNOWLEDGE_KINDS else ""
    items = _knowledge_list(ctx, state, actor, q, status, kind)
    return page(request, "admin_knowledge.html", actor, section="knowledge", items=items, q=q, status=status,
                kind=kind, kinds=KNOWLEDGE_KINDS, statuses=KNOWLEDGE_STATUSES)


@router.get("/knowledge/new")
def new_knowledge(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    typed = dict.fromkeys(KNOWLEDGE_FIELDS, "")
    typed.update(kind="policy", effective_from=ctx.calendar.local_date(ctx.now).isoformat())
    return _knowledge_form(request, ctx, actor, typed=typed, errors={})


@router.post("/knowledge")
async def add_knowledge(request: Request, state: StateDep, ctx: CtxDep, actor: AdminActor) -> Response:
    typed = _knowledge_typed(await request.form())
    try:
        item_in = ItemCreate.model_validate(_knowledge_data(typed, with_code=True))
    except ValidationError as exc:
        errors = form_errors(exc, KNOWLEDGE_OVERRIDES)
        return _knowledge_form(request, ctx, actor, typed=typed, errors=errors, status_code=422)

    def write(wctx):
        return knowledge_actions.do_add_item(wctx, item_in, actor=actor).code

    try:
        code = await run_write(request, ctx, write)
    except REFUSALS as exc:
        errors, status = write_errors(exc, conflict_field="code")
        return _knowledge_form(request, ctx, actor, typed=typed, errors=errors, status_code=status)
    state.knowledge.invalidate()  # as the API does: this process re-indexes at once
    return done("/admin/knowledge", "knowledge_added", ref=code)


@router.get("/knowledge/{code}")
def edit_knowledge(code: str, request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    try:
        item = _load_item(ctx, code)
    except NotFound as exc:
        return not_found(request, actor, exc.message, "/admin/knowledge")
    return _knowledge_form(request, ctx, actor, item=item, typed=_typed_from_item(item), errors={})


@router.post("/knowledge/{code}")
async def revise_knowledge(code: str, request: Request, state: StateDep, ctx: CtxDep,
                           actor: AdminActor) -> Response:
    form = await request.form()
    item, missing = await _item_or_404(request, ctx, actor, code)
    if missing is not None:
        return missing
    typed = {**_knowledge_typed(form), "code": code}
    version = text(form, "version")
    try:
        item_in = ItemUpdate.model_validate({**_knowledge_data(typed, with_code=False), "version": version})
    except ValidationError as exc:
        errors = form_errors(exc, KNOWLEDGE_OVERRIDES)
        return _knowledge_form(request, ctx, actor, item=item, typed=typed, errors=errors,
                               version=int(version) if version.isdigit() else None, status_code=422)

    def write(wctx):
        return knowledge_actions.do_update_item(wctx, get_item(wctx.session, code), item_in, actor=actor).code

    try:
        await run_write(request, ctx, write)
    except REFUSALS as exc:
        errors, status = write_errors(exc)
        if isinstance(exc, STALE):
            # Someone saved a newer version: show it beside what this admin typed, and let a second submit
            # knowingly replace it (the form now carries the current version).
            current, _ = await _item_or_404(request, ctx, actor, code)
            if current is not None:
                return _knowledge_form(request, ctx, actor, item=current, typed=typed, errors=errors,
                                       current=current, version=current.version, status_code=409)
        return _knowledge_form(request, ctx, actor, item=item, typed=typed, errors=errors,
                               version=item_in.version, status_code=status)
    state.knowledge.invalidate()
    return done("/admin/knowledge", "knowledge_revised", ref=code)


@router.post("/knowledge/{code}/retire")
async def retire_knowledge(code: str, request: Request, state: StateDep, ctx: CtxDep,
                           actor: AdminActor) -> Response:
    form = await request.form()
    item, missing = await _item_or_404(request, ctx, actor, code)
    if missing is not None:
        return missing
    reason = text(form, "reason")
    try:
        body = ItemRetire.model_validate({"version": text(form, "version"), "reason": reason})

        def write(wctx):
            item_row = get_item(wctx.session, code)
            return knowledge_actions.do_retire_item(wctx, item_row, body, actor=actor).code

        await run_write(request, ctx, write)
    except ValidationError as exc:
        errors, status = {"reason": form_errors(exc).get("reason") or t("admin.error.format")}, 422
    except REFUSALS as exc:
        found, status = write_errors(exc)
        errors = {"reason": next(iter(found.values()))}
    else:
        state.knowledge.invalidate()
        return done("/admin/knowledge", "knowledge_retired", ref=code)
    return _knowledge_form(request, ctx, actor, item=item, typed=_typed_from_item(item), errors={},
                           retire_errors=errors, retire_reason=reason, status_code=status)


# ------------------------------------------------------------------------------------------------ 对接站点


def _peers_view(ctx, direction: str, state_filter: str) -> dict:
    dead = ctx.session.execute(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.state == "dead")).scalar_one()
    # The reads of GET /api/exchange/status and GET /api/exchange/messages.
    return {"peers": peer_status(ctx.session, ctx.settings), "dead": dead, "direction": direction,
            "state_filter": state_filter, "states": MESSAGE_STATES[direction],
            "messages": list_message_reads(ctx.session, direction=direction, state=state_filter or None,
                                           case_ref=None, limit=100)}


def message_type_label(kind: str) -> str:
    key = f"admin.msgtype.{kind}"
    return t(key) if key in messages() else kind


@router.get("/peers")
def peers(request: Request, ctx: CtxDep, state: StateDep, actor: AdminActor,
          direction: str = "out") -> Response:
    # ``?state=`` is read from the query string: the parameter name ``state`` is the app state's here.
    direction = direction if direction in MESSAGE_STATES else "out"
    wanted = request.query_params.get("state", "")
    wanted = wanted if wanted in MESSAGE_STATES[direction] else ""
    return page(request, "admin_peers.html", actor, section="peers", relay=state.relay is not None,
                type_label=message_type_label, **_peers_view(ctx, direction, wanted))


def _message_state(ctx, message_id: str) -> str | None:
    return ctx.session.execute(select(OutboxMessage.state).where(
        OutboxMessage.message_id == message_id)).scalar_one_or_none()


@router.post("/peers/retry")
async def retry_messages(request: Request, state: StateDep, ctx: CtxDep, actor: AdminActor) -> Response:
    form = await request.form()
    # No message named: every dead letter, as `civiclink exchange retry --all` does.
    message_id = text(form, "message_id") or None
    error, status = None, 200
    if message_id is not None:
        # The checks of POST /api/exchange/messages/{id}/retry: it exists, and it is a dead letter.
        found = await run_in_threadpool(released, ctx, _message_state, ctx, message_id)
        if found is None:
            error, status = t("admin.peers.no_such_message", ref=message_id[:40]), 404
        elif found != "dead":
            error, status = t("admin.peers.not_dead", state=label("message_state", found)), 409
    if error is None:
        # What the API and the CLI call: it puts rows back in the relay's queue (no domain change, no do_*).
        count = await run_in_threadpool(retry_dead, state, message_id=message_id)
        return done("/admin/peers", "messages_requeued", count=count)
    view = await run_in_threadpool(_peers_view, ctx, "out", "dead")
    return page(request, "admin_peers.html", actor, section="peers", relay=state.relay is not None,
                type_label=message_type_label, error=error, status_code=status, **view)


# ------------------------------------------------------------------------------------------------ 开放接口


def _open311_clients(ctx) -> list:
    from civiclink.open311 import actions as open311_actions
    from civiclink.open311.models import Open311Client

    rows = ctx.session.execute(select(Open311Client).order_by(Open311Client.code)).scalars()
    return [open311_actions.client_read(c) for c in rows]


def _open311_page(request, ctx, actor, *, typed=None, errors=None, created=None, status_code=200) -> Response:
    if ctx.settings.site_role != "hotline":
        return not_found(request, actor, t("admin.open311.hotline_only"), "/admin")
    clients = released(ctx, _open311_clients, ctx)
    return page(request, "admin_open311.html", actor, section="open311", clients=clients, typed=typed or {},
                errors=errors or {}, created=created, status_code=status_code,
                endpoint=str(request.base_url).rstrip("/") + "/open311/v2/discovery.xml")


@router.get("/open311")
def open311_clients(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    """Client apps of the Open311 endpoint and their keys (the key itself is shown once, when made)."""
    return _open311_page(request, ctx, actor)


@router.post("/open311")
async def create_open311_client(request: Request, ctx: CtxDep, actor: AdminActor) -> Response:
    from civiclink.open311 import actions as open311_actions

    form = await request.form()
    typed = {"code": text(form, "code"), "name": text(form, "name")}
    try:
        body = open311_actions.ClientCreate.model_validate(typed)
        created = await run_write(request, ctx, lambda wctx: open311_actions.do_create_client(wctx, body,
                                                                                             actor=actor))
    except ValidationError as exc:
        return _open311_page(request, ctx, actor, typed=typed, errors=form_errors(exc), status_code=422)
    except REFUSALS as exc:
        errors, status = write_errors(exc, conflict_field="code")
        return _open311_page(request, ctx, actor, typed=typed, errors=errors, status_code=status)
    # Shown on this page, never in a URL or a log: the key is not kept in clear anywhere.
    return _open311_page(request, ctx, actor, created=created)


@router.post("/open311/{client_id}/revoke")
async def revoke_open311_client(client_id: Annotated[int, Path(ge=1, le=2**31 - 1)], request: Request,
                                ctx: CtxDep, actor: AdminActor) -> Response:
    from civiclink.open311 import actions as open311_actions

    form = await request.form()
    try:
        body = open311_actions.ClientRevoke.model_validate({"version": text(form, "version")})
        code = await run_write(request, ctx, lambda wctx: open311_actions.do_revoke_client(
            wctx, open311_actions.get_client(wctx, client_id), body, actor=actor).code)
    except ValidationError:
        return _open311_page(request, ctx, actor, errors={"revoke": t("admin.error.format")}, status_code=422)
    except REFUSALS as exc:
        errors, status = write_errors(exc)
        return _open311_page(request, ctx, actor, errors={"revoke": next(iter(errors.values()))},
                             status_code=status)
    return done("/admin/open311", "open311_revoked", ref=code)

