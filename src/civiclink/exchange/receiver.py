"""The receiving side outside HTTP: one batch of envelopes, authenticated, applied in its own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from civiclink.db import utcnow, write_session
from civiclink.exchange import service


def receive_raw(state, raw: bytes, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """``now``: the receiving site's clock (a simulation — the demo builder — delivers at its own time)."""
    envelopes = service.authenticate(state.settings, service.parse_batch(raw), now=now or utcnow())
    with write_session(state.sessions) as session:
        ctx = state.ctx(session, now=now)
        acks = service.apply_envelopes(ctx, envelopes, state.exchange_handlers)
    return [a.as_dict() for a in acks]
