"""In-process jobs for the embedded default: a worker thread, or inline in tests."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from application.shared.jobs import JobQueue
from application.shared.uow import commit_guards

log = logging.getLogger("agora.jobs")
Runner = Callable[[str, dict[str, Any]], None]


class InProcessJobQueue(JobQueue):
    """``sync=True`` runs each job inline when enqueued (after the commit that asked for it)."""

    def __init__(self, runner: Runner, *, sync: bool = False) -> None:
        self.runner = runner
        self.sync = sync
        self._queue: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._running_inline = False

    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        if self.sync:
            if self._running_inline:  # a job enqueuing a job: run it after the current one
                self._queue.put((job_name, kwargs))
                return
            self._running_inline = True
            try:
                self._run(job_name, kwargs)
                while not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is not None:
                        self._run(*item)
            finally:
                self._running_inline = False
            return
        self._ensure_thread()
        self._queue.put((job_name, kwargs))

    def _run(self, job_name: str, kwargs: dict[str, Any]) -> None:
        try:
            with commit_guards(()):  # inline, a job is not part of the request that asked for it
                self.runner(job_name, kwargs)
        except Exception:
            log.exception("job %s failed", job_name)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="agora-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._run(*item)
            finally:
                self._queue.task_done()

    def join(self, timeout: float = 10.0) -> None:
        """Wait until queued jobs are done (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)


class InProcessScheduler:
    """Runs periodic jobs on a daemon thread when no Redis is configured."""

    def __init__(self, jobs: JobQueue, schedule: list[tuple[str, int]]) -> None:
        self.jobs = jobs
        self.schedule = schedule
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="agora-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        next_run = {name: time.monotonic() + min(interval, 30) for name, interval in self.schedule}
        intervals = dict(self.schedule)
        while not self._stop.wait(1.0):
            now = time.monotonic()
            for name, due in next_run.items():
                if now >= due:
                    next_run[name] = now + intervals[name]
                    self.jobs.enqueue(name)
