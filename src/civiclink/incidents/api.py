"""HTTP routes of the 警单 domain (police site only). Thin: parse, call a ``do_*``, commit.

No ``from __future__ import annotations`` here: the action routes' body types are locals of a closure, and
FastAPI must see them as classes, not as strings it cannot resolve.
"""

from typing import Annotated

from fastapi import APIRouter, Query

from civiclink.deps import CtxDep, CurrentActor, StateDep, respond
from civiclink.errors import ERROR_RESPONSES
from civiclink.i18n import label
from civiclink.incidents import actions, service
from civiclink.incidents.schemas import INCIDENT_ACTION_BODIES, IncidentCreate, IncidentPage, IncidentRead
from civiclink.incidents.states import IncidentAction, IncidentState
from civiclink.routes import record_action_route

router = APIRouter(prefix="/api/incidents", tags=["警单"], responses=ERROR_RESPONSES)


@router.post("", summary="接警登记", status_code=201)
async def register_incident(body: IncidentCreate, ctx: CtxDep, actor: CurrentActor, state: StateDep) -> IncidentRead:
    """A call to 110, accepted at once."""

    def write(wctx):
        incident = actions.do_register_incident(wctx, body, actor=actor)
        return lambda: respond(service.incident_read(wctx, incident, actor), 201)

    return await state.batcher.run(ctx, write)


@router.get("", summary="警单列表")
def list_incidents(
    ctx: CtxDep,
    actor: CurrentActor,
    state: Annotated[list[IncidentState] | None, Query()] = None,
    kind: str | None = None,
    overdue: bool = False,
    oldest_first: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> IncidentPage:
    """警单, newest first (``oldest_first``: a desk's queue order); ``overdue``: pushes from 12345 not signed for in
    time (R-204)."""
    return service.list_incidents(ctx, actor, state=[str(s) for s in state] if state else None, kind=kind,
                                  overdue=overdue, offset=offset, limit=limit, oldest_first=oldest_first)


@router.get("/{number}", summary="警单详情")
def get_incident(number: str, ctx: CtxDep, actor: CurrentActor) -> IncidentRead:
    return service.incident_read(ctx, service.get_visible_incident(ctx, number, actor), actor)


@router.get("/{number}/timeline", summary="警单流转记录")
def get_timeline(number: str, ctx: CtxDep, actor: CurrentActor) -> list[dict]:
    """Every step on this 警单, including what 12345 did with it (全程可溯)."""
    return service.timeline(ctx, service.get_visible_incident(ctx, number, actor))


for _action in IncidentAction:
    router.add_api_route(
        f"/{{number}}/{_action.value.replace('_', '-')}",
        record_action_route(
            INCIDENT_ACTION_BODIES[_action],
            lambda ctx, number, body, actor, action=_action: actions.do_incident_action(ctx, number, action, body,
                                                                                          actor=actor),
            service.incident_read, name=f"incident_{_action.value}",
            doc=f"{label('incident_action', _action)}（{_action.value}）",
        ),
        methods=["POST"], summary=label("incident_action", _action), response_model=IncidentRead,
    )
