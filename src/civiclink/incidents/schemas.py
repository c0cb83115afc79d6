"""Bodies and read models of the 警单 API (police site)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from civiclink.incidents.states import IncidentAction
from civiclink.validation import InputModel
from civiclink.workorders.schemas import Caller

Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
OptionalNote = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None


class IncidentCreate(InputModel):
    """接警登记: a call to 110."""

    caller: Caller = Field(default_factory=Caller)
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    content: LongText
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    emergency: bool = False


class IncidentVersioned(InputModel):
    version: int = Field(description="您看到的警单版本；与当前版本不符时返回 409")


class IncidentNoteIn(IncidentVersioned):
    note: OptionalNote = None


class IncidentReasonIn(IncidentVersioned):
    reason: Text500


class PoliceDispatchIn(IncidentVersioned):
    unit: str | None = Field(default=None, description="处警单位编码；不填按属地选派出所/分局")
    note: OptionalNote = None


class FinishIn(IncidentVersioned):
    situation: LongText = Field(description="出警处置情况（CJCZQK）")
    result_note: LongText = Field(description="处理结果说明（JQCLJGSM）")


class IncidentTransferIn(IncidentVersioned):
    """转12345: a non-police matter (双非), or the administrative part of a dispute (联合调处, R-207)."""

    channel: Literal["one_click", "three_party", "system_push"] = "system_push"
    reason_code: Literal["other_scope", "joint_mediation", "consultation", "internet_channel"] = "other_scope"
    reason: Text500
    consent: bool = True
    request_type: Literal["consultation", "help", "complaint", "report", "suggestion"] = "help"


INCIDENT_ACTION_BODIES: dict[IncidentAction, type[BaseModel]] = {
    IncidentAction.SIGN: IncidentNoteIn,
    IncidentAction.RETURN: IncidentReasonIn,
    IncidentAction.DISPATCH: PoliceDispatchIn,
    IncidentAction.ARRIVE: IncidentNoteIn,
    IncidentAction.FINISH: FinishIn,
    IncidentAction.TRANSFER_TO_12345: IncidentTransferIn,
    IncidentAction.JOINT_TO_12345: IncidentTransferIn,
}


class IncidentRead(BaseModel):
    number: str
    version: int
    state: str
    state_label: str
    source: str
    kind: str
    emergency: bool
    stability_lead: bool
    joint: bool
    title: str
    content: str
    address: str | None
    place: str | None
    caller_name: str | None
    caller_phone: str | None
    caller_confidential: bool
    received_at: datetime
    sign_due_at: datetime | None
    sign_overdue: bool
    signed_at: datetime | None
    police_unit: str | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    situation: str | None
    result_note: str | None
    finished_at: datetime | None
    return_reason: str | None
    closed_at: datetime | None
    hotline_number: str | None
    hotline_result: str | None
    satisfaction: int | None
    case_ref: str | None
    allowed_actions: list[str]


class IncidentPage(BaseModel):
    total: int
    items: list[IncidentRead]
