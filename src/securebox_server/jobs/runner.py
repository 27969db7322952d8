"""One pass of every job, and the long-running worker loop.

A pass runs each periodic task that is due (so the expiry warnings it writes go out in the
same pass), then sends the due notifications (:mod:`.sender`). A task is due ``every``
after its last finished pass (``force`` runs them all: ``securebox jobs run``); it runs
under its named lease, so two workers never run the same task at once. On SQLite the
sending itself is under the ``outbox`` named lease: one worker sends (PostgreSQL workers
share the outbox through ``FOR UPDATE SKIP LOCKED``). A task that fails is logged and
reported; the others still run. ``stop()`` is asked between two digests and two tasks: the
worker finishes the item it is on and stops (SIGTERM, :mod:`.cli`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from sqlalchemy import Engine

from securebox_auth.clock import Clock
from securebox_auth.stores.sql.engine import dialect_of
from securebox_server.jobs.leases import Leases
from securebox_server.jobs.sender import NotificationSender, SendCounts

__all__ = ["OUTBOX_LEASE", "Jobs", "PassReport", "Task"]

_LOG: Final = logging.getLogger("securebox.jobs")
OUTBOX_LEASE: Final = "outbox"


@dataclass(frozen=True, slots=True)
class Task:
    """A periodic job: ``run()`` handles what is due and returns how many rows it did."""

    name: str
    every: timedelta
    run: Callable[[], int]


@dataclass(slots=True)
class PassReport:
    notifications: SendCounts = field(default_factory=SendCounts)
    #: Rows handled by each task that ran.
    tasks: dict[str, int] = field(default_factory=dict)
    #: Tasks (or the SQLite outbox) held by another worker.
    busy: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        n = self.notifications
        out = [
            f"notifications: {n.messages} messages, {n.sent} sent, {n.dropped} dropped, "
            f"{n.retried} to retry, {n.dead} dead, {n.bounced} bounced"
        ]
        out += [f"{name}: {count}" for name, count in self.tasks.items()]
        out += [f"{name}: held by another worker" for name in self.busy]
        out += [f"{name}: failed (see the log)" for name in self.failed]
        return out


@dataclass(slots=True, kw_only=True)
class Jobs:
    engine: Engine
    sender: NotificationSender
    leases: Leases
    clock: Clock
    tasks: tuple[Task, ...] = ()
    #: How long a named lease is held before another worker may take it over.
    lease: timedelta = timedelta(minutes=5)

    def run_once(
        self, *, force: bool = False, stop: Callable[[], bool] = lambda: False
    ) -> PassReport:
        report = PassReport()
        for task in self.tasks:  # first: the warnings a task writes go out in this pass
            if stop():
                return report
            self._task(task, force, report)
        sqlite = dialect_of(self.engine) == "sqlite"
        if not sqlite or self.leases.take(OUTBOX_LEASE, self.clock.now(), self.lease):
            try:
                report.notifications = self.sender.run(stop=stop)
            finally:
                if sqlite:
                    self.leases.release(OUTBOX_LEASE, finished_at=self.clock.now())
        else:
            report.busy.append(OUTBOX_LEASE)
        return report

    def _task(self, task: Task, force: bool, report: PassReport) -> None:
        now = self.clock.now()
        last = self.leases.last_run(task.name)
        if not force and last is not None and last + task.every > now:
            return
        if not self.leases.take(task.name, now, self.lease):
            report.busy.append(task.name)
            return
        finished = None
        try:
            report.tasks[task.name] = task.run()
            finished = self.clock.now()
        except Exception:
            _LOG.exception("job %s failed", task.name)
            report.failed.append(task.name)
        finally:
            self.leases.release(task.name, finished_at=finished)

    def work(self, interval: float, stop: Callable[[], bool], wait: Callable[[float], bool]) -> int:
        """Passes until ``stop()``; ``wait(seconds)`` sleeps between them (returns early,
        true, when stopping). Returns the number of passes."""
        passes = 0
        while not stop():
            try:
                report = self.run_once(stop=stop)
            except Exception:  # a database that went away: log, wait, try again
                _LOG.exception("jobs pass failed")
            else:
                passes += 1
                for line in report.lines():
                    _LOG.info("%s", line)
            if wait(interval):
                break
        return passes
