"""Job queue port: background work by name with plain JSON-able arguments."""
from __future__ import annotations

import abc
from typing import Any


class JobQueue(abc.ABC):
    @abc.abstractmethod
    def enqueue(self, job_name: str, **kwargs: Any) -> None:
        """Run ``job_name`` (a key of the job registry) in the background."""
