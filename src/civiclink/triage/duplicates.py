"""Possible duplicates of a new request (并单 candidates, R-603 / R-1008) and repeat counts (R-1004).

Candidates come from three places: the same caller's orders in the window (the phone number is indexed), orders
of the same 属地 and category in the last days, and orders whose text is close — found through MinHash LSH
over character 2-grams, kept in memory in sorted numpy arrays so a year of orders (≈ 900 k at the seed's
2,361 a day) costs tens of megabytes and a lookup stays in the sub-millisecond range. Each candidate then gets
a score that weighs text similarity with the structured keys; the caller sees the best few with the reasons.
"""

from __future__ import annotations

import threading
import time
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civiclink.triage.text import normalize

BANDS, ROWS = 12, 3  # 36 hash functions; two texts with 2-gram Jaccard 0.4 meet in ≥ 1 band with p ≈ 0.55
PERMUTATIONS = BANDS * ROWS
_rng = np.random.default_rng(20260)
# Multiply-shift hashing (Dietzfelbinger): ((a·x + b) mod 2^64) >> 32 with a random odd a. The high half of
# the wrapped product mixes every bit of x; a·x + b mod a prime just above the products would keep the order of
# x almost intact and make the 36 "permutations" pick the same minimum.
_A = _rng.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _rng.integers(0, 1 << 63, PERMUTATIONS, dtype=np.uint64)
_SHIFT = np.uint64(32)
_BAND_MIX = np.array([1, 1_000_003, 998_244_353], dtype=np.uint64)[:ROWS]
TEXT_CHARS = 400  # the start of a request says what it is about; long tails only add noise and time


def shingles(text: str) -> set[str]:
    text = normalize(text)[:TEXT_CHARS]
    return {text[i : i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def signature(grams: set[str]) -> np.ndarray | None:
    if not grams:
        return None
    h = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))
    with np.errstate(over="ignore"):  # the wrap-around is the point
        return ((np.outer(_A, h) + _B[:, None]) >> _SHIFT).min(axis=1)


def band_keys(sig: np.ndarray) -> np.ndarray:
    """One 64-bit key per band; the band number is mixed in so bands never collide with each other."""
    rows = sig.reshape(BANDS, ROWS)
    keys = (rows * _BAND_MIX).sum(axis=1) * np.uint64(0x9E3779B97F4A7C15)
    return keys ^ np.arange(BANDS, dtype=np.uint64)


def similarity(a: str, b: str) -> float:
    """Text similarity in [0, 1]: the mean of character 1-gram and 2-gram Jaccard (measured on BQ and on the
    Teddy repeat postings in bench/triage.py). Cheap enough to score a few dozen candidates per request."""
    return Similarity(a).to(b)


class Similarity:
    """``similarity`` with the query's character sets built once, for scoring many candidates against it."""

    def __init__(self, query: str):
        self.text = normalize(query)[:TEXT_CHARS]
        self.chars = set(self.text)
        self.pairs = {self.text[i : i + 2] for i in range(len(self.text) - 1)}

    def to(self, other: str) -> float:
        b = normalize(other)[:TEXT_CHARS]
        if not self.text or not b:
            return 0.0
        u2 = set(b)
        g2 = {b[i : i + 2] for i in range(len(b) - 1)}
        j1 = len(self.chars & u2) / len(self.chars | u2)
        j2 = len(self.pairs & g2) / len(self.pairs | g2) if self.pairs and g2 else j1
        return (j1 + j2) / 2


class LshIndex:
    """Order ids by LSH band key. New entries go to a small dict; it is folded into the sorted arrays when it
    grows, so adding is O(1) and a lookup is a binary search plus a dict probe."""

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.uint64)
        self._ids = np.zeros(0, dtype=np.int64)
        self._pending: dict[int, list[int]] = {}
        self._pending_count = 0
        self.size = 0

    def add(self, order_id: int, keys: np.ndarray) -> None:
        for k in keys.tolist():
            self._pending.setdefault(k, []).append(order_id)
        self._pending_count += len(keys)
        self.size += 1
        if self._pending_count > 50_000:
            self._fold()

    def add_many(self, ids: np.ndarray, keys: np.ndarray) -> None:
        """Many orders at once: ``keys`` has one row of band keys per id."""
        if not len(ids):
            return
        all_keys = np.concatenate([self._keys, keys.reshape(-1)])
        all_ids = np.concatenate([self._ids, np.repeat(np.asarray(ids, dtype=np.int64), BANDS)])
        order = np.argsort(all_keys, kind="stable")
        self._keys, self._ids = all_keys[order], all_ids[order]
        self.size += len(ids)

    def _fold(self) -> None:
        keys = np.fromiter((k for k, ids in self._pending.items() for _ in ids), dtype=np.uint64)
        ids = np.fromiter((i for v in self._pending.values() for i in v), dtype=np.int64)
        all_keys, all_ids = np.concatenate([self._keys, keys]), np.concatenate([self._ids, ids])
        order = np.argsort(all_keys, kind="stable")
        self._keys, self._ids = all_keys[order], all_ids[order]
        self._pending.clear()
        self._pending_count = 0

    def remove_below(self, min_id: int) -> None:
        """Forget orders older than the window (ids are assigned in registration order)."""
        keep = self._ids >= min_id
        self._keys, self._ids = self._keys[keep], self._ids[keep]
        self._pending = {k: [i for i in v if i >= min_id] for k, v in self._pending.items()}

    def query(self, keys: np.ndarray) -> dict[int, int]:
        """Candidate order id → number of bands shared."""
        hits: dict[int, int] = {}
        lo = np.searchsorted(self._keys, keys, side="left")
        hi = np.searchsorted(self._keys, keys, side="right")
        for k, a, b in zip(keys.tolist(), lo.tolist(), hi.tolist(), strict=True):
            for oid in self._ids[a:b].tolist():
                hits[oid] = hits.get(oid, 0) + 1
            for oid in self._pending.get(k, ()):
                hits[oid] = hits.get(oid, 0) + 1
        return hits


@dataclass
class Candidate:
    order_id: int
    number: str
    title: str
    state: str
    registered_at: datetime
    score: float
    text_similarity: float
    reasons: list[str]
    place_id: int | None
    duplicate_count: int


class DuplicateFinder:
    """The app's duplicate index over the orders of the last ``window_days``, brought up to date from the
    database (orders registered since the last look, by any process) before each search."""

    # PostgreSQL hands out ids at INSERT but they become visible at COMMIT: an order with a lower id can appear
    # after one with a higher id. Every RECHECK the last OVERLAP ids are looked at again (skipping those indexed).
    OVERLAP = 2000
    RECHECK = timedelta(seconds=30)
    # Between two requests a second apart, looking for new orders once is enough: the same caller's and the
    # same place's orders are found by SQL on every request anyway.
    MIN_INTERVAL = 0.5
    AGE_OUT_EVERY = timedelta(hours=6)
    PLACE_CANDIDATES = 50
    CALLER_CANDIDATES = 20  # the caller's most recent orders; a frequent caller's older ones add only time

    def __init__(self, *, window_days: int = 365, place_days: int = 7, limit: int = 5, threshold: float = 0.45):
        self.window = timedelta(days=window_days)
        self.place_window = timedelta(days=place_days)
        self.limit = limit
        self.threshold = threshold
        self.index = LshIndex()
        self._last_id = 0
        self._recent: set[int] = set()  # indexed ids within OVERLAP of the newest
        self._rechecked_at: datetime | None = None
        self._aged_at: datetime | None = None
        self._refreshed = 0.0  # monotonic time of the last look for new orders
        self._lock = threading.Lock()

    def refresh(self, session: Session, now: datetime, *, force: bool = False) -> None:
        from civiclink.workorders.models import WorkOrder

        if not force and time.monotonic() - self._refreshed < self.MIN_INTERVAL:
            return
        with self._lock:
            since = now - self.window
            recheck = self._rechecked_at is None or now - self._rechecked_at > self.RECHECK
            if recheck and self._last_id:
                newest = session.execute(select(func.max(WorkOrder.id))).scalar() or 0
                if newest < self._last_id:
                    # Ids went back: the table was emptied or restored from a backup. Start over.
                    self.index, self._last_id, self._recent, self._aged_at = LshIndex(), 0, set(), None
            first_load = self._last_id == 0
            start = max(0, self._last_id - self.OVERLAP) if recheck else self._last_id
            rows = session.execute(
                select(WorkOrder.id, WorkOrder.title, WorkOrder.content)
                .where(WorkOrder.id > start, WorkOrder.registered_at >= since)
                .order_by(WorkOrder.id)
                .execution_options(yield_per=5000)  # a year of orders is streamed, not held in memory at once
            )
            ids, keys = [], []
            chunk_ids, chunk_keys = [], []  # compact numpy blocks: a year is ~900 k rows of 12 keys
            for oid, title, content in rows:
                if oid in self._recent:
                    continue
                sig = signature(shingles(f"{title}{content}"))
                if sig is not None:
                    ids.append(oid)
                    keys.append(band_keys(sig))
                    if len(ids) == 5000:
                        chunk_ids.append(np.array(ids, dtype=np.int64))
                        chunk_keys.append(np.stack(keys))
                        ids, keys = [], []
                if oid > self._last_id - self.OVERLAP:
                    self._recent.add(oid)
                self._last_id = max(self._last_id, oid)
            floor = self._last_id - self.OVERLAP
            self._recent = {i for i in self._recent if i > floor}
            if chunk_ids or first_load:
                if ids:
                    chunk_ids.append(np.array(ids, dtype=np.int64))
                    chunk_keys.append(np.stack(keys))
                if chunk_ids:
                    self.index.add_many(np.concatenate(chunk_ids), np.concatenate(chunk_keys))
            else:
                for oid, k in zip(ids, keys, strict=True):
                    self.index.add(oid, k)
            if recheck:
                self._rechecked_at = now
            if self._aged_at is None or now - self._aged_at > self.AGE_OUT_EVERY:
                # Orders older than the window leave the index (ids grow with registration time).
                oldest = session.execute(select(func.min(WorkOrder.id)).where(WorkOrder.registered_at >= since)).scalar()
                if oldest is not None:
                    self.index.remove_below(oldest)
                self._aged_at = now
            self._refreshed = time.monotonic()

    def _candidates(self, keys: np.ndarray) -> dict[int, int]:
        with self._lock:  # a fold or bulk load swaps the arrays
            return self.index.query(keys)

    def find(self, session: Session, *, text: str, title: str | None, now: datetime,
             caller_phone: str | None = None, place_id: int | None = None, category_id: int | None = None,
             exclude_id: int | None = None) -> list[Candidate]:
        from civiclink.workorders.models import WorkOrder

        self.refresh(session, now)
        full = f"{title or ''}{text}"
        reasons: dict[int, list[str]] = {}
        sig = signature(shingles(full))
        if sig is not None:
            for oid, bands in self._candidates(band_keys(sig)).items():
                if bands >= 1:
                    reasons.setdefault(oid, [])
        since = now - self.window
        if caller_phone:
            for (oid,) in session.execute(
                select(WorkOrder.id).where(WorkOrder.caller_phone == caller_phone, WorkOrder.registered_at >= since)
                .order_by(WorkOrder.id.desc()).limit(self.CALLER_CANDIDATES)
            ):
                reasons.setdefault(oid, []).append("同一来电人")
        if place_id is not None:
            q = select(WorkOrder.id).where(WorkOrder.place_id == place_id,
                                           WorkOrder.registered_at >= now - self.place_window)
            if category_id is not None:
                q = q.where(WorkOrder.category_id == category_id)
            for (oid,) in session.execute(q.order_by(WorkOrder.id.desc()).limit(self.PLACE_CANDIDATES)):
                reasons.setdefault(oid, []).append("同一属地同类诉求" if category_id is not None else "同一属地")
        reasons.pop(exclude_id, None)
        if not reasons:
            return []
        rows = session.execute(
            select(WorkOrder.id, WorkOrder.number, WorkOrder.title,
                   func.substr(WorkOrder.content, 1, TEXT_CHARS).label("content"), WorkOrder.state,
                   WorkOrder.registered_at, WorkOrder.place_id, WorkOrder.category_id, WorkOrder.merged_into_id,
                   WorkOrder.duplicate_count)
            .where(WorkOrder.id.in_(list(reasons)), WorkOrder.registered_at >= since)
        ).all()
        found = []
        query = Similarity(full)
        for row in rows:
            sim = query.to(f"{row.title}{row.content}")
            why = list(dict.fromkeys(reasons[row.id]))
            score = sim
            if "同一来电人" in why:
                score += 0.25
            if row.place_id is not None and row.place_id == place_id:
                score += 0.1
                if "同一属地" not in "".join(why):
                    why.append("同一属地")
            if category_id is not None and row.category_id == category_id:
                score += 0.05
            age_days = max(0.0, (now - row.registered_at).total_seconds() / 86400)
            score -= min(0.1, age_days / 3650)  # a year old counts a little less than yesterday
            if sim >= 0.35:
                why.insert(0, f"内容相似 {sim:.0%}")
            if row.merged_into_id:
                why.append("已并入其他主单")
            score = round(min(1.0, max(0.0, score)), 3)
            if score >= self.threshold:
                found.append(Candidate(order_id=row.id, number=row.number, title=row.title,
                                       state=row.state, registered_at=row.registered_at, score=score,
                                       text_similarity=round(sim, 3), reasons=why, place_id=row.place_id,
                                       duplicate_count=row.duplicate_count))
        found.sort(key=lambda c: -c.score)
        return found[: self.limit]


def repeat_level(candidates: list[Candidate]) -> dict:
    """How often this matter has come in (R-1004: 3 or more → 预警 to the unit's leaders and the duty office)."""
    repeats = len({c.order_id for c in candidates if c.score >= 0.6})
    earlier = max([repeats] + [c.duplicate_count + 1 for c in candidates if c.score >= 0.6])
    count = earlier + 1  # this request included
    return {"count": count, "warning": count >= 3}
