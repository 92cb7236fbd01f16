"""Background jobs: a registry of named jobs, the periodic schedule, and RQ's entry point.

A job takes plain JSON-able kwargs, gets what it needs from the container and calls
one application service. ``run(job_name, kwargs)`` is what RQ workers execute;
in embedded mode the in-process queue calls ``run_job`` directly.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import injector

from entrypoints.metrics import job_seconds, jobs_total

log = logging.getLogger("agora.jobs")

Job = Callable[..., Any]
JOBS: dict[str, Job] = {}
# (job name, interval in seconds): what `agora scheduler` (RQ cron) or the in-process
# scheduler runs periodically. Modules append to it with @periodic.
SCHEDULE: list[tuple[str, int]] = []


def job(name: str) -> Callable[[Job], Job]:
    def register(func: Job) -> Job:
        JOBS[name] = func
        return func
    return register


def periodic(name: str, every_seconds: int) -> Callable[[Job], Job]:
    def register(func: Job) -> Job:
        JOBS[name] = func
        if all(n != name for n, _ in SCHEDULE):
            SCHEDULE.append((name, every_seconds))
        return func
    return register


def run_job(container: injector.Injector, job_name: str, kwargs: dict[str, Any]) -> Any:
    _load_job_modules()
    func = JOBS[job_name]
    started = time.perf_counter()
    try:
        result = func(container, **kwargs)
    except Exception:
        jobs_total.labels(job=job_name, status="failed").inc()
        raise
    finally:
        job_seconds.labels(job=job_name).observe(time.perf_counter() - started)
    jobs_total.labels(job=job_name, status="ok").inc()
    return result


_container: injector.Injector | None = None


def run(job_name: str, kwargs: dict[str, Any]) -> Any:
    """RQ entry point: one container per worker process, built from the environment."""
    global _container
    if _container is None:
        from entrypoints.container import build_container

        _container = build_container()
    return run_job(_container, job_name, kwargs)


def run_worker(connection: Any, *, burst: bool = False, metrics_port: int | None = None,
               queue: str = "agora", with_scheduler: bool = True) -> bool:
    """``agora worker``: an RQ worker that runs the jobs in its own process (``SimpleWorker``,
    no work-horse forked per job), so its container and connection pool are built once,
    not per job, and the job metrics it counts can be served on ``metrics_port``."""
    from rq import Queue, SimpleWorker

    if metrics_port is not None:
        from prometheus_client import start_http_server

        from entrypoints.metrics import REGISTRY

        start_http_server(metrics_port, registry=REGISTRY)
        log.info("worker metrics on port %d", metrics_port)
    worker = SimpleWorker([Queue(queue, connection=connection)], connection=connection)
    return bool(worker.work(burst=burst, with_scheduler=with_scheduler))  # the scheduler runs retries


def _load_job_modules() -> None:
    from entrypoints.jobs import (
        core,  # noqa: F401 - registers jobs on import
        dispatch,  # noqa: F401
        exports,  # noqa: F401
        sandbox,  # noqa: F401
        wallet,  # noqa: F401
        workflow,  # noqa: F401
    )


_load_job_modules()
