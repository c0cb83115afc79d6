"""Writes of the reports: watched topics, and their daily reports (专题日报) — each with its audit event, in the
caller's transaction.

``do_daily_topic_reports`` is what the server runs once a day (and ``civiclink report daily``): for every active
topic, a report for each finished day of its window not yet reported — zero days too (零报告). The report's row is
unique per topic and day, and is flushed before its audit event is queued, in a savepoint: a second run, or a
second server process running at the same moment, finds the day taken and skips it. ``do_generate_topic_day`` is
the on-demand one: it reports a day, or counts a reported day again (``revision`` + 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from civiclink.audit.service import record_event
from civiclink.context import Ctx
from civiclink.errors import Conflict, Invalid
from civiclink.orgs.roles import SYSTEM, Actor
from civiclink.reports import service
from civiclink.reports.models import ReportTopic, TopicDayReport
from civiclink.reports.schemas import TopicCreate, TopicUpdate
from civiclink.web.messages import t


def _check_categories(ctx: Ctx, codes: list[str]) -> None:
    unknown = [c for c in codes if ctx.directory.category_by_code(c) is None]
    if unknown:
        raise Invalid(t("report.error.category", codes="、".join(unknown)), field="categories")


def _check_name(ctx: Ctx, name: str, topic_id: int | None = None) -> None:
    stmt = select(func.count()).select_from(ReportTopic).where(ReportTopic.name == name)
    if topic_id is not None:
        stmt = stmt.where(ReportTopic.id != topic_id)
    if ctx.session.execute(stmt).scalar_one():
        raise Conflict(t("report.error.name_taken", name=name), field="name")


def _topic_data(topic: ReportTopic) -> dict:
    return {"name": topic.name, "keywords": list(topic.keywords or ()), "categories": list(topic.categories or ()),
            "season_start": topic.season_start.isoformat(), "season_end": topic.season_end.isoformat(),
            "active": topic.active}


def do_create_topic(ctx: Ctx, body: TopicCreate, *, actor: Actor) -> ReportTopic:
    service.require_reader(actor, ctx.settings.site_role)
    _check_categories(ctx, body.categories)
    _check_name(ctx, body.name)
    topic = ReportTopic(name=body.name, keywords=body.keywords, categories=body.categories,
                        season_start=body.season_start, season_end=body.season_end, active=body.active,
                        created_at=ctx.now, created_by=actor.username, updated_at=ctx.now)
    ctx.session.add(topic)
    ctx.session.flush()
    record_event(ctx.session, actor=actor, action="report_topic.create", entity_type="report_topic",
                 entity_id=topic.id, entity_ref=topic.name, data=_topic_data(topic), at=ctx.now)
    return topic


def do_update_topic(ctx: Ctx, topic: ReportTopic, body: TopicUpdate, *, actor: Actor) -> ReportTopic:
    service.require_reader(actor, ctx.settings.site_role)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    merged = TopicCreate.model_validate({**_topic_data(topic), **changes})
    _check_categories(ctx, merged.categories)
    if merged.name != topic.name:
        _check_name(ctx, merged.name, topic.id)
    before = _topic_data(topic)
    topic.name, topic.keywords, topic.categories = merged.name, merged.keywords, merged.categories
    topic.season_start, topic.season_end, topic.active = merged.season_start, merged.season_end, merged.active
    topic.updated_at = ctx.now
    after = _topic_data(topic)
    ctx.session.flush()
    record_event(ctx.session, actor=actor, action="report_topic.update", entity_type="report_topic",
                 entity_id=topic.id, entity_ref=topic.name,
                 data={k: after[k] for k in after if after[k] != before[k]}, at=ctx.now)
    return topic


def _check_day(ctx: Ctx, topic: ReportTopic, day: date) -> None:
    if not topic.season_start <= day <= topic.season_end:
        raise Invalid(t("report.error.outside_window", day=day.isoformat(), start=topic.season_start.isoformat(),
                        end=topic.season_end.isoformat()), field="day")
    if day >= service.today_of(ctx):
        raise Invalid(t("report.error.day_not_over", day=day.isoformat()), field="day")


def _event(ctx: Ctx, report: TopicDayReport, topic: ReportTopic, actor: Actor, action: str) -> None:
    record_event(ctx.session, actor=actor, action=action, entity_type="report_topic", entity_id=topic.id,
                 entity_ref=topic.name, at=ctx.now,
                 data={"day": report.day.isoformat(), "count": report.count, "zero": report.zero,
                       "trigger": report.trigger, "revision": report.revision})


def _insert(ctx: Ctx, topic: ReportTopic, day: date, *, actor: Actor, trigger: str) -> TopicDayReport | None:
    """A new report of ``day``, or None when the day is taken (by another run, now or before)."""
    count = service.topic_counts(ctx, topic, day, day).get(day, 0)
    report = TopicDayReport(topic_id=topic.id, day=day, count=count, orders=service.topic_orders(ctx, topic, day),
                            trigger=trigger, generated_at=ctx.now, generated_by=actor.username, revision=1)
    try:
        with ctx.session.begin_nested():
            ctx.session.add(report)
            ctx.session.flush()  # the unique (topic, day) first: a day already reported stops here, before the event
    except IntegrityError:
        return None
    _event(ctx, report, topic, actor, "report_topic.day_report")
    return report


@dataclass
class GenerateResult:
    report: TopicDayReport
    created: bool  # False: a reported day counted again


def do_generate_topic_day(ctx: Ctx, topic: ReportTopic, day: date, *, actor: Actor) -> GenerateResult:
    """The report of one finished day of the topic's window, on demand: made, or made again when it exists."""
    service.require_reader(actor, ctx.settings.site_role)
    _check_day(ctx, topic, day)
    existing = ctx.session.execute(select(TopicDayReport).where(
        TopicDayReport.topic_id == topic.id, TopicDayReport.day == day)).scalar_one_or_none()
    if existing is None:
        report = _insert(ctx, topic, day, actor=actor, trigger="demand")
        if report is not None:
            return GenerateResult(report, True)
        existing = ctx.session.execute(select(TopicDayReport).where(
            TopicDayReport.topic_id == topic.id, TopicDayReport.day == day)).scalar_one()
    existing.count = service.topic_counts(ctx, topic, day, day).get(day, 0)
    existing.orders = service.topic_orders(ctx, topic, day)
    existing.trigger, existing.generated_at, existing.generated_by = "demand", ctx.now, actor.username
    existing.revision += 1
    ctx.session.flush()
    _event(ctx, existing, topic, actor, "report_topic.day_report")
    return GenerateResult(existing, False)


@dataclass
class DailyRun:
    done: list[tuple[str, date, int]] = field(default_factory=list)  # (topic, day, count)
    already: int = 0  # found due, but taken by another run meanwhile


def do_daily_topic_reports(ctx: Ctx, *, actor: Actor = SYSTEM, catch_up_days: int | None = None,
                           progress=None) -> DailyRun:
    """The daily task: every report owed (``service.days_due``), each once. ``progress(done, total)`` is called
    after each day (the CLI's progress bar)."""
    due = service.days_due(ctx, catch_up_days or ctx.settings.reports.daily_catch_up_days)
    run = DailyRun()
    for i, item in enumerate(due, 1):
        report = _insert(ctx, item.topic, item.day, actor=actor, trigger="daily")
        if report is None:
            run.already += 1
        else:
            run.done.append((item.topic.name, item.day, report.count))
        if progress is not None:
            progress(i, len(due))
    return run
