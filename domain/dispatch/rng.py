"""The random source dispatch draws from: injectable so tests (and replays) are exact."""
from __future__ import annotations

from typing import Protocol


class RandomSource(Protocol):
    """What dispatch needs of ``random.Random`` (``random.Random(seed)`` satisfies it)."""

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int: ...

    def random(self) -> float: ...
