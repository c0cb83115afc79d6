"""The 110 desk (police site): pushes from 12345 to 签收 (oldest first, overdue in red, R-204), incidents being
handled (派警, 到场, 处置反馈), matters handed to 12345 (双非, 联合调处) waiting for 12345's write-back, 接警登记,
and each 警单 with its cross-site timeline and the forms of exactly the actions this user may take.

The forms are built from the API's body models (``INCIDENT_ACTION_BODIES``) and run ``do_incident_action``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from civiclink.deps import CtxDep
from civiclink.errors import DomainError, Forbidden, NotFound
from civiclink.i18n import label
from civiclink.incidents import actions, service
from civiclink.incidents.schemas import INCIDENT_ACTION_BODIES, IncidentCreate
from civiclink.incidents.states import TERMINAL, IncidentAction, IncidentState
from civiclink.orgs.roles import Actor, Role
from civiclink.web import consult
from civiclink.web.console import PageActor, done_text, field_errors, form_dict, render, run_write
from civiclink.web.forms import fields_of, submit, unsent_form
from civiclink.web.messages import t

router = APIRouter(include_in_schema=False)
DESK_ROLES = frozenset({Role.POLICE_OPERATOR, Role.POLICE_COMMANDER, Role.ADMIN, Role.LEADER})
WRITE_ROLES = frozenset({Role.POLICE_OPERATOR, Role.POLICE_COMMANDER})
WEIGHTY = {IncidentAction.RETURN, IncidentAction.TRANSFER_TO_12345, IncidentAction.JOINT_TO_12345}
S = IncidentState

SECTIONS = [  # key, states, oldest first?
    ("received", [S.RECEIVED], True),
    ("handling", [S.SIGNED, S.DISPATCHED, S.ARRIVED], True),
    ("with_12345", [S.TRANSFERRED_TO_12345], True),
    ("done", [S.FINISHED, S.RETURNED, S.CLOSED], False),
]


DESK_ROWS = 50


def _desk(ctx, actor: Actor, *, only: str | None = None, page: int = 0) -> list[dict]:
    """Each section's first rows; ``only`` one section, paged (the desk must reach every 警单, not just the last
    fifty of each kind)."""
    sections = []
    for key, states, oldest in SECTIONS:
        if only and key != only:
            continue
        offset = page * DESK_ROWS if only else 0
        found = service.list_incidents(ctx, actor, state=[str(s) for s in states], oldest_first=oldest,
                                       offset=offset, limit=DESK_ROWS)
        sections.append({"key": key, "title": t(f"desk.{key}"), "total": found.total, "items": found.items,
                         "page": page if only else 0, "pages": max(1, -(-found.total // DESK_ROWS))})
    return sections


def _guard(request: Request, actor: Actor, roles=DESK_ROLES) -> Response | None:
    if not actor.roles & roles:
        return render(request, "error.html", actor=actor, status_code=403, message=t("error.forbidden_page"))
    return None


@router.get("/desk")
async def desk_page(request: Request, ctx: CtxDep, actor: PageActor, done: str | None = None,
                    section: str | None = None, page: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
    if (refused := _guard(request, actor)) is not None:
        return refused
    only = section if section in {key for key, _states, _oldest in SECTIONS} else None
    sections = await run_in_threadpool(lambda: _desk(ctx, actor, only=only, page=page))
    return render(request, "desk.html", actor=actor, sections=sections, can_write=bool(actor.roles & WRITE_ROLES),
                  done=done_text(done), only=only)


# --------------------------------------------------------------------------------------------- 接警登记


def _new_page(request, actor, *, values=None, errors=None, message=None, status_code=200):
    return render(request, "desk_new.html", actor=actor, values=values or {"caller": {}}, errors=errors or {},
                  message=message, status_code=status_code)


@router.get("/desk/new")
async def new_incident_page(request: Request, actor: PageActor) -> Response:
    if (refused := _guard(request, actor, WRITE_ROLES)) is not None:
        return refused
    return _new_page(request, actor)


@router.post("/desk/new")
async def register_incident(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    if (refused := _guard(request, actor, WRITE_ROLES)) is not None:
        return refused
    values = form_dict(await request.form())
    caller = values.setdefault("caller", {})
    if isinstance(caller.get("confidential"), list):
        caller["confidential"] = caller["confidential"][-1]
    if isinstance(values.get("emergency"), list):
        values["emergency"] = values["emergency"][-1]
    try:
        body = IncidentCreate.model_validate(values)
    except ValidationError as exc:
        return _new_page(request, actor, values=values, errors=field_errors(exc), message=t("error.form"),
                         status_code=422)
    try:
        number = await run_write(request, ctx, lambda wctx: actions.do_register_incident(wctx, body,
                                                                                         actor=actor).number)
    except DomainError as exc:
        return _new_page(request, actor, values=values, errors={exc.field or "": exc.message}, message=exc.message,
                         status_code=exc.status_code)
    return RedirectResponse(f"/desk/{number}?done=registered_incident", status_code=303)


@router.post("/desk/triage")
async def desk_triage(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    """The triage panel on 接警登记: on the 110 side it mostly tells a 双非 matter (route 12345) from a 警情."""
    from civiclink.triage.api import run_triage
    from civiclink.web.intake import _triage_input

    if not actor.roles & WRITE_ROLES:
        return render(request, "error.html", actor=actor, status_code=403, message=t("error.forbidden_page"))
    values = form_dict(await request.form())
    body = _triage_input({**values, "content": values.get("content"), "caller": {}})
    suggestion = await run_in_threadpool(run_triage, request.app.state.civiclink, ctx, body, actor) if body else None
    return render(request, "_triage.html", actor=actor, suggestion=suggestion, on_desk=True)


# ------------------------------------------------------------------------------------------- 警单 detail


def _detail(ctx, number: str, actor: Actor, *, failed=None, values=None, errors=None) -> dict:
    incident = service.get_visible_incident(ctx, number, actor)
    read = service.incident_read(ctx, incident, actor)
    timeline = []
    for e in service.timeline(ctx, incident):
        kind = "incident_action" if e["action"].startswith("incident.") else "action"
        state_label = label("incident_state" if kind == "incident_action" else "state", e["to_state"]) \
            if e["to_state"] else ""
        timeline.append({"at": datetime.fromisoformat(e["at"]), "site": e["site"], "here": e["site"] == ctx.settings.site_code,
                         "action": e["action_label"], "actor": e["actor"], "unit": e["actor_unit"], "state": state_label})
    forms = []
    for action in IncidentAction:
        if action.value not in read.allowed_actions:
            continue
        mine = action.value == failed
        vals = dict(values or {}) if mine else {}
        vals["version"] = read.version
        forms.append({"action": action.value, "label": label("incident_action", action),
                      "weighty": action in WEIGHTY, "open": mine, "error": (errors or {}).get("") if mine else None,
                      "fields": fields_of(INCIDENT_ACTION_BODIES[action], values=vals,
                                          errors=errors if mine else None, hidden={"version"})})
    if failed and failed not in read.allowed_actions and values:
        chosen = IncidentAction(failed)
        forms.insert(0, unsent_form(INCIDENT_ACTION_BODIES[chosen], failed, label("incident_action", chosen), values,
                                    (errors or {}).get("")))
    consultations = consult.consultations_of(ctx, actor, incident_id=incident.id)
    return {"incident": read, "timeline": timeline, "forms": forms,
            "consultations": consultations, "may_conclude": consult.can_consult(ctx, actor),
            "conclude_fields": consult.conclude_fields,
            "can_consult": consult.may_start(ctx, actor, state=read.state, consultations=consultations,
                                             closed_states={str(x) for x in TERMINAL} | {S.TRANSFERRED_TO_12345.value})}


async def _render_detail(request, ctx, actor, number, *, status_code=200, message=None, done=None, **kw):
    detail = await run_in_threadpool(lambda: _detail(ctx, number, actor, **kw))
    return render(request, "incident.html", actor=actor, status_code=status_code, message=message,
                  done=done_text(done), **detail)


@router.get("/desk/{number}")
async def incident_page(number: str, request: Request, ctx: CtxDep, actor: PageActor,
                        done: str | None = None) -> Response:
    if (refused := _guard(request, actor)) is not None:
        return refused
    try:
        return await _render_detail(request, ctx, actor, number, done=done)
    except (Forbidden, NotFound) as exc:
        return render(request, "error.html", actor=actor, status_code=exc.status_code, message=exc.message)


@router.post("/desk/{number}/act/{action}")
async def incident_action(number: str, action: str, request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    if (refused := _guard(request, actor)) is not None:
        return refused
    try:
        chosen = IncidentAction(action)
    except ValueError:
        return render(request, "error.html", actor=actor, status_code=404, message=t("order.no_such_action"))
    back = "/desk" if (await request.form()).get("next") == "/desk" else f"/desk/{number}"

    async def rerender(**shown):
        return await _render_detail(request, ctx, actor, number, failed=chosen.value, **shown)

    return await submit(request, ctx, INCIDENT_ACTION_BODIES[chosen],
                        lambda wctx, body: actions.do_incident_action(wctx, number, chosen, body, actor=actor),
                        rerender=rerender, redirect_to=f"{back}?done={chosen.value}")


consult.add_routes(router, "/desk", lambda request, ctx, actor, number, **shown: _render_detail(
    request, ctx, actor, number, **shown))
