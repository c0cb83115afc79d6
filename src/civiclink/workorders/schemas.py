"""Pydantic schemas of the 工单 API: OrderCreate / OrderRead / OrderPage and one body per action."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from civiclink.analytics.reply_quality import ReplyCheckRead
from civiclink.config import Limit
from civiclink.validation import InputModel
from civiclink.workorders.models import Channel, RequestType, Satisfaction, Urgency
from civiclink.workorders.states import Action, State

Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{4,19}$")


class Caller(InputModel):

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None = None
    # GB/T 33358: if the caller asks, the order is handled confidentially.
    confidential: bool = False

    @field_validator("phone")
    @classmethod
    def _phone(cls, v):
        if v in (None, ""):
            return None
        if not PHONE_RE.match(v):
            raise ValueError("电话号码格式不正确")
        return v.replace(" ", "").replace("-", "")

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        return v or None


# Properties to receive on registration (登记).
class OrderCreate(InputModel):

    channel: Channel
    caller: Caller = Field(default_factory=Caller)
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8000)]
    request_type: RequestType
    category: str | None = Field(default=None, description="诉求分类编码，如 cxjs.wygl")
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] | None = None
    place: str | None = Field(default=None, description="属地单位编码；不填则按地址解析")
    urgency: Urgency = Urgency.NORMAL
    submit: bool = Field(default=True, description="登记后直接提交派单；false 则保存为已登记")
    intake_answer: LongText | None = Field(default=None, description="直接办结：话务员当场答复的内容（仅咨询类）")
    knowledge_item: str | None = Field(default=None, max_length=100,
                                       description="直接办结所依据的知识条目编码（R-902）")
    triage_id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="登记前取得的智能分诊建议编号（POST /api/triage）")


class ClockRead(BaseModel):
    stage: str
    round: int
    color: Literal["green", "yellow", "red", "paused", "done"]
    color_label: str
    used_share: float
    due_at: datetime | None
    limit: str
    provisional: bool
    breached: bool


class UnitRef(BaseModel):
    code: str
    name: str


class OrderSummary(BaseModel):
    number: str
    version: int
    state: State
    state_label: str
    channel: Channel
    request_type: RequestType
    urgency: Urgency
    title: str
    category: str | None
    category_name: str | None
    place: UnitRef | None
    handling_unit: UnitRef | None
    registered_at: datetime
    closed_at: datetime | None
    is_demo: bool
    clocks: list[ClockRead] = Field(default_factory=list)


class LinkSummary(BaseModel):
    case_ref: str
    direction: str  # out: 12345 → 110; in: 110 → 12345
    kind: str
    channel: str
    state: str
    remote_number: str | None  # the 警单号 (JJDBH)
    offered_at: datetime
    accepted_at: datetime | None
    police_unit: str | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    result_at: datetime | None
    situation: str | None  # 出警处置情况
    result_note: str | None  # 处理结果说明
    reject_reason: str | None


class OrderRead(OrderSummary):
    content: str
    address: str | None
    caller_name: str | None
    caller_phone: str | None
    caller_confidential: bool
    pii_masked: bool
    owner_unit: UnitRef | None
    suggested_unit: UnitRef | None
    dispatch_round: int
    return_count: int
    reopen_count: int
    extension_count: int
    urge_count: int
    supervise_count: int
    supervised: bool
    duplicate_count: int
    merged_into: str | None
    waiting_on_citizen: bool
    intake_answer: str | None
    intake_knowledge_item: str | None = None
    reply_content: str | None
    replied_at: datetime | None
    # The reply-quality check of reply_content (flags with reasons, a 0–1 score): for the roles that approve
    # replies and the replying unit; None for others and while there is no reply.
    reply_check: ReplyCheckRead | None = None
    satisfaction: Satisfaction | None
    close_reason: str | None
    # The 12345 ↔ 110 linkage (R-211, R-503): each transfer of this matter, with 110's status and result.
    links: list[LinkSummary] = []
    joint_case: str | None = None
    allowed_actions: list[Action]


class OrderPage(BaseModel):
    total: int
    items: list[OrderSummary]


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    action: str
    action_label: str
    actor: str
    actor_role: str | None
    actor_role_label: str | None
    actor_unit: str | None
    from_state: str | None
    to_state: str | None
    data: dict


class WarningRead(BaseModel):
    number: str
    title: str
    state: State
    state_label: str
    handling_unit: UnitRef | None
    stage: str
    stage_label: str
    color: Literal["yellow", "red"]
    due_at: datetime
    overdue_hours: float


# -- action bodies -------------------------------------------------------------------------------------------


class Versioned(InputModel):

    version: int = Field(description="您看到的工单版本；与当前版本不符时返回 409")


class NoteIn(Versioned):
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class ReasonIn(Versioned):
    reason: Text500


class CloseAtIntakeIn(Versioned):
    answer: LongText
    knowledge_item: str | None = Field(default=None, max_length=100, description="所依据的知识条目编码（R-902）")


class DispatchIn(Versioned):
    unit: str = Field(description="承办单位编码")
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None


class ReturnIn(Versioned):
    reason: Text500
    basis: Text500 = Field(description="法律/职责依据（R-612）")


class ProgressIn(Versioned):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ExtensionIn(Versioned):
    extra: str = Field(description="延长时限，如 5wd（5 个工作日）")
    reason: Text500
    basis: Text500

    @field_validator("extra")
    @classmethod
    def _limit(cls, v):
        return str(Limit.parse(v))


class PauseIn(Versioned):
    reason: Text500


class ReplyIn(Versioned):
    content: LongText


class CallbackIn(Versioned):
    method: Literal["phone", "sms", "web"] = "phone"
    reached: bool = True
    satisfaction: Satisfaction | None = None
    resolved: bool | None = None
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None

    @model_validator(mode="after")
    def _satisfaction_when_reached(self):
        if self.reached and self.satisfaction is None:
            raise ValueError("联系上市民时必须填写满意度（1–5）")
        if not self.reached and self.satisfaction is not None:
            raise ValueError("未联系上市民时不能填写满意度")
        return self


class MergeIn(Versioned):
    into: str = Field(description="主单编号")


class SupervisionIn(InputModel):

    version: int | None = Field(default=None, description="可选：催办/督办不依赖工单内容")
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


TransferChannel = Literal["one_click", "three_party", "system_push"]
ReasonCode = Literal["other_scope", "emergency_first", "internet_channel", "stability_lead", "escalation",
                     "joint_mediation", "consultation"]


class TransferIn(Versioned):
    """转110 (R-201 一键转接, R-204 系统推送, R-203 紧急)."""

    channel: TransferChannel | None = Field(default=None, description="不填：电话诉求为一键转接，其余为系统推送")
    reason_code: ReasonCode = "other_scope"
    reason: Text500
    consent: bool = Field(default=True, description="来电人同意转接（R-208）")
    emergency: bool = Field(default=False, description="危及人身、财产或公共安全：110 先行派警（R-203）")


class LeadIn(Versioned):
    """稳定线索 → 同级 110 (R-205)."""

    reason: Text500


class EscalateIn(Versioned):
    """承办单位提请 110 出警 (R-206)."""

    reason: Text500


ACTION_BODIES: dict[Action, type[BaseModel]] = {
    Action.SUBMIT: Versioned,
    Action.CLOSE_AT_INTAKE: CloseAtIntakeIn,
    Action.DISPATCH: DispatchIn,
    Action.SIGN: NoteIn,
    Action.RETURN: ReturnIn,
    Action.APPROVE_RETURN: NoteIn,
    Action.REJECT_RETURN: ReasonIn,
    Action.PROGRESS: ProgressIn,
    Action.REQUEST_EXTENSION: ExtensionIn,
    Action.APPROVE_EXTENSION: NoteIn,
    Action.REJECT_EXTENSION: ReasonIn,
    Action.PAUSE: PauseIn,
    Action.RESUME: NoteIn,
    Action.REPLY: ReplyIn,
    Action.APPROVE_REPLY: NoteIn,
    Action.REJECT_REPLY: ReasonIn,
    Action.CALLBACK: CallbackIn,
    Action.CLOSE: ReasonIn,
    Action.REOPEN: ReasonIn,
    Action.MERGE: MergeIn,
    Action.URGE: SupervisionIn,
    Action.SUPERVISE: SupervisionIn,
    Action.TRANSFER_TO_110: TransferIn,
    Action.REPORT_TO_110: LeadIn,
    Action.ESCALATE_TO_110: EscalateIn,
    Action.ACCEPT_TRANSFER: NoteIn,
    Action.REJECT_TRANSFER: ReasonIn,
}
