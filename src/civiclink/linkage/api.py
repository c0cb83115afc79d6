"""HTTP routes of the linkage (both sites; 联合调处 on the hotline site)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from civiclink.deps import CtxDep, CurrentActor, StateDep, respond
from civiclink.errors import ERROR_RESPONSES
from civiclink.linkage import actions, service
from civiclink.linkage import schemas as ls

router = APIRouter(prefix="/api/linkage", tags=["对接联动"], responses=ERROR_RESPONSES)
joint_router = APIRouter(prefix="/api/linkage/joint-cases", tags=["联合调处"], responses=ERROR_RESPONSES)


@router.get("/transfers", summary="转办记录")
def list_transfers(
    ctx: CtxDep,
    actor: CurrentActor,
    direction: Literal["in", "out"] | None = None,
    state: Literal["offered", "accepted", "rejected", "result", "closed"] | None = None,
    kind: Literal["transfer", "emergency", "stability_lead", "escalation", "joint"] | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ls.TransferRead]:
    """Transfer records (R-211) both ways; ``overdue``: pushes not signed for within the limit (R-204)."""
    return service.list_transfers(ctx, actor, direction=direction, state=state, kind=kind, overdue=overdue,
                                  limit=limit)


@router.get("/cases/{case_ref:path}", summary="跨平台案件（全程可溯）")
def get_case(case_ref: str, ctx: CtxDep, actor: CurrentActor) -> ls.CaseRead:
    """One case across both sites: transfers, 三方通话, 联合调处, and every step on either side."""
    return service.case_read(ctx, case_ref, actor)


@router.get("/consultations", summary="三方通话记录")
def list_consultations(ctx: CtxDep, actor: CurrentActor, open: bool = False,  # noqa: A002 - the query parameter
                       limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[ls.ConsultationRead]:
    return service.list_consultations(ctx, actor, open_only=open, limit=limit)


@router.post("/consultations", summary="发起三方通话", status_code=201)
async def open_consultation(body: ls.ConsultationOpen, ctx: CtxDep, actor: CurrentActor,
                            state: StateDep) -> ls.ConsultationRead:
    """Citizen, 12345 and 110 on one call about a matter whose owner is unclear (R-202)."""

    def write(wctx):
        consultation = actions.do_open_consultation(wctx, body, actor=actor)
        return lambda: respond(service.consultation_read(consultation, sees_pii=service.sees_caller(wctx, actor)), 201)

    return await state.batcher.run(ctx, write)


@router.post("/consultations/{consultation_id}/conclude", summary="记录三方通话结果")
async def conclude_consultation(consultation_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                                body: ls.ConsultationConclude, ctx: CtxDep, actor: CurrentActor,
                                state: StateDep) -> ls.ConsultationRead:
    """对方受理 (transferred at once) or 首接兜底 (R-202, R-212)."""

    def write(wctx):
        consultation = actions.do_conclude_consultation(wctx, consultation_id, body, actor=actor)
        return lambda: respond(service.consultation_read(consultation, sees_pii=service.sees_caller(wctx, actor)))

    return await state.batcher.run(ctx, write)


@joint_router.get("", summary="联合调处案件列表")
def list_joint_cases(ctx: CtxDep, actor: CurrentActor,
                     state: Literal["open", "awaiting_callback", "closed"] | None = None,
                     limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[ls.JointCaseRead]:
    return service.list_joint(ctx, actor, state=state, limit=limit)


@joint_router.get("/{number}", summary="联合调处案件详情")
def get_joint_case(number: str, ctx: CtxDep, actor: CurrentActor) -> ls.JointCaseRead:
    return service.joint_read(ctx, service.get_joint(ctx, number, actor))


@joint_router.post("/{number}/parts", summary="增加12345分案", status_code=201)
async def add_joint_part(number: str, body: ls.JointPartIn, ctx: CtxDep, actor: CurrentActor,
                         state: StateDep) -> ls.JointCaseRead:
    """One more 12345 part (属地政府 or a department), dispatched at once (R-207, R-307)."""

    def write(wctx):
        joint = actions.do_add_joint_part(wctx, number, body, actor=actor)
        return lambda: respond(service.joint_read(wctx, joint), 201)

    return await state.batcher.run(ctx, write)


@joint_router.post("/{number}/callback", summary="联合调处回访")
async def joint_callback(number: str, body: ls.JointCallbackIn, ctx: CtxDep, actor: CurrentActor,
                         state: StateDep) -> ls.JointCaseRead:
    """回访 once every part is done; satisfied closes the case (R-307)."""

    def write(wctx):
        joint = actions.do_joint_callback(wctx, number, body, actor=actor)
        return lambda: respond(service.joint_read(wctx, joint))

    return await state.batcher.run(ctx, write)
