"""Knowledge items (R-905): question variants, answer, owner, source document, validity dates, region."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class KnowledgeItem(Base):
    __tablename__ = "knowledge_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    # policy | procedure | which_number (话务引导) | boundary (12345/110 对接边界, R-905)
    kind: Mapped[str] = mapped_column(String(20))
    questions: Mapped[list] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    region_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    source: Mapped[str | None] = mapped_column(String(500))
    effective_from: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)  # first day it no longer applies
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_reason: Mapped[str | None] = mapped_column(String(500))
    used_count: Mapped[int] = mapped_column(Integer, default=0)  # 直接办结 that cited it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": version}
