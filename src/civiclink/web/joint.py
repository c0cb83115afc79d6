"""联合调处 (R-207, R-307) on the hotline site: the joint cases, each with its parts on both sites, one more 12345
part (派单员), and the joint 回访 once every part is done (回访员). The same ``do_*`` actions as /api/linkage."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from civiclink.deps import CtxDep
from civiclink.errors import Forbidden, NotFound
from civiclink.linkage import actions, service
from civiclink.linkage.schemas import JointCallbackIn, JointPartIn
from civiclink.orgs.roles import Actor, Role
from civiclink.web.console import PageActor, render
from civiclink.web.forms import fields_of, submit, unsent_form
from civiclink.web.messages import t
from civiclink.web.orders import unit_options

router = APIRouter(include_in_schema=False)
FORMS = {"parts": (JointPartIn, Role.DISPATCHER, "open"), "callback": (JointCallbackIn, Role.CALLBACK_AGENT,
                                                                       "awaiting_callback")}


@router.get("/joint")
async def joint_list(request: Request, ctx: CtxDep, actor: PageActor, state: str | None = None) -> Response:
    try:
        cases = await run_in_threadpool(service.list_joint, ctx, actor, state=state or None)
    except Forbidden as exc:
        return render(request, "error.html", actor=actor, status_code=403, message=exc.message)
    return render(request, "joint_list.html", actor=actor, cases=cases, state=state or "")


def _forms(ctx, case, actor: Actor, failed=None, values=None, errors=None) -> list[dict]:
    forms = []
    if failed in FORMS and values:
        model, role, when = FORMS[failed]
        if not actor.has(role) or case.state != when:
            forms.append(unsent_form(model, failed, t(f"joint.action.{failed}"), values, (errors or {}).get("")))
    for key, (model, role, when) in FORMS.items():
        if not actor.has(role) or case.state != when:
            continue
        mine = key == failed
        vals = dict(values or {}) if mine else {}
        vals["version"] = case.version
        forms.append({"action": key, "label": t(f"joint.action.{key}"), "weighty": False, "open": True,
                      "error": (errors or {}).get("") if mine else None,
                      "fields": fields_of(model, values=vals, errors=errors if mine else None, hidden={"version"},
                                          options={"unit": unit_options(ctx)} if key == "parts" else None)})
    return forms


async def _render(request, ctx, actor, number, *, status_code=200, message=None, done=None, **kw):
    def load():
        case = service.joint_read(ctx, service.get_joint(ctx, number, actor))
        return case, _forms(ctx, case, actor, **kw)

    try:
        case, forms = await run_in_threadpool(load)
    except (Forbidden, NotFound) as exc:
        return render(request, "error.html", actor=actor, status_code=exc.status_code, message=exc.message)
    return render(request, "joint.html", actor=actor, case=case, forms=forms, status_code=status_code,
                  message=message, done=t(f"joint.action.{done}") if done in FORMS else None)


@router.get("/joint/{number}")
async def joint_page(number: str, request: Request, ctx: CtxDep, actor: PageActor, done: str | None = None):
    return await _render(request, ctx, actor, number, done=done)


@router.post("/joint/{number}/{key}")
async def joint_action(number: str, key: str, request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    if key not in FORMS:
        return render(request, "error.html", actor=actor, status_code=404, message=t("order.no_such_action"))
    act = actions.do_add_joint_part if key == "parts" else actions.do_joint_callback

    async def rerender(**shown):
        return await _render(request, ctx, actor, number, failed=key, **shown)

    return await submit(request, ctx, FORMS[key][0], lambda wctx, body: act(wctx, number, body, actor=actor),
                        rerender=rerender, redirect_to=f"/joint/{number}?done={key}")
