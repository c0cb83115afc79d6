"""The daily 专题日报 as a background task of a 12345 server process: every ``daily_interval_seconds`` it looks
for days owed a report (yesterday, and the days before it after a stop) and writes them in one write transaction
(design §3). Each (topic, day) is unique in the database, so several server processes write each day once."""

from __future__ import annotations

from civiclink.periodic import PeriodicTask
from civiclink.reports.actions import do_daily_topic_reports


def _describe(run) -> str | None:
    if not run.done:
        return None
    return f"{len(run.done)} written (" + ", ".join(f"{name} {day} {count}" for name, day, count in run.done[:10]) + ")"


def daily_reporter(state) -> PeriodicTask:
    # The first look right after start-up: a server down at midnight catches up at once.
    return PeriodicTask(state, name="daily-reports", interval=state.settings.reports.daily_interval_seconds,
                        work=do_daily_topic_reports, first_at_start=True, describe=_describe)


def start_daily_reports(state) -> PeriodicTask | None:
    """Start the task if this is a 12345 site and it is enabled (``CIVICLINK_REPORTS__DAILY_ENABLED``)."""
    settings = state.settings
    if settings.site_role != "hotline" or not settings.reports.daily_enabled:
        return None
    reporter = daily_reporter(state)
    reporter.start()
    return reporter
