"""Bodies and read models of the linkage API (transfers, 三方通话, 联合调处)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from civiclink.validation import InputModel
from civiclink.workorders.models import Satisfaction

Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
OptionalNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None


class TransferRead(BaseModel):
    id: int
    case_ref: str
    peer: str
    direction: str
    kind: str
    kind_label: str
    channel: str
    channel_label: str
    reason_code: str
    reason: str | None
    consent: bool
    transfer_count: int
    first_receiver: str
    local_number: str | None
    remote_number: str | None
    state: str
    state_label: str
    offered_at: datetime
    offered_by: str | None
    sign_due_at: datetime | None
    sign_overdue: bool
    accepted_at: datetime | None
    accepted_by: str | None
    rejected_at: datetime | None
    reject_reason: str | None
    police_unit: str | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    result_at: datetime | None
    situation: str | None
    result_note: str | None
    result_by: str | None
    closed_at: datetime | None
    satisfaction: int | None
    joint_case: str | None = None


class Participant(InputModel):
    side: Literal["citizen", "hotline", "police"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ConsultationOpen(InputModel):
    """三方通话 (R-202): on a 工单 (12345 site) or a 警单 (110 site)."""

    number: str = Field(description="本站的工单号或警单号")
    participants: list[Participant] = Field(min_length=2, max_length=10)
    summary: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class ConsultationConclude(InputModel):
    outcome: Literal["other_side", "first_receiver"]
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=400)] | None = None
    reason: Text500 = "三方通话协商结果"
    consent: bool = True


class ConsultationRead(BaseModel):
    id: int
    case_ref: str
    peer: str
    initiated_here: bool
    first_receiver: str
    local_number: str | None
    remote_number: str | None
    participants: list[dict]
    opened_at: datetime
    opened_by: str | None
    summary: str | None
    outcome: str | None
    outcome_label: str | None
    agreed_site: str | None
    note: str | None
    closed_at: datetime | None


class JointPartIn(InputModel):
    """Another 12345 part of a 联合调处 case: a 工单 for one more unit (属地政府 or a department)."""

    unit: str = Field(description="承办单位编码")
    note: OptionalNote = None


class JointCallbackIn(InputModel):
    version: int
    reached: bool = True
    satisfaction: Satisfaction | None = None
    note: OptionalNote = None


class JointPartRead(BaseModel):
    side: str
    order_number: str | None
    order_state: str | None
    remote_number: str | None
    owner: str
    due_at: datetime | None
    done: bool
    done_at: datetime | None
    result: str | None


class JointCaseRead(BaseModel):
    number: str
    version: int
    case_ref: str
    title: str
    state: str
    state_label: str
    opened_at: datetime
    due_at: datetime | None
    callback_at: datetime | None
    satisfaction: int | None
    closed_at: datetime | None
    parts: list[JointPartRead]


class CaseRead(BaseModel):
    """Everything this site knows of one cross-site case, with its timeline (全程可溯)."""

    case_ref: str
    transfers: list[TransferRead]
    consultations: list[ConsultationRead]
    joint_case: JointCaseRead | None
    timeline: list[dict]
