"""RQ on Redis: jobs are enqueued by name to the single entry point ``entrypoints.jobs.run``."""
from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue, Retry

from application.shared.jobs import JobQueue

ENTRY_POINT = "entrypoints.jobs.run"


class RqJobQueue(JobQueue):
    def __init__(self, redis: Redis, queue_name: str = "agora") -> None:
        self.queue = Queue(queue_name, connection=redis)

    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        self.queue.enqueue(ENTRY_POINT, job_name, kwargs, retry=Retry(max=3, interval=[10, 60, 300]),
                           job_timeout=600, description=job_name)
