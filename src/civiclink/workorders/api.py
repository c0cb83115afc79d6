"""HTTP routes of the 工单 domain. Thin: parse, authorize (inside the action), call a ``do_*``, commit."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from civiclink.deps import CtxDep, CurrentActor, StateDep, respond
from civiclink.errors import ERROR_RESPONSES
from civiclink.i18n import label
from civiclink.routes import record_action_route
from civiclink.workorders import actions, service
from civiclink.workorders.schemas import (
    ACTION_BODIES,
    OrderCreate,
    OrderPage,
    OrderRead,
    TimelineEntry,
    WarningRead,
)
from civiclink.workorders.states import Action, State

router = APIRouter(prefix="/api/orders", tags=["工单"], responses=ERROR_RESPONSES)
sla_router = APIRouter(prefix="/api/sla", tags=["时限预警"], responses=ERROR_RESPONSES)


@router.post("", summary="登记工单", status_code=201)
async def register_order(order_in: OrderCreate, ctx: CtxDep, actor: CurrentActor, state: StateDep) -> OrderRead:
    """登记 a new 工单; it gets a number, an owner and its clocks (or closes at intake with an answer)."""

    def write(wctx):
        order = actions.do_register_order(wctx, order_in, actor=actor)
        return lambda: respond(service.order_read(wctx, order, actor), 201)

    return await state.batcher.run(ctx, write)


@router.get("", summary="工单列表")
def list_orders(
    ctx: CtxDep,
    actor: CurrentActor,
    state: Annotated[list[State] | None, Query()] = None,
    open: bool = False,  # noqa: A002 - the query parameter's name
    unit: str | None = None,
    place: str | None = None,
    category: str | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    registered_from: datetime | None = None,
    registered_to: datetime | None = None,
    demo: bool | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OrderPage:
    """Orders the current user may see, newest first, with filters and paging."""
    flt = service.OrderFilter(
        state=state, open_only=open, unit=unit, place=place, category=category, q=q,
        registered_from=registered_from, registered_to=registered_to, demo=demo,
    )
    return service.list_orders(ctx, actor, flt, offset=offset, limit=limit)


@router.get("/{number}", summary="工单详情")
def get_order(number: str, ctx: CtxDep, actor: CurrentActor) -> OrderRead:
    """One order; caller name and phone are masked unless the user's role needs them."""
    return service.order_read(ctx, service.get_visible_order(ctx, number, actor), actor)


@router.get("/{number}/timeline", summary="工单流转记录")
def get_timeline(number: str, ctx: CtxDep, actor: CurrentActor) -> list[TimelineEntry]:
    """Who did what, when: every audit event of the order, oldest first."""
    return service.timeline(ctx, service.get_visible_order(ctx, number, actor))


for _action in Action:
    router.add_api_route(
        f"/{{number}}/{_action.value.replace('_', '-')}",
        record_action_route(
            ACTION_BODIES[_action],
            lambda ctx, number, body, actor, action=_action: actions.do_order_action(ctx, number, action, body,
                                                                                       actor=actor),
            service.order_read, name=f"order_{_action.value}", doc=f"{label('action', _action)}（{_action.value}）",
        ),
        methods=["POST"],
        summary=label("action", _action),
        response_model=OrderRead,
    )


@sla_router.get("/warnings", summary="黄灯/红灯工单")
def list_warnings(
    ctx: CtxDep,
    actor: CurrentActor,
    color: Literal["all", "yellow", "red"] = "all",
    stage: Literal["dispatch", "sign", "handle", "callback"] | None = None,
    unit: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[WarningRead]:
    """Orders whose running clock is past its yellow share (黄灯) or its deadline (红灯) now."""
    return service.warnings(ctx, actor, color=color, stage=stage, unit=unit, limit=limit)
