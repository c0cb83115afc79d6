"""A real Open311 client from PyPI (``georeport``, read-only: it does not create requests) against a live server
over HTTP, in JSON and XML; the POST by a client written strictly from the specification (form-encoded, UTF-8)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import uvicorn
from georeport import GeoReport
from tests.open311.test_georeport import LIFT

from civiclink.app import create_app


@pytest.fixture
def live_url(state) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(state.settings, state=state), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/open311/v2"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def spec_post(base: str, fmt: str, **arguments) -> requests.Response:
    """POST requests.{fmt} as the specification says: application/x-www-form-urlencoded; charset=utf-8."""
    from urllib.parse import urlencode

    return requests.post(f"{base}/requests.{fmt}", data=urlencode(arguments).encode("utf-8"),
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, timeout=60)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_reads_what_we_serve(live_url, api_key, fmt):
    made = spec_post(live_url, fmt, api_key=api_key, service_code="cxjs.wygl", lat="32.0105", long="120.8637",
                     description=LIFT)
    assert made.status_code == 201, made.text
    client = GeoReport(live_url, jurisdiction="nantong.gov.cn", output_format=fmt)
    services = client.get_service_list()
    assert any(s["service_code"] == "cxjs.wygl" for s in services)
    definition = client.get_service_definition("cxjs.wygl")
    attributes = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert {a["code"] for a in attributes} == {"request_type", "title"}
    requests = client.get_service_requests(service_code="cxjs.wygl")
    requests = requests if isinstance(requests, list) else [requests]
    assert requests and requests[0]["status"] == "open" and requests[0]["description"] == LIFT
    one = client.get_service_request(requests[0]["service_request_id"])
    assert one["service_request_id"] == requests[0]["service_request_id"]
