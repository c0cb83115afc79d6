"""The city's org tree (市 → 区/县(市) → 镇/街道 → 村/社区, plus departments), categories, users and tokens.

Units and categories are never deleted: a re-import that no longer lists one marks it inactive with
``valid_to``, so old work orders keep pointing at the unit they were handled by (cf. MapIt generations:
港闸区 became part of 崇川区 in 2020 and old addresses must still resolve).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civiclink.db import Base, UTCDateTime, utcnow

UNIT_KINDS = (
    "city",
    "district",
    "county",
    "county_city",
    "zone",
    "street",
    "town",
    "community",
    "village",
    "department",
    "hotline_center",
    "police",
)
# Units that are a 属地 (a place a matter can be in) rather than a functional department.
PLACE_KINDS = frozenset({"city", "district", "county", "county_city", "zone", "street", "town", "community", "village"})
COUNTY_LEVEL_KINDS = frozenset({"district", "county", "county_city", "zone"})


class OrgUnit(Base):
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str | None] = mapped_column(String(200))
    short_name: Mapped[str | None] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), default="/", index=True)  # "/1/5/23/": ancestors and self
    depth: Mapped[int] = mapped_column(Integer, default=0)
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    roads: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])

    @property
    def label(self) -> str:
        return self.full_name or self.name

    @property
    def audit_ref(self) -> str:
        return self.code

    def is_place(self) -> bool:
        return self.kind in PLACE_KINDS

    def ancestor_ids(self) -> list[int]:
        return [int(x) for x in self.path.strip("/").split("/") if x]


class Category(Base):
    """诉求分类, two levels. ``owner_unit_id`` is the department of the 派单目录 (R-603); ``local`` means the
    matter goes to the government of its place (属地) instead."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"), index=True)
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    parent: Mapped[Category | None] = relationship(remote_side=[id])

    @property
    def path_name(self) -> str:
        return f"{self.parent.name}/{self.name}" if self.parent else self.name

    @property
    def audit_ref(self) -> str:
        return self.code


class User(Base):
    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    unit: Mapped[OrgUnit | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def audit_ref(self) -> str:
        return self.username


class ApiToken(Base):
    """A bearer token. Only a keyed hash of the token is stored; the token itself is shown once."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="login")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
