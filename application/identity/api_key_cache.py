"""A per-process memory of verified API keys.

Server-to-server clients send their API key on every request; looking it up costs a
unit of work (two selects and the round trips that begin and end it), more than the
charge the request asks for. A verified key is therefore remembered:

- what is remembered is the key's stored hash, never the secret: every request still
  compares the hash of what it sent with ``hmac.compare_digest``;
- revocations reach every process quickly: at most every ``check`` seconds
  (``AGORA_API_KEY_REVOCATION_CHECK_SECONDS``, default 2) a process asks how many keys
  have ever been revoked (one count, not a query per request); when that number moved,
  it forgets every key it remembers. The process that revoked a key forgets it at once;
- a remembered key is looked up again after ``ttl`` seconds anyway
  (``AGORA_API_KEY_CACHE_SECONDS``, default 300; 0 turns the memory off);
- failures are never remembered, so a key that was just issued works at once;
- a lookup that started before a ``forget`` or ``clear`` (a revocation seen meanwhile)
  is not remembered: ``put`` carries the ``generation`` read before the lookup, and
  every forget, clear or moved revocation count starts a new one;
- at most ``max_entries`` keys are kept (least recently used go first).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from injector import inject, singleton

from application.shared.settings import Settings


@dataclasses.dataclass(frozen=True)
class VerifiedKey:
    key_id: str
    key_hash: str
    org_id: str
    org_kinds: frozenset[str]


@singleton
class ApiKeyCache:
    @inject
    def __init__(self, settings: Settings) -> None:
        self.ttl = float(settings.api_key_cache_seconds)
        self.check = float(settings.api_key_revocation_check_seconds)
        self.max_entries = 10_000
        self.now: Callable[[], float] = time.monotonic
        self._entries: OrderedDict[str, tuple[float, VerifiedKey]] = OrderedDict()
        self._lock = threading.Lock()
        self._revoked: int | None = None  # the revocation count last seen
        self._next_check = 0.0
        self.generation = 0  # bumped by every forget/clear: answers of older lookups are dropped

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    def get(self, prefix: str) -> VerifiedKey | None:
        if not self.enabled:
            return None
        with self._lock:
            hit = self._entries.get(prefix)
            if hit is None:
                return None
            if hit[0] <= self.now():
                del self._entries[prefix]
                return None
            self._entries.move_to_end(prefix)
            return hit[1]

    def put(self, prefix: str, key: VerifiedKey, generation: int) -> None:
        """Remember a key looked up since ``generation`` was read (else: drop it)."""
        if not self.enabled:
            return
        with self._lock:
            if generation != self.generation:
                return
            self._entries[prefix] = (self.now() + self.ttl, key)
            self._entries.move_to_end(prefix)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def revocations_due(self) -> bool:
        """Time to ask the database how many keys were ever revoked?"""
        return self.enabled and self.now() >= self._next_check

    def revocations_seen(self, revoked: int) -> None:
        """The revocation count just read: forget everything if it moved."""
        with self._lock:
            if revoked != self._revoked:  # the first reading too: lookups before it are void
                self._entries.clear()
                self.generation += 1
            self._revoked = revoked
            self._next_check = self.now() + self.check

    def forget(self, prefix: str) -> None:
        with self._lock:
            self._entries.pop(prefix, None)
            self.generation += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation += 1
