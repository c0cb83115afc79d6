"""The console's message catalogue (zh-CN): every word a page shows comes from the files in messages.zh-CN/.

One catalogue in several files (one per area of the console: common, orders, desk, dashboard, admin) so that
wording is found next to its neighbours; a key defined twice is an error, caught by the tests.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CATALOGUE_DIR = Path(__file__).resolve().parent / "messages.zh-CN"


def catalogue_files() -> list[Path]:
    return sorted(CATALOGUE_DIR.glob("*.yaml"))


@lru_cache(maxsize=1)
def messages() -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in catalogue_files():
        for key, value in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if str(key) in merged:
                raise ValueError(f"{path.name}: message key {key!r} is defined twice")
            merged[str(key)] = str(value)
    return merged


def t(key: str, **values) -> str:
    """The text for ``key``; a missing key shows itself (visible in review, never a crash)."""
    text = messages().get(key, key)
    return text.format(**values) if values else text
