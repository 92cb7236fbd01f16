"""The timeout job: fire each due node deadline exactly once.

Due timers come from an index of armed deadlines (node open, timeout not fired,
project running), so finding the overdue 1% of a large table is a range scan, not a
table scan. Each project is handled in its own transaction under a row lock: the
domain flags the project overdue on the node's side, emits the ``timeout``
reminders (delivered through the outbox), and moves ``advance_on_timeout`` nodes on.
A fired timer is disarmed in the same transaction, so a second run sends nothing.
"""
from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict
from datetime import datetime

from injector import inject

from application.shared.clock import Clock
from application.shared.uow import UnitOfWorkFactory
from application.workflow.engine import ProjectEngine
from application.workflow.ports import ProjectQueries, ProjectRepository

log = logging.getLogger("agora.workflow")


@dataclasses.dataclass(frozen=True)
class TimeoutReport:
    due: int = 0  # armed timers found due
    fired: int = 0  # timeouts handled now
    advanced: int = 0  # of which moved on by themselves
    completed: int = 0  # projects auto-completed
    failed: int = 0  # projects whose transaction failed (retried on the next run)


class TimeoutService:
    @inject
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, engine: ProjectEngine) -> None:
        self.uow_factory = uow_factory
        self.clock = clock
        self.engine = engine

    def run(self, now: datetime | None = None, batch: int = 500, max_batches: int = 1000) -> TimeoutReport:
        now = now or self.clock.now()
        due = fired = advanced = completed = failed = 0
        skip: set[str] = set()
        for _ in range(max_batches):
            with self.uow_factory() as uow:
                timers = [t for t in uow.repo(ProjectQueries).due_timers(now, batch + len(skip))
                          if t.project_id not in skip]
            if not timers:
                break
            due += len(timers)
            by_project: dict[str, list[str]] = defaultdict(list)
            for timer in timers:
                by_project[timer.project_id].append(timer.node_instance_id)
            for project_id, node_ids in by_project.items():
                try:
                    f, a, c = self._fire(project_id, node_ids, now)
                except Exception:
                    log.exception("timeout of project %s failed", project_id)
                    failed += 1
                    skip.add(project_id)
                    continue
                fired, advanced, completed = fired + f, advanced + a, completed + c
                if f == 0:
                    skip.add(project_id)  # nothing to do (raced): do not look at it again this run
            if len(timers) < batch:
                break
        return TimeoutReport(due=due, fired=fired, advanced=advanced, completed=completed, failed=failed)

    def _fire(self, project_id: str, node_ids: list[str], now: datetime) -> tuple[int, int, int]:
        fired = advanced = completed = 0
        with self.uow_factory() as uow:
            project = uow.repo(ProjectRepository).get(project_id, for_update=True)
            if project is None:
                return 0, 0, 0
            was_finished = project.is_finished
            schedule = self.engine.schedule(uow, project.vendor_org_id)
            for node_id in node_ids:
                outcome = project.on_timeout(node_id, now, schedule)
                if outcome.fired:
                    fired += 1
                    advanced += int(outcome.advanced)
                    completed += int(outcome.completed)
            # an advanced node may enter another one that is already due (a 0-day wait does not
            # arm a timer), or an assignment node: let dispatch resolve it
            self.engine.drive(uow, project, now, schedule)
            self.engine.store(uow, project, was_finished=was_finished)
            uow.commit()
        return fired, advanced, completed
