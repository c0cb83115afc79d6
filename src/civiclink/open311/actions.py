"""Open311 writes, each in the caller's write transaction with its audit events (design §3): a client app and its
key (admins), a citizen's request — triaged, registered as an internet-channel 工单 and, when it is a matter for
110, pushed to the police site by 系统推送 in the same transaction (R-204) — and a citizen's update."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select, update

from civiclink.audit.service import record_event
from civiclink.context import Ctx
from civiclink.errors import Conflict, Forbidden, NotFound, StaleVersion
from civiclink.open311 import service
from civiclink.open311.formats import Open311Error
from civiclink.open311.models import Open311Client, Open311Request, Open311Update
from civiclink.orgs.roles import Actor, Role
from civiclink.validation import InputModel
from civiclink.workorders.models import Channel, WorkOrder
from civiclink.workorders.schemas import Caller, OrderCreate, TransferIn
from civiclink.workorders.states import Action


class ClientCreate(InputModel):
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=40,
                                           pattern=r"^[a-z0-9][a-z0-9_\-]*$")] = Field(
        description="客户端编码（小写字母、数字、- _），如 nantong-app")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="名称，如 南通市民App")


class ClientRevoke(InputModel):
    version: int = Field(ge=1)


class ClientRead(BaseModel):
    id: int
    code: str
    name: str
    key_prefix: str
    active: bool
    version: int
    created_at: object
    created_by: str
    revoked_at: object | None
    last_used_at: object | None


class ClientCreated(ClientRead):
    api_key: str  # shown once


def client_read(client: Open311Client) -> ClientRead:
    return ClientRead(id=client.id, code=client.code, name=client.name, key_prefix=client.key_prefix,
                      active=client.active, version=client.version, created_at=client.created_at,
                      created_by=client.created_by, revoked_at=client.revoked_at, last_used_at=client.last_used_at)


def _admin(actor: Actor) -> None:
    if not (actor.is_system or Role.ADMIN in actor.roles):
        raise Forbidden("只有管理员可以管理开放接口的客户端")


def do_create_client(ctx: Ctx, body: ClientCreate, *, actor: Actor, key: str | None = None) -> ClientCreated:
    """A client app with a new api_key (shown once; kept as a keyed hash). ``key``: a given key instead of a
    random one — the demo city's published demo key only; the API and the console never pass one."""
    _admin(actor)
    if ctx.session.execute(select(Open311Client.id).where(Open311Client.code == body.code)).first():
        raise Conflict(f"客户端编码 {body.code} 已存在")
    key = key or secrets.token_urlsafe(24)
    client = Open311Client(code=body.code, name=body.name, key_prefix=key[:8],
                           key_hash=service.key_hash(ctx.settings.secret_key.get_secret_value(), key),
                           active=True, created_at=ctx.now, created_by=actor.username)
    ctx.session.add(client)
    ctx.session.flush()
    record_event(ctx.session, actor=actor, action="open311.client_created", entity_type="open311_client",
                 entity_id=client.id, entity_ref=client.code, at=ctx.now, data={"name": client.name})
    return ClientCreated(**client_read(client).model_dump(), api_key=key)


def do_revoke_client(ctx: Ctx, client: Open311Client, body: ClientRevoke, *, actor: Actor) -> Open311Client:
    """Stop a client's key: its POSTs get 403 from now on (what it submitted stays)."""
    _admin(actor)
    if client.version != body.version:
        raise StaleVersion("这个客户端已被他人修改，请刷新后再操作")
    if not client.active:
        raise Conflict(f"客户端 {client.code} 已停用")
    client.active, client.revoked_at = False, ctx.now
    record_event(ctx.session, actor=actor, action="open311.client_revoked", entity_type="open311_client",
                 entity_id=client.id, entity_ref=client.code, at=ctx.now)
    ctx.session.flush()
    return client


def get_client(ctx: Ctx, client_id: int) -> Open311Client:
    client = ctx.session.get(Open311Client, client_id)
    if client is None:
        raise NotFound("没有这个客户端")
    return client


def _used(ctx: Ctx, client: Open311Client) -> None:
    """When the key was last used — written past the ORM's version counter: using a key is not editing the
    client, and must not make an admin's revoke (which checks the version) fail."""
    ctx.session.execute(update(Open311Client).where(Open311Client.id == client.id)
                        .values(last_used_at=ctx.now).execution_options(synchronize_session=False))


def client_actor(client: Open311Client) -> Actor:
    """The identity an app's request is registered under: the system acting for that client (audited by name)."""
    return Actor(username=f"open311:{client.code}", display_name=client.name, roles=frozenset({Role.OPERATOR}))


def do_submit_request(ctx: Ctx, state, sub: service.Submission, client: Open311Client
                      ) -> tuple[WorkOrder | None, dict | Open311Error]:
    """POST requests: triage the request; a matter outside the hotline's remit (R-106) is refused with the channel
    to use (400, the triage decision kept); otherwise an internet-channel 工单 is registered with triage's
    category, type, urgency and 属地, and a matter for 110 (or a joint one) is pushed to 110 at once by 系统推送
    (R-204) — never just stored. Returns the 工单 and the response fields, or no 工单 and the refusal (to be
    answered after the transaction that keeps the triage decision commits)."""
    from civiclink.triage import actions as triage_actions
    from civiclink.triage.service import TriageInput
    from civiclink.workorders import actions as order_actions

    service.check_jurisdiction(ctx, sub.jurisdiction_id)
    category = service.service_category(ctx, sub.service_code)
    actor = client_actor(client)
    text = sub.description or (category.path_name if category else "其他诉求")
    address = sub.address_string or (f"地址编号 {sub.address_id}" if sub.address_id else
                                     f"坐标 {sub.lat:.6f},{sub.long:.6f}")
    suggestion = state.triage.triage(
        TriageInput(text=text, title=sub.attributes.get("title"), address=address, channel=Channel.OPEN311.value,
                    caller_phone=None),
        directory=ctx.directory, session=None, now=ctx.now, knowledge=state.knowledge.get(ctx.session),
        today=ctx.now.astimezone(ctx.settings.tz).date())
    record = triage_actions.do_record_suggestion(ctx, text, suggestion, actor=actor)
    route = suggestion["route"]
    if route == "not_accepted":
        triage_actions.do_record_route(ctx, record.id, "not_accepted", "开放接口：告知其他渠道", actor=actor)
        channel = suggestion.get("channel") or "其他法定渠道"
        text = f"该事项不属于12345热线受理范围，请通过{channel}反映。（This matter is outside the hotline's remit.）"
        return None, Open311Error(400, [("not_accepted", text)])
    suggested_category = (suggestion.get("category") or {}).get("code")
    name = " ".join(p for p in (sub.last_name, sub.first_name) if p) or None
    order_in = OrderCreate(
        channel=Channel.OPEN311, caller=Caller(name=name, phone=sub.phone),
        title=(sub.attributes.get("title") or text[:30]).strip() or "市民诉求",
        content=text, request_type=sub.attributes.get("request_type") or suggestion["request_type"],
        category=category.code if category else suggested_category, address=address,
        urgency=suggestion["urgency"], submit=True, triage_id=record.id)
    order = order_actions.do_register_order(ctx, order_in, actor=actor, source="open311")
    if route in ("110", "joint"):
        transfer = TransferIn(version=order.version, channel="system_push", reason_code="internet_channel",
                              reason=(suggestion.get("reason") or "网络渠道诉求经分诊属公安机关职责")[:500],
                              consent=True, emergency=suggestion["urgency"] == "emergency")
        order = order_actions.do_order_action(ctx, order.number, Action.TRANSFER_TO_110, transfer, actor=actor)
    extra = Open311Request(
        order_id=order.id, client_id=client.id, token=uuid.uuid4().hex, service_code=sub.service_code,
        lat=sub.lat, long=sub.long, address_string=sub.address_string, address_id=sub.address_id,
        media_url=sub.media_url, device_id=sub.device_id, account_id=sub.account_id,
        attributes=sub.attributes, route=route, submitted_at=ctx.now)
    ctx.session.add(extra)
    _used(ctx, client)
    ctx.session.flush()
    response = {"service_notice": service.notice(route, order.number), "account_id": sub.account_id}
    if ctx.settings.open311.batch:
        response = {"token": extra.token, **response}
    else:
        response = {"service_request_id": order.number, **response}
    return order, response


def do_record_update(ctx: Ctx, client: Open311Client, number: str, description: str, *, media_url: str | None,
                     sent_at, update_id_ext: str | None) -> Open311Update:
    """FixMyStreet ``POST servicerequestupdates``: a citizen's comment on a request this client submitted, kept
    and put on the 工单's timeline (the words are in ``open311_update``, not in the audit chain)."""
    row = ctx.session.execute(
        select(WorkOrder, Open311Request).join(Open311Request, Open311Request.order_id == WorkOrder.id)
        .where(WorkOrder.number == number, Open311Request.client_id == client.id)).first()
    if row is None:
        raise Open311Error.one(404, f"service_request_id {number!r} not found / 没有这个诉求")
    order = row[0]
    update = Open311Update(order_id=order.id, client_id=client.id, update_id_ext=update_id_ext,
                           description=description, media_url=media_url, sent_at=sent_at, received_at=ctx.now)
    ctx.session.add(update)
    ctx.session.flush()
    record_event(ctx.session, actor=client_actor(client), action="order.citizen_update", entity_type="work_order",
                 entity=order, at=ctx.now,
                 data={"source": "open311", "client": client.code, "update_id": f"c{update.id}",
                       "characters": len(description), "media": bool(media_url)})
    _used(ctx, client)
    return update
