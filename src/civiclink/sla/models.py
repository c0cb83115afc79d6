"""Tables of the SLA domain: imported calendar years and the per-stage clocks of work orders."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civiclink.db import Base, UTCDateTime


class CalendarYear(Base):
    """A year whose official holiday schedule was imported (overrides the built-in data for that year)."""

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarDay(Base):
    """An exception day of an imported year: a holiday on a weekday, or a 调休 make-up workday on a weekend."""

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year", ondelete="CASCADE"), index=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100))


class StageClock(Base):
    """One stage clock (签收 / 办理 / 回访) of one dispatch round of a work order (R-608, R-1009).

    ``budget_seconds`` is measured on the clock's own axis: working-day seconds for limits in working days,
    wall-clock seconds for limits in hours. ``due_at``/``warn_at`` are kept up to date (NULL while paused or
    stopped) so that "which orders are yellow/red now" is an indexed query.
    """

    __table_args__ = (
        Index("ix_stage_clock_running_warn", "stopped_at", "paused_since", "warn_at"),
        Index("ix_stage_clock_order_stage", "order_id", "stage", "round"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer, default=1)
    calendar: Mapped[str] = mapped_column(String(8))  # "working" | "natural"
    limit_label: Mapped[str] = mapped_column(String(16))
    budget_seconds: Mapped[int] = mapped_column(Integer)
    extended_seconds: Mapped[int] = mapped_column(Integer, default=0)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    effective_start: Mapped[datetime] = mapped_column(UTCDateTime)
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pause_reason: Mapped[str | None] = mapped_column(String(200))
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)

    # Lets a clock be created with its order before the order has an id (one flush at commit).
    order = relationship("WorkOrder")
