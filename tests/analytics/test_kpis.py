"""The KPIs of docs/kpi.md on hand-built 工单 with known answers, per site, per 属地 and per unit, and their API."""

from __future__ import annotations

from tests.helpers import act, register, to_awaiting_callback, to_signed

from civiclink.analytics import kpis
from civiclink.workorders.states import Action


def _story(ctx, actors):
    """Five 工单 of today: closed satisfied (城管); returned by 城管, re-dispatched to 住建, reopened after an
    unsatisfied 回访; closed at intake; transferred to 110; dispatched to 住建 and not yet signed."""
    o1 = to_awaiting_callback(ctx, actors)
    act(ctx, o1, Action.CALLBACK, actors["callback"], satisfaction=2, resolved=True)
    o2 = to_signed(ctx, actors)
    act(ctx, o2, Action.RETURN, actors["staff_csgl"], reason="不属本单位", basis="职责清单")
    act(ctx, o2, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    act(ctx, o2, Action.SIGN, actors["staff_zjj"])
    act(ctx, o2, Action.REPLY, actors["staff_zjj"], content="已修复")
    act(ctx, o2, Action.APPROVE_REPLY, actors["dispatcher"])
    act(ctx, o2, Action.CALLBACK, actors["callback"], satisfaction=4, resolved=False)
    act(ctx, o2, Action.REOPEN, actors["callback"], reason="市民不满意")
    register(ctx, actors, request_type="consultation", intake_answer="公积金可在线提取。")
    o4 = register(ctx, actors)
    act(ctx, o4, Action.TRANSFER_TO_110, actors["operator"], reason="涉嫌违法犯罪", consent=True)
    o5 = register(ctx, actors)
    act(ctx, o5, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    ctx.session.commit()


def _today(ctx, place_ids=None) -> kpis.Scope:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    return kpis.Scope.local_days(today, today, ctx.settings.tz, place_ids=place_ids)


def test_each_kpi_counts_what_its_definition_says(state, session, actors):
    ctx = state.ctx(session)
    _story(ctx, actors)
    s = _today(ctx)
    rate = lambda r: (r.numerator, r.denominator)  # noqa: E731
    assert kpis.volume(session, s) == 5
    assert rate(kpis.direct_answer_rate(session, s)) == (1, 4)  # the transferred one is not the hotline's
    assert rate(kpis.on_time_sign_rate(session, s)) == (3, 3)  # o5's and the 重办's clocks run, not yet due
    assert rate(kpis.on_time_completion_rate(session, s)) == (2, 2)
    assert rate(kpis.return_rate(session, s)) == (1, 5)  # five dispatch rounds (重办 is one), one returned
    assert rate(kpis.reopen_rate(session, s)) == (1, 2)  # one closed, one reopened after their 回访
    assert rate(kpis.callback_rate(session, s)) == (1, 1)
    satisfaction = kpis.satisfaction_rate(session, s)
    assert rate(satisfaction) == (1, 2) and satisfaction.rate == 50.0
    assert [level.count for level in satisfaction.levels] == [0, 1, 0, 1, 0]
    assert kpis.average_handling_hours(session, s).count == 2
    by_type = {c.code: c.count for c in kpis.volume_by(session, s, "request_type", directory=ctx.directory,
                                                           tz=ctx.settings.tz)}
    assert by_type == {"complaint": 4, "consultation": 1}
    days = kpis.volume_by(session, s, "day", directory=ctx.directory, tz=ctx.settings.tz)
    assert [d.count for d in days] == [5]
    week = kpis.Scope(s.start - (s.end - s.start) * 6, s.end)
    assert [d.count for d in kpis.volume_by(session, week, "day", directory=ctx.directory,
                                            tz=ctx.settings.tz)] == [0] * 6 + [5]  # zero days listed


def test_scope_by_place_and_per_unit(state, session, actors):
    ctx = state.ctx(session)
    _story(ctx, actors)
    chongchuan = kpis.place_scope(ctx.directory, "320613")  # the story's address is in 崇川区
    tongzhou = kpis.place_scope(ctx.directory, "320612")
    assert kpis.volume(session, _today(ctx, chongchuan)) == 5
    assert kpis.volume(session, _today(ctx, tongzhou)) == 0
    assert kpis.return_rate(session, _today(ctx, tongzhou)).denominator == 0
    rows = {r.unit.code: r for r in kpis.scorecard(session, _today(ctx), directory=ctx.directory)}
    assert set(rows) == {"csgl", "zjj"}
    csgl, zjj = rows["csgl"], rows["zjj"]
    assert csgl.unit.count == 2 and (csgl.returns.numerator, csgl.returns.denominator) == (1, 2)
    assert zjj.unit.count == 3 and zjj.returns.numerator == 0  # o2's re-dispatch and its 重办, o5
    assert (csgl.on_time_sign.numerator, csgl.on_time_sign.denominator) == (2, 2)
    assert (zjj.on_time_sign.numerator, zjj.on_time_sign.denominator) == (1, 1)
    assert (zjj.reopens.numerator, zjj.reopens.denominator) == (1, 1)
    assert (csgl.satisfaction.numerator, csgl.satisfaction.denominator) == (1, 1)


def test_kpi_api(state, session, actors, client, tokens):
    ctx = state.ctx(session)
    _story(ctx, actors)
    today = ctx.now.astimezone(ctx.settings.tz).date().isoformat()
    leader = {"Authorization": f"Bearer {tokens['leader']}"}
    r = client.get("/api/analytics/kpis", params={"start": today, "end": today}, headers=leader)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["volume"] == 5 and body["returns"] == {"numerator": 1, "denominator": 5, "rate": 20.0}
    assert body["volume_year_earlier"] == {"previous": 0.0, "change": None}
    r = client.get("/api/analytics/kpis", params={"start": today, "end": today, "place": "320612"}, headers=leader)
    assert r.json()["volume"] == 0
    card = client.get("/api/analytics/scorecard", params={"start": today, "end": today}, headers=leader).json()
    assert {row["unit"]["code"] for row in card} == {"csgl", "zjj"}
    operator = {"Authorization": f"Bearer {tokens['operator']}"}
    assert client.get("/api/analytics/kpis", params={"start": today, "end": today},
                      headers=operator).status_code == 403
    assert client.get("/api/analytics/kpis", params={"start": today, "end": "2000-01-01"},
                      headers=leader).status_code == 422
    assert client.get("/api/analytics/kpis", params={"start": today, "end": today, "place": "nowhere"},
                      headers=leader).status_code in (404, 422)


def test_kpi_page_with_scorecard(state, session, actors, client):
    from tests.conftest import PASSWORD

    _story(state.ctx(session), actors)
    client.post("/login", data={"username": "supervisor", "password": PASSWORD, "next": "/"})
    page = client.get("/kpi")
    assert page.status_code == 200, page.text
    assert "承办单位考核表" in page.text and "南通市城市管理局" in page.text and "1 / 5" in page.text  # 退单率
    assert client.get("/kpi?start=2026-13-01").status_code == 200  # a bad date says so and shows 30 days
    assert "日期格式不正确" in client.get("/kpi?start=2026-13-01").text
    unknown = client.get("/kpi?place=nowhere")
    assert unknown.status_code == 200 and "单位编码 &#39;nowhere&#39; 不存在" in unknown.text  # and the city shown
    client.cookies.clear()
    client.post("/login", data={"username": "operator", "password": PASSWORD, "next": "/"})
    assert client.get("/kpi").status_code == 403


def test_a_running_clock_is_not_late_before_its_deadline(state, session, actors):
    """docs/kpi.md: a running 签收 clock counts against 按时签收率 once its deadline has passed in the period. A
    period that reaches past now (this week, today) is read up to now, so a 工单 dispatched this morning whose
    deadline is still ahead is not late yet; read after its deadline, still unsigned, it is — and so it is when the
    same days are read without "now"."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from sqlalchemy import select

    from civiclink.sla.models import StageClock

    tz = ZoneInfo("Asia/Shanghai")
    nine = datetime(2026, 3, 18, 9, 0, tzinfo=tz).astimezone(UTC)  # a Wednesday, a working day
    ctx = state.ctx(session, now=nine)
    order = register(ctx, actors)
    act(ctx, order, Action.DISPATCH, actors["dispatcher"], unit="zjj")
    session.commit()
    due = session.scalars(select(StageClock.due_at).where(StageClock.order_id == order.id,
                                                          StageClock.stage == "sign")).one()
    due = due if due.tzinfo else due.replace(tzinfo=UTC)
    assert nine < due
    first, last = nine.astimezone(tz).date(), due.astimezone(tz).date() + timedelta(days=1)

    def week(now):
        return kpis.Scope.local_days(first, last, tz, now=now)

    def sign_rate(now):
        rate = kpis.on_time_sign_rate(session, week(now))
        return rate.numerator, rate.denominator

    assert sign_rate(due - timedelta(minutes=1)) == (0, 0)  # not late yet: not in the rate
    assert sign_rate(due + timedelta(minutes=1)) == (0, 1)  # past its deadline and still unsigned: late
    assert sign_rate(None) == (0, 1)
    early = {r.unit.code: r for r in kpis.scorecard(session, week(due - timedelta(minutes=1)),
                                                    directory=ctx.directory)}
    late = {r.unit.code: r for r in kpis.scorecard(session, week(due + timedelta(minutes=1)),
                                                   directory=ctx.directory)}
    assert early["zjj"].on_time_sign.denominator == 0 and late["zjj"].on_time_sign.denominator == 1
