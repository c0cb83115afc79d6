"""Route, urgency and request type from the words of a request: the safety-first rules of R-1007.

The cues are data (``triage/data/cues.yaml``, R-109); this module finds them and decides. The decision keeps
the asymmetry the rules ask for: anything that risks life, property or public safety reaches 110 (``110``, or
``joint`` when a department or local government also has a part: R-104, R-205, R-207); a hint of danger that
the words cannot settle, or a request too thin to judge, asks a person (``ambiguous`` → 三方通话); only then do
R-106's exclusions send the caller to another channel, and everything else is 12345's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from civiclink.triage.text import normalize

CUES_FILE = Path(__file__).resolve().parent / "data" / "cues.yaml"
ROUTES = ("12345", "110", "joint", "ambiguous", "not_accepted")
URGENCY_RANK = {"normal": 0, "urgent": 1, "emergency": 2}
_WORD_CHARS = re.compile(r"[\u4e00-\u9fff0-9A-Za-z]")


@dataclass(frozen=True)
class Cue:
    id: str
    label: str
    kind: str
    weight: int
    rule: str
    pattern: re.Pattern
    urgency: str | None = None
    channel: str | None = None
    also: str | None = None
    past_counts: bool = False
    tags: tuple[str, ...] = ()
    needs: re.Pattern | None = None
    unless: re.Pattern | None = None  # a `resolved` cue does not count when these words are also there


@dataclass
class Found:
    cue: Cue
    text: str  # the words that matched
    start: int = 0

    def as_dict(self) -> dict:
        d = {"id": self.cue.id, "label": self.cue.label, "kind": self.cue.kind, "rule": self.cue.rule,
             "matched": self.text}
        if self.cue.channel:
            d["channel"] = self.cue.channel
        if self.cue.also:
            d["also_call"] = self.cue.also
        return d


@dataclass
class RouteDecision:
    route: str
    urgency: str
    confidence: float
    cues: list[Found] = field(default_factory=list)
    reason: str = ""
    channel: str | None = None
    also_call: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Lexicon:
    cues: tuple[Cue, ...]
    negation: re.Pattern
    negation_adjacent: re.Pattern
    hypothetical: re.Pattern
    clause_break: re.Pattern

    @classmethod
    def load(cls, path: Path = CUES_FILE) -> Lexicon:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        cues = []
        for raw in data["cues"]:
            pattern = "|".join(f"(?:{p})" for p in raw["patterns"])
            cues.append(Cue(id=raw["id"], label=raw["label"], kind=raw["kind"], weight=int(raw["weight"]),
                            rule=raw["rule"], pattern=re.compile(pattern), urgency=raw.get("urgency"),
                            channel=raw.get("channel"), also=raw.get("also"),
                            past_counts=bool(raw.get("past_counts", False)), tags=tuple(raw.get("tags", ())),
                            needs=re.compile(raw["needs"]) if raw.get("needs") else None,
                            unless=re.compile(raw["unless"]) if raw.get("unless") else None))
        return cls(cues=tuple(cues),
                   negation=re.compile(f"(?:{data['negations']})[\u4e00-\u9fff]{{0,2}}$"),
                   negation_adjacent=re.compile(f"(?:{data['negation_adjacent']})$"),
                   hypothetical=re.compile(data["hypothetical"]),
                   clause_break=re.compile(data["clause_breaks"]))

    def find(self, text: str) -> list[Found]:
        """Every cue whose words occur in the text and are not negated in their clause."""
        found = []
        for cue in self.cues:
            if cue.needs is not None and not cue.needs.search(text):
                continue
            if cue.unless is not None and cue.unless.search(text):
                continue
            for m in cue.pattern.finditer(text):
                if not self._cancelled(cue, text, m.start()):
                    found.append(Found(cue, m.group(0), m.start()))
                    break
        return found

    def _cancelled(self, cue: Cue, text: str, start: int) -> bool:
        """Is this occurrence negated or hypothetical? Only words close before it in its own clause count:
        "还没人掉下去" and "不是吵架打架" cancel, "没完没了地打" and "无缘无故砍伤" do not."""
        clause_start = 0
        for m in self.clause_break.finditer(text, 0, start):
            clause_start = m.end()
        window = text[max(clause_start, start - 4) : start]
        if self.negation.search(window) or self.negation_adjacent.search(window):
            return True
        if "threat" in cue.tags:
            return False  # "如果你们不来他就要杀了我" is a threat, not a hypothesis
        near = max(clause_start, start - 8)
        for m in self.hypothetical.finditer(text, near, start):
            between = text[m.end() : start]
            if not re.search(r"[就要会]", between):
                return True
        return False


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon.load()


def decide_route(text: str, *, lexicon: Lexicon | None = None, category_confidence: float | None = None
                 ) -> RouteDecision:
    """The platform route, urgency and the cues behind them (R-1007)."""
    lexicon = lexicon or default_lexicon()
    text = normalize(text)
    found = lexicon.find(text)
    resolved_at = [f.start for f in found if f.cue.kind == "resolved"]
    if resolved_at:
        # "警察来了就处理掉了，现在想问监控归谁管": violence told *before* it was dealt with is over; violence told
        # after ("已经报警了，现在有人拿刀在追我") is not, and a theft or fraud is still a case either way.
        last = max(resolved_at)
        found = [f for f in found if not ("violence" in f.cue.tags and not f.cue.past_counts and f.start < last)]

    def score(kind: str) -> int:
        return sum(f.cue.weight for f in found if f.cue.kind == kind)

    police, danger, group = score("police"), score("danger"), score("group")
    unclear, refer = score("unclear"), score("refer")
    also = sorted({f.cue.also for f in found if f.cue.also})
    urgency = max((f.cue.urgency for f in found if f.cue.urgency), key=URGENCY_RANK.__getitem__, default="normal")
    shown = found

    def decision(route: str, confidence: float, reason: str, **kw) -> RouteDecision:
        return RouteDecision(route=route, urgency=urgency, confidence=round(confidence, 2), cues=shown,
                             reason=reason, also_call=also, **kw)

    # R-203 / R-1007 safety first: a risk to life or property always reaches 110.
    if police >= 3 or danger >= 3 or group >= 3:
        if danger >= 3 or group >= 3:
            # Police first-response plus an administrative part (R-104 先期处置 + the competent unit, R-205
            # stability leads, R-207 joint handling).
            return decision("joint", 0.85 if police < 3 else 0.75,
                            "危及公共安全或有群体性、激化风险：110先期处置，同时由12345派相关单位")
        return decision("110", min(0.98, 0.8 + 0.05 * (police - 3)), "属于110受理范围的警情或紧急求助")
    if unclear >= 2 or danger or group or police:
        urgency = max(urgency, "urgent", key=URGENCY_RANK.__getitem__)
        return decision("ambiguous", 0.5, "存在危险迹象但无法确定，请三方通话或人工研判")
    if refer >= 3:
        channel = next(f.cue.channel for f in found if f.cue.kind == "refer")
        return decision("not_accepted", 0.8, "不属于12345受理范围，请告知来电人正确渠道", channel=channel)
    # Too little to judge: a few characters, or a short text the category model cannot place either.
    said = len(_WORD_CHARS.findall(text))  # punctuation and emoji say nothing
    if said < 6 or (category_confidence is not None and category_confidence < 0.25 and said < 30):
        return decision("ambiguous", 0.4, "诉求内容过少，无法判断，请进一步询问")
    confidence = 0.9 if category_confidence is None else min(0.95, 0.6 + 0.4 * category_confidence)
    return decision("12345", confidence, "非紧急政务服务诉求，由12345受理")


# -- request type (咨询/求助/投诉/举报/建议) ----------------------------------------------------------------------

REQUEST_TYPE_CUES: tuple[tuple[str, re.Pattern, int], ...] = (
    ("suggestion", re.compile(r"建议|希望(能)?(增加|增设|延长|调整|开通|加装|多设)|能否(增加|增设|延长)|可否|最好能"), 3),
    ("report", re.compile(r"举报|违法|违规|偷排|偷偷|非法|黑诊所|无证|没有执照|过期|假冒|虚假(宣传|广告)|私自|擅自|偷税"), 3),
    ("consultation", re.compile(r"请问|想问|问一下|问问|咨询|怎么(办理|补办|申请|办|弄|查|交|续)|如何|要(带|准备)(什么|哪些)|"
                                r"需要(哪些|什么)|在哪(里)?(办|查|交|申请)|能不能(办|申请)|是否|有没有(补贴|政策|规定|文件)|合理吗|合法吗|还来得及吗"), 2),
    ("complaint", re.compile(r"投诉|扰民|态度(很)?差|不作为|推诿|乱收费|多收|拖着|不给(退|修|办)|踢皮球|不管|不修|"
                             r"吵得|噪音|油烟|臭|脏|乱停|占道|绕路|刁难|受不了"), 2),
    ("help", re.compile(r"救命|快来|帮帮|帮我|帮忙|求助|麻烦|请.{0,6}(来|派人|处理|修)|怎么办|找不到|被困|不见了"), 2),
)
REQUEST_TYPES = ("consultation", "help", "complaint", "report", "suggestion")


def request_type_scores(text: str) -> dict[str, float]:
    text = normalize(text)
    scores = dict.fromkeys(REQUEST_TYPES, 0.0)
    for kind, pattern, weight in REQUEST_TYPE_CUES:
        hits = len(pattern.findall(text))
        if hits:
            scores[kind] += weight + min(hits - 1, 2) * 0.5
    return scores
