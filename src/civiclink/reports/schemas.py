"""Request bodies of the report routes (watched topics)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field, field_validator, model_validator

KEYWORD_LIMIT = 20


def _clean_words(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        word = str(value).strip()
        if not word:
            continue
        if len(word) > 30:
            raise ValueError(f"关键词“{word[:10]}…”过长（最多 30 字）")
        if word not in out:
            out.append(word)
    if len(out) > KEYWORD_LIMIT:
        raise ValueError(f"最多 {KEYWORD_LIMIT} 个")
    return out


class TopicCreate(BaseModel):
    """A topic to watch: its 工单 are those in one of ``categories`` (with the categories under them) or whose title
    or content holds one of ``keywords``; reported every day of ``season_start``..``season_end``."""

    name: str = Field(min_length=1, max_length=60, description="专题名称，如“欠薪”")
    keywords: list[str] = Field(default_factory=list, description="关键词（标题或内容包含其一即计入）")
    categories: list[str] = Field(default_factory=list, description="诉求分类编码（含其下级分类）")
    season_start: date = Field(description="专题期开始日（含）")
    season_end: date = Field(description="专题期结束日（含）")
    active: bool = True

    _words = field_validator("keywords", "categories")(_clean_words)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("专题名称不能为空")
        return v

    @model_validator(mode="after")
    def _check(self):
        if not self.keywords and not self.categories:
            raise ValueError("关键词和诉求分类至少填写一项")
        if not (date(2000, 1, 1) <= self.season_start and self.season_end <= date(2099, 12, 31)):
            raise ValueError("专题期须在 2000 年至 2099 年之间")
        if self.season_end < self.season_start:
            raise ValueError("专题期结束日不能早于开始日")
        if (self.season_end - self.season_start).days >= 366:
            raise ValueError("专题期最长 366 天")
        return self


class TopicUpdate(BaseModel):
    """Change a topic: any of its fields; what is left out stays."""

    name: str | None = Field(default=None, min_length=1, max_length=60)
    keywords: list[str] | None = None
    categories: list[str] | None = None
    season_start: date | None = None
    season_end: date | None = None
    active: bool | None = None

    _words = field_validator("keywords", "categories")(_clean_words)
