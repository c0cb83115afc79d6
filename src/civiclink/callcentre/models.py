"""Call records from the telephony system (CTI): the events as received, and the calls assembled from them
(docs/cti.md; R-605 漏接回拨, R-606 15 s / 95 %, R-801, R-805 一次接通率)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class CallEvent(Base):
    """One event of one call as the CTI adapter (or a CSV import) reported it. ``digest`` makes a resent event a
    no-op: the adapter may retry a batch whose answer it lost."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    call_ref: Mapped[str] = mapped_column(String(64), index=True)  # the CTI's call id
    kind: Mapped[str] = mapped_column(String(24))  # offered | queued | answered | abandoned | transferred | …
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    caller: Mapped[str | None] = mapped_column(String(32))  # the calling number (personal data)
    line: Mapped[str | None] = mapped_column(String(20))  # the number called: 12345, 110, a 专席
    agent: Mapped[str | None] = mapped_column(String(64))  # the agent's username
    team: Mapped[str | None] = mapped_column(String(20))  # 班组 (A–D of 四班三运转) or the queue's skill group
    target: Mapped[str | None] = mapped_column(String(32))  # where a transfer or 三方通话 went (110, another line)
    order_number: Mapped[str | None] = mapped_column(String(40))
    incident_number: Mapped[str | None] = mapped_column(String(40))
    batch: Mapped[str] = mapped_column(String(64), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Call(Base):
    """A call assembled from its events (``callcentre.service.assemble``), rebuilt whenever one of them arrives.
    Times are UTC; ``local_day``, ``local_hour`` and ``local_slot`` are the site's, kept so that the KPIs group without time-zone
    functions in SQL."""

    __table_args__ = (
        Index("ix_call_caller_offered", "caller", "offered_at"),
        Index("ix_call_local_day_hour", "local_day", "local_hour"),
        Index("ix_call_callback_state", "callback_state", "offered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_ref: Mapped[str] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    line: Mapped[str | None] = mapped_column(String(20))
    caller: Mapped[str | None] = mapped_column(String(32))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    local_day: Mapped[date] = mapped_column(Date)
    local_hour: Mapped[int] = mapped_column(Integer)
    local_slot: Mapped[int] = mapped_column(Integer)  # the local half hour of the day, 0–47 (the forecast's unit)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # answered | abandoned (the caller hung up before a person answered) | waiting (no end yet)
    outcome: Mapped[str] = mapped_column(String(12))
    wait_seconds: Mapped[float | None] = mapped_column(Float)  # queued (or offered) → answered / hung up
    talk_seconds: Mapped[float | None] = mapped_column(Float)  # answered → ended
    short_abandon: Mapped[bool] = mapped_column(Boolean, default=False)  # gave up within a few seconds
    redial: Mapped[bool] = mapped_column(Boolean, default=False)  # after an unanswered call within 30 min
    agent: Mapped[str | None] = mapped_column(String(64))
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    team: Mapped[str | None] = mapped_column(String(20))
    transferred_to: Mapped[str | None] = mapped_column(String(32))  # 一键转接 110, or another line
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conference_with: Mapped[str | None] = mapped_column(String(32))  # 三方通话
    conference_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    conference_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    order_number: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    incident_number: Mapped[str | None] = mapped_column(String(40))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    # 漏接回拨: pending → called_back | unreachable | not_needed (the caller got through since)
    callback_state: Mapped[str | None] = mapped_column(String(12))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_by: Mapped[str | None] = mapped_column(String(64))
    callback_note: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}


class CallRollup(Base):
    """The connection KPIs' sums (``callcentre.service.sums``) of one finished local day, one hour of it and one
    班组 ('' for none): what a period's KPIs add up instead of reading its calls (docs/cti.md, "Roll-up"). Derived
    data, like a cache: rebuilt from the calls at any time, never edited, so its writes are not audit events."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)
    team: Mapped[str] = mapped_column(String(20), primary_key=True)
    offered: Mapped[int] = mapped_column(Integer)  # calls wanting a person (every call but short abandons)
    answered: Mapped[int] = mapped_column(Integer)
    in_target: Mapped[int] = mapped_column(Integer)  # answered within the target (15 s)
    abandoned: Mapped[int] = mapped_column(Integer)
    short: Mapped[int] = mapped_column(Integer)
    contacts: Mapped[int] = mapped_column(Integer)  # first attempts
    first: Mapped[int] = mapped_column(Integer)  # first attempts answered
    wait: Mapped[float] = mapped_column(Float)  # seconds waited by answered calls
    talk: Mapped[float] = mapped_column(Float)
    talked: Mapped[int] = mapped_column(Integer)


class CallRollupDay(Base):
    """A local day whose roll-up rows are complete, and the answer target they were counted with. A day without
    this row is read from the calls; events or redials that change a day's calls remove its row in the same
    transaction (``callcentre.rollup.unbuild``)."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    answer_target_seconds: Mapped[int] = mapped_column(Integer)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
