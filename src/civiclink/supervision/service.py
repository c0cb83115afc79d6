"""The sweep as a background task of a 12345 server process: every ``sweep_interval_seconds``, the first one
interval after start-up (a restart does not rush out notices)."""

from __future__ import annotations

from civiclink.periodic import PeriodicTask
from civiclink.supervision.actions import do_sweep


def sweeper(state) -> PeriodicTask:
    return PeriodicTask(state, name="supervision", interval=state.settings.supervision.sweep_interval_seconds,
                        work=do_sweep, first_at_start=False,
                        describe=lambda report: str(report.counts()) if report.done else None)
