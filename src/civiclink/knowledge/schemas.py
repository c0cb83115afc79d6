"""Knowledge item schemas: ``ItemCreate`` / ``ItemUpdate`` / ``ItemRetire`` in, ``ItemRead`` / ``KnowledgeHit`` out."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, StringConstraints, model_validator

from civiclink.validation import InputModel

Kind = Literal["policy", "procedure", "which_number", "boundary"]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Answer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=100, pattern=r"^[a-z0-9_.\-]+$")]


class ItemFields(InputModel):
    title: Short
    kind: Kind = "policy"
    questions: list[Short] = Field(default_factory=list, max_length=30, description="来电人的不同问法")
    answer: Answer
    keywords: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]] = Field(
        default_factory=list, max_length=30)
    owner: str | None = Field(default=None, description="责任单位编码")
    region: str | None = Field(default=None, description="适用地区（单位编码）；不填为全市")
    source: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = Field(
        default=None, description="政策依据：文件名称与文号")
    effective_from: date
    expires_on: date | None = Field(default=None, description="失效日（当日起不再适用）")

    @model_validator(mode="after")
    def _dates(self):
        if self.expires_on is not None and self.expires_on <= self.effective_from:
            raise ValueError("失效日期必须晚于生效日期")
        return self


class ItemCreate(ItemFields):
    code: Code


class ItemUpdate(ItemFields):
    version: int = Field(description="读取时的版本号；被他人修改过则拒绝（409）")


class ItemRetire(InputModel):
    version: int
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ItemFile(InputModel):
    """A YAML file of items (``civiclink knowledge load``)."""

    items: list[ItemCreate]


STARTER_FILE = Path(__file__).resolve().parent / "data" / "nantong.yaml"


def read_item_file(path: Path) -> list[ItemCreate]:
    """Items of a YAML file; a bad file raises pydantic's ValidationError or yaml's YAMLError."""
    return ItemFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items


class ItemRead(BaseModel):
    code: str
    version: int
    title: str
    kind: str
    questions: list[str]
    answer: str
    keywords: list[str]
    owner: str | None
    owner_name: str | None
    region: str | None
    region_name: str | None
    source: str | None
    effective_from: date
    expires_on: date | None
    status: Literal["valid", "not_yet_valid", "expired", "retired"]
    retired_reason: str | None
    used_count: int


class KnowledgeHit(BaseModel):
    code: str
    title: str
    kind: str
    answer: str
    source: str | None
    owner: str | None
    owner_name: str | None
    confidence: float
