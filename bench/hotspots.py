"""Hotspot benchmark (热点, issue 6 part 3): ``analytics.hotspots`` against simple baselines measured in the same run.

    .venv/bin/python bench/hotspots.py [--data /work/shared/data/teddy2020] [--orders 100000] [--repeat 3]
                                       [--seed 7] [--top 10]

1. 附件3 (4,326 messages of 第八届泰迪杯数据挖掘挑战赛 C题): ``find_clusters`` on every message (title, detail,
   time, 点赞数, 留言用户 as reporter). For each of the contest's two example clusters (IDs 360100–360109 and
   360110–360114, teddy2020/README.md) the cluster holding most of its IDs: its rank, its size, recall and
   precision against the gold IDs, and precision counting as correct the members that are copies of a gold
   message (the contest appended its examples as copies of earlier messages: another 留言编号 and user, the
   same time to the second, the same words but for the anonymised school name — ``triage.duplicates.
   similarity`` ≥ 0.6). Baselines, same input, same run: (a) exact-title grouping (normalised 留言主题, groups
   of 3 or more, largest first); (b) plain TF-IDF + threshold (scikit-learn char 2–3-gram TF-IDF of title + the
   first 300 characters, cosine ≥ 0.5, connected components of 3 or more, largest first). Wall time of each
   (median of --repeat), and ours ÷ baseline. Targets: both gold clusters among the top five, mostly whole.
2. Synthetic 100k: --orders requests over 30 days (each a real Teddy title and two sentences of other Teddy
   messages, with up to one replaced character per 20 as typos; a random 南通 town, one of 40 categories, a caller each), with
   three clusters of 25 requests planted in the last three days (one estate, school or road each; three
   wordings, different callers) and a rise of 40 in one (category, town) on the last day. Timed: the rises of
   the last two 24-hour windows (each against its 28 before: the data has 30 days) and the clusters over all
   the requests; whether the planted ones come out (rank, recall, precision); the exact-title baseline's time
   on the same set. The TF-IDF all-pairs baseline is not run at this size (n² pairs).

Nothing is copied into the repository; the data is read where it is. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from civiclink.analytics import hotspots as hs
from civiclink.triage.duplicates import similarity
from civiclink.triage.text import normalize

GOLD = {"魅力之城 (360100–360109)": {str(i) for i in range(360100, 360110)},
        "经济学院 (360110–360114)": {str(i) for i in range(360110, 360115)}}


def header(title: str) -> None:
    print(f"\n{'=' * 100}\n{title}\n{'=' * 100}", flush=True)


def parse_time(value: str) -> datetime:
    value = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            pass
    raise ValueError(value)


def teddy(path: Path) -> list[hs.Record]:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    return [hs.Record(id=r["留言编号"], title=r["留言主题"], text=r["留言详情"], time=parse_time(r["留言时间"]),
                      likes=int(r["点赞数"] or 0), reporter=r["留言用户"]) for r in rows]


def timed(fn, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, statistics.median(times)


# -- baselines ---------------------------------------------------------------------------------------------------


def exact_title_groups(records: list[hs.Record], min_size: int = 3) -> list[list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    likes: dict[str, int] = defaultdict(int)
    for r in records:
        key = normalize(r.title)
        groups[key].append(r.id)
        likes[key] += r.likes
    found = [(key, ids) for key, ids in groups.items() if len(ids) >= min_size]
    found.sort(key=lambda kv: (-len(kv[1]), -likes[kv[0]], kv[0]))
    return [ids for _, ids in found]


def tfidf_threshold_groups(records: list[hs.Record], threshold: float = 0.5, min_size: int = 3) -> list[list[str]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [normalize(r.title) + normalize(r.text)[:300] for r in records]
    x = TfidfVectorizer(analyzer="char", ngram_range=(2, 3), sublinear_tf=True, min_df=2).fit_transform(texts)
    sim = (x @ x.T).tocoo()
    keep = (sim.data >= threshold) & (sim.row != sim.col)
    graph = sparse.coo_matrix((np.ones(int(keep.sum())), (sim.row[keep], sim.col[keep])), shape=sim.shape)
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[str]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[int(label)].append(records[i].id)
    found = [ids for ids in groups.values() if len(ids) >= min_size]
    found.sort(key=lambda ids: (-len(ids), ids[0]))
    return found


# -- scoring -----------------------------------------------------------------------------------------------------


def score_gold(clusters: list[list[str]], records: list[hs.Record]) -> dict[str, dict]:
    by_id = {r.id: r for r in records}
    text = {r.id: normalize(r.title) + normalize(r.text) for r in records}
    out = {}
    for name, gold in GOLD.items():
        if not clusters:
            out[name] = {"rank": None, "size": 0, "recall": 0.0, "precision": 0.0, "precision_copies": 0.0}
            continue
        rank, best = max(enumerate(clusters), key=lambda kc: (len(set(kc[1]) & gold), -kc[0]))
        members = set(best)
        hit = members & gold
        if not hit:
            out[name] = {"rank": None, "size": 0, "recall": 0.0, "precision": 0.0, "precision_copies": 0.0}
            continue
        copies = {m for m in members for g in gold
                  if by_id[m].time == by_id[g].time and similarity(text[m], text[g]) >= 0.6}
        out[name] = {"rank": rank + 1, "size": len(members), "recall": len(hit) / len(gold),
                     "precision": len(hit) / len(members), "precision_copies": len(hit | copies) / len(members)}
    return out


def report(label: str, result: dict[str, dict], seconds: float) -> None:
    for name, r in result.items():
        rank = r["rank"] if r["rank"] is not None else "—"
        print(f"  {label:28s} {name:24s} rank {rank!s:>4}  size {r['size']:3d}  recall {r['recall']:.2f}  "
              f"precision {r['precision']:.2f}  (copies counted {r['precision_copies']:.2f})")
    print(f"  {label:28s} wall time {seconds:.3f} s")


def section_teddy(args) -> None:
    path = Path(args.data) / "附件3.csv"
    header(f"1. 附件3 ({path})")
    if not path.exists():
        print(f"  {path} not present: skipped")
        return
    records = teddy(path)
    print(f"  {len(records)} messages, {sum(r.likes for r in records)} 点赞, "
          f"{len({r.reporter for r in records})} users; median of {args.repeat} runs each")
    ours, t_ours = timed(lambda: hs.find_clusters(records), args.repeat)
    ours_ids = [c.members for c in ours]
    titles, t_titles = timed(lambda: exact_title_groups(records), args.repeat)
    plain, t_plain = timed(lambda: tfidf_threshold_groups(records), args.repeat)
    r_ours, r_titles, r_plain = (score_gold(c, records) for c in (ours_ids, titles, plain))
    print(f"\n  clusters found: ours {len(ours)}, exact title {len(titles)}, TF-IDF ≥ 0.5 {len(plain)}")
    report("ours (find_clusters)", r_ours, t_ours)
    report("baseline: exact title", r_titles, t_titles)
    report("baseline: TF-IDF ≥ 0.5", r_plain, t_plain)
    print(f"\n  time ratio ours ÷ exact title {t_ours / t_titles:.1f}×, ours ÷ TF-IDF {t_ours / t_plain:.2f}×")
    for name in GOLD:
        o, b = r_ours[name], r_plain[name]
        print(f"  {name}: recall ours {o['recall']:.2f} vs TF-IDF {b['recall']:.2f} vs title "
              f"{r_titles[name]['recall']:.2f}; rank ours {o['rank']} vs TF-IDF {b['rank']} vs title "
              f"{r_titles[name]['rank']}")
    ok = all(r["rank"] is not None and r["rank"] <= 5 for r in r_ours.values())
    print(f"  target: both gold clusters among the top five: {'MET' if ok else 'MISSED'}")
    print(f"\n  our top {args.top}:")
    for k, c in enumerate(ours[:args.top], 1):
        print(f"  {k:3d}. score {c.score:6.2f}  {c.size:3d} msgs  {c.reporters:3d} users  {c.likes:5d} likes  "
              f"place {c.place or '—'}  | {c.label[:40]}")


# -- synthetic ---------------------------------------------------------------------------------------------------

TOWNS = ["崇川区和平桥街道", "崇川区任港街道", "崇川区唐闸镇街道", "通州区金沙街道", "海门区三星镇", "如皋市城南街道",
         "启东市汇龙镇", "海安市城东镇", "如东县掘港街道", "开发区竹行街道"]
CATEGORIES = [f"类{i:02d}" for i in range(40)]
PLANTED = {
    "翠湖花园": [("翠湖花园小区垃圾站臭味扰民", "翠湖花园小区门口垃圾站臭气熏天，清运不及时，夏天苍蝇多。"),
             ("投诉翠湖花园垃圾中转站", "翠湖花园垃圾中转站离住宅楼太近，异味很重，请求搬迁。"),
             ("翠湖花园垃圾站恶臭", "翠湖花园小区垃圾站污水横流，恶臭难闻，多次反映无人处理。")],
    "实验小学": [("实验小学门口上下学拥堵", "每天早上实验小学门口接送车辆乱停，交通拥堵，孩子过马路很危险。"),
             ("实验小学周边交通混乱", "实验小学放学时段门口道路堵死，希望交警安排疏导。"),
             ("建议实验小学门口设置护学岗", "实验小学门口车辆乱停严重，存在安全隐患，建议设置护学岗。")],
    "星港路": [("星港路夜间施工噪音扰民", "星港路工地每天夜里施工到凌晨两点，噪音太大无法入睡。"),
            ("投诉星港路工地夜间施工", "星港路沿线工地深夜打桩，严重影响周边居民休息。"),
            ("星港路晚上施工太吵", "星港路施工噪音扰民，晚上十二点以后还在作业，请查处。")],
}


def synthetic(args) -> tuple[list[hs.Record], datetime, dict[str, set[str]], set[str]]:
    rng = random.Random(args.seed)
    titles, sentences = [], []
    for name in ("附件3.csv", "附件2_全字段_合并.csv", "附件4.csv", "测试数据_无标签_2801.csv"):
        path = Path(args.data) / name
        if path.exists():
            for r in csv.DictReader(path.open(encoding="utf-8")):
                titles.append(r["留言主题"])
                sentences += [p for p in re.split(r"(?<=[。！？])", normalize(r["留言详情"])) if len(p) > 8]
    if not titles:
        titles = [f"诉求{i}" for i in range(5000)]
        sentences = [f"这是第{i}句内容，反映的问题各不相同。" for i in range(20000)]
    filler = "的了是在我有和人这中大为上个"

    def edit(text: str) -> str:
        """Typos: up to one replaced character per 20."""
        chars = list(text)
        for _ in range(rng.randint(0, max(1, len(chars) // 20))):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice(filler)
        return "".join(chars)

    def background() -> tuple[str, str]:
        # a real title and two sentences of other messages: mostly unrelated requests, as in a real month
        return edit(rng.choice(titles)), edit("".join(rng.sample(sentences, 2)))

    end = datetime(2026, 2, 1, tzinfo=UTC)
    records = []
    for k in range(args.orders):
        title, text = background()
        records.append(hs.Record(id=f"s{k}", title=edit(title), text=edit(text), place=rng.choice(TOWNS),
                                 category=rng.choice(CATEGORIES), time=end - timedelta(seconds=rng.random() * 30 * 86400),
                                 reporter=f"1{rng.randrange(10 ** 10):010d}"))
    planted: dict[str, set[str]] = {}
    for name, variants in PLANTED.items():
        ids = set()
        for k in range(25):
            title, text = variants[k % len(variants)]
            rid = f"{name}-{k}"
            ids.add(rid)
            records.append(hs.Record(id=rid, title=edit(title), text=edit(text), place=rng.choice(TOWNS),
                                     category=rng.choice(CATEGORIES), reporter=f"p{name}{k}",
                                     time=end - timedelta(seconds=rng.random() * 3 * 86400)))
        planted[name] = ids
    rise = set()
    for k in range(40):
        title, text = background()
        rid = f"rise-{k}"
        rise.add(rid)
        records.append(hs.Record(id=rid, title=edit(title), text=edit(text), place="海门区三星镇", category="类07",
                                 time=end - timedelta(seconds=rng.random() * 86400), reporter=f"r{k}"))
    records.sort(key=lambda r: r.time)
    return records, end, planted, rise


def section_synthetic(args) -> None:
    header(f"2. SYNTHETIC {args.orders:,} requests over 30 days")
    t0 = time.perf_counter()
    records, end, planted, rise = synthetic(args)
    print(f"  generated {len(records):,} records in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    rises = hs.rises_from_records(records, end, 2)
    t_rises = time.perf_counter() - t0
    t0 = time.perf_counter()
    clusters = hs.find_clusters(records, now=end)
    t_clusters = time.perf_counter() - t0
    t0 = time.perf_counter()
    titles = exact_title_groups(records)
    t_titles = time.perf_counter() - t0
    print(f"  ours: rises in the last 2 windows (28 before each as baseline) {t_rises:.2f} s ({len(rises)} found); "
          f"clusters {t_clusters:.2f} s ({len(clusters)} found); together {t_rises + t_clusters:.2f} s")
    print(f"  baseline exact title grouping {t_titles:.2f} s ({len(titles)} groups); ratio ours ÷ baseline "
          f"{(t_rises + t_clusters) / t_titles:.1f}×")
    for name, ids in planted.items():
        rank, best = max(enumerate(clusters), key=lambda kc: (len(set(kc[1].members) & ids), -kc[0]))
        hit = set(best.members) & ids
        t_best = max(titles, key=lambda ids_: len(set(ids_) & ids)) if titles else []
        t_hit = set(t_best) & ids
        print(f"  planted {name}: ours rank {rank + 1}, recall {len(hit) / len(ids):.2f}, precision "
              f"{len(hit) / len(best.members):.2f}, place {best.place}; exact title: recall "
              f"{len(t_hit) / len(ids):.2f}")
    found = next((r for r in rises if set(r.members) & rise), None)
    if found is None:
        print("  planted rise: NOT found")
    else:
        got = set(found.members)
        print(f"  planted rise ({found.category}, {found.place}): rank {rises.index(found) + 1} of {len(rises)}, "
              f"{found.count} members, recall {len(got & rise) / len(rise):.2f}, p {found.p_value:.2g}")
    print(f"  target: seconds, not minutes: {'MET' if t_rises + t_clusters < 60 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/work/shared/data/teddy2020")
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    print(f"$ {' '.join(sys.argv)}")
    section_teddy(args)
    section_synthetic(args)


if __name__ == "__main__":
    main()
