"""The receiving side outside HTTP: one batch of envelopes, authenticated, applied in its own transaction."""

from __future__ import annotations

from typing import Any

from civiclink.db import utcnow, write_session
from civiclink.exchange import service


def receive_raw(state, raw: bytes) -> list[dict[str, Any]]:
    envelopes = service.authenticate(state.settings, service.parse_batch(raw), now=utcnow())
    with write_session(state.sessions) as session:
        ctx = state.ctx(session)
        acks = service.apply_envelopes(ctx, envelopes, state.exchange_handlers)
    return [a.as_dict() for a in acks]
