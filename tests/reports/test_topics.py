"""专题日报: a watched topic (欠薪) in its season window — one row per day with zero days (零报告), the daily task
writing each finished day once (two runs, or two processes, make one report per day), on-demand generation and
regeneration, the audit events, and the server's background task."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from tests.helpers import register
from tests.reports.conftest import local

from civiclink.audit.models import AuditEvent
from civiclink.errors import Conflict, Invalid
from civiclink.orgs.roles import SYSTEM
from civiclink.reports import actions, service
from civiclink.reports.models import ReportTopic, TopicDayReport
from civiclink.reports.schemas import TopicCreate, TopicUpdate

WINDOW = (date(2026, 2, 15), date(2026, 2, 25))
DURING = local(2026, 2, 24, 9, 0)  # the 24th is under way; the 25th is still to come


@pytest.fixture
def topic(story, session, actors):
    """欠薪: 劳动和社会保障 (with its 欠薪 child) or the word 欠薪, 15–25 February 2026. The story has one 欠薪 工单
    on the 17th (its category) and one on the 23rd (its text)."""
    ctx = story.at(DURING)
    created = actions.do_create_topic(ctx, TopicCreate(name="欠薪", keywords=["欠薪"], categories=["ldsb"],
                                                       season_start=WINDOW[0], season_end=WINDOW[1]),
                                      actor=actors["supervisor"])
    session.commit()
    return created


def _reports(session, topic) -> dict[date, TopicDayReport]:
    session.expire_all()
    rows = session.execute(select(TopicDayReport).where(TopicDayReport.topic_id == topic.id)).scalars()
    return {r.day: r for r in rows}


def test_one_row_per_day_of_the_window_zero_days_included(story, topic):
    days = service.topic_days(story.at(DURING), topic)
    assert [d.day for d in days.days] == [WINDOW[0] + timedelta(days=i) for i in range(11)]
    assert [d.count for d in days.days] == [0, 0, 1, 0, 0, 0, 0, 0, 1, 0, None]
    assert [d.status for d in days.days] == ["pending"] * 9 + ["today", "future"]
    assert days.total == 2 and days.reported == 0
    assert days.days[2].orders == [] and days.days[2].zero is False  # nothing kept yet


def test_the_daily_task_reports_each_finished_day_once(story, session, topic):
    ctx = story.at(DURING)
    first = actions.do_daily_topic_reports(ctx, catch_up_days=3)
    session.commit()
    assert [(name, day, n) for name, day, n in first.done] == [
        ("欠薪", date(2026, 2, 21), 0), ("欠薪", date(2026, 2, 22), 0), ("欠薪", date(2026, 2, 23), 1)]
    again = actions.do_daily_topic_reports(ctx, catch_up_days=3)
    session.commit()
    assert again.done == [] and again.already == 0
    kept = _reports(session, topic)
    assert set(kept) == {date(2026, 2, 21), date(2026, 2, 22), date(2026, 2, 23)}
    assert kept[date(2026, 2, 21)].zero and kept[date(2026, 2, 21)].count == 0  # 零报告, kept all the same
    assert kept[date(2026, 2, 23)].count == 1 and kept[date(2026, 2, 23)].trigger == "daily"
    assert kept[date(2026, 2, 23)].generated_by == "system" and len(kept[date(2026, 2, 23)].orders) == 1
    events = session.execute(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "report_topic.day_report")).scalar()
    assert events == 3
    # A longer catch-up fills the rest of the finished days (15–20), not today, not the future.
    more = actions.do_daily_topic_reports(ctx, catch_up_days=15)
    session.commit()
    assert [d for _, d, _ in more.done] == [date(2026, 2, d) for d in range(15, 21)]
    days = service.topic_days(ctx, topic)
    assert days.reported == 9 and days.zero_reports == 7 and days.total == 2
    assert [d.status for d in days.days][-2:] == ["today", "future"]
    assert days.days[2].status == "reported" and days.days[2].count == 1 and not days.days[2].zero


def test_a_day_taken_by_another_process_is_skipped(story, session, topic, monkeypatch):
    ctx = story.at(DURING)
    session.add(TopicDayReport(topic_id=topic.id, day=date(2026, 2, 23), count=1, orders=[], trigger="daily",
                               generated_at=ctx.now, generated_by="system", revision=1))
    session.commit()
    # The other process committed after this one looked for the days owed.
    monkeypatch.setattr(service, "days_due", lambda _ctx, _n: [service.DayDue(topic, date(2026, 2, 23)),
                                                               service.DayDue(topic, date(2026, 2, 22))])
    run = actions.do_daily_topic_reports(ctx)
    session.commit()
    assert run.already == 1 and [d for _, d, _ in run.done] == [date(2026, 2, 22)]
    assert len(_reports(session, topic)) == 2
    events = session.execute(select(AuditEvent.data).where(AuditEvent.action == "report_topic.day_report")).scalars()
    assert [e["day"] for e in events] == ["2026-02-22"]  # no event for the day it did not write


def test_on_demand_generation_and_a_count_made_again(story, session, topic, actors):
    ctx = story.at(DURING)
    made = actions.do_generate_topic_day(ctx, topic, date(2026, 2, 23), actor=actors["leader"])
    session.commit()
    assert made.created and made.report.count == 1 and made.report.trigger == "demand"
    assert made.report.generated_by == "leader"
    # A 欠薪 工单 of the 23rd imported late: counting the day again finds it.
    register(ctx.at(local(2026, 2, 23, 20, 0)), actors, category="ldsb.qx", title="讨薪", content="讨要工资")
    session.commit()
    again = actions.do_generate_topic_day(ctx.at(DURING + timedelta(hours=1)), topic, date(2026, 2, 23),
                                          actor=actors["supervisor"])
    session.commit()
    assert not again.created and again.report.count == 2 and again.report.revision == 2
    assert len(_reports(session, topic)) == 1
    with pytest.raises(Invalid, match="尚未结束"):
        actions.do_generate_topic_day(ctx, topic, date(2026, 2, 24), actor=actors["leader"])
    with pytest.raises(Invalid, match="不在专题期"):
        actions.do_generate_topic_day(ctx, topic, date(2026, 2, 14), actor=actors["leader"])


def test_topics_are_checked_and_can_be_stopped(story, session, topic, actors):
    ctx = story.at(DURING)
    with pytest.raises(Conflict):
        actions.do_create_topic(ctx, TopicCreate(name="欠薪", keywords=["工资"], season_start=WINDOW[0],
                                                 season_end=WINDOW[1]), actor=actors["admin"])
    with pytest.raises(Invalid, match="未知的诉求分类"):
        actions.do_create_topic(ctx, TopicCreate(name="别的", categories=["nope"], season_start=WINDOW[0],
                                                 season_end=WINDOW[1]), actor=actors["admin"])
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        TopicCreate(name="空", season_start=WINDOW[0], season_end=WINDOW[1])  # neither keywords nor categories
    with pytest.raises(ValidationError):
        TopicCreate(name="倒", keywords=["x"], season_start=WINDOW[1], season_end=WINDOW[0])
    actions.do_update_topic(ctx, topic, TopicUpdate(active=False), actor=actors["supervisor"])
    session.commit()
    assert actions.do_daily_topic_reports(ctx, catch_up_days=10).done == []  # a stopped topic is not reported
    assert session.get(ReportTopic, topic.id).active is False
    changed = session.execute(select(AuditEvent.data).where(AuditEvent.action == "report_topic.update")).scalar_one()
    assert changed == {"active": False}


def test_the_summary_lists_the_topic_days_of_its_range(story, session, topic):
    actions.do_daily_topic_reports(story.at(DURING), catch_up_days=3)
    session.commit()
    report = service.summary(story, SYSTEM, date(2026, 2, 15), date(2026, 2, 23))
    assert [t.topic.name for t in report.topics] == ["欠薪"]
    rows = report.topics[0].days
    assert len(rows) == 9 and rows[-1].status == "reported" and rows[-3].zero  # the 21st: 零报告
    assert report.topics[0].total == 2


def test_the_servers_task_writes_yesterdays_reports(story, state, session, topic, monkeypatch):
    from civiclink.reports.daily import daily_reporter

    real_ctx = state.ctx
    monkeypatch.setattr(state, "ctx", lambda s, now=None: real_ctx(s, now=now or DURING))
    run = daily_reporter(state).run_once()
    assert [d for _, d, _ in run.done] == [date(2026, 2, 21), date(2026, 2, 22), date(2026, 2, 23)]
    assert daily_reporter(state).run_once().done == []  # the next round: nothing owed
    assert len(_reports(session, topic)) == 3
