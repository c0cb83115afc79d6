"""The KPI roll-up (docs/kpi.md, "Pre-aggregation"): per finished local day — and per finished month — the
numerators and denominators of every KPI, site-wide, per district (属地 at 区/县 level) and per handling unit.

Derived data, like a cache: rebuilt from the 工单, clocks, rounds and 回访 at any time (``civiclink analytics
rollup --rebuild``), never edited by anyone, so its writes are not audit events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class KpiRollup(Base):
    """One KPI's counts for one period, one grain member and one key (channel, category id, request type or 满意度
    level; '' for none). ``grain``: site (member 0), district (member: the county-level unit's id, -1 unknown) or
    unit (member: the handling unit's id, -1 none)."""

    __table_args__ = (
        UniqueConstraint("period", "day", "grain", "member", "metric", "key"),
        Index("ix_kpi_rollup_read", "metric", "grain", "period", "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    period: Mapped[str] = mapped_column(String(5))  # day | month
    day: Mapped[date] = mapped_column(Date)  # the local day, or the first day of the month
    grain: Mapped[str] = mapped_column(String(8))
    member: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(24))
    key: Mapped[str] = mapped_column(String(64), default="")
    n: Mapped[int] = mapped_column(BigInteger, default=0)  # numerator
    d: Mapped[int] = mapped_column(BigInteger, default=0)  # denominator (or count)
    s: Mapped[float] = mapped_column(Float, default=0.0)  # a sum (seconds of handling)


class KpiRollupPeriod(Base):
    """A period whose roll-up rows are complete. A period without this row is read from the base tables; a change
    that reaches back into a built period removes its row (and its month's) until it is built again."""

    period: Mapped[str] = mapped_column(String(5), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


class KpiRollupMark(Base):
    """How far the roll-up has looked at the audit chain for changes (one row, id 1)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
