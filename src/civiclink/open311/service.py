"""What the Open311 endpoints say (docs/open311.md): the services (our categories), their definitions, a
request as GeoReport shows it (status, notes, agency, the SLA's expected time), FixMyStreet's richer statuses and
the updates feed, and the parsing of a POST's arguments.

Only requests that came in through Open311 are listed: the public GETs must not publish what callers told the
hotline on the phone (R-507); and no name, phone or e-mail is ever in a response."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select

from civiclink.audit.models import AuditEvent
from civiclink.context import Ctx
from civiclink.i18n import label
from civiclink.open311.formats import Open311Error
from civiclink.open311.models import Open311Client, Open311Request
from civiclink.sla.models import StageClock
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.schemas import PHONE_RE
from civiclink.workorders.states import State

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
OTHER_SERVICE = "other"  # 其他/不确定: the category is left to triage
MAX_DESCRIPTION = 4000
DEFAULT_DAYS = 90
MAX_ROWS = 1000
REQUEST_TYPES = ("complaint", "help", "consultation", "suggestion", "report")

# FixMyStreet's richer statuses (anchors §1.4) from our states; GeoReport's own status is open or closed.
FMS_STATUS = {
    State.REGISTERED: "OPEN", State.AWAITING_DISPATCH: "OPEN", State.RETURN_REQUESTED: "INVESTIGATING",
    State.DISPATCHED: "INVESTIGATING", State.SIGNED: "IN_PROGRESS", State.IN_PROGRESS: "IN_PROGRESS",
    State.EXTENSION_REQUESTED: "IN_PROGRESS", State.REOPENED: "IN_PROGRESS", State.REPLIED: "ACTION_SCHEDULED",
    State.AWAITING_CALLBACK: "FIXED", State.CLOSED: "CLOSED", State.CLOSED_AT_INTAKE: "CLOSED",
    State.MERGED: "DUPLICATE", State.TRANSFERRED_TO_110: "INTERNAL_REFERRAL",
    State.RETURNED_TO_110: "NOT_COUNCILS_RESPONSIBILITY",
}
CLOSED_STATES = {State.CLOSED, State.CLOSED_AT_INTAKE, State.MERGED, State.RETURNED_TO_110}

# The events the updates feed tells a client about (each changes what the citizen should see).
UPDATE_ACTIONS = ("order.registered", "order.submit", "order.dispatch", "order.sign", "order.approve_reply",
                  "order.close", "order.callback", "order.reopen", "order.merge", "order.transfer_to_110",
                  "order.close_at_intake", "order.accept_transfer", "order.extension_approved",
                  "order.approve_extension",
                  # A matter pushed to 110: its 签收, 派警, 到场 and 处置结果 reach the citizen's app too.
                  "order.linkage_accepted", "order.linkage_rejected", "order.police_dispatched",
                  "order.police_arrived", "order.police_result")


def key_hash(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), f"open311:{key}".encode(), hashlib.sha256).hexdigest()


def client_for_key(ctx: Ctx, api_key: str | None) -> Open311Client:
    """The active client of ``api_key``, or 403 (missing or invalid key), as the specification says."""
    if not api_key:
        raise Open311Error.one(403, "api_key is required / 缺少 api_key")
    secret = ctx.settings.secret_key.get_secret_value()
    client = ctx.session.execute(select(Open311Client).where(
        Open311Client.key_hash == key_hash(secret, api_key))).scalar_one_or_none()
    if client is None or not client.active:
        raise Open311Error.one(403, "api_key is invalid / api_key 无效或已停用")
    return client


def check_jurisdiction(ctx: Ctx, jurisdiction_id: str | None) -> None:
    """One jurisdiction per endpoint: the parameter is optional; another one is unknown here (404)."""
    if jurisdiction_id and jurisdiction_id != ctx.settings.open311.jurisdiction_id:
        raise Open311Error.one(404, f"jurisdiction_id {jurisdiction_id!r} is not served here / 不是本平台的辖区")


# -- services ------------------------------------------------------------------------------------------------


def _service_categories(ctx: Ctx):
    """Active categories a citizen can pick: the second level, and first-level ones without children."""
    cats = [c for c in ctx.directory.categories.values() if c.active]
    parents = {c.parent_id for c in cats if c.parent_id is not None}
    return sorted((c for c in cats if c.parent_id is not None or c.id not in parents), key=lambda c: c.code)


def services(ctx: Ctx) -> list[dict]:
    kind = "batch" if ctx.settings.open311.batch else "realtime"
    out = []
    for c in _service_categories(ctx):
        parent = ctx.directory.category(c.parent_id) if c.parent_id else None
        out.append({"service_code": c.code, "service_name": c.name, "description": c.path_name, "metadata": True,
                    "type": kind, "keywords": ",".join(c.keywords) if c.keywords else None,
                    "group": parent.name if parent else c.name})
    out.append({"service_code": OTHER_SERVICE, "service_name": "其他诉求", "description": "不确定分类时选此项，由平台分类",
                "metadata": True, "type": kind, "keywords": None, "group": "其他"})
    return out


def service_category(ctx: Ctx, service_code: str):
    """The category of a service code (None for ``other``), or 404."""
    if service_code == OTHER_SERVICE:
        return None
    category = ctx.directory.category_by_code(service_code)
    if category is None or not category.active or category not in _service_categories(ctx):
        raise Open311Error.one(404, f"service_code {service_code!r} not found / 没有这个服务")
    return category


def definition(ctx: Ctx, service_code: str) -> dict:
    service_category(ctx, service_code)
    return {"service_code": service_code, "attributes": [
        {"variable": True, "code": "request_type", "datatype": "singlevaluelist", "required": False,
         "datatype_description": "不填由平台判断", "order": 1, "description": "诉求类型",
         "values": [{"key": t, "name": label("request_type", t)} for t in REQUEST_TYPES]},
        {"variable": True, "code": "title", "datatype": "string", "required": False,
         "datatype_description": "不超过200字；不填取描述的开头", "order": 2, "description": "标题"},
    ]}


# -- a request as GeoReport shows it ------------------------------------------------------------------------------


def _w3c(ctx: Ctx, moment: datetime | None) -> str | None:
    return moment.astimezone(ctx.settings.tz).isoformat(timespec="seconds") if moment else None


def status_notes(order: WorkOrder) -> str:
    state = State(order.state)
    if state == State.CLOSED_AT_INTAKE:
        return f"已直接答复：{(order.intake_answer or '')[:500]}"
    if state in (State.CLOSED, State.AWAITING_CALLBACK) and order.reply_content:
        return f"{label('state', state.value)}：{order.reply_content[:500]}"
    if state == State.TRANSFERRED_TO_110:
        return "该事项属公安机关职责，已通过系统推送转110处理"
    if state == State.MERGED:
        return "与相同诉求合并办理"
    return label("state", state.value)


def request_dict(ctx: Ctx, order: WorkOrder, extra: Open311Request, due: datetime | None) -> dict:
    state = State(order.state)
    unit = ctx.directory.unit(order.handling_unit_id)
    agency = ("110" if state == State.TRANSFERRED_TO_110 else unit.name if unit
              else ctx.settings.site_name)
    closed = state in CLOSED_STATES
    return {
        "service_request_id": order.number, "status": "closed" if closed else "open",
        "status_notes": status_notes(order),
        "service_name": _service_name(ctx, extra.service_code), "service_code": extra.service_code,
        "description": order.content[:MAX_DESCRIPTION], "agency_responsible": agency,
        "service_notice": notice(extra.route, order.number),
        "requested_datetime": _w3c(ctx, order.registered_at),
        "updated_datetime": _w3c(ctx, order.closed_at if closed and order.closed_at else order.updated_at),
        "expected_datetime": None if closed else _w3c(ctx, due),
        "address": extra.address_string, "address_id": extra.address_id, "zipcode": None,
        "lat": extra.lat, "long": extra.long, "media_url": extra.media_url,
    }


def _service_name(ctx: Ctx, code: str) -> str:
    if code == OTHER_SERVICE:
        return "其他诉求"
    category = ctx.directory.category_by_code(code)
    return category.name if category else code


def notice(route: str, number: str) -> str:
    if route in ("110", "joint"):
        return f"您反映的事项涉及公安机关职责，已通过系统推送转110处理（编号 {number}）。紧急情况请直接拨打110。"
    return f"已受理（编号 {number}），将按规定时限办理并回复。"


def handle_due(ctx: Ctx, order_ids: list[int]) -> dict[int, datetime]:
    """The running 办理 clock's deadline of each order (GeoReport's expected_datetime, from the SLA)."""
    out: dict[int, datetime] = {}
    for i in range(0, len(order_ids), 500):
        rows = ctx.session.execute(select(StageClock.order_id, func.max(StageClock.due_at)).where(
            StageClock.order_id.in_(order_ids[i:i + 500]), StageClock.stage == "handle",
            StageClock.stopped_at.is_(None)).group_by(StageClock.order_id))
        out.update({oid: due for oid, due in rows if due is not None})
    return out


def parse_w3c(value: str | None, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        # An unencoded "+08:00" in a query string arrives as " 08:00".
        moment = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        raise Open311Error.one(400, f"{name} must be a W3C date-time with a time zone / 时间格式不正确") from None
    if moment.tzinfo is None:
        raise Open311Error.one(400, f"{name} needs a time zone, e.g. 2026-01-01T00:00:00+08:00 / 时间须带时区")
    return moment


@dataclass(frozen=True)
class RequestQuery:
    ids: list[str] | None
    service_codes: list[str] | None
    start: datetime | None
    end: datetime | None
    statuses: list[str] | None
    page: int
    page_size: int


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def parse_query(params) -> RequestQuery:
    start, end = parse_w3c(params.get("start_date"), "start_date"), parse_w3c(params.get("end_date"), "end_date")
    if start and end and end < start:
        raise Open311Error.one(400, "end_date is before start_date / 结束时间早于开始时间")
    if start and end and end - start > timedelta(days=DEFAULT_DAYS):
        raise Open311Error.one(400, f"start_date to end_date may span at most {DEFAULT_DAYS} days / 查询区间最长90天")
    statuses = _split(params.get("status"))
    if statuses and any(s not in ("open", "closed") for s in statuses):
        raise Open311Error.one(400, "status must be open and/or closed / status 只能是 open 或 closed")
    try:
        page = int(params.get("page") or 1)
        page_size = int(params.get("page_size") or MAX_ROWS)
    except ValueError:
        raise Open311Error.one(400, "page and page_size must be whole numbers / 页码须为整数") from None
    if page < 1 or not 1 <= page_size <= MAX_ROWS:
        raise Open311Error.one(400, f"page ≥ 1, page_size 1–{MAX_ROWS} / 页码或每页条数超出范围")
    return RequestQuery(_split(params.get("service_request_id")), _split(params.get("service_code")), start, end,
                        statuses, page, page_size)


def find_requests(ctx: Ctx, q: RequestQuery) -> list[dict]:
    """GET requests: by ids (which override every other filter), or by service, status and requested time —
    by default the last 90 days, newest first, at most 1,000 (then ``page``/``page_size``)."""
    stmt = select(WorkOrder, Open311Request).join(Open311Request, Open311Request.order_id == WorkOrder.id)
    # A caller who asked for confidentiality (GB/T 33358) is not listed at all.
    stmt = stmt.where(WorkOrder.caller_confidential.is_(False))
    if q.ids:
        stmt = stmt.where(WorkOrder.number.in_(q.ids[:MAX_ROWS]))
    else:
        end = q.end or ctx.now
        start = q.start or end - timedelta(days=DEFAULT_DAYS)
        stmt = stmt.where(WorkOrder.registered_at >= start, WorkOrder.registered_at <= end)
        if q.service_codes:
            stmt = stmt.where(Open311Request.service_code.in_(q.service_codes))
        if q.statuses and len(set(q.statuses)) == 1:
            closed = [s.value for s in CLOSED_STATES]
            stmt = stmt.where(WorkOrder.state.in_(closed) if q.statuses[0] == "closed"
                              else WorkOrder.state.notin_(closed))
        stmt = stmt.order_by(WorkOrder.registered_at.desc(), WorkOrder.id.desc()) \
            .limit(q.page_size).offset((q.page - 1) * q.page_size)
    rows = ctx.session.execute(stmt).all()
    due = handle_due(ctx, [order.id for order, _extra in rows])
    return [request_dict(ctx, order, extra, due.get(order.id)) for order, extra in rows]


# -- FixMyStreet updates ------------------------------------------------------------------------------------------


# What the citizen reads for a step with nothing of its own to say. 110's steps carry no police unit, officer or
# 警单 number (internal to the police).
_FIXED_UPDATE_TEXTS = {
    "registered": "已受理",
    "dispatch": "已派至承办单位办理",
    "transfer_to_110": "该事项属公安机关职责，已通过系统推送转110处理",
    "linkage_accepted": "110已签收，正在处理",
    "police_dispatched": "110已派警处置",
    "police_arrived": "民警已到达现场",
    "linkage_rejected": "经核实不属公安机关职责，由12345热线继续办理",
}


def _update_text(action: str, data: dict, order: WorkOrder) -> str:
    verb = action.partition(".")[2]
    if verb == "approve_reply" and order.reply_content:
        return f"承办单位答复：{order.reply_content[:1000]}"
    if verb == "close_at_intake":
        return f"已直接答复：{(order.intake_answer or '')[:1000]}"
    if verb == "police_result":
        parts = [p for p in (data.get("situation"), data.get("result_note")) if p]
        return f"110处置结果：{'；'.join(parts)[:1000]}" if parts else "110已处置完毕"
    return _FIXED_UPDATE_TEXTS.get(verb) or label("action", verb) or verb


def updates(ctx: Ctx, start: datetime | None, end: datetime | None) -> list[dict]:
    """GET servicerequestupdates: what happened to the Open311 requests in [start, end] (default: the last
    day), oldest first, at most 1,000; ``update_id`` is the audit chain's sequence number."""
    end = end or ctx.now
    start = start or end - timedelta(days=1)
    rows = ctx.session.execute(
        select(AuditEvent, WorkOrder).join(WorkOrder, WorkOrder.id == AuditEvent.entity_id)
        .join(Open311Request, Open311Request.order_id == WorkOrder.id)
        .where(AuditEvent.entity_type == "work_order", AuditEvent.occurred_at >= start,
               AuditEvent.occurred_at <= end, AuditEvent.action.in_(UPDATE_ACTIONS))
        .order_by(AuditEvent.seq).limit(MAX_ROWS)).all()
    out = []
    for event, order in rows:
        # The state after the event: its to_state, or (a step that moved nothing, such as 110's 到场) the state
        # it happened in — not the 工单's state now, which may be days later.
        then = next((s for s in (event.to_state, event.from_state) if s in State._value2member_map_), order.state)
        state = State(then)
        out.append({"update_id": str(event.seq), "service_request_id": order.number,
                    "status": FMS_STATUS.get(state, "OPEN"), "updated_datetime": _w3c(ctx, event.occurred_at),
                    "description": _update_text(event.action, event.data or {}, order), "media_url": None})
    return out


# -- POST arguments ----------------------------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"^attribute\[([^\]\[]+)\](\[\])?$")


@dataclass
class Submission:
    """A POST requests' arguments, checked (every problem gathered: one 400 body can carry several)."""

    api_key: str | None
    service_code: str | None
    jurisdiction_id: str | None
    lat: float | None
    long: float | None
    address_string: str | None
    address_id: str | None
    description: str | None
    media_url: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    email: str | None
    device_id: str | None
    account_id: str | None
    attributes: dict


def _clean(value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None  # "optional" means an empty argument is the same as a missing one


def parse_submission(pairs: list[tuple[str, str]]) -> Submission:
    """``pairs``: the form's (name, value) pairs in order (``attribute[code][]`` may repeat)."""
    fields: dict[str, str] = {}
    attributes: dict[str, object] = {}
    for name, value in pairs:
        if m := _ATTRIBUTE.match(name):
            code, multi = m.group(1), m.group(2)
            if multi:
                attributes.setdefault(code, [])
                if isinstance(attributes[code], list) and _clean(value):
                    attributes[code].append(str(value).strip())
            elif _clean(value):
                attributes[code] = str(value).strip()
        else:
            fields[name] = value
    errors: list[tuple[object, str]] = []

    def coordinate(name: str, bound: float) -> float | None:
        raw = _clean(fields.get(name))
        if raw is None:
            return None
        try:
            number = float(raw)
        except ValueError:
            errors.append((400, f"{name} must be a number (WGS84) / {name} 须为数字"))
            return None
        if not math.isfinite(number) or abs(number) > bound:
            errors.append((400, f"{name} is out of range (±{bound:g}) / {name} 超出范围"))
            return None
        return number

    lat, long = coordinate("lat", 90), coordinate("long", 180)
    if (_clean(fields.get("lat")) is None) != (_clean(fields.get("long")) is None):
        errors.append((400, "lat and long go together / lat 与 long 须同时提供"))
    address_string, address_id = _clean(fields.get("address_string")), _clean(fields.get("address_id"))
    if lat is None and long is None and not address_string and not address_id and not any(
            e[1].startswith(("lat", "long")) for e in errors):
        errors.append((400, "a location is required: lat and long, address_string or address_id / 须提供位置"))
    if address_string and len(address_string) > 300:
        errors.append((400, "address_string is longer than 300 characters / 地址过长"))
    description = _clean(fields.get("description"))
    if description and len(description) > MAX_DESCRIPTION:
        errors.append((400, f"description is longer than {MAX_DESCRIPTION} characters / 描述超过4000字"))
    if description and re.search(r"<[a-zA-Z/][^>]*>", description):
        errors.append((400, "description may not contain HTML / 描述不能包含 HTML"))
    media_url = _clean(fields.get("media_url"))
    if media_url:
        parts = urlsplit(media_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(media_url) > 500:
            errors.append((400, "media_url must be an http(s) URL / media_url 须为 http(s) 地址"))
    phone = _clean(fields.get("phone"))
    if phone and not PHONE_RE.match(phone):
        errors.append((400, "phone is not a telephone number / 电话号码格式不正确"))
    email = _clean(fields.get("email"))
    if email and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        errors.append((400, "email is not an e-mail address / 邮箱格式不正确"))
    request_type = attributes.get("request_type")
    if request_type is not None and request_type not in REQUEST_TYPES:
        errors.append((400, f"attribute[request_type] must be one of {', '.join(REQUEST_TYPES)} / 诉求类型不正确"))
    title = attributes.get("title")
    if title is not None and (not isinstance(title, str) or len(title) > 200):
        errors.append((400, "attribute[title] is at most 200 characters / 标题过长"))
    unknown = sorted(set(attributes) - {"request_type", "title"})
    if unknown:
        errors.append((400, f"unknown attribute(s): {', '.join(unknown)} / 未定义的属性"))
    if not _clean(fields.get("service_code")):
        errors.append((400, "service_code is required / 缺少 service_code"))
    for name in ("first_name", "last_name", "device_id", "account_id"):
        if (v := _clean(fields.get(name))) and len(v) > 100:
            errors.append((400, f"{name} is longer than 100 characters / {name} 过长"))
    if errors:
        raise Open311Error(400, errors)
    return Submission(
        api_key=_clean(fields.get("api_key")), service_code=_clean(fields.get("service_code")),
        jurisdiction_id=_clean(fields.get("jurisdiction_id")), lat=lat, long=long,
        address_string=address_string, address_id=address_id, description=description, media_url=media_url,
        first_name=_clean(fields.get("first_name")), last_name=_clean(fields.get("last_name")), phone=phone,
        email=email, device_id=_clean(fields.get("device_id")), account_id=_clean(fields.get("account_id")),
        attributes=attributes)
