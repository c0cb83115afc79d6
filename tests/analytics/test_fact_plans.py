"""Every fact query of a short live span is read through a date index, never by scanning a base table.

The hour going on (and any period not rolled up) is read from the base tables (docs/kpi.md, "Pre-aggregation");
it stays cheap at 10 M 工单 only while SQLite reads it through a date index. ``EXPLAIN QUERY PLAN`` on the test
database catches a fact query whose shape has lost its index (a time wrapped in an expression, an equality on a
column whose index SQLite would prefer). It does not catch every flip that only size brings: the join that made
按时签收率 scan ``stage_clock`` on a 2 M-工单 database kept its indexes on an empty one and at 100 k — that one
is ``bench/analytics.py``'s to find."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from civiclink.analytics.facts import METRICS, fact_select

BASE_TABLES = ("work_order", "assignment", "callback", "stage_clock", "audit_event")
SCAN = re.compile(rf"\bSCAN ({'|'.join(BASE_TABLES)})\b")
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 18, 16, 0, tzinfo=TZ).astimezone(UTC)

GROUPINGS = {
    "site": {},
    "per unit": {"by_unit": True},
    "per district": {"by_place": True},
    "per day": {"by_day": TZ},
    "one 属地": {"place_ids": (1, 2, 3)},
}


def _plan(session, stmt) -> list[str]:
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    # The values do not change the plan (no statistics); stored times are text in SQLite.
    values = [compiled.params[name] for name in compiled.positiontup]
    values = [str(v.replace(tzinfo=None)) if isinstance(v, datetime) else v for v in values]
    cursor = session.connection().connection.cursor()
    try:
        return [row[-1] for row in cursor.execute(f"EXPLAIN QUERY PLAN {compiled}", values)]
    finally:
        cursor.close()


@pytest.mark.parametrize("grouping", GROUPINGS)
@pytest.mark.parametrize("metric", METRICS)
def test_a_live_span_is_read_through_a_date_index(session, metric, grouping):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by its statistics; an empty table is always scanned")
    stmt = fact_select(METRICS[metric], START, START + timedelta(minutes=45), dialect="sqlite",
                       **GROUPINGS[grouping])
    plan = _plan(session, stmt)
    assert not [line for line in plan if SCAN.search(line)], "\n".join(plan)
    assert any(line.startswith("SEARCH") and "USING" in line for line in plan), "\n".join(plan)
