"""The daily 专题日报 as a background task of a 12345 server process: every ``daily_interval_seconds`` it looks
for days owed a report (yesterday, and the days before it after a stop) and writes them in one write transaction
(design §3). Each (topic, day) is unique in the database, so several server processes write each day once."""

from __future__ import annotations

import logging
import threading

from civiclink.db import begin_write
from civiclink.reports.actions import do_daily_topic_reports

log = logging.getLogger("civiclink.reports")


class DailyReporter:
    def __init__(self, state):
        self.state = state
        self.interval = state.settings.reports.daily_interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="civiclink-daily-reports", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self):
        with self.state.sessions() as session:
            begin_write(session)
            run = do_daily_topic_reports(self.state.ctx(session))
            session.commit()
        if run.done:
            log.info("专题日报: %d written (%s)", len(run.done),
                     ", ".join(f"{name} {day} {count}" for name, day, count in run.done[:10]))
        return run

    def _loop(self) -> None:
        # The first look right after start-up: a server down at midnight catches up at once.
        while True:
            try:
                self.run_once()
            except Exception:  # the next round tries again; a failed one changed nothing (one transaction)
                log.exception("daily topic reports failed")
            if self._stop.wait(self.interval):
                return


def start_daily_reports(state) -> DailyReporter | None:
    """Start the task if this is a 12345 site and it is enabled (``CIVICLINK_REPORTS__DAILY_ENABLED``)."""
    settings = state.settings
    if settings.site_role != "hotline" or not settings.reports.daily_enabled:
        return None
    reporter = DailyReporter(state)
    reporter.start()
    return reporter
