"""The 话务员's intake page (登记): one form for a call or an online request. As the operator types, triage
suggests route, category, department, 属地, duplicates and knowledge-base answers (htmx, design §7); one click
registers and closes with an answer (直接办结, R-902), transfers to 110 (一键转接, R-201) or starts a 三方通话
(R-202). Registration and the transfer happen in one transaction: never a 工单 without its transfer.

The suggestion kept for training is computed on the text as registered (not on every keystroke), and what the
operator did with it is recorded: registered as a 工单 (``triage_id``), or the route they chose instead.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from civiclink.deps import CtxDep
from civiclink.errors import DomainError, Invalid, NotFound
from civiclink.i18n import label
from civiclink.orgs.roles import Actor, Role
from civiclink.triage import actions as triage_actions
from civiclink.triage.api import run_triage
from civiclink.triage.schemas import TriageIn
from civiclink.web.console import PageActor, domain_error_text, field_errors, form_dict, render, run_write
from civiclink.web.messages import t
from civiclink.workorders import actions as order_actions
from civiclink.workorders.models import Channel, RequestType, Urgency
from civiclink.workorders.schemas import OrderCreate, TransferIn
from civiclink.workorders.states import Action

router = APIRouter(include_in_schema=False)
INTAKE_ROLES = frozenset({Role.OPERATOR})
TITLE_FROM_CONTENT = 30  # characters of the content used as the title when the operator leaves it blank


def choices(ctx) -> dict:
    d = ctx.directory
    top = sorted((c for c in d.categories.values() if c.parent_id is None and c.active), key=lambda c: c.code)
    groups = []
    for parent in top:
        children = sorted((c for c in d.categories.values() if c.parent_id == parent.id and c.active),
                          key=lambda c: c.code)
        groups.append((parent, children))
    places = sorted((u for u in d.units.values() if u.active and u.is_place and u.kind != "city"),
                    key=lambda u: u.code)
    return {
        "channels": [(c.value, label("channel", c)) for c in Channel
                     if c not in (Channel.POLICE_TRANSFER, Channel.PROVINCIAL, Channel.OPEN311)],
        "request_types": [(r.value, label("request_type", r)) for r in RequestType],
        "urgencies": [(u.value, label("urgency", u)) for u in Urgency],
        "category_groups": groups,
        "places": [(u.code, u.label) for u in places],
    }


def _values(form) -> dict:
    """The form as typed; a field posted twice (a checkbox after its hidden "false", a button's value after a
    hidden default) keeps its last value."""
    data = form_dict(form)
    caller = data.get("caller") or {}
    for target in (data, caller):
        for key, value in list(target.items()):
            if isinstance(value, list):
                target[key] = value[-1]
    data["caller"] = caller
    return data


def _page(request: Request, ctx, actor: Actor, *, values: dict | None = None, errors: dict | None = None,
          message: str | None = None, status_code: int = 200, suggestion: dict | None = None,
          done: str | None = None) -> HTMLResponse:
    values = values or {"channel": "phone", "request_type": "help", "urgency": "normal"}
    values.setdefault("caller", {})
    return render(request, "intake.html", actor=actor, values=values, errors=errors or {}, message=message,
                  status_code=status_code, suggestion=suggestion, done=done, **choices(ctx))


@router.get("/intake")
async def intake_page(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    if not actor.roles & INTAKE_ROLES:
        from civiclink.web.orders import forbidden

        return forbidden(request, actor)
    return _page(request, ctx, actor)


def _triage_input(values: dict) -> TriageIn | None:
    text = str(values.get("content") or "").strip()
    if not text:
        return None
    try:
        return TriageIn(text=text[:8000], title=(str(values.get("title") or "")[:200] or None),
                        address=(str(values.get("address") or "")[:300] or None),
                        channel=str(values.get("channel") or "")[:20] or None,
                        caller_phone=(str((values.get("caller") or {}).get("phone") or "")[:32] or None),
                        record=False)
    except ValidationError:
        return None


@router.post("/intake/triage")
async def intake_triage(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    """The suggestion panel for what is typed so far (htmx fragment; nothing is kept)."""
    if not actor.roles & INTAKE_ROLES:
        return HTMLResponse("", status_code=403)
    values = _values(await request.form())
    body = _triage_input(values)
    if body is None:
        return render(request, "_triage.html", actor=actor, suggestion=None)
    state = request.app.state.civiclink
    suggestion = await run_in_threadpool(run_triage, state, ctx, body, actor)
    return render(request, "_triage.html", actor=actor, suggestion=suggestion)


async def _refer(request: Request, ctx, actor: Actor, values: dict) -> Response:
    """告知其他渠道 (R-106): the matter is not the hotline's (法院, 仲裁, 信访…); the caller is told where to go and
    no 工单 is made. What triage suggested and what the operator decided are kept (without the text)."""
    state = request.app.state.civiclink
    body = _triage_input(values)
    if body is None:
        return _page(request, ctx, actor, values=values, errors={"content": t("error.missing")},
                     message=t("error.form"), status_code=422)
    suggestion = await run_in_threadpool(run_triage, state, ctx, body, actor)
    note = str(values.get("refer_note") or suggestion.get("channel") or "")[:500] or None

    def write(wctx):
        record = triage_actions.do_record_suggestion(wctx, body.text, suggestion, actor=actor)
        triage_actions.do_record_route(wctx, record.id, "not_accepted", note, actor=actor)

    await run_write(request, ctx, write)
    return _page(request, ctx, actor, message=None, done=t("intake.referred", channel=note or "—"))


@router.post("/intake")
async def register(request: Request, ctx: CtxDep, actor: PageActor) -> Response:
    """登记. ``then`` says what follows in the same transaction: nothing (submit or keep), ``close`` with a
    knowledge item's answer, ``transfer_110`` (一键转接 / 系统推送) or ``consult`` (三方通话)."""
    if not actor.roles & INTAKE_ROLES:
        from civiclink.web.orders import forbidden

        return forbidden(request, actor)
    state = request.app.state.civiclink
    values = _values(await request.form())
    then = str(values.pop("then", "") or "")
    close_with = str(values.pop("close_with", "") or "")
    if close_with:  # a knowledge item's 直接办结 button
        then = "close"
    # Consent to the transfer stays as the operator set it if the page comes back with an error.
    consent = str(values.get("consent", "true")).lower() in ("true", "on", "1")
    values["consent"] = consent
    if then == "refer":
        return await _refer(request, ctx, actor, values)
    if not values.get("title") and values.get("content"):
        values["title"] = str(values["content"])[:TITLE_FROM_CONTENT]
    data = {k: v for k, v in values.items() if k in OrderCreate.model_fields}
    if then in ("transfer_110", "consult"):
        data["submit"] = False  # the 工单 records the request; 110 takes it over
    if then == "close":
        try:
            item = state.knowledge.get(ctx.session).by_code(close_with)
        except NotFound:
            return _page(request, ctx, actor, values=values, errors={"knowledge_item": t("intake.no_item")},
                         message=t("intake.no_item"), status_code=422)
        # The operator may have adapted the answer to the caller; what they read out is what is kept.
        data["intake_answer"] = values.get("intake_answer") or item.answer
        data["knowledge_item"] = item.code
    try:
        order_in = OrderCreate.model_validate(data)
    except ValidationError as exc:
        return _page(request, ctx, actor, values=values, errors=field_errors(exc), message=t("error.form"),
                     status_code=422)
    body = _triage_input(values)
    suggestion = await run_in_threadpool(run_triage, state, ctx, body, actor) if body else None

    def write(wctx):
        record = triage_actions.do_record_suggestion(wctx, order_in.content, suggestion, actor=actor) \
            if suggestion else None
        if record is not None and then not in ("transfer_110", "consult"):
            order_in.triage_id = record.id
        order = order_actions.do_register_order(wctx, order_in, actor=actor)
        if then == "transfer_110":
            reason = (suggestion or {}).get("reason") or t("intake.transfer_reason")
            transfer = TransferIn(version=order.version, reason=reason[:500], consent=consent,
                                  emergency=order_in.urgency == Urgency.EMERGENCY)
            order = order_actions.do_order_action(wctx, order.number, Action.TRANSFER_TO_110, transfer,
                                                  actor=actor)
        elif then == "consult":
            from civiclink.linkage import actions as linkage_actions
            from civiclink.web.consult import opening

            linkage_actions.do_open_consultation(wctx, opening(wctx, actor, order.number, order_in.content),
                                                 actor=actor)
        if record is not None and then in ("transfer_110", "consult"):
            route = "110" if then == "transfer_110" else (suggestion["route"] if suggestion["route"] in (
                "joint", "ambiguous") else "joint")
            triage_actions.do_record_route(wctx, record.id, route, t(f"intake.route_note.{then}"), actor=actor,
                                           order=order)
        return order.number

    try:
        number = await run_write(request, ctx, write)
    except DomainError as exc:
        ctx.session.rollback()
        field = exc.field if isinstance(exc, Invalid) else getattr(exc, "field", None)
        return _page(request, ctx, actor, values=values, errors={field or "": domain_error_text(exc)},
                     message=domain_error_text(exc), status_code=exc.status_code, suggestion=suggestion)
    done = {"transfer_110": "transfer_to_110", "consult": "consult", "close": "close_at_intake"}.get(then,
                                                                                                   "registered")
    return RedirectResponse(f"/orders/{number}?done={done}", status_code=303)
