"""Reads of the knowledge base: a Chinese full-text index (jieba tokens, BM25) over titles, question
variants, keywords and answers, rebuilt when an item changes (revision ``knowledge``, like the org tree)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from civiclink.errors import NotFound
from civiclink.knowledge.models import KnowledgeItem
from civiclink.triage.text import normalize, words

KNOWLEDGE_REVISION = "knowledge"
# Where a word is found says how much it counts: a caller's question is phrased like a question variant.
FIELD_WEIGHTS = {"title": 2.0, "questions": 2.0, "keywords": 1.5, "answer": 0.5}
K1, B = 1.2, 0.75


@dataclass(frozen=True)
class ItemInfo:
    id: int
    code: str
    title: str
    kind: str
    answer: str
    questions: tuple[str, ...]
    owner_unit_id: int | None
    region_unit_id: int | None
    source: str | None
    effective_from: date
    expires_on: date | None
    retired: bool

    def valid_on(self, day: date) -> bool:
        return not self.retired and self.effective_from <= day and (self.expires_on is None or day < self.expires_on)


@dataclass
class Hit:
    item: ItemInfo
    score: float
    confidence: float


class KnowledgeIndex:
    def __init__(self, items: list[ItemInfo], docs: list[Counter], lengths: list[float]):
        self.items = items
        self._docs = docs
        self._lengths = lengths
        self._avg = (sum(lengths) / len(lengths)) if lengths else 1.0
        df: Counter = Counter()
        for doc in docs:
            df.update(doc.keys())
        n = len(docs)
        self._idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}
        self._postings: dict[str, list[int]] = {}
        for i, doc in enumerate(docs):
            for w in doc:
                self._postings.setdefault(w, []).append(i)

    @classmethod
    def load(cls, session: Session) -> KnowledgeIndex:
        rows = session.execute(select(KnowledgeItem).order_by(KnowledgeItem.id)).scalars().all()
        items, docs, lengths = [], [], []
        for r in rows:
            items.append(ItemInfo(id=r.id, code=r.code, title=r.title, kind=r.kind, answer=r.answer,
                                  questions=tuple(r.questions or ()), owner_unit_id=r.owner_unit_id,
                                  region_unit_id=r.region_unit_id, source=r.source, effective_from=r.effective_from,
                                  expires_on=r.expires_on, retired=r.retired_at is not None))
            doc: Counter = Counter()
            fields = {"title": [r.title], "questions": r.questions or [], "keywords": r.keywords or [],
                      "answer": [r.answer]}
            for name, texts in fields.items():
                for text in texts:
                    for w in words(normalize(text)):
                        doc[w] += FIELD_WEIGHTS[name]
            docs.append(doc)
            lengths.append(sum(doc.values()))
        return cls(items, docs, lengths)

    def search(self, query: str, *, today: date, region_ids: tuple[int, ...] = (), limit: int = 3,
               include_invalid: bool = False) -> list[Hit]:
        """Items for a caller's words, best first; only those valid today and for the caller's region
        (an item for the whole city, or for the district the matter is in) unless ``include_invalid``."""
        terms = Counter(words(normalize(query)))
        scores: dict[int, float] = {}
        for w, qtf in terms.items():
            idf = self._idf.get(w)
            if idf is None:
                continue
            for i in self._postings[w]:
                tf = self._docs[i][w]
                norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * self._lengths[i] / self._avg))
                scores[i] = scores.get(i, 0.0) + idf * norm * min(qtf, 2)
        best = sorted(scores.items(), key=lambda kv: -kv[1])
        hits = []
        query_mass = sum(self._idf.get(w, 0.0) for w in terms) or 1.0
        for i, score in best:
            item = self.items[i]
            if not include_invalid:
                if not item.valid_on(today):
                    continue
                if region_ids and item.region_unit_id is not None and item.region_unit_id not in region_ids:
                    continue
            # Confidence: the share of the query's information the item covers, squashed to (0, 1).
            confidence = 1 - math.exp(-score / (query_mass * 0.9))
            hits.append(Hit(item=item, score=round(score, 3), confidence=round(confidence, 2)))
            if len(hits) >= limit:
                break
        return hits

    def by_code(self, code: str) -> ItemInfo:
        for item in self.items:
            if item.code == code:
                return item
        raise NotFound(f"知识条目 {code!r} 不存在")


def get_item(session: Session, code: str) -> KnowledgeItem:
    item = session.execute(select(KnowledgeItem).where(KnowledgeItem.code == code)).scalar_one_or_none()
    if item is None:
        raise NotFound(f"知识条目 {code!r} 不存在")
    return item
