"""Watched topics (专题) and the daily reports kept for them (专题日报, R-807)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class ReportTopic(Base):
    """A topic watched in a season window, such as 欠薪 from 1 January to 18 February (R-807 [LOC-温州]): its
    工单 are those of its categories (a first-level category with its children) or holding one of its keywords."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    categories: Mapped[list] = mapped_column(JSON, default=list)  # category codes
    season_start: Mapped[date] = mapped_column(Date)
    season_end: Mapped[date] = mapped_column(Date)  # included
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TopicDayReport(Base):
    """One topic's report for one local day: how many of its 工单 were registered that day (0: 零报告). Unique per
    topic and day, so that the daily task — in however many server processes — keeps one report per day; an
    on-demand generation of a day already reported counts again and raises ``revision``."""

    __table_args__ = (UniqueConstraint("topic_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("report_topic.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer)
    orders: Mapped[list] = mapped_column(JSON, default=list)  # the 工单 numbers (at most ORDER_LIST_LIMIT)
    trigger: Mapped[str] = mapped_column(String(10))  # daily | demand
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    generated_by: Mapped[str] = mapped_column(String(64))  # "system" or the user who asked
    revision: Mapped[int] = mapped_column(Integer, default=1)

    @property
    def zero(self) -> bool:
        """零报告: the day had none of the topic's 工单 (reported all the same)."""
        return self.count == 0
