"""警单 (incident): the police site's record of a matter it exchanges with 12345 (design §2, R-506 fields)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civiclink.db import Base, UTCDateTime, utcnow
from civiclink.orgs.models import OrgUnit


class Incident(Base):
    __table_args__ = (Index("ix_incident_state_received", "state", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # 接警单编号 (JJDBH)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # call (a 110 call) | push (from 12345)
    kind: Mapped[str] = mapped_column(String(20), default="call")  # transfer | emergency | stability_lead | escalation
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    stability_lead: Mapped[bool] = mapped_column(Boolean, default=False)  # 影响社会稳定的线索
    joint: Mapped[bool] = mapped_column(Boolean, default=False)  # has a 联合调处 case at 12345

    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    caller_name: Mapped[str | None] = mapped_column(String(64))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    caller_confidential: Mapped[bool] = mapped_column(Boolean, default=False)

    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a push is signed for by then
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    police_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))  # 处警单位
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 派警
    dispatched_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 到场
    situation: Mapped[str | None] = mapped_column(Text)  # 出警处置情况 (CJCZQK)
    result_note: Mapped[str | None] = mapped_column(Text)  # 处理结果说明 (JQCLJGSM)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    return_reason: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What 12345 wrote back for a matter transferred to it (its 工单 number, reply, 回访 satisfaction).
    hotline_number: Mapped[str | None] = mapped_column(String(32))
    hotline_result: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[int | None] = mapped_column(Integer)

    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    place: Mapped[OrgUnit | None] = relationship(foreign_keys=[place_id])
    police_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[police_unit_id])

    __mapper_args__ = {"version_id_col": version}

    @property
    def audit_ref(self) -> str:
        return self.number
