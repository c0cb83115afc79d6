"""Linkage records (design §5): the transfer record of R-211, the 三方通话 record of R-202 and the 联合调处
case of R-307. Each site keeps its own; the two are tied by ``case_ref`` (the same on both sides)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class Transfer(Base):
    """转办记录 (R-211): one transfer of one matter between the two platforms, seen from this site.

    ``direction`` is ``out`` (this site offered it) or ``in`` (the peer offered it). The local record is a
    工单 (``order_id``) on a hotline site or a 警单 (``incident_id``) on a police site; ``remote_number`` is the
    other side's number once it is known (工单号 / 警单号 JJDBH).
    """

    __table_args__ = (Index("ix_transfer_state_sign_due_at", "state", "sign_due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(100), index=True)
    peer: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(4))  # out | in
    # transfer (对方受理范围) | emergency (R-203) | stability_lead (R-205) | escalation (R-206) | joint
    kind: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16))  # one_click | three_party | system_push
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    consent: Mapped[bool] = mapped_column(Boolean, default=True)  # caller agreed to the transfer
    transfer_count: Mapped[int] = mapped_column(Integer, default=1)  # of this matter, both ways
    first_receiver: Mapped[str] = mapped_column(String(64))  # the site that first received the matter (首接)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    local_number: Mapped[str | None] = mapped_column(String(32))
    remote_number: Mapped[str | None] = mapped_column(String(32))
    # offered → accepted → result (written back) → closed; or offered → rejected
    state: Mapped[str] = mapped_column(String(12))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    offered_by: Mapped[str | None] = mapped_column(String(100))  # "site:username 姓名"
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by: Mapped[str | None] = mapped_column(String(100))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    police_unit: Mapped[str | None] = mapped_column(String(100))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 反馈时间
    situation: Mapped[str | None] = mapped_column(Text)  # 出警处置情况 / 办理情况
    result_note: Mapped[str | None] = mapped_column(Text)  # 处理结果说明
    result_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # the 回访 result written back
    consultation_id: Mapped[int | None] = mapped_column(ForeignKey("consultation.id"))
    joint_case_id: Mapped[int | None] = mapped_column(ForeignKey("joint_case.id"))


class Consultation(Base):
    """三方通话 (R-202): the citizen, 12345 and 110 on one call to settle who takes the matter."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_ref: Mapped[str] = mapped_column(String(100), index=True)
    peer: Mapped[str] = mapped_column(String(64))
    initiated_here: Mapped[bool] = mapped_column(Boolean)
    first_receiver: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    local_number: Mapped[str | None] = mapped_column(String(32))
    remote_number: Mapped[str | None] = mapped_column(String(32))
    participants: Mapped[str] = mapped_column(Text)  # JSON list of {side, name, role}
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str | None] = mapped_column(String(100))
    summary: Mapped[str | None] = mapped_column(Text)
    # other_side (对方受理) | first_receiver (协商不成，首接兜底) | emergency (110 先行处置, R-203)
    outcome: Mapped[str | None] = mapped_column(String(16))
    agreed_site: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JointCase(Base):
    """联合调处 case (R-207, R-301, R-307): a parent with parts; kept on the hotline site, which coordinates."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    case_ref: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))  # open | awaiting_callback | closed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}

    @property
    def audit_ref(self) -> str:
        return self.number


class JointPart(Base):
    """One part (子单) of a joint case: the 110 part (a remote 警单) or a 12345 part (a local 工单)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    joint_case_id: Mapped[int] = mapped_column(ForeignKey("joint_case.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(8))  # police | hotline
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    remote_number: Mapped[str | None] = mapped_column(String(32))
    owner: Mapped[str] = mapped_column(String(200))  # the unit that owns the part
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)
