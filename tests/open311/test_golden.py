"""Golden XML: the documents an XML-only client (FixMyStreet's Open311 module, the validators) parses, byte for
byte after the volatile parts (numbers, times, host) are replaced. A change to the wire format shows here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.open311.conftest import BASE

GOLDEN = Path(__file__).parent / "golden"


def normal(text: str) -> str:
    text = re.sub(r"NT\d{8}-\d{6}", "NT00000000-000000", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", "2026-01-01T00:00:00+08:00", text)
    text = re.sub(r"http://[^<]+/open311/v2", "http://host/open311/v2", text)
    return re.sub(r"<update_id>\d+</update_id>", "<update_id>1</update_id>", text)


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():  # a new golden file is written once and must then be reviewed and committed
        path.write_text(normal(text), encoding="utf-8")
        pytest.fail(f"wrote {path}: review it and commit it")
    assert normal(text) == path.read_text(encoding="utf-8")


def test_golden_documents(client, post_request):
    check("discovery.xml", client.get(f"{BASE}/discovery.xml").text)
    check("service_definition.xml", client.get(f"{BASE}/services/cxjs.wygl.xml").text)
    check("error_403.xml", post_request("xml", key="wrong", service_code="cxjs.wygl", lat="32", long="120.9").text)
    check("error_400.xml", post_request("xml", service_code=None, lat="x", long="120.9").text)
    made = post_request("xml", service_code="cxjs.wygl", lat="32.0105", long="120.8637",
                        description="小区3号楼电梯坏了三天没人修。")
    check("post_response.xml", made.text)
    number = re.search(r"<service_request_id>([^<]+)<", made.text).group(1)
    check("request.xml", client.get(f"{BASE}/requests/{number}.xml").text)
    check("updates.xml", client.get(f"{BASE}/servicerequestupdates.xml").text)
