"""A short-lived, per-process memory of verified API keys.

Server-to-server clients send their API key on every request; looking it up costs a
unit of work (two selects and a round trip to begin and end it), more than the charge
the request asks for. A verified key is therefore remembered for ``ttl`` seconds:

- what is remembered is the key's stored hash, never the secret: every request still
  compares the hash of what it sent with ``hmac.compare_digest``;
- revoking a key forgets it at once in the process that revoked it; other processes
  (other gunicorn workers, RQ workers) stop accepting it within ``ttl`` seconds (the
  ``AGORA_API_KEY_CACHE_SECONDS`` setting, default 10; 0 turns the memory off);
- failures are never remembered, so a key that was just issued works at once;
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
        self.max_entries = 10_000
        self.now: Callable[[], float] = time.monotonic
        self._entries: OrderedDict[str, tuple[float, VerifiedKey]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, prefix: str) -> VerifiedKey | None:
        if self.ttl <= 0:
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

    def put(self, prefix: str, key: VerifiedKey) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[prefix] = (self.now() + self.ttl, key)
            self._entries.move_to_end(prefix)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, prefix: str) -> None:
        with self._lock:
            self._entries.pop(prefix, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
