"""热点 (hotspots, issue 6 part 3; R-1004, R-1005, R-1009): two kinds, each naming its members, place, time
window and why it fired, with a score to rank by. Definitions and measured figures: docs/hotspots.md.

**Rises (激增)**: the orders of one kind of matter (the category an order was registered with) in one district
(区县, the 属地 rolled up) in a rolling 24-hour window, against that pair's OWN counts in the 28 such windows
before. The baseline mean is ``(S + 0.5) / 28`` (S: the 28 windows' total; the 0.5 keeps a pair never seen
before from dividing by nothing); when the 28 counts vary more than a Poisson count would (variance > mean), the
tail is the negative binomial's with that mean and variance, else Poisson's. A window fires when it holds at
least ``RISE_MIN_COUNT`` orders, at least ``RISE_MIN_RATIO`` times the mean, and the chance of at least that many
under the baseline is at most ``RISE_ALPHA``. Firing windows of one pair that touch or overlap are one hotspot
(the seed's scenic-spot complaints on 初二–初四 are one, spanning three days).

**Clusters (聚集)**: similar recent requests about one matter, found by text and place:

* text: character 2-grams of the title (twice) and the first ``DETAIL_CHARS`` characters of the text,
  normalised as triage does (``triage.text.normalize``), with the place names and administrative prefixes
  taken out ("what", not "where"); TF-IDF (sublinear tf, hashed into ``FEATURES`` columns), cosine;
* place: names of 小区, schools, hospitals, roads, villages … taken from the title, the start of the text and
  the address (``extract_places``); two requests share a place when one name ends with the other (万科魅力之城 /
  魅力之城), weighted by how much of the longer name the shorter covers; the registered 属地 (a town) counts as a
  coarse place;
* candidate pairs come only from requests sharing a place name and from MinHash LSH buckets over the text's
  2-grams (near-copies), so the work grows with the pairs that can match, not with n²;
* an edge joins two requests when ``text + PLACE_WEIGHT·place ≥ EDGE_WITH_PLACE`` for a shared place, or
  ``text ≥ EDGE_TEXT_ONLY`` without one; each connected part is then cut by average linkage at
  ``LINKAGE_CUT`` (every member must be similar to the group on average, not just chained through one
  neighbour); groups with at least ``CLUSTER_MIN_SIZE`` requests are clusters.

A cluster's score: distinct reporters + ``REPEAT_WEIGHT`` × repeat postings of the same reporter +
``LIKE_WEIGHT`` × log2(1 + 点赞) + ``GROWTH_WEIGHT`` × the members of the last 24 hours of the window.

Two entry points: ``find_hotspots(records, …)``, a pure function over plain records (what the 附件3 check and
bench/hotspots.py measure), and ``site_hotspots(ctx, actor, period)`` over this site's 工单 (the API and the
大屏).
"""

from __future__ import annotations

import math
import re
import threading
import time as _time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np
from pydantic import BaseModel
from scipy import sparse
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse.csgraph import connected_components
from scipy.stats import nbinom, poisson

from civiclink.analytics.service import CountRead, HotspotRead
from civiclink.triage.text import normalize

# -- parameters (docs/hotspots.md says how they were chosen) -----------------------------------------------------

RISE_WINDOW = timedelta(hours=24)
RISE_BASELINE_WINDOWS = 28
RISE_MIN_COUNT = 3
RISE_MIN_RATIO = 2.0
RISE_ALPHA = 1e-3
RISE_PRIOR = 0.5

DETAIL_CHARS = 60  # the start of a request says what it is about …
PLACE_CHARS = 150  # … and where
TITLE_REPEAT = 2
FEATURES = 1 << 20
MAX_DF_SHARE = 0.2  # 2-grams in more than this share of the requests (and more than 50) say nothing
PLACE_BONUS = 0.3  # added to the text similarity of two requests naming the same place
COARSE_BONUS = 0.1  # … the same town, street or registered 属地 only (an area, not one spot)
PLACE_CONFLICT = 1.0  # taken off when both name specific places and none is shared: never the same hotspot
PLACE_AGREE = 0.5  # a shared name must cover at least half of the longer name (经济学院 / 涉外经济学院: 4/6)
EDGE = 0.35  # combined similarity of an edge: text ≥ 0.1 with the same place, ≥ 0.4 without, 0.6 across places
LINKAGE_CUT = 0.35  # … and the average combined similarity within a cluster
CLUSTER_MIN_SIZE = 3
CLUSTER_MIN_REPORTERS = 2  # one caller calling again and again is a repeat (R-1004), not a hotspot
PLACE_KEY_MAX_SHARE = 0.02  # a name in more than 2 % of the requests (and more than 50) is no place
PLACE_BLOCK_MAX = 1500  # a shared name with more requests is compared in its most recent ones only
LSH_BANDS, LSH_ROWS = 8, 2  # 2-gram Jaccard 0.5 meets in a band with p ≈ 0.9; 0.3 with p ≈ 0.53
LSH_BUCKET_MAX = 200
COMPONENT_MAX = 2500
REPEAT_WEIGHT = 0.25
LIKE_WEIGHT = 1.0
GROWTH_WEIGHT = 1.0
RECENT = timedelta(hours=24)
MEMBERS_SHOWN = 50

# -- place names -------------------------------------------------------------------------------------------------

# What a place name ends with: estates, schools, hospitals, roads, villages, stations … (longest first).
_KIND_WORDS = """小区 花园 家园 公寓 新村 新城 苑 府 郡 湾 城 园 山庄 大厦 广场 商城 公馆 华庭 名城 小镇
    学院 大学 中学 小学 学校 幼儿园 一中 二中 三中 四中 五中 六中 七中 八中 九中 职校 医院 卫生院 诊所
    公园 景区 市场 工厂 酒店 宾馆 车站 地铁站 号线 高速 立交 大桥 桥 隧道 码头 机场
    路 街 大道 大街 巷 镇 乡 村 社区 街道"""
PLACE_KINDS = sorted(_KIND_WORDS.split(), key=len, reverse=True)
_KIND = re.compile("|".join(map(re.escape, PLACE_KINDS)))
_ROAD_KINDS = ("大道", "大街", "路", "街", "巷", "弄")
_DROP_SUFFIX = ("小区",)  # 魅力之城小区 and 魅力之城 are the same place
_NAME_CHAR = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_ADMIN = re.compile(r"[A-Z][0-9]{0,2}[省市区县]|[\u4e00-\u9fff]{1,4}?[省市县]|[\u4e00-\u9fff]{2,3}区")
_STOP_CHARS = set("的在是了和与及对向到于从给把被让请问为我你他她这那该本个些住有位近旁处关都也还就又将去来往至距离建"
                  "买卖搞开设修办要说称叫由因而但并或等着挨")
_STOP_WORDS = ("反映", "投诉", "举报", "建议", "希望", "要求", "关于", "位于", "附近", "周边", "旁边", "对面", "门口",
               "楼下", "居民", "业主", "整个", "其他", "所在", "所有", "各个", "一个", "这个", "那个", "咨询", "请问",
               "尽快", "市民", "导致", "造成", "影响", "目前", "现在", "已经", "我们", "你们", "他们", "政府")
_GENERIC = {"我们", "周边", "附近", "所在", "这个", "那个", "本市", "全市", "市区", "城区", "农村", "新建", "老旧",
            "高档", "安置", "城市", "地铁", "高铁", "公交", "马路", "道路", "公路", "小区", "学校", "医院", "社区",
            "街道", "公司", "物业", "工厂", "市场", "车站", "酒店", "广场", "公园", "大学", "中学", "小学", "幼儿园",
            "该小区", "本小区", "我小区", "各小区", "开发商", "房地产", "有限", "一号", "二号", "三号"}
_NOT_NAMES = {"校园", "家庭", "政府", "马路", "公路", "铁路", "线路", "道路", "网站", "车站", "公园里", "田园", "菜园", "果园", "乐园", "花园里"}
NAME_MAX = 6  # characters before the kind: longer runs are cut to their last six
_RUN_BEFORE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]+$")
_PHASE = re.compile(r"[一二三四五六七八九十0-9]+[期栋区号]$")
_AREA = re.compile("街道|社区|镇|乡|村")
_ROAD = re.compile("|".join(sorted((*_ROAD_KINDS, "街道", "社区", "镇", "乡", "村"), key=len, reverse=True)))
_STOP = re.compile("|".join(map(re.escape, _STOP_WORDS)) + "|[" + "".join(sorted(_STOP_CHARS)) + "]")


def extract_places(text: str) -> list[str]:
    """Place names in ``text`` (already normalised), most specific form, in order of appearance.

    A name is a run of up to six Chinese/ASCII characters before a place kind (小区, 学院, 路, 村 …), trimmed on
    the left after an administrative prefix (A市, 崇川区), after a road when the name is not itself a road
    (劳动东路魅力之城 → 魅力之城), after a function word (在, 的, 关于 …); "小区" is dropped (魅力之城小区 →
    魅力之城). Generic words (我们小区, 学校) are not names. Deterministic: the same place written the same way
    always gives the same name, which is what matching needs."""
    out: list[str] = []
    for m in _KIND.finditer(text):
        kind, start = m.group(0), m.start()
        run = _RUN_BEFORE.search(text, max(0, start - 12), start)
        if run is None or text[start - 1:start + len(kind)] in _NOT_NAMES:
            continue
        name = run.group(0)
        cut = 0
        for a in _ADMIN.finditer(name):
            if a.end() < len(name):
                cut = a.end()
        for r in (_AREA if kind in _ROAD_KINDS else _ROAD).finditer(name):
            if len(name) - r.end() >= 2:
                cut = max(cut, r.end())  # 劳动东路|魅力之城, 和平桥街道|人民中路
        for w in _STOP.finditer(name, cut):
            cut = max(cut, w.end())  # 去工厂, 在学校, 关于…: what follows the last one is the name, if any
        core = _PHASE.sub("", name[cut:])[-NAME_MAX:]  # 绿地海外滩二期小区 is 绿地海外滩
        if len(core) < 2 or core in _GENERIC or _ADMIN.fullmatch(core) or core.isdigit() or core[-1] == "政":
            continue
        full = core if kind in _DROP_SUFFIX else core + kind
        if full not in _GENERIC:
            out.append(full)
    return list(dict.fromkeys(out))


def _mask(text: str, names: Iterable[str]) -> str:
    """The text without its place names and administrative prefixes: what it is about, not where."""
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    return _ADMIN.sub(" ", text)


# -- records and results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One request as the pure functions see it: ``place`` is the registered 属地 or address (optional),
    ``category`` the kind of matter (optional), ``likes`` the support count (点赞) where the source has one,
    ``reporter`` who sent it (a caller or user id; repeat postings of one reporter count less)."""

    id: str
    text: str
    title: str = ""
    time: datetime | None = None
    place: str | None = None
    category: str | None = None
    likes: int = 0
    reporter: str | None = None


@dataclass
class Cluster:
    members: list[str]  # record ids, most representative first
    label: str  # the title (or text start) of the most representative member
    place: str | None  # the place name most members share, or the commonest 属地
    places: list[str]  # every shared place name, commonest first
    start: datetime | None
    end: datetime | None
    size: int
    reporters: int
    likes: int
    recent: int  # members in the last ``RECENT`` of the window
    category: str | None
    score: float
    reason: str
    cohesion: float  # mean similarity of the members to each other


@dataclass
class Rise:
    key: tuple  # (category, place) as given
    category: str | None
    place: str | None
    start: datetime  # the first firing window's start
    end: datetime  # the last firing window's end
    count: int  # requests in the firing windows
    peak: int  # the largest one window
    expected: float  # the baseline mean of one window (at the peak)
    p_value: float  # the tail probability of the peak
    windows: int  # firing windows merged
    baseline_total: int = 0  # the pair's count in the 28 windows before the peak
    members: list[str] = field(default_factory=list)
    score: float = 0.0
    reason: str = ""


# -- rises -------------------------------------------------------------------------------------------------------


def tail_probability(count: int, baseline: Sequence[int] | np.ndarray) -> tuple[float, float]:
    """P(X ≥ count) under the baseline counts' distribution, and its mean: negative binomial when the baseline
    varies more than Poisson (variance > mean), else Poisson; mean = (sum + RISE_PRIOR) / len."""
    base = np.asarray(baseline, dtype=float)
    n = max(len(base), 1)
    mean = (float(base.sum()) + RISE_PRIOR) / n
    var = float(base.var(ddof=1)) if len(base) > 1 else 0.0
    if count <= 0:
        return 1.0, mean
    if var > mean:
        r = mean * mean / (var - mean)
        return float(nbinom.sf(count - 1, r, r / (r + mean))), mean
    return float(poisson.sf(count - 1, mean)), mean


def rise_fires(count: int, baseline: Sequence[int] | np.ndarray) -> tuple[bool, float, float]:
    p, mean = tail_probability(count, baseline)
    fired = count >= RISE_MIN_COUNT and count >= RISE_MIN_RATIO * mean and p <= RISE_ALPHA
    return fired, p, mean


def detect_rises(series: dict[tuple, np.ndarray], starts: Sequence[datetime], tested_from: int) -> list[Rise]:
    """Rises in count series of consecutive 24-hour windows: ``series[key][i]`` counts window i, which starts at
    ``starts[i]``; windows ``tested_from`` … end are tested, each against the ``RISE_BASELINE_WINDOWS`` before
    it — a window that follows a firing one keeps the baseline from before the rise began, so that the rise does
    not become its own baseline. Firing windows of one key that follow each other are one rise. Keys are
    (category, place)."""
    found: list[Rise] = []
    for key, counts in series.items():
        counts = np.asarray(counts)
        current: Rise | None = None
        run_start = 0  # the first window of the rise going on: later windows keep the baseline before it
        for i in range(tested_from, len(counts)):
            k = int(counts[i])
            fired, p, mean = False, 1.0, 0.0
            first = run_start if current is not None else i
            base = counts[max(0, first - RISE_BASELINE_WINDOWS):first]
            if k >= RISE_MIN_COUNT:
                fired, p, mean = rise_fires(k, base)
            if not fired:
                if current is not None:
                    found.append(current)
                    current = None
                continue
            start = starts[i]
            end = starts[i + 1] if i + 1 < len(starts) else start + RISE_WINDOW
            base_total = int(base.sum())
            if current is None:
                run_start = i
            if current is not None and start <= current.end:
                current.end = end
                current.windows += 1
                current.count += k
                if k > current.peak or (k == current.peak and p < current.p_value):
                    current.peak, current.expected, current.p_value = k, mean, p
                    current.baseline_total = base_total
            else:
                if current is not None:
                    found.append(current)
                current = Rise(key=key, category=key[0], place=key[1], start=start, end=end, count=k, peak=k,
                               expected=mean, p_value=p, windows=1, baseline_total=base_total)
        if current is not None:
            found.append(current)
    for r in found:
        r.score = round(min(30.0, -math.log10(max(r.p_value, 1e-30))) + (r.peak - r.expected), 2)
    found.sort(key=lambda r: (-r.score, r.start, str(r.key)))
    return found


def rises_from_records(records: Sequence[Record], end: datetime, days: int) -> list[Rise]:
    """Rises among ``records`` (each with a time, a category and a place) in the ``days`` rolling 24-hour
    windows ending at ``end``, each against the 28 before it. Members: the ids in the merged windows."""
    starts = [end - RISE_WINDOW * (days + RISE_BASELINE_WINDOWS - i) for i in range(days + RISE_BASELINE_WINDOWS)]
    origin = starts[0]
    series: dict[tuple, np.ndarray] = {}
    by_key: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        if r.time is None or r.category is None or r.place is None or not (origin <= r.time < end):
            continue
        i = int((r.time - origin) / RISE_WINDOW)
        key = (r.category, r.place)
        series.setdefault(key, np.zeros(len(starts), dtype=np.int64))[i] += 1
        by_key[key].append(r)
    rises = detect_rises(series, starts, RISE_BASELINE_WINDOWS)
    for rise in rises:
        rise.members = [r.id for r in sorted(by_key[rise.key], key=lambda r: r.time or origin)
                        if rise.start <= r.time < rise.end]
        rise.count = len(rise.members)
        rise.reason = rise_reason(rise)
    return rises


def rise_reason(rise: Rise, tz=None) -> str:
    span_text = f"{_when(rise.start, tz, hour=True)}至{_when(rise.end, tz, hour=True)}，"
    what = f"「{rise.category}」" if rise.category else "此类诉求"
    where = f"在{rise.place}" if rise.place else ""
    if rise.windows > 1:
        span = f"连续 {rise.windows} 个24小时窗口超出常态，共 {rise.count} 件；峰值"
    else:
        span = ""
    daily = rise.baseline_total / RISE_BASELINE_WINDOWS
    return (f"{span_text}{what}{where}{span}24小时内 {rise.peak} 件，前{RISE_BASELINE_WINDOWS}日平均每日 {daily:.2f} 件，"
            f"按其自身基线出现这么多的概率 {_p_text(rise.p_value)}（阈值：至少 {RISE_MIN_COUNT} 件、达到日均 "
            f"{RISE_MIN_RATIO:g} 倍、概率不超过 {RISE_ALPHA:g}）")


def _p_text(p: float) -> str:
    return "小于 0.000001" if p < 1e-6 else f"约 {p:.2g}"


# -- text features -----------------------------------------------------------------------------------------------

_HASH_A = np.uint64(0x9E3779B97F4A7C15)
_rng = np.random.default_rng(61)
_MH_A = _rng.integers(0, 1 << 63, LSH_BANDS * LSH_ROWS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_MH_B = _rng.integers(0, 1 << 63, LSH_BANDS * LSH_ROWS, dtype=np.uint64)


def _bigram_rows(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For all texts at once: the hashed character 2-gram (column, row) of every adjacent pair of name characters
    (Chinese, letters, digits; a space or punctuation breaks a pair). Vectorised: one pass of numpy over the
    joined code points."""
    joined = "\x00".join(texts) + "\x00"
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    seps = np.flatnonzero(cps == 0)
    row_of = np.zeros(len(cps), dtype=np.int64)
    row_of[seps[:-1] + 1] = 1
    row_of = np.cumsum(row_of)
    ok = ((cps >= 0x4E00) & (cps <= 0x9FFF)) | ((cps >= 0x30) & (cps <= 0x39)) | ((cps >= 0x41) & (cps <= 0x5A)) \
        | ((cps >= 0x61) & (cps <= 0x7A))
    pair = ok[:-1] & ok[1:]
    idx = np.flatnonzero(pair)
    with np.errstate(over="ignore"):
        code = (cps[idx] << np.uint64(21)) | cps[idx + 1]
        cols = ((code * _HASH_A) >> np.uint64(44)).astype(np.int64)  # 20 bits
    return cols, row_of[idx]


def tfidf(texts: Sequence[str]) -> sparse.csr_matrix:
    """Hashed character 2-gram TF-IDF rows (sublinear tf, smooth idf, L2-normalised); 2-grams in more than
    ``MAX_DF_SHARE`` of the texts (and in a single text) are dropped."""
    n = len(texts)
    cols, rows = _bigram_rows(texts)
    m = sparse.csr_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(n, FEATURES))
    m.sum_duplicates()
    df = np.bincount(m.indices, minlength=FEATURES)
    keep = (df >= 2) & (df <= max(50, MAX_DF_SHARE * n))
    idf = np.log((1 + n) / (1 + df)).astype(np.float32) + 1
    m.data = (1 + np.log(m.data)) * idf[m.indices] * keep[m.indices]
    m.eliminate_zeros()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ m)


def _minhash_bands(x: sparse.csr_matrix) -> np.ndarray:
    """LSH band keys (rows × LSH_BANDS) of each row's set of 2-gram columns — the multiply-shift MinHash of
    ``triage.duplicates``, vectorised over a batch; an empty row gets keys no other row has."""
    n = x.shape[0]
    out = np.zeros((n, LSH_BANDS), dtype=np.uint64)
    nonempty = np.diff(x.indptr) > 0
    starts = x.indptr[:-1][nonempty]
    h = x.indices.astype(np.uint64)
    sig = np.empty((LSH_BANDS * LSH_ROWS, int(nonempty.sum())), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(LSH_BANDS * LSH_ROWS):
            sig[k] = np.minimum.reduceat((_MH_A[k] * h + _MH_B[k]) >> np.uint64(32), starts) if len(starts) else []
        mix = np.array([1, 1_000_003], dtype=np.uint64)[:LSH_ROWS]
        bands = (sig.reshape(LSH_BANDS, LSH_ROWS, -1) * mix[None, :, None]).sum(axis=1) * _HASH_A
        bands ^= np.arange(LSH_BANDS, dtype=np.uint64)[:, None]
    out[nonempty] = bands.T
    empty = np.flatnonzero(~nonempty)
    out[empty] = (np.uint64(1) << np.uint64(63)) + empty.astype(np.uint64)[:, None] * np.uint64(LSH_BANDS) \
        + np.arange(LSH_BANDS, dtype=np.uint64)[None, :]
    return out


# -- clusters ----------------------------------------------------------------------------------------------------

# Names of areas rather than spots: sharing one says "the same neighbourhood", not "the same place".
AREA_KINDS = ("街道", "镇", "乡", "社区")


@dataclass
class _Prepared:
    records: list[Record]
    x: sparse.csr_matrix  # matter vectors
    names: list[list[str]]  # place names per record (specific and areas)
    specific: np.ndarray  # bool per record: its title or address names a specific place
    key_rows: np.ndarray  # (key id, record, name length; -1 for an area) per place key of a record
    keys: list[str]
    spots: sparse.csr_matrix  # record × key: the length of the record's name ending with a specific key
    areas: sparse.csr_matrix  # record × key: 1 where the record names an area key


_extract_cached = lru_cache(maxsize=1 << 16)(lambda text: tuple(extract_places(text)))


def _prepare(records: Sequence[Record]) -> _Prepared:
    names, texts = [], []
    specific = np.zeros(len(records), dtype=bool)
    for i, r in enumerate(records):
        title, body = normalize(r.title), normalize(r.text)
        # The title (and the address) name what the request is about; the text may add places in passing.
        subject = _extract_cached(title) + (_extract_cached(normalize(r.place)) if r.place else ())
        found = list(dict.fromkeys(subject + tuple(extract_places(body[:PLACE_CHARS]))))
        names.append(found)
        specific[i] = any(not name.endswith(AREA_KINDS) for name in subject)
        texts.append(" ".join([_mask(title, found)] * TITLE_REPEAT + [_mask(body[:DETAIL_CHARS], found)]))
    x = tfidf(texts)
    # A key of a record: each of its names, and each ending of a name that some record uses as a whole name
    # (万科魅力之城 is also a 魅力之城 record).
    whole = {n for ns in names for n in ns}
    key_id: dict[str, int] = {}
    rows: list[tuple[int, int, int]] = []
    for i, ns in enumerate(names):
        mine: set[int] = set()
        for name in ns:
            area = name.endswith(AREA_KINDS)
            for k in range(3, len(name) + 1):
                suffix = name[-k:]
                if suffix in whole:
                    kid = key_id.setdefault(suffix, len(key_id))
                    if kid not in mine:
                        mine.add(kid)
                        rows.append((kid, i, -1 if area else len(name)))
    key_rows = np.array(rows, dtype=np.int64).reshape(-1, 3)
    keys = [""] * len(key_id)
    for k, v in key_id.items():
        keys[v] = k
    shape = (len(records), max(1, len(keys)))
    spot = key_rows[:, 2] > 0
    spots = sparse.csr_matrix((key_rows[spot, 2].astype(np.float32), (key_rows[spot, 1], key_rows[spot, 0])), shape)
    areas = sparse.csr_matrix((np.ones(int((~spot).sum()), np.float32), (key_rows[~spot, 1], key_rows[~spot, 0])),
                              shape)
    return _Prepared(list(records), x, names, specific, key_rows, keys, spots, areas)


_TRIU: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _triu(size: int) -> tuple[np.ndarray, np.ndarray]:
    if size not in _TRIU:
        _TRIU[size] = np.triu_indices(size, 1) if size > 200 else tuple(a.copy() for a in np.triu_indices(size, 1))
        if size > 200:
            return _TRIU.pop(size)
    return _TRIU[size]


def _gram(x: sparse.csr_matrix, members: np.ndarray) -> np.ndarray:
    """Dense cosine matrix of the rows ``members`` (rows are L2-normalised), over only the columns they use
    (a transpose over all 2^20 hashed columns would cost more than the product)."""
    xb = x[members]
    cols, inverse = np.unique(xb.indices, return_inverse=True)
    xc = sparse.csr_matrix((xb.data, inverse.ravel(), xb.indptr), shape=(len(members), max(1, len(cols))))
    return (xc @ xc.T).toarray()


def _blocks(key_rows: np.ndarray):
    """(key id, records, name lengths) per key with at least two records."""
    if not len(key_rows):
        return
    rows = key_rows[np.argsort(key_rows[:, 0], kind="stable")]
    bounds = np.flatnonzero(np.diff(rows[:, 0])) + 1
    for block in np.split(rows, bounds):
        if len(block) >= 2:
            yield int(block[0, 0]), block[:, 1], block[:, 2]


def _agreement(key: str, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """How far two records' names agree through a shared key: the share of the longer name the key covers
    (魅力之城 / 万科魅力之城 → 4/6); through an area: -1 (an area is never "the same place")."""
    area = (la < 0) | (lb < 0)
    longer = np.maximum(np.maximum(la, lb), len(key))
    return np.where(area, -1.0, len(key) / longer).astype(np.float32)


def _bonus_of(agree: np.ndarray, conflict: np.ndarray) -> np.ndarray:
    """The place part of the similarity: +PLACE_BONUS for the same place, +COARSE_BONUS for the same area only,
    -PLACE_CONFLICT when both name specific places and none agrees."""
    same = agree >= PLACE_AGREE
    area = agree == -1.0
    return np.where(same, PLACE_BONUS, np.where(conflict, -PLACE_CONFLICT, np.where(area, COARSE_BONUS, 0.0)))


def _pair_bonus(prep: _Prepared, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The place part of the similarity of the pairs (a[k], b[k]), vectorised over the record × key matrices:
    the best agreement over the specific keys both have, else -1 when they share an area, else -2."""
    agree = np.full(len(a), -2.0, dtype=np.float32)
    if not len(a):
        return agree.astype(np.float32)
    shared_area = np.asarray(prep.areas[a].multiply(prep.areas[b]).sum(axis=1)).ravel() > 0
    agree[shared_area] = -1.0
    sa, sb = prep.spots[a], prep.spots[b]
    both = sa.multiply(sb)
    both.data[:] = 1
    longer = sa.maximum(sb).multiply(both).tocsr()
    longer.eliminate_zeros()
    if longer.nnz:
        key_len = np.array([len(k) for k in prep.keys], dtype=np.float32)
        cover = key_len[longer.indices] / np.maximum(longer.data, key_len[longer.indices])
        rows = np.repeat(np.arange(len(a)), np.diff(longer.indptr))
        best = np.full(len(a), -2.0, dtype=np.float32)
        np.maximum.at(best, rows, cover)
        has = best > -2
        agree[has] = np.maximum(agree[has], best[has])
    conflict = (agree < PLACE_AGREE) & prep.specific[a] & prep.specific[b]
    return _bonus_of(agree, conflict).astype(np.float32)


SMALL_BLOCK = 40  # blocks up to this size are compared pair by pair in one batch; larger ones as a matrix


def _pair_text(x: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the row pairs (a[k], b[k]), in batches."""
    out = np.empty(len(a), dtype=np.float32)
    step = 200_000
    for s in range(0, len(a), step):
        out[s:s + step] = np.asarray(x[a[s:s + step]].multiply(x[b[s:s + step]]).sum(axis=1)).ravel()
    return out


def _candidates(x: sparse.csr_matrix, blocks, threshold: float):
    """Pairs within each block (members, weights) whose text similarity + the pair's weight reaches
    ``threshold``: small blocks pair by pair in one batch, large ones through their cosine matrix. Yields
    (a, b, text, weight) arrays."""
    small_a, small_b, small_w = [], [], []
    for members, weight in blocks:
        a, b = _triu(len(members))
        w = weight(a, b)
        if len(members) <= SMALL_BLOCK:
            small_a.append(members[a])
            small_b.append(members[b])
            small_w.append(w)
            continue
        text = _gram(x, members)[a, b]
        ok = text + w >= threshold
        yield members[a[ok]], members[b[ok]], text[ok], w[ok]
    if small_a:
        a, b, w = np.concatenate(small_a), np.concatenate(small_b), np.concatenate(small_w)
        keep = w + 1.0 >= threshold
        a, b, w = a[keep], b[keep], w[keep]
        text = _pair_text(x, a, b)
        ok = text + w >= threshold
        yield a[ok], b[ok], text[ok], w[ok]


def _edges(prep: _Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs (records sharing a specific place name; records in one LSH bucket) that pass EDGE."""
    x, n = prep.x, prep.x.shape[0]
    limit = max(50, PLACE_KEY_MAX_SHARE * n)

    def place_blocks():
        for kid, members, lengths in _blocks(prep.key_rows):
            if len(members) > limit or (lengths < 0).all():
                continue  # a name this common (人民路 in a whole city) says little; areas alone say nothing
            if len(members) > PLACE_BLOCK_MAX:
                keep = np.sort(np.argsort(members)[-PLACE_BLOCK_MAX:])  # records in time order: the latest
                members, lengths = members[keep], lengths[keep]
            key = prep.keys[kid]
            yield members, (lambda a, b, lengths=lengths, key=key:
                            np.where(_agreement(key, lengths[a], lengths[b]) >= PLACE_AGREE, PLACE_BONUS, -9.0))

    def lsh_blocks():
        bands = _minhash_bands(x)
        for band in range(LSH_BANDS):
            order = np.argsort(bands[:, band], kind="stable")
            bounds = np.flatnonzero(np.diff(bands[order, band])) + 1
            for part in np.split(order, bounds):
                if len(part) >= 2:
                    # the most a shared place could add; the pair's own place part is checked below
                    yield np.sort(part)[-LSH_BUCKET_MAX:], lambda a, b: np.full(len(a), PLACE_BONUS)

    found_a, found_b = [], []
    for a, b, _text, _w in _candidates(x, place_blocks(), EDGE):
        found_a.append(a)
        found_b.append(b)
    lsh = [(a, b, t) for a, b, t, _w in _candidates(x, lsh_blocks(), EDGE)]
    if lsh:
        a, b, t = (np.concatenate(p) for p in zip(*lsh, strict=True))
        code, first = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_index=True)
        a, b, t = code // n, code % n, t[first]
        ok = t + _pair_bonus(prep, a, b) >= EDGE
        found_a.append(a[ok])
        found_b.append(b[ok])
    if not found_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(found_a).astype(np.int64), np.concatenate(found_b).astype(np.int64)


SMALL_PART = 60  # connected parts up to this size are scored in one batch


def _link(members: np.ndarray, condensed_sim: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Average linkage of one part from its condensed pair similarities: groups (most representative member
    first) whose members are similar on average, with their mean similarity."""
    size = len(members)
    labels = fcluster(linkage(np.clip(1 - condensed_sim, 0, None), "average"), 1 - LINKAGE_CUT, "distance")
    sim = np.zeros((size, size), dtype=np.float32)
    a, b = _triu(size)
    sim[a, b] = condensed_sim
    sim += sim.T
    out = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        if len(idx) < CLUSTER_MIN_SIZE:
            continue
        sub = sim[np.ix_(idx, idx)]
        cohesion = float(sub.sum() / (len(idx) * (len(idx) - 1)))
        order = idx[np.argsort(-sub.sum(axis=1), kind="stable")]
        out.append((members[order], cohesion))
    return out


def _groups(prep: _Prepared, parts: list[np.ndarray]) -> list[tuple[np.ndarray, float]]:
    """Average linkage within each connected part (``_link``): small parts with their pairs scored in one
    batch, large ones through their cosine matrix."""
    out: list[tuple[np.ndarray, float]] = []
    small = [p for p in parts if len(p) <= SMALL_PART]
    if small:
        a = np.concatenate([p[_triu(len(p))[0]] for p in small])
        b = np.concatenate([p[_triu(len(p))[1]] for p in small])
        sim = _pair_text(prep.x, a, b) + _pair_bonus(prep, a, b)
        start = 0
        for p in small:
            count = len(p) * (len(p) - 1) // 2
            out += _link(p, sim[start:start + count])
            start += count
    for p in parts:
        if len(p) > SMALL_PART:
            a, b = _triu(len(p))
            sim = _gram(prep.x, p)[a, b] + _pair_bonus(prep, p[a], p[b])
            out += _link(p, sim)
    return out


def find_clusters(records: Sequence[Record], *, now: datetime | None = None, min_size: int = CLUSTER_MIN_SIZE,
                  tz=None) -> list[Cluster]:
    """Clusters of similar requests among ``records`` (see the module docstring), best score first. ``now`` is
    the end of the window (the latest record's time when not given), for the "recent" part of the score."""
    records = list(records)
    if len(records) < 2:
        return []
    prep = _prepare(records)
    n = len(records)
    a, b = _edges(prep)
    graph = sparse.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    parts = [np.sort(p)[-COMPONENT_MAX:] for p in np.split(order, bounds) if len(p) >= min_size]
    groups = _groups(prep, parts)
    times = [r.time for r in records if r.time is not None]
    end = now or (max(times) if times else None)
    clusters = [_summarise(prep, members, cohesion, end, tz) for members, cohesion in groups
                if len(members) >= min_size]
    clusters = [c for c in clusters if c.reporters >= CLUSTER_MIN_REPORTERS]
    clusters.sort(key=lambda c: (-c.score, -c.size, c.members[0]))
    return clusters


def _summarise(prep: _Prepared, members: np.ndarray, cohesion: float, end: datetime | None, tz=None) -> Cluster:
    recs = [prep.records[int(m)] for m in members]
    size = len(recs)
    reporters = len({r.reporter for r in recs if r.reporter}) + sum(1 for r in recs if not r.reporter)
    likes = sum(max(0, r.likes or 0) for r in recs)
    times = sorted(r.time for r in recs if r.time is not None)
    recent = sum(1 for t in times if end is not None and t > end - RECENT)
    # the place: the name most members share (ties: the longer, more specific one)
    shared: Counter[str] = Counter()
    for m in members:
        for name in prep.names[int(m)]:
            shared[name] += 1
    merged: Counter[str] = Counter()
    for name in shared:
        # a name also counts the members whose name ends with it (万科魅力之城 counts for 魅力之城)
        merged[name] = sum(c for other, c in shared.items() if other.endswith(name))
    common = [(name, c) for name, c in merged.items() if c >= 2]
    common.sort(key=lambda nc: (-nc[1], -len(nc[0]), nc[0]))
    place = common[0][0] if common else None
    category = Counter(r.category for r in recs if r.category).most_common(1)
    label = (normalize(recs[0].title) or normalize(recs[0].text)[:30])[:60]
    score = reporters + REPEAT_WEIGHT * (size - reporters) + LIKE_WEIGHT * math.log10(1 + likes) \
        + GROWTH_WEIGHT * recent
    cluster = Cluster(
        members=[r.id for r in recs], label=label, place=place, places=[nc[0] for nc in common[:5]],
        start=times[0] if times else None, end=times[-1] if times else None, size=size, reporters=reporters,
        likes=likes, recent=recent, category=category[0][0] if category else None, score=round(score, 2),
        reason="", cohesion=round(cohesion, 3))
    cluster.reason = cluster_reason(cluster, tz)
    return cluster


def _when(moment: datetime | None, tz=None, *, hour: bool = False) -> str:
    if moment is None:
        return "?"
    local = moment.astimezone(tz) if tz is not None and moment.tzinfo else moment
    return f"{local.month}月{local.day}日" + (f"{local.hour}时" if hour else "") if local.year == _this_year(local) \
        else f"{local.year}年{local.month}月{local.day}日" + (f"{local.hour}时" if hour else "")


def _this_year(local: datetime) -> int:
    return datetime.now(local.tzinfo or UTC).year


def cluster_reason(c: Cluster, tz=None) -> str:
    where = f"在「{c.place}」" if c.place else ""
    first, last = _when(c.start, tz), _when(c.end, tz)
    span = first if first == last else f"{first}至{last}"
    parts = [f"{span}{where}有 {c.size} 件内容相近的诉求（{c.reporters} 位诉求人）：{c.label}"]
    if c.likes:
        parts.append(f"共 {c.likes} 个点赞")
    if c.recent:
        parts.append(f"最近24小时新增 {c.recent} 件")
    parts.append(f"（阈值：至少 {CLUSTER_MIN_SIZE} 件、{CLUSTER_MIN_REPORTERS} 位诉求人，内容相近"
                 f"{'且地点相同' if c.place else ''}）")
    return "，".join(parts[:-1]) + parts[-1]


# -- both kinds together -----------------------------------------------------------------------------------------


@dataclass
class Hotspots:
    rises: list[Rise]
    clusters: list[Cluster]
    seconds: float


def find_hotspots(records: Sequence[Record], *, end: datetime | None = None, days: int = 1) -> Hotspots:
    """Both kinds over plain records: rises in the ``days`` 24-hour windows ending at ``end`` (records with a
    time, category and place; the 28 days before are their baseline), and clusters among the records of those
    days (all records when ``end`` is None)."""
    t0 = _time.perf_counter()
    times = [r.time for r in records if r.time is not None]
    stop = end or (max(times) + timedelta(seconds=1) if times else None)
    rises = rises_from_records(records, stop, days) if stop is not None else []
    if end is not None:
        since = end - RISE_WINDOW * days
        recent = [r for r in records if r.time is not None and since <= r.time < end]
    else:
        recent = list(records)
    clusters = find_clusters(recent, now=stop)
    return Hotspots(rises, clusters, _time.perf_counter() - t0)



# -- this site's orders ------------------------------------------------------------------------------------------

PERIOD_DAYS = {"today": 1, "7d": 7, "30d": 30}  # "year": the days of this year so far (rises), 30 (clusters)
CLUSTER_MAX_DAYS = 30  # clusters are of recent requests: at most the last 30 days
ORDER_TEXT_CHARS = max(DETAIL_CHARS, PLACE_CHARS)
SLOW_SECONDS = 1.0  # a computation slower than this is reused for CACHE_SECONDS even if orders arrived since
CACHE_SECONDS = 300


class HotspotsRead(BaseModel):
    site_code: str
    period: str
    rises_start: datetime  # the rises tested: 24-hour windows ending at ``end``, back to here
    clusters_start: datetime  # the orders clustered: registered from here to ``end``
    end: datetime
    generated_at: datetime
    rises: list[HotspotRead]  # most significant first
    clusters: list[HotspotRead]  # best score first
    thresholds: dict[str, float]
    seconds: float


def thresholds() -> dict[str, float]:
    return {
        "rise_baseline_days": RISE_BASELINE_WINDOWS, "rise_min_count": RISE_MIN_COUNT,
        "rise_min_ratio": RISE_MIN_RATIO, "rise_alpha": RISE_ALPHA, "cluster_min_size": CLUSTER_MIN_SIZE,
        "edge": EDGE, "linkage_cut": LINKAGE_CUT, "place_bonus": PLACE_BONUS, "coarse_bonus": COARSE_BONUS,
    }


def rise_days(period: str, now: datetime, tz) -> int:
    if period in PERIOD_DAYS:
        return PERIOD_DAYS[period]
    local = now.astimezone(tz)
    return max(1, min(366, local.timetuple().tm_yday))


def _district_places(directory, district_id: int) -> list[int]:
    return list(directory.subtree_ids(directory.unit(district_id)))


def site_rises(session, directory, now: datetime, *, days: int = 1, limit: int | None = None,
               tz=None) -> list[HotspotRead]:
    """Rises among this site's 工单: (category as registered, district) pairs in the ``days`` 24-hour windows
    ending at ``now``, each window against the pair's 28 before it; with their members (order numbers)."""
    from sqlalchemy import func, select

    from civiclink.analytics.facts import RollUp
    from civiclink.analytics.service import _bucket_case
    from civiclink.workorders.models import WorkOrder

    total = days + RISE_BASELINE_WINDOWS
    starts = [now - RISE_WINDOW * (total - i) for i in range(total)]
    edges = [(s, i) for i, s in enumerate(starts)]
    # The window of each order computed in a subquery and grouped by its column (PostgreSQL would see the CASE's
    # bound times in SELECT and in GROUP BY as two different expressions).
    inner = select(WorkOrder.category_id.label("category_id"), WorkOrder.place_id.label("place_id"),
                   _bucket_case(WorkOrder.registered_at, edges, 0, len(edges)).label("bucket")).where(
        WorkOrder.registered_at >= starts[0], WorkOrder.registered_at < now,
        WorkOrder.category_id.is_not(None), WorkOrder.place_id.is_not(None)).subquery()
    rows = session.execute(
        select(inner.c.category_id, inner.c.place_id, inner.c.bucket, func.count())
        .group_by(inner.c.category_id, inner.c.place_id, inner.c.bucket)
    ).all()
    roll_up = RollUp(directory)
    series: dict[tuple, np.ndarray] = {}
    for category_id, place_id, index, n in rows:
        district = roll_up.district(place_id)
        if district is None or directory.category(category_id) is None:
            continue
        key = (int(category_id), district.id)
        series.setdefault(key, np.zeros(total, dtype=np.int64))[int(index)] += int(n)
    found = detect_rises(series, starts, RISE_BASELINE_WINDOWS)
    if limit is not None:
        found = found[:limit]
    out = []
    for rise in found:
        category, district = directory.category(rise.key[0]), directory.unit(rise.key[1])
        rise.category, rise.place = category.path_name, district.name
        where = [WorkOrder.category_id == category.id, WorkOrder.place_id.in_(_district_places(directory, district.id)),
                 WorkOrder.registered_at >= rise.start, WorkOrder.registered_at < rise.end]
        members = session.execute(select(WorkOrder.number).where(*where).order_by(WorkOrder.registered_at, WorkOrder.id)
                                  .limit(MEMBERS_SHOWN)).scalars().all()
        rise.reason = rise_reason(rise, tz)
        daily = rise.baseline_total / RISE_BASELINE_WINDOWS
        out.append(HotspotRead(
            kind="rise", title=category.path_name, category=CountRead(code=category.code, name=category.path_name,
                                                                       count=rise.count),
            place=CountRead(code=district.code, name=district.name, count=rise.count), start=rise.start,
            end=rise.end, count=rise.count, recent=rise.peak, baseline_total=rise.baseline_total,
            baseline_daily=round(daily, 2), ratio=round(rise.peak / daily, 1) if daily else None,
            p_value=float(f"{rise.p_value:.3g}"), score=rise.score, reason=rise.reason, members=list(members),
            members_total=rise.count))
    return out


def site_clusters(session, directory, now: datetime, *, days: int, limit: int | None = None,
                  tz=None) -> list[HotspotRead]:
    """Clusters among this site's 工单 registered in the ``days`` × 24 hours before ``now`` (title, the start of
    the text, the address or 属地, the caller as reporter); members are order numbers."""
    from sqlalchemy import func, select

    from civiclink.workorders.models import WorkOrder

    since = now - RISE_WINDOW * days
    rows = session.execute(
        select(WorkOrder.number, WorkOrder.title, func.substr(WorkOrder.content, 1, ORDER_TEXT_CHARS),
               WorkOrder.address, WorkOrder.place_id, WorkOrder.category_id, WorkOrder.registered_at,
               WorkOrder.caller_phone)
        .where(WorkOrder.registered_at >= since, WorkOrder.registered_at < now)
        .order_by(WorkOrder.registered_at, WorkOrder.id)
        .execution_options(yield_per=5000)
    )
    records = []
    for number, title, content, address, place_id, category_id, registered_at, phone in rows:
        unit = directory.unit(place_id)
        category = directory.category(category_id)
        records.append(Record(id=number, text=content or "", title=title or "", time=registered_at,
                              place=address or (unit.name if unit else None),
                              category=category.path_name if category else None, reporter=phone or None))
    clusters = find_clusters(records, now=now, tz=tz)
    if limit is not None:
        clusters = clusters[:limit]
    out = []
    for c in clusters:
        category = next((cat for cat in directory.categories.values() if cat.path_name == c.category), None) \
            if c.category else None
        out.append(HotspotRead(
            kind="cluster", title=c.label,
            category=CountRead(code=category.code, name=category.path_name, count=c.size) if category else None,
            place=CountRead(code=None, name=c.place, count=c.size) if c.place else None,
            start=c.start or since, end=c.end or now, count=c.size, recent=c.recent, reporters=c.reporters,
            cohesion=c.cohesion, score=c.score, reason=c.reason, members=c.members[:MEMBERS_SHOWN],
            members_total=c.size))
    return out


_cache: dict[tuple, tuple[float, float, HotspotsRead, tuple]] = {}
_cache_lock = threading.Lock()


def compute_site_hotspots(ctx, period: str, *, limit: int = 20) -> HotspotsRead:
    """Both kinds for the dashboard's ``period`` (today / 7d / 30d / year), ending at ``ctx.now``.

    Rises: the 24-hour windows of the period (today: 1, 7d: 7, 30d: 30, year: the days so far). Clusters: the
    orders of the last 1 / 7 / 30 / 30 days. Kept in memory per period while no order was registered, and for
    ``CACHE_SECONDS`` when a computation took more than ``SLOW_SECONDS`` (the 大屏 polls every minute)."""
    from sqlalchemy import func, select

    from civiclink.workorders.models import WorkOrder

    session, settings, now = ctx.session, ctx.settings, ctx.now
    days = rise_days(period, now, settings.tz)
    cluster_days = min(CLUSTER_MAX_DAYS, PERIOD_DAYS.get(period, CLUSTER_MAX_DAYS))
    # The newest 工单 (an index lookup, not a count of the table): a new registration recomputes.
    newest = session.execute(select(func.max(WorkOrder.id))).scalar_one()
    key = (str(session.get_bind().url), settings.site_code, period, limit)
    state = (newest, now.replace(second=0, microsecond=0))
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        made, seconds, value, seen = hit[0], hit[1], hit[2], hit[3]
        if seen == state or (seconds > SLOW_SECONDS and _time.monotonic() - made < CACHE_SECONDS
                             and abs((now - value.end).total_seconds()) < CACHE_SECONDS):
            return value
    t0 = _time.perf_counter()
    rises = site_rises(session, ctx.directory, now, days=days, limit=limit, tz=settings.tz)
    clusters = site_clusters(session, ctx.directory, now, days=cluster_days, limit=limit, tz=settings.tz)
    seconds = _time.perf_counter() - t0
    value = HotspotsRead(site_code=settings.site_code, period=period,
                         rises_start=now - RISE_WINDOW * days, clusters_start=now - RISE_WINDOW * cluster_days,
                         end=now, generated_at=now, rises=rises, clusters=clusters, thresholds=thresholds(),
                         seconds=round(seconds, 3))
    with _cache_lock:
        _cache[key] = (_time.monotonic(), seconds, value, state)
    return value


def site_hotspots(ctx, actor, period: str) -> HotspotsRead:
    """The API's hotspots: for readers of the dashboard (leaders, supervisors, admins: 403 otherwise), on a
    12345 site."""
    from civiclink.analytics.service import PERIODS, require_dashboard_reader
    from civiclink.errors import Invalid

    require_dashboard_reader(actor, ctx.settings.site_role)
    if ctx.settings.site_role != "hotline":
        raise Invalid("热点只在 12345 站点按工单统计", field="site")
    if period not in PERIODS:
        raise Invalid(f"统计周期只能是 {'、'.join(PERIODS)}", field="period")
    return compute_site_hotspots(ctx, period)
