"""The base of every request body: text may not carry NUL characters.

PostgreSQL refuses NUL in text, and no legitimate hotline input contains one; refusing it at the edge gives
a clear 422 on both engines instead of a database error on one of them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator


def _check(value):
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("文本中不能包含空字符（\\u0000）")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check(k)
            _check(v)
    return value


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        return _check(value)
