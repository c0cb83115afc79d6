"""工单 (work order) tables: the order itself and the records of its dispatch rounds, extensions, replies,
callbacks and supervision (R-607: the sheet records the matter, the handling, 督办 and 回访)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civiclink.db import Base, UTCDateTime, utcnow
from civiclink.orgs.models import Category, OrgUnit


class Channel(StrEnum):
    PHONE = "phone"  # 电话
    WEBSITE = "website"  # 网站
    WECHAT = "wechat"  # 微信
    APP = "app"  # APP
    SMS = "sms"  # 短信
    EMAIL = "email"  # 邮件/信件
    POLICE_TRANSFER = "police_transfer"  # 110转入
    PROVINCIAL = "provincial"  # 省平台
    OPEN311 = "open311"  # 开放接口


INTERNET_CHANNELS = frozenset({Channel.WEBSITE, Channel.WECHAT, Channel.APP, Channel.EMAIL, Channel.OPEN311})


class RequestType(StrEnum):
    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议


class Urgency(StrEnum):
    NORMAL = "normal"  # 一般
    URGENT = "urgent"  # 紧急 (time-critical: 水电气热, R-608)
    EMERGENCY = "emergency"  # 特急 (danger to life or property: 110 first, R-203)


class Satisfaction(IntEnum):
    """The 5-level scale of R-506/R-611 (1 best)."""

    VERY_SATISFIED = 1
    SATISFIED = 2
    BASIC = 3
    UNSATISFIED = 4
    VERY_UNSATISFIED = 5


# 满意率 numerator (docs/kpi.md will state it): 非常满意 + 满意 + 一般(基本满意).
SATISFIED_LEVELS = frozenset({Satisfaction.VERY_SATISFIED, Satisfaction.SATISFIED, Satisfaction.BASIC})


class WorkOrder(Base):
    __table_args__ = (
        Index("ix_work_order_state_registered", "state", "registered_at"),
        Index("ix_work_order_handling_unit_state", "handling_unit_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(32))

    channel: Mapped[str] = mapped_column(String(20))
    request_type: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(12), default=Urgency.NORMAL)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)

    caller_name: Mapped[str | None] = mapped_column(String(64))
    caller_phone: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_confidential: Mapped[bool] = mapped_column(Boolean, default=False)

    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # a period's KPIs (docs/kpi.md)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    suggested_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    handling_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))

    dispatch_round: Mapped[int] = mapped_column(Integer, default=0)
    state_before: Mapped[str | None] = mapped_column(String(32))  # where a return or extension request came from
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_count: Mapped[int] = mapped_column(Integer, default=0)
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    supervise_count: Mapped[int] = mapped_column(Integer, default=0)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)  # 督办中
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)  # 子单 merged into this 主单
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    waiting_on_citizen: Mapped[bool] = mapped_column(Boolean, default=False)
    # Linked with 110 (a transfer record exists): the linkage engine hears about every move (反馈回写, R-503).
    linked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    joint_case_id: Mapped[int | None] = mapped_column(ForeignKey("joint_case.id"), index=True)

    intake_answer: Mapped[str | None] = mapped_column(Text)
    intake_knowledge_code: Mapped[str | None] = mapped_column(String(100))  # the item 直接办结 cited
    reply_content: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    callback_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    close_reason: Mapped[str | None] = mapped_column(String(500))

    source: Mapped[str] = mapped_column(String(16), default="api")  # api | cli | import | demo | exchange
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    import_batch: Mapped[str | None] = mapped_column(String(64), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    category: Mapped[Category | None] = relationship()
    place: Mapped[OrgUnit | None] = relationship(foreign_keys=[place_id])
    owner_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[owner_unit_id])
    handling_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[handling_unit_id])
    suggested_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[suggested_unit_id])
    merged_into: Mapped[WorkOrder | None] = relationship(remote_side=[id])

    # Optimistic concurrency: every UPDATE says "WHERE version = <what I read>" (two writers → one 409).
    __mapper_args__ = {"version_id_col": version}

    @property
    def audit_ref(self) -> str:
        return self.number


class Assignment(Base):
    """One dispatch round: to whom, when signed, whether returned (退单) and what was decided."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str | None] = mapped_column(String(500))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    return_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_reason: Mapped[str | None] = mapped_column(String(500))
    return_basis: Mapped[str | None] = mapped_column(String(500))
    return_decision: Mapped[str | None] = mapped_column(String(16))  # approved | rejected | redispatched
    return_decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    return_decision_note: Mapped[str | None] = mapped_column(String(500))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[OrgUnit] = relationship()


class Extension(Base):
    """延期 request (R-609): new limit, reason, legal basis; and the decision."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    extra: Mapped[str] = mapped_column(String(16))  # a limit such as "5wd"
    reason: Mapped[str] = mapped_column(String(500))
    basis: Mapped[str] = mapped_column(String(500))
    decision: Mapped[str | None] = mapped_column(String(16))  # approved | rejected | withdrawn
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decision_note: Mapped[str | None] = mapped_column(String(500))


class Reply(Base):
    """答复: the handling unit's reply, and the hotline's review of it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    replied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replied_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    content: Mapped[str] = mapped_column(Text)
    review: Mapped[str | None] = mapped_column(String(16))  # approved | rejected
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    review_note: Mapped[str | None] = mapped_column(String(500))


class Callback(Base):
    """回访 (R-611, R-506): method, result (a 5-level satisfaction, or unreachable) and notes."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    method: Mapped[str] = mapped_column(String(16))  # phone | sms | web
    reached: Mapped[bool] = mapped_column(Boolean)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    resolved: Mapped[bool | None] = mapped_column(Boolean)  # did the caller say the matter was solved
    note: Mapped[str | None] = mapped_column(String(1000))


class Supervision(Base):
    """催办 (reminder) or 督办 (formal supervision order) on an open order (R-610)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # urge | supervise
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    note: Mapped[str] = mapped_column(String(1000))
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)


class NumberCounter(Base):
    """Per-day sequence for work-order numbers such as NT20230129-000123."""

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
