"""An Open311 client app with its key, and helpers to call the endpoint in either format."""

from __future__ import annotations

import pytest

BASE = "/open311/v2"


@pytest.fixture
def api_key(client, auth) -> str:
    r = client.post("/api/open311/clients", json={"code": "nantong-app", "name": "南通市民App"}, headers=auth("admin"))
    assert r.status_code == 201, r.text
    return r.json()["api_key"]


@pytest.fixture
def post_request(client, api_key):
    """post_request(fmt="json", **fields) → the response of POST requests.{fmt} (form-encoded, as specified)."""
    def post(fmt: str = "json", key: str | None = None, **fields):
        data = {"api_key": api_key if key is None else key, **fields}
        return client.post(f"{BASE}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})
    return post
