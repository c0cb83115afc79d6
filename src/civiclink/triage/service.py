"""The triage engine (design §7, R-1007): for one request, the route, urgency, request type, category and
owner department, 属地, possible duplicates and knowledge-base answers — each with a confidence, and the cues
behind the route.

The trained parts live in one file (``TriageModels``, written by ``civiclink model train``): the category
classifier, the route classifier and, when the city's orders allow, a request-type classifier. Without a
trained file the engine still works: the route classifier trains in about a second from the examples the
project ships, and the category falls back to the keywords of the city's category table at low confidence.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from civiclink.i18n import LABELS
from civiclink.orgs.service import CategoryInfo, OrgDirectory, UnitInfo
from civiclink.triage import cues as route_rules
from civiclink.triage.classifier import (
    FORMAT,
    Example,
    TextClassifier,
    fit_features,
    load_model_file,
    save_model_file,
)
from civiclink.triage.duplicates import DuplicateFinder, repeat_level
from civiclink.triage.text import normalize

log = logging.getLogger("civiclink.triage")
DATA_DIR = Path(__file__).resolve().parent / "data"
# Hand-written requests with their route, urgency and request type (triage/data/route_examples*.yaml).
ROUTE_EXAMPLE_FILES = "route_examples*.yaml"
CHANGES_FILE = Path(__file__).resolve().parents[1] / "orgs" / "data" / "nantong_changes.yaml"
ROUTE_LABELS = {"12345": "12345受理", "110": "转110", "joint": "联动处置（110先期处置+12345）",
                "ambiguous": "需人工研判（三方通话）", "not_accepted": "不予受理，告知正确渠道"}
# The app's own words for urgency and request type (i18n.py): what the operator reads is what they register.
URGENCY_LABELS = LABELS["urgency"]
REQUEST_TYPE_LABELS = LABELS["request_type"]
KNOWLEDGE_QUERY_CHARS = 160
# Below this, the model's category is shown as a hint only and the operator must choose.
CATEGORY_SURE = 0.5


@dataclass
class TriageModels:
    """The trained classifiers, saved and loaded as one file."""

    route: TextClassifier
    category: TextClassifier | None = None
    request_type: TextClassifier | None = None
    urgency: TextClassifier | None = None
    meta: dict = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.meta.get("version", "builtin")

    def save(self, path: Path) -> None:
        save_model_file(self, path)

    @classmethod
    def load(cls, path: Path) -> TriageModels:
        return load_model_file(cls, path)


@lru_cache(maxsize=1)
def _written_examples() -> tuple[dict, ...]:
    rows = []
    for path in sorted(DATA_DIR.glob(ROUTE_EXAMPLE_FILES)):
        rows += yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]
    return tuple(rows)


def route_examples(field: str = "route") -> list[Example]:
    """The written examples, labelled by ``field`` (route, urgency or request_type)."""
    return [Example(text=e["text"], label=str(e[field])) for e in _written_examples()]


@lru_cache(maxsize=1)
def builtin_models() -> TriageModels:
    """Trained in a few seconds from the written examples: used until `civiclink model train` has run."""
    features = fit_features([e.text for e in route_examples()])
    return TriageModels(
        route=TextClassifier.train(route_examples("route"), source="written examples", features=features),
        urgency=TextClassifier.train(route_examples("urgency"), source="written examples", features=features),
        request_type=TextClassifier.train(route_examples("request_type"), source="written examples",
                                          features=features),
        meta={"format": FORMAT, "version": "builtin"})


@lru_cache(maxsize=1)
def place_changes() -> dict[str, dict]:
    data = yaml.safe_load(CHANGES_FILE.read_text(encoding="utf-8")) if CHANGES_FILE.exists() else {}
    return {c["old"]: c for c in (data or {}).get("changes", [])}


@dataclass
class TriageInput:
    text: str
    title: str | None = None
    address: str | None = None
    channel: str | None = None
    caller_phone: str | None = None
    exclude_order_id: int | None = None


class TriageEngine:
    """One per process (in ``AppState``): the models, the duplicate index and the settings."""

    def __init__(self, *, model_path: Path | None, duplicate_window_days: int = 365, place_window_days: int = 7,
                 knowledge_limit: int = 3):
        self.model_path = model_path
        self.knowledge_limit = knowledge_limit
        self.duplicates = DuplicateFinder(window_days=duplicate_window_days, place_days=place_window_days)
        self._models: TriageModels | None = None
        self._models_mtime: float | None = None
        self._lock = threading.Lock()

    # -- models -----------------------------------------------------------------------------------------------

    @property
    def models(self) -> TriageModels:
        """The trained file if there is one (re-read when `model train` replaces it), else the built-in set."""
        path = self.model_path
        mtime = path.stat().st_mtime if path is not None and path.exists() else None
        if self._models is None or mtime != self._models_mtime:
            with self._lock:
                if self._models is None or mtime != self._models_mtime:
                    models = None
                    if mtime is not None:
                        try:
                            models = TriageModels.load(path)
                        except Exception as exc:  # noqa: BLE001 — any unreadable file: say so, keep triaging
                            log.error("triage model file %s unusable, using the built-in models: %s: %s",
                                      path, type(exc).__name__, str(exc)[:200])
                    self._models = models or builtin_models()
                    self._models_mtime = mtime
        return self._models

    def warm_up(self, sessions) -> None:
        """Load (or train) the models and build the duplicate index now rather than on the first request;
        run in a background thread at start-up."""
        try:
            models = self.models
            models.route.predict_one("预热")
            from civiclink.triage.text import words

            words("预热")
            with sessions() as session:
                self.duplicates.refresh(session, datetime.now(UTC), force=True)
        except Exception:  # noqa: BLE001 — warming is an optimisation; the first request will retry
            log.exception("triage warm-up failed")

    # -- the whole triage -------------------------------------------------------------------------------------

    def triage(self, item: TriageInput, *, directory: OrgDirectory, session: Session | None, now: datetime,
               knowledge=None, today=None) -> dict:
        """The whole suggestion. ``session`` is for the duplicate search (None: no search); the caller decides
        whether the asker may see other orders and whether ``item.caller_phone`` may be used."""
        models = self.models
        memo: dict = {}  # n-gram features of this request's text, shared by the classifiers
        text = normalize(item.text)
        title = normalize(item.title) or None
        full = (title or "") + text
        # The rules read title and text as separate sentences: the title's last words must not negate or
        # frame the text's first clause ("担心孩子安全" + "孩子被人拐走了").
        spoken = f"{title}。{text}" if title else text
        category, category_conf, category_alternatives = self._category(models, directory, text, title, memo)
        place, place_info = self._place(directory, item.address, full)
        department = directory.suggested_unit(category, place) if category or place else None
        # "Too little to judge" needs a trained category model: keyword matches alone say nothing of that.
        known = (category_conf if category else 0.0) if models.category is not None else None
        decision = route_rules.decide_route(spoken, category_confidence=known)
        route, route_conf, model_cue = self._combine_route(decision, models.route.predict_one(full, memo=memo))
        request_type, type_conf = self._request_type(models, full, route, memo)
        cues = [f.as_dict() for f in decision.cues]
        if model_cue:
            cues.append(model_cue)
        result = {
            "route": route,
            "urgency": self._urgency(models, full, route, decision, memo),
            "request_type": request_type,
            "category": _category_out(directory, category, category_conf, category_alternatives),
            "department": ({"code": department.code, "name": department.label} if department else None),
            "place": place_info,
            "confidence": {
                "route": route_conf,
                "urgency": decision.confidence if decision.cues else 0.7,
                "request_type": type_conf,
                "category": round(category_conf, 2) if category else 0.0,
                "department": round(category_conf * (place_info["confidence"] if place_info and
                                                      (category is None or category.local) else 1.0), 2)
                if department else 0.0,
                "place": place_info["confidence"] if place_info else 0.0,
            },
            "cues": cues,
            "reason": _reason(route, decision),
            "labels": {"route": ROUTE_LABELS[route], "urgency": None,
                       "request_type": REQUEST_TYPE_LABELS[request_type]},
            "duplicates": [],
            "repeat": {"count": 1, "warning": False},
            "knowledge": [],
            "model": models.version,
        }
        result["labels"]["urgency"] = URGENCY_LABELS[result["urgency"]]
        if route == "not_accepted" and decision.channel:
            result["channel"] = decision.channel
        if decision.also_call:
            result["also_call"] = decision.also_call
        if session is not None:
            found = self.duplicates.find(
                session, text=text, title=title, now=now, caller_phone=item.caller_phone,
                place_id=place.id if place else None, category_id=category.id if category else None,
                exclude_id=item.exclude_order_id)
            result["duplicates"] = [
                {"number": c.number, "title": c.title, "state": c.state,
                 "registered_at": c.registered_at.astimezone(UTC).isoformat(timespec="seconds"),
                 "score": c.score, "reasons": c.reasons} for c in found]
            result["repeat"] = repeat_level(found)
        if knowledge is not None:
            region = (*place.ancestor_ids, place.id) if place else ()
            # The question is in the title and the first sentences; a long letter's tail only adds noise and time.
            hits = knowledge.search(full[:KNOWLEDGE_QUERY_CHARS], today=today, region_ids=region,
                                    limit=self.knowledge_limit)
            result["knowledge"] = [
                {"code": h.item.code, "title": h.item.title, "kind": h.item.kind, "answer": h.item.answer,
                 "source": h.item.source, "confidence": h.confidence} for h in hits if h.confidence >= 0.2]
        return result

    # -- parts ------------------------------------------------------------------------------------------------

    def _category(self, models: TriageModels, directory: OrgDirectory, text: str, title: str | None, memo=None):
        """The category (second level where the words allow), its confidence and the runners-up."""
        if models.category is not None:
            ranking = models.category.predict_one(text, title, memo)
            resolved = [(c, p) for c, p in ((_category_for(directory, label), p) for label, p in ranking) if c]
            if resolved:
                best, conf = resolved[0]
                refined = _refine(directory, best, (title or "") + text)
                return refined or best, conf, resolved[1:3]
        # No model: the keywords of the city's category table, at a confidence that never passes as sure.
        hits = _keyword_hits(directory, (title or "") + text)
        if not hits:
            return None, 0.0, []
        total = sum(hits.values())
        ranked = sorted(hits.items(), key=lambda kv: -kv[1])
        best_id, best = ranked[0]
        return directory.category(best_id), min(0.45, 0.2 + 0.25 * best / total), [
            (directory.category(cid), round(0.2 * n / total, 2)) for cid, n in ranked[1:3]]

    def _place(self, directory: OrgDirectory, address: str | None, text: str):
        """属地 from the address, else from the text; the generation of the name when it is a former one."""
        source = "address"
        place = directory.resolve_place(address) if address else None
        if place is None:
            place, source = directory.resolve_place(text), "text"
        if place is None:
            return None, None
        county = directory.county_level(place)
        town = _town_of(directory, place)
        said = (address or "") + text
        named = [old for old in place_changes() if old in said]
        named = [n for n in named if not any(n != other and n in other for other in named)]  # 港闸 ⊂ 港闸区
        former = []
        for old in named:
            change = place_changes()[old]
            unit = directory.unit_by_code(change["unit"])
            if unit is not None and unit.id in (*place.ancestor_ids, place.id):
                former.append({"name": old, "year": change["year"], "note": change["note"]})
        depth = 1.0 if town is not None else 0.75
        return place, {
            "code": place.code, "name": place.name,
            "district": {"code": county.code, "name": county.name} if county else None,
            "town": {"code": town.code, "name": town.name} if town else None,
            "from": source,
            "former_names": former,
            "confidence": round(depth * (0.95 if source == "address" else 0.8), 2),
        }

    def _combine_route(self, decision: route_rules.RouteDecision, ranking: list[tuple[str, float]]):
        """The rules decide; the route classifier, trained on written examples and operators' decisions, may
        only move a request towards safety (12345 → ambiguous/110/joint) or spot what the words of R-106
        missed. It never takes a request away from 110."""
        probs = dict(ranking)
        danger = probs.get("110", 0.0) + probs.get("joint", 0.0)
        top, top_p = ranking[0]
        cue = None
        route, conf = decision.route, decision.confidence
        if decision.route == "12345":
            # No cue of danger in the words: the classifier, trained on examples of how people say it, may
            # still hear one. Sure → its route; unsure → a person decides (R-1007).
            # A 12345 urgency cue (停水, 井盖缺失…) is evidence of an administrative matter: the classifier
            # must be surer to overrule it.
            bar = 0.2 if any(f.cue.kind == "urgent" for f in decision.cues) else 0.0
            if danger >= 0.6 + bar and top in ("110", "joint"):
                route, conf = top, round(top_p * 0.9, 2)
            elif danger >= 0.4 + bar or (top == "ambiguous" and top_p >= 0.55 + bar):
                route, conf = "ambiguous", 0.5
            elif top == "not_accepted" and top_p >= 0.6:
                # Turning a caller away needs the words of R-106 (a `refer` cue, with the channel to tell);
                # the classifier alone only asks a person.
                route, conf = "ambiguous", 0.5
            else:
                conf = round(min(conf, probs.get("12345", 0.0) * 0.5 + conf * 0.5), 2)
        elif decision.route == "ambiguous":
            if top in ("110", "joint") and top_p >= 0.7:
                route, conf = top, round(top_p * 0.85, 2)
        elif decision.route == "not_accepted" and danger >= 0.5:
            route, conf = "ambiguous", 0.5
        if route != decision.route:
            cue = {"id": "route_model", "label": f"路由模型：{ROUTE_LABELS[top]}（{top_p:.0%}）", "kind": "model",
                   "rule": "R-1007", "matched": ""}
        return route, conf, cue

    def _urgency(self, models: TriageModels, text: str, route: str, decision, memo=None) -> str:
        """The cues' urgency, raised (never lowered) by the urgency classifier when it is sure, and never
        "normal" for a request that goes to 110 or needs a person now."""
        urgency = decision.urgency
        if models.urgency is not None:
            label, p = models.urgency.predict_one(text, memo=memo)[0]
            if label in route_rules.URGENCY_RANK and p >= 0.6:
                urgency = max(urgency, label, key=route_rules.URGENCY_RANK.__getitem__)
        return _urgency(route, urgency)

    def _request_type(self, models: TriageModels, text: str, route: str, memo=None) -> tuple[str, float]:
        scores = route_rules.request_type_scores(text)
        if models.request_type is not None:
            for label, p in models.request_type.predict_one(text, memo=memo):
                if label in scores:
                    scores[label] += 3 * p
        best = max(scores, key=scores.get)
        total = sum(scores.values())
        if scores[best] <= 0:
            # Nothing said: a call to 110 is a call for help; otherwise a complaint is the commonest kind.
            return ("help" if route in ("110", "joint") else "complaint"), 0.3
        return best, round(min(0.95, 0.4 + 0.5 * scores[best] / total), 2)


def _category_for(directory: OrgDirectory, label: str) -> CategoryInfo | None:
    """A model label is a category code (trained from the city's orders) or a first-level name (a CSV with
    the 一级分类 of the Teddy data or a city's export)."""
    found = directory.category_by_code(label)
    if found is not None:
        return found
    for cat in directory.categories.values():
        if cat.name == label and cat.active:
            return cat
    return None


def _refine(directory: OrgDirectory, first: CategoryInfo, text: str) -> CategoryInfo | None:
    """The second-level class under ``first`` whose keywords the text names most, if any."""
    best, best_n = None, 0
    for cat in directory.categories.values():
        if cat.parent_id == first.id and cat.active:
            n = sum(1 for k in cat.keywords if k in text)
            if n > best_n:
                best, best_n = cat, n
    return best


def _keyword_hits(directory: OrgDirectory, text: str) -> dict[int, int]:
    hits = {}
    for cat in directory.categories.values():
        if cat.active and cat.parent_id is not None:
            n = sum(len(k) for k in cat.keywords if k in text)
            if n:
                hits[cat.id] = n
    return hits


def _category_out(directory: OrgDirectory, category: CategoryInfo | None, conf: float, alternatives) -> dict | None:
    if category is None:
        return None
    top = category
    while top.parent_id is not None and directory.category(top.parent_id) is not None:
        top = directory.category(top.parent_id)
    return {"code": category.code, "name": category.name, "path": category.path_name, "level1": top.name,
            "sure": conf >= CATEGORY_SURE,
            "alternatives": [{"code": c.code, "name": c.path_name, "confidence": round(p, 2)}
                             for c, p in alternatives if c is not None]}


def _town_of(directory: OrgDirectory, place: UnitInfo) -> UnitInfo | None:
    for uid in (place.id, *reversed(place.ancestor_ids)):
        unit = directory.unit(uid)
        if unit and unit.kind in ("street", "town"):
            return unit
    return None


def _urgency(route: str, urgency: str) -> str:
    """A request that goes to 110 or needs a person now is never "normal"."""
    if route in ("110", "joint", "ambiguous") and urgency == "normal":
        return "urgent"
    return urgency


def _reason(route: str, decision: route_rules.RouteDecision) -> str:
    if route == decision.route:
        return decision.reason
    return {"ambiguous": "路由模型提示可能存在危险或诉求不明，请三方通话或人工研判",
            "110": "路由模型判断为警情，请转110", "joint": "路由模型判断需110先期处置并由12345派单",
            "not_accepted": "路由模型判断不属于12345受理范围"}.get(route, decision.reason)
