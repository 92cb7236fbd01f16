"""Dispatch jobs: the hourly sweep of both queues, and the sweep of one queue scope
right after capacity appeared (a raised max load, an employee accepting again)."""
from __future__ import annotations

from typing import Any

import injector

from application.dispatch.services import DispatchService
from entrypoints.jobs import job, periodic


def _report(reports: list[Any]) -> dict[str, dict[str, int]]:
    return {r.kind: {"scopes": r.scopes, "examined": r.examined, "assigned": r.assigned, "chunks": r.chunks,
                     "failed": r.failed} for r in reports}


@periodic("dispatch.sweep", every_seconds=3600)
def sweep(container: injector.Injector) -> dict[str, dict[str, int]]:
    """Both queues, oldest first (seed 001: "排队队列每小时轮询一次")."""
    return _report(container.get(DispatchService).sweep())


@job("dispatch.sweep_queue")
def sweep_queue(container: injector.Injector, kind: str, scope: str | None = None) -> dict[str, dict[str, int]]:
    """One queue (``provider`` or ``employee``), optionally one product / provider only."""
    if kind not in ("provider", "employee"):
        raise ValueError(f"unknown queue kind {kind!r}")
    return _report(container.get(DispatchService).sweep(kind, scope))  # type: ignore[arg-type]
