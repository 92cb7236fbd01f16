"""Idempotency keys (spec api.md): same key + same body -> first response."""
from __future__ import annotations

import abc
import dataclasses
from datetime import datetime, timedelta

KEEP_FOR = timedelta(hours=48)  # spec: at least 24 hours


@dataclasses.dataclass
class StoredResponse:
    scope: str
    key: str
    request_hash: str
    status: str  # in_progress | done
    created_at: datetime
    response_status: int | None = None
    response_body: str | None = None


class IdempotencyStore(abc.ABC):
    @abc.abstractmethod
    def reserve(self, scope: str, key: str, request_hash: str, now: datetime) -> StoredResponse | None:
        """Insert an in-progress record; return the existing one if the key is taken."""

    @abc.abstractmethod
    def complete(self, scope: str, key: str, status: int, body: str) -> None: ...

    @abc.abstractmethod
    def release(self, scope: str, key: str) -> None:
        """Forget an in-progress key whose request failed before any effect."""

    @abc.abstractmethod
    def purge(self, before: datetime) -> int: ...
