"""Triage schemas: ``TriageIn`` (one request) and ``TriageDecisionIn`` in; ``TriageRead`` out."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from civiclink.validation import InputModel

Route = Literal["12345", "110", "joint", "ambiguous", "not_accepted"]


class TriageIn(InputModel):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)] = Field(
        description="诉求内容（来电记录或网上留言）")
    title: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    channel: str | None = Field(default=None, max_length=20)
    caller_phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = Field(
        default=None, description="来电号码：只用于查找同一来电人的重复诉求，不保存")
    record: bool = Field(default=True, description="保存这条建议（登记时以 triage_id 引用）；边输入边预览时传 false")


class TriageDecisionIn(InputModel):
    """The route the operator chose when no 工单 records it (一键转接 to 110, 三方通话, 告知其他渠道)."""

    route: Route
    order: str | None = Field(default=None, max_length=32, description="转办所依托的工单号（如一键转接的工单）")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class TriageRead(BaseModel):
    id: int | None = Field(description="建议编号；登记工单时作为 triage_id 提交，用于记录话务员的确认或修改")
    route: Route
    urgency: Literal["emergency", "urgent", "normal"]
    request_type: Literal["consultation", "help", "complaint", "report", "suggestion"]
    category: dict | None
    department: dict | None
    place: dict | None
    confidence: dict
    cues: list[dict]
    reason: str
    labels: dict
    channel: str | None = None
    also_call: list[str] = Field(default_factory=list)
    duplicates: list[dict]
    repeat: dict
    knowledge: list[dict]
    model: str
