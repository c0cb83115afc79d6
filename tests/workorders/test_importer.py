"""Bulk import of historical orders: validation with line numbers, idempotent reruns, audit, CLI."""

import csv

from sqlalchemy import func, select
from typer.testing import CliRunner

from civiclink.audit.models import AuditEvent
from civiclink.audit.service import verify_chain
from civiclink.cli import app as cli
from civiclink.workorders.importer import import_orders_csv
from civiclink.workorders.models import WorkOrder

HEADER = ["number", "registered_at", "channel", "request_type", "title", "content", "category", "address",
          "place", "urgency", "caller_name", "caller_phone", "confidential", "handling_unit", "state", "reply",
          "replied_at", "closed_at", "satisfaction"]


def good_row(n: int, **overrides) -> dict:
    row = {
        "number": f"NT20240105-{n:06d}", "registered_at": "2024-01-05 09:30:00", "channel": "电话",
        "request_type": "投诉", "title": f"路灯不亮{n}", "content": "人民中路路灯不亮，请维修。",
        "category": "cxjs.szgl", "address": "南通市崇川区和平桥街道人民中路18号", "place": "", "urgency": "一般",
        "caller_name": "王五", "caller_phone": "13900001111", "confidential": "否", "handling_unit": "csgl",
        "state": "closed", "reply": "已修复。", "replied_at": "2024-01-08 10:00", "closed_at": "2024-01-09 11:00",
        "satisfaction": "满意",
    }
    row.update(overrides)
    return row


def write_csv(path, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER)
        w.writeheader()
        for r in rows:
            w.writerow(r)


def count(state) -> int:
    with state.sessions() as s:
        return s.execute(select(func.count()).select_from(WorkOrder)).scalar_one()


def test_good_rows_go_in_bad_rows_are_reported_with_lines(state, tmpdir_path):
    rows = [good_row(i) for i in range(1, 6)]
    rows.insert(2, good_row(99, registered_at="yesterday"))  # line 4
    rows.append(good_row(98, channel="信鸽"))  # line 8
    rows.append(good_row(97, caller_phone="abc"))  # line 9
    rows.append(good_row(1))  # duplicate of line 2 → line 10
    rows.append(good_row(96, category="不存在的分类"))  # line 11
    rows.append(good_row(95, state="closed_at_intake"))  # complaint cannot be 直接办结 → line 12
    path = tmpdir_path / "orders.csv"
    write_csv(path, rows)
    report = import_orders_csv(state.settings, path, batch_size=3, state=state)
    assert report.rows == 11 and report.imported == 5
    lines = {e.line: e.reason for e in report.errors}
    assert set(lines) == {4, 8, 9, 10, 11, 12}, lines
    assert "registered_at" in lines[4] and "渠道" in lines[8] and "电话" in lines[9]
    assert "重复" in lines[10] or "已" in lines[10]
    assert count(state) == 5
    with state.sessions() as s:
        order = s.execute(select(WorkOrder).where(WorkOrder.number == "NT20240105-000003")).scalar_one()
        assert order.state == "closed" and order.satisfaction == 2 and order.channel == "phone"
        assert order.import_batch and order.place_id is not None
        events = s.execute(select(AuditEvent).where(AuditEvent.action == "import.orders_batch")).scalars().all()
        assert sum(e.data["rows"] for e in events) == 5
        assert verify_chain(s).ok


def test_rerun_does_not_duplicate(state, tmpdir_path):
    path = tmpdir_path / "orders.csv"
    write_csv(path, [good_row(i) for i in range(1, 8)])
    first = import_orders_csv(state.settings, path, batch_size=4, state=state)
    second = import_orders_csv(state.settings, path, batch_size=4, state=state)
    assert (first.imported, first.skipped) == (7, 0)
    assert (second.imported, second.skipped) == (0, 7)
    assert count(state) == 7


def test_imported_numbers_are_never_handed_out_again(state, tmpdir_path, actors):
    from datetime import UTC, datetime

    from tests.helpers import register

    path = tmpdir_path / "orders.csv"
    write_csv(path, [good_row(41, number="NT20240105-000041")])
    import_orders_csv(state.settings, path, state=state)
    s = state.sessions()
    from civiclink.db import begin_write

    begin_write(s)
    ctx = state.ctx(s, now=datetime(2024, 1, 5, 8, 0, tzinfo=UTC))
    order = register(ctx, actors)
    s.commit()
    s.close()
    assert order.number == "NT20240105-000042"


def test_missing_columns_and_timeline(state, tmpdir_path, client, auth):
    bad = tmpdir_path / "bad.csv"
    bad.write_text("number,title\nX1,hello\n", encoding="utf-8")
    report = import_orders_csv(state.settings, bad, state=state)
    assert report.imported == 0 and "缺少列" in report.errors[0].reason
    path = tmpdir_path / "orders.csv"
    write_csv(path, [good_row(1)])
    import_orders_csv(state.settings, path, state=state)
    timeline = client.get("/api/orders/NT20240105-000001/timeline", headers=auth("supervisor")).json()
    assert timeline[0]["action"] == "import.orders_batch" and timeline[0]["data"]["source"] == "orders.csv"


def test_cli_import_reports_and_exits_nonzero_on_bad_rows(state, tmpdir_path, monkeypatch):
    monkeypatch.setenv("CIVICLINK_DATABASE_URL", state.settings.database_url)
    monkeypatch.setenv("CIVICLINK_SECRET_KEY", "x")
    path = tmpdir_path / "orders.csv"
    write_csv(path, [good_row(1), good_row(2, title="")])
    result = CliRunner().invoke(cli, ["import", "orders", str(path)])
    assert result.exit_code == 4, result.output
    assert "导入 1" in result.output and "第 3 行" in result.output
    write_csv(path, [good_row(1)])
    result = CliRunner().invoke(cli, ["import", "orders", str(path)])
    assert result.exit_code == 0 and "跳过 1" in result.output
