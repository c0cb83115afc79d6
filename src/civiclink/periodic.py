"""A task a server process runs every so often in a thread of its own (the supervision sweep, the daily topic
reports): each run is one write transaction (design §3), so a failed run changed nothing and the next tries again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from civiclink.db import begin_write

log = logging.getLogger("civiclink.periodic")


def rollup_task(state, *, name: str, refresh: Callable, describe: Callable) -> PeriodicTask:
    """A roll-up's background task: ``refresh(state, max_days=…)`` every ``analytics.rollup_interval_seconds``,
    at once at start, and again at once while a backlog remains (``report.remaining``)."""
    settings = state.settings.analytics
    return PeriodicTask(state, name=name, interval=settings.rollup_interval_seconds,
                        work=lambda _state: refresh(_state, max_days=settings.rollup_days_per_run),
                        first_at_start=True, describe=describe, own_transactions=True,
                        again=lambda report: report.remaining > 0)


class PeriodicTask:
    """``work(ctx)`` every ``interval`` seconds; ``first_at_start``: the first run at once (a task that catches
    up after a stop) rather than one interval later (one that must not rush out notices after a restart).
    ``own_transactions``: ``work(state)`` opens its own sessions and transactions (a long task that must not hold
    the write lock throughout, such as the KPI roll-up); ``again(result)``: run again at once (a backlog)."""

    def __init__(self, state, *, name: str, interval: float, work: Callable, first_at_start: bool,
                 describe: Callable | None = None, own_transactions: bool = False,
                 again: Callable | None = None):
        self.state, self.name, self.interval, self.work = state, name, interval, work
        self.first_at_start, self.describe = first_at_start, describe
        self.own_transactions, self.again = own_transactions, again
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"civiclink-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self):
        if self.own_transactions:
            result = self.work(self.state)
        else:
            with self.state.sessions() as session:
                begin_write(session)
                result = self.work(self.state.ctx(session))
                session.commit()
        if self.describe is not None and (text := self.describe(result)):
            log.info("%s: %s", self.name, text)
        return result

    def _loop(self) -> None:
        if not self.first_at_start and self._stop.wait(self.interval):
            return
        while True:
            result = None
            try:
                result = self.run_once()
            except Exception:  # the next round tries again; a failed one changed nothing (one transaction)
                log.exception("%s failed", self.name)
            more = result is not None and self.again is not None and self.again(result)
            if self._stop.wait(0 if more else self.interval):
                return
