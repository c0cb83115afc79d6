"""The month's plan from call records: forecast → people per half hour (Erlang C) → 四班三运转 sized for the peak
→ shortfall; the API, its Excel and the page with its chart (docs/cti.md, "Planning")."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from openpyxl import load_workbook
from sqlalchemy import insert
from tests.helpers import console_login

from civiclink.callcentre import planning
from civiclink.callcentre.models import Call
from civiclink.callcentre.roster import build_roster, shortfall
from civiclink.callcentre.staffing import agents_needed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 18, 10, 0, tzinfo=TZ).astimezone(UTC)  # a Wednesday; the plan is for April


def expected(slot: int, day: date) -> float:
    """Calls per half hour: busy 08:30–17:30 on workdays, a quarter of it at weekends, little at night."""
    busy = 17 <= slot < 35
    base = 12.0 if busy else 2.0
    return base * (0.25 if day.weekday() >= 5 else 1.0)


@pytest.fixture
def history(state, session):
    """Six weeks of answered calls before NOW, Poisson around ``expected`` (a fixed seed)."""
    rng = np.random.default_rng(7)
    rows, n = [], 0
    today = NOW.astimezone(TZ).date()
    for back in range(42, 0, -1):
        day = today - timedelta(days=back)
        for slot in range(48):
            for _ in range(rng.poisson(expected(slot, day))):
                n += 1
                local = datetime.combine(day, time(), tzinfo=TZ) + timedelta(minutes=30 * slot + int(rng.integers(30)))
                rows.append({"call_ref": f"h{n}", "version": 1, "line": "12345", "caller": f"139{n:08d}",
                             "offered_at": local.astimezone(UTC), "local_day": day, "local_hour": slot // 2,
                             "local_slot": slot, "outcome": "answered", "wait_seconds": 5.0, "talk_seconds": 180.0,
                             "short_abandon": False, "redial": False, "team": "A", "updated_at": NOW})
    session.execute(insert(Call), rows)
    session.commit()
    return len(rows)


def test_a_month_plan_follows_the_forecast_and_the_rotation(history, state, session):
    ctx = state.ctx(session, now=NOW)
    plan = planning.plan_month(ctx, planning.PlanInputs(year=2026, month=4, service_level=0.8, answer_seconds=20))
    read = plan.read
    assert read.aht_from_history and read.aht_seconds == 240.0  # 180 s of talk + 60 s wrap-up
    assert read.history_days == 42 and len(read.days) == 30
    # A busy April workday needs what Erlang C says for its forecast; a weekend much less.
    monday = next(d for d in plan.forecasts if d.date == date(2026, 4, 13))
    assert monday.total == pytest.approx(sum(expected(s, date(2026, 4, 13)) for s in range(48)), rel=0.15)
    ten = plan.need[date(2026, 4, 13)][20]
    assert ten == agents_needed(monday.half_hours[20], 1800, 240.0, 0.8, 20).scheduled
    assert max(plan.need[date(2026, 4, 11)]) < max(plan.need[date(2026, 4, 13)])
    # Every team is sized for the busiest half hour of the month (it works every shift in turn) …
    assert read.team_size == max(max(v) for v in plan.need.values())
    assert read.standby == -(-4 * read.team_size * 3 // 10) and read.headcount == 4 * read.team_size + read.standby
    # … so no half hour is short; the gap is on-duty − need everywhere.
    assert read.short_half_hours == 0 and len(plan.gaps) == 30 * 48
    assert all(g.gap == g.on_duty - g.need for g in plan.gaps)
    # 清明 (4–6 April 2026) is forecast from holidays seen before: none in six weeks, so like a weekend.
    qingming = next(d for d in read.days if d.date == date(2026, 4, 5))
    assert "清明" in qingming.label and qingming.calls < monday.total / 2
    # A team smaller than the need shows the shortfall per half hour.
    small = shortfall(build_roster(2026, 4, read.team_size - 2), plan.need)
    assert any(g.gap < 0 for g in small)


def test_no_history_is_a_clear_error(state, session):
    from civiclink.errors import Invalid

    with pytest.raises(Invalid, match="没有可用于预测的话务记录"):
        planning.plan_month(state.ctx(session, now=NOW), planning.PlanInputs(year=2026, month=4))


def test_plan_api_excel_and_page(history, client, auth):
    r = client.get("/api/calls/plan", params={"year": 2026, "month": 4}, headers=auth("leader"))
    assert r.status_code == 200, r.text
    assert r.json()["team_size"] > 0 and len(r.json()["days"]) == 30
    assert client.get("/api/calls/plan", params={"year": 2026, "month": 4},
                      headers=auth("operator")).status_code == 403
    assert client.get("/api/calls/plan", params={"year": 2026, "month": 13}, headers=auth("leader")).status_code == 422
    x = client.get("/api/calls/plan.xlsx", params={"year": 2026, "month": 4}, headers=auth("leader"))
    assert x.status_code == 200
    book = load_workbook(io.BytesIO(x.content))
    assert book.sheetnames == ["排班表", "人力需求", "缺口", "预测"]
    assert book["排班表"].max_row == 1 + 30 * 4  # three shifts and the resting team, every day
    assert book["人力需求"]["C1"].value == "00:00" and book["人力需求"].max_row == 31
    console_login(client, "leader")
    page = client.get("/calls/plan", params={"year": 2026, "month": 4, "day": "2026-04-13"})
    assert page.status_code == 200 and "排班计划" in page.text and 'data-chart="day"' in page.text
    assert '"step":"end"' in page.text  # the on-duty line of the chart
    bad = client.get("/calls/plan", params={"year": 2026, "month": "x"})
    assert bad.status_code == 422 and "请填写整数" in bad.text
