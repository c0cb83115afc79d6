"""The sweep as a background task of a 12345 server process: every ``sweep_interval_seconds``, one write
transaction (design §3), the first one interval after start-up (a restart does not rush out notices)."""

from __future__ import annotations

import logging
import threading

from civiclink.db import begin_write
from civiclink.supervision.actions import do_sweep

log = logging.getLogger("civiclink.supervision")


class Sweeper:
    def __init__(self, state):
        self.state = state
        self.interval = state.settings.supervision.sweep_interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="civiclink-supervision", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self):
        with self.state.sessions() as session:
            begin_write(session)
            report = do_sweep(self.state.ctx(session))
            session.commit()
        if report.done:
            log.info("supervision sweep: %s", report.counts())
        return report

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # the next sweep tries again; a failed one changed nothing (one transaction)
                log.exception("supervision sweep failed")
