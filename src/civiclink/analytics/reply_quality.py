"""Reply-quality check (issue 6 part 6): a warning on a unit's 答复 before it reaches the citizen.

Three flags, each with a plain-Chinese reason naming what is missing (definitions: docs/reply_quality.md):

* ``boilerplate`` 套话、无实质内容 — once the stock phrases are taken out ("留言已收悉", "已转交相关部门调查处理",
  "感谢您的关心与支持", greetings, dates, user names), almost nothing is left: no result, no measure, no answer.
* ``off_topic`` 未回应诉求 — the reply has substance but names none of the request's key terms (its places,
  objects and subjects: jieba words of the title, then of the content).
* ``no_basis`` 缺少依据 — the reply declines or refuses something ("不予…", "无法…", "不符合…"), or the request asks
  what the rule is or whether something is lawful, and the reply cites no law, regulation, policy or document
  and states no established fact ("经查…", "由于…").

and a probability-like ``score`` that the reply is substantive: a logistic regression over eight numbers of the
reply (length, what is left after the stock phrases, cited rules, how much of the request it names, a bare
transfer, a referral, a refusal). The phrase lists are data (``data/reply_rules.yaml``); the model is a handful of coefficients
(``data/reply_quality_model.yaml``) written by ``bench/reply_quality.py --write-model`` — scikit-learn is used to
fit it there and never at run time.

The check only warns: the reply is recorded whatever it says, and the approver decides (R-601 回复 → 审核).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel

from civiclink.orgs.roles import Actor, Role
from civiclink.triage.text import jieba_tokenizer, normalize

DATA_DIR = Path(__file__).resolve().parent / "data"
RULES_FILE = DATA_DIR / "reply_rules.yaml"
MODEL_FILE = DATA_DIR / "reply_quality_model.yaml"
MODEL_FORMAT = 1

log = logging.getLogger("civiclink.analytics.reply_quality")

# Thresholds of the flags (characters are CJK characters, letters and digits; see ``substance``).
# Boilerplate: nothing outside the stock phrases, or at most this many characters and no word of anything done,
# found or cited ("已更换线路，路灯恢复" is short and is an answer).
BOILERPLATE_MAX_SUBSTANCE = 12
STOCK_CLAUSE_MAX = 40  # a clause with a stock phrase and nothing done or found, up to this long, is stock
OFF_TOPIC_MIN_TERMS = 3  # judge "does it address the request" only when the request has this many key terms…
KEY_TERMS = 12  # …of at most this many; the reply is flagged when it names none of them
OPENING_CHARS = 150

FLAG_LABELS = {"boilerplate": "套话、无实质内容", "off_topic": "未回应诉求", "no_basis": "缺少依据"}
STOCK_KINDS = {"receipt": "收悉", "transfer": "转办", "promise": "承诺后续答复", "courtesy": "致谢", "salutation": "称呼"}

_CLAUSE = re.compile(r"[，,。；;！!？?：:\n]+")
_LETTER = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_USER = re.compile(r"[“\"]?(?:UU|A0)\d{3,}[”\"]?")
_URL = re.compile(r"(?:https?://|www\.)[\w./?=&%#:-]*")
_DATE = re.compile(
    r"(?:(?:19|20)\d{2}|\d{2})\s*[年./-]\s*\d{1,2}\s*[月./-]\s*\d{1,2}\s*日?|(?:19|20)\d{2}年\d{1,2}月|\d{1,2}月\d{1,2}日"
)
_PHONE = re.compile(r"(?:\d{3,4}[-－—]){1,3}\d{3,8}|(?<!\d)(?:1[3-9]\d{9}|\d{7,8}|12\d{3})(?!\d)")
_NUMBER_UNIT = re.compile(
    r"\d+(?:\.\d+)?\s*(?:万元|亿元|元|万|米|公里|千米|平方米|平米|㎡|亩|户|人次|人|名|次|天|个工作日|工作日|日|个月|月|年|台|件|辆|"
    r"处|条|间|栋|所|个|吨|公斤|千克|小时|分钟|%|％|余|批|项|盏|棵|车|家)"
)

# -- the phrase lists ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    stock: dict[str, tuple[re.Pattern, ...]]
    outcome: tuple[re.Pattern, ...]
    law: tuple[re.Pattern, ...]
    fact: tuple[re.Pattern, ...]
    refusal: tuple[re.Pattern, ...]
    asks_for_basis: tuple[re.Pattern, ...]
    referral: tuple[re.Pattern, ...]
    stopwords: frozenset[str]


def _compile(items) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(str(p)) for p in items or ())


def load_rules(path: Path = RULES_FILE) -> Rules:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Rules(
        stock={kind: _compile(data["boilerplate"].get(kind)) for kind in STOCK_KINDS},
        outcome=_compile(data["outcome"]),
        law=_compile(data["basis"]["law"]),
        fact=_compile(data["basis"]["fact"]),
        refusal=_compile(data["refusal"]),
        asks_for_basis=_compile(data["asks_for_basis"]),
        referral=_compile(data["referral"]),
        stopwords=frozenset(str(data.get("request_stopwords") or "").split()),
    )


@lru_cache(maxsize=1)
def rules() -> Rules:
    return load_rules()


def _hits(patterns: tuple[re.Pattern, ...], text: str) -> list[str]:
    out = []
    for p in patterns:
        out += [m.group(0) for m in p.finditer(text) if m.group(0)]
    return out


def _any(patterns: tuple[re.Pattern, ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def _letters(text: str) -> int:
    return len(_LETTER.findall(text))


# -- reading a reply -------------------------------------------------------------------------------------------


@dataclass
class Reading:
    """What the check found in one reply (and its request): the numbers behind the flags and the score."""

    chars: int  # letters, digits and CJK characters of the whole reply
    substance: int  # …of the clauses that are not stock clauses
    stock: dict[str, list[str]]  # kind → the stock phrases found
    stock_clauses: list[str]  # the clauses that are only stock phrases (as written, for the reason)
    outcome: int
    law: list[str]
    fact: list[str]
    refusal: list[str]
    referral: int
    asks_for_basis: bool
    key_terms: list[str]
    named_terms: list[str]

    @property
    def overlap(self) -> float:
        return len(self.named_terms) / len(self.key_terms) if self.key_terms else 0.0


def _clean(text: str) -> str:
    """The reply without user names, links, dates and phone numbers (none of them is an answer)."""
    for pattern in (_USER, _URL, _DATE, _PHONE):
        text = pattern.sub("，", text)
    return text


def _is_stock(clause: str, r: Rules) -> bool:
    rest = clause
    found = False
    for patterns in r.stock.values():
        for p in patterns:
            rest, n = p.subn("", rest)
            found = found or n > 0
    if _letters(rest) <= 3:
        return True
    if not found or len(clause) > STOCK_CLAUSE_MAX:
        return False
    # A short clause with a stock phrase is stock unless it also says what was done, found, decided or where to go.
    return not (_any(r.outcome, clause) or _any(r.law, clause) or _any(r.refusal, clause)
                or _any(r.referral, clause) or _NUMBER_UNIT.search(clause))


def key_terms(title: str | None, content: str | None, *, limit: int = KEY_TERMS) -> list[str]:
    """The request's key terms, its title's first: the title's words, then the content's words said twice or
    more, then the words of its opening (where a caller says what the matter is) — jieba words of 2+ characters
    with a Chinese character, common request words (``request_stopwords``) and anonymised names (A市, B3区)
    left out."""
    r = rules()
    title, content = normalize(title), normalize(content)[:2000]
    tok = jieba_tokenizer()

    def usable(w: str) -> bool:
        return (len(w) >= 2 and w not in r.stopwords and bool(_CJK.search(w))
                and not re.fullmatch(r"[A-Za-z0-9]*[\u4e00-\u9fff]?[A-Za-z0-9]*", w))  # A市, B3区, 2018年

    title_terms = list(dict.fromkeys(w for w in tok.lcut(title) if usable(w)))
    words = [w for w in tok.lcut(content) if usable(w)]
    counts = Counter(words)
    opening = [w for w in tok.lcut(content[:OPENING_CHARS]) if usable(w)]
    ranked = title_terms + [w for w, n in counts.most_common() if n >= 2] + opening
    out: list[str] = []
    for w in ranked:
        if any(w in kept or kept in w for kept in out):
            continue  # 人民中路 and 中路: one term
        out.append(w)
        if len(out) == limit:
            break
    return out


def _named(term: str, text: str, stopwords: frozenset[str]) -> bool:
    """A term counts as named when the reply has it or, for a term of 3+ characters, two of its characters in a
    row that are not a common word (人行天桥 → 天桥, 入学年龄 → 年龄): replies name the matter more briefly."""
    if term in text:
        return True
    return len(term) >= 3 and any(
        (pair := term[i:i + 2]) in text and pair not in stopwords and _CJK.fullmatch(pair[0]) and _CJK.fullmatch(pair[1])
        for i in range(len(term) - 1))


def read_reply(reply: str, *, title: str | None = None, content: str | None = None) -> Reading:
    r = rules()
    text = normalize(reply)
    cleaned = _clean(text)
    clauses = [c for c in _CLAUSE.split(cleaned) if _letters(c)]
    stock_flags = [_is_stock(c, r) for c in clauses]
    substantive = [c for c, is_stock in zip(clauses, stock_flags, strict=True) if not is_stock]
    stock = {kind: _hits(patterns, text) for kind, patterns in r.stock.items()}
    terms = key_terms(title, content)
    named = [w for w in terms if _named(w, text, r.stopwords)]
    request = normalize(title) + normalize(content)
    return Reading(
        chars=_letters(text),
        substance=sum(_letters(c) for c in substantive),
        stock=stock,
        stock_clauses=[c for c, is_stock in zip(clauses, stock_flags, strict=True)
                       if is_stock and _letters(c) >= 5 and _any(r.stock["receipt"] + r.stock["transfer"]
                                                                + r.stock["promise"], c)],
        outcome=len(_hits(r.outcome, cleaned)),
        law=_hits(r.law, cleaned),
        fact=_hits(r.fact, cleaned),
        refusal=_hits(r.refusal, cleaned),
        referral=len(_hits(r.referral, text)),
        asks_for_basis=_any(r.asks_for_basis, request),
        key_terms=terms,
        named_terms=named,
    )


# -- the score -------------------------------------------------------------------------------------------------

# The model's inputs, in the order of the coefficients in the model file. Each is a number a reader can check
# by hand; the sign each gets is the one common sense expects (more text, more substance, a cited rule, more of
# the request named: more substantive; a bare transfer, a bare referral, a refusal: less). Counts of outcome
# cues, facts and numbers with units were tried too: given the length they added nothing and took negative
# weights (docs/reply_quality.md), so they serve the flags only.
FEATURES = (
    "log_chars", "log_substance", "substance_share", "log_law", "overlap", "transfer_only", "referral", "refusal",
)


def feature_vector(reading: Reading) -> list[float]:
    g = reading
    values = {
        "log_chars": math.log1p(g.chars),
        "log_substance": math.log1p(g.substance),
        "substance_share": g.substance / g.chars if g.chars else 0.0,
        "log_law": math.log1p(len(g.law)),
        "overlap": g.overlap,
        # passed on (已转…) with nothing done or found, and little else said
        "transfer_only": float(bool(g.stock["transfer"]) and g.outcome == 0 and g.substance <= 30),
        "referral": float(bool(g.referral)),
        "refusal": float(bool(g.refusal)),
    }
    return [values[name] for name in FEATURES]


@dataclass(frozen=True)
class ScoreModel:
    """Standardise, then logistic: P(substantive) = 1 / (1 + exp(-(b + Σ wᵢ (xᵢ - μᵢ) / σᵢ)))."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict = field(default_factory=dict)

    def probability(self, x: list[float]) -> float:
        z = self.intercept + sum(w * (v - m) / s for w, v, m, s in zip(self.coef, x, self.mean, self.scale,
                                                                       strict=True))
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def to_yaml(self) -> str:
        doc = {"format": MODEL_FORMAT, "features": list(FEATURES),
               "mean": [round(v, 6) for v in self.mean], "scale": [round(v, 6) for v in self.scale],
               "coef": [round(v, 6) for v in self.coef], "intercept": round(self.intercept, 6), "meta": self.meta}
        head = ("# The reply-quality score (analytics/reply_quality.py): a logistic regression over standardised\n"
                "# features. Written by `bench/reply_quality.py --write-model`; do not edit by hand.\n")
        return head + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


def load_model(path: Path = MODEL_FILE) -> ScoreModel:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if doc.get("format") != MODEL_FORMAT or tuple(doc.get("features") or ()) != FEATURES:
        raise ValueError(f"{path.name} 与本版本的特征不一致，请运行 bench/reply_quality.py --write-model 重新生成")
    return ScoreModel(mean=tuple(doc["mean"]), scale=tuple(doc["scale"]), coef=tuple(doc["coef"]),
                      intercept=float(doc["intercept"]), meta=doc.get("meta") or {})


@lru_cache(maxsize=1)
def model() -> ScoreModel:
    return load_model()


def fit_model(vectors: list[list[float]], labels: list[int], *, c: float = 1.0, meta: dict | None = None
              ) -> ScoreModel:
    """Fit the score (scikit-learn, at training time only)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(vectors, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    lr = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, np.asarray(labels))
    return ScoreModel(mean=tuple(map(float, mean)), scale=tuple(map(float, scale)),
                      coef=tuple(map(float, lr.coef_[0])), intercept=float(lr.intercept_[0]), meta=meta or {})


# -- the check -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    code: str
    reason: str

    @property
    def label(self) -> str:
        return FLAG_LABELS[self.code]


@dataclass(frozen=True)
class ReplyCheck:
    flags: tuple[Flag, ...]
    score: float  # probability-like: how likely the reply is substantive (0–1)

    @property
    def codes(self) -> list[str]:
        return [f.code for f in self.flags]

    def as_data(self) -> dict:
        """For the reply's audit event (JSON-native: the score as text, as the audit chain keeps floats)."""
        return {"flags": [{"code": f.code, "reason": f.reason} for f in self.flags], "score": f"{self.score:.3f}"}

    @classmethod
    def from_data(cls, data: dict) -> ReplyCheck:
        return cls(flags=tuple(Flag(str(f["code"]), str(f["reason"])) for f in data.get("flags") or ()),
                   score=float(data.get("score") or 0.0))


def _quoted(items, n: int = 3) -> str:
    seen = list(dict.fromkeys(items))[:n]
    return "、".join(f"“{s}”" for s in seen)


def flags_of(g: Reading) -> list[Flag]:
    out: list[Flag] = []
    if g.substance == 0 or (g.substance <= BOILERPLATE_MAX_SUBSTANCE and not (g.outcome or g.law or g.fact)):
        found = [c if len(c) <= 24 else c[:23] + "…" for c in g.stock_clauses]
        said = f"答复只有{_quoted(found, 2)}这类固定用语" if found else "答复几乎没有内容"
        missing = "办理结果" if g.stock["transfer"] or g.stock["promise"] else "对诉求的答复"
        out.append(Flag("boilerplate", f"{said}，没有写明做了什么、查明了什么、结果如何（缺少{missing}）。"))
        return out  # a reply with nothing in it neither addresses the request nor needs a basis: one flag says it
    if len(g.key_terms) >= OFF_TOPIC_MIN_TERMS and not g.named_terms:
        out.append(Flag("off_topic", f"答复没有提到诉求中的{_quoted(g.key_terms, 5)}等任何一项"
                                     f"（诉求的 {len(g.key_terms)} 个关键词一个也没有提到），请核对是否答复了本件诉求。"))
    if (g.refusal or g.asks_for_basis) and not (g.law or g.fact):
        if g.refusal:
            why = f"答复作出了否定或不予办理的结论（{_quoted(g.refusal, 2)}）"
        else:
            why = "诉求问的是政策规定或是否合法合规"
        out.append(Flag("no_basis", f"{why}，但没有引用法律法规、政策文件，也没有说明查明的事实或理由。"))
    return out


def check_reply(reply: str, *, title: str | None = None, content: str | None = None) -> ReplyCheck:
    """The check of one reply to one request (pure: no database)."""
    reading = read_reply(reply, title=title, content=content)
    return ReplyCheck(flags=tuple(flags_of(reading)), score=model().probability(feature_vector(reading)))


def rules_score(reading: Reading) -> float:
    """The rules alone as a ranking (no trained weights): fewer flags is better, boilerplate worst. For the bench."""
    codes = [f.code for f in flags_of(reading)]
    if "boilerplate" in codes:
        return 0.0
    return 1.0 - 0.25 * len(codes)


def check_order_reply(order, reply: str) -> dict | None:
    """The check of a 工单's reply for its audit event, or None when the check itself fails (it never blocks)."""
    try:
        return check_reply(reply, title=order.title, content=order.content).as_data()
    except Exception:  # a warning tool must not stop a reply
        log.exception("reply-quality check failed for %s", getattr(order, "number", "?"))
        return None


# -- the API's view --------------------------------------------------------------------------------------------


class ReplyFlagRead(BaseModel):
    code: str
    label: str
    reason: str


class ReplyCheckRead(BaseModel):
    """The reply-quality check of an order's current reply: a warning for the approver; it blocks nothing."""

    flags: list[ReplyFlagRead]
    score: float  # 0–1: how likely the reply is substantive (trained on one team's label; see docs/reply_quality.md)

    @classmethod
    def of(cls, check: ReplyCheck) -> ReplyCheckRead:
        return cls(flags=[ReplyFlagRead(code=f.code, label=f.label, reason=f.reason) for f in check.flags],
                   score=round(check.score, 3))


# Who sees the check in OrderRead: the roles that approve or reject replies (and admin), and the replying unit.
CHECK_READERS = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


def may_see_check(order, actor: Actor) -> bool:
    if actor.is_system or actor.roles & CHECK_READERS:
        return True
    return (Role.UNIT_STAFF in actor.roles and actor.unit_id is not None
            and actor.unit_id == order.handling_unit_id)


def reply_check_read(order, actor: Actor) -> ReplyCheckRead | None:
    """OrderRead's ``reply_check``: the check of the order's current reply, computed on read (the same rules and
    model as the one recorded with the reply's audit event, unless they were changed since)."""
    if not order.reply_content or not may_see_check(order, actor):
        return None
    try:
        return ReplyCheckRead.of(check_reply(order.reply_content, title=order.title, content=order.content))
    except Exception:  # a warning tool must not break reading the order
        log.exception("reply-quality check failed for %s", getattr(order, "number", "?"))
        return None
