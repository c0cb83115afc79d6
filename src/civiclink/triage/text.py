"""Text helpers shared by triage and the knowledge base: normalisation and jieba set up offline."""

from __future__ import annotations

import re
import threading
from pathlib import Path

# The source texts carry layout padding (tabs, ideographic spaces, NBSP, markdown stars): none of it means
# anything, and the contest data's own preprocessing removed the same characters.
_SPACE = re.compile(r"[\s\u3000\xa0*]+")
_jieba_lock = threading.Lock()
_jieba = None
_cache_dir: Path | None = None


def set_cache_dir(path: Path) -> None:
    """Where jieba keeps its dictionary cache (set once from the settings, before the first tokenisation)."""
    global _cache_dir
    _cache_dir = path


def normalize(text: str | None) -> str:
    return _SPACE.sub("", text or "")


def jieba_tokenizer():
    """jieba's default tokenizer, initialised once per process.

    jieba writes its dictionary cache into the temp dir on first use (stack.md §2): it goes to
    the configured cache dir instead, so that a read-only /tmp or several users do not matter.
    """
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            if _cache_dir is not None:
                try:
                    _cache_dir.mkdir(parents=True, exist_ok=True)
                    tokenizer.tmp_dir = str(_cache_dir)
                except OSError:
                    pass  # jieba falls back to the temp dir
            tokenizer.initialize()
            _jieba = tokenizer
        return _jieba


def words(text: str) -> list[str]:
    """Search-engine style tokens (long words also give their parts), lower-cased, punctuation dropped."""
    tok = jieba_tokenizer()
    return [w.lower() for w in tok.cut_for_search(text, HMM=False) if w.strip() and not _PUNCT.fullmatch(w)]


_PUNCT = re.compile(r"[\W_]+")
