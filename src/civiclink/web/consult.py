"""三方通话 (R-202) from a record's page, on either site: start one (the citizen, this desk and the other
platform's desk on one call) and record its outcome (对方受理, or 首接兜底 when no agreement). Shared by the 工单
page and the 警单 page; the same ``do_*`` actions as /api/linkage/consultations."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from civiclink.deps import CtxDep
from civiclink.errors import DomainError
from civiclink.linkage import actions as linkage_actions
from civiclink.linkage import service as linkage_service
from civiclink.linkage.models import Consultation
from civiclink.linkage.schemas import ConsultationConclude, ConsultationOpen
from civiclink.orgs.roles import Actor
from civiclink.web.console import PageActor, run_write
from civiclink.web.forms import fields_of, parse
from civiclink.web.messages import t


def can_consult(ctx, actor: Actor) -> bool:
    return bool(actor.roles & linkage_actions.CONSULT_ROLES[ctx.settings.site_role])


def may_start(ctx, actor: Actor, *, state: str, closed_states, consultations: list) -> bool:
    """Offer 发起三方通话 only where ``do_open_consultation`` would accept it: the role, a record still open (not
    already handed to the other platform) and no call on it still waiting for its outcome."""
    return (can_consult(ctx, actor) and state not in closed_states
            and not any(c.outcome is None for c in consultations))


def conclude_fields() -> list:
    """The outcome form of a 三方通话, from the API's own body model (outcome, note, reason, the caller's
    consent to the transfer — R-208)."""
    return fields_of(ConsultationConclude, hidden=set())


def consultations_of(ctx, actor: Actor, *, order_id: int | None = None, incident_id: int | None = None) -> list:
    column = Consultation.order_id if order_id is not None else Consultation.incident_id
    rows = ctx.session.execute(select(Consultation).where(column == (order_id or incident_id))
                               .order_by(Consultation.id)).scalars()
    sees = linkage_service.sees_caller(ctx, actor)
    return [linkage_service.consultation_read(c, sees_pii=sees) for c in rows]


def opening(ctx, actor: Actor, number: str, summary: str | None) -> ConsultationOpen:
    other = "police" if ctx.settings.site_role == "hotline" else "hotline"
    return ConsultationOpen(number=number, summary=(summary or "")[:2000] or None, participants=[
        {"side": ctx.settings.site_role, "name": actor.display_name or actor.username},
        {"side": "citizen", "name": t("consult.citizen")},
        {"side": other, "name": t(f"consult.{other}")}])


async def start(request, ctx, actor: Actor, number: str) -> str | None:
    """Start a 三方通话 on record ``number``; the error message, or None."""
    form = await request.form()
    body = opening(ctx, actor, number, str(form.get("summary", "")).strip())
    try:
        await run_write(request, ctx, lambda wctx: linkage_actions.do_open_consultation(wctx, body, actor=actor)
                        and None)
    except DomainError as exc:
        ctx.session.rollback()
        return exc.message
    return None


async def conclude(request, ctx, actor: Actor, consultation_id: int) -> str | None:
    body, errors, _typed = parse(ConsultationConclude, await request.form())
    if body is None:
        return next(iter(errors.values()))
    try:
        await run_write(request, ctx, lambda wctx: linkage_actions.do_conclude_consultation(
            wctx, consultation_id, body, actor=actor) and None)
    except DomainError as exc:
        ctx.session.rollback()
        return exc.message
    return None


def add_routes(router, base: str, rerender) -> None:
    """``POST {base}/{number}/consult`` (start) and ``…/consult/{id}`` (outcome) on a record page's router;
    ``rerender(request, ctx, actor, number, status_code=…, message=…)`` shows the record page with the refusal."""
    async def start_consultation(number: str, request: Request, ctx: CtxDep, actor: PageActor):
        error = await start(request, ctx, actor, number)
        if error:
            return await rerender(request, ctx, actor, number, status_code=409, message=error)
        return RedirectResponse(f"{base}/{number}?done=consult", status_code=303)

    async def conclude_consultation(number: str, consultation_id: int, request: Request, ctx: CtxDep,
                                    actor: PageActor):
        error = await conclude(request, ctx, actor, consultation_id)
        if error:
            return await rerender(request, ctx, actor, number, status_code=409, message=error)
        return RedirectResponse(f"{base}/{number}?done=consult_concluded", status_code=303)

    router.add_api_route(f"{base}/{{number}}/consult", start_consultation, methods=["POST"])
    router.add_api_route(f"{base}/{{number}}/consult/{{consultation_id}}", conclude_consultation, methods=["POST"])
