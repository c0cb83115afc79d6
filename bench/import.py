"""Bulk-import benchmark: ``civiclink import orders`` against a raw ``executemany`` of the same rows.

    .venv/bin/python bench/import.py [--rows 1000000] [--engines sqlite,postgres]

For each engine: a fresh database with the 南通 org tree; a generated CSV of historical orders (written by
streaming, never held in memory); the importer run in a child process (so its peak RSS is its own), and the
baseline: the same rows parsed with the csv module and inserted with the DB-API's ``executemany`` into the
same ``work_order`` table, no validation, batches of the same size. Peak memory of the importer is measured at
a tenth of the rows and at all of them: streaming means it stays flat. Target (issue 2): ≥ 30 % of the raw rate.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import PYTHON, ROOT, postgres, prepare_database  # noqa: E402

HEADER = ["number", "registered_at", "channel", "request_type", "title", "content", "category", "address",
          "place", "urgency", "caller_name", "caller_phone", "confidential", "handling_unit", "state", "reply",
          "replied_at", "closed_at", "satisfaction"]
CATEGORIES = [("cxjs.szgl", "csgl"), ("cxjs.wygl", "320613"), ("hjbh.zswr", "sthj"), ("ldsb.qx", "rsj"),
              ("smly.xfwq", "scjg"), ("sdq.gs", "gs"), ("jywt.zsrx", "jyj"), ("jtys.gjkc", "jtys")]
# (address pattern, 属地 as historical systems export it)
PLACES = [("南通市崇川区和平桥街道人民中路{n}号", "和平桥街道"), ("通州区金沙街道朝霞路{n}号", "金沙街道"),
          ("海门区三星镇{n}号", "三星镇"), ("如皋市城南街道{n}号", "如皋市"), ("开发区竹行街道通盛大道{n}号", "竹行街道"),
          ("崇川区唐闸镇街道南市街{n}号", "唐闸镇街道")]
TYPES = ["投诉", "求助", "建议", "举报"]


def _place(rng: random.Random) -> tuple[str, str]:
    pattern, place = rng.choice(PLACES)
    # One row in ten has no 属地 column filled in: the importer resolves it from the address.
    return pattern.format(n=rng.randint(1, 999)), "" if rng.random() < 0.1 else place


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, 8, 0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        per_day = max(1, rows // 700)
        for i in range(rows):
            day, seq = divmod(i, per_day)
            registered = start + timedelta(days=day, minutes=rng.randint(0, 600))
            category, unit = rng.choice(CATEGORIES)
            w.writerow([
                f"NT{registered:%Y%m%d}-{seq + 1:06d}", registered.strftime("%Y-%m-%d %H:%M:%S"), "电话",
                rng.choice(TYPES), f"历史工单 {i}", "群众反映的问题已处理完毕，这是导入测试用的内容。", category,
                *_place(rng), "一般", "王五", f"139{rng.randint(10_000_000, 99_999_999)}", "否", unit,
                "closed", "已处理。", (registered + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S"),
                (registered + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S"), rng.choice(["满意", "非常满意", "一般"]),
            ])


IMPORTER = """
import json, resource, sys, time
from pathlib import Path
from civiclink.config import get_settings
from civiclink.workorders.importer import import_orders_csv
settings = get_settings(_env_file=None, database_url=sys.argv[1], secret_key="bench-secret", log_level="WARNING")
t = time.perf_counter()
report = import_orders_csv(settings, Path(sys.argv[2]), batch_size=int(sys.argv[3]))
print(json.dumps({"rows": report.rows, "imported": report.imported, "errors": report.error_count,
                  "seconds": time.perf_counter() - t,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_importer(url: str, path: Path, batch: int) -> dict:
    out = subprocess.run([PYTHON, "-c", IMPORTER, url, str(path), str(batch)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def raw_executemany(url: str, path: Path, batch: int) -> float:
    """The same rows, parsed with csv, inserted with the DB-API's executemany: the floor."""
    from civiclink.db import create_db_engine

    engine = create_db_engine(url)
    columns = ["number", "version", "state", "channel", "request_type", "urgency", "title", "content", "address",
               "caller_name", "caller_phone", "caller_confidential", "registered_at", "dispatch_round",
               "return_count", "reopen_count", "extension_count", "urge_count", "supervise_count", "supervised",
               "duplicate_count", "waiting_on_citizen", "reply_content", "replied_at", "satisfaction",
               "callback_count", "closed_at", "source", "is_demo", "updated_at"]
    raw = engine.raw_connection()
    placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = f"INSERT INTO work_order ({', '.join(columns)}) VALUES ({', '.join([placeholder] * len(columns))})"
    started = time.perf_counter()
    cur = raw.cursor()
    now = datetime.now(UTC).replace(tzinfo=None)
    if engine.dialect.name == "sqlite":
        cur.execute("BEGIN")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        buf = []
        for r in reader:
            buf.append((f"raw-{r['number']}", 1, "closed", "phone", "complaint", "normal", r["title"], r["content"],
                        r["address"], r["caller_name"], r["caller_phone"], False, r["registered_at"], 1, 0, 0, 0, 0, 0,
                        False, 0, False, r["reply"], r["replied_at"], 2, 1, r["closed_at"], "raw", False, now))
            if len(buf) >= batch:
                cur.executemany(sql, buf)
                raw.commit()
                if engine.dialect.name == "sqlite":
                    cur.execute("BEGIN")
                buf = []
        if buf:
            cur.executemany(sql, buf)
        raw.commit()
    seconds = time.perf_counter() - started
    raw.close()
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--engines", default="sqlite,postgres")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        full, tenth = tmp / "orders.csv", tmp / "orders-tenth.csv"
        t = time.perf_counter()
        generate(full, args.rows)
        generate(tenth, max(1, args.rows // 10))
        print(f"generated {args.rows:,} rows ({full.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f} s",
              flush=True)
        for engine in args.engines.split(","):
            with contextlib.ExitStack() as stack:
                def fresh(name: str, engine=engine, stack=stack) -> str:
                    if engine == "sqlite":
                        return f"sqlite:///{tmp / name}.db"
                    return stack.enter_context(postgres())

                url_small, url_full, url_raw = fresh("small"), fresh("full"), fresh("raw")
                for url in (url_small, url_full, url_raw):
                    prepare_database(url)
                small = run_importer(url_small, tenth, args.batch)
                ours = run_importer(url_full, full, args.batch)
                raw_seconds = raw_executemany(url_raw, full, args.batch)
                ours_rate = ours["imported"] / ours["seconds"]
                raw_rate = args.rows / raw_seconds
                print(f"{engine:9} importer {ours_rate:9,.0f} rows/s ({ours['seconds']:.0f} s, {ours['errors']} errors)"
                      f" | raw executemany {raw_rate:9,.0f} rows/s | ratio {ours_rate / raw_rate:.2f}"
                      f" | peak RSS {small['peak_mb']:.0f} MB at {args.rows // 10:,} rows, "
                      f"{ours['peak_mb']:.0f} MB at {args.rows:,}", flush=True)


if __name__ == "__main__":
    main()
