"""Workflow jobs: the minute-by-minute timeout sweep."""
from __future__ import annotations

import dataclasses
from typing import Any

import injector

from application.workflow import TimeoutService
from entrypoints.jobs import periodic


@periodic("workflow.timeouts", every_seconds=60)
def fire_timeouts(container: injector.Injector) -> dict[str, Any]:
    """Overdue node instances: flag the project, send the timeout reminders once, advance."""
    return dataclasses.asdict(container.get(TimeoutService).run())
