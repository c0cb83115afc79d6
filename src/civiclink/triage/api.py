"""HTTP routes of triage: a suggestion for a request, the operator's routing decision, the model in use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool

from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, StateDep
from civiclink.errors import ERROR_RESPONSES, Forbidden
from civiclink.orgs.roles import PII_ROLES, Role
from civiclink.triage import actions
from civiclink.triage.schemas import TriageDecisionIn, TriageIn, TriageRead
from civiclink.triage.service import TriageInput

router = APIRouter(prefix="/api/triage", tags=["智能分诊"], responses=ERROR_RESPONSES)
# The people who take requests and route them; others read orders, not suggestions.
TRIAGE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN, Role.POLICE_OPERATOR,
                          Role.POLICE_COMMANDER})


# Who may see earlier orders as duplicates: the hotline's own staff who read orders anyway. The caller's phone
# is matched only for the roles that see callers' numbers (R-507): for anyone else the endpoint would be a
# phone-number → orders lookup.
DUPLICATE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


def run_triage(state, ctx, body: TriageIn, actor) -> dict:
    with_duplicates = ctx.settings.site_role == "hotline" and bool(actor.roles & DUPLICATE_ROLES)
    phone = body.caller_phone if actor.roles & PII_ROLES else None
    item = TriageInput(text=body.text, title=body.title, address=body.address, channel=body.channel,
                       caller_phone=phone)
    return state.triage.triage(item, directory=ctx.directory, session=ctx.session if with_duplicates else None,
                               now=ctx.now, knowledge=state.knowledge.get(ctx.session),
                               today=ctx.now.astimezone(ctx.settings.tz).date())


@router.post("", summary="智能分诊：路由、紧急程度、诉求类型、分类、承办单位、属地、重复件、知识库")
def triage(body: TriageIn, ctx: CtxDep, state: StateDep, actor: CurrentActor) -> TriageRead:
    """A suggestion for one request (design §7, R-1007). With ``record`` (the default) the suggestion is kept
    and its ``id`` is returned: submit it as ``triage_id`` when registering the 工单, so the operator's
    confirmation or override is recorded for the next training."""
    if not actor.roles & TRIAGE_ROLES:
        raise Forbidden("您的角色不使用智能分诊")
    result = run_triage(state, ctx, body, actor)
    record_id = None
    if body.record:
        with writing(ctx.session):
            record_id = actions.do_record_suggestion(ctx, body.text, result, actor=actor).id
    return TriageRead(id=record_id, **result)


@router.post("/{record_id}/decision", summary="记录话务员的路由决定（转110、联动、三方通话、告知其他渠道）")
def decide(record_id: Annotated[int, Path(ge=1, le=2_147_483_647)], body: TriageDecisionIn, ctx: CtxDep, actor: CurrentActor) -> dict:
    if not actor.roles & TRIAGE_ROLES:
        raise Forbidden("您的角色不使用智能分诊")
    with writing(ctx.session):
        order = None
        if body.order:
            from civiclink.workorders.actions import load_order_for_update

            order = load_order_for_update(ctx, body.order)
        record = actions.do_record_route(ctx, record_id, body.route, body.note, actor=actor, order=order)
        result = {"id": record.id, "suggestion": record.suggestion, "decision": record.decision,
                  "overridden": record.overridden}
    return result


@router.get("/model", summary="当前使用的分诊模型")
async def model(state: StateDep, _actor: CurrentActor) -> dict:
    models = await run_in_threadpool(lambda: state.triage.models)
    meta = dict(models.meta)
    meta["parts"] = {"route": models.route.meta, "category": models.category.meta if models.category else None,
                     "request_type": models.request_type.meta if models.request_type else None}
    return meta
