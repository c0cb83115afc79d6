"""GeoReport v2 at ``/open311/v2/`` (12345 site; docs/open311.md): discovery, services, service definitions,
requests (POST with an api_key; GETs public), tokens, and FixMyStreet's servicerequestupdates — XML or JSON by
the suffix, errors as the specification says. And the admins' routes for client apps and their keys."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import parse_qsl

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from civiclink.db import writing
from civiclink.deps import CtxDep, CurrentActor, StateDep, respond
from civiclink.errors import ERROR_RESPONSES, DomainError
from civiclink.open311 import actions, service
from civiclink.open311.formats import FORMATS, Open311Error, error_response
from civiclink.open311.formats import respond as wire
from civiclink.open311.models import Open311Client, Open311Request
from civiclink.workorders.models import WorkOrder

PREFIX = "/open311/v2"
router = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])
admin_router = APIRouter(prefix="/api/open311", tags=["Open311 客户端"], responses=ERROR_RESPONSES)


def _guard(fmt: str):
    if fmt not in FORMATS:
        raise Open311Error.one(404, f"unknown format {fmt!r}: use .xml or .json / 仅支持 xml 与 json")


async def _answer(fmt: str, job) -> Response:
    """Run ``job`` (in a worker thread: it reads the database) and answer its body, or the specification's error
    body in the request's format."""
    try:
        _guard(fmt)
        return await run_in_threadpool(job)
    except Open311Error as exc:
        return error_response(fmt, exc)
    except DomainError as exc:  # a rule of ours the input broke (e.g. an unknown 属地): a 400 with our words
        return error_response(fmt, Open311Error.one(404 if exc.status_code == 404 else 400, exc.message))


@router.get("/discovery.{fmt}", summary="Service discovery")
async def discovery(fmt: str, request: Request, ctx: CtxDep) -> Response:
    def job():
        cfg = ctx.settings.open311
        base = str(request.base_url).rstrip("/") + PREFIX
        return wire(fmt, "discovery", {
            "changeset": cfg.changeset, "contact": cfg.contact, "key_service": cfg.key_service,
            "endpoints": [{"specification": service.SPECIFICATION, "url": base, "changeset": cfg.changeset,
                           "type": "production", "formats": ["text/xml", "application/json"]}]})
    return await _answer(fmt, job)


@router.get("/services.{fmt}", summary="Service list")
async def services(fmt: str, ctx: CtxDep, jurisdiction_id: str | None = None) -> Response:
    def job():
        service.check_jurisdiction(ctx, jurisdiction_id)
        return wire(fmt, "services", service.services(ctx))
    return await _answer(fmt, job)


@router.get("/services/{service_code}.{fmt}", summary="Service definition")
async def service_definition(service_code: str, fmt: str, ctx: CtxDep, jurisdiction_id: str | None = None
                             ) -> Response:
    def job():
        service.check_jurisdiction(ctx, jurisdiction_id)
        return wire(fmt, "service_definition", service.definition(ctx, service_code))
    return await _answer(fmt, job)


async def _pairs(request: Request) -> list[tuple[str, str]]:
    """The POST's arguments as (name, value) pairs, from a form (the specification), or — for clients that send
    them so — a JSON object or an XML document; the query string's too. A malformed body is a 400."""
    pairs = list(request.query_params.multi_items())
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        # Read as UTF-8 ourselves: a client that sends the text unescaped (curl -d) would otherwise be decoded
        # as Latin-1 by the form parser and its Chinese stored garbled — and triage could not read it.
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            raise Open311Error.one(400, "the form body is not UTF-8 / 表单须为 UTF-8 编码") from None
        return pairs + parse_qsl(text, keep_blank_values=True)
    if kind in ("multipart/form-data", ""):
        form = await request.form()
        return pairs + [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    raw = await request.body()
    if kind == "application/json":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Open311Error.one(400, "malformed JSON body / 请求体不是合法的 JSON") from None
        if not isinstance(data, dict):
            raise Open311Error.one(400, "the JSON body must be an object / JSON 请求体须为对象")
        for key, value in data.items():
            if key == "attribute" and isinstance(value, dict):
                for code, v in value.items():
                    pairs += [(f"attribute[{code}][]", str(x)) for x in v] if isinstance(v, list) \
                        else [(f"attribute[{code}]", str(v))]
            elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
                pairs.append((key, str(value)))
            else:
                raise Open311Error.one(400, f"{key}: a text or number is expected / {key} 的值类型不正确")
        return pairs
    if kind in ("text/xml", "application/xml"):
        try:
            root = SafeET.fromstring(raw)
        except (SafeET.ParseError, DefusedXmlException):  # broken, or entities/DTDs defusedxml refuses
            raise Open311Error.one(400, "malformed XML body / 请求体不是合法的 XML") from None
        for child in root:
            if child.tag == "attribute":
                for attr in child:
                    values = list(attr)
                    pairs += [(f"attribute[{attr.tag}][]", (v.text or "")) for v in values] if values \
                        else [(f"attribute[{attr.tag}]", attr.text or "")]
            else:
                pairs.append((child.tag, child.text or ""))
        return pairs
    raise Open311Error.one(400, f"unsupported content type {kind!r} / 不支持的请求格式")


@router.post("/requests.{fmt}", summary="Create a service request (api_key)")
async def post_request(fmt: str, request: Request, ctx: CtxDep, state: StateDep) -> Response:
    try:
        _guard(fmt)
        pairs = await _pairs(request)
    except Open311Error as exc:
        return error_response(fmt, exc)

    def job():
        api_key = next((v for k, v in pairs if k == "api_key"), None)
        with writing(ctx.session):
            client = service.client_for_key(ctx, api_key)
            submission = service.parse_submission(pairs)
            _order, answer = actions.do_submit_request(ctx, state, submission, client)
        if isinstance(answer, Open311Error):
            raise answer
        return wire(fmt, "service_requests", [answer], 201)
    return await _answer(fmt, job)


@router.get("/requests.{fmt}", summary="Service requests")
async def get_requests(fmt: str, request: Request, ctx: CtxDep) -> Response:
    def job():
        params = request.query_params
        service.check_jurisdiction(ctx, params.get("jurisdiction_id"))
        return wire(fmt, "service_requests", service.find_requests(ctx, service.parse_query(params)))
    return await _answer(fmt, job)


@router.get("/requests/{service_request_id}.{fmt}", summary="One service request")
async def get_request(service_request_id: str, fmt: str, ctx: CtxDep, jurisdiction_id: str | None = None
                      ) -> Response:
    def job():
        service.check_jurisdiction(ctx, jurisdiction_id)
        found = service.find_requests(ctx, service.RequestQuery([service_request_id], None, None, None, None, 1,
                                                                1))
        if not found:
            raise Open311Error.one(404, f"service_request_id {service_request_id!r} not found / 没有这个诉求")
        return wire(fmt, "service_requests", found)
    return await _answer(fmt, job)


@router.get("/tokens/{token}.{fmt}", summary="Service request id from a token")
async def get_token(token: str, fmt: str, ctx: CtxDep, jurisdiction_id: str | None = None) -> Response:
    def job():
        service.check_jurisdiction(ctx, jurisdiction_id)
        row = ctx.session.execute(select(WorkOrder.number, Open311Request.token).join(
            Open311Request, Open311Request.order_id == WorkOrder.id).where(Open311Request.token == token)).first()
        if row is None:
            raise Open311Error.one(404, f"token {token!r} not found / 没有这个 token")
        return wire(fmt, "service_requests", [{"service_request_id": row[0], "token": row[1]}])
    return await _answer(fmt, job)


@router.get("/servicerequestupdates.{fmt}", summary="Updates of service requests (FixMyStreet)")
async def get_updates(fmt: str, request: Request, ctx: CtxDep) -> Response:
    def job():
        params = request.query_params
        service.check_jurisdiction(ctx, params.get("jurisdiction_id"))
        start = service.parse_w3c(params.get("start_date"), "start_date")
        end = service.parse_w3c(params.get("end_date"), "end_date")
        if start and end and end < start:
            raise Open311Error.one(400, "end_date is before start_date / 结束时间早于开始时间")
        return wire(fmt, "service_request_updates", service.updates(ctx, start, end))
    return await _answer(fmt, job)


@router.post("/servicerequestupdates.{fmt}", summary="A citizen's update of a service request (FixMyStreet)")
async def post_update(fmt: str, request: Request, ctx: CtxDep) -> Response:
    try:
        _guard(fmt)
        pairs = await _pairs(request)
    except Open311Error as exc:
        return error_response(fmt, exc)

    def job():
        fields = dict(pairs)
        with writing(ctx.session):
            client = service.client_for_key(ctx, fields.get("api_key"))
            service.check_jurisdiction(ctx, fields.get("jurisdiction_id"))
            number = (fields.get("service_request_id") or "").strip()
            description = (fields.get("description") or "").strip()
            problems = []
            if not number:
                problems.append((400, "service_request_id is required / 缺少 service_request_id"))
            if not description:
                problems.append((400, "description is required / 缺少 description"))
            elif len(description) > service.MAX_DESCRIPTION:
                problems.append((400, "description is longer than 4000 characters / 描述超过4000字"))
            if problems:
                raise Open311Error(400, problems)
            sent_at = service.parse_w3c(fields.get("updated_datetime"), "updated_datetime")
            update = actions.do_record_update(ctx, client, number, description, media_url=fields.get("media_url"),
                                              sent_at=sent_at, update_id_ext=fields.get("update_id_ext"))
            update_id = f"c{update.id}"
        return wire(fmt, "service_request_updates", [{"update_id": update_id}], 201)
    return await _answer(fmt, job)


@router.api_route("/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
async def unknown(rest: str) -> Response:
    """Any other address under the endpoint: the specification's 404, in the format its suffix asks for."""
    fmt = "json" if rest.endswith(".json") else "xml"
    return error_response(fmt, Open311Error.one(404, f"unknown resource {rest!r} / 没有这个接口"))


# -- client apps (admins) ------------------------------------------------------------------------------------------

ClientId = Annotated[int, Path(ge=1, le=2**31 - 1, description="客户端编号")]


@admin_router.get("/clients", summary="开放接口客户端", response_model=list[actions.ClientRead])
def list_clients(ctx: CtxDep, actor: CurrentActor):
    actions._admin(actor)
    rows = ctx.session.execute(select(Open311Client).order_by(Open311Client.code)).scalars()
    return [actions.client_read(c) for c in rows]


@admin_router.post("/clients", summary="新增客户端（返回一次性显示的 api_key）", status_code=201,
                   response_model=actions.ClientCreated)
def create_client(body: actions.ClientCreate, ctx: CtxDep, actor: CurrentActor):
    with writing(ctx.session):
        created = actions.do_create_client(ctx, body, actor=actor)
    return respond(created, 201)


@admin_router.post("/clients/{client_id}/revoke", summary="停用客户端的 api_key", response_model=actions.ClientRead)
def revoke_client(client_id: ClientId, body: actions.ClientRevoke, ctx: CtxDep, actor: CurrentActor):
    with writing(ctx.session):
        client = actions.do_revoke_client(ctx, actions.get_client(ctx, client_id), body, actor=actor)
        out = actions.client_read(client)
    return respond(out)
