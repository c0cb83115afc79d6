"""A 春节 story with known answers (hand-built 工单 through the real actions), shared by the report tests.

2026 春节假期 is 15–23 February (9 days); 2025's was 28 January – 4 February (8 days). In the 2026 holiday:

- 15 Feb: two 工单 (phone, wechat);
- 17 Feb: three 环境保护·噪声 in 通州区 (website) — a hotspot — and one 欠薪 (劳动和社会保障·欠薪);
- 18 Feb: two dispatched, replied and visited: 满意 (19 Feb) and 非常不满意 (20 Feb);
- 23 Feb: one whose text says 欠薪 (category 市政);

nine in nine days (日均 1.0). 2025 春节: four (日均 0.5, so +100.0%). The same dates a year earlier (15–23 Feb
2025): three (+200.0%). The nine days before (6–14 Feb 2026): one (环比 +800.0%).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from tests.helpers import act, register, to_awaiting_callback

from civiclink.workorders.states import Action

TZ = ZoneInfo("Asia/Shanghai")
HOLIDAY = (date(2026, 2, 15), date(2026, 2, 23))
LAST_HOLIDAY = (date(2025, 1, 28), date(2025, 2, 4))


def local(*args) -> datetime:
    return datetime(*args, tzinfo=TZ).astimezone(UTC)


NOW = local(2026, 3, 1, 9, 0)


@pytest.fixture
def story(state, session, actors):
    ctx = state.ctx(session, now=NOW)

    def reg(moment, **kw):
        return register(ctx.at(moment), actors, **kw)

    reg(local(2026, 2, 15, 10, 0), channel="phone")
    reg(local(2026, 2, 15, 11, 0), channel="wechat")
    for hour in (9, 10, 11):
        reg(local(2026, 2, 17, hour, 0), channel="website", category="hjbh.zswr", place="320612",
            title="夜间施工噪声扰民", content="通州区某工地夜间施工噪声很大，影响休息。")
    reg(local(2026, 2, 17, 14, 0), category="ldsb.qx", title="工地拖欠工资", content="春节前工地拖欠农民工工资，讨薪无果。")
    for hour, (day, level, resolved) in ((10, (19, 2, True)), (11, (20, 5, False))):
        order = to_awaiting_callback(ctx.at(local(2026, 2, 18, hour, 0)), actors)
        act(ctx.at(local(2026, 2, day, 10, 0)), order, Action.CALLBACK, actors["callback"], satisfaction=level,
            resolved=resolved)
    reg(local(2026, 2, 23, 9, 0), title="老板欠薪三个月", content="饭店老板欠薪三个月不发，请帮助。")
    for day in (28, 30):
        reg(local(2025, 1, day, 10, 0))
    reg(local(2025, 2, 2, 10, 0))
    reg(local(2025, 2, 4, 10, 0))
    for hour in (9, 10, 11):
        reg(local(2025, 2, 20, hour, 0))
    reg(local(2026, 2, 10, 10, 0))
    session.commit()
    return ctx
