"""Group commit: the API's writes of one process, run by one writer thread, several per transaction.

Every write ends on the same lock — the audit chain's head row (and, for registrations, the day's number
counter) — held until its commit is durable. Writers of one process therefore gain nothing from running side
by side, and each paying its own commit (a WAL flush on PostgreSQL) caps throughput at one flush per write.
Here the writes that arrive while a transaction is open wait a moment and then go together: one BEGIN, one
savepoint each, one seal of the audit chain, one commit for all of them.

Each write stays isolated: it runs in its own savepoint, and a write that is refused (403/409/422) rolls back
only its savepoint — with the audit events it queued — and fails only its own request. Writes of one batch see
each other in arrival order, so two edits of one order in one batch behave as they would one after the other
(the second gets 409). If the commit itself fails, every write of the batch is tried again alone.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from civiclink.context import Ctx
from civiclink.db import writing

if TYPE_CHECKING:
    from civiclink.deps import AppState

log = logging.getLogger("civiclink.batching")

# A write: given a Ctx on the batch's session, make the change and return a function that builds the
# response once the change is committed.
Write = Callable[[Ctx], Callable[[], Any]]


@dataclass
class _Job:
    write: Write
    base: Ctx  # the request's context: its time and snapshots (the writer thread does not refresh them)
    future: Future = field(default_factory=Future)


class WriteBatcher:
    def __init__(self, state: AppState, *, max_batch: int = 64):
        self.state = state
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def run(self, base: Ctx, write: Write) -> Any:
        """Queue ``write`` and wait for its response (or its error)."""
        job = _Job(write=write, base=base)
        self._ensure_thread()
        self._queue.put(job)
        return await asyncio.wrap_future(job.future)

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="civiclink-writer", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._process(batch)
            except BaseException as exc:  # never let the writer thread die with requests waiting
                log.exception("write batch failed")
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)

    def _process(self, batch: list[_Job]) -> None:
        if len(batch) > 1:
            try:
                self._commit(batch)
                return
            except Exception:
                # The commit failed as a whole (a conflict in the database, a lost connection): nothing of the
                # batch is saved, so each write is tried again on its own and reports its own outcome.
                log.warning("a batch of %d writes failed at commit; retrying them one by one", len(batch))
        for job in batch:
            try:
                self._commit([job])
            except Exception as exc:
                if not job.future.done():
                    job.future.set_exception(exc)

    def _commit(self, batch: list[_Job]) -> None:
        state = self.state
        session = state.sessions()
        done: list[tuple[_Job, Callable[[], Any]]] = []
        failed: list[tuple[_Job, BaseException]] = []
        try:
            with writing(session):
                for job in batch:
                    savepoint = session.begin_nested()
                    try:
                        finish = job.write(replace(job.base, session=session, clocks={}))
                    except Exception as exc:  # refused (or broken): only this write is undone
                        savepoint.rollback()
                        failed.append((job, exc))
                        continue
                    savepoint.commit()
                    done.append((job, finish))
            for job, exc in failed:
                job.future.set_exception(exc)
            for job, finish in done:
                try:
                    job.future.set_result(finish())
                except Exception as exc:
                    job.future.set_exception(exc)
        finally:
            session.close()
