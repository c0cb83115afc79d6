"""The exchange channel's tables (design §6): the sender's outbox, the receiver's inbox, and per-case sequences."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class OutboxMessage(Base):
    """An envelope to send, written in the same transaction as the change it reports.

    ``state``: pending (to send; ``next_attempt_at`` says when), delivered (the peer acknowledged it),
    dead (gave up after ``max_attempts``; ``civiclink exchange retry`` puts it back). A relay claims a row by
    setting ``claimed_until``; a relay that dies mid-batch leaves the claim to expire, and the row is sent
    again — the peer's inbox makes the second delivery change nothing.
    """

    __table_args__ = (Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    peer: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(100), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    envelope: Mapped[str] = mapped_column(Text)  # the signed JSON, exactly as sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_status: Mapped[str | None] = mapped_column(String(12))  # the peer's answer: applied | waiting | duplicate | rejected
    ack_detail: Mapped[str | None] = mapped_column(String(500))


class InboxMessage(Base):
    """An envelope received, keyed by ``message_id``: redelivery finds the row and changes nothing.

    ``state``: applied, waiting (a predecessor of the same case has not arrived yet) or rejected (it arrived in
    order but could not be applied; the reason is kept and reported to the sender).
    """

    __table_args__ = (Index("ix_inbox_message_sender_case_seq", "sender", "case_ref", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    sender: Mapped[str] = mapped_column(String(64))
    case_ref: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    envelope: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(12))
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detail: Mapped[str | None] = mapped_column(String(500))


class ExchangeSequence(Base):
    """Per case and peer: the last sequence number sent to it, and the last one applied from it."""

    __table_args__ = (UniqueConstraint("case_ref", "peer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(100))
    peer: Mapped[str] = mapped_column(String(64))
    last_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_applied: Mapped[int] = mapped_column(Integer, default=0)
