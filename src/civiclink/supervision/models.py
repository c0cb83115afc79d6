"""What the sweep has already done, so that nothing is sent twice for one breach."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class SupervisionNotice(Base):
    """One thing the sweep did. ``key`` names the breach it answered (the clock that turned yellow or red, the
    caller or place that reached the repeat threshold with its newest 工单, the unit and the week): unique, so
    that a second sweep — or a second server process sweeping at the same moment — cannot do it again."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # urge | supervise | repeat_caller | repeat_place | unit_returns
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(500))
