"""Pydantic schemas of the org domain: the org file an administrator edits, and the API's read/write shapes."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from civiclink.orgs.models import UNIT_KINDS
from civiclink.orgs.roles import Role
from civiclink.validation import InputModel

UnitKind = Literal[UNIT_KINDS]  # type: ignore[valid-type]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w.\-]+$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# -- the org file (YAML or CSV) ------------------------------------------------------------------------------


class OrgFileUnit(InputModel):

    code: Code
    name: Name
    kind: UnitKind
    full_name: str | None = None
    short_name: str | None = None
    aliases: list[str] = Field(default_factory=list)
    roads: list[str] = Field(default_factory=list)
    valid_from: date | None = None
    children: list[OrgFileUnit] = Field(default_factory=list)

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, v):
        return str(v)  # YAML reads 320613 as an int


class OrgFileCategory(InputModel):

    code: Code
    name: Name
    owner: str | None = None  # a unit code, or "属地" for the local government of the place

    @field_validator("owner", mode="before")
    @classmethod
    def _owner_as_text(cls, v):
        return None if v is None else str(v)  # YAML reads an unquoted 320613 as a number
    keywords: list[str] = Field(default_factory=list)
    children: list[OrgFileCategory] = Field(default_factory=list)


class OrgFileCity(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str | None = None
    name: str | None = None


class OrgFile(InputModel):

    city: OrgFileCity | None = None
    categories: list[OrgFileCategory] | None = None
    units: list[OrgFileUnit] | None = None

    @classmethod
    def from_csv(cls, text: str) -> OrgFile:
        """A flat unit list: code,name,kind,parent_code[,full_name,short_name,aliases,roads] (lists split by |)."""
        reader = csv.DictReader(io.StringIO(text))
        required = {"code", "name", "kind", "parent_code"}
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"CSV 缺少列：{', '.join(sorted(missing))}")
        nodes: dict[str, dict] = {}
        parents: dict[str, str] = {}
        order: list[str] = []
        for row in reader:
            line = reader.line_num
            code = (row.get("code") or "").strip()
            if not code:
                raise ValueError(f"第 {line} 行：code 为空")
            if code in nodes:
                raise ValueError(f"第 {line} 行：单位编码 {code} 重复")

            def split(key, row=row):
                return [x.strip() for x in (row.get(key) or "").split("|") if x.strip()]

            nodes[code] = {
                "code": code,
                "name": (row.get("name") or "").strip(),
                "kind": (row.get("kind") or "").strip(),
                "full_name": (row.get("full_name") or "").strip() or None,
                "short_name": (row.get("short_name") or "").strip() or None,
                "aliases": split("aliases"),
                "roads": split("roads"),
                "children": [],
            }
            parent = (row.get("parent_code") or "").strip()
            if parent:
                parents[code] = parent
            order.append(code)
        roots = []
        for code in order:
            parent = parents.get(code)
            if parent is None:
                roots.append(nodes[code])
            elif parent not in nodes:
                raise ValueError(f"单位 {code} 的上级 {parent} 不在文件中")
            else:
                nodes[parent]["children"].append(nodes[code])
        reachable: set[str] = set()
        stack = list(roots)
        while stack:
            node = stack.pop()
            reachable.add(node["code"])
            stack.extend(node["children"])
        cut_off = [code for code in order if code not in reachable]
        if cut_off:
            raise ValueError(f"单位 {', '.join(cut_off[:5])} 的上级关系形成循环（不在任何顶层单位之下）")
        return cls.model_validate({"units": roots})


# -- API shapes ----------------------------------------------------------------------------------------------


class UnitRead(BaseModel):
    code: str
    name: str
    full_name: str | None
    short_name: str | None
    kind: str
    parent_code: str | None
    active: bool
    aliases: list[str]


class UnitTree(UnitRead):
    children: list[UnitTree] = Field(default_factory=list)


class CategoryRead(BaseModel):
    code: str
    name: str
    path_name: str
    parent_code: str | None
    owner_unit_code: str | None
    local: bool
    active: bool


class OrgImportReport(BaseModel):
    units_created: int = 0
    units_updated: int = 0
    units_deactivated: int = 0
    categories_created: int = 0
    categories_updated: int = 0
    categories_deactivated: int = 0

    @property
    def changed(self) -> bool:
        return any(self.model_dump().values())


# Properties to receive when an administrator creates a user.
class UserCreate(InputModel):

    username: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[\w.\-]+$")]
    display_name: Name
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)]
    roles: list[Role] = Field(min_length=1)
    unit_code: str | None = None


# Properties an administrator may change (all optional); ``version`` guards concurrent edits.
class UserUpdate(InputModel):

    version: int
    display_name: Name | None = None
    password: Annotated[str, StringConstraints(min_length=8, max_length=200)] | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    unit_code: str | None = None
    active: bool | None = None


class UserRead(BaseModel):
    username: str
    display_name: str
    roles: list[Role]
    unit_code: str | None
    unit_name: str | None
    active: bool
    version: int


class TokenRead(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: UserRead
