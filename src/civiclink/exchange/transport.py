"""How envelopes travel: HTTP POST to the peer's inbox, or — in tests and the demo builder — a direct call of
the peer site's receiving code (the envelopes are still serialized, signed and verified)."""

from __future__ import annotations

import json
from typing import Any, Protocol

import httpx2 as httpx  # the maintained fork the project depends on (same API)

from civiclink.config import PeerSettings

INBOX_PATH = "/api/exchange/inbox"


class TransportError(Exception):
    """The peer could not be reached or did not accept the batch; the relay will try again."""


class Transport(Protocol):
    def send(self, peer: PeerSettings, envelopes: list[str]) -> list[dict[str, Any]]:
        """Deliver ``envelopes`` (signed JSON texts) and return the peer's acks."""
        ...


def _batch_body(envelopes: list[str]) -> bytes:
    return ('{"envelopes":[' + ",".join(envelopes) + "]}").encode("utf-8")


class HttpTransport:
    def __init__(self, *, timeout: float = 10.0):
        self._client = httpx.Client(timeout=timeout, headers={"Content-Type": "application/json"})

    def send(self, peer: PeerSettings, envelopes: list[str]) -> list[dict[str, Any]]:
        url = peer.base_url.rstrip("/") + INBOX_PATH
        try:
            response = self._client.post(url, content=_batch_body(envelopes))
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        if response.status_code != 200:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise TransportError(f"HTTP {response.status_code}: {detail}"[:300])
        try:
            acks = response.json()["acks"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransportError("对方返回的确认格式不正确") from exc
        if not (isinstance(acks, list) and all(isinstance(a, dict) for a in acks)):
            raise TransportError("对方返回的确认格式不正确")
        return acks

    def close(self) -> None:
        self._client.close()


class LocalTransport:
    """Deliver straight into other sites of this process (``sites``: site_code → AppState)."""

    def __init__(self, sites: dict[str, Any], *, clock=None):
        self.sites = sites
        self.down: set[str] = set()  # site codes to treat as unreachable (tests of outages)
        self.clock = clock  # the receivers' "now" (None: the real clock)

    def send(self, peer: PeerSettings, envelopes: list[str]) -> list[dict[str, Any]]:
        from civiclink.exchange.receiver import receive_raw

        if peer.site_code in self.down or peer.site_code not in self.sites:
            raise TransportError(f"站点 {peer.site_code} 不可达")
        acks = receive_raw(self.sites[peer.site_code], _batch_body(envelopes),
                           now=self.clock() if self.clock else None)
        return json.loads(json.dumps(acks))

    def close(self) -> None:
        pass
