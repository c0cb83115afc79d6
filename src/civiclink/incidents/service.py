"""Reads of the 警单 domain (police site): visibility, personal data by role, lists, the timeline."""

from __future__ import annotations

from sqlalchemy import func, select

from civiclink.audit.models import AuditEvent
from civiclink.context import Ctx
from civiclink.errors import Forbidden, NotFound
from civiclink.i18n import label
from civiclink.incidents import actions as ia
from civiclink.incidents import schemas as s
from civiclink.incidents.models import Incident
from civiclink.linkage import actions as la
from civiclink.linkage.models import Transfer
from civiclink.linkage.service import timeline_entry
from civiclink.orgs.roles import Actor, Role
from civiclink.workorders.service import mask_name, mask_phone

POLICE_ROLES = frozenset({Role.POLICE_OPERATOR, Role.POLICE_COMMANDER})
READ_ROLES = POLICE_ROLES | {Role.ADMIN, Role.LEADER}


def require_reader(actor: Actor) -> None:
    if not (actor.roles & READ_ROLES):
        raise Forbidden("您的角色不能查看警单")


def get_visible_incident(ctx: Ctx, number: str, actor: Actor) -> Incident:
    require_reader(actor)
    incident = ctx.session.execute(select(Incident).where(Incident.number == number)).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"警单 {number} 不存在")
    return incident


def incident_read(ctx: Ctx, incident: Incident, actor: Actor) -> s.IncidentRead:
    # the people who handle the call see the caller; figures-only roles see a masked caller.
    sees_pii = bool(actor.roles & POLICE_ROLES)
    links = la.transfers_of(ctx, incident_id=incident.id)
    case_ref = links[-1].case_ref if links else None
    # The guards behind allowed_actions ask for the same transfer records several times: hand them these.
    with la.transfers_known(ctx, {incident.id: links}):
        allowed = [str(a) for a in ia.allowed_actions(ctx, incident, actor)]
    unit = ctx.directory.unit(incident.police_unit_id)
    place = ctx.directory.unit(incident.place_id)
    return s.IncidentRead(
        number=incident.number, version=incident.version, state=incident.state,
        state_label=label("incident_state", incident.state), source=incident.source, kind=incident.kind,
        emergency=incident.emergency, stability_lead=incident.stability_lead, joint=incident.joint,
        title=incident.title, content=incident.content, address=incident.address,
        place=place.label if place else None,
        caller_name=incident.caller_name if sees_pii else mask_name(incident.caller_name),
        caller_phone=incident.caller_phone if sees_pii else mask_phone(incident.caller_phone),
        caller_confidential=incident.caller_confidential, received_at=incident.received_at,
        sign_due_at=incident.sign_due_at,
        sign_overdue=bool(incident.state == "received" and incident.sign_due_at and ctx.now > incident.sign_due_at),
        signed_at=incident.signed_at, police_unit=unit.label if unit else None, dispatched_at=incident.dispatched_at,
        arrived_at=incident.arrived_at, situation=incident.situation, result_note=incident.result_note,
        finished_at=incident.finished_at, return_reason=incident.return_reason, closed_at=incident.closed_at,
        hotline_number=incident.hotline_number, hotline_result=incident.hotline_result,
        satisfaction=incident.satisfaction, case_ref=case_ref,
        allowed_actions=allowed,
    )


def list_incidents(ctx: Ctx, actor: Actor, *, state: list[str] | None = None, kind: str | None = None,
                   overdue: bool = False, offset: int = 0, limit: int = 50,
                   oldest_first: bool = False) -> s.IncidentPage:
    require_reader(actor)
    q = select(Incident)
    if state:
        q = q.where(Incident.state.in_(state))
    if kind:
        q = q.where(Incident.kind == kind)
    if overdue:
        q = q.where(Incident.state == "received", Incident.sign_due_at < ctx.now)
    total = ctx.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
    order = Incident.id.asc() if oldest_first else Incident.id.desc()
    rows = ctx.session.execute(q.order_by(order).offset(offset).limit(limit)).scalars().all()
    # The page's transfer records in one query: each item's case and allowed actions need them.
    by_incident: dict[int, list[Transfer]] = {i.id: [] for i in rows}
    if rows:
        for link in ctx.session.execute(select(Transfer).where(Transfer.incident_id.in_(list(by_incident)))
                                        .order_by(Transfer.id)).scalars():
            by_incident[link.incident_id].append(link)
    with la.transfers_known(ctx, by_incident):
        return s.IncidentPage(total=total, items=[incident_read(ctx, i, actor) for i in rows])


def timeline(ctx: Ctx, incident: Incident) -> list[dict]:
    events = ctx.session.execute(
        select(AuditEvent).where(AuditEvent.entity_type == "incident", AuditEvent.entity_id == incident.id)
        .order_by(AuditEvent.seq)).scalars()
    return [timeline_entry(e, own_site=ctx.settings.site_code) for e in events]
