"""Rate limiter port: fixed-window counters shared by all processes."""
from __future__ import annotations

import abc
from datetime import datetime


class RateLimiter(abc.ABC):
    @abc.abstractmethod
    def count(self, key: str, since: datetime) -> int: ...

    @abc.abstractmethod
    def hit(self, key: str, at: datetime) -> None: ...

    @abc.abstractmethod
    def oldest_since(self, key: str, since: datetime) -> datetime | None: ...

    @abc.abstractmethod
    def clear(self, key: str) -> None: ...

    @abc.abstractmethod
    def purge(self, before: datetime) -> int: ...
