"""Dispatch queues: projects waiting on ``assign_provider`` or ``assign_order``.

Sweeps take the oldest first: by the time the project started waiting, then by
project id so equal times have a stable order.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Literal, Protocol, TypeVar


class Queued(Protocol):
    @property
    def queued_at(self) -> datetime: ...

    @property
    def project_id(self) -> str: ...


Q = TypeVar("Q", bound=Queued)


@dataclasses.dataclass(frozen=True)
class QueueEntry:
    project_id: str
    kind: Literal["provider", "employee"]
    queued_at: datetime
    reason: str
    updated_at: datetime


def queue_order(entries: Iterable[Q]) -> list[Q]:
    """Oldest first (``queued_at``, then ``project_id``)."""
    return sorted(entries, key=lambda e: (e.queued_at, e.project_id))
