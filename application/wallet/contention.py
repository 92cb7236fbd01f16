"""Which wallets other processes are charging hard right now (ADR 0013).

A plain charge's statement may free the wallet's row before its commit is on disk and be
answered after a flush barrier. That pays on a row other clients are queueing for, where
each charge otherwise waits for the flush of the one before it; on a quiet wallet the
barrier's extra round trip only costs CPU. So a process watches, per wallet, how fast the
wallet's version moves *by others' hand*: between two of its own landings it knows how
many versions it added itself, and the rest were someone else's. A wallet is *contended*
while that rate, measured over at least ``window`` seconds, is at least ``rate`` per
second; one slower measurement ends it. This process's own charges never count, however
fast; one client spread over several processes by a load balancer does (ADR 0013).

Only a hint: a wrong answer costs speed either way, never correctness (the statement is
safe both ways).
"""
from __future__ import annotations

import time
from collections.abc import Callable

DEFAULT_LIMIT = 10_000


class Contention:
    """Per process, thread-safe enough (dict operations under the GIL; a lost update
    only delays a measurement)."""

    def __init__(self, rate: float, window: float = 0.05, limit: int = DEFAULT_LIMIT,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.window = window
        self.limit = limit
        self._monotonic = monotonic
        # org_id -> (since, version then, versions this process added since)
        self._marks: dict[str, tuple[float, int, int]] = {}
        self._contended: set[str] = set()

    def contended(self, org_id: str) -> bool:
        return self.rate <= 0 or org_id in self._contended

    def landed(self, org_id: str, version: int, count: int = 1) -> None:
        """This process's statement landed ``count`` charges on the wallet, leaving it at
        ``version``."""
        now = self._monotonic()
        mark = self._marks.get(org_id)
        if mark is None or version < mark[1]:  # new to us, or a wallet that went back: start over
            self._contended.discard(org_id)
            self._start(org_id, now, version)
            return
        since, then, own = mark
        own += count
        if now - since < self.window:
            self._marks[org_id] = (since, then, own)
            return
        others = version - then - own
        if others / (now - since) >= self.rate:
            self._contended.add(org_id)
        else:
            self._contended.discard(org_id)
        self._start(org_id, now, version)

    def forget(self, org_id: str) -> None:
        """Measure the wallet afresh (its early release just failed)."""
        self._contended.discard(org_id)
        self._marks.pop(org_id, None)

    def _start(self, org_id: str, now: float, version: int) -> None:
        if len(self._marks) >= self.limit and org_id not in self._marks:
            self._marks.clear()  # a bound, not a policy: busy wallets are measured again at once
            self._contended.clear()
        self._marks[org_id] = (now, version, 0)
