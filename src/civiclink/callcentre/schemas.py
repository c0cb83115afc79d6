"""Request and response bodies of the call records (docs/cti.md): the event a CTI adapter posts, the call it
becomes, the 漏接回拨 result, and the connection KPIs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, field_validator

from civiclink.validation import InputModel
from civiclink.workorders.schemas import PHONE_RE

# What happens to a call, in the order a CTI reports it. ``offered``: the call reached the hotline's number;
# ``queued``: it waits for an agent (the wait is counted from here, else from offered); ``answered``: an agent
# took it; ``abandoned``: the caller hung up before anyone answered; ``transferred``: 一键转接 to ``target``
# (110, another line); ``conference_started``/``conference_ended``: 三方通话 with ``target``; ``hung_up``: the
# call ended (after an answer, or a transfer).
EVENT_KINDS = ("offered", "queued", "answered", "abandoned", "transferred", "conference_started",
               "conference_ended", "hung_up")
EventKind = Literal["offered", "queued", "answered", "abandoned", "transferred", "conference_started",
                    "conference_ended", "hung_up"]
MAX_EVENTS = 1000

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                        pattern=r"^[A-Za-z0-9._:\-]+$")]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


class CallEventIn(InputModel):
    call_id: Code = Field(description="CTI 的通话编号（同一通电话的所有事件相同）")
    type: EventKind = Field(description="事件：offered 呼入、queued 排队、answered 接听、abandoned 放弃、"
                                        "transferred 转接、conference_started/ended 三方通话、hung_up 挂机")
    at: AwareDatetime = Field(description="发生时间（带时区）")
    caller: str | None = Field(default=None, max_length=32, description="主叫号码")
    line: Short | None = Field(default=None, description="被叫热线号码，如 12345")
    agent: Code | None = Field(default=None, description="接听或转接的话务员用户名")
    team: Short | None = Field(default=None, description="班组或技能组，如 A")
    target: Short | None = Field(default=None, description="转接或三方通话的对象，如 110")
    order: Short | None = Field(default=None, description="由此通话登记的工单编号")
    incident: Short | None = Field(default=None, description="由此通话登记的警单编号")

    @field_validator("caller")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if not PHONE_RE.match(v):
            raise ValueError("主叫号码格式不正确")
        return v.replace(" ", "").replace("-", "")


class CallEventBatch(InputModel):
    events: list[CallEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class IngestRead(BaseModel):
    batch: str
    received: int
    recorded: int  # new events
    duplicates: int  # events already recorded (a resent batch)
    calls: int  # calls assembled again


class CallbackRead(BaseModel):
    state: str
    state_label: str
    at: datetime | None
    by: str | None
    note: str | None


class CallRead(BaseModel):
    id: int
    call_id: str
    version: int
    line: str | None
    caller: str | None  # masked unless the reader talks to callers
    offered_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: str
    outcome_label: str
    wait_seconds: float | None
    talk_seconds: float | None
    short_abandon: bool
    redial: bool
    agent: str | None
    team: str | None
    transferred_to: str | None
    conference_with: str | None
    order: str | None
    incident: str | None
    callback: CallbackRead | None


class CallPage(BaseModel):
    total: int
    items: list[CallRead]


class MissedCallbackIn(InputModel):
    version: int = Field(ge=1, description="读取时的版本号（并发修改时拒绝）")
    result: Literal["called_back", "unreachable", "not_needed"] = Field(
        description="called_back 已回拨、unreachable 未能联系、not_needed 无需回拨")
    note: str | None = Field(default=None, max_length=500, description="回拨情况")


class ConnectionRow(BaseModel):
    """The connection KPIs of one group (the whole period, an hour of the day, a day or a team)."""

    key: str | None
    label: str
    offered: int  # calls wanting a person: every call but those given up within short_abandon_seconds
    answered: int
    answered_in_target: int  # answered within answer_target_seconds
    abandoned: int
    short_abandons: int
    contacts: int  # calls wanting a person that are not a redial
    first_attempt_answered: int  # of those, answered
    connection_rate: float | None  # 接通率 = answered ÷ offered
    first_attempt_rate: float | None  # 一次接通率 = first_attempt_answered ÷ contacts
    target_rate: float | None  # 15秒接通率 = answered_in_target ÷ offered
    abandonment_rate: float | None  # abandoned ÷ offered
    average_answer_seconds: float | None  # ASA, over answered calls
    average_talk_seconds: float | None


class ConnectionKpisRead(BaseModel):
    start: date
    end: date
    answer_target_seconds: int
    redial_minutes: int
    short_abandon_seconds: int
    total: ConnectionRow
    by_hour: list[ConnectionRow]
    by_day: list[ConnectionRow]
    by_team: list[ConnectionRow]
    worst_24h: ConnectionRow | None  # the local day with the lowest 接通率 (GB/T 33358: ≥ 95 % in any 24 h)
