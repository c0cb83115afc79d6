"""The console's message catalogue (zh-CN): every word a page shows comes from messages.zh-CN.yaml."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parent / "messages.zh-CN.yaml"


@lru_cache(maxsize=1)
def messages() -> dict[str, str]:
    return {str(k): str(v) for k, v in yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")).items()}


def t(key: str, **values) -> str:
    """The text for ``key``; a missing key shows itself (visible in review, never a crash)."""
    text = messages().get(key, key)
    return text.format(**values) if values else text
