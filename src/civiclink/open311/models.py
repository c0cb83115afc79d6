"""Open311 client apps with their api keys, the requests they submitted, and the updates citizens sent back
(docs/open311.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class Open311Client(Base):
    """An app or web site allowed to POST (R-103's internet channels): its key is shown once at creation and
    kept only as a keyed hash."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(12))  # the first characters, to tell keys apart
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Open311Request(Base):
    """What an Open311 POST carried beyond the 工单 itself: the location as sent, the client's ids, the media,
    the token (batch mode) and what became of it (registered, pushed to 110)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("open311_client.id"), index=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    service_code: Mapped[str] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    address_string: Mapped[str | None] = mapped_column(String(300))
    address_id: Mapped[str | None] = mapped_column(String(100))
    media_url: Mapped[str | None] = mapped_column(String(500))
    device_id: Mapped[str | None] = mapped_column(String(100))
    account_id: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[dict] = mapped_column(JSON, default=dict)
    route: Mapped[str] = mapped_column(String(16))  # the triage route: 12345 | 110 | joint | ambiguous
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Open311Update(Base):
    """A citizen's update sent by a client (FixMyStreet ``POST servicerequestupdates``): kept, shown on the 工单's
    timeline, answered with its ``update_id``."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("open311_client.id"))
    update_id_ext: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
