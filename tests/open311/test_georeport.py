"""GeoReport v2 as the specification says (docs/open311.md): every response validated against the Open311 JSON
Schemas, XML and JSON saying the same, errors with the specified codes and nothing stored, the 90-day default,
triage and the 110 push, the FixMyStreet updates, tokens, and no personal data in public responses."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from sqlalchemy import func, select
from tests.helpers import act, incident_act
from tests.open311.conftest import BASE

from civiclink.incidents.models import Incident
from civiclink.linkage.models import Transfer
from civiclink.open311.models import Open311Request, Open311Update
from civiclink.workorders.models import WorkOrder
from civiclink.workorders.states import Action

SCHEMAS = Path(__file__).parent / "schemas"
REGISTRY = Registry().with_resources(
    (p.name, Resource.from_contents({**json.loads(p.read_text()), "$schema": "http://json-schema.org/draft-07/schema#"}))
    for p in SCHEMAS.glob("*.json"))

LIFT = "小区3号楼电梯坏了三天没人修，老人上下楼很困难，物业一直推脱。"
FIGHT = "小区门口有人持刀打架，已经有人受伤流血了"


def validate(name: str, body) -> None:
    schema = REGISTRY.contents(name)
    Draft7Validator(schema, registry=REGISTRY, format_checker=FormatChecker()).validate(body)


def xml(response) -> ET.Element:
    assert response.headers["content-type"].startswith("text/xml; charset=utf-8")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def counts(session) -> tuple[int, int]:
    session.rollback()
    return (session.execute(select(func.count()).select_from(WorkOrder)).scalar_one(),
            session.execute(select(func.count()).select_from(Open311Request)).scalar_one())


def test_discovery_in_both_formats(client):
    j = client.get(f"{BASE}/discovery.json")
    assert j.status_code == 200 and j.headers["content-type"] == "application/json; charset=utf-8"
    body = j.json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    endpoint = body["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and endpoint["formats"] == ["text/xml", "application/json"]
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and [f.text for f in root.iter("format")] == ["text/xml", "application/json"]


def test_services_and_definitions_validate_and_agree(client):
    services = client.get(f"{BASE}/services.json").json()
    validate("services.json", services)
    codes = [s["service_code"] for s in services]
    assert "cxjs.wygl" in codes and "other" in codes and all(s["type"] == "realtime" for s in services)
    root = xml(client.get(f"{BASE}/services.xml"))
    assert [s.findtext("service_code") for s in root.findall("service")] == codes  # the same tree
    definition = client.get(f"{BASE}/services/cxjs.wygl.json").json()
    validate("service-definition.json", definition)
    types = next(a for a in definition["attributes"] if a["code"] == "request_type")
    assert [v["key"] for v in types["values"]] == ["complaint", "help", "consultation", "suggestion", "report"]
    d = xml(client.get(f"{BASE}/services/cxjs.wygl.xml"))
    assert d.findtext("service_code") == "cxjs.wygl" and d.find("attributes/attribute/values/value/key") is not None
    missing = client.get(f"{BASE}/services/nope.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404
    assert xml(client.get(f"{BASE}/services/nope.xml")).find("error/code").text == "404"


def test_a_request_is_triaged_registered_and_shown_without_personal_data(client, post_request, session):
    r = post_request(service_code="cxjs.wygl", lat="32.0105", long="120.8637", description=LIFT,
                     first_name="三", last_name="张", phone="13800001111", email="zhang@example.com",
                     account_id="u-42", **{"attribute[request_type]": "complaint"})
    assert r.status_code == 201, r.text
    (answer,) = r.json()
    number = answer["service_request_id"]
    assert "token" not in answer and answer["account_id"] == "u-42" and "已受理" in answer["service_notice"]
    order = session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
    assert (order.channel, order.request_type, order.caller_phone) == ("open311", "complaint", "13800001111")
    assert order.category_id is not None and order.state == "awaiting_dispatch"
    one = client.get(f"{BASE}/requests/{number}.json")
    validate("requests.json", one.json())
    (shown,) = one.json()
    assert shown["status"] == "open" and shown["lat"] == 32.0105 and shown["description"] == LIFT
    assert shown["expected_datetime"] and shown["requested_datetime"].endswith("+08:00")  # W3C with the zone
    text = one.text + client.get(f"{BASE}/requests.xml").text
    assert "13800001111" not in text and "张" not in text and "zhang@" not in text  # no personal data
    root = xml(client.get(f"{BASE}/requests/{number}.xml"))
    assert root.find("request/service_request_id").text == number and root.find("request/lat").text == "32.0105"


def test_a_matter_for_110_is_pushed_not_just_stored(client, post_request, session):
    r = post_request(service_code="other", address_string="南通市崇川区和平桥街道人民中路18号", description=FIGHT)
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    assert "110" in r.json()[0]["service_notice"]
    order = session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
    assert order.state == "transferred_to_110"
    transfer = session.execute(select(Transfer).where(Transfer.order_id == order.id)).scalar_one()
    assert (transfer.direction, transfer.channel, transfer.reason_code) == ("out", "system_push", "internet_channel")
    (shown,) = client.get(f"{BASE}/requests/{number}.json").json()
    assert shown["agency_responsible"] == "110" and "110" in shown["status_notes"]
    updates = client.get(f"{BASE}/servicerequestupdates.json").json()
    assert [u["status"] for u in updates if u["service_request_id"] == number][-1] == "INTERNAL_REFERRAL"


def test_a_matter_outside_the_remit_is_refused_with_its_channel(client, post_request, session):
    before = counts(session)
    r = post_request(service_code="other", address_string="南通市崇川区", description="我要起诉前夫，法院判决的抚养费他一直不给")
    assert r.status_code == 400 and r.json()[0]["code"] == "not_accepted" and "法院" in r.json()[0]["description"]
    assert counts(session) == before


BAD = [
    ("missing service_code", {"service_code": None, "lat": "32", "long": "120.9"}, 400),
    ("bad lat", {"service_code": "cxjs.wygl", "lat": "north", "long": "120.9"}, 400),
    ("lat out of range", {"service_code": "cxjs.wygl", "lat": "95", "long": "120.9"}, 400),
    ("lat without long", {"service_code": "cxjs.wygl", "lat": "32"}, 400),
    ("no location", {"service_code": "cxjs.wygl", "description": LIFT}, 400),
    ("unknown service", {"service_code": "nope", "lat": "32", "long": "120.9"}, 404),
    ("oversized description", {"service_code": "cxjs.wygl", "lat": "32", "long": "120.9", "description": "修" * 4001},
     400),
    ("html description", {"service_code": "cxjs.wygl", "lat": "32", "long": "120.9", "description": "<b>修</b>"}, 400),
    ("bad media_url", {"service_code": "cxjs.wygl", "lat": "32", "long": "120.9", "media_url": "javascript:x"}, 400),
    ("unknown attribute", {"service_code": "cxjs.wygl", "lat": "32", "long": "120.9", "attribute[colour]": "red"},
     400),
    ("other jurisdiction", {"service_code": "cxjs.wygl", "lat": "32", "long": "120.9", "jurisdiction_id": "x.org"},
     404),
    ("wrong api_key", {"key": "not-a-key", "service_code": "cxjs.wygl", "lat": "32", "long": "120.9"}, 403),
    ("missing api_key", {"key": "", "service_code": "cxjs.wygl", "lat": "32", "long": "120.9"}, 403),
]


@pytest.mark.parametrize(("case", "fields", "status"), BAD, ids=[b[0] for b in BAD])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_input_gets_the_specified_error_and_nothing_is_stored(case, fields, status, fmt, post_request, session):
    before = counts(session)
    fields = dict(fields)  # the parameters are shared by both formats
    r = post_request(fmt, description=fields.pop("description", LIFT), **fields)
    assert r.status_code == status, (case, r.text)
    if fmt == "json":
        errors = r.json()
        assert isinstance(errors, list) and errors and {"code", "description"} <= set(errors[0])
    else:
        root = xml(r)
        assert root.tag == "errors" and root.find("error/description").text
    assert counts(session) == before


def test_several_problems_in_one_body(post_request):
    r = post_request(service_code=None, lat="x", long="y")
    assert r.status_code == 400 and len(r.json()) >= 3


@pytest.mark.parametrize(("kind", "body"), [("application/json", b'{"service_code": "cxjs.wygl", '),
                                            ("text/xml", b"<service_request><service_code>cxjs.wygl</service_code>"),
                                            ("application/json", b'["not", "an", "object"]'),
                                            ("text/xml", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')])
def test_malformed_bodies(kind, body, client, session):
    before = counts(session)
    r = client.post(f"{BASE}/requests.json", content=body, headers={"content-type": kind})
    assert r.status_code == 400 and r.json()[0]["description"]
    assert counts(session) == before


def test_json_and_xml_bodies_are_taken_too(client, api_key):
    j = client.post(f"{BASE}/requests.json", json={"api_key": api_key, "service_code": "cxjs.wygl",
                                                   "address_string": "南通市崇川区人民中路18号", "description": LIFT,
                                                   "attribute": {"request_type": "help"}})
    assert j.status_code == 201, j.text
    x = client.post(f"{BASE}/requests.xml", headers={"content-type": "text/xml"}, content=(
        f"<service_request><api_key>{api_key}</api_key><service_code>cxjs.wygl</service_code>"
        f"<lat>32.01</lat><long>120.86</long><description>{LIFT}</description></service_request>").encode())
    assert x.status_code == 201 and xml(x).find("request/service_request_id").text


def test_get_requests_filters_and_limits(client, post_request, state, session):
    first = post_request(service_code="cxjs.wygl", lat="32", long="120.9", description=LIFT).json()[0]
    post_request(service_code="other", address_string="崇川区人民中路", description="路灯不亮了，晚上很黑")
    every = client.get(f"{BASE}/requests.json").json()
    validate("requests.json", every)
    assert len(every) == 2
    only = client.get(f"{BASE}/requests.json", params={"service_code": "cxjs.wygl"}).json()
    assert [r["service_request_id"] for r in only] == [first["service_request_id"]]
    assert client.get(f"{BASE}/requests.json", params={"status": "closed"}).json() == []
    assert len(client.get(f"{BASE}/requests.json", params={"page_size": 1, "page": 2}).json()) == 1
    # The ids override every other filter.
    by_id = client.get(f"{BASE}/requests.json", params={"service_request_id": first["service_request_id"],
                                                         "status": "closed"}).json()
    assert len(by_id) == 1
    now = state.ctx(session).now
    old = client.get(f"{BASE}/requests.json", params={"start_date": (now - timedelta(days=150)).isoformat(),
                                                      "end_date": (now - timedelta(days=100)).isoformat()})
    assert old.status_code == 200 and old.json() == []
    too_long = client.get(f"{BASE}/requests.json", params={"start_date": (now - timedelta(days=91)).isoformat(),
                                                           "end_date": now.isoformat()})
    assert too_long.status_code == 400
    no_zone = client.get(f"{BASE}/requests.json", params={"start_date": "2026-01-01T00:00:00"})
    assert no_zone.status_code == 400
    assert client.get(f"{BASE}/requests.json", params={"status": "pending"}).status_code == 400
    assert client.get(f"{BASE}/requests/NT00000000-000000.json").status_code == 404
    assert client.get(f"{BASE}/requests.yaml").status_code == 404


def test_status_flows_back_through_the_updates(client, post_request, state, session, actors, api_key):
    number = post_request(service_code="cxjs.wygl", lat="32", long="120.9", description=LIFT).json()[0][
        "service_request_id"]
    ctx = state.ctx(session)
    order = session.execute(select(WorkOrder).where(WorkOrder.number == number)).scalar_one()
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="csgl")
    act(ctx, order, Action.SIGN, actors["staff_csgl"])
    act(ctx, order, Action.REPLY, actors["staff_csgl"], content="已联系物业，电梯已修复并通过检验。")
    act(ctx, order, Action.APPROVE_REPLY, actors["dispatcher"])
    session.commit()
    updates = [u for u in client.get(f"{BASE}/servicerequestupdates.json").json()
               if u["service_request_id"] == number]
    assert [u["status"] for u in updates] == ["OPEN", "INVESTIGATING", "IN_PROGRESS", "FIXED"]
    assert "电梯已修复" in updates[-1]["description"]
    assert [u["update_id"] for u in updates] == sorted((u["update_id"] for u in updates), key=int)
    (shown,) = client.get(f"{BASE}/requests/{number}.json").json()
    assert shown["agency_responsible"] == "城管局" or shown["agency_responsible"]
    assert "电梯已修复" in shown["status_notes"]
    root = xml(client.get(f"{BASE}/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates" and root.find("request_update/update_id") is not None
    # A citizen's comment comes back the other way.
    r = client.post(f"{BASE}/servicerequestupdates.json", data={
        "api_key": api_key, "service_request_id": number, "description": "谢谢，电梯已经能用了",
        "updated_datetime": "2026-11-29T10:00:00+08:00", "update_id_ext": "fms-9"})
    assert r.status_code == 201 and r.json()[0]["update_id"].startswith("c")
    session.rollback()
    kept = session.execute(select(Open311Update)).scalar_one()
    assert kept.description == "谢谢，电梯已经能用了" and kept.update_id_ext == "fms-9"
    assert client.post(f"{BASE}/servicerequestupdates.json", data={
        "api_key": api_key, "service_request_id": "NT00000000-000000", "description": "x"}).status_code == 404
    assert client.post(f"{BASE}/servicerequestupdates.json", data={
        "api_key": "wrong", "service_request_id": number, "description": "x"}).status_code == 403
    assert client.post(f"{BASE}/servicerequestupdates.json", data={
        "api_key": api_key, "service_request_id": number}).status_code == 400


def test_batch_services_answer_a_token(client, post_request, app):
    state = app.state.civiclink
    state.settings.open311.batch = True
    try:
        assert client.get(f"{BASE}/services.json").json()[0]["type"] == "batch"
        r = post_request(service_code="cxjs.wygl", lat="32", long="120.9", description=LIFT)
        (answer,) = r.json()
        assert r.status_code == 201 and "service_request_id" not in answer and answer["token"]
        found = client.get(f"{BASE}/tokens/{answer['token']}.json").json()
        assert found[0]["token"] == answer["token"] and found[0]["service_request_id"].startswith("NT")
        assert xml(client.get(f"{BASE}/tokens/{answer['token']}.xml")).find("request/service_request_id").text
        assert client.get(f"{BASE}/tokens/nope.json").status_code == 404
    finally:
        state.settings.open311.batch = False


def test_keys_are_managed_by_admins(client, auth, api_key, post_request):
    clients = client.get("/api/open311/clients", headers=auth("admin")).json()
    (app_client,) = clients
    assert app_client["key_prefix"] == api_key[:8] and "api_key" not in app_client
    assert client.get("/api/open311/clients", headers=auth("operator")).status_code == 403
    assert client.post("/api/open311/clients", json={"code": "nantong-app", "name": "x"},
                       headers=auth("admin")).status_code == 409
    revoked = client.post(f"/api/open311/clients/{app_client['id']}/revoke", json={"version": app_client["version"]},
                          headers=auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert post_request(service_code="cxjs.wygl", lat="32", long="120.9", description=LIFT).status_code == 403


def test_110s_steps_and_result_reach_the_app(client, post_request, sites):
    """A request pushed to 110 (R-503): 110 签收 and 派警 (at once: an emergency), 到场 and 处置 over the real
    exchange channel; the app's updates feed tells each step in words, without the police unit or 警单 number,
    and the request shows the result."""
    r = post_request(service_code="other", address_string="南通市崇川区和平桥街道人民中路18号", description=FIGHT)
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    sites.pump()
    pa = sites.police_actors
    with sites.write("police") as ctx:
        incident = ctx.session.execute(select(Incident).where(Incident.hotline_number == number)).scalar_one()
        assert incident.state == "dispatched"  # 持刀 and 受伤: an emergency, dispatched on arrival
        incident_act(ctx, incident, "arrive", pa["zhy"])
        incident_act(ctx, incident, "finish", pa["zhy"], situation="民警到场，双方已分开，一人送医",
                     result_note="涉事人员已带回调查")
        police_number = incident.number
    sites.pump()

    feed = client.get(f"{BASE}/servicerequestupdates.json").json()
    mine = [(u["status"], u["description"]) for u in feed if u["service_request_id"] == number]
    assert mine == [("OPEN", "已受理"), ("INTERNAL_REFERRAL", "该事项属公安机关职责，已通过系统推送转110处理"),
                    ("INTERNAL_REFERRAL", "110已签收，正在处理"), ("INTERNAL_REFERRAL", "110已派警处置"),
                    ("INTERNAL_REFERRAL", "民警已到达现场"),
                    ("FIXED", "110处置结果：民警到场，双方已分开，一人送医；涉事人员已带回调查")]
    text = json.dumps(feed, ensure_ascii=False) + client.get(f"{BASE}/servicerequestupdates.xml").text
    assert police_number not in text
    (shown,) = client.get(f"{BASE}/requests/{number}.json").json()
    assert shown["status"] == "open" and "涉事人员已带回调查" in shown["status_notes"]


def test_a_form_sent_as_raw_utf8_is_read_as_utf8(client, api_key, session):
    """Not every client percent-encodes its form (curl -d sends the bytes as they are): the text is UTF-8 either
    way, and a body that is not UTF-8 is a 400 with nothing stored."""
    body = f"api_key={api_key}&service_code=other&address_string=南通市崇川区&description={LIFT}".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post(f"{BASE}/requests.json", content=body, headers=headers)
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    assert session.execute(select(WorkOrder.content).where(WorkOrder.number == number)).scalar_one() == LIFT
    before = counts(session)
    r = client.post(f"{BASE}/requests.json", content=body.replace(LIFT.encode(), LIFT.encode("gbk")), headers=headers)
    assert r.status_code == 400 and "UTF-8" in r.json()[0]["description"]
    assert counts(session) == before
