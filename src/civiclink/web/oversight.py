"""Pages for looking over the work rather than doing it, on both sites: the 12345↔110 transfer records with the
pushes not signed for in time (R-204), and the audit chain — its verification and its latest events (R-507: the
events carry no caller name or phone). The same reads and rights as /api/linkage/transfers and /api/audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from civiclink.audit.api import AUDIT_ROLES
from civiclink.audit.models import AuditEvent
from civiclink.audit.service import verify_chain
from civiclink.deps import CtxDep
from civiclink.errors import Forbidden
from civiclink.i18n import label
from civiclink.linkage import service as linkage_service
from civiclink.web.console import PageActor, render
from civiclink.web.messages import t

router = APIRouter(include_in_schema=False)
DIRECTIONS = ("out", "in")


@router.get("/transfers")
async def transfers_page(request: Request, ctx: CtxDep, actor: PageActor, direction: str = "",
                         overdue: bool = False) -> Response:
    try:
        rows = await run_in_threadpool(lambda: linkage_service.list_transfers(
            ctx, actor, direction=direction if direction in DIRECTIONS else None, overdue=overdue, limit=300))
    except Forbidden as exc:
        return render(request, "error.html", actor=actor, status_code=403, message=exc.message)
    record_base = "/orders/" if ctx.settings.site_role == "hotline" else "/desk/"
    return render(request, "transfers.html", actor=actor, rows=rows, direction=direction, overdue=overdue,
                  record_base=record_base)


@router.get("/audit")
async def audit_page(request: Request, ctx: CtxDep, actor: PageActor,
                     before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None, verify: bool = False) -> Response:
    """The latest events; the whole chain is walked only when asked (``verify``): it reads every event, which
    for a city's year is millions of rows."""
    if not actor.has(*AUDIT_ROLES):
        return render(request, "error.html", actor=actor, status_code=403, message=t("audit.forbidden"))

    def load():
        result = verify_chain(ctx.session).as_dict() if verify else None
        stmt = select(AuditEvent)
        if before_seq:
            stmt = stmt.where(AuditEvent.seq < before_seq)
        events = list(ctx.session.execute(stmt.order_by(AuditEvent.seq.desc()).limit(100)).scalars())
        return result, events

    result, events = await run_in_threadpool(load)
    return render(request, "audit.html", actor=actor, result=result, events=events, event_label=_event_label,
                  state_label=_state_label,
                  older=events[-1].seq if len(events) == 100 else None)


def _event_label(action: str) -> str:
    """``order.dispatch`` → 派单; an action the vocabularies do not name shows its code only."""
    kind, _, verb = action.partition(".")
    vocabulary = {"order": "action", "incident": "incident_action"}.get(kind)
    if verb == "registered":
        return label("action", "register")
    text = label(vocabulary, verb) if vocabulary else verb
    return "" if text == verb else text


def _state_label(entity_type: str, state: str | None) -> str:
    if not state:
        return ""
    return label("incident_state" if entity_type == "incident" else "state", state)
