"""Training the triage models (``civiclink model train``): from the city's own orders (``--from-db``), from CSV
exports (``--csv``), or both; operators' overrides count double and their routing decisions teach the route
classifier (design §7)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from civiclink.triage.classifier import FORMAT, Example, TextClassifier, _joined, fit_features
from civiclink.triage.models import TriageRecord
from civiclink.triage.service import TriageModels, route_examples
from civiclink.triage.text import normalize

# Column names accepted in a CSV: the project's own, and those of common exports (the Teddy data among them).
TEXT_COLUMNS = ("text", "content", "留言详情", "诉求内容", "内容")
TITLE_COLUMNS = ("title", "留言主题", "标题", "诉求标题")
LABEL_COLUMNS = ("category", "label", "一级标签", "一级分类", "诉求分类", "分类")
OVERRIDE_WEIGHT = 2.0  # an example an operator corrected teaches more than one that was accepted as suggested
MIN_PER_CLASS = 5


class TrainingError(ValueError):
    pass


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in header:
            return name
    return None


def read_csv_examples(path: Path) -> list[Example]:
    """Rows with a label and a text and/or a title. A title-only file (a list of 留言主题) is fine."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        text_col, title_col, label_col = (_column(header, TEXT_COLUMNS), _column(header, TITLE_COLUMNS),
                                          _column(header, LABEL_COLUMNS))
        if label_col is None or (text_col is None and title_col is None):
            raise TrainingError(
                f"{path.name}：缺少列。需要分类列（{'/'.join(LABEL_COLUMNS)}）以及内容列（{'/'.join(TEXT_COLUMNS)}）"
                f"或标题列（{'/'.join(TITLE_COLUMNS)}）；实际列：{', '.join(header)}")
        out = []
        for row in reader:
            label = (row.get(label_col) or "").strip()
            text = normalize(row.get(text_col)) if text_col else ""
            title = normalize(row.get(title_col)) if title_col else ""
            if label and (text or title):
                out.append(Example(text=text, title=title or None, label=label))
        return out


def texts_of_csv(path: Path) -> set[str]:
    """Every text and title in a CSV, normalised: for ``--exclude-csv`` (keep a test set out of training)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        cols = [c for c in (_column(header, TEXT_COLUMNS), _column(header, TITLE_COLUMNS)) if c]
        return {normalize(row.get(c)) for row in reader for c in cols if normalize(row.get(c))}


def exclude(examples: list[Example], texts: set[str]) -> list[Example]:
    return [e for e in examples if normalize(e.text) not in texts and normalize(e.title) not in texts]


def deduplicate(examples: Iterable[Example]) -> list[Example]:
    """Exact repeats (re-posted messages) once each; a text seen with two labels keeps its commonest label."""
    by_key: dict[tuple[str, str], Counter] = {}
    first: dict[tuple[str, str], Example] = {}
    for e in examples:
        key = (normalize(e.title), normalize(e.text))
        by_key.setdefault(key, Counter())[e.label] += e.weight
        first.setdefault(key, e)
    out = []
    for key, labels in by_key.items():
        e = first[key]
        label = labels.most_common(1)[0][0]
        out.append(Example(text=e.text, title=e.title, label=label, weight=max(e.weight, 1.0)))
    return out


def examples_from_db(session: Session) -> tuple[list[Example], list[Example], list[Example]]:
    """(category, request type, route) examples from the city's orders and the operators' decisions."""
    from civiclink.orgs.models import Category
    from civiclink.workorders.models import WorkOrder

    overridden: dict[int, list[str]] = {}
    decided_route: dict[int, str] = {}
    for order_id, decision, keys in session.execute(
        select(TriageRecord.order_id, TriageRecord.decision, TriageRecord.overridden)
        .where(TriageRecord.order_id.is_not(None), TriageRecord.decision.is_not(None))
    ):
        overridden[order_id] = list(keys or ())
        if decision.get("route"):
            decided_route[order_id] = decision["route"]
    categories, types, routes = [], [], []
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.title, WorkOrder.content, WorkOrder.request_type, Category.code)
        .outerjoin(Category, Category.id == WorkOrder.category_id)
        .where(WorkOrder.merged_into_id.is_(None))
    )
    for oid, title, content, request_type, category_code in rows:
        keys = overridden.get(oid, ())
        if category_code:
            categories.append(Example(text=content, title=title, label=category_code,
                                      weight=OVERRIDE_WEIGHT if "category" in keys else 1.0))
        types.append(Example(text=content, title=title, label=str(request_type),
                             weight=OVERRIDE_WEIGHT if "request_type" in keys else 1.0))
        if oid in decided_route:
            routes.append(Example(text=(title or "") + content, label=decided_route[oid],
                                  weight=OVERRIDE_WEIGHT if "route" in keys else 1.0))
    return categories, types, routes


def mark_used(session: Session, up_to_id: int) -> int:
    """Flag the decisions this training read: linked to an order (their text), decided before it began."""
    return session.execute(
        update(TriageRecord).where(TriageRecord.decision.is_not(None), TriageRecord.used_in_training.is_(False),
                                   TriageRecord.order_id.is_not(None), TriageRecord.id <= up_to_id)
        .values(used_in_training=True)
    ).rowcount


def last_record_id(session: Session) -> int:
    from sqlalchemy import func

    return session.execute(select(func.max(TriageRecord.id))).scalar() or 0


def _usable(examples: list[Example]) -> list[Example]:
    counts = Counter(e.label for e in examples)
    return [e for e in examples if counts[e.label] >= MIN_PER_CLASS]


def train_models(*, category: list[Example], request_type: list[Example] | None = None,
                 route_extra: list[Example] | None = None, source: str,
                 progress: Callable[[str], None] | None = None) -> TriageModels:
    step = progress or (lambda _m: None)
    category = _usable(deduplicate(category))
    if len({e.label for e in category}) < 2:
        raise TrainingError("分类训练数据不足：至少需要两个分类、每类至少 5 条（工单须已分类）")
    # Request type and urgency: the written examples, plus the city's orders when there are enough.
    types = _usable(deduplicate(list(request_type or []))) + route_examples("request_type")
    routes = route_examples("route") + list(route_extra or [])
    # One set of n-gram features for all four classifiers: a request is turned into features once.
    features = fit_features(list({_joined(e.title, e.text) for e in category + types + routes}))
    step(f"诉求分类模型：{len(category)} 条，{len({e.label for e in category})} 类")
    category_model = TextClassifier.train(category, source=source, progress=lambda m: step(f"  {m}"),
                                          features=features)
    step(f"诉求类型模型：{len(types)} 条")
    type_model = TextClassifier.train(types, source=source + " + written examples", features=features)
    urgency_model = TextClassifier.train(route_examples("urgency"), source="written examples", features=features)
    step(f"路由模型：{len(routes)} 条（其中话务员决定 {len(route_extra or [])} 条）")
    route_model = TextClassifier.train(routes, source="written examples + operators' decisions", features=features)
    version = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return TriageModels(route=route_model, category=category_model, request_type=type_model, urgency=urgency_model,
                        meta={"format": FORMAT, "version": version, "source": source,
                              "trained_at": datetime.now(UTC).isoformat(timespec="seconds")})
