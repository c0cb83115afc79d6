"""What triage suggested and what the operator decided (design §7: overrides are kept as training data)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from civiclink.db import Base, UTCDateTime


class TriageRecord(Base):
    """One suggestion shown to an operator, and — once the request was registered or routed — the decision.

    No caller data and no request text is kept here: the text lives in the 工单 it produced (``order_id``);
    a suggestion that never became an order keeps only its fingerprint (``text_digest``).
    """

    __tablename__ = "triage_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    text_digest: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64))
    suggestion: Mapped[dict] = mapped_column(JSON)  # route, urgency, request_type, category, department, place
    order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    decision: Mapped[dict | None] = mapped_column(JSON)  # the same keys: what the operator chose
    overridden: Mapped[list] = mapped_column(JSON, default=list)  # keys where decision ≠ suggestion
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    used_in_training: Mapped[bool] = mapped_column(Boolean, default=False)
