"""HTTP routes of the audit log: verify the chain, read events."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from civiclink.audit.models import AuditEvent
from civiclink.audit.service import verify_chain
from civiclink.deps import CtxDep, CurrentActor
from civiclink.errors import ERROR_RESPONSES, Forbidden
from civiclink.orgs.roles import Role

router = APIRouter(prefix="/api/audit", tags=["审计"], responses=ERROR_RESPONSES)
AUDIT_ROLES = (Role.ADMIN, Role.SUPERVISOR)


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    last_seq: int
    problem: str | None
    bad_seq: int | None
    bad_id: int | None


class EventRead(BaseModel):
    seq: int
    occurred_at: datetime
    actor_name: str
    actor_role: str | None
    actor_unit: str | None
    action: str
    entity_type: str
    entity_ref: str | None
    from_state: str | None
    to_state: str | None
    data: dict
    hash: str


def _require(actor) -> None:
    if not actor.has(*AUDIT_ROLES):
        raise Forbidden("只有管理员和督办员可以查看审计记录")


@router.get("/verify", summary="校验审计链")
def verify(ctx: CtxDep, actor: CurrentActor) -> VerifyRead:
    """Walk the hash chain: OK, or the first event that was altered, removed or reordered."""
    _require(actor)
    return VerifyRead(**verify_chain(ctx.session).as_dict())


@router.get("/events", summary="审计事件")
def list_events(
    ctx: CtxDep,
    actor: CurrentActor,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    entity_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EventRead]:
    """Events in chain order after ``after_seq`` (for export to an external archive)."""
    _require(actor)
    stmt = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    rows = ctx.session.execute(stmt.order_by(AuditEvent.seq).limit(limit)).scalars()
    return [EventRead.model_validate(e, from_attributes=True) for e in rows]
